"""Checkers for notebook 02's exercises (standardizing the inputs).

- :func:`check_largest_stable_lr`: the largest stable learning rate of the
  linear model (mean squared error) for given inputs, computed by hand as
  2 / lambda_max of its Hessian; checked on min-max [0, 1] scaled spiral inputs.
- :func:`check_standardizer`: a function that standardizes a train/test split
  with statistics of the training part only (no leakage).

Each returns a :class:`~nnlib.exercises.Verdict` and never raises on a wrong answer.
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import curvature
from ..datasets import make_spiral
from ..model_selection import train_test_split
from ..preprocessing import MinMaxScaler, StandardScaler
from . import Verdict, not_a_function

#: The notebook's split: a quarter of ``make_spiral(rng=0)`` held out, ``rng=0``.
SPLIT_SEED = 0
#: Relative error accepted on a learning-rate limit.
LIMIT_TOLERANCE = 0.01


def minmax_training_inputs():
    """The notebook's training inputs scaled to [0, 1] by a scaler fitted on them.

    Returns
    -------
    ndarray of shape (375, 2)
    """
    X, y = make_spiral(rng=0)
    X_train, _, _, _ = train_test_split(X, y, test_size=0.25, rng=SPLIT_SEED)
    return MinMaxScaler().fit_transform(X_train)


def _as_number(answer):
    """``answer`` as a float, or a Verdict saying why it is not one."""
    if answer is None:
        return Verdict(False, "got None: return the learning rate")
    value = np.asarray(answer, dtype=object)
    if value.size != 1:
        return Verdict(False, f"expected one number (a learning rate), got an array of shape {value.shape}")
    value = value.reshape(()).item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return Verdict(False, f"expected a number, got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        return Verdict(False, f"expected a positive, finite learning rate, got {value!r}")
    return value


def check_largest_stable_lr(largest_stable_lr):
    """Check a function that returns 2 / lambda_max of the linear model's Hessian for given inputs.

    Parameters
    ----------
    largest_stable_lr : callable
        ``largest_stable_lr(Z) -> float`` for inputs ``Z`` of shape (n, d): the
        largest stable learning rate of gradient descent on the mean squared
        error of ``y_hat = A w``, ``A`` = ``Z`` with a column of ones appended
        (no 1/2 in front of the loss). It is called on the notebook's min-max
        [0, 1] scaled training inputs (:func:`minmax_training_inputs`), then on
        the raw training inputs.

    Returns
    -------
    Verdict
        Correct when both answers are within :data:`LIMIT_TOLERANCE`
        (relative) of :func:`nnlib.curvature.max_stable_lr`.
    """
    if (verdict := not_a_function(largest_stable_lr, "largest_stable_lr(Z)")) is not None:
        return verdict
    Z = minmax_training_inputs()
    value = _as_number(largest_stable_lr(Z.copy()))
    if isinstance(value, Verdict):
        return value
    limit = curvature.max_stable_lr(Z)
    if abs(value / limit - 1) > LIMIT_TOLERANCE:
        hints = [
            (2 * limit, "twice too large: the Hessian of the mean of squares is 2 A^T A / n, not A^T A / n"),
            (limit / 2, "twice too small: the limit is 2 / lambda_max, not 1 / lambda_max"),
            (curvature.max_stable_lr(Z, fit_intercept=False), "the bias is missing: append a column of ones to Z"),
            (2 * curvature.max_stable_lr(Z, fit_intercept=False),
             "the bias is missing (append a column of ones to Z) and the Hessian lacks its factor 2"),
        ]
        for wrong, why in hints:
            if abs(value / wrong - 1) <= LIMIT_TOLERANCE:
                return Verdict(False, f"for the min-max inputs you get {value:.4g}: {why}")
        return Verdict(False, f"for the min-max inputs you get {value:.4g}, not 2/lambda_max of H = 2 A^T A / n "
                              f"(off by a factor {value / limit:.3g})")
    X, y = make_spiral(rng=0)
    X_train = train_test_split(X, y, test_size=0.25, rng=SPLIT_SEED)[0]
    other = _as_number(largest_stable_lr(X_train.copy()))
    raw_limit = curvature.max_stable_lr(X_train)
    if isinstance(other, Verdict) or abs(other / raw_limit - 1) > LIMIT_TOLERANCE:
        return Verdict(False, f"right for the min-max inputs, but not for the raw inputs (expected about {raw_limit:.3g}): "
                              "compute from the Z you are given, not from a fixed data set")
    return Verdict(True, f"min-max [0, 1]: {value:.3g} (raw inputs: {other:.3g}) matches 2/lambda_max; "
                         "above it, gradient descent on the linear model diverges")


def _leak_probe(rng):
    """A train and a test set whose statistics differ a lot, so a leak shows."""
    X_train = rng.normal([1.0, -2.0, 0.0], [2.0, 0.5, 3.0], size=(40, 3))
    X_test = rng.normal([6.0, 1.0, -4.0], [1.0, 2.0, 1.0], size=(20, 3))
    return X_train, X_test


def check_standardizer(standardize):
    """Check a function ``standardize(X_train, X_test) -> (Z_train, Z_test)`` fitted on the training part only.

    Parameters
    ----------
    standardize : callable
        Takes ``X_train`` of shape (n_train, d) and ``X_test`` of shape
        (n_test, d); returns both standardized with the training part's mean
        and (population) standard deviation.

    Returns
    -------
    Verdict
        Correct when both outputs match :class:`nnlib.StandardScaler` fitted on
        ``X_train`` (to 1e-9), and the inputs are left unchanged.
    """
    if (verdict := not_a_function(standardize, "standardize(X_train, X_test)")) is not None:
        return verdict
    X_train, X_test = _leak_probe(np.random.default_rng(0))
    train_copy, test_copy = X_train.copy(), X_test.copy()
    out = standardize(X_train, X_test)
    if out is None:
        return Verdict(False, "the function returned None: return (Z_train, Z_test)")
    if not isinstance(out, tuple | list) or len(out) != 2:
        return Verdict(False, "expected the function to return two arrays, (Z_train, Z_test)")
    Z_train, Z_test = (np.asarray(z, dtype=float) for z in out)
    if not (np.array_equal(X_train, train_copy) and np.array_equal(X_test, test_copy)):
        return Verdict(False, "the function changed its inputs in place: compute new arrays instead")
    if Z_train.shape != X_train.shape or Z_test.shape != X_test.shape:
        return Verdict(False, f"shapes {Z_train.shape} and {Z_test.shape} returned for inputs of shapes "
                              f"{X_train.shape} and {X_test.shape}")
    clean = StandardScaler().fit(X_train)
    if np.allclose(Z_train, clean.transform(X_train), atol=1e-9) and np.allclose(Z_test, clean.transform(X_test), atol=1e-9):
        return Verdict(True, "both parts are scaled with the training mean and standard deviation only")
    leaky = StandardScaler().fit(np.concatenate([X_train, X_test]))
    if np.allclose(Z_train, leaky.transform(X_train), atol=1e-6):
        return Verdict(False, "this standardizer is fitted on all the data, test part included (leakage): "
                              "compute the mean and standard deviation from X_train only")
    if np.allclose(Z_test, StandardScaler().fit(X_test).transform(X_test), atol=1e-6):
        return Verdict(False, "the test part is scaled with its own statistics: use the training mean and "
                              "standard deviation for both parts")
    mean, std1 = X_train.mean(axis=0), X_train.std(axis=0, ddof=1)
    if np.allclose(Z_train, (X_train - mean) / std1, atol=1e-9):
        return Verdict(False, "close: use the population standard deviation (np.std's default, ddof=0), as StandardScaler does")
    if np.allclose(Z_train, clean.transform(X_train), atol=1e-9):
        return Verdict(False, "the training part is right but the test part is not: apply the same "
                              "training statistics to X_test")
    return Verdict(False, "the training part does not have mean 0 and standard deviation 1 per column: "
                          "subtract the column means (axis=0) and divide by the column standard deviations")


__all__ = ["check_largest_stable_lr", "check_standardizer", "minmax_training_inputs"]
