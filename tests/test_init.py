"""Weight initializers: shapes, bounds and variances."""

import numpy as np
import pytest

import nnlib
from nnlib.init import get_initializer


@pytest.mark.parametrize("init", [nnlib.small_uniform, nnlib.xavier, nnlib.he])
def test_shape_and_dtype(init):
    W = init(3, 5, rng=0)
    assert W.shape == (3, 5) and W.dtype == np.float64


def test_small_uniform_bounds():
    W = nnlib.small_uniform(200, 100, rng=0)
    assert np.abs(W).max() <= 0.01
    assert np.abs(W).max() > 0.0099  # fills the interval, not a narrower one
    assert np.abs(nnlib.small_uniform(10, 10, rng=0, limit=0.5)).max() > 0.4


def test_xavier_bounds_and_variance():
    fan_in, fan_out = 300, 200
    W = nnlib.xavier(fan_in, fan_out, rng=0)
    a = np.sqrt(6.0 / (fan_in + fan_out))
    assert np.abs(W).max() <= a and np.abs(W).max() > 0.99 * a
    assert W.var() == pytest.approx(2.0 / (fan_in + fan_out), rel=0.02)  # U(-a, a) has variance a^2 / 3


def test_he_variance():
    W = nnlib.he(300, 200, rng=0)
    assert W.mean() == pytest.approx(0.0, abs=3e-3)
    assert W.std() == pytest.approx(np.sqrt(2.0 / 300), rel=0.02)


def test_get_initializer_by_name():
    assert get_initializer("he") is nnlib.he
    assert get_initializer("xavier") is nnlib.xavier
    assert get_initializer("small_uniform") is nnlib.small_uniform
    with pytest.raises(ValueError, match="unknown init 'glorot'; expected one of 'small_uniform', 'xavier', 'he'"):
        get_initializer("glorot")


@pytest.mark.parametrize("name", ["small_uniform", "xavier", "he"])
def test_initializers_reject_empty_layers(name):
    with pytest.raises(ValueError, match="fan_in must be at least 1, got 0"):
        getattr(nnlib, name)(0, 3, rng=0)
