"""Curves over epochs (loss, gradient norms, seed bands) and a model's output over its inputs.

Every helper takes ``ax=None`` (a new figure and axes when None) and returns
the matplotlib artists it drew.
"""

from __future__ import annotations

import numpy as np

from ..diagnostics import seed_band
from ..training import History


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(5, 3.2))
    return ax


def plot_band(values, ax=None, x=None, color="C0", label=None, alpha=0.25):
    """Median line and min-max band of per-epoch curves of many runs.

    Parameters
    ----------
    values : array_like of shape (epochs, K)
        NaN entries (a run after it diverged) are ignored.
    ax : matplotlib Axes, optional
    x : array_like of shape (epochs,), optional
        Defaults to 0..epochs-1.
    color, label : passed to matplotlib
    alpha : float
        Opacity of the band.

    Returns
    -------
    (Line2D, PolyCollection)
        The median line and the min-max band.
    """
    ax = _axes(ax)
    median, low, high = seed_band(values)
    x = np.arange(median.shape[0]) if x is None else np.asarray(x)
    band = ax.fill_between(x, low, high, color=color, alpha=alpha, linewidth=0)
    (line,) = ax.plot(x, median, color=color, label=label)
    return line, band


def plot_loss(history, ax=None, color="C0", label=None, log=True, scale=1.0):
    """The training loss per epoch: one line, or a median band for an ensemble.

    Parameters
    ----------
    history : History
    ax : matplotlib Axes, optional
    color, label : passed to matplotlib
    log : bool, default True
        Logarithmic loss axis.
    scale : float, default 1.0
        Multiplies the loss, e.g. ``y_scaler.scale_[0] ** 2`` to show an MSE
        trained on standardized targets in original units.

    Returns
    -------
    Line2D, or (Line2D, PolyCollection) for an ensemble
    """
    if not isinstance(history, History):
        raise TypeError(f"history must be a History, got {type(history).__name__}")
    ax = _axes(ax)
    loss = history.loss * scale
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    if history.n_models is not None:
        return plot_band(loss, ax=ax, color=color, label=label)
    (line,) = ax.plot(np.arange(loss.shape[0]), np.where(np.isfinite(loss), loss, np.nan), color=color, label=label)
    return line


def plot_grad_norms(history, ax=None, log=True, colors=None):
    """Gradient norm of each Dense layer's weights per epoch.

    Parameters
    ----------
    history : History
        A single network's History, or an ensemble's (then the median over networks is drawn).
    ax : matplotlib Axes, optional
    log : bool, default True
    colors : sequence of colors, optional

    Returns
    -------
    list of Line2D, one per Dense layer (input side first)
    """
    if not isinstance(history, History):
        raise TypeError(f"history must be a History, got {type(history).__name__}")
    ax = _axes(ax)
    norms = history.grad_norms
    if norms.ndim == 3:
        # epochs where every network has diverged have no median: NaN, drawn as a gap
        finite = np.isfinite(norms)
        any_finite = finite.any(axis=1)
        filled = np.where(finite, norms, np.where(any_finite[:, None, :], np.nan, 0.0))
        norms = np.where(any_finite, np.nanmedian(filled, axis=1), np.nan)
    shown = np.where(np.isfinite(norms) & (norms > 0), norms, np.nan)
    lines = []
    for j in range(shown.shape[1]):
        color = None if colors is None else colors[j % len(colors)]
        (line,) = ax.plot(np.arange(shown.shape[0]), shown[:, j], color=color, label=f"Dense {j + 1}")
        lines.append(line)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("gradient norm")
    ax.legend(fontsize=8, frameon=False)
    return lines


def _predictor(model_or_fn):
    if callable(model_or_fn) and not hasattr(model_or_fn, "predict"):
        return model_or_fn
    if hasattr(model_or_fn, "predict"):
        return model_or_fn.predict
    raise TypeError(f"expected a model with .predict or a callable, got {type(model_or_fn).__name__}")


def plot_decision_boundary(model, X, y, ax=None, grid=150, margin=1.0, cmap="RdBu_r"):
    """Predicted probability over the input plane, with the data on top.

    Parameters
    ----------
    model : MLP or callable
        Anything with ``predict(X)``, or a function, mapping raw inputs (m, 2) to
        probabilities (m, 1). Wrap a scaler in the callable if the model was
        trained on standardized inputs.
    X : ndarray of shape (n, 2)
    y : ndarray of shape (n, 1), labels in {0, 1}
    ax : matplotlib Axes, optional
    grid : int, default 150
        Grid points per axis.
    margin : float, default 1.0
        Added around the data's range.
    cmap : str

    Returns
    -------
    (AxesImage, PathCollection)
    """
    ax = _axes(ax)
    predict = _predictor(model)
    X = np.asarray(X, dtype=float)
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    gx, gy = np.linspace(lo[0], hi[0], grid), np.linspace(lo[1], hi[1], grid)
    pts = np.column_stack([a.ravel() for a in np.meshgrid(gx, gy)])
    with np.errstate(over="ignore", invalid="ignore"):
        p = np.asarray(predict(pts), dtype=float).reshape(grid, grid)
    image = ax.imshow(p, origin="lower", extent=(lo[0], hi[0], lo[1], hi[1]), cmap=cmap, vmin=0, vmax=1,
                      alpha=0.55, aspect="auto", interpolation="nearest")
    colors = np.where(np.asarray(y).ravel() > 0.5, "#b2182b", "#2166ac")
    points = ax.scatter(X[:, 0], X[:, 1], c=colors, s=4, linewidths=0)
    return image, points


def plot_fit(model, X, y, ax=None, n_grid=200, color="C1", label="model"):
    """A regression model's curve over the data.

    Parameters
    ----------
    model : MLP or callable
        Maps inputs (m, 1) to predictions (m, 1) in the units of ``y``.
    X : ndarray of shape (n, 1)
    y : ndarray of shape (n, 1)
    ax : matplotlib Axes, optional
    n_grid : int, default 200
    color, label : passed to matplotlib

    Returns
    -------
    (PathCollection, Line2D)
    """
    ax = _axes(ax)
    predict = _predictor(model)
    X = np.asarray(X, dtype=float)
    xs = np.linspace(X.min(), X.max(), n_grid)[:, None]
    with np.errstate(over="ignore", invalid="ignore"):
        ys = np.asarray(predict(xs), dtype=float)[:, 0]
    points = ax.scatter(X[:, 0], np.asarray(y)[:, 0], s=8, color="#444444", label="data")
    (line,) = ax.plot(xs[:, 0], np.where(np.isfinite(ys), ys, np.nan), color=color, label=label)
    return points, line
