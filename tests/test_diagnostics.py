"""nnlib.diagnostics: verdicts on runs, per-layer statistics, the depth experiment."""

import numpy as np
import pytest

import nnlib
from nnlib import diagnostics as diag


@pytest.fixture(scope="module")
def spiral():
    return nnlib.make_spiral(rng=0)


@pytest.fixture(scope="module")
def polynomial():
    return nnlib.make_polynomial(rng=41)


def make_history(loss, grad_norms, diverged_at=None):
    return nnlib.History(loss=np.asarray(loss, float), grad_norms=np.asarray(grad_norms, float), diverged_at=diverged_at,
                         lr=0.1, epochs=len(loss))


# -- run_status: the one vocabulary, with the numbers behind it ---------------------
def test_status_slow_while_the_loss_still_falls():
    st = diag.run_status(make_history(np.linspace(1.0, 0.5, 50), np.ones((50, 2))))
    assert st.kind == "slow" and st.epoch is None and "still improving after 50 epochs" in st.message


def test_status_diverged_names_epoch_and_last_finite_value():
    st = diag.run_status(make_history([1.0, 1e10, np.inf], [[1, 1], [1, 1], [np.nan, np.inf]], diverged_at=2), loss_name="MSE")
    assert st.kind == "diverged" and st.epoch == 2
    assert "MSE became inf at epoch 2" in st.message and "1e+10" in st.message


def test_status_stalled_with_spike_and_first_dead_epoch():
    loss = [2.0, 50.0] + [1.0] * 18
    norms = [[1, 1], [1, 1]] + [[0, 0]] * 18
    st = diag.run_status(make_history(loss, norms))
    assert st.kind == "stalled" and st.epoch == 2
    assert "spiked to 50 at epoch 1" in st.message and "exactly 0 from epoch 2" in st.message


def test_status_stalled_when_the_loss_only_oscillates():
    # The output bias of a dead network flips sign every step: the loss repeats, no new low.
    loss = np.tile([1.044, 1.044], 20)
    st = diag.run_status(make_history(loss, np.zeros((40, 2))))
    assert st.kind == "stalled"


def test_zero_gradients_that_recover_are_not_a_stall():
    st = diag.run_status(make_history(np.linspace(2.0, 1.0, 20), [[1, 1]] * 10 + [[0, 0]] * 5 + [[1, 0]] * 5))
    assert st.kind == "slow" and st.epoch is None


def test_status_converged_needs_the_problem_and_its_metric():
    hist = make_history(np.linspace(1.0, 0.2, 30), np.ones((30, 2)))
    hist.metrics["accuracy"] = np.linspace(0.5, 1.0, 30)
    first = diag.epochs_to_reach(hist.metrics["accuracy"], 0.95)
    st = diag.run_status(hist, "spiral")
    assert st.kind == "converged" and st.epoch == first == 27
    assert "training accuracy >= 95% first met at epoch 27" in st.message
    assert diag.run_status(hist).kind == "slow"  # without the problem there is no target
    hist.metrics["accuracy"] = np.full(30, 0.9)
    assert diag.run_status(hist, "spiral").kind == "slow"


def test_spiral_lr_10_stalls_after_a_spike(spiral):
    X, y = spiral
    hist = nnlib.train(nnlib.MLP([2, 18, 4, 1], rng=0), X, y, lr=10.0, epochs=30, metrics=["accuracy"])
    st = diag.run_status(hist, "spiral")
    assert st.kind == "stalled" and st.epoch == 2
    assert "spiked to 580 at epoch 1" in st.message and "training accuracy 50.0%" in st.message


def test_run_status_rejects_ensembles_and_non_histories(spiral):
    X, y = spiral
    hist = nnlib.train(nnlib.MLP([2, 18, 4, 1], rng=range(2)), X, y, lr=np.array([0.1, 10.0]), epochs=5)
    with pytest.raises(ValueError, match="single network"):
        diag.run_status(hist)
    with pytest.raises(TypeError, match="History"):
        diag.run_status([1, 2])
    with pytest.raises(ValueError, match="unknown problem"):
        diag.run_status(hist.run(0), "spirals")


