"""The explorer: sliders that retrain a network and redraw what happened.

``Explorer`` shows one run of one of the two running problems: the loss
curve, the decision boundary (spiral) or the fitted curve (polynomial), and
the gradient norm of every Dense layer over the epochs. The learning rate is a
log slider (ten steps per decade), the seed an integer slider; training
reruns when a slider is released, not on every pixel of a drag. The figure is
one matplotlib ``Figure`` made without pyplot and re-rendered in place to PNG
bytes, so nothing flickers and no figures pile up. The status line names the
run's outcome in the tutorial's one vocabulary (:mod:`nnlib.outcomes`: converged,
slow, spiked, stalled, diverged) and the numbers behind it; a run that did
not converge also says so on the plot. A bad value shows an error in the
status line, never a traceback.

Every run is a pure function of its configuration, :func:`fit`; the
explorer prints that configuration as a call to :func:`replay`, which
reproduces the run exactly::

    nnlib.widgets.replay(problem='spiral', lr=0.1, seed=0, epochs=2000,
                         standardize_x=False, standardize_y=False, batchnorm=False)

DOM contract (CSS classes, for browser tests): the whole explorer
``nnlib-explorer``; learning-rate slider ``nnlib-lr``; seed slider
``nnlib-seed``; problem selector ``nnlib-problem``; epochs control
``nnlib-epochs``; toggles ``nnlib-standardize-x``, ``nnlib-standardize-y``,
``nnlib-batchnorm``; the sharpness readout's checkbox ``nnlib-sharpness``; figure ``nnlib-plot``; status line ``nnlib-status``;
configuration line ``nnlib-config``.
"""

from __future__ import annotations

import base64
import html
import io
import math
import textwrap
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache

import ipywidgets as W
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator, MaxNLocator, NullLocator

from ._validation import check_int, check_positive_finite
from .curvature import sharpness as _sharpness
from .diagnostics import RunStatus, run_status
from .metrics import accuracy, r2_score
from .network import MLP
from .preprocessing import StandardScaler
from .problems import PROBLEMS
from .training import History, train

LR_EXPONENTS = (-7, 1)
"""The learning-rate slider spans 10**-7 .. 10**1 (low enough for the raw polynomial's usable rates)."""
LR_STEP = 0.1
"""The learning-rate slider's step, in powers of ten: 10 steps per decade."""
_LR_STEPS = round((LR_EXPONENTS[1] - LR_EXPONENTS[0]) / LR_STEP)
EPOCHS_MAX = 20000
TOGGLES = ("standardize_x", "standardize_y", "batchnorm")
CONFIG_KEYS = ("problem", "lr", "seed", "epochs") + TOGGLES
READOUTS = ("sharpness",)
"""Checkboxes that add a measurement of the run shown, not a setting of the run: they change
neither the training nor the replay line, and cost nothing while off."""


def _lr_slider_value(k):
    """The learning rate at step ``k`` of the slider, as Python computes it: 10 ** (-7 + k / 10)."""
    return 10.0 ** round(LR_EXPONENTS[0] + k * LR_STEP, 10)


def _lr_slider_step(lr):
    """The slider step ``k`` whose learning rate is ``lr`` up to rounding, or None if ``lr`` lies between steps."""
    if not lr > 0:
        return None
    exponent = math.log10(lr)
    k = round((exponent - LR_EXPONENTS[0]) / LR_STEP)
    if 0 <= k <= _LR_STEPS and abs(exponent - math.log10(_lr_slider_value(k))) < 1e-9:
        return k
    return None


def _on_lr_slider(lr):
    """``lr`` from the slider, with the last bits the browser's arithmetic gave it replaced by Python's.

    The browser computes a slider position's value as 10 to the power of the
    position, which may differ from Python's in the last bit or two. Snapping
    makes one slider step always mean the same float, so that the step
    matches the run the background thread trained for it (see
    ``Explorer._speculate``). A value typed into the readout that lies
    between steps is kept as typed.
    """
    k = _lr_slider_step(lr)
    return lr if k is None else _lr_slider_value(k)


@cache
def _data(name):
    X, y = PROBLEMS[name].make_data()
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


def problem_data(name):
    """The training data of a running problem: ``(X, y)`` as :func:`fit` uses them (copies).

    Returns
    -------
    X : ndarray of shape (n, d)
    y : ndarray of shape (n, 1)
    """
    _check_problem(name, tuple(PROBLEMS))
    X, y = _data(name)
    return X.copy(), y.copy()


