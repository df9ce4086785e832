"""Diagnostics of training: what the loss curve alone does not show.

Numeric only (no plotting): the verdict on a run in the tutorial's one
vocabulary (:mod:`nnlib.outcomes`) with a sentence that explains it,
per-layer activation and gradient snapshots, the fraction of dead ReLUs,
the update-to-weight ratio recorded during training, the spread of an
ensemble over seeds, a divergence autopsy, and the depth experiment that
shows gradients vanishing or exploding as a product of per-layer factors.
``nnlib.plotting`` draws all of these.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import outcomes
from ._validation import as_generator, check_array, check_choice, check_int
from .init import INITIALIZERS
from .layers import ACTIVATIONS, Dense, ReLU, Sigmoid
from .losses import BinaryCrossEntropy, get_loss
from .network import MLP
from .problems import get_problem
from .training import History


# -- the verdict on a run ------------------------------------------------------
@dataclass(frozen=True)
class RunStatus:
    """How a single run ended, in the tutorial's one vocabulary.

    Attributes
    ----------
    kind : str
        One of :data:`nnlib.outcomes.OUTCOMES` (see that module for the exact
        tests): "converged", "slow", "spiked", "stalled" or "diverged".
    message : str
        One line for a person, naming the numbers (epochs, loss) behind the verdict.
    epoch : int or None
        "converged": the epoch the target was first met; "diverged": the epoch
        whose loss was not finite; "stalled" with dead ReLUs: the first epoch from
        which every weight gradient stayed exactly 0; otherwise None.
    """

    kind: str
    message: str
    epoch: int | None = None


def _dead_from(grad_norms):
    """First epoch from which every row of ``grad_norms`` (epochs, n_dense) is all zero, else None."""
    zero = (grad_norms == 0).all(axis=-1)
    if not zero[-1]:
        return None
    alive = np.flatnonzero(~zero)
    return 0 if alive.size == 0 else int(alive[-1] + 1)


def _metric_and_target(history, problem):
    """The History's curve of the problem's metric and its target, or (None, None)."""
    if problem is None:
        return None, None
    spec = get_problem(problem)
    curve = history.metrics.get(spec.metric)
    return (None, None) if curve is None else (curve, spec.target)


def run_status(history, problem=None, loss_name=None, show_metric=True):
    """The outcome of a single run, with a one-line explanation.

    Parameters
    ----------
    history : History
        A single network's History (use ``history.run(k)`` for an ensemble).
    problem : {"spiral", "polynomial"}, optional
        The running problem, for its success target; the History must have
        recorded that problem's metric (``train(..., metrics=[...])``) for the
        run to count as "converged". Without it no run is "converged".
    loss_name : str, optional
        How the message calls the loss; default the problem's ("loss (BCE)" is
        shortened to "loss", "MSE"), or "loss".
    show_metric : bool, default True
        End the message of a run that did not converge with its last training
        metric against the target.

    Returns
    -------
    RunStatus
    """
    if not isinstance(history, History):
        raise TypeError(f"history must be a History, got {type(history).__name__}")
    if history.n_models is not None:
        raise ValueError("run_status needs a single network's History; use history.run(k) or classify_runs(history)")
    if loss_name is None:
        loss_name = "MSE" if problem is not None and get_problem(problem).loss == "mse" else "loss"
    metric, target = _metric_and_target(history, problem)
    kind = outcomes.classify(history.loss, metric, target)
    loss = history.loss
    n = len(loss)
    if kind == "converged":
        e = epochs_to_reach(metric, target)
        spec = get_problem(problem)
        return RunStatus(kind, f"converged: {spec.target_text} first met at epoch {e}", e)
    if kind == "diverged":
        d = history.diverged_at if history.diverged_at is not None else int(np.argmax(~np.isfinite(loss)))
        bad = "inf" if np.isinf(loss[d]) else "NaN"
        before = f" (last finite value {loss[d - 1]:.3g} at epoch {d - 1})" if d > 0 else ""
        return RunStatus(kind, f"diverged: the {loss_name} became {bad} at epoch {d}{before}", d)
    peak = int(np.nanargmax(loss))
    spike = f"the {loss_name} spiked to {loss[peak]:.3g} at epoch {peak} ({loss[peak] / loss[0]:.3g} x its start); "
    spike = spike if outcomes.spiked(loss) else ""
    where = "" if metric is None or not show_metric else f"; {_metric_words(problem, metric[-1])}"
    if kind == "stalled":
        dead = _dead_from(history.grad_norms)
        cause = "" if dead is None else (
            f"; every weight gradient is exactly 0 from epoch {dead} on (dead ReLUs; only biases can still move)"
        )
        w = max(1, int(np.ceil(outcomes.STALL_WINDOW * n)))
        return RunStatus(kind, f"stalled: {spike}the {loss_name} made no progress in the last {w} of {n} epochs "
                         f"and ends at {loss[-1]:.4g}{cause}{where}", dead)
    if kind == "spiked":
        return RunStatus(kind, f"spiked: {spike}still improving after {n} epochs, {loss_name} {loss[-1]:.4g}{where}")
    return RunStatus(kind, f"slow: still improving after {n} epochs, {loss_name} {loss[-1]:.4g}{where}")


def _metric_words(problem, value):
    spec = get_problem(problem)
    if spec.metric == "accuracy":
        return f"training accuracy {100 * value:.1f}% (target {spec.target:.0%})"
    return f"training R\u00b2 {value:.3g} (target {spec.target:g})"


def classify_runs(history, problem=None):
    """The outcome of every network of an ensemble (see :mod:`nnlib.outcomes`).

    Parameters
    ----------
    history : History
        An ensemble's History (K networks), or a single network's.
    problem : {"spiral", "polynomial"}, optional
        For the success target (the History must hold that problem's metric).

    Returns
    -------
    ndarray of str, shape (K,) (shape () for a single network)
    """
    if not isinstance(history, History):
        raise TypeError(f"history must be a History, got {type(history).__name__}")
    metric, target = _metric_and_target(history, problem)
    return np.array(outcomes.classify(history.loss, metric, target))


# -- spread over seeds -----------------------------------------------------------
def seed_band(values):
    """Median and min-max range over the model axis, ignoring NaN.

    Parameters
    ----------
    values : array_like of shape (epochs, K)
        E.g. an ensemble History's ``loss``; NaN after a network diverged.

    Returns
    -------
    median, low, high : ndarray of shape (epochs,)
        NaN at epochs where every network is NaN.
    """
    v = check_array(values, "values", ndim=2, allow_nonfinite=True)
    finite = np.where(np.isfinite(v), v, np.nan)
    out = np.full((3, v.shape[0]), np.nan)
    rows = ~np.isnan(finite).all(axis=1)
    if rows.any():
        sub = finite[rows]
        out[0, rows] = np.nanmedian(sub, axis=1)
        out[1, rows] = np.nanmin(sub, axis=1)
        out[2, rows] = np.nanmax(sub, axis=1)
    return out[0], out[1], out[2]


def epochs_to_reach(values, threshold, above=True):
    """First epoch at which a per-epoch curve reaches ``threshold``.

    Parameters
    ----------
    values : array_like of shape (epochs,) or (epochs, K)
        E.g. ``history.metrics["accuracy"]``.
    threshold : float
    above : bool, default True
        True: first epoch with ``value >= threshold`` (accuracy); False: ``value <= threshold`` (loss).

    Returns
    -------
    int (or -1 if never) for a 1-D curve; ndarray of int of shape (K,) for (epochs, K)
    """
    v = check_array(values, "values", ndim=(1, 2), allow_nonfinite=True)
    with np.errstate(invalid="ignore"):
        hit = v >= threshold if above else v <= threshold
    first = np.where(hit.any(axis=0), hit.argmax(axis=0), -1)
    return int(first) if v.ndim == 1 else first


# -- divergence autopsy ----------------------------------------------------------
@dataclass(frozen=True)
class Autopsy:
    """The last epochs of a run that diverged.

    Attributes
    ----------
    epochs : ndarray of int, shape (m,)
        Up to and including the epoch whose loss was non-finite.
    loss : ndarray of shape (m,)
    grad_norms : ndarray of shape (m, n_dense)
    max_abs_weight : ndarray of shape (m, n_dense) or None
        None if the run was trained without ``track_weights=True``.
    """

    epochs: np.ndarray
    loss: np.ndarray
    grad_norms: np.ndarray
    max_abs_weight: np.ndarray | None


def divergence_autopsy(history, steps=10):
    """Cut out the ``steps`` epochs leading up to (and including) the divergence.

    Parameters
    ----------
    history : History
        A single network's History that diverged.
    steps : int, default 10

    Returns
    -------
    Autopsy
    """
    steps = check_int(steps, "steps", minimum=1)
    if history.n_models is not None:
        raise ValueError("divergence_autopsy needs a single network's History; use history.run(k)")
    if history.diverged_at is None:
        raise ValueError(f"this run did not diverge (final loss {history.loss[-1]:.4g}); nothing to dissect")
    end = history.diverged_at + 1
    start = max(0, end - steps)
    w = None if history.max_abs_weight is None else history.max_abs_weight[start:end].copy()
    return Autopsy(np.arange(start, end), history.loss[start:end].copy(), history.grad_norms[start:end].copy(), w)


# -- per-layer snapshots ---------------------------------------------------------
@dataclass(frozen=True)
class LayerSnapshot:
    """One hidden activation layer, seen on one batch.

    Attributes
    ----------
    name : str
        E.g. "ReLU 1" (counted from 1, input side first).
    index : int
        Position in ``model.layers``.
    activation : ndarray of shape (n, features)
        The layer's output.
    gradient : ndarray of shape (n, features) or None
        Gradient of the loss with respect to that output (None if no targets were given).
    """

    name: str
    index: int
    activation: np.ndarray
    gradient: np.ndarray | None

    @property
    def dead_fraction(self):
        """Fraction of units whose output is 0 for every sample (ReLU only; 0 for others)."""
        if not self.name.startswith("ReLU"):
            return 0.0
        return float((self.activation <= 0).all(axis=0).mean())

    @property
    def saturated_fraction(self):
        """Fraction of outputs within 1% of a saturation bound (sigmoid 0/1, tanh -1/1; ReLU: exact zeros)."""
        a = self.activation
        if self.name.startswith("ReLU"):
            return float((a <= 0).mean())
        if self.name.startswith("Sigmoid"):
            return float(((a < 0.01) | (a > 0.99)).mean())
        return float((np.abs(a) > 0.99).mean())


def layer_snapshots(model, X, y=None, loss="bce", training=True):
    """Hidden activations of a single network and, given targets, their gradients.

    Runs one forward pass (and one backward pass if ``y`` is given) exactly as
    training does, including the exact BCE-from-logits gradient when the model
    ends in a sigmoid. It fills each layer's ``grads`` as a side effect but
    changes no parameter; in training mode ``BatchNorm`` running statistics
    move as in one training step, so pass ``training=False`` to leave them alone.

    Parameters
    ----------
    model : MLP
        A single network.
    X : array_like of shape (n, sizes[0])
    y : array_like of shape (n, sizes[-1]), optional
    loss : {"bce", "mse"}, default "bce"
    training : bool, default True

    Returns
    -------
    list of LayerSnapshot, one per hidden activation layer, input side first
    """
    if not isinstance(model, MLP):
        raise TypeError(f"model must be an MLP, got {type(model).__name__}")
    if model.n_models is not None:
        raise ValueError("layer_snapshots needs a single network; use model.member(k) for one of an ensemble")
    X = model.check_input(X, "X")
    loss_fn = get_loss(loss)
    if y is not None:  # checked before anything runs
        y = check_array(y, "y", ndim=2)
        if y.shape != (X.shape[0], model.sizes[-1]):
            raise ValueError(f"y must have shape ({X.shape[0]}, {model.sizes[-1]}) to match X and the model's outputs, got {y.shape}")
    # a copy: a training-mode pass must not move the caller's BatchNorm running statistics
    layers = model.copy().layers
    fused = isinstance(loss_fn, BinaryCrossEntropy) and isinstance(layers[-1], Sigmoid)
    body = layers[:-1] if fused else layers
    hidden = {i for i, layer in enumerate(layers[:-1]) if type(layer) in ACTIVATIONS.values()}
    counts, names, outputs = {}, {}, {}
    x = X
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        for i, layer in enumerate(body):
            x = layer.forward(x, training)
            if i in hidden:
                kind = type(layer).__name__
                counts[kind] = counts.get(kind, 0) + 1
                names[i] = f"{kind} {counts[kind]}"
                outputs[i] = x.copy()
        grads = {}
        if y is not None:
            dy = loss_fn.gradient_from_logits(x, y) if fused else loss_fn.gradient(x, y)
            for i in reversed(range(len(body))):
                if i in hidden:
                    grads[i] = dy.copy()
                dy = body[i].backward(dy)
    return [LayerSnapshot(names[i], i, outputs[i], grads.get(i)) for i in sorted(outputs)]


def dead_relu_fraction(model, X):
    """Fraction of each ReLU layer's units that output 0 for every sample of ``X``.

    A dead unit passes no gradient, so it can never come back under gradient
    descent on the same data. Evaluation mode (``BatchNorm`` uses its running
    statistics): parameters and running statistics are left as they are (the
    layers' forward caches are overwritten, as by any forward pass).

    Parameters
    ----------
    model : MLP
    X : array_like of shape (n, sizes[0])

    Returns
    -------
    ndarray of shape (n_relu,), or (K, n_relu) for an ensemble
    """
    x = model.check_input(X, "X")
    fractions = []
    with np.errstate(over="ignore", invalid="ignore"):
        for layer in model.layers:
            if isinstance(layer, ReLU):
                # a unit is dead when its input is <= 0 for all samples; the mask
                # saved by forward says where it was positive
                x = layer.forward(x, False)
                fractions.append((~layer._mask).all(axis=-2).mean(axis=-1))
            else:
                x = layer.forward(x, False)
    if not fractions:
        return np.zeros((0,) if model.n_models is None else (model.n_models, 0))
    return np.stack(fractions, axis=-1)


def relu_inputs(model, X, training=True):
    """The input of each ReLU layer (its pre-activation) for the samples ``X``.

    Computed on a copy of ``model``, so a training-mode pass leaves the
    ``BatchNorm`` running statistics where they were.

    Parameters
    ----------
    model : MLP
    X : array_like of shape (n, sizes[0])
    training : bool, default True
        Training mode shows what the network sees while it learns (``BatchNorm``
        with batch statistics); False shows evaluation mode.

    Returns
    -------
    list of ndarray, one per ReLU layer, of shape (n, width) or (K, n, width)
    """
    x = model.check_input(X, "X")
    probe = model.copy()
    inputs = []
    with np.errstate(over="ignore", invalid="ignore"):
        for layer in probe.layers:
            if isinstance(layer, ReLU):
                inputs.append(x)
            x = layer.forward(x, training)
    return inputs


class ReluInputRecorder:
    """Training callback: the ReLU layers' inputs at chosen epochs.

    Parameters
    ----------
    model : MLP
        The model about to be trained; its state before any update is step 0.
    X : array_like of shape (n, sizes[0])
        The samples to record (usually the training inputs).
    steps : iterable of int
        Numbers of epochs after which to record (in full-batch training, an
        epoch is one gradient step); 0 is recorded at construction if listed.

    Attributes
    ----------
    seen : dict of int to list of ndarray
        Step -> ``relu_inputs(model, X)`` at that step.
    """

    def __init__(self, model, X, steps):
        self.X = X
        self.steps = {check_int(s, "step", minimum=0) for s in steps}
        self.seen = {}
        if 0 in self.steps:
            self.seen[0] = relu_inputs(model, X)

    def __call__(self, epoch, model, loss):
        # called after the update of `epoch`, so epoch + 1 steps have been taken
        if epoch + 1 in self.steps:
            self.seen[epoch + 1] = relu_inputs(model, self.X)
        return False


# -- update-to-weight ratio --------------------------------------------------------
class UpdateRatio:
    """Training callback: per-layer size of each update relative to the weights.

    After every epoch (one update in full-batch training) it records
    ``||W_new - W_old|| / ||W_old||`` (Frobenius
    norms) for each ``Dense`` layer. Around 1e-3 per step is the usual healthy
    range; much smaller means the layer barely learns, near 1 or more means
    each step rewrites the weights.

    Parameters
    ----------
    model : MLP
        The model that will be trained (a single network or an ensemble).

    Attributes
    ----------
    ratios : ndarray of shape (epochs_run, n_dense), or (epochs_run, K, n_dense)

    Examples
    --------
    >>> tracker = UpdateRatio(model)
    >>> hist = train(model, X, y, callback=tracker)  # doctest: +SKIP
    >>> tracker.ratios.shape  # doctest: +SKIP
    (2000, 3)
    """

    def __init__(self, model):
        if not isinstance(model, MLP):
            raise TypeError(f"model must be an MLP, got {type(model).__name__}")
        self._dense = model.dense_layers
        self._previous = [d.params["W"].copy() for d in self._dense]
        self._rows = []

    def __call__(self, epoch, model, loss):
        row = []
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for j, d in enumerate(self._dense):
                W = d.params["W"]
                old = self._previous[j]
                step = np.sqrt(((W - old) ** 2).sum(axis=(-2, -1)))
                size = np.sqrt((old**2).sum(axis=(-2, -1)))
                row.append(step / np.where(size == 0, np.nan, size))
                old[...] = W
        self._rows.append(np.stack(row, axis=-1))
        return False

    @property
    def ratios(self):
        if not self._rows:
            return np.zeros((0, len(self._dense)))
        return np.stack(self._rows)


# -- depth experiment ----------------------------------------------------------------
@dataclass(frozen=True)
class DepthResult:
    """Gradient norms at every depth, for every (activation, init, gain) setting.

    Attributes
    ----------
    depths : ndarray of int, shape (n_depths,)
        Number of hidden layers.
    labels : list of str, length n_settings
        E.g. "sigmoid, small_uniform" or "relu, he x1.5".
    first_layer : ndarray of shape (n_settings, n_depths, n_seeds)
        Norm of the first Dense layer's weight gradient.
    factor : ndarray of shape (n_settings, n_depths)
        Median over seeds of the geometric-mean factor by which the gradient
        norm (with respect to the activations) changes per hidden layer on its
        way back: above 1 it grows, below 1 it shrinks. NaN for depth 1.
    """

    depths: np.ndarray
    labels: list
    first_layer: np.ndarray
    factor: np.ndarray

    def median(self):
        """Median first-layer gradient norm over seeds, shape (n_settings, n_depths)."""
        return np.median(self.first_layer, axis=-1)


def depth_experiment(depths=(1, 2, 4, 8, 16), settings=(("sigmoid", "small_uniform"), ("relu", "he")), width=32,
                     n_samples=256, n_seeds=8, rng=0, batchnorm=False):
    """The gradient reaching the first layer of ever deeper networks, at initialization.

    For each setting and depth, ``n_seeds`` networks ``[width] + [width] * depth + [1]``
    (linear output) see the same standard-normal inputs; the same random
    upstream gradient (standard normal, divided by ``n_samples``) is sent
    back from the output. Backpropagation multiplies it by one factor per
    layer (the weights times the activation's slope), so the first layer's
    gradient norm behaves like that factor to the power of the depth.

    Parameters
    ----------
    depths : sequence of int
        Numbers of hidden layers, each at least 1.
    settings : sequence of (activation, init) or (activation, init, gain)
        ``activation`` in {"relu", "tanh", "sigmoid"}, ``init`` in
        {"he", "xavier", "small_uniform"}; ``gain`` (default 1) multiplies
        every initial weight, e.g. 1.5 to make a ReLU network explode.
    width : int, default 32
    n_samples : int, default 256
    n_seeds : int, default 8
    rng : None, int or Generator
        Draws the inputs, the upstream gradient and the networks' seeds.
    batchnorm : bool, default False
        Put a ``BatchNorm`` after each hidden ``Dense`` (as ``MLP(...,
        batchnorm=True)`` does) and run it in training mode, normalizing with
        the batch's own statistics, as during training. The networks' seeds
        are the same with and without it, so the two results compare the same
        weights.

    Returns
    -------
    DepthResult
    """
    depths = np.array([check_int(d, "depth", minimum=1) for d in depths])
    width = check_int(width, "width", minimum=1)
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    n_seeds = check_int(n_seeds, "n_seeds", minimum=1)
    if not isinstance(batchnorm, (bool, np.bool_)):
        raise TypeError(f"batchnorm must be True or False, got {batchnorm!r}")
    parsed = []
    for s in settings:
        if not isinstance(s, (tuple, list)) or len(s) not in (2, 3):
            raise ValueError(f"each setting must be (activation, init) or (activation, init, gain), got {s!r}")
        act = check_choice(s[0], "activation", tuple(ACTIVATIONS))
        init = check_choice(s[1], "init", tuple(INITIALIZERS))
        gain = float(s[2]) if len(s) == 3 else 1.0
        if not (np.isfinite(gain) and gain > 0):
            raise ValueError(f"gain must be a positive finite number, got {s[2]!r}")
        parsed.append((act, init, gain))
    gen = as_generator(rng)
    X = gen.normal(size=(n_samples, width))
    upstream = gen.normal(size=(n_samples, 1)) / n_samples
    seeds = gen.integers(0, 2**63 - 1, size=n_seeds)
    first = np.empty((len(parsed), len(depths), n_seeds))
    factor = np.full((len(parsed), len(depths)), np.nan)
    labels = []
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        for a, (act, init, gain) in enumerate(parsed):
            labels.append(f"{act}, {init}" + ("" if gain == 1.0 else f" x{gain:g}"))
            for b, depth in enumerate(depths):
                model = MLP([width] + [width] * int(depth) + [1], hidden=act, output=None, init=init, rng=list(seeds),
                            batchnorm=bool(batchnorm))
                if gain != 1.0:
                    for d in model.dense_layers:
                        d.params["W"] *= gain
                model._forward(X, bool(batchnorm))   # BatchNorm in training mode: batch statistics
                dy = np.broadcast_to(upstream, (n_seeds, n_samples, 1))
                back = []  # gradient norm at the input of each Dense layer, output side first
                for layer in reversed(model.layers):
                    dy = layer.backward(dy)
                    if isinstance(layer, Dense):
                        back.append(np.sqrt((dy**2).sum(axis=(-2, -1))))
                first[a, b] = np.sqrt((model.dense_layers[0].grads["W"] ** 2).sum(axis=(-2, -1)))
                if depth > 1:
                    # inputs of hidden Dense layers 2..depth+1, output side first: each
                    # step back through one hidden layer multiplies the norm by a factor
                    g = np.stack(back[: int(depth)], axis=-1)
                    factor[a, b] = np.median(np.exp(np.log(g[:, 1:] / g[:, :-1]).mean(axis=-1)))
    return DepthResult(depths, labels, first, factor)


__all__ = [
    "RunStatus", "run_status", "classify_runs",
    "seed_band", "epochs_to_reach",
    "Autopsy", "divergence_autopsy",
    "LayerSnapshot", "layer_snapshots", "dead_relu_fraction",
    "UpdateRatio",
    "DepthResult", "depth_experiment",
]
