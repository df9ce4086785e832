"""The tutorial's one vocabulary for how a training run ended.

Every notebook, sweep, stability map, table and explorer status line names a
run's outcome with :func:`classify`, so a word means the same everywhere. The
five outcomes are exclusive; each is tested only when the ones before it fail:

``"converged"``
    The training metric reached the problem's success target
    (:attr:`nnlib.problems.Problem.target`) at some epoch of the budget. Success
    is judged the way a sweep stops a run: at the first epoch the target is met.
``"diverged"``
    The loss became non-finite (NaN or inf) before the target was met.
    Training stopped there.
``"stalled"``
    Training stopped making progress: the lowest loss of the last
    :data:`STALL_WINDOW` of the epochs run (10 %) is less than
    :data:`STALL_TOLERANCE` (0.01 %) below the lowest loss of the 10 % before
    them (see :func:`progress`). A network
    whose ReLUs all died stalls; so does one whose loss only oscillates, even
    though some parameter (for instance the output bias) still moves.
``"spiked"``
    At some epoch the loss rose above :data:`SPIKE_FACTOR` (10) times its first
    value; the run is still improving (it neither stalled nor diverged) but has
    not reached the target. It need not have come back below the spike.
``"slow"``
    Still improving at the end of the budget, without a spike: more epochs
    might get it there.

A run that spiked and then stalled is ``"stalled"`` (where it ended decides);
:func:`spiked` tells separately whether a run ever spiked.

:func:`usable_lr_range` gives the one definition of a *usable learning
rate*: at least :data:`USABLE_FRACTION` of the seeds converge there.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._validation import check_array

OUTCOMES = ("converged", "slow", "spiked", "stalled", "diverged")

#: A loss above this many times its first value is a spike.
SPIKE_FACTOR = 10.0
#: The final share of the epochs run that is searched for progress.
STALL_WINDOW = 0.1
#: A run whose lowest loss improved by less than this fraction in the window has stalled.
STALL_TOLERANCE = 1e-4
#: A learning rate is usable when at least this share of the seeds converge there.
USABLE_FRACTION = 0.75

#: One colour (Okabe-Ito, safe for colour-blind readers), one marker and one
#: legend label per outcome, used by every plot and the explorer.
STYLE = {
    "converged": {"color": "#009E73", "marker": "o", "label": "converged (reached the target)"},
    "slow": {"color": "#56B4E9", "marker": "^", "label": "slow (still improving)"},
    "stalled": {"color": "#E69F00", "marker": "s", "label": "stalled (no progress)"},
    "spiked": {"color": "#CC79A7", "marker": "*", "label": "spiked (loss > 10x its start)"},
    "diverged": {"color": "#D55E00", "marker": "x", "label": "diverged (loss not finite)"},
}


def _as_curves(values, name):
    """``values`` as (epochs, K) float, and whether the input was 1-D."""
    v = check_array(values, name, ndim=(1, 2), allow_nonfinite=True)
    return (v[:, None], True) if v.ndim == 1 else (v, False)


def diverged(loss):
    """Whether each run's loss became non-finite.

    Parameters
    ----------
    loss : array_like of shape (epochs,) or (epochs, K)
        Loss per epoch; a run's rows after it diverged may be NaN.

    Returns
    -------
    bool, or ndarray of bool of shape (K,)
    """
    v, single = _as_curves(loss, "loss")
    out = ~np.isfinite(v).all(axis=0)
    return bool(out[0]) if single else out


def spiked(loss, spike_factor=SPIKE_FACTOR):
    """Whether each run's loss ever rose above ``spike_factor`` times its first value.

    Parameters
    ----------
    loss : array_like of shape (epochs,) or (epochs, K)
    spike_factor : float, default :data:`SPIKE_FACTOR`

    Returns
    -------
    bool, or ndarray of bool of shape (K,)
    """
    v, single = _as_curves(loss, "loss")
    with np.errstate(invalid="ignore"):
        above = np.isfinite(v) & (v > spike_factor * np.abs(v[0]))
    out = above.any(axis=0)
    return bool(out[0]) if single else out


def progress(loss, window=STALL_WINDOW):
    """How much each run's lowest loss fell in the last ``window`` of its epochs against the window before.

    Parameters
    ----------
    loss : array_like of shape (epochs,) or (epochs, K)
        NaN entries (epochs after a run stopped) are ignored.
    window : float, default :data:`STALL_WINDOW`
        Share of the epochs run (at least one epoch).

    Returns
    -------
    float, or ndarray of shape (K,)
        ``(best_before - best_last) / best_before``, where ``best_last`` is the
        lowest loss of the last ``window`` of the epochs and ``best_before``
        the lowest of the same number of epochs just before: positive while
        the run still improves, 0 (or negative) once it has stopped. NaN for a
        run with fewer than two epochs.
    """
    v, single = _as_curves(loss, "loss")
    out = np.full(v.shape[1], np.nan)
    finite = np.isfinite(v)
    for k in range(v.shape[1]):
        run = v[finite[:, k], k]
        if run.size < 2:
            continue
        w = max(1, int(np.ceil(window * run.size)))
        w = min(w, run.size // 2)
        before, last = run[-2 * w : -w].min(), run[-w:].min()
        out[k] = (before - last) / abs(before) if before != 0 else 0.0
    return float(out[0]) if single else out


def classify(loss, metric=None, target=None, spike_factor=SPIKE_FACTOR, window=STALL_WINDOW, tolerance=STALL_TOLERANCE):
    """The outcome of each run, one of :data:`OUTCOMES`.

    Parameters
    ----------
    loss : array_like of shape (epochs,) or (epochs, K)
        Training loss per epoch (a History's ``loss``). A run's entries after
        it stopped (at divergence, or at its target in a sweep) may be NaN.
    metric : array_like of the shape of ``loss``, optional
        The training metric per epoch (accuracy, R^2). Without it (or without
        ``target``) no run can be "converged".
    target : float, optional
        The success target the metric must reach.
    spike_factor, window, tolerance : float
        The thresholds of "spiked" and "stalled" (module defaults).

    Returns
    -------
    str, or ndarray of str of shape (K,)
    """
    v, single = _as_curves(loss, "loss")
    n_epochs, k = v.shape
    bad = ~np.isfinite(v)
    first_bad = np.where(bad.any(axis=0), bad.argmax(axis=0), n_epochs)
    first_hit = np.full(k, n_epochs)
    if metric is not None and target is not None:
        m, _ = _as_curves(metric, "metric")
        if m.shape != v.shape:
            raise ValueError(f"metric must have the shape of loss {v.shape}, got {m.shape}")
        with np.errstate(invalid="ignore"):
            hit = m >= float(target)
        first_hit = np.where(hit.any(axis=0), hit.argmax(axis=0), n_epochs)
    # Success is judged the way a sweep stops a run: at the first epoch its
    # metric meets the target, before any non-finite loss.
    reached = first_hit < np.minimum(first_bad, n_epochs)
    out = np.full(k, "slow", dtype=object)
    out[spiked(v, spike_factor)] = "spiked"  # v is 2-D: both helpers return one value per run
    with np.errstate(invalid="ignore"):
        out[progress(v, window) < tolerance] = "stalled"
    out[first_bad < n_epochs] = "diverged"
    out[reached] = "converged"
    out = out.astype(str)
    return str(out[0]) if single else out


class LRRange(NamedTuple):
    """The usable learning rates of a sweep (see :func:`usable_lr_range`)."""

    low: float
    """Smallest usable learning rate (NaN if none is usable)."""
    high: float
    """Largest usable learning rate (NaN if none is usable)."""
    usable: np.ndarray
    """Bool array of shape (n_lrs,): which learning rates are usable."""
    converged_share: np.ndarray
    """Float array of shape (n_lrs,): the share of seeds that converged at each learning rate."""

    @property
    def decades(self):
        """Width of the range in powers of ten, ``log10(high / low)``; NaN if empty."""
        return float(np.log10(self.high / self.low)) if self.usable.any() else float("nan")

    def __str__(self):
        if not self.usable.any():
            return "none"
        return f"{self.low:.2g} .. {self.high:.2g}"


def usable_lr_range(lrs, outcomes, fraction=USABLE_FRACTION):
    """The learning rates at which at least ``fraction`` of the seeds converged.

    Parameters
    ----------
    lrs : array_like of shape (n_lrs,)
        The learning rates of the sweep, strictly increasing.
    outcomes : array_like of str, shape (n_lrs, n_seeds)
        Each run's outcome (:func:`classify`), one row per learning rate.
    fraction : float, default :data:`USABLE_FRACTION`
        In (0, 1].

    Returns
    -------
    LRRange
        ``low`` and ``high`` are the smallest and largest usable learning
        rates; ``usable`` marks each one (usable rates need not be contiguous).
    """
    lrs = check_array(lrs, "lrs", ndim=1)
    if np.any(np.diff(lrs) <= 0):
        raise ValueError(f"lrs must be strictly increasing, got {lrs.tolist()}")
    outcomes = np.asarray(outcomes)
    if outcomes.ndim == 1:
        outcomes = outcomes[:, None]
    if outcomes.ndim != 2 or outcomes.shape[0] != lrs.shape[0]:
        raise ValueError(f"outcomes must have shape (n_lrs, n_seeds) with n_lrs = {lrs.shape[0]}, got {outcomes.shape}")
    unknown = set(np.unique(outcomes).tolist()) - set(OUTCOMES)
    if unknown:
        raise ValueError(f"unknown outcome(s) {sorted(unknown)}; expected some of {OUTCOMES}")
    if isinstance(fraction, bool) or not np.isscalar(fraction) or not 0.0 < float(fraction) <= 1.0:
        raise ValueError(f"fraction must be a number in (0, 1], got {fraction!r}")
    share = (outcomes == "converged").mean(axis=1)
    usable = share >= float(fraction) - 1e-12
    if not usable.any():
        return LRRange(float("nan"), float("nan"), usable, share)
    return LRRange(float(lrs[usable].min()), float(lrs[usable].max()), usable, share)


def counts(outcomes):
    """``{outcome: count}`` for every outcome of :data:`OUTCOMES`, in that order.

    Parameters
    ----------
    outcomes : array_like of str, any shape

    Returns
    -------
    dict of str to int
    """
    outcomes = np.asarray(outcomes)
    return {o: int((outcomes == o).sum()) for o in OUTCOMES}


__all__ = [
    "OUTCOMES", "STYLE", "SPIKE_FACTOR", "STALL_WINDOW", "STALL_TOLERANCE", "USABLE_FRACTION",
    "classify", "diverged", "spiked", "progress", "counts", "usable_lr_range", "LRRange",
]
