"""Stability sweeps: many seeds x learning rates x settings, trained as ensembles.

Two entry points. :func:`train_grid` trains the learning rates x seeds of one
experiment on data the caller gives (any network options) and returns a
labelled :class:`Grid`. :func:`run_sweep` does the same for the running
problems' standard settings, with a cache and processes, for the stability
maps.

A *setting* is one way of feeding a problem to its network:

- ``"raw"``: raw inputs and raw targets;
- ``"standardized"``: a ``StandardScaler`` on the inputs (and, for the
  polynomial, on the targets), fitted on the training data;
- ``"standardized+bn"``: the same, and ``MLP(..., batchnorm=True)``.

All the seeds and learning rates of one setting train as one ensemble with a
per-model learning-rate vector, so a whole map costs a few numpy calls per
epoch. :func:`run_sweep` returns a :class:`SweepResult`, a tidy table with one row
per run, and keeps every result in an in-memory cache, so asking again for a
grid already computed answers at once.

Each run's outcome is named by :func:`nnlib.outcomes.classify`, the one
vocabulary of the tutorial ("converged", "slow", "spiked", "stalled",
"diverged"); "converged" means the problem's success target was met.

A run stops at the first epoch where it reaches the target: its
``final_metric`` and ``final_loss`` are read there. The ensemble is pruned of
finished runs as it trains (and stops when none is left), which saves time and
changes nothing that is recorded: each network of an ensemble trains exactly as
it would alone.
"""

from __future__ import annotations

import numbers
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.connection import wait as wait_for_any

import numpy as np

from . import outcomes
from ._validation import check_choice, check_int, check_positive_finite
from .diagnostics import epochs_to_reach
from .network import MLP
from .outcomes import OUTCOMES
from .problems import PROBLEMS, Problem, get_problem  # noqa: F401  (PROBLEMS: part of this module's interface)
from .training import History, train

SETTINGS = ("raw", "standardized", "standardized+bn")

# Largest ensemble trained at once. Per network, an ensemble epoch is cheapest
# around 16 networks on the spiral (measured: 55 us per network-epoch at 16,
# 65 at 48; with batch normalization 125 and 151): larger ensembles' arrays
# outgrow the CPU caches.
BLOCK = 16
# Largest sweep accepted: its loss and metric curves (float64) must fit in this.
MAX_BYTES = 4 * 2**30
# Seconds a stopped worker process gets to end on SIGTERM before it is killed.
_STOP_GRACE = 5.0


def prepare(problem, setting, data_rng=None):
    """The data and network options of one (problem, setting).

    Parameters
    ----------
    problem : {"spiral", "polynomial"}
    setting : {"raw", "standardized", "standardized+bn"}
    data_rng : int or None
        Seed of the data set; None for the problem's default.

    Returns
    -------
    X : ndarray of shape (n, sizes[0])
        Inputs as the network sees them.
    y : ndarray of shape (n, 1)
        Targets as the network sees them.
    mlp_kwargs : dict
        ``sizes``, ``output`` and ``batchnorm`` for :class:`~nnlib.MLP`.
    y_scale : float
        Multiply a mean squared error by this to get it in the original units
        of the targets (1 when the targets are not scaled).
    """
    spec = get_problem(problem)
    check_choice(setting, "setting", SETTINGS)
    data_rng = spec.data_seed if data_rng is None else check_int(data_rng, "data_rng", minimum=0)
    standardized = setting != "raw"  # inputs, and the targets of a regression
    X, y, _, y_scaler = spec.standardize(*spec.make_data(data_rng), inputs=standardized, targets=standardized)
    y_scale = 1.0 if y_scaler is None else float(y_scaler.scale_[0] ** 2)
    kwargs = {"sizes": list(spec.sizes), "output": spec.output, "batchnorm": setting == "standardized+bn"}
    return X, y, kwargs, y_scale


