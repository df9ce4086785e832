"""Figure of notebook 03: run outcomes against the learning rate and the scale of the targets.

The same experiment as the notebook's section 3: standardized x, targets c * y
for c from 0.01 to 100 (raw) or standardized, 3 seeds per learning rate, 500
epochs; each square is coloured by the most common outcome of its seeds and
shows how many converged (training R^2 reached the problem's success target).
"""

from __future__ import annotations

import numpy as np
from make_figures import save_png

import nnlib
from nnlib import outcomes
from nnlib.sweep import train_grid

SCALES = (0.01, 0.1, 1.0, 10.0, 100.0)
RAW_LRS = 10.0 ** np.arange(-8.5, -1.99, 0.5)  # 3e-9 .. 1e-2
STD_LRS = 10.0 ** np.arange(-3, -0.49, 0.5)  # 1e-3 .. 3e-1
SEEDS = range(3)
EPOCHS = 500


def outcome_map(ax, grids_by_c, lrs, title):
    """One row per target scale, one square per learning rate, coloured by the most common outcome."""
    import matplotlib.pyplot as plt

    for row, grid in enumerate(grids_by_c.values()):
        for col, kinds in enumerate(grid.outcome):
            top = max(outcomes.OUTCOMES, key=lambda o, kinds=kinds: (kinds == o).sum())
            ax.add_patch(plt.Rectangle((col - 0.5, row - 0.5), 1, 1, color=outcomes.STYLE[top]["color"]))
            n_conv = int((kinds == "converged").sum())
            if n_conv:
                ax.text(col, row, str(n_conv), ha="center", va="center", fontsize=8, color="white")
    ax.set_xlim(-0.5, len(lrs) - 0.5)
    ax.set_ylim(-0.5, len(grids_by_c) - 0.5)
    ax.set_xticks(range(0, len(lrs), 2), [f"{lr:.0e}" for lr in lrs[::2]], rotation=45, fontsize=8)
    ax.set_yticks(range(len(grids_by_c)), [f"{c:g}" for c in grids_by_c])
    ax.set_xlabel("learning rate")
    ax.set_title(title, fontsize=10)


def make(outdir):
    """Outcome maps of the polynomial network for raw targets c * y and for standardized targets."""
    import matplotlib.pyplot as plt

    X, y = nnlib.make_polynomial(rng=41)
    Xz = nnlib.StandardScaler().fit_transform(X)
    raw = {c: train_grid("polynomial", Xz, c * y, RAW_LRS, seeds=SEEDS, epochs=EPOCHS) for c in SCALES}
    std = {c: train_grid("polynomial", Xz, nnlib.StandardScaler().fit_transform(c * y), STD_LRS, seeds=SEEDS,
                         epochs=EPOCHS) for c in (0.01, 100.0)}
    fig, (ax_raw, ax_std) = plt.subplots(1, 2, figsize=(11, 3.4),
                                         gridspec_kw={"width_ratios": [len(RAW_LRS), len(STD_LRS) + 2]})
    outcome_map(ax_raw, raw, RAW_LRS, f"raw targets c * y ({len(SEEDS)} seeds, {EPOCHS} epochs; number = converged)")
    outcome_map(ax_std, std, STD_LRS, "standardized targets (the same runs at every c)")
    ax_raw.set_ylabel("target scale c")
    handles = [plt.Rectangle((0, 0), 1, 1, color=outcomes.STYLE[o]["color"]) for o in outcomes.OUTCOMES]
    fig.legend(handles, [outcomes.STYLE[o]["label"] for o in outcomes.OUTCOMES], loc="upper center", ncol=3,
               fontsize=8, frameon=False, bbox_to_anchor=(0.5, 1.12))
    fig.tight_layout()
    return [save_png(fig, outdir / "fig_03_target_scale.png")]
