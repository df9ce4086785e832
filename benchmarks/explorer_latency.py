"""Latency of one explorer slider change: retrain + redraw, against its parts.

Run: ``python benchmarks/explorer_latency.py [repeats]``

At the default settings (spiral, 2000 epochs) it times, in one run and on
the same seeds:

- ``train only``: ``nnlib.train`` alone, what the explorer pays before it draws;
- ``hand-written numpy``: the same 2000 epochs written out by hand in numpy
  (``epoch_speed.numpy_unrolled``): the floor of any numpy explorer;
- ``update (new seed)``: ``Explorer.update(seed=k)`` for configurations not
  seen before: retrain, redraw the reused Figure, encode the PNG;
- ``update (cached)``: returning to a configuration already seen;
- ``seed step after a pause``: what a learner feels when they move the seed
  slider one step, look at the answer for a while (``PAUSE`` seconds), then
  move it one step further: the control's own path, with the explorer's
  background speculation (``Explorer(speculate=True)``, the default), which
  trains the neighbouring seeds during the pause (the first step of the
  series is a new run: nothing is speculated before a control is used);
- ``seed step at once``: the same without the pause, so the background run
  for the next seed is still under way when it is asked for;
- ``lr step after a pause``: the same for the learning-rate slider, one step
  (a tenth of a decade) down at a time from 0.1, so every run trains the
  whole 2000 epochs;
- ``update + sharpness``: the same with the sharpness readout switched on
  (new seeds again, so the run and its sharpness are both computed);
- ``pyplot redraw``: a naive reference that makes a new pyplot figure with
  the same three panels for every change and saves it;
- ``sharpness readout``: the readout's own cost, ``run_sharpness`` on the
  runs already trained (one Lanczos sharpness evaluation each).

It prints medians and the ratios to ``train only``, then the figures the
learner feels against the target of 0.15 s on two cores: the answer for a
seed never computed before (``update (new seed)``: retrain and redraw) and for
the next seed or learning-rate step after a pause (speculated).
"""

from __future__ import annotations

import io
import statistics
import sys
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from _timing import timing_data  # noqa: E402
from epoch_speed import PROBLEMS as NETWORKS  # noqa: E402
from epoch_speed import numpy_unrolled  # noqa: E402

import nnlib  # noqa: E402
from nnlib.widgets import Explorer, fit, run_sharpness  # noqa: E402

TARGET = 0.15  # seconds, median answer for a new seed
PAUSE = 1.0  # seconds a learner looks at an answer before the next step


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def pyplot_redraw(seed):
    run = fit(problem="spiral", lr=0.1, seed=seed, epochs=2000)
    fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.3), dpi=80)
    axes[0].semilogy(run.history.loss)
    X, y = timing_data("spiral")
    gx, gy = np.meshgrid(np.linspace(-14, 14, 70), np.linspace(-14, 14, 70))
    p = run.predict(np.column_stack([gx.ravel(), gy.ravel()])).reshape(70, 70)
    axes[1].contourf(gx, gy, p, levels=20, cmap="RdBu_r")
    axes[1].scatter(X[:, 0], X[:, 1], c=y[:, 0], s=4)
    axes[2].semilogy(run.history.grad_norms)
    fig.tight_layout()
    fig.savefig(io.BytesIO(), format="png")
    plt.close(fig)


def slider_steps(ex, name, values, pause):
    """Time each step of slider ``name`` (the control's path), pausing ``pause`` s before each."""
    times = []
    for v in values:
        time.sleep(pause)
        times.append(timed(lambda v=v: setattr(ex.controls[name], "value", v)))
    return times


def main(repeats=9):
    X, y = timing_data("spiral")  # the explorer's own data
    ex = Explorer()  # also warms up imports, data and fonts
    seeds = range(1, repeats + 1)
    sharp = Explorer(sharpness=True)
    seeds_sharp = range(repeats + 1, 2 * repeats + 1)
    results = {
        "train only": [timed(lambda s=s: nnlib.train(nnlib.MLP([2, 18, 4, 1], rng=s), X, y, lr=0.1, epochs=2000)) for s in seeds],
        "hand-written numpy": [timed(numpy_unrolled(NETWORKS["spiral"], X, y, 2000)) for s in seeds],
        "update (new seed)": [timed(lambda s=s: ex.update(seed=s)) for s in seeds],
        "update (cached)": [timed(lambda s=s: ex.update(seed=s)) for s in seeds],
        "seed step after a pause": slider_steps(Explorer(seed=30), "seed", range(31, 31 + repeats), PAUSE),
        "seed step at once": slider_steps(Explorer(seed=50), "seed", range(51, 51 + repeats), 0.0),
        "lr step after a pause": slider_steps(Explorer(seed=70), "lr", [10 ** (-1 - k / 10) for k in range(1, repeats + 1)],
                                              PAUSE),
        "update + sharpness": [timed(lambda s=s: sharp.update(seed=s)) for s in seeds_sharp],
        "pyplot redraw": [timed(lambda s=s: pyplot_redraw(s)) for s in seeds],
        "sharpness readout": [timed(lambda r=r: run_sharpness(r)) for r in (sharp._cache[k][0] for k in sharp._cache)],
    }
    base = statistics.median(results["train only"])
    print(f"explorer latency, spiral, 2000 epochs, {repeats} repeats each (median seconds, ratio to train only)")
    for name, times in results.items():
        med = statistics.median(times)
        print(f"  {name:<24} {med:8.3f} s   x{med / base:5.2f}")
    answer = statistics.median(results["update (new seed)"])
    step = statistics.median(results["seed step after a pause"])
    lr_step = statistics.median(results["lr step after a pause"])
    print(f"\nmedian answer at default settings [target <= {TARGET} s]:")
    floor = statistics.median(results["hand-written numpy"])
    print(f"  a seed never computed (retrain and redraw): {answer:.3f} s  (training {base:.3f} s of it;"
          f" the hand-written numpy loop alone takes {floor:.3f} s)")
    print(f"  the next seed step, after a {PAUSE:g} s look at the last answer: {step:.3f} s")
    print(f"  the next learning-rate step, after a {PAUSE:g} s look: {lr_step:.3f} s")
    return results


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 9)
