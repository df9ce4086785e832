"""The explorer, driven without a browser: its callbacks are called directly."""

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import nnlib  # noqa: E402
import nnlib.widgets as widgets  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def explorer():
    return widgets.Explorer(toggles=widgets.TOGGLES)


def same_history(a, b):
    return (
        np.array_equal(a.loss, b.loss, equal_nan=True)
        and np.array_equal(a.grad_norms, b.grad_norms, equal_nan=True)
        and a.diverged_at == b.diverged_at
    )


def test_default_run_reports_loss_and_accuracy(explorer):
    explorer.update(problem="spiral", lr=0.1, seed=0, epochs=2000, standardize_x=False, standardize_y=False, batchnorm=False)
    assert explorer.status_kind == "slow"  # the raw spiral at lr 0.1 is still far from 95% after 2000 epochs
    assert "still improving" in explorer.status_text and "after the last update: training accuracy" in explorer.status_text
    assert explorer.status_text.count("accuracy") == 1  # said once, not twice
    assert explorer.png.startswith(PNG_SIGNATURE)
    assert explorer.history.epochs_run == 2000


def test_config_line_replays_the_exact_run(explorer):
    explorer.update(problem="spiral", lr=0.3, seed=7, epochs=300)
    model, hist = eval(explorer.config_text, {"nnlib": nnlib})
    assert isinstance(model, nnlib.MLP)
    assert same_history(hist, explorer.history)
    assert "lr=0.3" in explorer.config_html.value and "seed=7" in explorer.config_html.value


def test_lr_10_on_the_spiral_stalls_and_says_so(explorer):
    hist = explorer.update(problem="spiral", lr=10, seed=0, epochs=2000)
    assert hist.diverged_at is None
    assert explorer.status_kind == "stalled"
    assert "stalled" in explorer.status.value and "spiked to 580" in explorer.status_text
    assert explorer._figure.message.get_visible()
    assert "stalled" in explorer._figure.message.get_text()


def test_lr_10_on_the_polynomial_diverges_and_says_so(explorer):
    hist = explorer.update(problem="polynomial", lr=10, seed=0, epochs=2000)
    assert hist.diverged_at is not None
    assert explorer.status_kind == "diverged"
    assert "diverged" in explorer.status.value
    assert explorer._figure.message.get_visible()
    assert explorer.png.startswith(PNG_SIGNATURE)


@pytest.mark.parametrize("problem", ["spiral", "polynomial"])
@pytest.mark.parametrize("lr", [1e-7, 10.0])
def test_slider_extremes_never_raise(problem, lr):
    ex = widgets.Explorer(problem=problem, epochs=50)
    ex.controls["lr"].value = lr            # what the browser does on release
    assert ex.config["lr"] == pytest.approx(lr)
    assert ex.status_kind in nnlib.outcomes.OUTCOMES
    for seed in (ex.controls["seed"].min, ex.controls["seed"].max):
        ex.controls["seed"].value = seed
        assert ex.config["seed"] == seed and ex.status_kind != "error"
    ex.controls["epochs"].value = 1
    assert ex.history.epochs_run == 1 and ex.status_kind != "error"


def test_slider_moves_retrain_with_the_new_value():
    ex = widgets.Explorer(epochs=100)
    before = ex.history
    ex.controls["seed"].value = 3
    assert ex.config["seed"] == 3 and not same_history(before, ex.history)
    ex.controls["problem"].value = "polynomial"
    assert ex.config["problem"] == "polynomial" and ex.history.grad_norms.shape[1] == 3
    assert "MSE" in ex.status_text or "diverged" in ex.status_text


def test_observer_shows_errors_in_the_status_line(monkeypatch):
    ex = widgets.Explorer(epochs=50)
    shown = ex.config.copy()

    def broken(**config):
        raise RuntimeError("simulated failure inside training")

    monkeypatch.setattr(widgets, "fit", broken)
    ex.controls["seed"].value = 5           # must not raise
    assert ex.status_kind == "error"
    assert "simulated failure" in ex.status.value and "Traceback" not in ex.status.value
    assert ex.controls["seed"].value == shown["seed"]   # the control goes back to the run on display
    assert ex.config == shown


def test_update_rejects_bad_values_before_changing_anything():
    ex = widgets.Explorer(epochs=50)
    config, png = ex.config.copy(), ex.png
    with pytest.raises(ValueError, match="lr must be between"):
        ex.update(lr=100)
    with pytest.raises(ValueError, match="problem must be one of"):
        ex.update(problem="moons")
    with pytest.raises(TypeError, match="unknown setting"):
        ex.update(learning_rate=0.1)
    with pytest.raises(TypeError, match="seed must be an integer"):
        ex.update(seed=1.5)
    with pytest.raises(ValueError, match="epochs must be"):
        ex.update(epochs=0)
    assert ex.config == config and ex.png == png