# -- the run: a pure function of its configuration ------------------------------
@dataclass
class Run:
    """One training run and everything needed to draw and report it.

    Attributes
    ----------
    config : dict
        The keyword arguments of :func:`fit` that made it.
    model : MLP
    history : History
        As training recorded it (in standardized units when ``standardize_y``).
    x_scaler, y_scaler : StandardScaler or None
    status : RunStatus
    loss_original : ndarray of shape (epochs_run,)
        The loss curve in the original units of the targets.
    score : float
        Training accuracy (spiral) or R^2 (polynomial) of the final model,
        predictions in original units; NaN when it diverged.
    final_mse : float or None
        Polynomial only: mean squared error of the final model in original units.
    """

    config: dict
    model: MLP
    history: History
    x_scaler: StandardScaler | None
    y_scaler: StandardScaler | None
    status: RunStatus
    loss_original: np.ndarray
    score: float
    final_mse: float | None

    def predict(self, X_raw):
        """Model output for raw inputs, in original target units (probabilities for the spiral).

        Parameters
        ----------
        X_raw : ndarray of shape (m, d)

        Returns
        -------
        ndarray of shape (m, 1)
        """
        with np.errstate(over="ignore", invalid="ignore"):
            Z = X_raw if self.x_scaler is None else self.x_scaler.transform(X_raw)
            out = self.model.predict(Z)
            if self.y_scaler is not None:
                out = out * self.y_scaler.scale_ + self.y_scaler.mean_
        return out


def _check_problem(problem, allowed):
    if not isinstance(problem, str) or problem not in allowed:
        raise ValueError(f"problem must be one of {', '.join(map(repr, allowed))}, got {problem!r}")


def check_config(problem="spiral", lr=0.1, seed=0, epochs=2000, standardize_x=False, standardize_y=False, batchnorm=False,
                 problems=tuple(PROBLEMS), lr_range=None, seed_max=None):
    """Validate a run configuration and return it as a dict of plain Python values.

    Raises ``ValueError`` or ``TypeError`` naming the bad value and what was expected.
    """
    _check_problem(problem, tuple(problems))
    problem = str(problem)  # a numpy string would print as np.str_(...) in the replay line
    lr = check_positive_finite(lr, "lr")
    if lr_range is not None and not lr_range[0] * (1 - 1e-9) <= lr <= lr_range[1] * (1 + 1e-9):
        raise ValueError(f"lr must be between {lr_range[0]:g} and {lr_range[1]:g} (the slider's range), got {lr!r}")
    seed = check_int(seed, "seed", minimum=0)
    epochs = check_int(epochs, "epochs", minimum=1)
    for name, value, hi in (("seed", seed, seed_max), ("epochs", epochs, EPOCHS_MAX)):
        if hi is not None and value > hi:
            raise ValueError(f"{name} must be at most {hi} (the control's range), got {value}")
    flags = {}
    for name, value in (("standardize_x", standardize_x), ("standardize_y", standardize_y), ("batchnorm", batchnorm)):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name} must be True or False, got {value!r}")
        flags[name] = bool(value)
    return dict(problem=problem, lr=lr, seed=int(seed), epochs=int(epochs), **flags)


def fit(problem="spiral", lr=0.1, seed=0, epochs=2000, standardize_x=False, standardize_y=False, batchnorm=False):
    """Train one network on a running problem, exactly as the explorer does.

    Parameters
    ----------
    problem : {"spiral", "polynomial"}
        Spiral: 2-18-4-1, ReLU, sigmoid output, BCE, ``make_spiral(rng=0)``.
        Polynomial: 1-88-48-1, ReLU, linear output, MSE, ``make_polynomial(rng=41)``.
    lr : float
    seed : int
        Seeds the network's initial weights (He initialization).
    epochs : int
        Full-batch gradient-descent steps.
    standardize_x : bool
        Standardize the inputs with a ``StandardScaler`` fitted on the training data.
    standardize_y : bool
        Standardize the targets (regression only; ignored for the spiral's 0/1 labels).
        Reported losses and predictions are transformed back to original units.
    batchnorm : bool
        ``BatchNorm`` between each hidden Dense layer and its activation.

    Returns
    -------
    Run
    """
    return _fit(check_config(problem, lr, seed, epochs, standardize_x, standardize_y, batchnorm))


