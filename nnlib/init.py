"""Weight initializers.

Each takes ``(fan_in, fan_out, rng)`` and returns a float64 array of shape
``(fan_in, fan_out)``. The names in :data:`INITIALIZERS` are what ``MLP`` and
``Dense`` accept as ``init``.
"""

from __future__ import annotations

import numpy as np

from ._validation import as_generator, check_choice, check_int


def small_uniform(fan_in, fan_out, rng=None, limit=0.01):
    """U(-limit, limit), the original write-up's choice (limit 0.01).

    Independent of the layer's width, so signals and gradients shrink by a
    roughly constant factor per layer: the textbook recipe for vanishing gradients.

    Returns
    -------
    ndarray of shape (fan_in, fan_out)
    """
    return as_generator(rng).uniform(-limit, limit, size=_fans(fan_in, fan_out))


def xavier(fan_in, fan_out, rng=None):
    """Glorot/Xavier uniform: U(-a, a) with a = sqrt(6 / (fan_in + fan_out)).

    Keeps the variance of activations and of gradients roughly constant through
    layers with symmetric, near-linear activations (tanh, sigmoid around 0).

    Returns
    -------
    ndarray of shape (fan_in, fan_out)
    """
    fan_in, fan_out = _fans(fan_in, fan_out)
    a = np.sqrt(6.0 / (fan_in + fan_out))
    return as_generator(rng).uniform(-a, a, size=(fan_in, fan_out))


def he(fan_in, fan_out, rng=None):
    """He/Kaiming normal: N(0, 2 / fan_in).

    The factor 2 makes up for ReLU zeroing half of its inputs, so the second
    moment of activations stays constant through ReLU layers.

    Returns
    -------
    ndarray of shape (fan_in, fan_out)
    """
    fan_in, fan_out = _fans(fan_in, fan_out)
    return as_generator(rng).normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))


def _fans(fan_in, fan_out):
    return check_int(fan_in, "fan_in", minimum=1), check_int(fan_out, "fan_out", minimum=1)


INITIALIZERS = {"small_uniform": small_uniform, "xavier": xavier, "he": he}


def get_initializer(name):
    """Return the initializer called ``name`` (one of :data:`INITIALIZERS`)."""
    return INITIALIZERS[check_choice(name, "init", tuple(INITIALIZERS))]