# -- the result -----------------------------------------------------------------
@dataclass
class SweepResult:
    """One row per run of a sweep, as numpy columns of length N.

    Rows are ordered by setting, then learning rate, then seed.

    Attributes
    ----------
    problem : str
    target : float
        A run converged when its ``metric`` reached this.
    metric : str
    epochs : int
        The epoch budget of every run.
    seeds : ndarray of shape (n_seeds,)
    lrs : ndarray of shape (n_lrs,)
    setting : ndarray of str, shape (N,)
    seed : ndarray of int, shape (N,)
    lr : ndarray of float, shape (N,)
    outcome : ndarray of str, shape (N,)
        One of ``OUTCOMES``.
    epochs_to_target : ndarray of float, shape (N,)
        Gradient steps taken before the metric first reached the target
        (NaN if it never did).
    diverged_at : ndarray of float, shape (N,)
        The 0-based epoch whose loss was non-finite (NaN if none).
    final_metric, final_loss : ndarray of float, shape (N,)
        At the epoch the run stopped: the target epoch, the divergence epoch,
        or the last of the budget. ``final_loss`` is in the units trained on.
    final_loss_original : ndarray of float, shape (N,)
        ``final_loss`` in the original units of the targets (MSE of the
        polynomial in y's units; the same as ``final_loss`` otherwise).
    spiked : ndarray of bool, shape (N,)
        The loss rose above ``spike_factor`` times its first value at some point.
    loss_curves : ndarray of float, shape (N, epochs)
        Each run's loss per epoch, NaN after it stopped.
    """

    problem: str
    target: float
    metric: str
    epochs: int
    seeds: np.ndarray
    lrs: np.ndarray
    setting: np.ndarray
    seed: np.ndarray
    lr: np.ndarray
    outcome: np.ndarray
    epochs_to_target: np.ndarray
    diverged_at: np.ndarray
    final_metric: np.ndarray
    final_loss: np.ndarray
    final_loss_original: np.ndarray
    spiked: np.ndarray
    loss_curves: np.ndarray = field(repr=False)

    COLUMNS = ("setting", "seed", "lr", "outcome", "epochs_to_target", "diverged_at", "final_metric", "final_loss", "final_loss_original", "spiked")

    def __len__(self):
        return len(self.seed)

    @property
    def settings(self):
        """The settings in the order they were swept."""
        return tuple(dict.fromkeys(self.setting.tolist()))

    def _rows(self, setting):
        check_choice(setting, "setting", self.settings)
        return np.flatnonzero(self.setting == setting)

    def grid(self, column, setting):
        """One column of one setting as a (n_lrs, n_seeds) array, rows ordered like ``lrs``.

        Parameters
        ----------
        column : str
            One of ``COLUMNS`` (e.g. ``"epochs_to_target"``, ``"outcome"``).
        setting : str

        Returns
        -------
        ndarray of shape (n_lrs, n_seeds)
        """
        check_choice(column, "column", self.COLUMNS)
        return getattr(self, column)[self._rows(setting)].reshape(len(self.lrs), len(self.seeds))

    def converged_fraction(self, setting):
        """Share of seeds that converged at each learning rate, shape (n_lrs,)."""
        return (self.grid("outcome", setting) == "converged").mean(axis=1)

    def usable_lr_range(self, setting, fraction=outcomes.USABLE_FRACTION):
        """The usable learning rates of one setting (:func:`nnlib.outcomes.usable_lr_range`).

        Returns
        -------
        LRRange
            A learning rate is usable when at least ``fraction`` of the seeds
            converged there.
        """
        return outcomes.usable_lr_range(self.lrs, self.grid("outcome", setting), fraction)

    def _lr_rows(self, rows, lr):
        """The rows of ``rows`` run at learning rate ``lr`` (matched to 1e-9 relative, no absolute slack)."""
        lr = float(check_positive_finite(lr, "lr"))
        picked = rows[np.abs(self.lr[rows] - lr) <= 1e-9 * lr]
        if picked.size == 0:
            raise ValueError(f"lr={lr!r} is not in this sweep; its learning rates are {self.lrs.tolist()}")
        return picked

    def outcome_counts(self, setting, lr=None):
        """``{outcome: count}`` over one setting (and one learning rate, if given), in the order of ``OUTCOMES``."""
        rows = self._rows(setting)
        if lr is not None:
            rows = self._lr_rows(rows, lr)
        return outcomes.counts(self.outcome[rows])

    def run(self, setting, lr, seed):
        """One run's row as a dict (its loss curve under ``"loss_curve"``)."""
        rows = self._lr_rows(self._rows(setting), lr)
        hit = rows[self.seed[rows] == seed]
        if hit.size == 0:
            raise ValueError(f"no run with setting={setting!r}, lr={lr!r}, seed={seed!r} in this sweep")
        row = self.records()[hit[0]]
        row["loss_curve"] = self.loss_curves[hit[0]]
        return row

    def loss_curves_held(self, setting, lr):
        """The loss curves of one (setting, lr) for bands over seeds.

        A run that stopped at its target is held at the loss it stopped at, so
        the band does not shrink to the slow runs; a run that diverged is NaN
        from its divergence on, so it drops out of the band instead of dragging
        it to infinity.

        Returns
        -------
        ndarray of shape (n_seeds, epochs)
        """
        rows = self._lr_rows(self._rows(setting), lr)
        curves = self.loss_curves[rows].copy()
        for j, row in enumerate(rows):
            if self.outcome[row] == "diverged":
                curves[j, int(self.diverged_at[row]) :] = np.nan
            elif self.outcome[row] == "converged":
                stop = int(self.epochs_to_target[row])
                curves[j, stop + 1 :] = curves[j, stop]
        return curves

    def records(self):
        """The table as a list of dicts, NaN shown as None."""
        out = []
        for i in range(len(self)):
            row = {"problem": self.problem}
            for c in self.COLUMNS:
                v = getattr(self, c)[i].item()
                row[c] = None if isinstance(v, float) and np.isnan(v) else v
            out.append(row)
        return out

    def summary(self, fraction=outcomes.USABLE_FRACTION):
        """Per setting: the usable learning rates, and how fast and how often runs converge.

        Parameters
        ----------
        fraction : float in (0, 1], default :data:`nnlib.outcomes.USABLE_FRACTION`
            The share of seeds that must converge for a learning rate to be usable.

        Returns
        -------
        dict of setting to dict
            ``usable`` (the :class:`~nnlib.outcomes.LRRange`), ``median_epochs``
            (median epochs to target at the largest usable rate, or None),
            ``converged_share`` over the whole grid, and ``best_lr_share``:
            the largest converged share at any one learning rate.
        """
        out = {}
        for s in self.settings:
            usable = self.usable_lr_range(s, fraction)
            med = None
            if usable.usable.any():
                ep = self.grid("epochs_to_target", s)[self.lrs == usable.high][0]
                med = float(np.nanmedian(ep))
            conv = self.grid("outcome", s) == "converged"
            out[s] = {
                "usable": usable,
                "median_epochs": med,
                "converged_share": float(conv.mean()),
                "best_lr_share": float(conv.mean(axis=1).max()),
            }
        return out

    def table(self):
        """A short text table: the count of each outcome per setting and learning rate."""
        lines = [f"{self.problem}: converged = {self.metric} >= {self.target:g} within {self.epochs} epochs; {len(self.seeds)} seeds"]
        lines.append(f"{'setting':<18}{'lr':>9}  " + "  ".join(f"{o:>9}" for o in OUTCOMES) + f"  {'median epochs':>13}")
        for s in self.settings:
            for i, lr in enumerate(self.lrs):
                c = self.outcome_counts(s, lr)
                ep = self.grid("epochs_to_target", s)[i]
                med = f"{np.nanmedian(ep):13.0f}" if np.isfinite(ep).any() else f"{'-':>13}"
                lines.append(f"{s:<18}{lr:>9.3g}  " + "  ".join(f"{c[o]:>9d}" for o in OUTCOMES) + f"  {med}")
        return "\n".join(lines)

    def __repr__(self):
        return f"SweepResult(problem={self.problem!r}, {len(self)} runs, settings={list(self.settings)}, {len(self.lrs)} lrs x {len(self.seeds)} seeds, {self.epochs} epochs)"


