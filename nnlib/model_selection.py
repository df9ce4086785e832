"""Honest evaluation: train/test splits, scalers fitted on training data only, learning-rate windows."""

from __future__ import annotations

import copy
from typing import NamedTuple

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


class LRWindow(NamedTuple):
    """The usable learning rates of a sweep (see :func:`usable_lr_window`)."""

    low: float
    """Smallest usable learning rate (NaN if none is usable)."""
    high: float
    """Largest usable learning rate (NaN if none is usable)."""
    usable: np.ndarray
    """Bool array of shape (m,): which learning rates of the sweep are usable."""

    @property
    def decades(self):
        """Width of the window in powers of ten, ``log10(high / low)``; NaN if empty."""
        return float(np.log10(self.high / self.low)) if self.usable.any() else float("nan")


def usable_lr_window(lrs, final_loss, tolerance=2.0):
    """The learning rates at which training works, on a common definition.

    A run is *usable* when its final loss is finite (it did not diverge) and at
    most ``tolerance`` times the best final loss of the whole sweep. Runs that
    blow up, stall (dead units, a loss stuck near its start) or crawl (too
    small a step to get anywhere in the epochs given) all fail the second test.
    Being relative to the best run, the definition does not depend on the units
    of the loss. With several seeds, a learning rate is usable only if every
    seed's run is.

    Parameters
    ----------
    lrs : array_like of shape (m,)
        The learning rates of the sweep, strictly increasing.
    final_loss : array_like of shape (m,) or (m, s)
        Final training loss of each run (NaN or inf for a diverged one), with
        one column per seed.
    tolerance : float, default 2.0
        How many times the best loss a run may end at and still count (> 1).

    Returns
    -------
    LRWindow
        ``low`` and ``high`` are the smallest and largest usable learning rates;
        ``usable`` marks each learning rate. Usable rates need not be contiguous.
    """
    lrs = check_array(lrs, "lrs", ndim=1)
    if np.any(np.diff(lrs) <= 0):
        raise ValueError("lrs must be strictly increasing")
    final = check_array(final_loss, "final_loss", ndim=(1, 2), allow_nonfinite=True)
    if final.shape[0] != lrs.shape[0]:
        raise ValueError(f"final_loss has {final.shape[0]} rows, but there are {lrs.shape[0]} learning rates")
    if isinstance(tolerance, bool) or not np.isscalar(tolerance) or not float(tolerance) > 1.0:
        raise ValueError(f"tolerance must be a number greater than 1, got {tolerance!r}")
    final = final.reshape(lrs.shape[0], -1)
    finite = np.isfinite(final)
    if not finite.any():
        return LRWindow(float("nan"), float("nan"), np.zeros(lrs.shape[0], dtype=bool))
    best = final[finite].min()
    with np.errstate(invalid="ignore"):
        ok = finite & (final <= float(tolerance) * best)
    usable = ok.all(axis=1)
    if not usable.any():
        return LRWindow(float("nan"), float("nan"), usable)
    return LRWindow(float(lrs[usable].min()), float(lrs[usable].max()), usable)
