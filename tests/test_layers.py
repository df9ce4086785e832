"""Layers: forward values, gradient checks (single networks and ensembles), interface."""

import warnings

import numpy as np
import pytest

import nnlib
from nnlib.layers import sigmoid

TOL = 1e-7  # float64 central differences: below 1e-7 means the analytic gradient is right


def away_from_zero(rng, shape, low=0.1, high=2.0):
    """Values with |x| in [low, high] and random sign.

    ReLU's derivative jumps at 0; a central difference with step h = 1e-6 taken
    within h of the kink mixes both sides and is wrong by O(1) for that entry.
    Keeping every input at least 0.1 from 0 (1e5 steps) rules that out.
    """
    return rng.uniform(low, high, size=shape) * rng.choice([-1.0, 1.0], size=shape)


def assert_gradients_ok(errors):
    assert errors, "the check returned no errors to compare"
    bad = {k: v for k, v in errors.items() if not v < TOL}
    assert not bad, f"relative errors above {TOL}: {bad}"


# -- Dense ---------------------------------------------------------------------


@pytest.mark.parametrize("bias", [True, False])
def test_dense_forward_is_affine_map(bias):
    rng = np.random.default_rng(0)
    layer = nnlib.Dense(3, 4, rng=1, bias=bias)
    x = rng.normal(size=(5, 3))
    expected = x @ layer.params["W"] + (layer.params["b"] if bias else 0.0)
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-14, atol=1e-14)
    assert set(layer.params) == ({"W", "b"} if bias else {"W"})
    assert layer.params["W"].shape == (3, 4)


@pytest.mark.parametrize("bias", [True, False])
def test_dense_gradients_single(bias):
    rng = np.random.default_rng(0)
    layer = nnlib.Dense(3, 4, rng=1, bias=bias)
    if bias:  # a nonzero bias, so its gradient path is exercised with real values
        layer.params["b"][:] = rng.normal(size=4)
    errors = nnlib.check_layer(layer, rng.normal(size=(6, 3)), rng=2)
    assert set(errors) == {"x", "W", "b"} if bias else {"x", "W"}
    assert_gradients_ok(errors)


@pytest.mark.parametrize("bias", [True, False])
def test_dense_gradients_ensemble(bias):
    rng = np.random.default_rng(0)
    layer = nnlib.Dense(3, 4, rng=[1, 2, 3], bias=bias)
    assert layer.params["W"].shape == (3, 3, 4)
    assert_gradients_ok(nnlib.check_layer(layer, rng.normal(size=(3, 6, 3)), rng=2))


def test_dense_gradients_ensemble_with_shared_input():
    # A shared (n, fan_in) input feeds all K models; its gradient sums theirs.
    rng = np.random.default_rng(0)
    layer = nnlib.Dense(3, 4, rng=[1, 2])
    errors = nnlib.check_layer(layer, rng.normal(size=(6, 3)), rng=2)
    assert_gradients_ok(errors)


def test_dense_ensemble_member_equals_single_layer():
    rng = np.random.default_rng(0)
    ens = nnlib.Dense(3, 4, rng=[5, 6])
    x = rng.normal(size=(2, 7, 3))
    y = ens.forward(x)
    for k, seed in enumerate([5, 6]):
        single = nnlib.Dense(3, 4, rng=seed)
        np.testing.assert_array_equal(single.params["W"], ens.params["W"][k])
        np.testing.assert_allclose(single.forward(x[k]), y[k], rtol=1e-14)


