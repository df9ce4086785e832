"""Tests for nnlib.curvature.sharpness and SharpnessRecorder: a network's top Hessian eigenvalue."""

import copy
import os

import numpy as np
import pytest

import nnlib
from nnlib import curvature
from nnlib.layers import BatchNorm, Sigmoid

# The small cases every reference check runs: (output, loss, batchnorm, hidden).
CASES = [
    ("sigmoid", "bce", False, "relu"),
    ("sigmoid", "bce", True, "relu"),
    (None, "mse", False, "relu"),
    (None, "mse", True, "relu"),
    ("sigmoid", "mse", False, "tanh"),  # the sigmoid as a layer of its own, and tanh
    ("sigmoid", "bce", True, "sigmoid"),
]
CASE_IDS = ["bce", "bce-bn", "mse", "mse-bn", "tanh-sigmoid-mse", "sigmoid-bn-bce"]


def _small_problem(output, batchnorm, hidden="relu", seed=0, sizes=(2, 3, 2, 1), n=30):
    """A 2-3-2-1 network and 30 points: labels for a sigmoid output, real targets for a linear one."""
    gen = np.random.default_rng(100 + seed)
    X = gen.normal(size=(n, sizes[0]))
    if output == "sigmoid":
        y = (X[:, :1] * X[:, 1:2] > 0).astype(float)
    else:
        y = np.sin(X[:, :1]) + X[:, 1:2] + 0.3 * gen.normal(size=(n, 1))
    model = nnlib.MLP(list(sizes), hidden=hidden, output=output, batchnorm=batchnorm, rng=seed)
    # Move biases, gamma and beta away from their (0, 1, 0) start: with zero biases a
    # sample whose hidden ReLUs are all off sits exactly on the next ReLU's kink.
    for layer in model.layers:
        if isinstance(layer, nnlib.Dense) and layer.bias:
            layer.params["b"][...] = gen.normal(scale=0.3, size=layer.params["b"].shape)
        if isinstance(layer, BatchNorm):
            layer.params["gamma"][...] = gen.uniform(0.5, 1.5, size=layer.params["gamma"].shape)
            layer.params["beta"][...] = gen.normal(scale=0.3, size=layer.params["beta"].shape)
    return model, X, y


def _nnlib_gradient(model, X, y, loss):
    """The full-batch training-mode gradient from nnlib's own forward/backward, flattened in layer order."""
    out = model.forward(X, training=True)
    if loss == "bce":
        dy = nnlib.BinaryCrossEntropy().gradient(out, y)
    else:
        dy = nnlib.MSE().gradient(out, y)
    model.backward(dy)
    return np.concatenate([g.ravel() for layer in model.layers for g in layer.grads.values()])


def _dense_hessian(model, X, y, loss, h):
    """Central differences of nnlib's exact gradients, one parameter at a time, on a copy."""
    work = model.copy()
    params = [p for layer in work.layers for p in layer.params.values()]
    columns = []
    for p in params:
        flat = p.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + h
            g_plus = _nnlib_gradient(work, X, y, loss)
            flat[i] = old - h
            g_minus = _nnlib_gradient(work, X, y, loss)
            flat[i] = old
            columns.append((g_plus - g_minus) / (2 * h))
    return np.array(columns).T


def _reference_hessian(model, X, y, loss):
    """The dense Hessian, symmetrized, with its finite-difference error checked small.

    The step-halving difference estimates the error of the coarser one; for a
    second-order scheme the finer one's error is about a quarter of it.
    """
    coarse = _dense_hessian(model, X, y, loss, 2e-5)
    fine = _dense_hessian(model, X, y, loss, 1e-5)
    scale = np.abs(fine).max()
    assert np.abs(fine - coarse).max() < 1e-7 * scale, "finite differences too inaccurate (a ReLU kink within h?)"
    assert np.abs(fine - fine.T).max() < 1e-7 * scale
    return 0.5 * (fine + fine.T)


def _hessian_from_products(model, X, y, loss):
    hvp = curvature._HessianVectorProduct(model, X, y, loss)
    eye = np.eye(hvp.size)
    return np.stack([hvp(e[None])[0] for e in eye])


def _state(model):
    """Everything a layer holds, deep-copied: params, grads, running statistics, forward caches.

    An emptied cache (None) counts as absent: train empties the caches it used,
    and whether a cache slot was ever created depends on how train ran (whole
    ensemble or blocks), not on what the model is.
    """
    return [copy.deepcopy({k: v for k, v in vars(layer).items() if v is not None}) for layer in model.layers]


