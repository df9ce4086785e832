"""Loss surfaces of a two-weight linear model, with gradient-descent paths drawn on them.

The numbers come from :mod:`nnlib.curvature`; these helpers only draw. Every
helper takes ``ax=None`` (a new figure and axes when None) and returns the
matplotlib artists it drew.
"""

from __future__ import annotations

import numpy as np

from .. import curvature


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(4.2, 3.6))
    return ax


def plot_loss_surface(w0_values, w1_values, L, ax=None, levels=12, minimum=None, cmap="viridis", labels=("w", "b")):
    """Contours of a loss on a grid of two weights, spaced evenly in log(loss - minimum).

    Parameters
    ----------
    w0_values : array_like of shape (g0,)
        First weight, along the x-axis.
    w1_values : array_like of shape (g1,)
        Second weight, along the y-axis.
    L : array_like of shape (g1, g0)
        The loss, as :func:`nnlib.curvature.loss_surface` returns it.
    ax : matplotlib Axes, optional
    levels : int, default 12
        Number of contour lines.
    minimum : float, optional
        The lowest loss of the model (e.g. from :func:`nnlib.curvature.least_squares`);
        contours are placed on ``L - minimum`` so the rings near the optimum show.
        Defaults to the smallest value on the grid.
    cmap : str, default "viridis"
    labels : (str, str), default ("w", "b")
        Axis labels.

    Returns
    -------
    matplotlib.contour.QuadContourSet
    """
    ax = _axes(ax)
    L = np.asarray(L, dtype=np.float64)
    w0_values = np.asarray(w0_values, dtype=np.float64)
    w1_values = np.asarray(w1_values, dtype=np.float64)
    if L.shape != (w1_values.size, w0_values.size):
        raise ValueError(f"L must have shape (len(w1_values), len(w0_values)) = {(w1_values.size, w0_values.size)}, got {L.shape}")
    low = float(np.min(L)) if minimum is None else float(minimum)
    excess = np.maximum(L - low, 0.0)
    top = float(excess.max())
    if top <= 0:
        raise ValueError("the loss is constant on this grid; widen the grid")
    floor = top * 1e-4
    lv = np.geomspace(floor, top, int(levels))
    cs = ax.contour(w0_values, w1_values, np.maximum(excess, floor * 0.5), levels=lv, cmap=cmap, linewidths=0.9)
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_aspect("equal", adjustable="box")
    return cs


def plot_gd_path(path, ax=None, color="C3", label=None, every=1, markersize=3):
    """A gradient-descent path through weight space, start marked with a square.

    Parameters
    ----------
    path : array_like of shape (steps + 1, 2)
        Weights after each step (``path[0]`` the start), e.g. from
        :func:`nnlib.curvature.gradient_descent_path`.
    ax : matplotlib Axes, optional
    color : str, default "C3"
    label : str, optional
    every : int, default 1
        Draw every ``every``-th point (long paths stay readable).
    markersize : float, default 3

    Returns
    -------
    list of matplotlib.lines.Line2D
        The path and the start marker.
    """
    ax = _axes(ax)
    path = np.asarray(path, dtype=np.float64)
    if path.ndim != 2 or path.shape[1] != 2:
        raise ValueError(f"path must have shape (steps + 1, 2), got {path.shape}")
    shown = path[:: max(int(every), 1)]
    if len(path) and not np.array_equal(shown[-1], path[-1]):
        shown = np.vstack([shown, path[-1:]])
    (line,) = ax.plot(shown[:, 0], shown[:, 1], "-o", color=color, lw=1.0, markersize=markersize, label=label)
    (start,) = ax.plot(path[0, 0], path[0, 1], "s", color=color, markersize=markersize + 3)
    return [line, start]


def plot_surface_with_path(X, y, lr, epochs, w_init, w0_values, w1_values, ax=None, color="C3", label=None, title=None):
    """A two-weight model's loss contours and the path gradient descent takes on them.

    Parameters
    ----------
    X : array_like of shape (n, 1)
        One input feature; the second weight is the bias.
    y : array_like of shape (n, 1)
    lr : float
    epochs : int
    w_init : array_like of shape (2,)
        Start (slope, bias).
    w0_values, w1_values : array_like
        Grid of slopes (x-axis) and biases (y-axis).
    ax : matplotlib Axes, optional
    color, label, title : optional

    Returns
    -------
    dict
        ``"contours"``, ``"path"`` (the artists) and ``"losses"``, ndarray of
        shape (epochs + 1,): the loss along the path.
    """
    ax = _axes(ax)
    _, best = curvature.least_squares(X, y)
    L = curvature.loss_surface(X, y, w0_values, w1_values)
    cs = plot_loss_surface(w0_values, w1_values, L, ax=ax, minimum=best)
    path, losses = curvature.gradient_descent_path(X, y, lr, epochs, w_init=w_init)
    lines = plot_gd_path(path, ax=ax, color=color, label=label)
    ax.set_xlim(np.min(w0_values), np.max(w0_values))
    ax.set_ylim(np.min(w1_values), np.max(w1_values))
    if title:
        ax.set_title(title, fontsize=10)
    return {"contours": cs, "path": lines, "losses": losses}
