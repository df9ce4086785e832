"""Layers: ``Dense``, the activations ``ReLU``, ``Sigmoid``, ``Tanh``, and ``BatchNorm``.

Every layer has the same small interface:

- ``forward(x, training=False) -> y`` keeps what ``backward`` needs;
- ``backward(dy) -> dx`` fills ``grads``, a dict with the same keys as ``params``.

**The ensemble axis.** Parameters may carry a leading model axis, so that K
networks train in one set of numpy calls. A single network's ``Dense`` holds
``W`` of shape (fan_in, fan_out) and sees activations of shape (n, features);
an ensemble of K holds ``W`` of shape (K, fan_in, fan_out) and sees activations
of shape (K, n, features) (its first layer may also take a shared (n, features)
input). The code is the same for both: matmul broadcasts over the leading axis
and every reduction runs over the sample axis, ``-2``.
"""

from __future__ import annotations

import functools

import numpy as np

from ._validation import as_generators, check_choice, check_int, check_real
from .init import get_initializer


class Layer:
    """Base class: no parameters, identity ``repr`` helpers."""

    # Reusable output memory, for speed only. ``train`` sets this to a dict for
    # the duration of each forward/backward pass (see ``training._ReusedOutputs``);
    # otherwise it is None and every call returns new arrays. Why: an ensemble's
    # per-sample arrays (e.g. 16 x 500 x 18 float64, 1.2 MB) are big enough that
    # glibc hands the freed top of its heap back to the kernel after every epoch
    # and then takes hundreds of page faults to get it back in the next one.
    # Writing each result into the same array every epoch avoids that.
    _scratch = None

    def __init__(self):
        self.params = {}
        self.grads = {}

    def _out(self, name, shape, dtype=np.float64):
        """The ``out=`` argument for one of this layer's results.

        None (numpy allocates a new array, the default behaviour) unless
        ``train`` is running a pass, in which case the same array, kept under
        ``(name, shape)``, is handed out again on every epoch.
        """
        scratch = self._scratch
        if scratch is None:
            return None
        key = (name, shape)
        buf = scratch.get(key)
        if buf is None:
            buf = scratch[key] = np.empty(shape, dtype)
        return buf

    @property
    def n_models(self):
        """Number of models along the ensemble axis, or None for a single network."""
        return None

    def forward(self, x, training=False):  # pragma: no cover - interface
        raise NotImplementedError

    def backward(self, dy):  # pragma: no cover - interface
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"


def _matmul_shape(a, b):
    """Shape of ``a @ b`` for the 2-D and 3-D (ensemble) operands used here."""
    batch = a.shape[:-2] if a.ndim >= b.ndim else b.shape[:-2]
    return batch + (a.shape[-2], b.shape[-1])


_NARROW = 8
"""An ensemble's per-feature rows are repeated over the samples for layers of 2 to this many features (see ``_rows``)."""


@functools.lru_cache(maxsize=8)
def _ones(n):
    """A read-only vector of n ones, for sums over the sample axis written as matmuls."""
    ones = np.ones(n)
    ones.flags.writeable = False
    return ones


@functools.lru_cache(maxsize=8)
def _mean_weights(n):
    """A read-only vector of n entries 1/n: ``_mean_weights(n) @ x`` is the mean over samples."""
    w = np.full(n, 1.0 / n)
    w.flags.writeable = False
    return w


def _rows(v, n):
    """A per-feature vector ``v`` (shape (F,) or (K, F)) as a row for n samples, (1, F) or (K, 1 or n, F).

    Broadcasting does the rest, except for an ensemble's narrow layers (2 to
    ``_NARROW`` features): combining a (K, 1, F) row with a (K, n, F) array
    costs numpy one short inner loop per sample, so for those the row is
    repeated out to (K, n, F), one long loop, about 3x faster for F = 4 and
    the same values. For wider layers, for a single feature (numpy's inner
    loop then runs along the samples) and for a single network, repeating
    costs more than it saves (benchmarks/bn_speed.py compares the forms).
    """
    if v.ndim == 2 and 1 < v.shape[-1] <= _NARROW:
        return np.repeat(v[:, None, :], n, axis=1)
    return v[..., None, :]


def _check_training(training):
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"training must be True or False, got {type(training).__name__}: {training!r}")


