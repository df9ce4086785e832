"""Checkers for notebook 04 (batch normalization).

Each checker takes the learner's function, compares what it returns with
:class:`nnlib.BatchNorm` on a few random batches, and returns a
:class:`~nnlib.exercises.Verdict`; a wrong answer is a verdict, never an
exception (run it through :func:`~nnlib.exercises.attempt`).
"""

from __future__ import annotations

import numpy as np

from ..layers import BatchNorm
from . import Verdict


def _batches(rng, n_batches=3, n=32, features=5):
    """A few batches of one feature width, each feature with its own mean and spread: a list of (n, features) arrays."""
    gen = np.random.default_rng(rng)
    return [gen.normal(gen.normal(0, 2, features), gen.uniform(0.5, 3, features), size=(n, features))
            for _ in range(n_batches)]


def _pair(result, shape):
    """The learner's ``(mean, var)`` as two float arrays of ``shape``, or a Verdict saying what is wrong with it."""
    if not isinstance(result, tuple | list) or len(result) != 2:
        return Verdict(False, f"update_running should return a pair (new_running_mean, new_running_var), got {type(result).__name__}")
    out = tuple(np.asarray(r, dtype=np.float64) for r in result)
    if out[0].shape != shape or out[1].shape != shape:
        return Verdict(False, f"expected two arrays of shape {shape}, got {out[0].shape} and {out[1].shape}")
    return out


def check_running_update(update_running):
    """Exercise: the running-statistics update of batch normalization.

    Parameters
    ----------
    update_running : callable
        ``update_running(running_mean, running_var, x, momentum) -> (new_mean, new_var)``,
        with ``x`` a training batch of shape (n, features) and the running
        statistics of shape (features,). nnlib's convention: ``momentum`` is the
        weight of the *old* value, ``running = momentum * running + (1 - momentum) * batch``,
        with the population variance of the batch (ddof=0).

    Returns
    -------
    Verdict
        Correct when three successive updates, at momentum 0.9 and at 0.7,
        match :class:`nnlib.BatchNorm` after the same training-mode forwards.
    """
    for momentum, seed in ((0.9, 0), (0.7, 1)):
        batches = _batches(seed)
        layer = BatchNorm(batches[0].shape[1], momentum=momentum)
        mean, var = np.zeros(layer.n_features), np.ones(layer.n_features)
        for x in batches:
            layer.forward(x, training=True)
            got = _pair(update_running(mean.copy(), var.copy(), x.copy(), momentum), mean.shape)
            if isinstance(got, Verdict):
                return got
            mean, var = got
        right_mean = np.allclose(mean, layer.running_mean, rtol=1e-10, atol=1e-12)
        if right_mean and np.allclose(var, layer.running_var, rtol=1e-10, atol=1e-12):
            continue
        # Name the usual mistakes: the convention where momentum weighs the new value, the sample variance.
        other = np.zeros(layer.n_features)
        for x in batches:
            other = (1.0 - momentum) * other + momentum * x.mean(axis=0)
        if np.allclose(mean, other, rtol=1e-8, atol=1e-12):
            return Verdict(False, f"at momentum {momentum} your averages move {momentum:.0%} of the way to each batch: that is "
                                  "the convention where momentum weighs the NEW value; here it weighs the old one")
        if right_mean:
            return Verdict(False, "the running mean is right but the running variance is not: use the batch's population "
                                  "variance (ddof=0, x.var(axis=0)) with the same momentum as for the mean")
        return Verdict(False, f"after {len(batches)} updates at momentum {momentum} your running mean starts "
                              f"{np.round(mean[:3], 3).tolist()}, nnlib's BatchNorm has {np.round(layer.running_mean[:3], 3).tolist()}")
    return Verdict(True, "your update matches nnlib's BatchNorm at momentum 0.9 and 0.7, three batches each")


def check_eval_forward(bn_eval):
    """Exercise: batch normalization's evaluation-mode forward pass.

    Parameters
    ----------
    bn_eval : callable
        ``bn_eval(x, gamma, beta, running_mean, running_var, eps) -> y``: normalize
        ``x`` (n, features) with the running statistics (features,), then scale
        by ``gamma`` and shift by ``beta``.

    Returns
    -------
    Verdict
        Correct when the output matches ``BatchNorm.forward(x, training=False)``
        for a layer with the same parameters and running statistics, on a full
        batch and on a single sample.
    """
    gen = np.random.default_rng(2)
    batches = _batches(3)
    layer = BatchNorm(batches[0].shape[1], eps=1e-3)
    for x in batches:
        layer.forward(x, training=True)         # running statistics away from their start
    layer.params["gamma"] = gen.uniform(0.5, 2.0, layer.n_features)
    layer.params["beta"] = gen.normal(0, 1, layer.n_features)
    gamma, beta = layer.params["gamma"], layer.params["beta"]
    for x in (batches[0], batches[1][:1]):
        want = layer.forward(x, training=False)
        got = np.asarray(bn_eval(x.copy(), gamma.copy(), beta.copy(), layer.running_mean.copy(),
                                 layer.running_var.copy(), layer.eps), dtype=np.float64)
        if got.shape != want.shape:
            return Verdict(False, f"for x of shape {x.shape} expected an output of shape {want.shape}, got {got.shape}")
        if np.allclose(got, want, rtol=1e-10, atol=1e-12):
            continue
        own = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + layer.eps) * gamma + beta
        if x.shape[0] > 1 and np.allclose(got, own, rtol=1e-8, atol=1e-10):
            return Verdict(False, "you normalized with the batch's own mean and variance: that is training mode; "
                                  "evaluation mode uses running_mean and running_var")
        no_eps = (x - layer.running_mean) / np.sqrt(layer.running_var) * gamma + beta
        if np.allclose(got, no_eps, rtol=1e-8, atol=1e-10):
            return Verdict(False, "close: add eps to the variance before the square root, as training mode does")
        return Verdict(False, f"for x of shape {x.shape} your output differs from nnlib's by up to {np.abs(got - want).max():.3g}")
    return Verdict(True, "your evaluation-mode forward matches nnlib's BatchNorm, on a batch and on a single sample")


__all__ = ["check_running_update", "check_eval_forward"]