def test_constructor_rejects_unknown_toggles_and_problems():
    with pytest.raises(ValueError, match="unknown toggle"):
        widgets.Explorer(toggles=("dropout",))
    with pytest.raises(ValueError, match="problems must be"):
        widgets.Explorer(problems=("moons",))


def test_seen_configuration_comes_from_the_cache(monkeypatch):
    ex = widgets.Explorer(epochs=100)
    first = ex.run
    ex.update(seed=1)
    calls = []
    real_fit = widgets.fit
    monkeypatch.setattr(widgets, "fit", lambda **c: calls.append(c) or real_fit(**c))
    ex.update(seed=0)
    assert calls == [] and ex.run is first


def test_cache_is_bounded():
    ex = widgets.Explorer(epochs=5, cache_size=3)
    for seed in range(6):
        ex.update(seed=seed)
    assert len(ex._cache) == 3


def test_figure_is_reused_and_no_pyplot_figures_pile_up():
    plt.close("all")
    ex = widgets.Explorer(epochs=50)
    image, figure = ex.image, ex._figure.figure
    pngs = set()
    for lr in (0.01, 0.1, 1.0, 10.0):
        ex.update(lr=lr)
        pngs.add(ex.png)
    assert ex.image is image and ex._figure.figure is figure
    assert len(pngs) == 4
    assert plt.get_fignums() == []


def test_dom_contract_classes_and_controls():
    ex = widgets.Explorer(toggles=("standardize_x", "batchnorm"), epochs=20)
    assert "nnlib-explorer" in ex.widget._dom_classes
    lr = ex.controls["lr"]
    assert "nnlib-lr" in lr._dom_classes and lr.description == "learning rate"
    assert (lr.min, lr.max, lr.base, lr.continuous_update) == (-7, 1, 10, False)
    seed = ex.controls["seed"]
    assert "nnlib-seed" in seed._dom_classes and seed.description == "seed" and not seed.continuous_update
    assert "nnlib-problem" in ex.controls["problem"]._dom_classes
    assert ex.controls["problem"].description == "problem"
    assert "nnlib-epochs" in ex.controls["epochs"]._dom_classes
    assert ex.image.format == "png" and "nnlib-plot" in ex.image._dom_classes
    assert "nnlib-status" in ex.status._dom_classes and "nnlib-config" in ex.config_html._dom_classes
    assert "nnlib-standardize-x" in ex.controls["standardize_x"]._dom_classes
    assert "nnlib-batchnorm" in ex.controls["batchnorm"]._dom_classes
    assert "standardize_y" not in ex.controls
    assert "application/vnd.jupyter.widget-view+json" in ex._repr_mimebundle_()


def test_notebook_01_shows_no_toggles():
    ex = widgets.Explorer(epochs=10)
    assert set(ex.controls) == {"problem", "lr", "seed", "epochs"}


def test_standardize_y_reports_mse_in_original_units():
    ex = widgets.Explorer(problem="polynomial", lr=0.01, epochs=300, standardize_x=True, standardize_y=True,
                          toggles=widgets.TOGGLES)
    run = ex.run
    X, y = widgets.problem_data("polynomial")
    mse = float(np.mean((run.predict(X) - y) ** 2))
    assert run.final_mse == pytest.approx(mse)
    assert mse > 1000  # original units: thousands squared, not standardized units
    scale = run.y_scaler.scale_[0]
    np.testing.assert_allclose(run.loss_original, run.history.loss * scale**2)
    assert f"{run.final_mse:.4g}" in ex.status_text
    assert not ex.controls["standardize_y"].disabled
    ex.update(problem="spiral")
    assert ex.controls["standardize_y"].disabled


def test_toggles_change_the_run_and_replay_exactly():
    ex = widgets.Explorer(problem="polynomial", lr=0.01, epochs=200, toggles=widgets.TOGGLES)
    assert ex.status_kind == "diverged"
    ex.controls["standardize_x"].value = True
    ex.controls["standardize_y"].value = True
    assert ex.status_kind in ("slow", "converged")
    ex.controls["batchnorm"].value = True
    assert any(isinstance(layer, nnlib.BatchNorm) for layer in ex.run.model.layers)
    _, hist = eval(ex.config_text, {"nnlib": nnlib})
    assert same_history(hist, ex.history)


def test_standardize_y_has_no_effect_on_spiral_labels():
    _, a = widgets.replay(problem="spiral", epochs=50, standardize_y=True)
    _, b = widgets.replay(problem="spiral", epochs=50, standardize_y=False)
    assert same_history(a, b)


