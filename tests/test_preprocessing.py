"""Scalers, side by side with scikit-learn, plus property tests."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn import preprocessing as skp

import nnlib


@pytest.fixture
def data():
    """Random columns of very different scales, and one constant column (index 2)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4)) * [1.0, 1e3, 1.0, 1e-2] + [0.0, -5e3, 0.0, 7.0]
    X[:, 2] = 3.5
    return X


def test_standard_scaler_matches_scikit_learn(data):
    ours = nnlib.StandardScaler().fit(data)
    theirs = skp.StandardScaler().fit(data)
    for attr in ("mean_", "var_", "scale_"):
        np.testing.assert_allclose(getattr(ours, attr), getattr(theirs, attr), rtol=1e-12, err_msg=attr)
    assert ours.scale_[2] == 1.0 and ours.var_[2] == 0.0  # constant column: scale 1, not 0
    assert ours.n_features_in_ == theirs.n_features_in_ == 4
    assert ours.n_samples_seen_ == theirs.n_samples_seen_ == 30
    Z = ours.transform(data)
    np.testing.assert_allclose(Z, theirs.transform(data), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(Z[:, 2], 0.0)
    np.testing.assert_allclose(ours.inverse_transform(Z), theirs.inverse_transform(Z), rtol=1e-12)
    np.testing.assert_allclose(ours.fit_transform(data), Z, rtol=0, atol=0)


@pytest.mark.parametrize("feature_range", [(0, 1), (-1, 1), (-3.5, 12.0)])
def test_minmax_scaler_matches_scikit_learn(data, feature_range):
    ours = nnlib.MinMaxScaler(feature_range=feature_range).fit(data)
    theirs = skp.MinMaxScaler(feature_range=feature_range).fit(data)
    for attr in ("data_min_", "data_max_", "data_range_", "scale_", "min_"):
        np.testing.assert_allclose(getattr(ours, attr), getattr(theirs, attr), rtol=1e-12, err_msg=attr)
    Z = ours.transform(data)
    np.testing.assert_allclose(Z, theirs.transform(data), rtol=1e-12, atol=1e-12)
    lo, hi = feature_range
    np.testing.assert_allclose(Z[:, [0, 1, 3]].min(axis=0), lo, atol=1e-12)
    np.testing.assert_allclose(Z[:, [0, 1, 3]].max(axis=0), hi, atol=1e-12)
    np.testing.assert_array_equal(Z[:, 2], lo)  # constant column maps to the low end, as in scikit-learn
    np.testing.assert_allclose(ours.inverse_transform(Z), theirs.inverse_transform(Z), rtol=1e-12)


def test_transform_of_new_data_uses_the_fitted_statistics(data):
    ours = nnlib.StandardScaler().fit(data[:20])
    theirs = skp.StandardScaler().fit(data[:20])
    np.testing.assert_allclose(ours.transform(data[20:]), theirs.transform(data[20:]), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cls", [nnlib.StandardScaler, nnlib.MinMaxScaler])
def test_one_dimensional_input_is_rejected_like_scikit_learn(cls):
    with pytest.raises(ValueError, match=r"1-D array of shape \(5,\).*reshape\(-1, 1\) if it has a single feature"):
        cls().fit(np.arange(5.0))
    with pytest.raises(ValueError, match=r"reshape\(1, -1\) if it is a single sample"):
        cls().fit(np.ones((3, 2))).transform(np.ones(2))


def test_fit_returns_self_and_init_stores_only_settings():
    scaler = nnlib.StandardScaler()
    assert vars(scaler) == {"with_mean": True, "with_std": True}
    assert scaler.fit(np.ones((2, 1))) is scaler
    assert repr(nnlib.MinMaxScaler(feature_range=(-1, 1))) == "MinMaxScaler(feature_range=(-1, 1))"


# -- properties ------------------------------------------------------------------

# Finite floats of bounded magnitude: beyond ~1e6 the squares in the variance
# lose the digits these round-trip tolerances assume. Columns of a few rows.
values = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
matrices = st.tuples(st.integers(2, 12), st.integers(1, 4)).flatmap(lambda shape: arrays(np.float64, shape, elements=values))


@settings(max_examples=40, deadline=None)
@given(matrices)
def test_standard_scaler_round_trip(X):
    scaler = nnlib.StandardScaler().fit(X)
    back = scaler.inverse_transform(scaler.transform(X))
    np.testing.assert_allclose(back, X, rtol=1e-9, atol=1e-9 * (1.0 + np.abs(X).max()))


@settings(max_examples=40, deadline=None)
@given(matrices, st.sampled_from([(0.0, 1.0), (-1.0, 1.0), (2.0, 50.0)]))
def test_minmax_scaler_round_trip_and_range(X, feature_range):
    scaler = nnlib.MinMaxScaler(feature_range=feature_range).fit(X)
    Z = scaler.transform(X)
    lo, hi = feature_range
    assert (Z >= lo - 1e-9).all() and (Z <= hi + 1e-9).all()
    np.testing.assert_allclose(scaler.inverse_transform(Z), X, rtol=1e-9, atol=1e-9 * (1.0 + np.abs(X).max()))


@settings(max_examples=40, deadline=None)
@given(matrices)
def test_standardized_columns_have_mean_zero_and_std_one(X):
    Z = nnlib.StandardScaler().fit_transform(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-9)
    # Columns whose spread is not lost to rounding come out with unit std.
    spread = X.std(axis=0)
    varying = spread > 1e-6 * (1.0 + np.abs(X).max(axis=0))
    np.testing.assert_allclose(Z.std(axis=0)[varying], 1.0, rtol=1e-7)
    # A constant column gets scale 1, so it maps to x - mean: 0 up to the
    # rounding of the mean (scikit-learn does the same), never x / 0.
    constant = (X == X[0]).all(axis=0)
    assert (np.abs(Z[:, constant]) <= 1e-15 * (1.0 + np.abs(X[:, constant]))).all()


@pytest.mark.parametrize("cls", [nnlib.StandardScaler, nnlib.MinMaxScaler])
def test_values_whose_statistics_overflow_are_rejected_without_a_warning(cls):
    import warnings

    X = np.array([[1e308], [-1e308], [1e200]])
    scaler = cls()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="too large to scale"):
            scaler.fit(X)
    assert not hasattr(scaler, "scale_")


def test_an_unfitted_scaler_says_so_before_looking_at_the_input():
    with pytest.raises(nnlib.NotFittedError):
        nnlib.StandardScaler().transform(np.zeros(3))  # 1-D: would be a shape error after fitting


def test_repr_of_a_misconfigured_scaler_does_not_raise():
    assert repr(nnlib.MinMaxScaler(feature_range=5)) == "MinMaxScaler(feature_range=5)"
    assert repr(nnlib.MinMaxScaler()) == "MinMaxScaler()"


def test_a_constant_column_with_a_rounded_mean_maps_to_zero_not_to_minus_one():
    X, _ = nnlib.make_spiral(rng=0)
    X = np.column_stack([X, np.full(len(X), 3.7)])
    scaler = nnlib.StandardScaler().fit(X)
    assert scaler.scale_[2] == 1.0
    # 0 up to the rounding of the mean (about 3e-14 here), as in scikit-learn
    np.testing.assert_allclose(scaler.transform(X)[:, 2], 0.0, atol=1e-12)


@pytest.mark.parametrize("n", [10, 50, 500, 5000])
def test_random_constant_columns_are_detected_like_scikit_learn(n):
    rng = np.random.default_rng(n)
    varying = rng.normal(size=(n, 1))
    for c in rng.uniform(-1e3, 1e3, size=60):
        X = np.column_stack([varying, np.full(n, c)])
        ours = nnlib.StandardScaler().fit(X)
        theirs = skp.StandardScaler().fit(X)
        assert ours.scale_[1] == theirs.scale_[1] == 1.0, (n, c)
        Z = ours.transform(X)
        np.testing.assert_allclose(Z, theirs.transform(X), rtol=1e-12, atol=1e-12)
        assert np.abs(Z[:, 1]).max() <= 1e-12 * abs(c)


def test_a_column_with_real_spread_around_a_large_mean_is_still_scaled():
    # 1e6 + small noise: its variance is far above the rounding bound.
    X = 1e6 + np.random.default_rng(1).normal(scale=1e-3, size=(5000, 1))
    ours = nnlib.StandardScaler().fit(X)
    theirs = skp.StandardScaler().fit(X)
    np.testing.assert_allclose(ours.scale_, theirs.scale_, rtol=1e-9)
    assert ours.scale_[0] != 1.0


@pytest.mark.parametrize("setting", ["with_mean", "with_std"])
@pytest.mark.parametrize("value", ["no", 0, None])
def test_scaler_flags_must_be_bools(setting, value):
    scaler = nnlib.StandardScaler(**{setting: value})
    assert getattr(scaler, setting) is value  # __init__ stores settings only, as scikit-learn
    with pytest.raises(TypeError, match=f"{setting} must be True or False.*{value!r}"):
        scaler.fit(np.ones((3, 2)))
    assert not hasattr(scaler, "scale_")
