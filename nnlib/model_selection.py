"""Honest evaluation: train/test splits, and scalers fitted on the training data only."""

from __future__ import annotations

import copy

import numpy as np

from ._validation import as_generator, check_array, check_same_rows
from .preprocessing import MinMaxScaler, StandardScaler

SCALERS = {"standard": StandardScaler, "minmax": MinMaxScaler}


def train_test_split(X, y, test_size=0.25, rng=None):
    """Shuffle the samples and split them into a training and a test part.

    Parameters
    ----------
    X : array_like of shape (n, d)
    y : array_like of shape (n, k)
    test_size : float in (0, 1) or int, default 0.25
        The fraction of samples (rounded up), or the number of samples, held out.
    rng : None, int or numpy.random.Generator
        Source of the shuffle.

    Returns
    -------
    X_train : ndarray of shape (n - n_test, d)
    X_test : ndarray of shape (n_test, d)
    y_train : ndarray of shape (n - n_test, k)
    y_test : ndarray of shape (n_test, k)
    """
    X = check_array(X, "X", ndim=2)
    y = check_array(y, "y", ndim=2)
    check_same_rows(X, y)
    n = X.shape[0]
    n_test = _n_test(test_size, n)
    order = as_generator(rng).permutation(n)
    test, train = order[:n_test], order[n_test:]
    return X[train], X[test], y[train], y[test]


def _n_test(test_size, n):
    if isinstance(test_size, (bool, str, bytes)) or not np.isscalar(test_size):
        raise TypeError(f"test_size must be a fraction in (0, 1) or a number of samples, got {test_size!r}")
    if isinstance(test_size, (int, np.integer)):
        n_test = int(test_size)
    else:
        frac = float(test_size)
        if not 0.0 < frac < 1.0:
            raise ValueError(f"test_size must be a fraction in (0, 1) or a number of samples, got {test_size!r}")
        n_test = int(np.ceil(frac * n))
    if not 1 <= n_test <= n - 1:
        raise ValueError(f"test_size={test_size!r} leaves {n_test} of {n} samples for testing; both parts need at least one sample")
    return n_test


def scale_train_test(scaler, X_train, X_test):
    """Fit a scaler on the training data only, then transform both parts with it.

    The test data never reaches ``fit``: its statistics (mean, spread, min, max)
    cannot leak into the preprocessing, so a score measured on it is the score
    of a model that has never seen it.

    Parameters
    ----------
    scaler : {"standard", "minmax"} or an unfitted scaler object
        A scaler object is copied first, so the caller's object stays unfitted.
    X_train : array_like of shape (n_train, d)
    X_test : array_like of shape (n_test, d)

    Returns
    -------
    Z_train : ndarray of shape (n_train, d)
    Z_test : ndarray of shape (n_test, d)
    fitted : scaler
        The scaler fitted on ``X_train``; ``fitted.inverse_transform`` maps back.
    """
    if isinstance(scaler, str):
        if scaler not in SCALERS:
            raise ValueError(f"unknown scaler {scaler!r}; expected one of {', '.join(map(repr, SCALERS))} or a scaler object")
        fitted = SCALERS[scaler]()
    elif hasattr(scaler, "fit") and hasattr(scaler, "transform"):
        fitted = copy.deepcopy(scaler)
    else:
        raise TypeError(f"scaler must be 'standard', 'minmax' or an object with fit and transform, got {scaler!r}")
    X_test = check_array(X_test, "X_test", ndim=2)
    fitted.fit(X_train)
    return fitted.transform(X_train), fitted.transform(X_test), fitted
