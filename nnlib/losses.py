"""Losses: value and gradient, mean reduction, numerically stable.

Both losses average over every sample and output, so their values do not grow
with the batch size. On an ensemble, ``y_hat`` has shape (K, n, outputs), the
targets (n, outputs) are shared, and the value is a vector of K losses.
"""

from __future__ import annotations

import numpy as np

from ._validation import check_choice, check_labels, check_output_pair, check_real
from .layers import sigmoid


def _mean(a):
    """Mean over the last two axes: a float for (n, d), shape (K,) for (K, n, d).

    Written as numpy's own ``mean`` computes it (a sum, then one division),
    so the values are identical, without ``mean``'s per-call Python
    overhead, which is about half of the loss's cost for a small batch.
    """
    return np.add.reduce(a, axis=(-2, -1)) / (a.shape[-2] * a.shape[-1])


class MSE:
    """Mean squared error, ``mean((y_hat - y) ** 2)``."""

    name = "mse"

    def __call__(self, y_hat, y):
        """
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
            If ``y_hat.shape[-2:]`` differs from ``y.shape`` (numpy would
            otherwise broadcast (n, 1) against (n,) into an (n, n) table).
        """
        return self._value(*check_output_pair(y_hat, y))

    def gradient(self, y_hat, y):
        """d loss / d y_hat: ``2 (y_hat - y) / (n d)``, shape of ``y_hat``."""
        return self._gradient(*check_output_pair(y_hat, y))

    # The unchecked forms, for training, which checks its data once up front
    # rather than every epoch.
    @staticmethod
    def _value(y_hat, y):
        r = y_hat - y
        return _mean(r * r)

    @staticmethod
    def _gradient(y_hat, y):
        return (2.0 / (y.shape[-2] * y.shape[-1])) * (y_hat - y)

    def __repr__(self):
        return "MSE()"


class BinaryCrossEntropy:
    """Binary cross-entropy, ``-mean(y log p + (1 - y) log(1 - p))``.

    ``__call__`` and ``gradient`` take probabilities and clip them to
    ``[eps, 1 - eps]`` so the loss never takes log(0). Training a network whose
    output is a sigmoid uses the ``*_from_logits`` forms instead, which work on
    the pre-sigmoid value z and are exact for any z:
    ``loss = mean(softplus(z) - y z)`` and ``d loss / dz = (sigmoid(z) - y) / (n d)``.

    Every method checks that the shapes match; the value methods
    (``__call__``, ``value_from_logits``) also check that the labels ``y`` lie
    in [0, 1]: outside it the loss has no minimum and falls without bound.
    (The gradient methods leave that check to the value, which training
    computes every step, and :func:`~nnlib.train` checks ``y`` once up front:
    it is the costliest check here, and this runs every epoch.)

    Parameters
    ----------
    eps : float in (0, 1e-3], default 1e-12
        Clipping margin of the probability forms; larger values would change
        the loss noticeably, not just guard against log(0).
    """

    name = "bce"
    max_eps = 1e-3

    def __init__(self, eps=1e-12):
        self.eps = check_real(eps, "eps", low=0.0, low_open=True, high=self.max_eps)

    def _check(self, y_hat, y, y_hat_name, labels=True):
        y_hat, y = check_output_pair(y_hat, y, y_hat_name)
        if labels:
            check_labels(y)
        return y_hat, y

    def __call__(self, p, y):
        """
        Parameters
        ----------
        p : ndarray of shape (n, d) or (K, n, d), probabilities
        y : ndarray of shape (n, d), labels in [0, 1]

        Returns
        -------
        float, or ndarray of shape (K,)
        """
        p, y = self._check(p, y, "p")
        p = np.clip(p, self.eps, 1.0 - self.eps)
        return -_mean(y * np.log(p) + (1.0 - y) * np.log1p(-p))

    def gradient(self, p, y):
        """d loss / d p, shape of ``p`` (with the same clipping)."""
        p, y = self._check(p, y, "p", labels=False)
        p = np.clip(p, self.eps, 1.0 - self.eps)
        return (p - y) / (p * (1.0 - p) * (y.shape[-2] * y.shape[-1]))

    def value_from_logits(self, z, y):
        """The loss from pre-sigmoid values ``z`` (shape (n, d) or (K, n, d))."""
        return self._value_from_logits(*self._check(z, y, "z"))

    def gradient_from_logits(self, z, y, p=None):
        """d loss / d z, shape of ``z``; pass ``p = sigmoid(z)`` if already computed."""
        z, y = self._check(z, y, "z", labels=False)
        return self._gradient_from_logits(z, y, sigmoid(z) if p is None else p)

    # The unchecked forms, for training, which checks its data once up front
    # rather than every epoch.
    @staticmethod
    def _value_from_logits(z, y):
        # softplus(z) = log(1 + e^z), written as max(z, 0) + log1p(exp(-|z|)) so
        # that exp never overflows. It is the formula np.logaddexp(0, z) uses,
        # but numpy's exp and log1p are vectorized and logaddexp is not: 3x
        # faster on a 16-network ensemble. The two may differ in the last bit.
        loss = np.maximum(z, 0.0)
        loss += np.log1p(np.exp(-np.abs(z)))
        loss -= y * z
        return _mean(loss)

    @staticmethod
    def _gradient_from_logits(z, y, p):
        return (p - y) * (1.0 / (y.shape[-2] * y.shape[-1]))

    def __repr__(self):
        return f"BinaryCrossEntropy(eps={self.eps})"


LOSSES = {"mse": MSE, "bce": BinaryCrossEntropy}


def get_loss(loss):
    """Return a loss object from a name (``"mse"``, ``"bce"``) or pass one through."""
    if isinstance(loss, (MSE, BinaryCrossEntropy)):
        return loss
    return LOSSES[check_choice(loss, "loss", tuple(LOSSES))]()
