"""Tests for nnlib.curvature: the Hessian of a linear least-squares model and its learning-rate limit."""

import numpy as np
import pytest

import nnlib
from nnlib import curvature


def _data(rng=0, n=50, scales=(3.0, 0.5)):
    gen = np.random.default_rng(rng)
    X = gen.normal(size=(n, len(scales))) * np.asarray(scales) + 1.0
    y = X @ np.array([0.7, -1.3]) + 0.4 + gen.normal(scale=0.1, size=n)
    return X, y[:, None]


def test_hessian_matches_finite_differences_of_the_mse():
    X, y = _data()
    w0 = np.array([0.2, -0.1, 0.3])
    H = curvature.mse_hessian(X)
    eps = 1e-4
    num = np.empty((3, 3))
    for i in range(3):
        for j in range(3):
            e_i, e_j = np.eye(3)[i] * eps, np.eye(3)[j] * eps
            f = lambda w: curvature.linear_mse(X, y, w)  # noqa: E731
            num[i, j] = (f(w0 + e_i + e_j) - f(w0 + e_i - e_j) - f(w0 - e_i + e_j) + f(w0 - e_i - e_j)) / (4 * eps**2)
    np.testing.assert_allclose(H, num, rtol=1e-5, atol=1e-6)


def test_hessian_has_the_factor_two_and_the_bias_column():
    X, _ = _data()
    A = np.column_stack([X, np.ones(len(X))])
    np.testing.assert_allclose(curvature.mse_hessian(X), 2 * A.T @ A / len(X))
    np.testing.assert_allclose(curvature.mse_hessian(X, fit_intercept=False), 2 * X.T @ X / len(X))


def test_linear_mse_agrees_with_nnlib_mse_and_a_dense_layer():
    X, y = _data()
    model = nnlib.MLP([2, 1], output=None, rng=3)
    dense = model.dense_layers[0]
    w = np.concatenate([dense.params["W"][:, 0], dense.params["b"]])
    expected = nnlib.MSE()(model.forward(X), y)
    assert curvature.linear_mse(X, y, w) == pytest.approx(expected, rel=1e-12)


def test_measured_learning_rate_limit_matches_two_over_lambda_max():
    X, y = _data()
    limit = curvature.max_stable_lr(X)
    factors = np.array([0.97, 0.99, 1.01, 1.03])
    model = nnlib.MLP([2, 1], output=None, rng=[0] * len(factors))
    hist = nnlib.train(model, X, y, loss="mse", lr=limit * factors, epochs=1500)
    grew = hist.diverged | (hist.final_loss > hist.loss[0])
    np.testing.assert_array_equal(grew, factors > 1)


def test_gradient_descent_path_matches_nnlib_training():
    X, y = _data()
    model = nnlib.MLP([2, 1], output=None, rng=5)
    dense = model.dense_layers[0]
    w_init = np.concatenate([dense.params["W"][:, 0], dense.params["b"]])
    hist = nnlib.train(model, X, y, loss="mse", lr=0.01, epochs=30)
    path, losses = curvature.gradient_descent_path(X, y, lr=0.01, epochs=30, w_init=w_init)
    np.testing.assert_allclose(losses[:30], hist.loss, rtol=1e-10)
    np.testing.assert_allclose(path[-1], np.concatenate([dense.params["W"][:, 0], dense.params["b"]]), rtol=1e-10)


def test_gradient_descent_converges_to_least_squares_below_the_limit():
    X, y = _data()
    w_star, best = curvature.least_squares(X, y)
    path, losses = curvature.gradient_descent_path(X, y, lr=0.9 / curvature.lambda_max(X), epochs=5000)
    np.testing.assert_allclose(path[-1], w_star, rtol=1e-6)
    assert losses[-1] == pytest.approx(best, rel=1e-9)


def test_standardizing_makes_the_hessian_round():
    X, _ = _data(scales=(30.0, 0.1))
    Z = nnlib.StandardScaler().fit_transform(X)
    assert curvature.condition_number(X) > 1e4
    # standardized inputs and a bias: H is 2 * the correlation matrix, bordered by the bias's 2
    rho = abs(np.corrcoef(Z.T)[0, 1])
    assert curvature.lambda_max(Z) == pytest.approx(2 * (1 + rho), rel=1e-10)
    assert curvature.condition_number(Z) == pytest.approx((1 + rho) / (1 - rho), rel=1e-10)


def test_loss_surface_layout_and_minimum():
    X, y = _data()
    x = X[:, :1]
    w_star, best = curvature.least_squares(x, y)
    g0 = np.linspace(w_star[0] - 1, w_star[0] + 1, 41)
    g1 = np.linspace(w_star[1] - 2, w_star[1] + 2, 31)
    L = curvature.loss_surface(x, y, g0, g1)
    assert L.shape == (31, 41)
    assert L[15, 20] == pytest.approx(best, rel=1e-9)
    assert L[3, 7] == pytest.approx(curvature.linear_mse(x, y, [g0[7], g1[3]]))
    with pytest.raises(ValueError, match="exactly two weights"):
        curvature.loss_surface(X, y, g0, g1)


def test_stability_bracket():
    lrs = np.array([0.1, 0.2, 0.4, 0.8])
    assert curvature.stability_bracket(lrs, np.array([True, True, False, False])) == (0.2, 0.4)
    assert curvature.stability_bracket(lrs, np.ones(4, bool)) == (0.8, np.inf)
    with pytest.raises(ValueError, match="already unstable"):
        curvature.stability_bracket(lrs, np.zeros(4, bool))
    with pytest.raises(ValueError, match="bool array"):
        curvature.stability_bracket(lrs, [1, 0, 0, 0])


def test_bad_inputs_are_named():
    X, y = _data()
    with pytest.raises(ValueError, match="lr must be a positive"):
        curvature.gradient_descent_path(X, y, lr=-1.0, epochs=3)
    with pytest.raises(ValueError, match="w_init must have shape"):
        curvature.gradient_descent_path(X, y, lr=0.1, epochs=3, w_init=[0.0, 1.0])
    with pytest.raises(TypeError, match="fit_intercept"):
        curvature.mse_hessian(X, fit_intercept="yes")
    with pytest.raises(ValueError, match="different numbers of samples"):
        curvature.least_squares(X, y[:-1])


def test_all_zero_inputs_without_intercept_have_no_learning_rate_limit():
    X = np.zeros((6, 2))
    assert curvature.lambda_max(X, fit_intercept=False) == 0.0
    assert curvature.max_stable_lr(X, fit_intercept=False) == float("inf")
    # with an intercept the bias column still has curvature 2: limit 2 / 2
    assert curvature.max_stable_lr(X) == pytest.approx(1.0)