class Dense(Layer):
    """Fully connected layer ``y = x @ W + b``.

    Parameters
    ----------
    fan_in, fan_out : int
        Input and output features.
    init : {"he", "xavier", "small_uniform"}, default "he"
        Weight initializer; biases start at zero.
    rng : None, int, Generator, or a sequence of them
        One source of randomness for a single layer; a sequence of K (list,
        tuple, range or 1-D array, as for ``MLP``) gives an ensemble of K
        layers, model k drawn from ``rng[k]`` exactly as a single layer would be.
    bias : bool, default True
        Without a bias the layer is ``y = x @ W``; a ``BatchNorm`` right after
        it would cancel any bias anyway (its ``beta`` takes the bias's role).

    Attributes
    ----------
    params : dict
        ``"W"`` of shape (fan_in, fan_out) or (K, fan_in, fan_out);
        ``"b"`` of shape (fan_out,) or (K, fan_out), if ``bias``.
    grads : dict
        Same keys and shapes as ``params``, filled by ``backward``.
    """

    def __init__(self, fan_in, fan_out, init="he", rng=None, bias=True):
        super().__init__()
        fan_in = check_int(fan_in, "fan_in", minimum=1)
        fan_out = check_int(fan_out, "fan_out", minimum=1)
        draw = get_initializer(init)
        self.init = init
        gens, n_models = as_generators(rng)
        if n_models is None:
            W = draw(fan_in, fan_out, gens)
        else:
            W = np.stack([draw(fan_in, fan_out, g) for g in gens])
        self._set(W, np.zeros(W.shape[:-2] + (fan_out,)) if bias else None)

    @classmethod
    def from_arrays(cls, W, b):
        """Build a layer around given weights.

        Parameters
        ----------
        W : array_like of shape (fan_in, fan_out) or (K, fan_in, fan_out)
        b : array_like of shape (fan_out,) or (K, fan_out), or None for no bias
        """
        W = np.array(W, dtype=np.float64)
        b = None if b is None else np.array(b, dtype=np.float64)
        if W.ndim not in (2, 3) or (b is not None and b.shape != W.shape[:-2] + W.shape[-1:]):
            got = None if b is None else b.shape
            raise ValueError(f"W must be (fan_in, fan_out) or (K, fan_in, fan_out) with b of shape W.shape[:-2] + (fan_out,); got W {W.shape}, b {got}")
        layer = cls.__new__(cls)
        Layer.__init__(layer)
        layer.init = "given"
        layer._set(W, b)
        return layer

    def _set(self, W, b):
        self.params = {"W": W} if b is None else {"W": W, "b": b}
        self.grads = {key: np.zeros_like(v) for key, v in self.params.items()}
        self._x = None

    @property
    def bias(self):
        return "b" in self.params

    @property
    def fan_in(self):
        return self.params["W"].shape[-2]

    @property
    def fan_out(self):
        return self.params["W"].shape[-1]

    @property
    def n_models(self):
        W = self.params["W"]
        return W.shape[0] if W.ndim == 3 else None

    def forward(self, x, training=False):
        """Affine map.

        Parameters
        ----------
        x : ndarray of shape (n, fan_in), or (K, n, fan_in) for an ensemble
        training : bool
            Unused; present so every layer has the same signature.

        Returns
        -------
        ndarray of shape (n, fan_out) or (K, n, fan_out)
        """
        self._x = x
        params = self.params
        W = params["W"]
        y = np.matmul(x, W, out=None if self._scratch is None else self._out("y", _matmul_shape(x, W)))
        b = params.get("b")
        if b is not None:
            y += b if b.ndim == 1 else _rows(b, y.shape[-2])  # a single network: no call on the hot path
        return y

    def backward(self, dy, input_grad=True):
        """Fill ``grads`` and return the gradient with respect to the input.

        Parameters
        ----------
        dy : ndarray of shape (n, fan_out) or (K, n, fan_out)
        input_grad : bool, default True
            False skips computing ``dx`` (training needs none for the first
            layer, whose input is the data) and returns None.

        Returns
        -------
        dx : ndarray of shape (n, fan_in) or (K, n, fan_in), or None
        """
        if self._x is None:
            raise RuntimeError("Dense.backward called before forward")
        x = self._x
        grads = self.grads
        np.matmul(x.T if x.ndim == 2 else x.swapaxes(-1, -2), dy, out=grads["W"])
        # A sum over the sample axis written as a matmul: much faster than
        # dy.sum(axis=-2) for the small, tall arrays of this tutorial.
        if "b" in grads:
            np.matmul(_ones(dy.shape[-2]), dy, out=grads["b"])
        if not input_grad:
            return None
        W = self.params["W"]
        W_T = W.T if W.ndim == 2 else W.swapaxes(-1, -2)
        return np.matmul(dy, W_T, out=None if self._scratch is None else self._out("dx", _matmul_shape(dy, W_T)))

    def __repr__(self):
        k = f", n_models={self.n_models}" if self.n_models else ""
        nb = "" if self.bias else ", bias=False"
        return f"Dense({self.fan_in} -> {self.fan_out}, init={self.init!r}{nb}{k})"


