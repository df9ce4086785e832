"""Metrics recorded during training: plain functions of (y_hat, y).

Each returns a float for a single network's (n, d) output and a vector of K
values for an ensemble's (K, n, d) output, like the losses.
"""

from __future__ import annotations

import numpy as np

from ._validation import check_output_pair


def accuracy(p, y, threshold=0.5):
    """Fraction of samples whose thresholded probability equals the label.

    Parameters
    ----------
    p : ndarray of shape (n, 1) or (K, n, 1), probabilities
    y : ndarray of shape (n, 1), labels in {0, 1}

    Returns
    -------
    float, or ndarray of shape (K,)

    Raises
    ------
    ValueError
        If ``p.shape[-2:]`` differs from ``y.shape``.
    """
    p, y = check_output_pair(p, y, "p")
    return ((p > threshold) == (y > 0.5)).mean(axis=(-2, -1))


def r2_score(y_hat, y):
    """Coefficient of determination, 1 - SS_res / SS_tot, per output averaged.

    For a constant target (SS_tot = 0) it is 1 for a perfect fit and 0
    otherwise, as in scikit-learn: no fit can beat predicting the constant.

    Parameters
    ----------
    y_hat : ndarray of shape (n, d) or (K, n, d)
    y : ndarray of shape (n, d)

    Returns
    -------
    float, or ndarray of shape (K,)

    Raises
    ------
    ValueError
        If ``y_hat.shape[-2:]`` differs from ``y.shape``.
    """
    y_hat, y = check_output_pair(y_hat, y)
    ss_res = ((y_hat - y) ** 2).sum(axis=-2)
    ss_tot = ((y - y.mean(axis=-2)) ** 2).sum(axis=-2)
    constant = ss_tot == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(constant, np.where(ss_res == 0, 1.0, 0.0), 1.0 - ss_res / np.where(constant, 1.0, ss_tot))
    return r2.mean(axis=-1)


METRICS = {"accuracy": accuracy, "r2": r2_score}


def for_fixed_targets(fn, y):
    """``fn`` specialized to one target array, for training's every-epoch use.

    Full-batch training evaluates its metrics against the same ``y`` every
    epoch; what depends on ``y`` alone (the labels, the total sum of squares)
    is computed here once, and the shape checks are left to training's own
    check up front. The values are identical to ``fn``'s, bit for bit.

    Parameters
    ----------
    fn : callable
        One of :data:`METRICS`' functions; anything else is returned as is.
    y : ndarray of shape (n, d)
        The targets, already checked against the model's output.

    Returns
    -------
    callable ``(y_hat, y) -> float or ndarray of shape (K,)``
        Its second argument is ignored (it is ``y``).
    """
    if fn is accuracy:
        labels = y > 0.5
        count = y.shape[-2] * y.shape[-1]

        def fixed_accuracy(p, _y):
            # the mean of booleans, as accuracy computes it: a float sum, one division
            return np.add.reduce(np.equal(p > 0.5, labels), axis=(-2, -1), dtype=np.float64) / count

        return fixed_accuracy
    if fn is r2_score:
        ss_tot = ((y - y.mean(axis=-2)) ** 2).sum(axis=-2)
        if (ss_tot == 0).any():
            return fn  # the constant-target case keeps r2_score's own rule

        def fixed_r2(y_hat, _y):
            ss_res = ((y_hat - y) ** 2).sum(axis=-2)
            return (1.0 - ss_res / ss_tot).mean(axis=-1)

        return fixed_r2
    return fn
