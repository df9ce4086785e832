"""Checkers for notebook 01's exercises (unstable gradients).

Each ``check_xxx(answer)`` returns a :class:`~nnlib.exercises.Verdict` and
never raises on a wrong answer. Use them through
:func:`~nnlib.exercises.attempt`, which also turns a stub that still raises
``NotImplementedError`` into a "not yet" verdict.
"""

from __future__ import annotations

import numpy as np

from ..gradcheck import relative_error
from ..layers import Dense, ReLU, sigmoid
from . import Verdict, not_a_function

#: Largest relative error (float64) an answer may have against the reference.
TOLERANCE = 1e-10
#: How far the predicted learning-rate limit may be from 2 / (1/4) = 8.
LR_LIMIT_TOLERANCE = 0.05


def _cases(rng=0):
    """Fixed test inputs: logits with both signs and both tails, and upstream gradients."""
    gen = np.random.default_rng(rng)
    z = np.concatenate([gen.normal(scale=3.0, size=(6, 3)), [[-30.0, 0.0, 30.0]]])
    return z, gen.normal(size=z.shape)


def _compare(name, got, want):
    """A Verdict on one array against its reference: shape first, then values."""
    if got is None:
        return Verdict(False, f"{name} is None: return the array")
    got = np.asarray(got, dtype=float)
    if got.shape != want.shape:
        return Verdict(False, f"{name} has shape {got.shape}, expected {want.shape}")
    err = relative_error(got, want)
    if not np.isfinite(got).all() or err > TOLERANCE:
        return Verdict(False, f"{name} is off (relative error {err:.2g} against the reference)")
    return Verdict(True, f"{name} matches (relative error {err:.1g})")


def check_sigmoid_backward(sigmoid_backward):
    """Check ``sigmoid_backward(z, dy) -> dz`` with ``dz = dy * s (1 - s)``, ``s = sigmoid(z)``.

    Parameters
    ----------
    sigmoid_backward : callable
        Takes ``z`` and ``dy``, both of shape (n, d); returns ``dz`` of shape (n, d).

    Returns
    -------
    Verdict
    """
    if (verdict := not_a_function(sigmoid_backward, "sigmoid_backward(z, dy)")) is not None:
        return verdict
    z, dy = _cases()
    s = sigmoid(z)
    v = _compare("dz", sigmoid_backward(z.copy(), dy.copy()), dy * s * (1.0 - s))
    if v:
        return Verdict(True, "the sigmoid's slope is s(1 - s), at most 1/4 (at z = 0), and it vanishes in both tails")
    return Verdict(False, v.message + "; the chain rule gives dz = dy * s * (1 - s) with s = sigmoid(z)")


def check_dense_relu_backward(dense_relu_backward):
    """Check ``dense_relu_backward(x, W, b, dh) -> (dW, db, dx)`` for ``h = relu(x @ W + b)``.

    Parameters
    ----------
    dense_relu_backward : callable
        Takes ``x`` (n, fan_in), ``W`` (fan_in, fan_out), ``b`` (fan_out,) and
        the upstream gradient ``dh`` (n, fan_out); returns ``(dW, db, dx)`` of
        the shapes of ``W``, ``b`` and ``x``.

    Returns
    -------
    Verdict
        Checked against nnlib's ``Dense`` and ``ReLU`` layers.
    """
    if (verdict := not_a_function(dense_relu_backward, "dense_relu_backward(x, W, b, dh)")) is not None:
        return verdict
    gen = np.random.default_rng(1)
    x, W, b = gen.normal(size=(7, 3)), gen.normal(size=(3, 5)), gen.normal(size=5)
    dh = gen.normal(size=(7, 5))
    dense, relu = Dense.from_arrays(W, b), ReLU()
    relu.forward(dense.forward(x))
    dx_ref = dense.backward(relu.backward(dh))
    got = dense_relu_backward(x.copy(), W.copy(), b.copy(), dh.copy())
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        return Verdict(False, "return the three gradients as a tuple (dW, db, dx)")
    for name, g, want in zip(("dW", "db", "dx"), got, (dense.grads["W"], dense.grads["b"], dx_ref), strict=True):
        v = _compare(name, g, want)
        if not v:
            hint = " (did you mask dh with the ReLU's slope, (z > 0), before the Dense backward?)"
            return Verdict(False, v.message + hint)
    return Verdict(True, "dW, db and dx match nnlib's Dense + ReLU backward")


def check_bias_lr_limit(lr_limit):
    """Check the predicted largest stable learning rate of the output bias of a dead network.

    With every ReLU dead the logit is the output bias b alone; the curvature
    of the mean BCE with respect to b is p(1 - p) <= 1/4, so gradient descent
    on b is stable below 2 / (1/4) = 8.

    Parameters
    ----------
    lr_limit : float

    Returns
    -------
    Verdict
    """
    if lr_limit is None:
        return Verdict(False, "lr_limit is None: replace it with your number")
    if isinstance(lr_limit, bool) or not np.isscalar(lr_limit) or not np.isreal(lr_limit):
        return Verdict(False, f"expected a number, got {lr_limit!r}")
    value = float(lr_limit)
    if abs(value - 8.0) <= LR_LIMIT_TOLERANCE:
        return Verdict(True, "2 / lambda with lambda = p(1 - p) = 1/4 at p = 1/2 gives 8: lr 10 is above it, lr 1 and 3 below")
    if abs(value - 0.25) <= 0.01 or abs(value - 4.0) <= 0.05:
        return Verdict(False, f"{value:g} is lambda or 1/lambda; the limit of gradient descent is 2 / lambda")
    return Verdict(False, f"{value:g} is not it: the curvature of the loss in b is p(1 - p), largest at p = 1/2; use 2 / lambda")


__all__ = ["check_sigmoid_backward", "check_dense_relu_backward", "check_bias_lr_limit", "TOLERANCE", "LR_LIMIT_TOLERANCE"]
