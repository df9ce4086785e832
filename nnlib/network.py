"""``MLP``: a multilayer perceptron built from a list of layer sizes."""

from __future__ import annotations

import copy

import numpy as np

from ._validation import as_generators, check_array, check_choice, check_int
from .init import INITIALIZERS
from .layers import ACTIVATIONS, BatchNorm, Dense, Sigmoid, _check_training, check_batchnorm_settings, make_activation

OUTPUTS = ("sigmoid", None)


class MLP:
    """A stack of ``Dense`` layers with activations (and optional ``BatchNorm``).

    ``MLP([2, 18, 4, 1])`` is Dense(2->18), ReLU, Dense(18->4), ReLU,
    Dense(4->1), Sigmoid. With ``batchnorm=True`` a ``BatchNorm`` sits between
    each hidden ``Dense`` and its activation, and those ``Dense`` layers have no
    bias: the normalization would subtract it again, and ``beta`` plays its part.

    Parameters
    ----------
    sizes : sequence of int
        Input features, hidden widths, output features (at least two entries).
    hidden : {"relu", "tanh", "sigmoid"}, default "relu"
        Activation of the hidden layers.
    output : {"sigmoid", None}, default "sigmoid"
        Activation of the output layer; None for a linear output (regression).
    batchnorm : bool, default False
    init : {"he", "xavier", "small_uniform"}, default "he"
    rng : None, int, Generator, or a sequence of them
        A single source builds one network. A sequence of K sources builds an
        ensemble of K networks along a leading model axis, network k exactly the
        one ``MLP(..., rng=rng[k])`` would build.
    bn_momentum, bn_eps : float
        Passed to every ``BatchNorm``: momentum in [0, 1), eps > 0. Checked
        even when ``batchnorm`` is False.

    Attributes
    ----------
    layers : list of Layer
    sizes : list of int
    n_models : int or None
        K for an ensemble, None for a single network.

    Examples
    --------
    >>> model = MLP([2, 18, 4, 1], rng=0)
    >>> model.forward(np.zeros((5, 2))).shape
    (5, 1)
    >>> ensemble = MLP([2, 18, 4, 1], rng=range(16))
    >>> ensemble.forward(np.zeros((5, 2))).shape
    (16, 5, 1)
    """

    def __init__(self, sizes, hidden="relu", output="sigmoid", batchnorm=False, init="he", rng=None, bn_momentum=0.9, bn_eps=1e-5):
        if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
            raise TypeError(f"sizes must be a list of layer widths such as [2, 18, 4, 1], got {sizes!r}")
        if len(sizes) < 2:
            raise ValueError(f"sizes needs at least an input and an output size, got {list(sizes)!r}")
        sizes = [check_int(s, f"sizes[{i}]", minimum=1) for i, s in enumerate(sizes)]
        check_choice(hidden, "hidden activation", tuple(ACTIVATIONS))
        if output not in OUTPUTS:
            raise ValueError(f"unknown output activation {output!r}; expected 'sigmoid' or None (linear)")
        check_choice(init, "init", tuple(INITIALIZERS))
        if not isinstance(batchnorm, (bool, np.bool_)):
            raise TypeError(f"batchnorm must be True or False, got {batchnorm!r}")
        # Checked even without batchnorm, so a typo fails where it is made
        # rather than when batchnorm is switched on later.
        bn_momentum, bn_eps = check_batchnorm_settings(bn_momentum, bn_eps)
        gens, n_models = as_generators(rng)
        self.sizes = sizes
        self.hidden = hidden
        self.output = output
        self.batchnorm = bool(batchnorm)
        self.init = init
        self.layers = []
        last = len(sizes) - 2
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            has_bn = batchnorm and i < last
            self.layers.append(Dense(fan_in, fan_out, init=init, rng=gens, bias=not has_bn))
            if i < last:
                if batchnorm:
                    self.layers.append(BatchNorm(fan_out, momentum=bn_momentum, eps=bn_eps, n_models=n_models))
                self.layers.append(make_activation(hidden))
            elif output == "sigmoid":
                self.layers.append(Sigmoid())

    # -- shape and bookkeeping ------------------------------------------------
    @property
    def n_models(self):
        """K for an ensemble, None for a single network."""
        return self.layers[0].n_models

    @property
    def dense_layers(self):
        """The ``Dense`` layers, in order."""
        return [layer for layer in self.layers if isinstance(layer, Dense)]

    @property
    def n_params(self):
        """Number of trainable parameters of one network."""
        k = self.n_models or 1
        return sum(p.size for layer in self.layers for p in layer.params.values()) // k

    # -- forward and backward -------------------------------------------------
    def forward(self, x, training=False):
        """Run the network.

        Parameters
        ----------
        x : array_like of shape (n, sizes[0]); for an ensemble also (K, n, sizes[0])
        training : bool, default False
            Training mode: ``BatchNorm`` uses and updates batch statistics.
            The default, evaluation mode, uses its running averages.

        Returns
        -------
        ndarray of shape (n, sizes[-1]), or (K, n, sizes[-1]) for an ensemble
        """
        _check_training(training)
        x = self.check_input(x)
        return self._forward(x, training)

    __call__ = forward

    def predict(self, x):
        """Evaluation-mode output; same as ``forward(x, training=False)``."""
        return self.forward(x, training=False)

    def _forward(self, x, training, layers=None):
        for layer in self.layers if layers is None else layers:
            x = layer.forward(x, training)
        return x

    def backward(self, dy):
        """Backpropagate ``dy`` through every layer, filling each layer's ``grads``.

        Parameters
        ----------
        dy : ndarray, the shape of the last ``forward`` output
            Gradient of the loss with respect to the network's output.

        Returns
        -------
        dx : ndarray
            Gradient with respect to the input: (n, sizes[0]) or (K, n, sizes[0]).
        """
        return self._backward(np.asarray(dy, dtype=np.float64))

    def _backward(self, dy, layers=None, input_grad=True):
        layers = self.layers if layers is None else layers
        for layer in layers[:0:-1]:
            dy = layer.backward(dy)
        if input_grad:
            return layers[0].backward(dy)
        return layers[0].backward(dy, input_grad=False)  # the first layer is always a Dense

    def check_input(self, x, name="x"):
        """Validate an input batch and return it as a float64 array."""
        ndim = (2,) if self.n_models is None else (2, 3)
        x = check_array(x, name, ndim=ndim)
        if x.shape[-1] != self.sizes[0]:
            raise ValueError(f"{name} has {x.shape[-1]} features, but this MLP is expecting {self.sizes[0]} features as input")
        if x.ndim == 3 and x.shape[0] != self.n_models:
            raise ValueError(f"{name} has {x.shape[0]} models on its first axis, but this ensemble has {self.n_models}")
        return x

    # -- ensembles ----------------------------------------------------------
    def member(self, k):
        """Network ``k`` of an ensemble, as an independent single ``MLP`` (a copy)."""
        if self.n_models is None:
            raise ValueError("member() needs an ensemble; this MLP is a single network")
        k = check_int(k, "k", minimum=0)
        if k >= self.n_models:
            raise ValueError(f"k must be below the ensemble size {self.n_models}, got {k}")
        single = copy.copy(self)
        single.sizes = list(self.sizes)
        single.layers = []
        for layer in self.layers:
            new = copy.copy(layer)
            new.params = {key: v[k].copy() for key, v in layer.params.items()}
            new.grads = {key: v[k].copy() for key, v in layer.grads.items()}
            if isinstance(layer, BatchNorm):
                new.running_mean = layer.running_mean[k].copy()
                new.running_var = layer.running_var[k].copy()
            _clear_cache(new)
            single.layers.append(new)
        return single

    @classmethod
    def stack(cls, models):
        """Join single networks of the same architecture into one ensemble (copies).

        Raises
        ------
        ValueError
            If the architectures differ, or their ``BatchNorm`` layers have a
            different ``momentum`` or ``eps`` (an ensemble has one of each per layer).
        """
        models = list(models)
        if not models or any(not isinstance(m, MLP) or m.n_models is not None for m in models):
            raise ValueError("stack() needs a non-empty list of single-network MLPs")
        first = models[0]
        for m in models[1:]:
            if (m.sizes, m.hidden, m.output, m.batchnorm, m.init) != (first.sizes, first.hidden, first.output, first.batchnorm, first.init):
                raise ValueError(f"cannot stack {m!r} with {first!r}: the architectures differ")
        # The ensemble keeps one momentum and eps per BatchNorm layer, so
        # networks that differ there would silently take the first one's.
        for i, layer in enumerate(first.layers):
            if isinstance(layer, BatchNorm):
                for j, m in enumerate(models):
                    other = m.layers[i]
                    if (other.momentum, other.eps) != (layer.momentum, layer.eps):
                        raise ValueError(
                            f"cannot stack networks whose BatchNorm settings differ: layer {i} has "
                            f"momentum={layer.momentum}, eps={layer.eps} in models[0] but "
                            f"momentum={other.momentum}, eps={other.eps} in models[{j}]"
                        )
        ens = copy.copy(first)
        ens.sizes = list(first.sizes)
        ens.layers = []
        for parts in zip(*(m.layers for m in models), strict=True):
            new = copy.copy(parts[0])
            new.params = {key: np.stack([p.params[key] for p in parts]) for key in parts[0].params}
            new.grads = {key: np.zeros_like(v) for key, v in new.params.items()}
            if isinstance(new, BatchNorm):
                new.running_mean = np.stack([p.running_mean for p in parts])
                new.running_var = np.stack([p.running_var for p in parts])
            _clear_cache(new)
            ens.layers.append(new)
        return ens

    def copy(self):
        """A deep copy: training the copy leaves this network unchanged."""
        return copy.deepcopy(self)

    def __repr__(self):
        head = (
            f"MLP({self.sizes}, hidden={self.hidden!r}, output={self.output!r}, "
            f"batchnorm={self.batchnorm}, init={self.init!r}"
            + (f", n_models={self.n_models}" if self.n_models else "")
            + f"): {self.n_params} parameters"
        )
        return head + "".join(f"\n  ({i}) {layer!r}" for i, layer in enumerate(self.layers))


def _clear_cache(layer):
    for attr in ("_x", "_mask", "_y", "_cache"):
        if hasattr(layer, attr):
            setattr(layer, attr, None)
