"""The tutorial's two running problems, defined once.

Each problem names its data, its network and how it is trained and judged;
the explorer (``nnlib.widgets``) and the sweeps (``nnlib.sweep``) both build
their runs from these definitions.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._validation import check_choice
from .datasets import make_polynomial, make_spiral
from .preprocessing import StandardScaler


@dataclass(frozen=True)
class Problem:
    """How one running problem is built, trained and judged.

    Attributes
    ----------
    name : {"spiral", "polynomial"}
    sizes : tuple of int
        Layer widths of its ``MLP``.
    output : "sigmoid" or None
        Output activation (None: linear).
    loss : {"bce", "mse"}
    loss_label : str
        How plots name the loss.
    metric : {"accuracy", "r2"}
        The metric recorded by :func:`nnlib.train` that a target applies to.
    target : float
        The success target: a run has *converged* when its training ``metric``
        reaches it (see :mod:`nnlib.outcomes`). The same target is used by every
        notebook, sweep, map and explorer.
    data_seed : int
        Seed of the data set used throughout the tutorial.
    """

    name: str
    sizes: tuple
    output: str | None
    loss: str
    loss_label: str
    metric: str
    target: float
    data_seed: int

    @property
    def target_text(self):
        """The success target in words, e.g. "training accuracy >= 95%"."""
        if self.metric == "accuracy":
            return f"training accuracy >= {self.target:.0%}"
        return f"training R\u00b2 >= {self.target:g}"

    @property
    def is_classification(self):
        """True for the spiral: its 0/1 labels are never standardized."""
        return self.loss == "bce"

    def make_data(self, rng=None):
        """The raw training data with the tutorial's settings.

        Parameters
        ----------
        rng : None, int or Generator
            Seed of the data; None for ``data_seed``.

        Returns
        -------
        X : ndarray of shape (n, sizes[0])
        y : ndarray of shape (n, 1)
        """
        rng = self.data_seed if rng is None else rng
        if self.name == "spiral":
            return make_spiral(n_per_class=250, noise=0.2, rng=rng)
        return make_polynomial(degree=5, n_points=40, noise=200.0, scale=0.1, rng=rng)


    def standardize(self, X, y, inputs=False, targets=False):
        """Standardize the inputs and the targets, with scalers fitted on ``(X, y)``.

        Targets are only standardized for regression: the spiral's 0/1 labels
        stay as they are.

        Parameters
        ----------
        X : ndarray of shape (n, sizes[0])
        y : ndarray of shape (n, 1)
        inputs, targets : bool
            Which of the two to standardize.

        Returns
        -------
        X_seen : ndarray of shape (n, sizes[0])
            The inputs as the network sees them.
        y_seen : ndarray of shape (n, 1)
        x_scaler, y_scaler : StandardScaler or None
            The fitted scalers, None where nothing was standardized.
        """
        x_scaler = StandardScaler().fit(X) if inputs else None
        y_scaler = StandardScaler().fit(y) if targets and not self.is_classification else None
        X_seen = X if x_scaler is None else x_scaler.transform(X)
        y_seen = y if y_scaler is None else y_scaler.transform(y)
        return X_seen, y_seen, x_scaler, y_scaler


# Success targets, one per problem, used everywhere.
# Spiral: 95% training accuracy. The noise (0.2) puts some points on the wrong
# side of any smooth boundary, so 100% would mean memorizing noise; 95% needs a
# boundary that follows both arms through all their turns.
# Polynomial: training R^2 >= 0.95, against about 0.997 for the exact degree-5
# least-squares fit (the noise floor). R^2 is unchanged by standardizing y, so
# the one target serves raw and standardized targets alike.
PROBLEMS = {
    "spiral": Problem("spiral", (2, 18, 4, 1), "sigmoid", "bce", "loss (BCE)", "accuracy", 0.95, data_seed=0),
    "polynomial": Problem("polynomial", (1, 88, 48, 1), None, "mse", "MSE", "r2", 0.95, data_seed=41),
}


def get_problem(name):
    """The :class:`Problem` called ``name`` (one of :data:`PROBLEMS`)."""
    return PROBLEMS[check_choice(name, "problem", tuple(PROBLEMS))]
