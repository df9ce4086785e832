"""Small fixtures shared by the nnlib unit tests."""

import numpy as np
import pytest

import nnlib


def _param_snapshot(model):
    """Copies of every parameter array of ``model``, in layer order."""
    return [p.copy() for layer in model.layers for p in layer.params.values()]


@pytest.fixture
def param_snapshot():
    """``param_snapshot(model)``: copies of every parameter array, to check a call left them alone."""
    return _param_snapshot


@pytest.fixture
def assert_same_params():
    """``assert_same_params(before, model)``: every parameter equals its snapshot, bit for bit."""

    def check(before, model):
        after = _param_snapshot(model)
        assert len(before) == len(after)
        for a, b in zip(before, after, strict=True):
            np.testing.assert_array_equal(a, b)

    return check


@pytest.fixture
def small_spiral():
    """A 40-point spiral: (40, 2) inputs, (40, 1) labels."""
    return nnlib.make_spiral(n_per_class=20, rng=0)


@pytest.fixture
def raw_polynomial():
    """The tutorial's raw regression problem: (40, 1) inputs, (40, 1) targets in the thousands."""
    return nnlib.make_polynomial(rng=41)