def test_dense_from_arrays_and_grads_match_params():
    W = np.arange(6.0).reshape(2, 3)
    layer = nnlib.Dense.from_arrays(W, np.ones(3))
    np.testing.assert_array_equal(layer.forward(np.array([[1.0, 2.0]])), [[7.0, 10.0, 13.0]])
    layer.backward(np.ones((1, 3)))
    assert layer.grads.keys() == layer.params.keys()
    for key in layer.params:
        assert layer.grads[key].shape == layer.params[key].shape
    np.testing.assert_array_equal(layer.grads["W"], [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]])
    np.testing.assert_array_equal(layer.grads["b"], [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=r"got W \(2, 3\), b \(2,\)"):
        nnlib.Dense.from_arrays(W, np.ones(2))


def test_dense_backward_before_forward_raises():
    with pytest.raises(RuntimeError, match="before forward"):
        nnlib.Dense(2, 2, rng=0).backward(np.ones((1, 2)))


def test_dense_repr_names_the_shape():
    assert repr(nnlib.Dense(2, 18, rng=0)) == "Dense(2 -> 18, init='he')"
    assert repr(nnlib.Dense(2, 3, rng=[0, 1], bias=False)) == "Dense(2 -> 3, init='he', bias=False, n_models=2)"


# -- activations -----------------------------------------------------------------

ACTIVATIONS = [nnlib.ReLU, nnlib.Sigmoid, nnlib.Tanh]


@pytest.mark.parametrize("cls", ACTIVATIONS)
@pytest.mark.parametrize("shape", [(6, 4), (3, 6, 4)], ids=["single", "ensemble"])
def test_activation_gradients(cls, shape):
    rng = np.random.default_rng(3)
    x = away_from_zero(rng, shape)  # needed for ReLU only; harmless for the smooth ones
    errors = nnlib.check_layer(cls(), x, rng=4)
    assert set(errors) == {"x"}
    assert_gradients_ok(errors)


def test_activation_values():
    x = np.array([[-3.0, -0.5, 0.0, 0.5, 3.0]])
    np.testing.assert_array_equal(nnlib.ReLU().forward(x), [[0.0, 0.0, 0.0, 0.5, 3.0]])
    np.testing.assert_allclose(nnlib.Sigmoid().forward(x), 1.0 / (1.0 + np.exp(-x)), rtol=1e-15, atol=1e-16)
    np.testing.assert_array_equal(nnlib.Tanh().forward(x), np.tanh(x))


def test_relu_gradient_is_zero_at_the_kink():
    relu = nnlib.ReLU()
    relu.forward(np.array([[-1.0, 0.0, 1.0]]))
    np.testing.assert_array_equal(relu.backward(np.ones((1, 3))), [[0.0, 0.0, 1.0]])


def test_sigmoid_never_overflows():
    z = np.array([-1e308, -1e4, -800.0, 0.0, 800.0, 1e4, 1e308, -np.inf, np.inf])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = sigmoid(z)
    np.testing.assert_array_equal(s, [0.0, 0.0, 0.0, 0.5, 1.0, 1.0, 1.0, 0.0, 1.0])


# -- BatchNorm -------------------------------------------------------------------


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("n_models", [None, 3])
def test_batchnorm_gradients(training, n_models):
    rng = np.random.default_rng(5)
    bn = nnlib.BatchNorm(4, n_models=n_models)
    shape = bn.params["gamma"].shape
    bn.params["gamma"][:] = rng.uniform(0.5, 2.0, size=shape)
    bn.params["beta"][:] = rng.normal(size=shape)
    bn.running_mean = rng.normal(size=shape)
    bn.running_var = rng.uniform(0.5, 2.0, size=shape)
    x_shape = (8, 4) if n_models is None else (n_models, 8, 4)
    x = rng.normal(2.0, 3.0, size=x_shape)
    before = (bn.running_mean.copy(), bn.running_var.copy())
    assert_gradients_ok(nnlib.check_layer(bn, x, training=training, rng=6))
    # check_layer must leave the running statistics as it found them
    np.testing.assert_array_equal(bn.running_mean, before[0])
    np.testing.assert_array_equal(bn.running_var, before[1])


def test_batchnorm_training_standardizes_and_updates_running_stats():
    rng = np.random.default_rng(0)
    x = rng.normal(5.0, 3.0, size=(50, 2))
    bn = nnlib.BatchNorm(2, momentum=0.9)
    out = bn.forward(x, training=True)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=0), x.var(axis=0) / (x.var(axis=0) + bn.eps), rtol=1e-12)
    np.testing.assert_allclose(bn.running_mean, 0.1 * x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, 0.9 + 0.1 * x.var(axis=0), rtol=1e-12)
    # evaluation mode uses the running statistics and changes nothing
    rm, rv = bn.running_mean.copy(), bn.running_var.copy()
    np.testing.assert_allclose(bn.forward(x[:3], training=False), (x[:3] - rm) / np.sqrt(rv + bn.eps), rtol=1e-12)
    np.testing.assert_array_equal(bn.running_mean, rm)
    np.testing.assert_array_equal(bn.running_var, rv)
