"""Figure of notebook 02: loss surfaces of a two-weight model, raw against standardized inputs."""

from __future__ import annotations

import numpy as np
from make_figures import save_png

import nnlib
from nnlib import curvature
from nnlib.plotting import plot_surface_with_path


def make(outdir):
    """Contours of mean((w x1 + b - y)^2) with gradient-descent paths, for raw and standardized spiral inputs."""
    import matplotlib.pyplot as plt

    X, y = nnlib.make_spiral(rng=0)
    Z = nnlib.StandardScaler().fit_transform(X)
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 4.2))
    for ax, name, x1 in [(axes[0], "raw", X[:, :1]), (axes[1], "standardized", Z[:, :1])]:
        w_star, _ = curvature.least_squares(x1, y)
        limit = curvature.max_stable_lr(x1)
        grid = np.linspace(-1.3, 1.3, 161)
        plot_surface_with_path(x1, y, lr=0.8 * limit, epochs=40, w_init=w_star + [1.0, 1.0],
                               w0_values=w_star[0] + grid, w1_values=w_star[1] + grid, ax=ax,
                               title=f"{name} $x_1$: condition number {curvature.condition_number(x1):.1f}, "
                                     f"lr = 0.8 x 2/$\\lambda_{{max}}$")
        ax.plot(*w_star, "k*", markersize=10)
    fig.suptitle("Gradient descent on the loss of $\\hat y = w x_1 + b$: 40 steps", fontsize=11)
    fig.tight_layout()
    return [save_png(fig, outdir / "fig_02_loss_surfaces.png")]
