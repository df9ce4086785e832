import numpy as np
import pytest

import nnlib
from nnlib.problems import PROBLEMS, get_problem


def test_problem_data_are_the_design_defaults():
    X, y = get_problem("spiral").make_data()
    Xd, yd = nnlib.make_spiral(n_per_class=250, noise=0.2, rng=0)
    np.testing.assert_array_equal(X, Xd)
    np.testing.assert_array_equal(y, yd)
    Xp, yp = get_problem("polynomial").make_data()
    Xpd, ypd = nnlib.make_polynomial(degree=5, n_points=40, noise=200.0, scale=0.1, rng=41)
    np.testing.assert_array_equal(Xp, Xpd)
    np.testing.assert_array_equal(yp, ypd)


def test_problem_networks_match_their_data():
    for name, spec in PROBLEMS.items():
        X, y = spec.make_data(rng=3)
        model = nnlib.MLP(list(spec.sizes), output=spec.output, rng=0)
        assert model.forward(X).shape == y.shape, name
    assert get_problem("spiral").is_classification and not get_problem("polynomial").is_classification


def test_unknown_problem_is_named_in_the_error():
    with pytest.raises(ValueError, match="'circles'.*'spiral', 'polynomial'"):
        get_problem("circles")