def test_classify_runs_matches_run_status_per_member(polynomial):
    X, y = polynomial
    lrs = np.array([1e-6, 1e-3, 1e-6, 1e-3])
    hist = nnlib.train(nnlib.MLP([1, 88, 48, 1], output=None, rng=range(4)), X, y, loss="mse", lr=lrs, epochs=30, metrics=["r2"])
    kinds = diag.classify_runs(hist, "polynomial")
    assert kinds.shape == (4,)
    assert list(kinds) == [diag.run_status(hist.run(k), "polynomial").kind for k in range(4)]
    assert kinds[0] == "slow" and kinds[1] == "diverged"


# -- seeds and thresholds --------------------------------------------------------------
def test_seed_band_ignores_nan_and_matches_numpy():
    v = np.array([[1.0, 3.0, 2.0], [np.nan, 4.0, 2.0], [np.nan, np.nan, np.nan], [np.inf, 1.0, 5.0]])
    med, lo, hi = diag.seed_band(v)
    np.testing.assert_allclose(med[[0, 1, 3]], [2.0, 3.0, 3.0])
    np.testing.assert_allclose(lo[[0, 1, 3]], [1.0, 2.0, 1.0])
    np.testing.assert_allclose(hi[[0, 1, 3]], [3.0, 4.0, 5.0])
    assert np.isnan(med[2]) and np.isnan(lo[2]) and np.isnan(hi[2])


def test_epochs_to_reach():
    acc = np.array([0.5, 0.8, 0.95, 0.99])
    assert diag.epochs_to_reach(acc, 0.9) == 2
    assert diag.epochs_to_reach(acc, 0.999) == -1
    assert diag.epochs_to_reach(np.array([3.0, 2.0, 1.0]), 1.5, above=False) == 2
    both = np.column_stack([acc, [0.1, 0.2, 0.3, np.nan]])
    np.testing.assert_array_equal(diag.epochs_to_reach(both, 0.9), [2, -1])


# -- autopsy -------------------------------------------------------------------------------
def test_divergence_autopsy_ends_at_the_non_finite_loss(polynomial):
    X, y = polynomial
    hist = nnlib.train(nnlib.MLP([1, 88, 48, 1], output=None, rng=0), X, y, loss="mse", lr=1e-4, epochs=100, track_weights=True)
    a = diag.divergence_autopsy(hist, steps=4)
    assert a.epochs[-1] == hist.diverged_at and len(a.epochs) == 4
    assert not np.isfinite(a.loss[-1]) and np.isfinite(a.loss[:-1]).all()
    assert a.max_abs_weight.shape == (4, 3)
    assert a.max_abs_weight[-1].max() > 1e6 * a.max_abs_weight[0].max()


def test_divergence_autopsy_refuses_a_healthy_run(spiral):
    X, y = spiral
    hist = nnlib.train(nnlib.MLP([2, 18, 4, 1], rng=0), X, y, lr=0.1, epochs=5)
    with pytest.raises(ValueError, match="did not diverge"):
        diag.divergence_autopsy(hist)


# -- snapshots, dead units, update ratio ---------------------------------------------------
def test_layer_snapshots_gradient_matches_the_chain_rule(spiral):
    X, y = spiral
    model = nnlib.MLP([2, 18, 4, 1], rng=3)
    nnlib.train(model, X, y, lr=0.1, epochs=20)
    params = [{k: v.copy() for k, v in layer.params.items()} for layer in model.layers]
    snaps = diag.layer_snapshots(model, X, y, loss="bce", training=False)
    assert [s.name for s in snaps] == ["ReLU 1", "ReLU 2"]
    assert snaps[0].activation.shape == (500, 18) and snaps[1].gradient.shape == (500, 4)
    # independent formula: dL/da2 = (sigmoid(a2 @ W3 + b3) - y) / n @ W3.T
    W3, b3 = model.layers[4].params["W"], model.layers[4].params["b"]
    p = 1 / (1 + np.exp(-(snaps[1].activation @ W3 + b3)))
    np.testing.assert_allclose(snaps[1].gradient, (p - y) / len(y) @ W3.T, rtol=1e-10, atol=1e-15)
    for before, layer in zip(params, model.layers, strict=True):
        for k, v in before.items():
            np.testing.assert_array_equal(layer.params[k], v)


