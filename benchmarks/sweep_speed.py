"""Time ``nnlib.sweep`` against the same runs made one network at a time.

Run ``python benchmarks/sweep_speed.py`` (``--help`` for options). It prints

1. **16 seeds, one core.** One (problem, setting, learning rate) with 16 seeds:
   ``nnlib.sweep.run_setting`` (all 16 as one ensemble) against a loop that
   trains the 16 networks one after another with the same rule (train in
   chunks of 50 epochs, stop at the target or at divergence). Target: at least
   1.5x faster.
2. **A whole grid, both cores.** Two problems x three settings x learning rates
   x seeds: ``nnlib.sweep.run_sweeps(..., n_jobs=2)`` (each setting one
   ensemble, the six ensembles shared out over two processes) against the same
   runs one network at a time in one process. Target: at least 3x faster.

The sweep's cache is cleared before every timed sweep, so nothing is answered
from memory. Both sides are checked to record the same outcomes before any time
is reported.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _timing import blas_summary, interleaved, median, table

import nnlib
import nnlib.sweep as sw

CHUNK = 50  # the sweep's pruning interval, used by the reference loop too


def one_network(problem, setting, seed, lr, epochs, target):
    """Train one network like the sweep trains each run: stop at the target or at divergence.

    Returns
    -------
    (outcome_is_converged, epochs_to_target or None, diverged_at or None)
    """
    spec = sw.PROBLEMS[problem]
    X, y, kwargs, _ = sw.prepare(problem, setting)
    model = nnlib.MLP(rng=seed, **kwargs)
    start = 0
    while start < epochs:
        steps = min(CHUNK, epochs - start)
        hist = nnlib.train(model, X, y, loss=spec.loss, lr=lr, epochs=steps, metrics=[spec.metric])
        reached = np.flatnonzero(hist.metrics[spec.metric] >= target)
        if reached.size:
            return True, start + int(reached[0]), None
        if hist.diverged_at is not None:
            return False, None, start + hist.diverged_at
        start += steps
    return False, None, None


def reference_grid(grids, seeds, epochs):
    """Every run of ``grids`` one network at a time; {(problem, setting, lr, seed): (converged, epochs, diverged_at)}."""
    out = {}
    for problem, g in grids.items():
        target = sw.PROBLEMS[problem].target
        for setting in sw.SETTINGS:
            for lr in g["lrs"]:
                for seed in seeds:
                    out[problem, setting, lr, seed] = one_network(problem, setting, seed, lr, epochs, target)
    return out


def check_same(results, reference):
    """Raise if the sweep and the one-at-a-time runs disagree on any run."""
    for (problem, setting, lr, seed), (conv, ep, div) in reference.items():
        row = results[problem].run(setting, lr, seed)
        assert (row["outcome"] == "converged") == conv, (problem, setting, lr, seed)
        assert row["epochs_to_target"] == ep and row["diverged_at"] == div, (problem, setting, lr, seed, row, ep, div)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats of the 16-seed comparison (default 3)")
    parser.add_argument("--grid-repeats", type=int, default=1, help="repeats of the whole-grid comparison (default 1)")
    parser.add_argument("--epochs", type=int, default=600, help="epoch budget of every run (default 600)")
    args = parser.parse_args(argv)
    print(blas_summary())

    # -- 1. sixteen seeds, one core ---------------------------------------------------
    seeds = tuple(range(16))
    cases16 = [("spiral", "standardized+bn", 1.0), ("polynomial", "standardized", 0.03)]
    print(f"\n16 seeds, one process, {args.epochs} epochs (median of {args.repeats} interleaved repeats)")
    rows = []
    for problem, setting, lr in cases16:
        target = sw.PROBLEMS[problem].target
        ens = sw.run_setting(problem, setting, seeds, (lr,), args.epochs, target, sw.PROBLEMS[problem].data_seed)
        for k, seed in enumerate(seeds):
            conv, ep, div = one_network(problem, setting, seed, lr, args.epochs, target)
            assert (ens["outcome"][k] == "converged") == conv and (ep is None or ens["epochs_to_target"][k] == ep)
        cases = {
            "ensemble": (lambda p=problem, s=setting, lr=lr, t=target: sw.run_setting(p, s, seeds, (lr,), args.epochs, t, sw.PROBLEMS[p].data_seed), 1),
            "one at a time": (lambda p=problem, s=setting, lr=lr, t=target: [one_network(p, s, k, lr, args.epochs, t) for k in seeds], 1),
        }
        res = interleaved(cases, args.repeats)
        t_ens, t_one = median(res, "ensemble"), median(res, "one at a time")
        n_conv = int((ens["outcome"] == "converged").sum())
        rows.append((f"{problem}, {setting}, lr {lr:g} ({n_conv}/16 converge)", f"{t_ens:.2f} s", f"{t_one:.2f} s", f"{t_one / t_ens:.2f}x"))
    print(table(rows, ("case", "ensemble", "one at a time", "speed-up (target >= 1.5x)")))

    # -- 2. a whole grid, both cores ----------------------------------------------------
    grid_seeds = range(16)
    grids = {"spiral": {"lrs": (0.1, 1.0, 10.0)}, "polynomial": {"lrs": (1e-4, 0.01, 0.1)}}
    n_runs = len(grid_seeds) * len(sw.SETTINGS) * sum(len(g["lrs"]) for g in grids.values())
    print(f"\nwhole grid: 2 problems x 3 settings x 3 lrs x 16 seeds = {n_runs} runs, {args.epochs} epochs, {args.grid_repeats} repeat(s)")
    t_sweep, t_ref = [], []
    for _ in range(args.grid_repeats):
        sw.clear_cache()
        t0 = time.perf_counter()
        results = sw.run_sweeps(grids, seeds=grid_seeds, epochs=args.epochs, n_jobs=2, progress=False)
        t_sweep.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        reference = reference_grid(grids, grid_seeds, args.epochs)
        t_ref.append(time.perf_counter() - t0)
        check_same(results, reference)
    sw.clear_cache()
    ts, tr = float(np.median(t_sweep)), float(np.median(t_ref))
    print(table([(f"{n_runs} runs", f"{ts:.1f} s", f"{tr:.1f} s", f"{tr / ts:.2f}x")], ("grid", "run_sweeps, n_jobs=2", "one at a time, 1 process", "speed-up (target >= 3x)")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