def test_standardize_x_uses_a_scaler_fitted_on_the_training_data():
    run = widgets.fit(problem="spiral", epochs=5, standardize_x=True)
    X, _ = widgets.problem_data("spiral")
    np.testing.assert_allclose(run.x_scaler.mean_, X.mean(axis=0))
    np.testing.assert_allclose(run.x_scaler.scale_, X.std(axis=0))


def test_a_loss_near_overflow_draws_without_error_or_warning():
    # Standardized inputs, raw targets, lr ~ 0.03: the MSE reaches ~1e262 before
    # it overflows; log axes over such a span once crashed matplotlib's tick locator.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ex = widgets.Explorer(problem="polynomial", lr=10**-1.5, seed=0, epochs=2000, standardize_x=True)
    assert ex.status_kind == "diverged"
    assert "diverged" in ex.status_text
    assert ex.png.startswith(b"\x89PNG")


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(seed_max="a"), TypeError, "seed_max must be an integer"),
    (dict(seed_max=-1), ValueError, "seed_max must be at least 0"),
    (dict(seed_max=1.5), TypeError, "seed_max must be an integer"),
    (dict(toggles="batchnorm"), TypeError, "toggles must be a sequence"),
    (dict(problems="spiral"), TypeError, "problems must be a sequence"),
])
def test_explorer_constructor_rejects_bad_arguments_clearly(kwargs, error, match):
    with pytest.raises(error, match=match):
        widgets.Explorer(epochs=5, **kwargs)


def test_replay_line_from_numpy_strings_runs_with_only_nnlib():
    ex = widgets.Explorer(problem=np.str_("polynomial"), epochs=5)
    assert "np.str_" not in ex.config_text
    _, hist = eval(ex.config_text, {"nnlib": nnlib})
    assert same_history(hist, ex.history)


@pytest.mark.parametrize("epochs", [2, 3, 4])
def test_a_run_whose_final_output_overflows_is_never_reported_healthy(epochs):
    run = widgets.fit(problem="polynomial", lr=10, epochs=epochs)
    if run.status.kind != "diverged":
        assert np.isfinite(run.score) and np.isfinite(run.final_mse)
    assert len(run.status.message) < 300  # numbers are rounded, never printed with hundreds of digits


def test_explorer_output_carries_a_plain_png_for_renderers_without_widgets():
    import base64

    ex = widgets.Explorer(epochs=5)
    bundle = ex._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert "application/vnd.jupyter.widget-view+json" in data
    assert base64.b64decode(data["image/png"]) == ex.png


# -- the sharpness readout -------------------------------------------------------------
def test_sharpness_readout_is_off_by_default_and_computes_nothing(monkeypatch):
    calls = []
    monkeypatch.setattr(widgets, "run_sharpness", lambda run: calls.append(run) or (1.0, 2.0))
    ex = widgets.Explorer(epochs=30)
    ex.update(seed=1)
    assert calls == [] and ex.sharpness is None and "sharpness" not in ex.status_text
    assert "sharpness" not in ex.controls


def test_sharpness_checkbox_keeps_the_dom_contract_and_adds_the_readout():
    ex = widgets.Explorer(epochs=50, toggles=("batchnorm", "sharpness"))
    box = ex.controls["sharpness"]
    assert "nnlib-sharpness" in box._dom_classes and box.value is False
    plain_status, plain_config, plain_png = ex.status_text, ex.config_text, ex.png
    box.value = True                                   # what ticking it in the browser does
    assert ex.readouts["sharpness"] is True and np.isfinite(ex.sharpness) and ex.sharpness > 0
    assert ex.status_text.startswith(plain_status)
    assert ex.status_text.endswith(widgets.sharpness_text(ex.sharpness, 2 / 0.1))
    assert "vs 2/lr = 20" in ex.status_text
    assert ex.config_text == plain_config and ex.png == plain_png   # a readout, not a setting: the run is the same
    # the readout is the library's sharpness of the network shown, on the data it was trained on
    X, y = widgets.problem_data("spiral")
    assert ex.sharpness == pytest.approx(nnlib.curvature.sharpness(ex.run.model, X, y, "bce", rng=0), rel=1e-3)
    box.value = False
    assert ex.status_text == plain_status and ex.sharpness is None


def test_sharpness_readout_uses_the_data_as_the_network_saw_it():
    ex = widgets.Explorer(problem="polynomial", lr=0.01, epochs=100, standardize_x=True, standardize_y=True,
                          sharpness=True)
    X, y = widgets.problem_data("polynomial")
    Xs, ys, _, _ = nnlib.problems.get_problem("polynomial").standardize(X, y, inputs=True, targets=True)
    assert ex.sharpness == pytest.approx(nnlib.curvature.sharpness(ex.run.model, Xs, ys, "mse", rng=0), rel=1e-3)
    assert "vs 2/lr = 200" in ex.status_text


