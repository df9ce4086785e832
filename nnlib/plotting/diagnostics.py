"""Plots of :mod:`nnlib.diagnostics`: histograms per layer, dead ReLUs,
update-to-weight ratios, the depth experiment, run outcomes and the autopsy.

Every helper takes ``ax=None`` (a new figure and axes when None) and returns
the matplotlib artists it drew.
"""

from __future__ import annotations

import numpy as np

from ..diagnostics import Autopsy, DepthResult
from ..outcomes import OUTCOMES, STYLE
from .curves import _axes


def plot_histograms(snapshots, which="activation", ax=None, bins=60):
    """One outline histogram per hidden layer of its activations or their gradients.

    Parameters
    ----------
    snapshots : list of LayerSnapshot
        From :func:`nnlib.diagnostics.layer_snapshots`.
    which : {"activation", "gradient"}
    ax : matplotlib Axes, optional
    bins : int

    Returns
    -------
    list of Line2D, one per layer; each label names the layer, its mean, std
    and (for activations) the fraction of exact zeros or saturated outputs
    """
    if which not in ("activation", "gradient"):
        raise ValueError(f"which must be 'activation' or 'gradient', got {which!r}")
    ax = _axes(ax)
    lines = []
    for snap in snapshots:
        values = getattr(snap, which)
        if values is None:
            raise ValueError(f"{snap.name} has no gradient; call layer_snapshots with targets y")
        v = values.ravel()
        v = v[np.isfinite(v)]
        counts, edges = np.histogram(v, bins=bins)
        centers = 0.5 * (edges[:-1] + edges[1:])
        label = f"{snap.name}: mean {v.mean():+.2g}, std {v.std():.2g}"
        if which == "activation":
            label += f", saturated {100 * snap.saturated_fraction:.0f}%"
        (line,) = ax.plot(centers, counts / max(v.size, 1), label=label)
        lines.append(line)
    ax.set_title(f"{which} distribution per layer", fontsize=10)
    ax.set_ylabel("fraction of values")
    ax.legend(fontsize=7, frameon=False)
    return lines


def plot_dead_fraction(fractions, ax=None, labels=None):
    """Bar chart of the fraction of dead units in each ReLU layer.

    Parameters
    ----------
    fractions : array_like of shape (n_relu,)
    ax : matplotlib Axes, optional
    labels : sequence of str, optional

    Returns
    -------
    BarContainer
    """
    ax = _axes(ax)
    f = np.asarray(fractions, dtype=float).ravel()
    labels = [f"ReLU {i + 1}" for i in range(f.size)] if labels is None else list(labels)
    bars = ax.bar(labels, f, color="#7570b3")
    ax.set_ylim(0, 1)
    ax.set_ylabel("dead fraction of units")
    for bar, v in zip(bars, f, strict=True):
        ax.annotate(f"{100 * v:.0f}%", (bar.get_x() + bar.get_width() / 2, v), ha="center", va="bottom", fontsize=8)
    return bars