def test_layer_snapshot_gradient_by_finite_differences(polynomial):
    X, y = polynomial
    model = nnlib.MLP([1, 6, 5, 1], output=None, rng=0)
    snaps = diag.layer_snapshots(model, X, y, loss="mse", training=False)
    a1 = snaps[0].activation
    head = model.layers[2:]  # Dense(6->5), ReLU, Dense(5->1)
    def loss_from(a):
        out = a
        for layer in head:
            out = layer.forward(out, False)
        return float(np.mean((out - y) ** 2))
    i, j, h = 7, 2, 1e-6
    up, down = a1.copy(), a1.copy()
    up[i, j] += h
    down[i, j] -= h
    numeric = (loss_from(up) - loss_from(down)) / (2 * h)
    assert snaps[0].gradient[i, j] == pytest.approx(numeric, rel=1e-5, abs=1e-9)


def test_dead_relu_fraction_counts_units_dead_on_every_sample(spiral):
    X, _ = spiral
    model = nnlib.MLP([2, 18, 4, 1], rng=0)
    dense = model.dense_layers
    dense[0].params["b"][:9] = -1e6      # 9 of 18 units can never fire
    dense[1].params["b"][:] = -1e6       # every unit of layer 2
    np.testing.assert_allclose(diag.dead_relu_fraction(model, X), [0.5, 1.0])
    ens = nnlib.MLP([2, 18, 4, 1], rng=range(3))
    assert diag.dead_relu_fraction(ens, X).shape == (3, 2)


def test_update_ratio_is_step_over_weight_norm(spiral):
    X, y = spiral
    model = nnlib.MLP([2, 18, 4, 1], rng=0)
    W0 = [d.params["W"].copy() for d in model.dense_layers]
    tracker = diag.UpdateRatio(model)
    nnlib.train(model, X, y, lr=0.1, epochs=1, callback=tracker)
    expected = [np.linalg.norm(d.params["W"] - w) / np.linalg.norm(w) for d, w in zip(model.dense_layers, W0, strict=True)]
    np.testing.assert_allclose(tracker.ratios[0], expected)
    nnlib.train(model, X, y, lr=0.1, epochs=4, callback=tracker)
    assert tracker.ratios.shape == (5, 3)


def test_update_ratio_tracks_an_ensemble(spiral):
    X, y = spiral
    ens = nnlib.MLP([2, 18, 4, 1], rng=[0, 0])   # two copies of one network
    tracker = diag.UpdateRatio(ens)
    nnlib.train(ens, X, y, lr=np.array([0.01, 0.1]), epochs=3, callback=tracker)
    r = tracker.ratios
    assert r.shape == (3, 2, 3)
    np.testing.assert_allclose(r[0, 1], 10 * r[0, 0])   # same weights and gradient, ten times the step


# -- depth experiment --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def depth():
    return diag.depth_experiment(depths=(1, 3, 6), settings=(("sigmoid", "small_uniform"), ("relu", "he"), ("relu", "he", 1.5)),
                                 width=16, n_samples=64, n_seeds=4, rng=1)


def test_depth_experiment_shapes_and_labels(depth):
    assert depth.first_layer.shape == (3, 3, 4) and depth.factor.shape == (3, 3)
    assert depth.labels == ["sigmoid, small_uniform", "relu, he", "relu, he x1.5"]
    assert np.isnan(depth.factor[:, 0]).all()


def test_depth_experiment_shows_vanishing_stable_and_exploding(depth):
    f = depth.factor[:, -1]
    assert f[0] < 0.05
    assert 0.7 < f[1] < 1.4
    assert f[2] == pytest.approx(1.5 * f[1], rel=1e-9)   # scaling every weight by 1.5 scales each factor by 1.5
    med = depth.median()
    assert med[0, -1] < 1e-6 * med[0, 0]
    assert med[2, -1] > med[2, 0]


def test_depth_experiment_is_deterministic_and_validates():
    a = diag.depth_experiment(depths=(2,), width=8, n_samples=16, n_seeds=2, rng=5)
    b = diag.depth_experiment(depths=(2,), width=8, n_samples=16, n_seeds=2, rng=5)
    np.testing.assert_array_equal(a.first_layer, b.first_layer)
    with pytest.raises(ValueError, match="activation"):
        diag.depth_experiment(settings=(("gelu", "he"),))
    with pytest.raises(ValueError, match="gain"):
        diag.depth_experiment(settings=(("relu", "he", -1.0),))
    with pytest.raises(ValueError, match="setting"):
        diag.depth_experiment(settings=("relu",))


