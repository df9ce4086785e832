"""nnlib.sweep: outcomes, ensemble = separate runs, pruning, cache, processes, progress, maps."""

import sys
from concurrent.futures.process import BrokenProcessPool

import matplotlib
import numpy as np
import pytest

import nnlib
import nnlib.sweep as sw

matplotlib.use("Agg")

# A small grid that has every kind of run: the standardized polynomial with
# BatchNorm reaches R^2 >= 0.5 within 150 epochs at lr 0.03 and 0.1, the raw
# one diverges at 0.03.
SMALL = dict(seeds=(0, 1, 2), lrs=(0.003, 0.03, 0.1), epochs=150, target=0.5)


@pytest.fixture(autouse=True)
def empty_cache():
    sw.clear_cache()
    yield
    sw.clear_cache()


def test_outcome_rules_on_synthetic_curves():
    epochs = 6
    losses = np.array(
        [
            [1.0, 0.8, np.inf, np.nan, np.nan, np.nan],  # diverged at 2
            [1.0, 50.0, 3.0, 2.0, 1.5, 1.2],  # spike, recovered, target missed
            [1.0, 0.9, 0.9, 0.9, 0.9, 0.9],  # stalled
            [1.0, 0.5, 0.2, np.nan, np.nan, np.nan],  # converged at 2
            [1.0, 20.0, 0.4, np.nan, np.nan, np.nan],  # converged after a spike
            [1.0, 2.0, 30.0, 40.0, 50.0, 60.0],  # rose and never came back: stalled, spiked
        ]
    )
    hit = np.array([np.nan, np.nan, np.nan, 2.0, 2.0, np.nan])
    metric = np.where(np.isnan(losses), np.nan, 0.0)
    metric[3, 2] = metric[4, 2] = 1.0  # the two converged runs meet the target (0.95) at epoch 2
    diverged_at = np.array([2.0, np.nan, np.nan, np.nan, np.nan, np.nan])
    cols = sw._summarize_runs(losses, metric, hit, diverged_at, spike_factor=10.0, target=0.95, y_scale=4.0)
    assert cols["outcome"].tolist() == ["diverged", "spiked", "stalled", "converged", "converged", "stalled"]
    assert cols["spiked"].tolist() == [False, True, False, False, True, True]
    np.testing.assert_array_equal(cols["final_loss"], [np.inf, 1.2, 0.9, 0.2, 0.4, 60.0])
    np.testing.assert_array_equal(cols["final_loss_original"], 4.0 * cols["final_loss"])
    assert losses.shape[1] == epochs


def test_every_run_matches_the_same_network_trained_alone():
    res = sw.run_sweep("polynomial", settings=["raw", "standardized+bn"], **SMALL)
    assert len(res) == 2 * 3 * 3
    assert {"converged", "diverged"} <= set(res.outcome.tolist())
    for setting in res.settings:
        X, y, kwargs, _ = sw.prepare("polynomial", setting)
        for lr in SMALL["lrs"]:
            for seed in SMALL["seeds"]:
                row = res.run(setting, lr, seed)
                model = nnlib.MLP(rng=seed, **kwargs)
                hist = nnlib.train(model, X, y, loss="mse", lr=lr, epochs=SMALL["epochs"], metrics=["r2"])
                reached = np.flatnonzero(hist.metrics["r2"] >= SMALL["target"])
                curve = row["loss_curve"]
                if reached.size:
                    e = int(reached[0])
                    assert row["outcome"] == "converged" and row["epochs_to_target"] == e
                    np.testing.assert_array_equal(curve[: e + 1], hist.loss[: e + 1])
                    assert np.isnan(curve[e + 1 :]).all()
                    assert row["final_metric"] == hist.metrics["r2"][e]
                elif hist.diverged_at is not None:
                    assert row["outcome"] == "diverged" and row["diverged_at"] == hist.diverged_at
                    np.testing.assert_array_equal(curve[: hist.diverged_at + 1], hist.loss)
                else:
                    assert row["outcome"] == nnlib.outcomes.classify(hist.loss)
                    assert row["outcome"] in ("slow", "stalled", "spiked")
                    np.testing.assert_array_equal(curve, hist.loss)
                    assert row["final_loss"] == hist.loss[-1]


