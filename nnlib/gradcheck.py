"""Gradient checks by central finite differences, in float64.

The analytic gradients of every layer are checked against
``(f(x + h) - f(x - h)) / 2h`` with the relative error of the whole array,
``||a - n|| / (||a|| + ||n||)`` (Euclidean norms). Taken entry by entry instead,
the error of a gradient entry that is nearly zero is all round-off, and the
largest of those says little about the code. As a rule of thumb for float64:
below 1e-7 is right, 1e-5..1e-7 deserves a look, above 1e-3 is a bug. A ReLU input that sits within ``h`` of its kink can
spoil an otherwise right check, so the tests draw inputs away from zero.
"""

from __future__ import annotations

import numpy as np

from ._validation import as_generator
from .layers import BatchNorm
from .losses import get_loss


def numerical_gradient(f, x, h=1e-6):
    """Central-difference gradient of a scalar function.

    ``x`` is perturbed in place one entry at a time and restored, so ``f``
    may close over it (as over a layer's parameter array).

    Parameters
    ----------
    f : callable
        ``f() -> float``, reading ``x``.
    x : ndarray of float64, any shape
    h : float, default 1e-6

    Returns
    -------
    ndarray, same shape as ``x``
    """
    if x.dtype != np.float64:
        raise TypeError(f"numerical_gradient needs a float64 array, got {x.dtype}")
    grad = np.empty_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        f_plus = f()
        x[i] = old - h
        f_minus = f()
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2.0 * h)
    return grad


def relative_error(a, b, tiny=1e-300):
    """Relative error of two arrays, ``||a - b|| / max(||a|| + ||b||, tiny)``.

    0 when they are equal (both zero included), 1 when one is zero and the
    other is not, and at most 1 in every case.

    Parameters
    ----------
    a, b : array_like, same shape

    Returns
    -------
    float
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"relative_error needs arrays of one shape, got {a.shape} and {b.shape}")
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), tiny))


def check_layer(layer, x, training=True, rng=None, h=1e-6):
    """Compare a layer's analytic gradients with finite differences.

    The scalar checked is ``sum(forward(x) * dy)`` for a fixed random ``dy``,
    whose gradient is what ``backward(dy)`` returns and fills.

    Parameters
    ----------
    layer : Layer
    x : ndarray of shape (n, features) or (K, n, features)
    training : bool, default True
    rng : None, int or Generator
        Draws ``dy``.

    Returns
    -------
    dict of str to float
        Relative error for the input (``"x"``) and for each parameter.
    """
    x = np.array(x, dtype=np.float64)
    gen = as_generator(rng)
    # Save BatchNorm's running statistics before the first forward (which
    # updates them in training mode), so the check leaves the layer as it was.
    state = _save_running(layer)
    dy = gen.normal(size=layer.forward(x, training).shape)
    _restore_running(layer, state)

    def f():
        out = layer.forward(x, training)
        _restore_running(layer, state)
        return float(np.sum(out * dy))

    layer.forward(x, training)
    _restore_running(layer, state)
    dx = _input_gradient(layer.backward(dy), x.shape)
    analytic = {"x": dx, **{k: g.copy() for k, g in layer.grads.items()}}
    errors = {"x": relative_error(analytic["x"], numerical_gradient(f, x, h))}
    for key, p in layer.params.items():
        errors[key] = relative_error(analytic[key], numerical_gradient(f, p, h))
    return errors


def check_model(model, X, y, loss="bce", training=True, h=1e-6):
    """Compare a whole model's parameter gradients with finite differences.

    The loss is computed from the model's output as a user would (for a
    sigmoid output with "bce", through the clipped probabilities), so this
    checks the layers' chain as well as the loss gradient.

    Parameters
    ----------
    model : MLP
    X : ndarray of shape (n, sizes[0])
    y : ndarray of shape (n, sizes[-1])
    loss : {"bce", "mse"} or a loss object

    Returns
    -------
    dict of str to float
        Relative error per parameter, keyed ``"<layer index>.<name>"``
        (``"0.W"``, ``"0.b"``, ...), plus ``"x"`` for the input gradient.
    """
    loss_fn = get_loss(loss)
    X = np.array(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    states = [_save_running(layer) for layer in model.layers]

    def total(values):
        return float(np.sum(values))

    def f():
        out = model._forward(X, training)
        for layer, s in zip(model.layers, states, strict=True):
            _restore_running(layer, s)
        return total(loss_fn(out, y))

    out = model._forward(X, training)
    for layer, s in zip(model.layers, states, strict=True):
        _restore_running(layer, s)
    dx = _input_gradient(model._backward(loss_fn.gradient(out, y)), X.shape)
    errors = {"x": relative_error(dx, numerical_gradient(f, X, h))}
    for i, layer in enumerate(model.layers):
        analytic = {k: g.copy() for k, g in layer.grads.items()}
        for key, p in layer.params.items():
            errors[f"{i}.{key}"] = relative_error(analytic[key], numerical_gradient(f, p, h))
    return errors


def _input_gradient(dx, shape):
    """The gradient with respect to an input of ``shape``.

    An ensemble fed a shared (n, features) input returns one input gradient per
    model, (K, n, features); the shared input feeds every model, so its
    gradient is their sum over the model axis.
    """
    if dx.ndim == len(shape) + 1:
        dx = dx.sum(axis=0)
    return dx


def _save_running(layer):
    if isinstance(layer, BatchNorm):
        return (layer.running_mean.copy(), layer.running_var.copy())
    return None


def _restore_running(layer, state):
    if state is not None:
        layer.running_mean, layer.running_var = state[0].copy(), state[1].copy()


__all__ = ["numerical_gradient", "relative_error", "check_layer", "check_model"]