def _fit(cfg, stop=None):
    """:func:`fit` for a checked configuration; None if ``stop`` (an Event) was set during training."""
    problem = cfg["problem"]
    spec = PROBLEMS[problem]
    X, y = _data(problem)
    Xt, yt, x_scaler, y_scaler = spec.standardize(X, y, inputs=cfg["standardize_x"], targets=cfg["standardize_y"])
    model = MLP(list(spec.sizes), output=spec.output, batchnorm=cfg["batchnorm"], init="he", rng=cfg["seed"])
    # A callback changes nothing in a single network's training: the explorer's
    # background runs, which pass one, are fit's runs value for value (tested).
    callback = None if stop is None else (lambda epoch, model, loss: stop.is_set())
    history = train(model, Xt, yt, loss=spec.loss, lr=cfg["lr"], epochs=cfg["epochs"], metrics=[spec.metric],
                    callback=callback)
    if stop is not None and stop.is_set():
        return None
    # MSE scales with the square of the target's scale, so this is the MSE in original units
    with np.errstate(over="ignore"):  # a loss near overflow may overflow here: it is shown as diverging anyway
        loss_original = history.loss * (1.0 if y_scaler is None else float(y_scaler.scale_[0]) ** 2)
    run = Run(cfg, model, history, x_scaler, y_scaler, None, loss_original, np.nan, None)
    scaled = y_scaler is not None
    # The message ends with the final model's numbers, added below, instead of the last epoch's metric.
    status = run_status(history, problem, loss_name="MSE (standardized units)" if scaled else None, show_metric=False)
    if status.kind != "diverged":
        with np.errstate(over="ignore", invalid="ignore"):
            out = run.predict(X)
            if spec.is_classification:
                run.score = float(accuracy(out, y))
            else:
                run.final_mse = float(np.mean((out - y) ** 2))
                run.score = float(r2_score(out, y))
        if not np.isfinite(run.score) or (run.final_mse is not None and not np.isfinite(run.final_mse)):
            # The last update made the output overflow: the next epoch's loss would not be finite.
            status = RunStatus("diverged", f"diverged: after the last update (epoch {history.epochs_run - 1}) the "
                               f"network's output overflows; the last finite MSE was {history.loss[-1]:.3g}",
                               history.epochs_run)
            run.score, run.final_mse = np.nan, (None if spec.is_classification else np.nan)
    if status.kind != "diverged":
        if spec.is_classification:
            final = f"after the last update: training accuracy {100 * run.score:.1f}%"
        else:
            r2 = f"{run.score:.3f}" if abs(run.score) < 1e3 else f"{run.score:.3g}"
            final = f"after the last update: MSE {run.final_mse:.4g} (original units), R\u00b2 {r2}"
        status = RunStatus(status.kind, f"{status.message}; {final}", status.epoch)
    run.status = status
    return run


def replay(problem="spiral", lr=0.1, seed=0, epochs=2000, standardize_x=False, standardize_y=False, batchnorm=False):
    """Rerun the explorer's run for this configuration; return ``(model, history)``.

    The explorer's configuration line is a call to this function, and its
    History is identical, value for value, to the explorer's.
    """
    run = fit(problem, lr, seed, epochs, standardize_x, standardize_y, batchnorm)
    return run.model, run.history


def run_sharpness(run):
    """The sharpness of ``run``'s final network on the data as it saw it, and ``2 / lr``.

    The largest eigenvalue of the training loss's Hessian
    (:func:`nnlib.curvature.sharpness`, with a fixed start vector so the same
    run always reads the same), on the inputs and targets the network was
    trained on (standardized when the run standardized them). Gradient
    descent at this ``lr`` is locally stable only while it is below ``2 / lr``.

    Parameters
    ----------
    run : Run

    Returns
    -------
    value : float
        NaN for a diverged run or any network whose loss is not finite; never raises.
    limit : float
        ``2 / lr``.
    """
    cfg = run.config
    limit = 2.0 / cfg["lr"]
    if run.status is not None and run.status.kind == "diverged":
        return float("nan"), limit
    problem = cfg["problem"]
    spec = PROBLEMS[problem]
    X, y = _data(problem)
    Xt, yt, _, _ = spec.standardize(X, y, inputs=cfg["standardize_x"], targets=cfg["standardize_y"])
    try:
        with np.errstate(all="ignore"):
            value = float(_sharpness(run.model, Xt, yt, spec.loss, tol=1e-4, rng=0))
    except (ValueError, FloatingPointError, OverflowError, np.linalg.LinAlgError):
        value = float("nan")
    return value, limit


def sharpness_text(value, limit):
    """The status line's readout, e.g. "sharpness 19.6 vs 2/lr = 20"."""
    shown = "NaN (not finite)" if not np.isfinite(value) else f"{value:.3g}"
    return f"sharpness {shown} vs 2/lr = {limit:.3g}"


