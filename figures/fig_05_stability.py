"""Figure of notebook 05: the stability maps of both problems, raw vs standardized vs standardized + BN."""

from __future__ import annotations

from make_figures import save_png

import nnlib.sweep as sw
from nnlib.plotting import plot_stability_maps

# The grid of notebook 05 (8 seeds, at most 2000 epochs per run), so the picture is the notebook's.
# Learning rates in equal steps on a log scale: x3 per row (spiral), x10 per row (polynomial).
SEEDS = range(8)
EPOCHS = 2000
GRID = {
    "spiral": {"lrs": (0.1, 0.3, 1.0, 3.0)},
    "polynomial": {"lrs": (1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0)},
}


def make(outdir):
    """Write ``fig_05_stability_maps.png`` into ``outdir``; returns its path in a list."""
    results = sw.run_sweeps(GRID, seeds=SEEDS, epochs=EPOCHS, n_jobs=2, progress=False)
    fig, axes, _ = plot_stability_maps([results["spiral"], results["polynomial"]], settings=sw.SETTINGS)
    axes[0, 0].set_ylabel("learning rate (x3 per row)")
    axes[1, 0].set_ylabel("learning rate (x10 per row)")
    fig.suptitle(f"Which runs train: {len(SEEDS)} seeds x learning rate, at most {EPOCHS} epochs per run "
                 "(colour: epochs to the target)")
    return [save_png(fig, outdir / "fig_05_stability_maps.png")]