def test_depth_experiment_with_batchnorm_keeps_the_sigmoid_gradient_and_ignores_the_weight_scale():
    kw = dict(depths=(1, 3, 6), settings=(("sigmoid", "small_uniform"), ("relu", "he"), ("relu", "he", 1.5)),
              width=16, n_samples=64, n_seeds=4, rng=1)
    plain = diag.depth_experiment(**kw)
    bn = diag.depth_experiment(batchnorm=True, **kw)
    assert bn.first_layer.shape == plain.first_layer.shape and bn.labels == plain.labels
    # without BN the sigmoid's gradient shrinks by ~100x per layer; BN renormalizes every layer's input
    assert plain.factor[0, -1] < 0.05 and 0.7 < bn.factor[0, -1] < 1.4
    assert bn.median()[0, -1] > 0.3 * bn.median()[0, 0]
    # BN divides out a layer's weight scale, so multiplying every weight by 1.5 barely changes the
    # gradient of the first layer (the 1.5x of the first layer's own weights is divided out too)
    np.testing.assert_allclose(bn.first_layer[2], bn.first_layer[1], rtol=1e-3)
    with pytest.raises(TypeError, match="batchnorm"):
        diag.depth_experiment(depths=(1,), batchnorm="yes")


def test_depth_experiment_batchnorm_runs_in_training_mode():
    # in evaluation mode fresh running statistics (mean 0, variance 1) would leave the
    # small-uniform sigmoid network as it is, and its gradient would still vanish
    kw = dict(depths=(6,), settings=(("sigmoid", "small_uniform"),), width=16, n_samples=64, n_seeds=2, rng=3)
    assert diag.depth_experiment(batchnorm=True, **kw).median()[0, 0] > 1e3 * diag.depth_experiment(**kw).median()[0, 0]


def test_diagnostics_does_not_import_matplotlib():
    import subprocess
    import sys

    code = "import sys, nnlib.diagnostics; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_relu_inputs_are_the_pre_activations_and_leave_running_statistics_alone():
    X, y = nnlib.make_spiral(n_per_class=20, rng=0)
    model = nnlib.MLP([2, 6, 3, 1], batchnorm=True, rng=0)
    model.layers[1].running_mean[:] = 5.0
    before = [layer.running_mean.copy() for layer in model.layers if isinstance(layer, nnlib.BatchNorm)]
    z1, z2 = diag.relu_inputs(model, X)
    assert z1.shape == (40, 6) and z2.shape == (40, 3)
    # training mode: the first BatchNorm output has mean beta (0) and unit variance per unit
    np.testing.assert_allclose(z1.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(z1.std(axis=0), 1.0, rtol=1e-3)
    after = [layer.running_mean for layer in model.layers if isinstance(layer, nnlib.BatchNorm)]
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)
    # evaluation mode uses the running statistics instead, so it differs
    assert not np.allclose(diag.relu_inputs(model, X, training=False)[0], z1)


def test_relu_input_recorder_records_the_requested_steps():
    X, y = nnlib.make_spiral(n_per_class=20, rng=0)
    model = nnlib.MLP([2, 6, 3, 1], rng=0)
    initial = diag.relu_inputs(model, X)
    recorder = diag.ReluInputRecorder(model, X, steps=[0, 1, 5])
    nnlib.train(model, X, y, lr=0.1, epochs=5, callback=recorder)
    assert sorted(recorder.seen) == [0, 1, 5]
    np.testing.assert_array_equal(recorder.seen[0][0], initial[0])
    np.testing.assert_array_equal(recorder.seen[5][1], diag.relu_inputs(model, X)[1])
    assert not np.array_equal(recorder.seen[1][0], recorder.seen[0][0])


def test_layer_snapshots_check_y_first_and_leave_the_model_alone():
    X, y = nnlib.make_spiral(n_per_class=10, rng=0)
    model = nnlib.MLP([2, 5, 3, 1], batchnorm=True, rng=0)
    before = [(b.running_mean.copy(), b.running_var.copy()) for b in model.layers if isinstance(b, nnlib.BatchNorm)]
    with pytest.raises(ValueError, match=r"y must have shape \(20, 1\)"):
        diag.layer_snapshots(model, X, y[:5])
    snaps = diag.layer_snapshots(model, X, y)  # training mode by default
    assert len(snaps) == 2
    after = [(b.running_mean, b.running_var) for b in model.layers if isinstance(b, nnlib.BatchNorm)]
    for (m0, v0), (m1, v1) in zip(before, after, strict=True):
        np.testing.assert_array_equal(m0, m1)
        np.testing.assert_array_equal(v0, v1)