class ReLU(Layer):
    """``max(x, 0)``, elementwise. The gradient is taken as 0 at exactly 0."""

    def forward(self, x, training=False):
        """
        Parameters
        ----------
        x : ndarray of any shape

        Returns
        -------
        ndarray of the same shape
        """
        if self._scratch is None:
            self._mask = mask = np.greater(x, 0)
            return np.multiply(x, mask)
        self._mask = mask = np.greater(x, 0, out=self._out("mask", x.shape, bool))
        # In a training pass the input is the previous layer's output, which
        # nothing else keeps: overwriting it keeps the working set smaller.
        return np.multiply(x, mask, out=x)

    def backward(self, dy):
        """``dy`` where the input was positive, 0 elsewhere (same shape as ``dy``)."""
        if self._scratch is None:
            return np.multiply(dy, self._mask)
        return np.multiply(dy, self._mask, out=dy)  # dy, too, is the next layer's and no longer needed


def sigmoid(x):
    """Logistic function written as ``0.5 * (1 + tanh(x / 2))``.

    Identical in value to ``1 / (1 + exp(-x))`` but never overflows, for any
    finite or infinite input.
    """
    return _sigmoid(x)


def _sigmoid(x, out=None):
    """``sigmoid(x)``, written into ``out`` if given."""
    y = np.tanh(np.multiply(0.5, x, out=out), out=out)
    y += 1.0
    y *= 0.5
    return y


class Sigmoid(Layer):
    """Logistic sigmoid, elementwise, computed without overflow."""

    def forward(self, x, training=False):
        """Return ``sigmoid(x)``, same shape as ``x``."""
        self._y = _sigmoid(x, out=self._out("y", x.shape))
        return self._y

    def backward(self, dy):
        """``dy * s * (1 - s)``, same shape as ``dy``."""
        y = self._y
        dx = np.multiply(dy, y, out=self._out("dx", dy.shape))
        dx *= np.subtract(1.0, y, out=self._out("1-y", y.shape))
        return dx


class Tanh(Layer):
    """Hyperbolic tangent, elementwise."""

    def forward(self, x, training=False):
        """Return ``tanh(x)``, same shape as ``x``."""
        self._y = np.tanh(x, out=self._out("y", x.shape))
        return self._y

    def backward(self, dy):
        """``dy * (1 - tanh(x)**2)``, same shape as ``dy``."""
        dx = np.multiply(self._y, self._y, out=self._out("dx", dy.shape))
        np.subtract(1.0, dx, out=dx)
        return np.multiply(dy, dx, out=dx)


ACTIVATIONS = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh}


def make_activation(name):
    """Return a new activation layer from its name (one of :data:`ACTIVATIONS`)."""
    return ACTIVATIONS[check_choice(name, "activation", tuple(ACTIVATIONS))]()


_BATCH_OF_ONE = (
    "BatchNorm cannot backpropagate a training-mode batch of 1 sample: its variance is 0, so the "
    "output is beta whatever the input and every gradient below the layer would be zero; "
    "use batches of at least 2 samples (or training=False)"
)


def check_batchnorm_settings(momentum, eps):
    """Return ``(momentum, eps)`` as floats, raising unless momentum is in [0, 1) and eps > 0 (both finite)."""
    momentum = check_real(momentum, "momentum", low=0.0, high=1.0, high_open=True)
    eps = check_real(eps, "eps", low=0.0, low_open=True)
    return momentum, eps


