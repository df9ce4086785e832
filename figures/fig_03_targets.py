"""Figure of notebook 03: the usable learning-rate window against the scale of the targets."""

from __future__ import annotations

import numpy as np
from make_figures import save_png

import nnlib
from nnlib import outcomes
from nnlib.problems import get_problem


def make(outdir):
    """Learning rates at which the polynomial network (standardized x, seed 0) converges, for targets c * y.

    Converged: training R^2 reaches the problem's success target within 500 epochs.
    """
    import matplotlib.pyplot as plt

    X, y = nnlib.make_polynomial(rng=41)
    Xz = nnlib.StandardScaler().fit_transform(X)
    scales = [0.01, 0.1, 1.0, 10.0, 100.0]
    lrs = 10.0 ** np.arange(-10, 0.01, 0.5)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), sharey=True)
    for ax, kind in zip(axes, ("raw y", "standardized y"), strict=True):
        usable = np.zeros((len(scales), len(lrs)))
        for i, c in enumerate(scales):
            target = c * y if kind == "raw y" else nnlib.StandardScaler().fit_transform(c * y)
            model = nnlib.MLP([1, 88, 48, 1], output=None, rng=[0] * len(lrs))
            hist = nnlib.train(model, Xz, target, loss="mse", lr=lrs, epochs=500, metrics=["r2"])
            kinds = outcomes.classify(hist.loss, hist.metrics["r2"], get_problem("polynomial").target)
            usable[i] = kinds == "converged"
        ax.imshow(usable, cmap="Greens", vmin=0, vmax=1.3, aspect="auto", origin="lower",
                  extent=(np.log10(lrs[0]) - 0.25, np.log10(lrs[-1]) + 0.25, -0.5, len(scales) - 0.5))
        ax.set_yticks(range(len(scales)), [f"{c:g}" for c in scales])
        ax.set_xlabel("log10(learning rate)")
        ax.set_title(f"{kind}: learning rates that converge (green)", fontsize=10)
    axes[0].set_ylabel("target scale c (targets c * y)")
    fig.tight_layout()
    return [save_png(fig, outdir / "fig_03_target_scale.png")]