def plot_update_ratios(ratios, ax=None, reference=1e-3):
    """log10 of each Dense layer's update-to-weight ratio per step.

    Parameters
    ----------
    ratios : array_like of shape (steps, n_dense)
        From :class:`nnlib.diagnostics.UpdateRatio`.
    ax : matplotlib Axes, optional
    reference : float or None, default 1e-3
        Drawn as a dashed line: the usual rule of thumb for a healthy step.

    Returns
    -------
    list of Line2D, one per layer (plus the reference line last, if drawn)
    """
    ax = _axes(ax)
    r = np.asarray(ratios, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        logr = np.where(r > 0, np.log10(r), np.nan)
    lines = [ax.plot(logr[:, j], label=f"Dense {j + 1}")[0] for j in range(r.shape[1])]
    if reference is not None:
        lines.append(ax.axhline(np.log10(reference), color="k", ls="--", lw=1, label=f"{reference:g}"))
    ax.set_xlabel("step")
    ax.set_ylabel("log10 |update| / |W|")
    ax.legend(fontsize=8, frameon=False)
    return lines


def plot_depth_experiment(result, ax=None):
    """First-layer gradient norm against depth, median and min-max over seeds.

    Parameters
    ----------
    result : DepthResult
    ax : matplotlib Axes, optional

    Returns
    -------
    list of Line2D, one per setting
    """
    if not isinstance(result, DepthResult):
        raise TypeError(f"result must be a DepthResult, got {type(result).__name__}")
    ax = _axes(ax)
    lines = []
    for a, label in enumerate(result.labels):
        fl = result.first_layer[a]
        (line,) = ax.plot(result.depths, np.median(fl, axis=-1), "o-", label=label)
        ax.fill_between(result.depths, fl.min(axis=-1), fl.max(axis=-1), color=line.get_color(), alpha=0.2, linewidth=0)
        lines.append(line)
    ax.set_yscale("log")
    ax.set_xlabel("hidden layers")
    ax.set_ylabel("gradient norm at the first layer")
    ax.legend(fontsize=8, frameon=False)
    return lines


def plot_run_outcomes(lrs, kinds, ax=None):
    """Stacked bars: how many runs ended with each outcome at each learning rate.

    Colours and labels are the tutorial's one style per outcome
    (:data:`nnlib.outcomes.STYLE`); the legend sits outside the bars.

    Parameters
    ----------
    lrs : array_like of shape (n_lr,)
    kinds : array_like of str, shape (n_lr, n_seeds)
        Outcomes (:func:`nnlib.outcomes.classify`), one row per learning rate.
    ax : matplotlib Axes, optional

    Returns
    -------
    dict of str to BarContainer, keyed by outcome (only the outcomes that occur)
    """
    from matplotlib.ticker import MaxNLocator

    ax = _axes(ax)
    kinds = np.asarray(kinds)
    labels = [f"{lr:.2g}" for lr in np.asarray(lrs, dtype=float)]
    bottom = np.zeros(len(labels))
    bars = {}
    for kind in OUTCOMES:
        counts = (kinds == kind).sum(axis=1)
        if not counts.any():
            continue
        bars[kind] = ax.bar(labels, counts, bottom=bottom, color=STYLE[kind]["color"], label=STYLE[kind]["label"],
                            edgecolor="white", linewidth=0.5)
        bottom = bottom + counts
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(0, kinds.shape[1] if kinds.ndim == 2 else None)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("runs")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return bars


def plot_autopsy(autopsy, ax=None):
    """Per-layer gradient norms and largest weights over the steps before divergence.

    Parameters
    ----------
    autopsy : Autopsy
    ax : pair of matplotlib Axes, optional
        Left: gradient norms; right: largest absolute weights (if tracked).

    Returns
    -------
    list of Line2D
    """
    if not isinstance(autopsy, Autopsy):
        raise TypeError(f"autopsy must be an Autopsy, got {type(autopsy).__name__}")
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(1, 2, figsize=(9, 3.2))
    ax_g, ax_w = ax
    lines = []
    panels = [(ax_g, autopsy.grad_norms, "gradient norm")]
    if autopsy.max_abs_weight is not None:
        panels.append((ax_w, autopsy.max_abs_weight, "largest |weight|"))
    for axis, values, name in panels:
        shown = np.where(np.isfinite(values) & (values > 0), values, np.nan)
        for j in range(shown.shape[1]):
            lines.append(axis.plot(autopsy.epochs, shown[:, j], "o-", label=f"Dense {j + 1}")[0])
        axis.set_yscale("log")
        axis.set_xlabel("epoch")
        axis.set_ylabel(name)
        axis.axvline(autopsy.epochs[-1], color="k", ls=":", lw=1)
        axis.legend(fontsize=8, frameon=False)
    return lines
