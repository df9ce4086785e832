"""nnlib: the small numpy library behind *Taming Unstable Gradients*.

The numeric core (datasets, init, layers, network, losses, metrics,
preprocessing, training, gradcheck, outcomes, diagnostics, curvature,
model_selection, problems, sweep) needs only numpy. ``nnlib.outcomes`` is the
tutorial's one vocabulary for how a run ended. ``nnlib.plotting`` and ``nnlib.widgets`` sit on top
and import matplotlib and ipywidgets when they are imported themselves.
Importing nnlib changes no global state.
"""

from . import curvature, diagnostics, model_selection, outcomes, problems, sweep
from .datasets import make_polynomial, make_spiral
from .gradcheck import check_layer, check_model, numerical_gradient, relative_error
from .init import he, small_uniform, xavier
from .layers import BatchNorm, Dense, ReLU, Sigmoid, Tanh
from .losses import MSE, BinaryCrossEntropy
from .metrics import accuracy, r2_score
from .model_selection import scale_train_test, train_test_split
from .network import MLP
from .preprocessing import MinMaxScaler, NotFittedError, StandardScaler
from .training import History, train

__version__ = "0.1.0"

__all__ = [
    "make_spiral", "make_polynomial",
    "he", "small_uniform", "xavier",
    "Dense", "ReLU", "Sigmoid", "Tanh", "BatchNorm",
    "MLP",
    "MSE", "BinaryCrossEntropy",
    "accuracy", "r2_score",
    "train_test_split", "scale_train_test",
    "StandardScaler", "MinMaxScaler", "NotFittedError",
    "train", "History",
    "numerical_gradient", "relative_error", "check_layer", "check_model",
    "curvature", "diagnostics", "model_selection", "outcomes", "problems", "sweep",
]