class BatchNorm(Layer):
    """Batch normalization over the sample axis.

    In training, each feature is standardized with the statistics of the
    current batch (mean and population variance, ddof=0), then scaled and
    shifted by the learned ``gamma`` and ``beta``. The batch statistics also
    update running averages,
    ``running = momentum * running + (1 - momentum) * batch``,
    which evaluation (``training=False``) uses instead of the batch's, so a
    prediction does not depend on the rest of its batch.

    A training-mode batch needs at least 2 samples to learn from: one sample
    has variance 0, so the output is ``beta`` for any input. ``forward``
    allows it (it is instructive to see), but ``backward`` and ``train``
    raise a ValueError rather than return gradients that are silently zero.

    Parameters
    ----------
    n_features : int
    momentum : float in [0, 1), default 0.9
        Weight of the old running value in each update; larger is smoother and slower.
    eps : float > 0, default 1e-5
        Added to the variance before the square root, so a constant feature
        does not divide by zero.
    n_models : int or None
        Size of the ensemble axis (None for a single network).

    Attributes
    ----------
    params : dict
        ``"gamma"`` (ones) and ``"beta"`` (zeros), shape (n_features,) or (K, n_features).
    running_mean, running_var : ndarray, same shape as ``gamma``
        Start at 0 and 1.
    """

    def __init__(self, n_features, momentum=0.9, eps=1e-5, n_models=None):
        super().__init__()
        n_features = check_int(n_features, "n_features", minimum=1)
        momentum, eps = check_batchnorm_settings(momentum, eps)
        shape = (n_features,) if n_models is None else (check_int(n_models, "n_models", minimum=1), n_features)
        self.momentum = momentum
        self.eps = eps
        self.params = {"gamma": np.ones(shape), "beta": np.zeros(shape)}
        self.grads = {"gamma": np.zeros(shape), "beta": np.zeros(shape)}
        self.running_mean = np.zeros(shape)
        self.running_var = np.ones(shape)
        self._cache = None

    @property
    def n_features(self):
        return self.params["gamma"].shape[-1]

    @property
    def n_models(self):
        g = self.params["gamma"]
        return g.shape[0] if g.ndim == 2 else None

    def forward(self, x, training=False):
        """Normalize ``x``.

        Parameters
        ----------
        x : ndarray of shape (n, n_features), or (K, n, n_features) for an ensemble
        training : bool
            True: batch statistics, and the running averages are updated.
            False: running averages; nothing changes.

        Returns
        -------
        ndarray, same shape as ``x``
        """
        _check_training(training)
        n = x.shape[-2]
        if training:
            weights = _mean_weights(n)
            mean = weights @ x                   # (…, F): the mean over samples, as a matmul
            xc = np.subtract(x, _rows(mean, n), out=self._out("xc", x.shape))
            # In a training pass the input is the previous layer's output, which
            # nothing else keeps: its memory holds the squares and then the output.
            reuse = self._scratch is not None
            var = weights @ np.multiply(xc, xc, out=x if reuse else None)  # population variance, ddof=0
            inv_std = 1.0 / np.sqrt(var + self.eps)
            x_hat = xc
            x_hat *= _rows(inv_std, n)
            m = self.momentum
            self.running_mean = m * self.running_mean + (1.0 - m) * mean
            self.running_var = m * self.running_var + (1.0 - m) * var
            self._cache = (x_hat, inv_std, True)
        else:
            inv_std = 1.0 / np.sqrt(self.running_var + self.eps)
            x_hat = (x - _rows(self.running_mean, n)) * _rows(inv_std, n)
            self._cache = (x_hat, inv_std, False)
            reuse = False
        y = np.multiply(x_hat, _rows(self.params["gamma"], n), out=x if reuse else None)
        y += _rows(self.params["beta"], n)
        return y

    def backward(self, dy):
        """Fill ``grads`` and return the gradient with respect to the input.

        In training mode the batch mean and variance depend on every sample, and
        the gradient accounts for that; after an evaluation-mode forward the
        layer is a fixed affine map per feature.

        Parameters
        ----------
        dy : ndarray, same shape as the forward input

        Returns
        -------
        dx : ndarray, same shape as ``dy``

        Raises
        ------
        ValueError
            After a training-mode forward of a single sample: its variance is
            0, the output is ``beta`` whatever the input, and every gradient
            below this layer would be silently zero.
        """
        if self._cache is None:
            raise RuntimeError("BatchNorm.backward called before forward")
        x_hat, inv_std, was_training = self._cache
        n = dy.shape[-2]
        if was_training and n == 1:
            raise ValueError(_BATCH_OF_ONE)
        ones = _ones(n)
        # dx's memory first holds dy * x_hat, which is needed only for this sum
        out = self._out("dx", dy.shape)
        np.matmul(ones, np.multiply(dy, x_hat, out=out), out=self.grads["gamma"])
        np.matmul(ones, dy, out=self.grads["beta"])
        scale = _rows(self.params["gamma"] * inv_std, n)
        if not was_training:
            return np.multiply(dy, scale, out=out)
        # dx = gamma/std * (dy - mean(dy) - x_hat * mean(dy * x_hat))
        mean_dy = _rows(self.grads["beta"] / n, n)
        mean_dy_xhat = _rows(self.grads["gamma"] / n, n)
        dx = np.multiply(x_hat, mean_dy_xhat, out=out)
        np.subtract(dy, dx, out=dx)
        dx -= mean_dy
        dx *= scale
        return dx

    def __repr__(self):
        k = f", n_models={self.n_models}" if self.n_models else ""
        return f"BatchNorm({self.n_features}, momentum={self.momentum}, eps={self.eps}{k})"
