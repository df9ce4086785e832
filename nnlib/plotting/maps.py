"""Stability maps: learning rate x seed heatmaps of a :class:`~nnlib.sweep.SweepResult`.

A cell's colour is the number of epochs its run needed to reach the target;
runs that did not get there are drawn in their outcome's flat colour with its
marker (:data:`nnlib.outcomes.STYLE`), so slow, spiked, stalled and diverged
runs are told apart at a glance (and in greyscale).
"""

from __future__ import annotations

import numpy as np

from ..outcomes import OUTCOMES, STYLE
from ..sweep import SweepResult
from .curves import _axes, plot_band

# Flat colours and markers (the tutorial's one style per outcome) for the runs
# that did not converge; converged cells are coloured by their epochs instead.
FAILED_STYLE = {o: STYLE[o] for o in OUTCOMES if o != "converged"}


def plot_stability_map(result, setting, ax=None, vmax=None, cmap="cividis", colorbar=False):
    """Heatmap of one setting: learning rate (rows) x seed (columns).

    Parameters
    ----------
    result : SweepResult
    setting : str
        One of ``result.settings``.
    ax : matplotlib Axes, optional
    vmax : float, optional
        Top of the colour scale (epochs); default the sweep's epoch budget, so
        maps of one problem share a scale.
    cmap : str, default "cividis"
        For the converged cells' epochs (chosen to clash with no outcome colour).
    colorbar : bool, default False
        Add a colour bar for the epochs.

    Returns
    -------
    dict
        ``"image"`` (AxesImage of the converged cells), ``"failed"`` (dict of
        outcome to the scatter of its markers) and ``"colorbar"``
        (or None).
    """
    if not isinstance(result, SweepResult):
        raise TypeError(f"result must be a SweepResult, got {type(result).__name__}")
    ax = _axes(ax)
    epochs = result.grid("epochs_to_target", setting)
    outcome = result.grid("outcome", setting)
    n_lr, n_seed = epochs.shape
    vmax = result.epochs if vmax is None else vmax
    converged = np.where(outcome == "converged", epochs, np.nan)
    # Background: each failed outcome's flat colour, under the epochs image.
    from matplotlib.colors import ListedColormap

    codes = np.full(outcome.shape, np.nan)
    names = list(FAILED_STYLE)
    for i, name in enumerate(names):
        codes[outcome == name] = i
    ax.imshow(codes, cmap=ListedColormap([FAILED_STYLE[n]["color"] for n in names]), vmin=-0.5, vmax=len(names) - 0.5, origin="lower", aspect="auto", interpolation="nearest")
    image = ax.imshow(converged, cmap=cmap, vmin=0, vmax=vmax, origin="lower", aspect="auto", interpolation="nearest")
    failed = {}
    for name in names:
        rows, cols = np.nonzero(outcome == name)
        style = FAILED_STYLE[name]
        failed[name] = ax.scatter(cols, rows, marker=style["marker"], s=18, color="black", linewidths=1.0, label=style["label"])
    ax.set_xticks(np.arange(n_seed))
    ax.set_xticklabels([str(s) for s in result.seeds], fontsize=7)
    ax.set_yticks(np.arange(n_lr))
    ax.set_yticklabels([f"{lr:g}" for lr in result.lrs], fontsize=8)
    ax.set_xlabel("seed")
    ax.set_ylabel("learning rate")
    ax.set_title(f"{result.problem}: {setting}", fontsize=10)
    cbar = None
    if colorbar:
        cbar = ax.figure.colorbar(image, ax=ax, shrink=0.85)
        cbar.set_label(f"epochs to {result.metric} >= {result.target:g}")
    return {"image": image, "failed": failed, "colorbar": cbar}


