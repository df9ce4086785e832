"""Gradient descent and the ``History`` it returns."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np

from ._validation import _short, as_generator, check_array, check_int, check_labels, check_positive_finite, check_same_rows
from .layers import BatchNorm, Dense, Sigmoid, _sigmoid
from .losses import MSE, BinaryCrossEntropy, get_loss
from .metrics import METRICS, for_fixed_targets
from .network import _clear_cache

#: The most memory, in bytes, that ``train`` preallocates for a ``History``
#: (8 bytes per recorded number). Beyond it ``train`` refuses: train in shorter
#: calls instead, each continues from the model's current weights.
HISTORY_MAX_BYTES = 2 * 1024**3


@dataclass
class History:
    """What one call of :func:`train` recorded, one row per epoch run.

    For a single network:

    Attributes
    ----------
    loss : ndarray of shape (epochs_run,)
        Training loss of each epoch, computed before that epoch's update (for
        mini-batches, the mean over the epoch's batches).
    grad_norms : ndarray of shape (epochs_run, n_dense)
        Frobenius norm of each ``Dense`` layer's weight gradient, per epoch
        (with mini-batches, the mean of the batches' norms weighted by batch size).
    diverged_at : int or None
        The 0-based epoch whose loss was not finite. Training stopped there: the
        last row of ``loss`` holds that value and no update was made from it
        (with mini-batches: from the batch whose loss was not finite), neither
        to the weights nor to the ``BatchNorm`` running statistics.
    metrics : dict of str to ndarray of shape (epochs_run,)
        Each requested metric, evaluated on the same forward pass as the loss.
    max_abs_weight : ndarray of shape (epochs_run, n_dense) or None
        Largest absolute weight of each ``Dense`` layer before each epoch's
        update, if ``track_weights`` was set.
    lr : float
    epochs : int
        The number of epochs asked for; ``epochs_run`` may be fewer.

    For an ensemble of K networks every per-epoch array gains a model axis
    after the epoch axis (``loss`` (epochs_run, K), ``grad_norms``
    (epochs_run, K, n_dense)), ``diverged_at`` is a list of K entries, ``lr`` a
    vector, and a network's values after it diverged are NaN. Training stops
    when every network has diverged. ``run(k)`` gives network k's History as
    if it had been trained alone: the same losses, metrics and weights bit for
    bit, and gradient norms equal up to rounding in the last bit (a single
    network's norms are summed in a different order, which is faster).
    """

    loss: np.ndarray
    grad_norms: np.ndarray
    diverged_at: object = None
    metrics: dict = field(default_factory=dict)
    max_abs_weight: np.ndarray | None = None
    lr: object = None
    epochs: int = 0
    stopped_early: bool = False

    @property
    def n_models(self):
        """K for an ensemble History, None for a single network's."""
        return self.loss.shape[1] if self.loss.ndim == 2 else None

    @property
    def epochs_run(self):
        return self.loss.shape[0]

    @property
    def diverged(self):
        """True if the run diverged (for an ensemble: a bool array of shape (K,))."""
        if self.n_models is None:
            return self.diverged_at is not None
        return np.array([d is not None for d in self.diverged_at])

    @property
    def final_loss(self):
        """The last recorded loss (for an ensemble, a vector: each network's last, which is
        the non-finite value of the epoch where it diverged, if it did)."""
        if self.n_models is None:
            return float(self.loss[-1])
        return self.loss[self.last_epochs(), np.arange(self.n_models)]

    def last_epochs(self):
        """Ensemble only: each network's last recorded epoch (its divergence epoch, if it diverged), shape (K,)."""
        if self.n_models is None:
            raise ValueError("last_epochs() needs an ensemble History; a single network's last epoch is epochs_run - 1")
        return np.array([self.epochs_run - 1 if d is None else d for d in self.diverged_at])

    def run(self, k):
        """Network ``k``'s History, trimmed where it diverged."""
        if self.n_models is None:
            raise ValueError("run(k) needs an ensemble History; this one is a single network's")
        k = check_int(k, "k", minimum=0)
        if k >= self.n_models:
            raise ValueError(f"k must be below the ensemble size {self.n_models}, got {k}")
        d = self.diverged_at[k]
        end = self.epochs_run if d is None else d + 1
        return History(
            loss=self.loss[:end, k].copy(),
            grad_norms=self.grad_norms[:end, k].copy(),
            diverged_at=d,
            metrics={name: v[:end, k].copy() for name, v in self.metrics.items()},
            max_abs_weight=None if self.max_abs_weight is None else self.max_abs_weight[:end, k].copy(),
            lr=float(self.lr[k]),
            epochs=self.epochs,
            stopped_early=self.stopped_early,
        )

    def __repr__(self):
        if self.n_models is None:
            state = f"diverged at epoch {self.diverged_at}" if self.diverged_at is not None else f"final loss {self.loss[-1]:.4g}"
            return f"History(epochs_run={self.epochs_run} of {self.epochs}, lr={self.lr:g}, {state})"
        n_div = int(self.diverged.sum())
        return f"History(n_models={self.n_models}, epochs_run={self.epochs_run} of {self.epochs}, {n_div} diverged)"


def train(model, X, y, loss="bce", lr=0.1, epochs=2000, batch_size=None, rng=None, metrics=None, verbose=0, callback=None, track_weights=False,
          clip_norm=None):
    """Train ``model`` in place by (mini-batch) gradient descent.

    Parameters
    ----------
    model : MLP
        A single network or an ensemble of K.
    X : array_like of shape (n, sizes[0]), or (K, n, sizes[0]) for an ensemble
        Inputs; a 2-D array is shared by every network of an ensemble.
    y : array_like of shape (n, sizes[-1])
        Targets.
    loss : {"bce", "mse"} or a loss object, default "bce"
        With a sigmoid output, "bce" is computed from the pre-sigmoid values,
        which is exact and never overflows.
    lr : float, or array_like of shape (K,) for an ensemble
        Learning rate; positive and finite. A vector gives each network its own.
    epochs : int, default 2000
        Passes over the data (at least 1).
    batch_size : int or None, default None
        None: full batch. Otherwise the data is shuffled with ``rng`` every epoch
        and split into batches of this size (the last may be smaller).
    rng : None, int or Generator
        Only used to shuffle mini-batches (but always checked).
    metrics : sequence of str, or dict of str to callable, optional
        Recorded every epoch on the training forward pass, e.g. ``["accuracy"]``;
        a callable takes ``(y_hat, y)`` and returns a float (or (K,) vector).
        Each callable is tried once on the untrained model's output before
        training, so one that raises or returns the wrong shape fails with a
        ValueError before any update.
    verbose : int, default 0
        If positive, print the loss every ``verbose`` epochs. Nothing else prints.
    callback : callable, optional
        ``callback(epoch, model, loss)`` after each epoch's update; returning True stops training.
        It is shown the whole model every epoch, so an ensemble then trains
        all its networks together (see Notes).
    track_weights : bool, default False
        Also record each Dense layer's largest absolute weight every epoch.
    clip_norm : float, optional
        Gradient clipping by norm: before each update, a network whose gradient
        (all its parameters together, one vector) is longer than ``clip_norm``
        has it scaled down to that length; the direction is kept. ``grad_norms``
        records the gradients before clipping. None (the default) never clips.

    Returns
    -------
    History

    Raises
    ------
    ValueError, TypeError
        For bad input, before any state changes: among others, labels outside
        [0, 1] with "bce", a training batch of 1 sample for a network with
        BatchNorm, or a History larger than :data:`HISTORY_MAX_BYTES`.

    Notes
    -----
    Divergence is not an error: when the loss becomes NaN or infinite,
    training stops (for an ensemble, that network freezes) and ``History``
    says where. Overflow inside the loop is expected then, so numpy's floating
    point warnings are silenced inside it only, with ``np.errstate``.

    When training ends the layers drop their forward caches, so the model does
    not keep a reference to ``X`` (or carry it into a pickle).
    An ensemble of more than :data:`BLOCK` networks trains in blocks of at
    most that many, one after the other, and a network that diverged is no
    longer computed: it is set aside with its last finite weights. Networks
    never mix, so History and weights are the same, bit for bit, as when
    every network is computed every epoch. That is still what happens when
    something looks at the whole ensemble each epoch: a ``callback``,
    ``verbose`` printing, or a metric given as a callable other than nnlib's
    own (which may combine networks).
    """
    n_models = model.n_models
    X, y, loss_fn = check_model_data(model, X, y, loss)
    lr = check_positive_finite(lr, "lr", n_models=n_models)
    epochs = check_int(epochs, "epochs", minimum=1)
    verbose = check_int(verbose, "verbose", minimum=0)
    n = X.shape[-2]
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", minimum=1)
    full_batch = batch_size is None or batch_size >= n
    gen = as_generator(rng)  # checked even when full-batch training leaves it unused
    metric_fns = _resolve_metrics(metrics)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {callback!r}")
    if clip_norm is not None:
        clip_norm = check_positive_finite(clip_norm, "clip_norm")
    _check_batch_sizes(model, n, None if full_batch else batch_size)
    _check_history_size(model, epochs, len(metric_fns), track_weights)
    _check_metric_outputs(model, X, y, metric_fns)

    shape = (epochs,) if n_models is None else (epochs, n_models)
    hist = _empty_history(shape, sum(isinstance(layer, Dense) for layer in model.layers), metric_fns, track_weights)
    hist.lr = lr if n_models is None else lr.copy()
    hist.epochs = epochs
    loop = _Loop(loss_fn, y, None if full_batch else batch_size, metric_fns, track_weights, epochs, clip_norm)
    # An ensemble trains in blocks of at most BLOCK networks, and a network that
    # diverged is dropped from its block (see _train_blocks), unless something
    # looks at the whole ensemble every epoch: a callback, the verbose printout,
    # or a metric that is not one of nnlib's own per-network ones.
    whole = n_models is None or callback is not None or verbose or any(fn not in METRICS.values() for fn in metric_fns.values())
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        if whole:
            end, hist.stopped_early = loop.run(model.layers, X, lr, gen, hist, 0, model=model, callback=callback, verbose=verbose)
        else:
            end = _train_blocks(loop, model, X, lr, gen, hist)
    # Forget the last batch each layer cached for backward: a trained model
    # should not keep (and pickle) its training data.
    for layer in model.layers:
        _clear_cache(layer)
    hist.loss = _trim(hist.loss, end)
    hist.grad_norms = _trim(hist.grad_norms, end)
    hist.metrics = {name: _trim(v, end) for name, v in hist.metrics.items()}
    if track_weights:
        hist.max_abs_weight = _trim(hist.max_abs_weight, end)
    if n_models is not None:
        _blank_after_divergence(hist)
    return hist


def check_model_data(model, X, y, loss):
    """Check that ``model`` can be trained on ``(X, y)`` with ``loss``; return them ready to use.

    Parameters
    ----------
    model : MLP
    X : array_like of shape (n, sizes[0]) (or (K, n, sizes[0]) for an ensemble)
    y : array_like of shape (n, sizes[-1])
    loss : {"bce", "mse"} or a loss object

    Returns
    -------
    X : ndarray
    y : ndarray of shape (n, sizes[-1])
    loss_fn : MSE or BinaryCrossEntropy
    """
    X = model.check_input(X, "X")
    y = check_array(y, "y", ndim=2)
    check_same_rows(X, y)
    if y.shape[1] != model.sizes[-1]:
        raise ValueError(f"y has {y.shape[1]} columns, but the model has {model.sizes[-1]} outputs")
    loss_fn = get_loss(loss)
    if isinstance(loss_fn, BinaryCrossEntropy):
        if not isinstance(model.layers[-1], Sigmoid):
            raise ValueError(
                f"loss 'bce' needs probabilities: a model whose output is a sigmoid (MLP(..., output='sigmoid')); "
                f"this model's last layer is {model.layers[-1]!r}"
            )
        check_labels(y)
    return X, y, loss_fn


#: Largest number of networks an ensemble trains at once. Past this, the
#: per-sample arrays of the forward and backward pass outgrow the CPU caches and
#: each network-epoch gets slower; benchmarks/block_size.py measures the choice.
BLOCK = 16


def _empty_history(shape, n_dense, metric_fns, track_weights):
    """A History whose per-epoch arrays of leading shape ``shape`` are all NaN."""
    return History(
        loss=np.full(shape, np.nan),
        grad_norms=np.full(shape + (n_dense,), np.nan),
        diverged_at=None if len(shape) == 1 else [None] * shape[1],
        metrics={name: np.full(shape, np.nan) for name in metric_fns},
        max_abs_weight=np.full(shape + (n_dense,), np.nan) if track_weights else None,
    )


def _train_blocks(loop, model, X, lr, gen, hist):
    """Train an ensemble block by block, each block without its diverged networks.

    The networks of an ensemble never mix: network k's numbers depend only on
    its own weights (every operation works per slice of the model axis). So a
    block of them can train as a smaller ensemble of copies, and a network
    that diverged can leave its block once its last finite weights are written
    back, giving the same History and weights, bit for bit, as training the
    whole ensemble together. Mini-batch blocks each shuffle with a copy of
    ``gen``, so every block sees the batches the whole ensemble would, and
    ``gen`` ends where the longest block left its copy.

    Parameters
    ----------
    loop : _Loop
    model : MLP, an ensemble of K
    X : ndarray of shape (n, features) or (K, n, features)
    lr : ndarray of shape (K,)
    gen : Generator or None
        The mini-batch shuffler (None for full batch).
    hist : History
        Filled in place: columns of the per-epoch arrays and ``diverged_at``.

    Returns
    -------
    int
        The number of epochs run (by the longest block).
    """
    K = model.n_models
    blocks = [np.arange(b, min(b + BLOCK, K)) for b in range(0, K, BLOCK)]
    longest, last_gen = 0, gen
    for idx in blocks:
        g = gen if len(blocks) == 1 or gen is None else copy.deepcopy(gen)
        layers = _select(model.layers, idx)
        start = 0
        while True:
            rec = _empty_history((loop.epochs, len(idx)), hist.grad_norms.shape[-1], loop.metric_fns, loop.track_weights)
            end, _ = loop.run(layers, X if X.ndim == 2 else X[idx], lr[idx], g, rec, start, drop=True)
            rows = slice(start, end)
            hist.loss[rows, idx] = rec.loss[rows]
            hist.grad_norms[rows, idx] = rec.grad_norms[rows]
            for name, values in rec.metrics.items():
                hist.metrics[name][rows, idx] = values[rows]
            if loop.track_weights:
                hist.max_abs_weight[rows, idx] = rec.max_abs_weight[rows]
            alive = np.array([d is None for d in rec.diverged_at])
            for i in np.flatnonzero(~alive):
                hist.diverged_at[idx[i]] = rec.diverged_at[i]
            if end == loop.epochs or not alive.any():
                _put(model.layers, layers, idx)
                break
            # Freeze the networks that diverged at their last finite weights
            # and go on with the others only.
            _put(model.layers, layers, idx, ~alive)
            layers = _select(layers, np.flatnonzero(alive))
            idx = idx[alive]
            start = end
        if end > longest:
            longest, last_gen = end, g
    if gen is not None and last_gen is not gen:
        gen.bit_generator.state = last_gen.bit_generator.state
    return longest


def _select(layers, idx):
    """Copies of ensemble layers holding only networks ``idx`` (an int array)."""
    out = []
    for layer in layers:
        new = copy.copy(layer)
        new.params = {key: v[idx] for key, v in layer.params.items()}
        new.grads = {key: v[idx] for key, v in layer.grads.items()}
        if isinstance(layer, BatchNorm):
            new.running_mean = layer.running_mean[idx]
            new.running_var = layer.running_var[idx]
        new._scratch = None
        _clear_cache(new)
        out.append(new)
    return out


def _put(layers, part, idx, which=None):
    """Write the networks of ``part`` (a :func:`_select` copy) back into ``layers``.

    ``which`` (a bool mask over ``part``'s networks) limits it to some of them.
    """
    if which is not None:
        idx = idx[which]
    for layer, new in zip(layers, part, strict=True):
        for key in layer.params:
            layer.params[key][idx] = new.params[key] if which is None else new.params[key][which]
            layer.grads[key][idx] = new.grads[key] if which is None else new.grads[key][which]
        if isinstance(layer, BatchNorm):
            layer.running_mean[idx] = new.running_mean if which is None else new.running_mean[which]
            layer.running_var[idx] = new.running_var if which is None else new.running_var[which]


class _Loop:
    """The epoch loop of :func:`train`, with the settings that stay fixed for a call."""

    def __init__(self, loss_fn, y, batch_size, metric_fns, track_weights, epochs, clip_norm=None):
        self.fused = fused = isinstance(loss_fn, BinaryCrossEntropy)  # a sigmoid output, checked by train
        # nnlib's own losses are used without their per-call checks (train checked
        # the data once); a subclass's methods, which may be overridden, are called.
        own = type(loss_fn) in (MSE, BinaryCrossEntropy)
        if fused:
            self.value = loss_fn._value_from_logits if own else loss_fn.value_from_logits
            self.gradient = loss_fn._gradient_from_logits if own else loss_fn.gradient_from_logits
        else:
            self.value = loss_fn._value if own else loss_fn
            self.gradient = loss_fn._gradient if own else loss_fn.gradient
        self.y = y
        self.batch_size = batch_size
        self.metric_fns = metric_fns
        # What each epoch calls: full-batch training sees the same targets every
        # epoch, so nnlib's own metrics are prepared for them once, here.
        self.epoch_metric_fns = metric_fns if batch_size is not None else {
            name: for_fixed_targets(fn, y) for name, fn in metric_fns.items()}
        self.track_weights = track_weights
        self.epochs = epochs
        self.clip_norm = clip_norm

    def run(self, layers, X, lr, gen, rec, start, drop=False, model=None, callback=None, verbose=0):
        """Train ``layers`` from epoch ``start`` on, recording into ``rec``.

        Parameters
        ----------
        layers : list of Layer
            A single network's, or an ensemble's of K networks.
        X : ndarray of shape (n, features) or (K, n, features)
        lr : float, or ndarray of shape (K,)
        gen : Generator or None
            Shuffles mini-batches; None for full batch.
        rec : History
            Per-epoch arrays with at least ``epochs`` rows, written from row
            ``start`` on; ``diverged_at`` is set (for an ensemble, a list of K
            entries filled in place).
        start : int
        drop : bool
            Ensemble only: return after the first epoch in which a network
            diverged, instead of freezing it and going on.
        model, callback, verbose
            As for :func:`train`; ``model`` is what the callback is shown.

        Returns
        -------
        end : int
            One past the last epoch run.
        stopped_early : bool
            Whether the callback stopped training.
        """
        y, fused, metric_fns = self.y, self.fused, self.epoch_metric_fns
        loss_value, loss_gradient = self.value, self.gradient
        single = not isinstance(rec.diverged_at, list)
        n = X.shape[-2]
        body = layers[:-1] if fused else layers
        backward = body[:0:-1]
        first = body[0]
        dense = [layer for layer in layers if isinstance(layer, Dense)]
        batchnorms = [layer for layer in layers if isinstance(layer, BatchNorm)]
        # All parameters (and all gradients) live in one flat array during the
        # run, so the update is two numpy calls instead of two per parameter.
        flat = _FlatParams(layers)
        lr_vec = None if single else np.array(lr, dtype=np.float64)
        step = lr if single else flat.per_element(lr_vec)
        scaled = np.empty_like(flat.params)
        full_batch = ((X, y),) if self.batch_size is None else None
        norm_row = np.empty(rec.grad_norms.shape[1:])
        # The last layer's output is left out: it is handed to the metric
        # functions, which may keep it. It is also small (one column per sample).
        # Only an ensemble's arrays are large enough for the reuse to pay (see
        # Layer._scratch); for a single network it measured no faster.
        reused = _ReusedOutputs(() if single else body[:-1])
        stopped = False
        epoch = start - 1
        with reused, flat:
            dense_grads = [d.grads["W"] for d in dense]
            for epoch in range(start, self.epochs):
                if self.track_weights:
                    for j, d in enumerate(dense):
                        rec.max_abs_weight[epoch, ..., j] = np.abs(d.params["W"]).max(axis=(-2, -1))
                batches = full_batch or _batches(X, y, self.batch_size, gen)
                epoch_loss = 0.0
                epoch_norms = 0.0
                epoch_metrics = dict.fromkeys(metric_fns, 0.0)
                for Xb, yb in batches:
                    weight = yb.shape[0] / n
                    # BatchNorm replaces its running arrays in each training forward
                    # pass, so keeping the old ones is enough to undo a diverged step.
                    running = [(b.running_mean, b.running_var) for b in batchnorms] if batchnorms else ()
                    out = Xb
                    for layer in body:
                        out = layer.forward(out, True)
                    if fused:
                        p = _sigmoid(out)
                        value = loss_value(out, yb)
                        grad = loss_gradient(out, yb, p)
                    else:
                        p = out
                        value = loss_value(out, yb)
                        grad = loss_gradient(out, yb)
                    for layer in backward:
                        grad = layer.backward(grad)
                    first.backward(grad, input_grad=False)
                    if full_batch:
                        epoch_norms = _grad_norms(dense_grads, rec.grad_norms[epoch])
                        epoch_loss = value
                    else:
                        norms = _grad_norms(dense_grads, norm_row)
                        epoch_norms = epoch_norms + weight * norms
                        epoch_loss = epoch_loss + weight * value
                    for name, fn in metric_fns.items():
                        epoch_metrics[name] = epoch_metrics[name] + weight * fn(p, yb)
                    if single:
                        if not math.isfinite(value):
                            _restore_running(batchnorms, running)
                            break
                    else:
                        bad = ~np.isfinite(value)
                        if bad.any():
                            lr_vec[bad] = 0.0  # freeze the networks that just diverged
                            step = flat.per_element(lr_vec)
                        frozen = lr_vec == 0.0
                        if frozen.any():
                            # A zero learning rate alone is not enough: 0 * inf is NaN.
                            # Zeroing the gradients keeps a frozen network's last
                            # finite weights, as a single network that stopped would.
                            for g in flat.grad_views:
                                g[frozen] = 0.0
                            _restore_running(batchnorms, running, frozen)
                    if self.clip_norm is not None:
                        flat.clip(self.clip_norm, None if single else lr_vec.size)
                    # param -= lr * grad, for every parameter at once
                    np.subtract(flat.params, np.multiply(step, flat.grads, out=scaled), out=flat.params)
                rec.loss[epoch] = epoch_loss
                if not full_batch:
                    rec.grad_norms[epoch] = epoch_norms
                for name in metric_fns:
                    rec.metrics[name][epoch] = epoch_metrics[name]
                if single:
                    if not math.isfinite(epoch_loss):
                        rec.diverged_at = epoch
                        break
                else:
                    diverged_at = rec.diverged_at
                    newly = ~np.isfinite(epoch_loss) & np.array([d is None for d in diverged_at])
                    for k in np.flatnonzero(newly):
                        diverged_at[k] = epoch
                        lr_vec[k] = 0.0
                    if newly.any():
                        step = flat.per_element(lr_vec)
                    if all(d is not None for d in diverged_at) or (drop and newly.any()):
                        break
                if verbose and (epoch % verbose == 0 or epoch == self.epochs - 1):
                    alive = [k for k, d in enumerate(rec.diverged_at or ()) if d is None]
                    shown = epoch_loss if single else np.median(epoch_loss[alive]) if alive else np.nan
                    print(f"epoch {epoch:6d}  loss {shown:.6g}")
                if callback is not None:
                    # The callback gets fresh arrays from any forward pass it makes.
                    reused.__exit__()
                    stopped = bool(callback(epoch, model, epoch_loss))
                    reused.__enter__()
                    if stopped:
                        break
        return epoch + 1, stopped


def _trim(a, end):
    """``a[:end]``, copied if shorter, so a run that stopped early does not keep every epoch's row alive."""
    return a if end == a.shape[0] else a[:end].copy()


def _check_batch_sizes(model, n, batch_size):
    """Refuse a BatchNorm network a training batch of 1 sample (see ``BatchNorm``), before any update."""
    if not any(isinstance(layer, BatchNorm) for layer in model.layers):
        return
    smallest = n if batch_size is None else (n % batch_size or batch_size)
    if smallest == 1:
        if batch_size is None:
            which = "X has a single sample"
        elif batch_size == 1:
            which = "batch_size=1"
        else:
            which = f"{n} samples in batches of {batch_size} leave a last batch of 1"
        raise ValueError(
            f"a BatchNorm network needs training batches of at least 2 samples, but {which}: a batch of 1 has "
            "variance 0, so BatchNorm outputs beta whatever the input and no gradient reaches the layers below it"
        )


def _check_history_size(model, epochs, n_metrics, track_weights):
    """Refuse to preallocate a History larger than ``HISTORY_MAX_BYTES``."""
    n_dense = sum(isinstance(layer, Dense) for layer in model.layers)
    per_epoch = 8 * (model.n_models or 1) * (1 + n_dense + n_metrics + (n_dense if track_weights else 0))
    need = per_epoch * epochs
    if need > HISTORY_MAX_BYTES:
        gib = f"{need / 1024**3:.3g}" if need < 1024**40 else "about 1e120 or more"  # epochs may be any Python int
        raise ValueError(
            f"epochs={_short(epochs)} would need {gib} GiB for the History ({per_epoch} bytes per epoch), "
            f"more than nnlib.training.HISTORY_MAX_BYTES ({HISTORY_MAX_BYTES / 1024**3:g} GiB); "
            "train in several shorter calls, each continues from the model's current weights"
        )


def _check_metric_outputs(model, X, y, metric_fns):
    """Call each user-supplied metric once before training, so a broken one fails before any update.

    It gets the untrained model's evaluation-mode output, which changes no
    state (no BatchNorm running statistics), and must return a number (for an
    ensemble of K, an array of shape (K,)).
    """
    custom = {name: fn for name, fn in metric_fns.items() if fn not in METRICS.values()}
    if not custom:
        return
    try:
        p = model._forward(X, False)
    finally:
        for layer in model.layers:
            _clear_cache(layer)
    want = () if model.n_models is None else (model.n_models,)
    for name, fn in custom.items():
        try:
            value = np.asarray(fn(p, y))
        except Exception as exc:  # any failure of user code: report which metric, keep the cause
            raise ValueError(f"metric {name!r} failed on the model's output (shape {p.shape}) and y (shape {y.shape}): {type(exc).__name__}: {exc}") from exc
        if value.shape != want or value.dtype.kind not in "biuf":
            expected = "a number" if not want else f"an array of shape {want}, one number per network"
            raise ValueError(f"metric {name!r} must return {expected}; it returned {value.dtype} of shape {value.shape} for an output of shape {p.shape}")


def _restore_running(batchnorms, running, models=None):
    """Put back the running statistics saved before a forward pass.

    Parameters
    ----------
    batchnorms : list of BatchNorm
    running : list of (running_mean, running_var), as saved
    models : ndarray of bool of shape (K,), optional
        For an ensemble, the networks to restore; the others keep their update.
    """
    for layer, (mean, var) in zip(batchnorms, running, strict=True):
        if models is None:
            layer.running_mean, layer.running_var = mean, var
        else:
            layer.running_mean = np.where(models[:, None], mean, layer.running_mean)
            layer.running_var = np.where(models[:, None], var, layer.running_var)


def _grad_norms(grads, out):
    """Frobenius norm of each weight gradient, written into ``out``.

    Parameters
    ----------
    grads : list of ndarray of shape (fan_in, fan_out) or (K, fan_in, fan_out)
    out : ndarray of shape (len(grads),) or (K, len(grads))

    Returns
    -------
    out
    """
    if out.ndim == 1:
        # vdot on one network's contiguous gradient is several times cheaper
        # than einsum's per-call parsing, and this runs every epoch. Both
        # square roots are IEEE's correctly rounded one: the same values.
        for j, g in enumerate(grads):
            out[j] = math.sqrt(np.vdot(g, g))
        return out
    for j, g in enumerate(grads):
        out[:, j] = np.einsum("kij,kij->k", g, g)
    return np.sqrt(out, out=out)


class _FlatParams:
    """Context for one training run: every parameter and gradient is a view of one flat array.

    On entry each layer's ``params`` and ``grads`` entries are replaced by
    views of ``params`` and ``grads`` (two 1-D arrays) holding the same
    values; on exit the values are copied back into the original arrays,
    which are put back, so a caller holding them sees the trained weights.
    The gradient-descent update is then one operation on the flat arrays,
    elementwise the same arithmetic as one per parameter.

    Parameters
    ----------
    layers : list of Layer
    """

    def __init__(self, layers):
        self.entries = [(layer, key) for layer in layers for key in layer.params]
        self.sizes = [layer.params[key].size for layer, key in self.entries]
        total = sum(self.sizes)
        self.params = np.empty(total)
        self.grads = np.empty(total)
        self.param_views, self.grad_views = [], []
        start = 0
        for (layer, key), size in zip(self.entries, self.sizes, strict=True):
            shape = layer.params[key].shape
            self.param_views.append(self.params[start : start + size].reshape(shape))
            self.grad_views.append(self.grads[start : start + size].reshape(shape))
            start += size
        self.originals = None

    def clip(self, max_norm, n_models=None):
        """Scale each network's whole gradient down to length ``max_norm`` where it is longer.

        A non-finite norm is left alone: that network is diverging, which
        training reports instead.
        """
        if n_models is None:
            norm = math.sqrt(float(np.dot(self.grads, self.grads)))
            if math.isfinite(norm) and norm > max_norm:
                self.grads *= max_norm / norm
            return
        sq = sum(np.einsum("ki,ki->k", g.reshape(n_models, -1), g.reshape(n_models, -1)) for g in self.grad_views)
        norm = np.sqrt(sq)
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(np.isfinite(norm) & (norm > max_norm), max_norm / norm, 1.0)
        if (factor < 1.0).any():
            for g in self.grad_views:
                g *= factor.reshape((n_models,) + (1,) * (g.ndim - 1))

    def per_element(self, lr):
        """Learning rates per model, shape (K,), spread over ``params``: shape (total,)."""
        return np.concatenate([np.repeat(lr, size // lr.size) for size in self.sizes])

    def __enter__(self):
        self.originals = []
        for (layer, key), p, g in zip(self.entries, self.param_views, self.grad_views, strict=True):
            self.originals.append((layer.params[key], layer.grads[key]))
            p[...] = layer.params[key]
            g[...] = layer.grads[key]
            layer.params[key], layer.grads[key] = p, g

    def __exit__(self, *exc):
        for (layer, key), (p, g) in zip(self.entries, self.originals, strict=True):
            p[...] = layer.params[key]
            g[...] = layer.grads[key]
            layer.params[key], layer.grads[key] = p, g
        return False


class _ReusedOutputs:
    """Context for one training pass: the layers write into arrays kept from the last epoch.

    A speed measure only (results are bit for bit the same): see
    ``Layer._scratch``. It is switched on just for the forward/backward pass, so
    a ``callback`` or metric that calls ``model.forward`` gets new arrays it may
    keep, and an interruption (Ctrl-C in a notebook) leaves the layers as they were.
    """

    def __init__(self, layers):
        self.layers = layers
        self.arrays = [{} for _ in layers]

    def __enter__(self):
        for layer, arrays in zip(self.layers, self.arrays, strict=True):
            layer._scratch = arrays

    def __exit__(self, *exc):
        for layer in self.layers:
            # Back to the class default (None), leaving no trace on the instance.
            layer.__dict__.pop("_scratch", None)
        return False


def _blank_after_divergence(hist):
    """Set an ensemble network's rows after its divergence epoch to NaN."""
    arrays = [hist.loss, hist.grad_norms, *hist.metrics.values()]
    if hist.max_abs_weight is not None:
        arrays.append(hist.max_abs_weight)
    for k, d in enumerate(hist.diverged_at):
        if d is not None:
            for a in arrays:
                a[d + 1 :, k] = np.nan


def _batches(X, y, batch_size, gen):
    order = gen.permutation(X.shape[-2])
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        yield X[..., idx, :], y[idx]


def _resolve_metrics(metrics):
    if metrics is None:
        return {}
    if isinstance(metrics, str):
        metrics = [metrics]
    if not isinstance(metrics, (dict, list, tuple)):
        raise TypeError(f"metrics must be a list of metric names such as ['accuracy'] or a dict of name to callable, got {type(metrics).__name__}: {metrics!r}")
    if isinstance(metrics, dict):
        for name, fn in metrics.items():
            if not callable(fn):
                raise TypeError(f"metric {name!r} must be callable, got {fn!r}")
        return dict(metrics)
    resolved = {}
    for name in metrics:
        if not isinstance(name, str) or name not in METRICS:
            raise ValueError(f"unknown metric {name!r}; expected one of {', '.join(map(repr, METRICS))} or a dict of callables")
        resolved[name] = METRICS[name]
    return resolved