def test_pruning_finished_runs_changes_nothing_recorded():
    args = ("polynomial", "standardized+bn", SMALL["seeds"], SMALL["lrs"], SMALL["epochs"], SMALL["target"], 41)
    pruned = sw.run_setting(*args, chunk=7)
    whole = sw.run_setting(*args, chunk=10_000)  # one chunk: nobody is pruned
    assert set(pruned) == set(whole)
    for key in pruned:
        np.testing.assert_array_equal(pruned[key], whole[key], err_msg=key)


def test_grid_layout_and_summaries():
    res = sw.run_sweep("polynomial", settings=["standardized+bn"], **SMALL)
    lr_grid = res.grid("lr", "standardized+bn")
    seed_grid = res.grid("seed", "standardized+bn")
    assert lr_grid.shape == (3, 3)
    np.testing.assert_array_equal(lr_grid[:, 0], SMALL["lrs"])
    np.testing.assert_array_equal(seed_grid[0], SMALL["seeds"])
    frac = res.converged_fraction("standardized+bn")
    ok = np.asarray(SMALL["lrs"])[frac >= 0.75]
    usable = res.usable_lr_range("standardized+bn")
    np.testing.assert_array_equal(usable.usable, frac >= 0.75)
    assert usable.high == (ok.max() if ok.size else None) or (not ok.size and np.isnan(usable.high))
    assert sum(res.outcome_counts("standardized+bn", 0.1).values()) == 3
    assert "standardized+bn" in res.table()
    assert len(res.records()) == len(res)


def test_usable_lr_range_uses_the_fraction():
    res = sw.run_sweep("polynomial", settings=["standardized+bn"], **SMALL)
    res.outcome = np.full_like(res.outcome, "stalled")
    res.outcome[[0, 1, 3]] = "converged"  # lr 0.003: 2 of 3 seeds, lr 0.03: 1 of 3
    assert res.usable_lr_range("standardized+bn", fraction=0.6).high == 0.003
    assert res.usable_lr_range("standardized+bn", fraction=0.3).high == 0.03
    assert not res.usable_lr_range("standardized+bn", fraction=0.9).usable.any()
    assert res.summary(fraction=0.6)["standardized+bn"]["usable"].high == 0.003
    with pytest.raises(ValueError, match="fraction"):
        res.summary(fraction=0)


def test_held_curves_keep_converged_runs_and_drop_diverged_ones():
    res = sw.run_sweep("polynomial", settings=["raw", "standardized+bn"], **SMALL)
    for setting in res.settings:
        for lr in SMALL["lrs"]:
            held = res.loss_curves_held(setting, lr)
            for j, seed in enumerate(SMALL["seeds"]):
                row = res.run(setting, lr, seed)
                if row["outcome"] == "converged":
                    assert (held[j, int(row["epochs_to_target"]) :] == row["final_loss"]).all()
                if row["outcome"] == "diverged":
                    assert np.isnan(held[j, int(row["diverged_at"]) :]).all()