def _assert_same_state(before, after):
    assert len(before) == len(after)
    for a, b in zip(before, after, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            _assert_identical(a[key], b[key], key)


def _assert_identical(a, b, where):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _assert_identical(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b), where
        for i, (u, v) in enumerate(zip(a, b, strict=True)):
            _assert_identical(u, v, f"{where}[{i}]")
    elif isinstance(a, np.ndarray):
        assert a.shape == b.shape and a.dtype == b.dtype, where
        # bit for bit, NaN included
        assert a.tobytes() == b.tobytes(), where
    else:
        assert a == b, where


# -- against references ----------------------------------------------------------


@pytest.mark.parametrize(("output", "loss", "batchnorm", "hidden"), CASES, ids=CASE_IDS)
def test_products_rebuild_the_dense_finite_difference_hessian(output, loss, batchnorm, hidden):
    model, X, y = _small_problem(output, batchnorm, hidden)
    H_ref = _reference_hessian(model, X, y, loss)
    H = _hessian_from_products(model, X, y, loss)
    assert np.abs(H - H_ref).max() < 1e-6 * np.abs(H_ref).max()
    assert np.abs(H - H.T).max() < 1e-12 * np.abs(H).max()


@pytest.mark.parametrize(("output", "loss", "batchnorm", "hidden"), CASES, ids=CASE_IDS)
def test_sharpness_is_the_top_eigenvalue_of_the_dense_hessian(output, loss, batchnorm, hidden):
    model, X, y = _small_problem(output, batchnorm, hidden)
    top = np.linalg.eigvalsh(_reference_hessian(model, X, y, loss))[-1]
    value = curvature.sharpness(model, X, y, loss, rng=0)
    assert isinstance(value, float)
    assert value == pytest.approx(top, rel=1e-6)


def test_the_largest_algebraic_eigenvalue_not_the_largest_in_magnitude():
    # Large targets put the network far from a minimum: the most negative
    # eigenvalue is larger in magnitude than the most positive one here.
    gen = np.random.default_rng(0)
    X = gen.normal(size=(30, 2))
    y = 100.0 * gen.normal(size=(30, 1))
    model = nnlib.MLP([2, 3, 2, 1], output=None, rng=1)
    for dense in model.dense_layers:  # off the kink that zero biases put some samples on
        dense.params["b"][...] = gen.normal(scale=0.3, size=dense.params["b"].shape)
    ev = np.linalg.eigvalsh(_reference_hessian(model, X, y, "mse"))
    assert -ev[0] > ev[-1] > 0, "the case no longer has a dominant negative eigenvalue"
    assert curvature.sharpness(model, X, y, "mse", rng=1) == pytest.approx(ev[-1], rel=1e-6)


def test_a_linear_network_has_the_closed_form_lambda_max():
    gen = np.random.default_rng(3)
    X = gen.normal(size=(50, 3)) * np.array([4.0, 1.0, 0.2]) + 0.5
    y = gen.normal(size=(50, 1))
    model = nnlib.MLP([3, 1], output=None, rng=0)
    assert curvature.sharpness(model, X, y, "mse", rng=0) == pytest.approx(curvature.lambda_max(X), rel=1e-9)


def _torch():
    """torch, or a skip where it is not installed; a CI run installs it, so there a missing torch fails."""
    if os.environ.get("CI"):
        import torch

        return torch
    return pytest.importorskip("torch")


def _torch_loss(torch, model, X, y, loss):
    """The same network and loss written in torch, as a function of one flat float64 parameter vector."""
    shapes = [p.shape for layer in model.layers for p in layer.params.values()]
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    layers = model.layers[:-1] if loss == "bce" else model.layers

    def f(theta):
        parts, at = [], 0
        for shape in shapes:
            size = int(np.prod(shape))
            parts.append(theta[at : at + size].reshape(shape))
            at += size
        it = iter(parts)
        a = Xt
        for layer in layers:
            if isinstance(layer, nnlib.Dense):
                a = a @ next(it)
                if layer.bias:
                    a = a + next(it)
            elif isinstance(layer, nnlib.ReLU):
                a = torch.relu(a)
            elif isinstance(layer, Sigmoid):
                a = torch.sigmoid(a)
            elif isinstance(layer, nnlib.Tanh):
                a = torch.tanh(a)
            else:
                gamma, beta = next(it), next(it)
                mean = a.mean(dim=0)
                var = a.var(dim=0, unbiased=False)
                a = (a - mean) / torch.sqrt(var + layer.eps) * gamma + beta
        if loss == "bce":
            return torch.nn.functional.binary_cross_entropy_with_logits(a, yt)
        return torch.mean((a - yt) ** 2)

    theta = np.concatenate([p.ravel() for layer in model.layers for p in layer.params.values()])
    return f, torch.from_numpy(theta)


@pytest.mark.parametrize(("output", "loss", "batchnorm", "hidden"), CASES, ids=CASE_IDS)
def test_against_torch_autograd_hessian(output, loss, batchnorm, hidden):
    torch = _torch()
    model, X, y = _small_problem(output, batchnorm, hidden, seed=1)
    f, theta = _torch_loss(torch, model, X, y, loss)
    H_torch = torch.autograd.functional.hessian(f, theta).numpy()
    H = _hessian_from_products(model, X, y, loss)
    np.testing.assert_allclose(H, H_torch, rtol=0, atol=1e-11 * np.abs(H_torch).max())
    top = np.linalg.eigvalsh(H_torch)[-1]
    assert curvature.sharpness(model, X, y, loss, rng=0) == pytest.approx(top, rel=1e-9)


def test_spiral_network_against_torch():
    """The tutorial's own network and data, once, with and without BatchNorm."""
    torch = _torch()
    X, y = nnlib.make_spiral(n_per_class=50, rng=0)
    for batchnorm in (False, True):
        model = nnlib.MLP([2, 18, 4, 1], batchnorm=batchnorm, rng=4)
        nnlib.train(model, X, y, lr=0.1, epochs=30)
        f, theta = _torch_loss(torch, model, X, y, "bce")
        top = np.linalg.eigvalsh(torch.autograd.functional.hessian(f, theta).numpy())[-1]
        assert curvature.sharpness(model, X, y, "bce", rng=0) == pytest.approx(top, rel=1e-8)


# -- ensembles, state, determinism -----------------------------------------------


@pytest.mark.parametrize("batchnorm", [False, True])
def test_an_ensemble_gives_each_members_single_network_value(batchnorm):
    X, y = nnlib.make_spiral(n_per_class=40, rng=1)
    ens = nnlib.MLP([2, 18, 4, 1], batchnorm=batchnorm, rng=range(5))
    nnlib.train(ens, X, y, lr=0.2, epochs=40)
    values, info = curvature.sharpness(ens, X, y, "bce", rng=0, tol=1e-9, return_info=True)
    assert values.shape == (5,) and info["iterations"].shape == (5,) and info["converged"].all()
    singles = [curvature.sharpness(ens.member(k), X, y, "bce", rng=0, tol=1e-9) for k in range(5)]
    np.testing.assert_allclose(values, singles, rtol=1e-9)
    assert len(set(np.round(values, 6))) == 5  # the members really differ


def test_an_ensemble_may_have_its_own_inputs_per_member():
    X, y = nnlib.make_spiral(n_per_class=30, rng=2)
    Xk = np.stack([X, 2.0 * X])
    ens = nnlib.MLP([2, 6, 1], rng=[0, 0])
    values = curvature.sharpness(ens, Xk, y, "bce", rng=0, tol=1e-9)
    singles = [curvature.sharpness(ens.member(0), Xk[k], y, "bce", rng=0, tol=1e-9) for k in range(2)]
    np.testing.assert_allclose(values, singles, rtol=1e-9)
    assert values[1] > values[0]


@pytest.mark.parametrize("batchnorm", [False, True])
@pytest.mark.parametrize("n_models", [None, 3])
def test_the_model_is_left_exactly_as_it_was(batchnorm, n_models):
    X, y = nnlib.make_spiral(n_per_class=30, rng=0)
    model = nnlib.MLP([2, 8, 4, 1], batchnorm=batchnorm, rng=0 if n_models is None else range(n_models))
    nnlib.train(model, X, y, lr=0.1, epochs=5)
    model.forward(X[:7], training=False)  # leave distinctive forward caches behind
    before = _state(model)
    curvature.sharpness(model, X, y, "bce", rng=0)
    _assert_same_state(before, _state(model))


def test_same_rng_same_bits_and_other_starts_agree_to_the_tolerance():
    X, y = nnlib.make_spiral(n_per_class=50, rng=0)
    model = nnlib.MLP([2, 18, 4, 1], rng=0)
    a = curvature.sharpness(model, X, y, "bce", rng=7)
    b = curvature.sharpness(model, X, y, "bce", rng=np.random.default_rng(7))
    assert a == b
    others = [curvature.sharpness(model, X, y, "bce", rng=s) for s in range(3)]
    np.testing.assert_allclose(others, a, rtol=1e-6)


def test_max_iter_caps_the_products_and_reports_it():
    X, y = nnlib.make_spiral(n_per_class=50, rng=0)
    model = nnlib.MLP([2, 18, 4, 1], rng=0)
    value, info = curvature.sharpness(model, X, y, "bce", rng=0, max_iter=3, return_info=True)
    assert info == {"iterations": 3, "converged": False}
    full = curvature.sharpness(model, X, y, "bce", rng=0)
    assert 0 < value <= full * (1 + 1e-12)  # a Ritz value never exceeds the top eigenvalue


def test_a_network_with_non_finite_weights_gives_nan():
    X, y = nnlib.make_spiral(n_per_class=20, rng=0)
    ens = nnlib.MLP([2, 5, 1], output=None, rng=range(3))
    ens.layers[0].params["W"][1, 0, 0] = np.inf
    values = curvature.sharpness(ens, X, y, "mse", rng=0)
    assert np.isnan(values[1]) and np.isfinite(values[[0, 2]]).all()


def test_bad_input_is_rejected_before_anything_runs():
    X, y = nnlib.make_spiral(n_per_class=20, rng=0)
    linear = nnlib.MLP([2, 5, 1], output=None, rng=0)
    with pytest.raises(ValueError, match="needs probabilities"):
        curvature.sharpness(linear, X, y, "bce")
    with pytest.raises(ValueError, match="unknown loss"):
        curvature.sharpness(linear, X, y, "hinge")
    with pytest.raises(ValueError, match="tol"):
        curvature.sharpness(linear, X, y, "mse", tol=0.0)
    with pytest.raises(ValueError, match="max_iter"):
        curvature.sharpness(linear, X, y, "mse", max_iter=0)
    with pytest.raises(ValueError, match="3 features"):
        curvature.sharpness(linear, np.ones((40, 3)), y, "mse")
    with pytest.raises(ValueError, match="different numbers of samples"):
        curvature.sharpness(linear, X, y[:-1], "mse")
    with pytest.raises(ValueError, match="every"):
        curvature.SharpnessRecorder(X, y, "mse", every=0)
    with pytest.raises(TypeError, match="return_info"):
        curvature.sharpness(linear, X, y, "mse", return_info="yes")


# -- the recorder ------------------------------------------------------------------


@pytest.mark.parametrize("batchnorm", [False, True])
@pytest.mark.parametrize("n_models", [None, 3])
def test_recording_does_not_perturb_training(batchnorm, n_models):
    X, y = nnlib.make_spiral(n_per_class=40, rng=0)
    rng = 0 if n_models is None else range(n_models)
    plain = nnlib.MLP([2, 18, 4, 1], batchnorm=batchnorm, rng=rng)
    watched = plain.copy()
    h0 = nnlib.train(plain, X, y, lr=0.5, epochs=60)
    rec = curvature.SharpnessRecorder(X, y, "bce", every=7, rng=0)
    h1 = nnlib.train(watched, X, y, lr=0.5, epochs=60, callback=rec)
    assert h0.loss.tobytes() == h1.loss.tobytes()
    _assert_same_state(_state(plain), _state(watched))
    np.testing.assert_array_equal(rec.epochs, np.arange(7, 61, 7))
    assert rec.values.shape == ((8,) if n_models is None else (8, n_models))
    assert np.isfinite(rec.values).all()


def test_a_record_is_the_sharpness_after_that_many_updates():
    X, y = nnlib.make_spiral(n_per_class=40, rng=0)
    model = nnlib.MLP([2, 18, 4, 1], batchnorm=True, rng=3)
    start = model.copy()
    rec = curvature.SharpnessRecorder(X, y, "bce", every=10, tol=1e-9, rng=0)
    nnlib.train(model, X, y, lr=0.3, epochs=30, callback=rec)
    for epochs, value in zip(rec.epochs, rec.values, strict=True):
        replay = start.copy()
        nnlib.train(replay, X, y, lr=0.3, epochs=int(epochs))
        assert value == pytest.approx(curvature.sharpness(replay, X, y, "bce", tol=1e-9, rng=1), rel=1e-8)


def test_an_ensemble_record_is_nan_for_a_diverged_member():
    Xp, yp = nnlib.make_polynomial(degree=5, n_points=40, noise=200.0, scale=0.1, rng=41)
    ens = nnlib.MLP([1, 88, 48, 1], output=None, rng=range(2))
    rec = curvature.SharpnessRecorder(Xp, yp, "mse", every=5, rng=0)
    hist = nnlib.train(ens, Xp, yp, loss="mse", lr=[1e-6, 1e-3], epochs=40, callback=rec)
    assert hist.diverged_at[0] is None and hist.diverged_at[1] is not None
    after = rec.epochs > hist.diverged_at[1]
    assert after.any()
    assert np.isnan(rec.values[after, 1]).all() and np.isfinite(rec.values[:, 0]).all()