# -- training one setting -------------------------------------------------------
_CACHE = {}


def clear_cache():
    """Forget every cached sweep result."""
    _CACHE.clear()


def cache_size():
    """Number of (problem, setting, grid) results held in the cache."""
    return len(_CACHE)


def run_setting(problem, setting, seeds, lrs, epochs, target, data_rng, spike_factor=10.0, chunk=50, on_chunk=None):
    """Train every seed x learning rate of one setting on the ensemble axis.

    The numeric core of :func:`run_sweep` (no cache, no processes). Models are
    ordered learning rate first, then seed, each with its own learning rate
    from a per-model vector; they train in ensembles of at most :data:`BLOCK`
    networks (all of them at once when there are no more than that).

    Parameters
    ----------
    problem, setting : str
    seeds : tuple of int, length S
    lrs : tuple of float, length L
    epochs : int
    target : float
    data_rng : int
    spike_factor : float
    chunk : int
        Epochs trained between two prunings of finished runs.
    on_chunk : callable, optional
        ``on_chunk(epochs_done)`` after each chunk (for progress bars).

    Returns
    -------
    dict of str to ndarray
        The per-run columns of :class:`SweepResult` for these L * S runs.
    """
    spec = get_problem(problem)
    X, y, kwargs, y_scale = prepare(problem, setting, data_rng)
    n = len(lrs) * len(seeds)
    lr_vec = np.repeat(np.asarray(lrs, dtype=np.float64), len(seeds))
    model_seeds = [s for _ in lrs for s in seeds]
    losses = np.full((n, epochs), np.nan)
    metric = np.full((n, epochs), np.nan)
    hit = np.full(n, np.nan)
    diverged_at = np.full(n, np.nan)
    # Runs train in ensembles of at most BLOCK networks, one block after the
    # other; every run is independent, so the results are the same.
    blocks = [np.arange(b, min(b + BLOCK, n)) for b in range(0, n, BLOCK)]
    for b, block in enumerate(blocks):

        def progress(done, b=b):
            if on_chunk is not None:
                on_chunk((b * epochs + done) // len(blocks))

        _train_block(block, model_seeds, lr_vec, X, y, kwargs, spec, epochs, target, chunk,
                     losses, metric, hit, diverged_at, progress)
    return _summarize_runs(losses, metric, hit, diverged_at, spike_factor, target, y_scale)


def _train_block(block, model_seeds, lr_vec, X, y, kwargs, spec, epochs, target, chunk,
                 losses, metric, hit, diverged_at, progress):
    """Train the runs ``block`` (indices into the setting's runs) as one ensemble, filling the columns in place.

    Every ``chunk`` epochs the runs that reached the target or diverged are
    dropped from the ensemble, so the rest train faster.
    """
    model = MLP(rng=[model_seeds[k] for k in block], **kwargs)
    active = block
    start = 0
    while start < epochs and active.size:
        steps = min(chunk, epochs - start)
        hist = train(model, X, y, loss=spec.loss, lr=lr_vec[active], epochs=steps, metrics=[spec.metric])
        ran = hist.epochs_run
        losses[active, start : start + ran] = hist.loss.T
        metric[active, start : start + ran] = hist.metrics[spec.metric].T
        done = np.zeros(active.size, dtype=bool)
        for j, k in enumerate(active):
            d = hist.diverged_at[j]
            # The metric of the epoch whose loss was not finite does not count.
            reached = np.flatnonzero(metric[k, start : start + (ran if d is None else d)] >= target)
            if reached.size:
                e = start + reached[0]
                hit[k] = e
                losses[k, e + 1 :] = np.nan  # the run stops at its target
                metric[k, e + 1 :] = np.nan
                done[j] = True
            elif d is not None:
                diverged_at[k] = start + d
                done[j] = True
        start += steps
        progress(start)
        if done.any() and not done.all() and start < epochs:
            keep = np.flatnonzero(~done)
            model = MLP.stack([model.member(int(j)) for j in keep])
        active = active[~done]


def _summarize_runs(losses, metric, hit, diverged_at, spike_factor, target, y_scale):
    n, epochs = losses.shape
    stop = np.where(np.isfinite(hit), hit, np.where(np.isfinite(diverged_at), diverged_at, epochs - 1)).astype(int)
    rows = np.arange(n)
    final_loss = losses[rows, stop]
    final_metric = metric[rows, stop]
    outcome = outcomes.classify(losses.T, metric.T, target, spike_factor=spike_factor)
    return {
        "outcome": outcome,
        "epochs_to_target": hit,
        "diverged_at": diverged_at,
        "final_metric": final_metric,
        "final_loss": final_loss,
        "final_loss_original": final_loss * y_scale,
        "spiked": outcomes.spiked(losses.T, spike_factor),
        "loss_curves": losses,
    }


def _run_job(job):
    """Process-pool entry point: ``job`` is the cache key of one setting."""
    problem, setting, seeds, lrs, epochs, target, data_rng, spike_factor = job
    return run_setting(problem, setting, seeds, lrs, epochs, target, data_rng, spike_factor)


# -- the public entry point -----------------------------------------------------
def run_sweep(problem, seeds=range(16), lrs=(0.01, 0.03, 0.1, 0.3, 1.0, 3.0), settings=SETTINGS, epochs=2000, target=None, data_rng=None, spike_factor=10.0, n_jobs=1, progress=None):
    """Train a grid of seeds x learning rates for each setting of one problem.

    Parameters
    ----------
    problem : {"spiral", "polynomial"}
    seeds : sequence of int, default range(16)
        Initialization seeds (the ``rng`` of each :class:`~nnlib.MLP`).
    lrs : sequence of float
        Learning rates, positive and finite; shown sorted ascending.
    settings : sequence of str, default all of ``SETTINGS``
    epochs : int, default 2000
        Epoch budget of every run.
    target : float, optional
        A run converged when its metric (training accuracy for the spiral,
        R^2 for the polynomial) reaches it; default ``PROBLEMS[problem].target``.
    data_rng : int, optional
        Seed of the data set; default ``PROBLEMS[problem].data_seed``.
    spike_factor : float, default 10
        A loss above ``spike_factor`` times its first value is a spike.
    n_jobs : int, default 1
        Processes to train in parallel: each setting's learning rates are
        shared out over them (every n-th rate to one process), so they get
        about equal work. Results are identical for any value. The processes
        are started with "spawn": a script that asks for more than one needs
        the ``if __name__ == "__main__":`` guard.
    progress : bool or None
        Show a ``tqdm.auto`` progress bar; None shows it for long sweeps
        (more than 250,000 model-epochs still to train, some tens of seconds).

    Returns
    -------
    SweepResult

    Examples
    --------
    >>> res = run_sweep("spiral", seeds=range(4), lrs=[0.1, 1.0], epochs=100)  # doctest: +SKIP
    >>> res.grid("outcome", "standardized+bn").shape  # doctest: +SKIP
    (2, 4)
    """
    plan = _plan(problem, seeds, lrs, settings, epochs, target, data_rng, spike_factor)
    _execute([plan], n_jobs, progress)
    return _assemble(plan)


def run_sweeps(grids, n_jobs=1, progress=None, **common):
    """Several problems' sweeps at once, their settings shared out over ``n_jobs`` processes.

    Parameters
    ----------
    grids : dict of str to dict
        ``{problem: keyword arguments of run_sweep}``, e.g.
        ``{"spiral": {"lrs": [0.1, 1.0]}, "polynomial": {"lrs": [1e-3, 0.1]}}``.
    n_jobs : int, default 1
    progress : bool or None
    **common
        Keyword arguments of :func:`run_sweep` shared by every problem
        (``seeds``, ``epochs``, ...), overridden by ``grids``.

    Returns
    -------
    dict of str to SweepResult
    """
    if not isinstance(grids, dict) or not grids:
        raise TypeError(f"grids must be a non-empty dict of problem -> run_sweep options, got {grids!r}")
    allowed = {"seeds", "lrs", "settings", "epochs", "target", "data_rng", "spike_factor"}
    plans = {}
    for problem, options in grids.items():
        options = {**common, **dict(options)}
        unknown = set(options) - allowed
        if unknown:
            raise TypeError(f"unknown sweep option(s) {sorted(unknown)} for {problem!r}; expected some of {sorted(allowed)}")
        plans[problem] = _plan(problem, **options)
    _execute(list(plans.values()), n_jobs, progress)
    return {problem: _assemble(plan) for problem, plan in plans.items()}


@dataclass
class _Plan:
    spec: Problem
    settings: tuple
    seeds: tuple
    lrs: tuple
    epochs: int
    target: float
    jobs: dict  # setting -> cache key (also the arguments of run_setting)


def _plan(problem, seeds=range(16), lrs=(0.01, 0.03, 0.1, 0.3, 1.0, 3.0), settings=SETTINGS, epochs=2000, target=None, data_rng=None, spike_factor=10.0):
    """Validate one problem's sweep and name its jobs (nothing runs)."""
    spec = get_problem(problem)
    seeds = _check_seeds(seeds)
    lrs = _check_lrs(lrs)
    if isinstance(settings, str):
        settings = (settings,)
    settings = tuple(check_choice(s, "setting", SETTINGS) for s in settings)
    if not settings or len(set(settings)) != len(settings):
        raise ValueError(f"settings must be a non-empty list of distinct settings from {SETTINGS}, got {settings!r}")
    epochs = check_int(epochs, "epochs", minimum=1)
    target = spec.target if target is None else _check_target(target)
    data_rng = spec.data_seed if data_rng is None else check_int(data_rng, "data_rng", minimum=0)
    spike_factor = float(check_positive_finite(spike_factor, "spike_factor"))
    n_bytes = 2 * 8 * len(settings) * len(seeds) * len(lrs) * epochs  # loss and metric curves, float64
    if n_bytes > MAX_BYTES:
        raise ValueError(
            f"this sweep would hold {n_bytes / 2**30:.1f} GiB of loss and metric curves "
            f"({len(settings)} settings x {len(lrs)} lrs x {len(seeds)} seeds x {epochs} epochs), "
            f"more than the limit of {MAX_BYTES / 2**30:.0f} GiB (nnlib.sweep.MAX_BYTES); sweep fewer runs or epochs"
        )
    jobs = {s: (spec.name, s, seeds, lrs, epochs, target, data_rng, spike_factor) for s in settings}
    return _Plan(spec, settings, seeds, lrs, epochs, target, jobs)


def _job_cost(job):
    """A rough relative cost, to start the longest jobs first."""
    problem, setting, seeds, lrs, epochs = job[:5]
    per_model_epoch = {"spiral": 2.0, "polynomial": 1.0}[problem] * (2.0 if setting == "standardized+bn" else 1.0)
    return per_model_epoch * len(seeds) * len(lrs) * epochs


def _execute(plans, n_jobs, progress):
    """Train every job of ``plans`` that is not cached yet, and cache it."""
    n_jobs = check_int(n_jobs, "n_jobs", minimum=1)
    if progress is not None and not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be True, False or None, got {progress!r}")
    todo = list(dict.fromkeys(job for plan in plans for job in plan.jobs.values() if job not in _CACHE))
    if not todo:
        return
    if progress is None:
        progress = sum(len(job[2]) * len(job[3]) * job[4] for job in todo) > 250_000
    total = sum(job[4] for job in todo)
    bar = _progress_bar(total, " + ".join(dict.fromkeys(f"{job[0]} sweep" for job in todo))) if progress else None
    try:
        if n_jobs == 1 or len(todo) == 1:
            for job in todo:
                done = [0]

                def tick(e, done=done):
                    if bar is not None:
                        bar.update(e - done[0])
                    done[0] = e

                _CACHE[job] = _freeze(run_setting(*job, on_chunk=tick))
                if bar is not None:
                    bar.update(job[4] - done[0])
        else:
            # Each setting's learning rates are shared out over n_jobs parts, so the
            # processes get equal work even when one setting costs more than the
            # others; every run trains alone as far as its numbers go, so a
            # setting's parts put back together are what one job would return.
            split = {job: _split_job(job, n_jobs) for job in todo}
            parts = sorted(((job, i, part) for job in todo for i, part in enumerate(split[job])),
                           key=lambda p: _job_cost(p[2]), reverse=True)
            done = {job: [None] * len(split[job]) for job in todo}
            with _process_pool(min(n_jobs, len(parts))) as pool:  # stopped at once if interrupted or a job fails
                futures = {pool.submit(_run_job, part): (job, i) for job, i, part in parts}
                for future in as_completed(futures):
                    job, i = futures[future]
                    done[job][i] = future.result()
                    if all(columns is not None for columns in done[job]):
                        # kept even if a later job is interrupted
                        _CACHE[job] = _freeze(_join_parts(job, done[job]))
                        if bar is not None:
                            bar.update(job[4])
    finally:
        if bar is not None:
            bar.close()


def _split_job(job, n_parts):
    """``job`` as up to ``n_parts`` jobs, part i taking every n-th learning rate from the i-th on.

    Striding mixes slow and fast learning rates in every part (a run that
    diverges early costs little), so the parts cost about the same.
    """
    lrs = job[3]
    n_parts = min(n_parts, len(lrs))
    return [job[:3] + (lrs[i::n_parts],) + job[4:] for i in range(n_parts)]


def _join_parts(job, columns):
    """Put the per-run columns of ``_split_job(job, len(columns))``'s parts back in the job's run order."""
    n_parts, n_seeds, n_lrs = len(columns), len(job[2]), len(job[3])
    # the job's learning-rate index of each run, in the order the parts list them
    lr_index = np.concatenate([np.repeat(np.arange(i, n_lrs, n_parts), n_seeds) for i in range(n_parts)])
    order = np.argsort(lr_index, kind="stable")  # seeds keep their order within a learning rate
    return {key: np.concatenate([part[key] for part in columns])[order] for key in columns[0]}


def _stop_at_once(pool, grace=_STOP_GRACE):
    """Stop ``pool`` without waiting for its running jobs.

    The executor has no public way to stop a running job, so its worker
    processes are terminated; one still alive ``grace`` seconds later (it
    ignores SIGTERM) is killed. The executor's own thread then reaps them, so
    when this returns every worker is gone and its exit code is recorded. (A
    caller that waited on the workers itself would race that thread for the
    exit status.)
    """
    workers = list((getattr(pool, "_processes", None) or {}).values())
    for proc in workers:
        proc.terminate()
    # waiting on the sentinels, unlike join, does not collect the exit status
    running = {proc.sentinel: proc for proc in workers}
    deadline = time.monotonic() + grace
    while running and (left := deadline - time.monotonic()) > 0:
        for sentinel in wait_for_any(list(running), timeout=left):
            del running[sentinel]
    for proc in running.values():
        proc.kill()
    pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def _process_pool(n_processes):
    """A pool of ``n_processes`` started with "spawn": waited for when the block ends, stopped at once if it raised."""
    pool = ProcessPoolExecutor(max_workers=n_processes, mp_context=get_context("spawn"))
    try:
        yield pool
    except BaseException:
        _stop_at_once(pool)
        raise
    pool.shutdown(wait=True)


@contextmanager
def second_process():
    """Another Python process, for work that can run beside this one (a second CPU core).

    numpy computes this tutorial's small networks on one core, so a computer
    with two or more cores can train one grid here and another there at the
    same time. Work submitted to the process runs in the order submitted; each
    result is what the same call would return here, bit for bit (a run is a
    pure function of its arguments). The process is started with "spawn", so
    it imports nnlib afresh (a script, unlike a notebook, needs the
    ``if __name__ == "__main__":`` guard); on leaving the ``with`` block it is
    waited for, or, if the block was interrupted (Ctrl-C in a notebook) or
    raised, stopped at once.

    Yields
    ------
    concurrent.futures.Executor
        ``submit(fn, *args, **kwargs)`` returns a future whose ``result()``
        waits for the value; ``fn`` and its arguments must be picklable (a
        module-level function such as :func:`train_grid`, arrays, numbers).

    Examples
    --------
    >>> with second_process() as other:                                  # doctest: +SKIP
    ...     job = other.submit(train_grid, "spiral", X, y, (0.1, 1.0), batchnorm=True)
    ...     plain = train_grid("spiral", X, y, (0.1, 1.0))                 # meanwhile, here
    ...     with_bn = job.result()
    """
    with _process_pool(1) as pool:
        yield pool


def _assemble(plan):
    parts = [_CACHE[plan.jobs[s]] for s in plan.settings]
    seeds, lrs, settings = plan.seeds, plan.lrs, plan.settings
    n = len(lrs) * len(seeds)
    cols = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    return SweepResult(
        problem=plan.spec.name,
        target=plan.target,
        metric=plan.spec.metric,
        epochs=plan.epochs,
        seeds=np.array(seeds),
        lrs=np.array(lrs),
        setting=np.repeat(np.array(settings), n),
        seed=np.tile(np.array(seeds), len(lrs) * len(settings)),
        lr=np.tile(np.repeat(np.array(lrs), len(seeds)), len(settings)),
        **cols,
    )


def _freeze(columns):
    for a in columns.values():
        a.setflags(write=False)
    return columns


def _progress_bar(total, desc):
    from tqdm.auto import tqdm  # only needed when a bar is shown

    return tqdm(total=total, desc=desc, unit="epoch")


def _check_seeds(seeds):
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
        raise TypeError(f"seeds must be a sequence of non-negative ints such as range(16), got {seeds!r}")
    seeds = tuple(check_int(s, f"seeds[{i}]", minimum=0) for i, s in enumerate(seeds))
    if not seeds:
        raise ValueError("seeds is empty; a sweep needs at least one seed")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {list(seeds)}")
    return seeds


def _check_lrs(lrs):
    if isinstance(lrs, (str, bytes)) or not hasattr(lrs, "__iter__"):
        raise TypeError(f"lrs must be a sequence of positive learning rates such as [0.01, 0.1], got {lrs!r}")
    lrs = list(lrs)
    if not lrs:
        raise ValueError("lrs is empty; a sweep needs at least one learning rate")
    for i, v in enumerate(lrs):
        if isinstance(v, (str, bytes, bool)) or not isinstance(v, numbers.Real):
            raise TypeError(f"lrs[{i}] must be a number, got {type(v).__name__}: {v!r}")
        try:
            float(v)
        except OverflowError:
            raise ValueError(f"lrs[{i}] = {v!r} is too large for a float") from None
    arr = check_positive_finite(np.asarray(lrs, dtype=np.float64), "lrs", n_models=len(lrs))
    if len(np.unique(arr)) != len(arr):
        raise ValueError(f"lrs must be distinct, got {arr.tolist()}")
    return tuple(float(v) for v in np.sort(arr))


def _check_target(target):
    if isinstance(target, bool) or not isinstance(target, numbers.Real) or not np.isfinite(target):
        raise TypeError(f"target must be a finite number, got {target!r}")
    return float(target)


# -- a labelled grid of runs on given data ---------------------------------------
@dataclass
class Grid:
    """Every learning rate x seed of one experiment, trained as one ensemble, with labels.

    Made by :func:`train_grid`. Rows are learning rates, columns are seeds;
    no index arithmetic is needed to read it.

    Attributes
    ----------
    problem : str
        The running problem whose success target judges the runs.
    lrs : ndarray of shape (n_lrs,)
    seeds : ndarray of shape (n_seeds,)
    history : History
        The ensemble's History, K = n_lrs * n_seeds networks, learning rate major.
    model : MLP
        The trained ensemble.
    outcome : ndarray of str, shape (n_lrs, n_seeds)
        Each run's outcome (:func:`nnlib.outcomes.classify`).
    """

    problem: str
    lrs: np.ndarray
    seeds: np.ndarray
    history: History = field(repr=False)
    model: MLP = field(repr=False)
    outcome: np.ndarray = field(repr=False)

    def _index(self, lr, seed):
        lr = float(check_positive_finite(lr, "lr"))
        i = np.flatnonzero(np.abs(self.lrs - lr) <= 1e-9 * lr)
        j = np.flatnonzero(self.seeds == seed)
        if i.size == 0:
            raise ValueError(f"lr={lr!r} is not in this grid; its learning rates are {self.lrs.tolist()}")
        if j.size == 0:
            raise ValueError(f"seed={seed!r} is not in this grid; its seeds are {self.seeds.tolist()}")
        return int(i[0]) * len(self.seeds) + int(j[0])

    def run(self, lr, seed):
        """The History of one run, as if it had been trained alone."""
        return self.history.run(self._index(lr, seed))

    def network(self, lr, seed):
        """The trained network of one run, as an independent single :class:`~nnlib.MLP`."""
        return self.model.member(self._index(lr, seed))

    def final(self, name="loss"):
        """The last recorded value of ``"loss"`` or a metric, shape (n_lrs, n_seeds).

        A diverged run gives its non-finite loss (its metric: NaN).
        """
        if name == "loss":
            values = self.history.final_loss
        else:
            if name not in self.history.metrics:
                raise ValueError(f"{name!r} was not recorded; recorded: 'loss', {', '.join(map(repr, self.history.metrics))}")
            values = self.history.metrics[name][self.history.last_epochs(), np.arange(self.history.n_models)]
            values = np.where(self.history.diverged, np.nan, values)
        return values.reshape(len(self.lrs), len(self.seeds))

    def curves(self, lr, name="loss"):
        """Per-epoch values of ``"loss"`` or a metric at one learning rate, shape (epochs_run, n_seeds).

        NaN after a run diverged.
        """
        i = self._index(lr, self.seeds[0])
        values = self.history.loss if name == "loss" else self.history.metrics[name]
        return values[:, i : i + len(self.seeds)]

    def counts(self, lr=None):
        """``{outcome: count}`` over the grid, or over one learning rate."""
        if lr is None:
            return outcomes.counts(self.outcome)
        return outcomes.counts(self.outcome[self._index(lr, self.seeds[0]) // len(self.seeds)])

    def epochs_to_target(self):
        """The first epoch each run met the success target, shape (n_lrs, n_seeds); -1 if never."""
        spec = get_problem(self.problem)
        first = epochs_to_reach(self.history.metrics[spec.metric], spec.target)
        return first.reshape(len(self.lrs), len(self.seeds))

    def usable_lr_range(self, fraction=outcomes.USABLE_FRACTION):
        """The usable learning rates of this grid (:func:`nnlib.outcomes.usable_lr_range`)."""
        return outcomes.usable_lr_range(self.lrs, self.outcome, fraction)

    def table(self):
        """One line per learning rate: the count of each outcome."""
        spec = get_problem(self.problem)
        head = f"{'lr':>9}  " + "  ".join(f"{o:>9}" for o in OUTCOMES)
        lines = [f"{self.problem}: converged = {spec.target_text}; {len(self.seeds)} seeds, "
                 f"{self.history.epochs} epochs", head]
        for lr, row in zip(self.lrs, self.outcome, strict=True):
            c = outcomes.counts(row)
            lines.append(f"{lr:>9.3g}  " + "  ".join(f"{c[o]:>9d}" for o in OUTCOMES))
        return "\n".join(lines)


def train_grid(problem, X, y, lrs, seeds=range(16), epochs=2000, **options):
    """Train every learning rate x seed of one experiment and label the results.

    One call, one ensemble: ``len(lrs) * len(seeds)`` networks, network
    ``(lr, seed)`` bit for bit the one ``MLP(..., rng=seed)`` trained alone at
    that rate would be.

    Parameters
    ----------
    problem : {"spiral", "polynomial"}
        Gives the network (sizes, output), the loss, the metric recorded and
        the success target that names each run's outcome.
    X : ndarray of shape (n, sizes[0])
        Inputs as the network sees them (raw, or standardized by the caller).
    y : ndarray of shape (n, 1)
    lrs : sequence of float, shape (n_lrs,)
        Distinct positive learning rates; kept in the order given (sorted
        ascending is what :meth:`Grid.usable_lr_range` needs).
    seeds : sequence of int, default range(16)
        Distinct initialization seeds.
    epochs : int, default 2000
    **options
        Keyword arguments of :class:`~nnlib.MLP` (``sizes``, ``hidden``,
        ``output``, ``batchnorm``, ``init``, ...) that override the problem's
        network, and of :func:`~nnlib.train` (``batch_size``, ``callback``,
        ``track_weights``, ``rng``, ``clip_norm``).

    Returns
    -------
    Grid
    """
    spec = get_problem(problem)
    seeds = _check_seeds(seeds)
    lrs = _check_lrs_in_order(lrs)
    epochs = check_int(epochs, "epochs", minimum=1)
    train_keys = {"batch_size", "callback", "track_weights", "rng", "verbose", "clip_norm"}
    mlp_kwargs = {"sizes": list(spec.sizes), "output": spec.output}
    mlp_kwargs.update({k: v for k, v in options.items() if k not in train_keys})
    train_kwargs = {k: v for k, v in options.items() if k in train_keys}
    model = MLP(rng=[s for _ in lrs for s in seeds], **mlp_kwargs)
    history = train(model, X, y, loss=spec.loss, lr=np.repeat(np.asarray(lrs), len(seeds)), epochs=epochs,
                    metrics=[spec.metric], **train_kwargs)
    kinds = outcomes.classify(history.loss, history.metrics[spec.metric], spec.target)
    return Grid(problem=spec.name, lrs=np.asarray(lrs), seeds=np.asarray(seeds), history=history, model=model,
                outcome=kinds.reshape(len(lrs), len(seeds)))


def _check_lrs_in_order(lrs):
    """Like :func:`_check_lrs`, but keeps the caller's order."""
    _check_lrs(lrs)
    return tuple(float(v) for v in lrs)