def test_cache_answers_a_repeated_sweep_without_training(monkeypatch):
    calls = []
    real = sw.run_setting

    def counting(*args, **kwargs):
        calls.append(args[:2])
        return real(*args, **kwargs)

    monkeypatch.setattr(sw, "run_setting", counting)
    first = sw.run_sweep("polynomial", settings=["standardized", "standardized+bn"], **SMALL)
    assert len(calls) == 2 and sw.cache_size() == 2
    again = sw.run_sweep("polynomial", settings=["standardized+bn", "standardized"], **SMALL)
    assert len(calls) == 2  # nothing retrained
    np.testing.assert_array_equal(again.grid("epochs_to_target", "standardized"), first.grid("epochs_to_target", "standardized"))
    np.testing.assert_array_equal(again.grid("outcome", "standardized+bn"), first.grid("outcome", "standardized+bn"))
    sw.run_sweep("polynomial", settings=["standardized"], **{**SMALL, "epochs": 40})
    assert len(calls) == 3  # a different budget is a different point
    expected = first.loss_curves[0, 0]
    first.loss_curves[0, 0] = -1.0  # a caller editing its result does not edit the cache
    assert sw.run_sweep("polynomial", settings=["standardized"], **SMALL).loss_curves[0, 0] == expected
    assert len(calls) == 3


def test_two_processes_give_identical_results():
    # three spiral rates: the two processes get parts of every setting, (0.1, 3.0) and (0.3,)
    grids = {"spiral": {"lrs": (0.1, 0.3, 3.0), "target": 0.7}, "polynomial": {"lrs": (0.01, 1.0), "target": 0.3}}
    serial = {p: sw.run_sweep(p, seeds=(0, 1), epochs=60, **g) for p, g in grids.items()}
    sw.clear_cache()
    parallel = sw.run_sweeps(grids, seeds=(0, 1), epochs=60, n_jobs=2)
    assert sw.cache_size() == 6
    for problem in grids:
        for col in sw.SweepResult.COLUMNS + ("loss_curves",):
            np.testing.assert_array_equal(getattr(parallel[problem], col), getattr(serial[problem], col), err_msg=col)


def test_run_sweeps_rejects_unknown_options():
    with pytest.raises(TypeError, match="unknown sweep option"):
        sw.run_sweeps({"spiral": {"lr": 0.1}})
    with pytest.raises(TypeError, match="non-empty dict"):
        sw.run_sweeps([])


def test_progress_off_needs_no_tqdm_and_on_uses_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    sw.run_sweep("spiral", seeds=(0,), lrs=(1.0,), epochs=5, settings=["raw"], progress=False)
    with pytest.raises(ImportError):
        sw.run_sweep("spiral", seeds=(0,), lrs=(1.0,), epochs=6, settings=["raw"], progress=True)
    monkeypatch.undo()
    sw.run_sweep("spiral", seeds=(0,), lrs=(1.0,), epochs=7, settings=["raw"], progress=True)
    assert "spiral sweep" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"problem": "circles"}, ValueError, "unknown problem 'circles'"),
        ({"settings": ["whitened"]}, ValueError, "unknown setting 'whitened'"),
        ({"settings": ["raw", "raw"]}, ValueError, "distinct settings"),
        ({"seeds": []}, ValueError, "seeds is empty"),
        ({"seeds": [1, 1]}, ValueError, "distinct"),
        ({"seeds": [-1]}, ValueError, "at least 0"),
        ({"lrs": [0.1, -1.0]}, ValueError, "positive finite"),
        ({"epochs": 0}, ValueError, "epochs must be at least 1"),
        ({"target": "high"}, TypeError, "target must be a finite number"),
        ({"n_jobs": 0}, ValueError, "n_jobs must be at least 1"),
        ({"progress": "yes"}, TypeError, "progress must be"),
    ],
)
def test_bad_input_is_named(kwargs, error, match):
    args = {"problem": "spiral", "seeds": (0,), "lrs": (0.1,), "epochs": 3, **kwargs}
    with pytest.raises(error, match=match):
        sw.run_sweep(**args)
    assert sw.cache_size() == 0