def plot_stability_maps(results, settings=None, figsize=None):
    """Side-by-side maps: one row per problem, one column per setting.

    Parameters
    ----------
    results : SweepResult or sequence of SweepResult
        One per problem.
    settings : sequence of str, optional
        Default: the first result's settings.
    figsize : (float, float), optional

    Returns
    -------
    fig : matplotlib Figure
    axes : ndarray of Axes, shape (n_problems, n_settings)
    drawn : list of list of dict
        What :func:`plot_stability_map` returned for each panel.
    """
    import matplotlib.pyplot as plt

    results = [results] if isinstance(results, SweepResult) else list(results)
    if not results or not all(isinstance(r, SweepResult) for r in results):
        raise TypeError("results must be a SweepResult or a non-empty list of them")
    settings = results[0].settings if settings is None else tuple(settings)
    n_rows, n_cols = len(results), len(settings)
    figsize = (4.2 * n_cols + 1.2, 3.2 * n_rows + 0.8) if figsize is None else figsize
    fig, axes = plt.subplots(n_rows, n_cols, figsize=figsize, squeeze=False, constrained_layout=True)
    drawn = []
    for i, res in enumerate(results):
        row = [plot_stability_map(res, s, ax=axes[i, j]) for j, s in enumerate(settings)]
        for ax in axes[i, 1:]:
            ax.set_ylabel("")
        cbar = fig.colorbar(row[-1]["image"], ax=list(axes[i]), shrink=0.9, pad=0.01)
        cbar.set_label(f"epochs to {res.metric}\n>= {res.target:g}", fontsize=8)
        drawn.append(row)
    from matplotlib.lines import Line2D

    # Each legend entry: the flat colour with the marker on top, as in the cells.
    handles = [
        (Line2D([], [], marker="s", markersize=11, linestyle="", color=style["color"]),
         Line2D([], [], marker=style["marker"], markersize=5, linestyle="", color="black"))
        for style in FAILED_STYLE.values()
    ]
    labels = [style["label"] for style in FAILED_STYLE.values()]
    fig.legend(handles, labels, loc="outside lower center", ncol=len(handles), fontsize=8, frameon=False)
    return fig, axes, drawn


def plot_sweep_losses(result, setting, lrs=None, ax=None, scale=1.0, ceiling=1e4):
    """Loss curves of one setting as median bands over seeds, one colour per learning rate.

    A run that reached its target is held at the loss it stopped at; a run
    that diverged drops out of the band (see
    :meth:`~nnlib.sweep.SweepResult.loss_curves_held`).

    Parameters
    ----------
    result : SweepResult
    setting : str
    lrs : sequence of float, optional
        Which learning rates to draw; default all of them.
    ax : matplotlib Axes, optional
    scale : float, default 1.0
        Multiplies the losses (e.g. to show an MSE in original units).
    ceiling : float, default 1e4
        Losses above ``ceiling`` times the largest first-epoch loss of the
        setting are drawn at that level (a spike can reach 1e300, which no
        log axis can show); a triangle marks where each learning rate's band
        first leaves the axis, and a note says so. The axis otherwise ends
        just above the highest loss drawn.

    Returns
    -------
    dict of float to (Line2D, PolyCollection)
        The median line and min-max band of each learning rate.
    """
    if not isinstance(result, SweepResult):
        raise TypeError(f"result must be a SweepResult, got {type(result).__name__}")
    ax = _axes(ax)
    lrs = result.lrs if lrs is None else np.asarray(lrs, dtype=float)
    # A finite spike near the float limit times ``scale`` overflows to inf: it
    # is above the axis either way, so it is clipped like any other spike.
    with np.errstate(over="ignore"):
        starts = result.loss_curves[result.setting == setting][:, 0] * scale
    top = ceiling * np.nanmax(np.where(np.isfinite(starts), starts, np.nan))
    drawn = {}
    highest = []
    for i, lr in enumerate(lrs):
        with np.errstate(over="ignore"):
            curves = result.loss_curves_held(setting, lr) * scale
        if not np.isfinite(curves).any():
            continue
        clipped = ~np.isnan(curves) & (curves > top)
        curves = np.where(clipped, top, curves)
        color = f"C{i % 10}"
        drawn[float(lr)] = plot_band(curves.T, ax=ax, color=color, label=f"lr {lr:g}", alpha=0.15)
        highest.append(np.nanmax(curves))
        if clipped.any():  # say so where a curve leaves the axis, rather than draw a false plateau
            first = int(np.argmax(clipped.any(axis=0)))
            ax.plot([first], [top], marker="^", color=color, ms=7, clip_on=False, zorder=5)
    ax.set_yscale("log")
    if highest:
        ax.set_ylim(top=float(np.nanmax(highest)) * 1.5)
    if any(np.isclose(h, top) for h in highest):
        ax.annotate(f"\u25b2 loss above {top:.2g}, drawn at that level", xy=(0.99, 0.99), xycoords="axes fraction",
                    ha="right", va="top", fontsize=7)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.set_title(f"{result.problem}: {setting}", fontsize=10)
    if drawn:
        ax.legend(fontsize=7, frameon=False)
    return drawn