def test_sharpness_readout_of_a_diverged_run_is_nan_and_never_raises():
    ex = widgets.Explorer(problem="polynomial", lr=10, epochs=50, sharpness=True)
    assert ex.status_kind == "diverged"
    assert np.isnan(ex.sharpness) and "sharpness NaN" in ex.status_text
    value, limit = widgets.run_sharpness(ex.run)
    assert np.isnan(value) and limit == pytest.approx(0.2)


def test_sharpness_switch_validates():
    with pytest.raises(TypeError, match="sharpness must be True or False"):
        widgets.Explorer(epochs=10, sharpness="yes")
    ex = widgets.Explorer(epochs=10)
    with pytest.raises(TypeError, match="sharpness must be True or False"):
        ex.update(sharpness=1)
    assert ex.readouts["sharpness"] is False


def wait_for_speculation(ex):
    if ex._speculation is not None:
        ex._speculation[0].join(timeout=60)


def test_a_seed_step_after_a_pause_comes_from_the_background_run(monkeypatch):
    ex = widgets.Explorer(epochs=200)
    ex.controls["seed"].value = 4           # a control: the neighbours are trained in the background
    wait_for_speculation(ex)
    calls = []
    real_fit = widgets.fit
    monkeypatch.setattr(widgets, "fit", lambda **c: calls.append(c) or real_fit(**c))
    for seed in (5, 4, 3):                   # 5 and 3 were speculated; 4 is in the cache
        ex.controls["seed"].value = seed
        assert ex.config["seed"] == seed and ex.status_kind != "error"
        reference = real_fit(**ex.config).history
        assert same_history(ex.history, reference)   # the background's run is fit's run, value for value
        wait_for_speculation(ex)
    assert calls == []


def test_an_lr_step_after_a_pause_comes_from_the_background_run(monkeypatch):
    ex = widgets.Explorer(epochs=200)
    ex.controls["seed"].value = 4           # the background also trains lr one slider step up and down
    wait_for_speculation(ex)
    calls = []
    real_fit = widgets.fit
    monkeypatch.setattr(widgets, "fit", lambda **c: calls.append(c) or real_fit(**c))
    up = 10 ** -0.9
    # The browser computes the step's value itself and may differ in the last bit from Python's.
    ex.controls["lr"].value = float(np.nextafter(up, 1.0))
    assert ex.config["lr"] == up and ex.controls["lr"].value == up and ex.status_kind != "error"
    assert same_history(ex.history, real_fit(**ex.config).history)
    assert calls == []


def test_the_lr_slider_keeps_a_typed_value_between_its_steps():
    ex = widgets.Explorer(epochs=20, speculate=False)
    ex.controls["lr"].value = 0.15          # typed into the readout: between 10**-0.9 and 10**-0.8
    assert ex.config["lr"] == 0.15
    ex.controls["lr"].value = 0.1 * (1 + 1e-12)   # a step's value up to the browser's rounding
    assert ex.config["lr"] == 0.1


def test_the_neighbours_stay_on_the_sliders():
    ex = widgets.Explorer(epochs=5, seed_max=3, speculate=False)
    pairs = lambda configs: [(c["seed"], c["lr"]) for c in configs]  # noqa: E731
    assert pairs(ex._neighbours(dict(ex.config, seed=3, lr=10.0))) == [(2, 10.0), (3, 10 ** 0.9)]
    assert pairs(ex._neighbours(dict(ex.config, seed=0, lr=1e-7))) == [(1, 1e-7), (0, 10 ** -6.9)]
    assert pairs(ex._neighbours(dict(ex.config, seed=0, lr=0.15))) == [(1, 0.15)]   # between steps: no lr guess
    # the slider moved last comes first
    assert pairs(ex._neighbours(dict(ex.config, seed=1, lr=0.1), moved="lr")) == [
        (1, 10 ** -0.9), (1, 10 ** -1.1), (2, 0.1), (0, 0.1)]


def test_asking_for_something_else_stops_the_background_run():
    ex = widgets.Explorer(epochs=20000)      # long runs: the background is still training when asked
    ex.controls["seed"].value = 1
    thread, state = ex._speculation
    ex.update(lr=0.05)                       # not a neighbour: the background run is dropped
    assert state["abort"].is_set() and not thread.is_alive()
    assert ex._key(dict(ex.config, lr=0.1, seed=2)) not in ex._cache
    assert ex.config["lr"] == 0.05 and ex._speculation is None   # update from code starts no thread


def test_speculation_can_be_switched_off():
    ex = widgets.Explorer(epochs=50, speculate=False)
    ex.controls["seed"].value = 1
    assert ex._speculation is None and len(ex._cache) == 2
    with pytest.raises(TypeError, match="speculate must be True or False"):
        widgets.Explorer(epochs=5, speculate="yes")