def config_call(config):
    """The one-line Python call that replays ``config``."""
    args = ", ".join(f"{key}={config[key]!r}" for key in CONFIG_KEYS)
    return f"nnlib.widgets.replay({args})"


# -- the figure -------------------------------------------------------------------
_COLORS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e")
_GRID = 70  # decision-boundary grid: GRID x GRID predictions per redraw


# Log axes only show values in this range: a diverging run's loss can reach 1e300
# before it overflows, and matplotlib's log tick locator fails on such a span.
_LOG_FLOOR, _LOG_CEILING = 1e-150, 1e150


def _log_clip(values):
    """Values for a log axis: non-finite and non-positive ones hidden, the rest clipped to the shown range."""
    v = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        shown = np.where(np.isfinite(v) & (v > 0), v, np.nan)
    return np.clip(shown, _LOG_FLOOR, _LOG_CEILING)


def _finite_log_limits(values, floor=_LOG_FLOOR):
    v = _log_clip(values)
    v = v[np.isfinite(v) & (v >= floor)]
    if v.size == 0:
        return 1e-3, 1.0
    lo, hi = float(v.min()), float(v.max())
    if hi <= lo * 1.0001:
        lo, hi = lo / 2, hi * 2
    return lo / 1.5, hi * 1.5


class ExplorerFigure:
    """A reusable three-panel figure: loss, model output, per-layer gradient norms.

    Made without pyplot and rendered with the Agg canvas; ``draw(run)``
    updates the artists in place and returns PNG bytes.
    """

    def __init__(self, width=10.5, height=3.3, dpi=80):
        self.figure = Figure(figsize=(width, height), dpi=dpi)
        self.canvas = FigureCanvasAgg(self.figure)
        self.figure.subplots_adjust(left=0.06, right=0.99, bottom=0.15, top=0.9, wspace=0.28)
        self.ax_loss, self.ax_model, self.ax_grad = self.figure.subplots(1, 3)
        self.loss_line = self.ax_loss.plot([], [], color="#333333", lw=1.2)[0]
        # the highest loss of a failed run, which may sit at epoch 1, hidden by the axis
        self.peak_marker = self.ax_loss.plot([], [], "v", color="#8b0000", ms=7, clip_on=False)[0]
        for ax in (self.ax_loss, self.ax_grad):
            ax.set_yscale("log")
            # Speed: no minor ticks, no axis labels, titles at a fixed height
            # (matplotlib would otherwise measure every tick label to place them).
            ax.yaxis.set_minor_locator(NullLocator())
            ax.yaxis.set_major_locator(LogLocator(numticks=6))
            ax.xaxis.set_major_locator(MaxNLocator(4))
            ax.tick_params(labelsize=8)
        self.ax_model.tick_params(labelsize=8)
        self.ax_grad.set_title("gradient norm per Dense layer", fontsize=10, y=1.01)
        self.grad_lines = []
        self._problem = None
        # The verdict's first clause, inside the loss panel (the status line under
        # the figure has the whole sentence), so the decision boundary stays visible.
        self.message = self.ax_loss.text(
            0.5, 0.55, "", transform=self.ax_loss.transAxes, ha="center", va="center", fontsize=9, color="#8b0000", zorder=10,
            bbox=dict(boxstyle="round", facecolor="#fff4f4", edgecolor="#8b0000", alpha=0.95),
        )
        self.message.set_visible(False)

    def _setup_problem(self, name):
        """Build the model panel's artists for one problem (only when the problem changes)."""
        ax = self.ax_model
        ax.clear()
        ax.tick_params(labelsize=8)
        X, y = _data(name)
        if name == "spiral":
            lo = X.min(axis=0) - 1.0
            hi = X.max(axis=0) + 1.0
            gx = np.linspace(lo[0], hi[0], _GRID)
            gy = np.linspace(lo[1], hi[1], _GRID)
            self._grid = np.column_stack([a.ravel() for a in np.meshgrid(gx, gy)])
            self.model_image = ax.imshow(
                np.full((_GRID, _GRID), 0.5), origin="lower", extent=(lo[0], hi[0], lo[1], hi[1]),
                cmap="RdBu_r", vmin=0.0, vmax=1.0, interpolation="nearest", aspect="auto", alpha=0.55,
            )
            colors = np.where(y[:, 0] > 0.5, "#b2182b", "#2166ac")
            ax.scatter(X[:, 0], X[:, 1], c=colors, s=4, linewidths=0)
            ax.set_xlim(lo[0], hi[0])
            ax.set_ylim(lo[1], hi[1])
            ax.set_title("decision boundary (raw input space)", fontsize=10, y=1.01)
            self.fit_line = None
        else:
            self._grid = np.linspace(X.min(), X.max(), 200)[:, None]
            ax.scatter(X[:, 0], y[:, 0], s=8, color="#444444", zorder=3)
            self.fit_line = ax.plot([], [], color="#d95f02", lw=1.8)[0]
            span = y.max() - y.min()
            ax.set_ylim(y.min() - 0.3 * span, y.max() + 0.3 * span)
            ax.set_xlim(X.min() - 0.5, X.max() + 0.5)
            ax.set_title("fitted curve (original units)", fontsize=10, y=1.01)
            ax.xaxis.set_major_locator(MaxNLocator(5))
            ax.yaxis.set_major_locator(MaxNLocator(5))
            self.model_image = None
        self._problem = name

    def draw(self, run):
        """Update every artist from ``run`` and return the figure as PNG bytes."""
        cfg = run.config
        spec = PROBLEMS[cfg["problem"]]
        if cfg["problem"] != self._problem:
            self._setup_problem(cfg["problem"])
        epochs_run = run.history.epochs_run
        ep = np.arange(epochs_run)
        loss = _log_clip(run.loss_original)
        self.loss_line.set_data(ep, loss)
        # a diverged run stops early: zoom to the epochs it ran, or its curve is a sliver at the left
        x_max = max(cfg["epochs"] - 1, 1) if run.status.kind != "diverged" else max(epochs_run, 5)
        self.ax_loss.set_xlim(0, x_max)
        self.ax_loss.set_ylim(*_finite_log_limits(loss))
        if run.status.kind not in ("converged", "slow") and np.isfinite(loss).any():
            peak = int(np.nanargmax(loss))
            self.peak_marker.set_data([peak], [loss[peak]])
        else:
            self.peak_marker.set_data([], [])
        units = "" if spec.is_classification or not cfg["standardize_y"] else ", original units"
        self.ax_loss.set_title(f"training {spec.loss_label}{units} vs epoch", fontsize=10, y=1.01)

        norms = run.history.grad_norms
        while len(self.grad_lines) < norms.shape[1]:
            j = len(self.grad_lines)
            self.grad_lines.append(self.ax_grad.plot([], [], lw=1.1, color=_COLORS[j % len(_COLORS)], label=f"Dense {j + 1}")[0])
            self.ax_grad.legend(loc="lower left", fontsize=8, frameon=False)
        shown = _log_clip(norms)
        for j, line in enumerate(self.grad_lines):
            line.set_visible(j < norms.shape[1])
            if j < norms.shape[1]:
                line.set_data(ep, shown[:, j])
        self.ax_grad.set_xlim(0, x_max)
        self.ax_grad.set_ylim(*_finite_log_limits(shown))

        if run.status.kind == "diverged":
            out = None
        else:
            out = run.predict(self._grid)[:, 0]
        if self.model_image is not None:
            img = np.full(_GRID * _GRID, np.nan) if out is None else out
            self.model_image.set_data(img.reshape(_GRID, _GRID))
        else:
            yv = np.full(self._grid.shape[0], np.nan) if out is None else np.where(np.isfinite(out), out, np.nan)
            self.fit_line.set_data(self._grid[:, 0], yv)

        if run.status.kind in ("diverged", "stalled", "spiked"):
            self.message.set_text(textwrap.fill(run.status.message.split(";")[0], 34))
            self.message.set_visible(True)
        else:
            self.message.set_visible(False)
        buf = io.BytesIO()
        self.canvas.print_png(buf, metadata={"Software": None}, pil_kwargs={"compress_level": 1})
        return buf.getvalue()


