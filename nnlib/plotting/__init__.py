"""Matplotlib helpers for the notebooks.

Every helper takes ``ax=None`` (a new figure when None) and returns what it
drew. Importing this package imports matplotlib but changes none of its
settings; styles are passed per call.
"""

from .bn import figure_png, plot_against_lr, plot_quantile_bands, quantile_table  # noqa: F401
from .curves import plot_band, plot_decision_boundary, plot_fit, plot_grad_norms, plot_loss  # noqa: F401
from .diagnostics import (  # noqa: F401
    plot_autopsy,
    plot_dead_fraction,
    plot_depth_experiment,
    plot_histograms,
    plot_run_outcomes,
    plot_update_ratios,
)
from .maps import plot_stability_map, plot_stability_maps, plot_sweep_losses  # noqa: F401
from .surfaces import plot_gd_path, plot_loss_surface, plot_surface_with_path  # noqa: F401