def test_stability_map_draws_epochs_and_marks_failures():
    import matplotlib.pyplot as plt

    from nnlib.plotting import plot_stability_map, plot_stability_maps, plot_sweep_losses

    res = sw.run_sweep("polynomial", settings=["raw", "standardized+bn"], **SMALL)
    fig, ax = plt.subplots()
    drawn = plot_stability_map(res, "raw", ax=ax)
    shown = drawn["image"].get_array()
    outcome = res.grid("outcome", "raw")
    np.testing.assert_array_equal(np.ma.getmaskarray(shown) | np.isnan(shown.filled(np.nan)), outcome != "converged")
    n_marked = sum(len(s.get_offsets()) for s in drawn["failed"].values())
    assert n_marked == int((outcome != "converged").sum())
    assert len(drawn["failed"]["diverged"].get_offsets()) == int((outcome == "diverged").sum())
    fig2, axes, panels = plot_stability_maps([res, res])
    assert axes.shape == (2, 2) and len(panels) == 2
    lines = plot_sweep_losses(res, "standardized+bn")
    assert set(lines) <= set(SMALL["lrs"]) and lines
    plt.close("all")
    with pytest.raises(TypeError, match="SweepResult"):
        plot_stability_map({"not": "a result"}, "raw")


def test_lookups_match_learning_rates_exactly_at_any_scale():
    res = sw.run_sweep("polynomial", settings=["raw"], seeds=[0], lrs=[1e-10, 1e-9, 3e-9], epochs=3)
    assert sum(res.outcome_counts("raw", 1e-9).values()) == 1
    assert res.run("raw", 3e-9, 0)["lr"] == 3e-9
    with pytest.raises(ValueError, match="not in this sweep"):
        res.outcome_counts("raw", 2e-9)


@pytest.mark.parametrize("lrs, error, match", [
    ([], ValueError, "empty"), ("0.1", TypeError, "sequence"), ([0.1, 0.1], ValueError, "distinct"),
    ([10**400], ValueError, "too large"), ([0.1, "a"], TypeError, "number"),
])
def test_run_sweep_rejects_bad_learning_rates(lrs, error, match):
    with pytest.raises(error, match=match):
        sw.run_sweep("spiral", seeds=[0], lrs=lrs, epochs=2)


def test_run_sweep_refuses_a_grid_too_large_for_memory():
    with pytest.raises(ValueError, match="GiB"):
        sw.run_sweep("spiral", seeds=range(10**6), lrs=np.geomspace(1e-3, 1, 1000), epochs=2000)


def test_training_in_blocks_records_what_one_ensemble_records(monkeypatch):
    # 2 learning rates x 5 seeds = 10 runs: blocks of 3 (the last one of 1) against one ensemble
    args = ("polynomial", "standardized+bn", tuple(range(5)), (0.1, 0.3), 300, 0.95, 41)
    monkeypatch.setattr(sw, "BLOCK", 3)
    blocks = sw.run_setting(*args)
    monkeypatch.setattr(sw, "BLOCK", 1000)
    whole = sw.run_setting(*args)
    assert set(blocks) == set(whole)
    for key in whole:
        np.testing.assert_array_equal(blocks[key], whole[key], err_msg=key)
    assert (whole["outcome"] == "converged").any() and (whole["outcome"] != "converged").any()


def test_train_grid_labels_each_run_and_matches_lone_networks():
    X, y = nnlib.make_spiral(rng=0)
    Xs = nnlib.StandardScaler().fit_transform(X)
    grid = sw.train_grid("spiral", Xs, y, lrs=[0.3, 10.0], seeds=[4, 1], epochs=60, batchnorm=True)
    assert grid.outcome.shape == (2, 2) and grid.final("accuracy").shape == (2, 2)
    alone = nnlib.MLP([2, 18, 4, 1], batchnorm=True, rng=1)
    hist = nnlib.train(alone, Xs, y, lr=10.0, epochs=60, metrics=["accuracy"])
    np.testing.assert_array_equal(grid.run(10.0, 1).loss, hist.loss)
    np.testing.assert_array_equal(grid.network(10.0, 1).layers[0].params["W"], alone.layers[0].params["W"])
    assert grid.outcome[1, 1] == nnlib.outcomes.classify(hist.loss, hist.metrics["accuracy"], 0.95)
    np.testing.assert_array_equal(grid.curves(10.0)[:, 1], hist.loss)
    assert sum(grid.counts(0.3).values()) == 2 and sum(grid.counts().values()) == 4
    assert "converged = training accuracy >= 95%" in grid.table()
    with pytest.raises(ValueError, match="not in this grid"):
        grid.run(1.0, 1)
    with pytest.raises(ValueError, match="seed=7"):
        grid.run(0.3, 7)
    with pytest.raises(ValueError, match="distinct"):
        sw.train_grid("spiral", Xs, y, lrs=[0.3, 0.3], seeds=[0], epochs=2)


