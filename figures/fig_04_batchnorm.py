"""Figures of notebook 04: hidden pre-activations over training, and 16 seeds with and without batch normalization."""

from __future__ import annotations

import numpy as np
from make_figures import save_png

import nnlib
from nnlib.diagnostics import ReluInputRecorder
from nnlib.plotting import plot_band, plot_quantile_bands, quantile_table
from nnlib.problems import get_problem

SIZES = [2, 18, 4, 1]
LOOK_AT = np.unique(np.r_[0, np.geomspace(1, 2000, 30).astype(int)])


def _spiral():
    X, y = nnlib.make_spiral(rng=0)
    return nnlib.StandardScaler().fit_transform(X), y


def _watch(batchnorm, Xs, y, lr=1.0, epochs=2000, seed=0):
    model = nnlib.MLP(SIZES, batchnorm=batchnorm, rng=seed)
    recorder = ReluInputRecorder(model, Xs, steps=LOOK_AT)
    nnlib.train(model, Xs, y, lr=lr, epochs=epochs, callback=recorder)
    seen = recorder.seen
    steps = np.array(sorted(seen))
    quantiles = [np.array([quantile_table(seen[s][j]) for s in steps]) for j in range(2)]
    active = np.array([(seen[s][1] > 0).mean(axis=0) for s in steps])
    return steps, quantiles, active


def _activations(outdir, Xs, y):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(13, 6), sharex=True, sharey="col")
    for row, bn in enumerate((False, True)):
        steps, quantiles, active = _watch(bn, Xs, y)
        shown = np.maximum(steps, 0.7)  # step 0 on a log axis
        color = "C0" if bn else "C3"
        for j in range(2):
            plot_quantile_bands(shown, quantiles[j], ax=axes[row, j], color=color)
            axes[row, j].axhline(0, color="k", lw=0.6)
        for u in range(active.shape[1]):
            axes[row, 2].plot(shown, active[:, u], color=f"C{u + 4}", label=f"unit {u}")
        axes[row, 0].set_ylabel(("with BN" if bn else "without BN") + "\npre-activation\n(median, 25-75 %, 5-95 %)")
        axes[row, 2].set_ylabel("share of samples with input > 0")
    axes[0, 2].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    titles = ["ReLU 1 inputs (18 units)", "ReLU 2 inputs (4 units)", "4-wide layer: share of samples on"]
    for ax, title in zip(axes[0], titles, strict=True):
        ax.set_title(title, fontsize=10)
    for ax in axes[1]:
        ax.set_xscale("log")
        ax.set_xlabel("gradient step (log)")
    fig.suptitle("Spiral 2-18-4-1, standardized inputs, seed 0, learning rate 1", fontsize=10)
    fig.tight_layout()
    return save_png(fig, outdir / "fig_04_bn_activations.png")


def _seed_bands(outdir, Xs, y, lr=1.0, epochs=2000, seeds=range(16)):
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 2, figsize=(12, 3.4))
    for bn, color in ((False, "C3"), (True, "C0")):
        name = "with BN" if bn else "without BN"
        model = nnlib.MLP(SIZES, batchnorm=bn, rng=list(seeds))
        hist = nnlib.train(model, Xs, y, lr=lr, epochs=epochs, metrics=["accuracy"])
        plot_band(hist.metrics["accuracy"], ax=axes[0], color=color, label=name)
        dead = nnlib.diagnostics.dead_relu_fraction(model, Xs)[:, 1]
        counts = np.bincount(np.rint(dead * 4).astype(int), minlength=5)
        offset = 0.2 if bn else -0.2
        axes[1].bar(np.arange(5) + offset, counts, width=0.4, color=color, label=name)
    target = get_problem("spiral").target
    axes[0].axhline(target, color="k", ls=":", lw=1, label=f"target {target:.0%}")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("training accuracy (median, range)")
    axes[0].set_title(f"{len(seeds)} seeds, learning rate {lr:g}", fontsize=10)
    axes[1].set_xlabel(f"dead units of the 4-wide layer after {epochs} epochs")
    axes[1].set_ylabel("seeds")
    axes[1].set_xticks(range(5))
    axes[1].yaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in axes:
        ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return save_png(fig, outdir / "fig_04_bn_seeds.png")


def make(outdir):
    """Two PNGs: pre-activation distributions over training, and the seed spread with and without BN."""
    Xs, y = _spiral()
    return [_activations(outdir, Xs, y), _seed_bands(outdir, Xs, y)]
