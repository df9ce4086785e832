"""The gradient checker itself: it measures what it claims and catches wrong gradients."""

import numpy as np
import pytest

import nnlib


def test_numerical_gradient_of_a_known_function():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4))
    original = x.copy()
    grad = nnlib.numerical_gradient(lambda: float(np.sum(x**3)), x)
    assert nnlib.relative_error(grad, 3 * original**2) < 1e-9
    np.testing.assert_array_equal(x, original)  # perturbed in place, then restored exactly


def test_numerical_gradient_needs_float64():
    with pytest.raises(TypeError, match="float64 array, got float32"):
        nnlib.numerical_gradient(lambda: 0.0, np.zeros(3, dtype=np.float32))


def test_relative_error_properties():
    a = np.array([1.0, 2.0, 3.0])
    assert nnlib.relative_error(a, a) == 0.0
    assert nnlib.relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert nnlib.relative_error(a, np.zeros(3)) == 1.0
    assert nnlib.relative_error(a, -a) == 1.0
    assert nnlib.relative_error(a, a * (1 + 1e-6)) == pytest.approx(0.5e-6, rel=1e-6)
    assert nnlib.relative_error(a, 2 * a) == nnlib.relative_error(2 * a, a)
    with pytest.raises(ValueError, match=r"one shape, got \(3,\) and \(2,\)"):
        nnlib.relative_error(a, a[:2])


class DenseWrongWeightGradient(nnlib.Dense):
    """W's gradient off by 1% : the kind of slip a check must flag."""

    def backward(self, dy):
        dx = super().backward(dy)
        self.grads["W"] *= 1.01
        return dx


class DenseTransposedInputGradient(nnlib.Dense):
    """Forgets a sign in the input gradient."""

    def backward(self, dy):
        return -super().backward(dy)


class SigmoidWrongDerivative(nnlib.Sigmoid):
    """Uses s * (1 + s) instead of s * (1 - s)."""

    def backward(self, dy):
        return dy * self._y * (1.0 + self._y)


def test_check_layer_flags_a_wrong_weight_gradient():
    rng = np.random.default_rng(0)
    layer = DenseWrongWeightGradient(3, 4, rng=1)
    errors = nnlib.check_layer(layer, rng.normal(size=(5, 3)), rng=2)
    assert errors["W"] > 1e-3  # 1% off gives about 5e-3
    assert errors["x"] < 1e-7 and errors["b"] < 1e-7  # and only W is blamed


def test_check_layer_flags_a_wrong_input_gradient():
    rng = np.random.default_rng(0)
    errors = nnlib.check_layer(DenseTransposedInputGradient(3, 4, rng=1), rng.normal(size=(5, 3)), rng=2)
    assert errors["x"] == pytest.approx(1.0)


def test_check_layer_flags_a_wrong_activation_derivative():
    rng = np.random.default_rng(0)
    errors = nnlib.check_layer(SigmoidWrongDerivative(), rng.normal(size=(5, 3)), rng=2)
    assert errors["x"] > 0.1


def test_check_model_flags_a_wrong_layer_inside_a_network():
    rng = np.random.default_rng(0)
    model = nnlib.MLP([3, 5, 1], hidden="tanh", rng=0)
    X = rng.normal(size=(6, 3))
    y = rng.integers(0, 2, size=(6, 1)).astype(float)
    good = nnlib.check_model(model, X, y)
    assert max(good.values()) < 1e-7
    first = model.layers[0]
    model.layers[0] = DenseWrongWeightGradient.from_arrays(first.params["W"], first.params["b"])
    bad = nnlib.check_model(model, X, y)
    assert bad["0.W"] > 1e-3
    assert bad["2.W"] < 1e-7  # layers after the broken one are unaffected


def test_check_model_reports_every_parameter():
    model = nnlib.MLP([2, 3, 1], rng=0)
    errors = nnlib.check_model(model, np.ones((2, 2)), np.ones((2, 1)))
    assert set(errors) == {"x", "0.W", "0.b", "2.W", "2.b"}


def test_check_model_leaves_batchnorm_running_statistics_alone():
    rng = np.random.default_rng(0)
    model = nnlib.MLP([2, 4, 1], batchnorm=True, rng=0)
    bn = model.layers[1]
    before = bn.running_mean.copy(), bn.running_var.copy()
    errors = nnlib.check_model(model, rng.normal(size=(8, 2)), rng.integers(0, 2, size=(8, 1)).astype(float))
    assert max(errors.values()) < 1e-7
    np.testing.assert_array_equal(bn.running_mean, before[0])
    np.testing.assert_array_equal(bn.running_var, before[1])
