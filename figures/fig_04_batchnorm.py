"""Figures of notebook 04: hidden pre-activations over training, and 16 seeds with and without batch normalization."""

from __future__ import annotations

import numpy as np
from make_figures import save_png

import nnlib
from nnlib.diagnostics import ReluInputRecorder
from nnlib.plotting import plot_band, plot_quantile_bands, quantile_table

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

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for bn, color in ((False, "C3"), (True, "C0")):
        name = "with BN" if bn else "without BN"
        steps, quantiles, active = _watch(bn, Xs, y)
        shown = np.maximum(steps, 0.7)  # step 0 on a log axis
        for j in range(2):
            plot_quantile_bands(shown, quantiles[j], ax=axes[j], color=color, label=name)
        for u in range(active.shape[1]):
            axes[2].plot(shown, active[:, u], color=color, ls="-" if bn else "--", label=name if u == 0 else None)
    titles = ["ReLU 1 inputs (18 units)", "ReLU 2 inputs (4 units)", "4-wide layer: share of samples on, per unit"]
    for ax, title in zip(axes, titles, strict=True):
        ax.set_xscale("log")
        ax.set_xlabel("gradient step (log)")
        ax.set_title(title, fontsize=10)
        ax.axhline(0, color="k", lw=0.6)
        ax.legend(fontsize=8, frameon=False)
    axes[0].set_ylabel("pre-activation: median, 25-75 %, 5-95 %")
    axes[2].set_ylabel("fraction of samples with input > 0")
    fig.suptitle("Spiral 2-18-4-1, standardized inputs, seed 0, learning rate 1", fontsize=10)
    fig.tight_layout()
    return save_png(fig, outdir / "fig_04_bn_activations.png")


def _seed_bands(outdir, Xs, y, lr=1.0, epochs=2000, seeds=range(16)):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    for bn, color in ((False, "C3"), (True, "C0")):
        name = "with BN" if bn else "without BN"
        model = nnlib.MLP(SIZES, batchnorm=bn, rng=list(seeds))
        hist = nnlib.train(model, Xs, y, lr=lr, epochs=epochs, metrics=["accuracy"])
        plot_band(hist.metrics["accuracy"], ax=axes[0], color=color, label=name)
        dead = nnlib.diagnostics.dead_relu_fraction(model, Xs)[:, 1]
        counts = np.bincount(np.rint(dead * 4).astype(int), minlength=5)
        offset = 0.2 if bn else -0.2
        axes[1].bar(np.arange(5) + offset, counts, width=0.4, color=color, label=name)
    axes[0].axhline(0.99, color="k", ls=":", lw=1)
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("training accuracy (median, range)")
    axes[0].set_title(f"{len(seeds)} seeds, learning rate {lr:g}", fontsize=10)
    axes[1].set_xlabel(f"dead units of the 4-wide layer after {epochs} epochs")
    axes[1].set_ylabel("seeds")
    axes[1].set_xticks(range(5))
    for ax in axes:
        ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return save_png(fig, outdir / "fig_04_bn_seeds.png")


def make(outdir):
    """Two PNGs: pre-activation distributions over training, and the seed spread with and without BN."""
    Xs, y = _spiral()
    return [_activations(outdir, Xs, y), _seed_bands(outdir, Xs, y)]
