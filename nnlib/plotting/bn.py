"""Plots for the batch-normalization notebook: distributions over training,
per-learning-rate summaries over seeds, and a figure rendered to PNG bytes
for small ipywidgets controls.

Every plotting helper takes ``ax=None`` (a new figure and axes when None) and
returns the matplotlib artists it drew.
"""

from __future__ import annotations

import io

import numpy as np

from .curves import _axes

QUANTILES = (5, 25, 50, 75, 95)
"""Percentiles summarized by :func:`quantile_table` and drawn by :func:`plot_quantile_bands`."""


def quantile_table(values, axis=None):
    """The 5th, 25th, 50th, 75th and 95th percentiles of ``values``.

    Parameters
    ----------
    values : array_like
    axis : int or None
        None pools every entry.

    Returns
    -------
    ndarray of shape (5,) for ``axis=None``, else (5,) + the remaining shape
    """
    return np.percentile(np.asarray(values, dtype=float), QUANTILES, axis=axis)


def plot_quantile_bands(steps, quantiles, ax=None, color="C0", label=None, alpha=0.18):
    """How a distribution moves over training: median, 25-75% and 5-95% bands.

    Parameters
    ----------
    steps : array_like of shape (m,)
        When each distribution was taken (e.g. gradient steps).
    quantiles : array_like of shape (m, 5)
        Rows of :func:`quantile_table`.
    ax : matplotlib Axes, optional
    color, label : passed to matplotlib
    alpha : float
        Opacity of the outer band (the inner one is twice as opaque).

    Returns
    -------
    (Line2D, PolyCollection, PolyCollection)
        The median line, the 25-75% band and the 5-95% band.
    """
    ax = _axes(ax)
    steps = np.asarray(steps, dtype=float)
    q = np.asarray(quantiles, dtype=float)
    if q.ndim != 2 or q.shape != (steps.shape[0], len(QUANTILES)):
        raise ValueError(f"quantiles must have shape ({steps.shape[0]}, {len(QUANTILES)}), got {q.shape}")
    outer = ax.fill_between(steps, q[:, 0], q[:, 4], color=color, alpha=alpha, linewidth=0)
    inner = ax.fill_between(steps, q[:, 1], q[:, 3], color=color, alpha=2 * alpha, linewidth=0)
    (line,) = ax.plot(steps, q[:, 2], color=color, label=label)
    return line, inner, outer


def plot_against_lr(lrs, values, ax=None, color="C0", label=None, marker="o", offset=1.0):
    """Median over seeds and min-max range of a per-run quantity, against the learning rate.

    Parameters
    ----------
    lrs : array_like of shape (n_lrs,)
    values : array_like of shape (n_lrs, n_seeds)
        NaN entries (e.g. "never reached the target") are left out; a
        learning rate with no finite value draws nothing.
    ax : matplotlib Axes, optional
    color, label, marker : passed to matplotlib
    offset : float, default 1.0
        Multiplies the learning rates where the points are drawn, so two
        series on one axis do not hide each other (e.g. 0.93 and 1.07).

    Returns
    -------
    ErrorbarContainer
    """
    ax = _axes(ax)
    lrs = np.asarray(lrs, dtype=float)
    v = np.asarray(values, dtype=float)
    if v.ndim != 2 or v.shape[0] != lrs.shape[0]:
        raise ValueError(f"values must have shape ({lrs.shape[0]}, n_seeds), got {v.shape}")
    med, low, high = np.full((3, lrs.shape[0]), np.nan)
    for i, row in enumerate(v):
        row = row[np.isfinite(row)]
        if row.size:
            med[i], low[i], high[i] = np.median(row), row.min(), row.max()
    bars = ax.errorbar(lrs * offset, med, yerr=[med - low, high - med], color=color, marker=marker, capsize=3, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    return bars


def figure_png(fig, dpi=80):
    """Render a matplotlib ``Figure`` to PNG bytes with the Agg canvas.

    For an ``ipywidgets.Image`` that is redrawn in place: no pyplot, so no
    figure piles up in the notebook and nothing flickers.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    dpi : int, default 80

    Returns
    -------
    bytes
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    buf = io.BytesIO()
    canvas.print_figure(buf, format="png", dpi=dpi)
    return buf.getvalue()


__all__ = ["QUANTILES", "quantile_table", "plot_quantile_bands", "plot_against_lr", "figure_png"]
