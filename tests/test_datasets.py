"""The two running problems: shapes, dtypes and value ranges as DESIGN.md states them."""

import numpy as np

import nnlib


def test_spiral_shapes_dtypes_and_labels():
    X, y = nnlib.make_spiral(n_per_class=250, noise=0.2, rng=0)
    assert X.shape == (500, 2) and y.shape == (500, 1)
    assert X.dtype == np.float64 and y.dtype == np.float64
    np.testing.assert_array_equal(y[:250], 0.0)
    np.testing.assert_array_equal(y[250:], 1.0)


def test_spiral_spans_about_plus_minus_four_pi():
    X, _ = nnlib.make_spiral(rng=0)
    four_pi = 4 * np.pi  # 12.566
    assert -four_pi - 1.0 < X.min() < -four_pi + 0.5
    assert four_pi - 0.5 < X.max() < four_pi + 1.0
    clean, _ = nnlib.make_spiral(noise=0.0, rng=0)
    radius = np.linalg.norm(clean, axis=1)
    assert radius.max() == np.float64(four_pi)  # r = theta, theta up to 4 pi
    assert radius.min() == 0.0


def test_second_spiral_is_the_first_turned_by_pi_up_to_noise():
    clean, _ = nnlib.make_spiral(noise=0.0, rng=0)
    np.testing.assert_array_equal(clean[250:], -clean[:250])  # rotation by pi is x -> -x
    X, _ = nnlib.make_spiral(noise=0.2, rng=0)
    # X[250:] + X[:250] is the difference of two noises: std 0.2 * sqrt(2) = 0.28
    assert 0.25 < (X[250:] + X[:250]).std() < 0.32


def test_spiral_noise_has_the_requested_scale():
    clean, _ = nnlib.make_spiral(noise=0.0, rng=3)
    noisy, _ = nnlib.make_spiral(noise=0.2, rng=3)
    noise = noisy - clean  # same rng draws, scaled
    assert abs(noise.mean()) < 0.03
    assert 0.18 < noise.std() < 0.22


def test_polynomial_shapes_and_inputs():
    X, y = nnlib.make_polynomial(rng=41)
    assert X.shape == (40, 1) and y.shape == (40, 1)
    assert X.dtype == np.float64 and y.dtype == np.float64
    np.testing.assert_array_equal(X[:, 0], np.linspace(-10, 10, 40))


def test_polynomial_targets_reach_thousands():
    _, y = nnlib.make_polynomial(rng=41)
    assert 1e3 < np.abs(y).max() < 1e5
    assert y.std() > 1e3


def test_polynomial_coefficients_and_noise():
    X, y, coef = nnlib.make_polynomial(degree=5, noise=200.0, scale=0.1, rng=41, return_coef=True)
    assert coef.shape == (6,)
    assert (np.abs(coef) <= 0.1).all()
    residual = y[:, 0] - np.polyval(coef, X[:, 0])
    assert 120 < residual.std() < 300  # 40 draws of N(0, 200)
    X0, y0 = nnlib.make_polynomial(noise=0.0, rng=41)
    np.testing.assert_allclose(y0[:, 0], np.polyval(coef, X0[:, 0]), rtol=1e-13)


def test_polynomial_options():
    X, y = nnlib.make_polynomial(degree=2, n_points=7, x_range=(0.0, 3.0), rng=1)
    assert X.shape == y.shape == (7, 1)
    assert X[0, 0] == 0.0 and X[-1, 0] == 3.0