# -- the explorer widget --------------------------------------------------------------
# One colour per outcome, darkened for text on white; errors in dark red.
_STATUS_COLORS = {"converged": "#006e52", "slow": "#1f6f9f", "spiked": "#8e3f72", "stalled": "#8a5a00",
                  "diverged": "#a23c00", "error": "#8b0000"}


class Explorer:
    """Sliders that retrain a network on a running problem and redraw the result.

    Parameters
    ----------
    problem : {"spiral", "polynomial"}, default "spiral"
    lr : float, default 0.1
        Between 1e-7 and 10 (the log slider's range).
    seed : int, default 0
        Between 0 and ``seed_max``.
    epochs : int, default 2000
        Between 1 and 20000.
    standardize_x, standardize_y, batchnorm : bool, default False
        See :func:`fit`.
    sharpness : bool, default False
        Add the final network's sharpness against ``2 / lr`` to the status
        line (:func:`run_sharpness`); computed only while this is on.
    toggles : sequence of str, default ()
        Which of "standardize_x", "standardize_y", "batchnorm" and "sharpness"
        get a checkbox.
    problems : sequence of str, default ("spiral", "polynomial")
        The choices of the problem selector.
    seed_max : int, default 99
    cache_size : int, default 48
        Runs (and their pictures) kept, keyed by the full configuration, so
        returning to a setting already seen answers at once.
    speculate : bool, default True
        After a control has been answered, train the seed one step up and one
        step down and the learning rate one slider step up and down (the
        slider just moved first) in a background thread while the learner
        looks, so that the next step of either slider is answered from the
        cache. The thread stops as soon as anything else is asked for; False
        never starts it.

    Attributes
    ----------
    widget : ipywidgets.VBox
        What the notebook displays (also shown when the Explorer is the last
        expression of a cell).
    history : History
        The current run's History; ``replay`` of ``config_text`` reproduces it exactly.
    run : Run
    status_kind : str
        The run's outcome (one of :data:`nnlib.outcomes.OUTCOMES`), or "error".
    status_text : str
        The status line; with the sharpness readout on it ends with
        "sharpness S vs 2/lr = T".
    sharpness : float or None
        The readout's value (NaN for a diverged run), None while it is off.
    readouts : dict of str to bool
        Which readouts are on, e.g. ``{"sharpness": False}``.
    config_text : str
        A runnable call, e.g. ``nnlib.widgets.replay(problem='spiral', lr=0.1, ...)``.

    Examples
    --------
    >>> ex = Explorer(problem="spiral", lr=0.1)      # doctest: +SKIP
    >>> ex.update(lr=10).diverged_at is None         # doctest: +SKIP
    True
    >>> ex.status_kind                               # doctest: +SKIP
    'stalled'
    """

    def __init__(self, problem="spiral", lr=0.1, seed=0, epochs=2000, standardize_x=False, standardize_y=False,
                 batchnorm=False, toggles=(), problems=("spiral", "polynomial"), seed_max=99, cache_size=48,
                 sharpness=False, speculate=True):
        if isinstance(problems, str) or not hasattr(problems, "__iter__"):
            raise TypeError(f"problems must be a sequence of problem names, got {problems!r}")
        problems = tuple(problems)
        if not problems or any(not isinstance(p, str) or p not in PROBLEMS for p in problems):
            raise ValueError(f"problems must be a non-empty sequence of {', '.join(map(repr, PROBLEMS))}, got {problems!r}")
        if isinstance(toggles, str) or not hasattr(toggles, "__iter__"):
            raise TypeError(f"toggles must be a sequence of toggle names such as ('batchnorm',), got {toggles!r}")
        toggles = tuple(toggles)
        for t in toggles:
            if t not in TOGGLES + READOUTS:
                raise ValueError(f"unknown toggle {t!r}; expected some of {', '.join(map(repr, TOGGLES + READOUTS))}")
        for name, value in (("sharpness", sharpness), ("speculate", speculate)):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False, got {value!r}")
        self._problems = problems
        self._seed_max = check_int(seed_max, "seed_max", minimum=0)
        self._lr_range = (10.0 ** LR_EXPONENTS[0], 10.0 ** LR_EXPONENTS[1])
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 1:
            raise ValueError(f"cache_size must be a positive integer, got {cache_size!r}")
        self._cache_size = cache_size
        self._cache = OrderedDict()
        self._speculate_on = bool(speculate)
        self._speculation = None  # (thread, state) while a background thread may run, see _speculate
        self.config = self._check(dict(problem=problem, lr=lr, seed=seed, epochs=epochs, standardize_x=standardize_x,
                                       standardize_y=standardize_y, batchnorm=batchnorm))
        self.readouts = {"sharpness": bool(sharpness)}
        self._sharpness_cache = {}
        self._syncing = False
        self._figure = ExplorerFigure()
        self._build_widgets(toggles)
        self.run = None
        self.status_kind = ""
        self.status_text = ""
        self._apply(self.config)

    # -- controls ------------------------------------------------------------
    def _build_widgets(self, toggles):
        c = self.config
        self.controls = {
            "problem": W.Dropdown(options=list(self._problems), value=c["problem"], description="problem",
                                  layout=W.Layout(width="200px")),
            "lr": W.FloatLogSlider(value=c["lr"], min=LR_EXPONENTS[0], max=LR_EXPONENTS[1], base=10, step=LR_STEP,
                                   description="learning rate", continuous_update=False, readout_format=".3g",
                                   style={"description_width": "initial"}, layout=W.Layout(width="340px")),
            "seed": W.IntSlider(value=c["seed"], min=0, max=self._seed_max, description="seed", continuous_update=False,
                                layout=W.Layout(width="260px")),
            "epochs": W.BoundedIntText(value=c["epochs"], min=1, max=EPOCHS_MAX, step=100, description="epochs",
                                       continuous_update=False, layout=W.Layout(width="170px")),
        }
        labels = {"standardize_x": "standardize x", "standardize_y": "standardize y", "batchnorm": "batch norm",
                  "sharpness": "sharpness"}
        for t in toggles:
            value = self.readouts[t] if t in READOUTS else c[t]
            self.controls[t] = W.Checkbox(value=value, description=labels[t], indent=False, layout=W.Layout(width="130px"))
        for name, control in self.controls.items():
            control.add_class("nnlib-" + name.replace("_", "-"))
            control.observe(self._make_observer(name), names="value")
        self.image = W.Image(format="png")
        self.image.add_class("nnlib-plot")
        self.status = W.HTML()
        self.status.add_class("nnlib-status")
        self.config_html = W.HTML()
        self.config_html.add_class("nnlib-config")
        row = W.HBox(list(self.controls.values()), layout=W.Layout(flex_flow="row wrap", align_items="center"))
        self.widget = W.VBox([row, self.image, self.status, self.config_html])
        self.widget.add_class("nnlib-explorer")

    def _make_observer(self, name):
        def observer(change):
            if self._syncing:
                return
            value = _on_lr_slider(change["new"]) if name == "lr" else change["new"]
            try:
                self.update(**{name: value})
            except Exception as exc:  # noqa: BLE001 - a widget must show the problem, never raise
                self._show_error(exc)
            else:
                self._speculate(moved=name)

        return observer

    def _sync_controls(self):
        self._syncing = True
        try:
            for name, control in self.controls.items():
                value = self.readouts[name] if name in READOUTS else self.config[name]
                if control.value != value:
                    control.value = value
            if "standardize_y" in self.controls:
                self.controls["standardize_y"].disabled = PROBLEMS[self.config["problem"]].is_classification
        finally:
            self._syncing = False

    def _show_error(self, exc):
        self.status_kind = "error"
        self.status_text = f"error: {exc}"
        self.status.value = self._status_html()
        self._sync_controls()  # put the controls back on the run that is shown

    def _status_html(self):
        color = _STATUS_COLORS[self.status_kind]
        return f'<span style="color:{color}; font-family:monospace">{html.escape(self.status_text)}</span>'

    # -- runs ------------------------------------------------------------------
    def _check(self, config):
        return check_config(**config, problems=self._problems, lr_range=self._lr_range, seed_max=self._seed_max)

    @staticmethod
    def _key(config):
        cfg = dict(config)
        if PROBLEMS[cfg["problem"]].is_classification:
            cfg["standardize_y"] = False  # no effect on 0/1 labels: the same run
        return tuple(cfg[k] for k in CONFIG_KEYS)

    def _apply(self, config):
        key = self._key(config)
        self._settle_speculation(key)
        if key in self._cache:
            self._cache.move_to_end(key)
            run, png = self._cache[key]
        else:
            run = fit(**config)
            png = self._figure.draw(run)
            self._store(key, run, png)
        # the run's own config, so the replay line matches the run drawn
        self.config = dict(config)
        self.run = run
        self.image.value = png
        self.status_kind = run.status.kind
        self.status_text = run.status.message
        if self.readouts["sharpness"]:
            if key not in self._sharpness_cache:
                self._sharpness_cache[key] = run_sharpness(run)
                while len(self._sharpness_cache) > self._cache_size:
                    self._sharpness_cache.pop(next(iter(self._sharpness_cache)))
            self.sharpness, limit = self._sharpness_cache[key]
            self.status_text += "; " + sharpness_text(self.sharpness, limit)
        else:
            self.sharpness = None
        self.status.value = self._status_html()
        self.config_text = config_call(self.config)
        self.config_html.value = f'<code style="font-size:90%">{html.escape(self.config_text)}</code>'
        self._sync_controls()

    def _store(self, key, run, png):
        self._cache[key] = (run, png)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    # -- speculation -------------------------------------------------------------
    def _neighbours(self, config, moved="seed"):
        """The configurations a learner most likely asks for next, the likeliest first.

        The seed one step up and down, and the learning rate one slider step
        up and down (when it is on a slider step, as every value the slider
        itself gives is). The slider ``moved`` last comes first: a learner
        tends to keep moving the same one.
        """
        seed = config["seed"]
        seeds = [dict(config, seed=s) for s in (seed + 1, seed - 1) if 0 <= s <= self._seed_max]
        k = _lr_slider_step(config["lr"])
        lrs = [] if k is None else [dict(config, lr=_lr_slider_value(j)) for j in (k + 1, k - 1) if 0 <= j <= _LR_STEPS]
        return lrs + seeds if moved == "lr" else seeds + lrs

    def _speculate(self, moved):
        """Train and draw the neighbouring configurations in a background thread.

        A learner looks at each answer for a while, and the kernel is idle
        meanwhile. The thread uses that time for the next seed up and down and
        the next learning rate up and down (``_neighbours``; those of the
        slider ``moved`` first), so that moving the seed or the learning-rate
        slider one step is answered from the cache. It is started only by a
        control, not by ``update`` in a cell (where it would compete with the
        cells that follow). Its runs are what ``fit`` returns, value for value:
        a run is a pure function of its configuration. Before the explorer
        answers anything it settles the thread (see ``_settle_speculation``),
        so the thread never touches the cache or the figure while the explorer
        does.
        """
        if not self._speculate_on:
            return
        todo = [c for c in self._neighbours(self.config, moved) if self._key(c) not in self._cache]
        if not todo:
            return
        state = {"abort": threading.Event(), "last": threading.Event(), "current": None}
        thread = threading.Thread(target=self._precompute, args=(todo, state), name="nnlib-explorer-speculation",
                                  daemon=True)
        self._speculation = (thread, state)
        thread.start()

    def _precompute(self, configs, state):
        try:
            for config in configs:
                if state["last"].is_set():
                    return
                key = self._key(config)
                state["current"] = key
                run = _fit(config, stop=state["abort"])  # checked after every epoch
                if run is None:
                    return
                self._store(key, run, self._figure.draw(run))
        except Exception:  # noqa: BLE001 - best effort: a slider computes the run itself if this failed
            return

    def _settle_speculation(self, key):
        """Before answering ``key``: let the background thread finish ``key`` if that is its run, else stop it."""
        if self._speculation is None:
            return
        thread, state = self._speculation
        self._speculation = None
        state["last"].set()  # start no other run
        if state["current"] != key:
            state["abort"].set()  # and drop the one under way, which is not the one wanted
        thread.join()

    def update(self, **changes):
        """Retrain (or fetch from the cache) with ``changes`` applied and redraw in place.

        This is exactly what releasing a slider does. Invalid values raise a
        ``ValueError``/``TypeError`` before anything changes (a slider shows
        the message in the status line instead).

        Parameters
        ----------
        **changes
            Any of problem, lr, seed, epochs, standardize_x, standardize_y,
            batchnorm, and the readout switch sharpness (True/False).

        Returns
        -------
        History
        """
        unknown = sorted(set(changes) - set(CONFIG_KEYS) - set(READOUTS))
        if unknown:
            raise TypeError(f"unknown setting(s) {', '.join(map(repr, unknown))}; "
                            f"expected some of {', '.join(CONFIG_KEYS + READOUTS)}")
        readouts = {k: changes.pop(k) for k in READOUTS if k in changes}
        for name, value in readouts.items():
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False, got {value!r}")
        config = self._check({**self.config, **changes})
        self.readouts.update({k: bool(v) for k, v in readouts.items()})
        self._apply(config)
        return self.history

    @property
    def history(self):
        return self.run.history

    @property
    def png(self):
        """The current figure as PNG bytes."""
        return bytes(self.image.value)

    def _repr_mimebundle_(self, **kwargs):
        # The live widget, plus its current picture as a plain PNG: a renderer
        # that runs no widget code (GitHub, nbconvert to markdown or HTML without
        # widget state) shows the picture instead of "VBox(...)" text.
        bundle = self.widget._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data = dict(data)
        data["image/png"] = base64.b64encode(self.png).decode("ascii")
        return (data, bundle[1]) if isinstance(bundle, tuple) else data

    def __repr__(self):
        return f"Explorer({self.config_text[len('nnlib.widgets.replay('):-1]}) -> {self.status_text}"


__all__ = ["Explorer", "ExplorerFigure", "Run", "fit", "replay", "problem_data", "check_config", "config_call", "PROBLEMS",
           "run_sharpness", "sharpness_text"]
