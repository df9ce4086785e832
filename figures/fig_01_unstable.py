"""Figures of notebook 01: the headline picture of unstable training, and the explorer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from make_figures import save_png

import nnlib
import nnlib.plotting as nplt
from nnlib import diagnostics as diag
from nnlib.widgets import ExplorerFigure, fit


def headline(outdir):
    """Seed spread of the raw spiral, the depth experiment, and the polynomial's divergence."""
    import matplotlib.pyplot as plt

    X, y = nnlib.make_spiral(rng=0)
    grid = nnlib.MLP([2, 18, 4, 1], rng=range(16))
    hist = nnlib.train(grid, X, y, lr=np.full(16, 0.1), epochs=2000)
    depth = diag.depth_experiment(
        depths=(1, 2, 4, 8, 16),
        settings=(("sigmoid", "small_uniform"), ("relu", "small_uniform"), ("relu", "he"), ("relu", "he", 1.5)),
        rng=0,
    )
    Xp, yp = nnlib.make_polynomial(rng=41)
    boom = nnlib.train(nnlib.MLP([1, 88, 48, 1], output=None, rng=0), Xp, yp, loss="mse", lr=1e-4, epochs=100)

    fig, (a, b, c) = plt.subplots(1, 3, figsize=(14, 3.8))
    nplt.plot_band(hist.loss, ax=a, label="median and min-max, 16 seeds")
    a.set_ylim(0.5, 0.8)  # the first epochs start near 1.8; the spread is what matters
    a.set_xlabel("epoch")
    a.set_ylabel("training loss (BCE)")
    a.set_title("spiral, raw inputs, lr = 0.1: the seed decides")
    a.legend()
    nplt.plot_depth_experiment(depth, ax=b)
    b.set_title("gradient reaching the first layer vs depth")
    nplt.plot_grad_norms(boom, ax=c)
    c.set_title(f"polynomial, raw targets, lr = 1e-4: inf at epoch {boom.diverged_at}")
    fig.tight_layout()
    return save_png(fig, Path(outdir) / "fig_01_unstable.png")


def explorer_snapshot(outdir):
    """What the explorer draws for the spiral at lr = 10: a spike, then dead ReLUs."""
    fig = ExplorerFigure()
    png = fig.draw(fit(problem="spiral", lr=10.0, seed=0, epochs=2000))
    path = Path(outdir) / "fig_01_explorer.png"
    path.write_bytes(png)
    return path


def make(outdir):
    return [headline(outdir), explorer_snapshot(outdir)]
