"""Tests for nnlib.model_selection: splits, train-only scaling (the leakage guard), learning-rate windows."""

import numpy as np
import pytest

import nnlib
from nnlib.model_selection import scale_train_test, train_test_split


def test_split_is_a_seeded_partition():
    X = np.arange(40.0).reshape(20, 2)
    y = np.arange(20.0)[:, None]
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, rng=1)
    assert Xtr.shape == (15, 2) and Xte.shape == (5, 2)
    np.testing.assert_array_equal(Xtr[:, 0] / 2, ytr[:, 0])  # rows stay paired
    np.testing.assert_array_equal(np.sort(np.concatenate([ytr, yte])[:, 0]), y[:, 0])
    again = train_test_split(X, y, test_size=0.25, rng=1)
    np.testing.assert_array_equal(again[1], Xte)
    assert not np.array_equal(train_test_split(X, y, test_size=0.25, rng=2)[1], Xte)
    assert train_test_split(X, y, test_size=3, rng=0)[1].shape == (3, 2)


@pytest.mark.parametrize("bad", [0.0, 1.0, 0, 20, True, "0.2"])
def test_split_rejects_bad_test_size(bad):
    X, y = np.zeros((20, 2)), np.zeros((20, 1))
    with pytest.raises((ValueError, TypeError), match="test_size"):
        train_test_split(X, y, test_size=bad)


@pytest.mark.parametrize("kind", ["standard", "minmax"])
def test_scaler_is_fitted_on_training_data_only(kind):
    """The leakage guard: nothing about the test data may change the fitted scaler."""
    X, y = nnlib.make_spiral(rng=0)
    Xtr, Xte, _, _ = train_test_split(X, y, rng=0)
    Ztr, Zte, fitted = scale_train_test(kind, Xtr, Xte)
    reference = {"standard": nnlib.StandardScaler, "minmax": nnlib.MinMaxScaler}[kind]().fit(Xtr)
    np.testing.assert_array_equal(fitted.scale_, reference.scale_)
    np.testing.assert_array_equal(Ztr, reference.transform(Xtr))
    np.testing.assert_array_equal(Zte, reference.transform(Xte))
    # Poison the test set: a scaler that had seen it would move.
    Ztr2, Zte2, fitted2 = scale_train_test(kind, Xtr, Xte * 1000 + 5)
    np.testing.assert_array_equal(fitted2.scale_, fitted.scale_)
    np.testing.assert_array_equal(Ztr2, Ztr)
    np.testing.assert_allclose(fitted.inverse_transform(Zte), Xte, rtol=1e-12, atol=1e-12)


def test_scale_train_test_copies_a_scaler_object():
    mine = nnlib.StandardScaler()
    _, _, fitted = scale_train_test(mine, np.ones((4, 1)) * [[1], [2], [3], [4]], np.zeros((2, 1)))
    assert fitted is not mine and not hasattr(mine, "scale_")
    with pytest.raises(ValueError, match="unknown scaler 'robust'"):
        scale_train_test("robust", np.ones((3, 1)), np.ones((3, 1)))
    with pytest.raises(TypeError, match="scaler must be"):
        scale_train_test(42, np.ones((3, 1)), np.ones((3, 1)))