def test_interrupting_a_parallel_sweep_stops_at_once_and_keeps_what_finished():
    import os
    import signal
    import threading
    import time

    sw.clear_cache()
    # Two workers: the tiny job finishes at once, the large one would take minutes.
    # (One learning rate each, so neither is shared out over both workers.)
    small = dict(seeds=[0], lrs=[0.1], epochs=5)
    large = dict(seeds=range(64), lrs=[0.01], epochs=20000)
    # What Ctrl-C (or a notebook's interrupt button) sends to this process.
    timer = threading.Timer(15.0, os.kill, (os.getpid(), signal.SIGINT))
    start = time.perf_counter()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            sw.run_sweeps({"polynomial": {**small, "settings": ["raw"]},
                           "spiral": {**large, "settings": ["standardized+bn"]}}, n_jobs=2, progress=False)
    finally:
        timer.cancel()
    elapsed = time.perf_counter() - start
    # The large jobs alone take far longer than this; waiting for them would fail here.
    assert elapsed < 75, elapsed
    assert sw.cache_size() == 1  # the small job that had finished is kept
    sw.clear_cache()


def test_a_grid_trained_in_the_second_process_is_the_grid_trained_here():
    X, y = nnlib.make_spiral(rng=0)
    args = ("spiral", nnlib.StandardScaler().fit_transform(X), y, (0.3, 3.0))
    with sw.second_process() as other:
        job = other.submit(sw.train_grid, *args, seeds=range(3), epochs=150, batchnorm=True)
        here = sw.train_grid(*args, seeds=range(3), epochs=150, batchnorm=True)
        there = job.result()
    np.testing.assert_array_equal(there.history.loss, here.history.loss)
    np.testing.assert_array_equal(there.outcome, here.outcome)
    for a, b in zip(there.model.layers, here.model.layers, strict=True):
        for key in a.params:
            np.testing.assert_array_equal(a.params[key], b.params[key])


def test_the_second_process_is_stopped_at_once_when_the_block_is_interrupted():
    import signal

    X, y = nnlib.make_spiral(rng=0)
    with pytest.raises(KeyboardInterrupt):
        with sw.second_process() as other:
            job = other.submit(sw.train_grid, "spiral", X, y, (0.1,), epochs=10**6)  # would run for minutes
            workers = list(other._processes.values())
            raise KeyboardInterrupt
    # the job did not finish: it was stopped with its worker
    assert workers and isinstance(job.exception(timeout=0), BrokenProcessPool)
    for proc in workers:
        # ended, and its exit code collected, before the block was left
        assert proc.exitcode == -signal.SIGTERM


def test_a_worker_that_ignores_sigterm_is_killed_when_the_block_is_interrupted():
    import signal
    import time

    with pytest.raises(KeyboardInterrupt):
        with sw.second_process() as other:
            # the worker stops answering SIGTERM, then sleeps for ten minutes
            other.submit(signal.signal, signal.SIGTERM, signal.SIG_IGN).result()
            job = other.submit(time.sleep, 600)
            workers = list(other._processes.values())
            raise KeyboardInterrupt
    assert workers and isinstance(job.exception(timeout=0), BrokenProcessPool)
    for proc in workers:
        assert proc.exitcode == -signal.SIGKILL   # recorded before the block was left
