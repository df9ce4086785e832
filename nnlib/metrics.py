"""Metrics recorded during training: plain functions of (y_hat, y).

Each returns a float for a single network's (n, d) output and a vector of K
values for an ensemble's (K, n, d) output, like the losses.
"""

from __future__ import annotations

import numpy as np


def accuracy(p, y, threshold=0.5):
    """Fraction of samples whose thresholded probability equals the label.

    Parameters
    ----------
    p : ndarray of shape (n, 1) or (K, n, 1), probabilities
    y : ndarray of shape (n, 1), labels in {0, 1}

    Returns
    -------
    float, or ndarray of shape (K,)
    """
    return ((p > threshold) == (y > 0.5)).mean(axis=(-2, -1))


def r2_score(y_hat, y):
    """Coefficient of determination, 1 - SS_res / SS_tot, per output averaged.

    Parameters
    ----------
    y_hat : ndarray of shape (n, d) or (K, n, d)
    y : ndarray of shape (n, d)

    Returns
    -------
    float, or ndarray of shape (K,)
    """
    ss_res = ((y_hat - y) ** 2).sum(axis=-2)
    ss_tot = ((y - y.mean(axis=-2)) ** 2).sum(axis=-2)
    return (1.0 - ss_res / np.where(ss_tot == 0, 1.0, ss_tot)).mean(axis=-1)


METRICS = {"accuracy": accuracy, "r2": r2_score}
