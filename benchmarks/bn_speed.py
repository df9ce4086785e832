"""What BatchNorm costs per epoch, and the page faults behind an old slowdown.

Run ``python benchmarks/bn_speed.py`` (``--help`` for options). It prints, for
the spiral network 2-18-4-1 (500 points) and the polynomial network 1-88-48-1
(40 points), single and as an ensemble of K = 16, the time of one full-batch
``nnlib.train`` epoch without and with ``batchnorm=True``, their ratio, and the
minor page faults per epoch (``getrusage``).

Target: a BatchNorm epoch costs at most 2.5x a plain one (spiral, single and K = 16).
It also times the BatchNorm epochs in three forms of the per-feature rows
(``nnlib.layers._rows``): nnlib's (broadcast, except an ensemble's layers of
at most 8 features, whose rows are repeated over the samples), broadcast
everywhere, and materialized by ``np.repeat`` everywhere (an earlier form).

A second table shows what nnlib's reuse of layer output arrays inside
``train`` (a private speed measure, see ``Layer._scratch``) is for: each row
runs the spiral ensemble in a fresh process, with that reuse on (the default)
or switched off ("new arrays every epoch", the code before it), in the default
environment and with ``MALLOC_TOP_PAD_`` set, the environment-only cure. Without
either, glibc returns the top of its heap to the kernel after every epoch and
the next epoch page-faults it back.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys

import numpy as np
from _timing import blas_summary, interleaved, median, table, timing_data

import nnlib
import nnlib.layers
import nnlib.training

MALLOC_ENV = {"MALLOC_TOP_PAD_": str(64 * 2**20)}


@contextlib.contextmanager
def new_arrays_every_epoch():
    """Disable nnlib's output-array reuse for the duration (the behaviour before it existed)."""
    cls = nnlib.training._ReusedOutputs
    enter = cls.__enter__
    cls.__enter__ = lambda self: None
    try:
        yield
    finally:
        cls.__enter__ = enter


def repeated_rows(v, n):
    """Per-feature rows materialized with np.repeat everywhere: an earlier form of nnlib's."""
    return np.repeat(v[..., None, :], n, axis=-2)


def broadcast_rows(v, n):
    """Per-feature rows as broadcast views everywhere."""
    return v[..., None, :]


ROW_FORMS = {"repeat": repeated_rows, "broadcast": broadcast_rows}


@contextlib.contextmanager
def rows_form(form):
    """Run with nnlib's own per-feature rows (form None) or one of ROW_FORMS."""
    default = nnlib.layers._rows
    if form is not None:
        nnlib.layers._rows = ROW_FORMS[form]
    try:
        yield
    finally:
        nnlib.layers._rows = default


def problems():
    Xs, ys = timing_data("spiral")
    Xp, yp = timing_data("polynomial")  # standardized, so that no timed run diverges
    return {
        "spiral": dict(sizes=[2, 18, 4, 1], output="sigmoid", loss="bce", lr=0.1, X=Xs, y=ys),
        "polynomial": dict(sizes=[1, 88, 48, 1], output=None, loss="mse", lr=0.01, X=Xp, y=yp),
    }


def case(problem, k, batchnorm, epochs, reuse=True, rows=None):
    model = nnlib.MLP(problem["sizes"], output=problem["output"], batchnorm=batchnorm, rng=0 if k is None else range(k))

    def run():
        with contextlib.nullcontext() if reuse else new_arrays_every_epoch(), rows_form(rows):
            hist = nnlib.train(model, problem["X"], problem["y"], loss=problem["loss"], lr=problem["lr"], epochs=epochs)
        assert hist.epochs_run == epochs and not np.any(hist.diverged), "a timed run stopped early"

    return run, epochs


def build_cases(k):
    cases = {}
    for name, prob in problems().items():
        for size in (None, k):
            epochs = 200 if size is None else 20
            for bn in (False, True):
                cases[(name, size, bn)] = case(prob, size, bn, epochs)
            for form in ROW_FORMS:
                cases[(name, size, form)] = case(prob, size, True, epochs, rows=form)
    return cases


def fault_cases(k, reuse):
    prob = problems()["spiral"]
    return {("spiral", k, bn): case(prob, k, bn, 20, reuse=reuse) for bn in (False, True)}


def measure(cases, repeats):
    for run, _ in cases.values():  # warm up
        run()
    return interleaved(cases, repeats)


def rows_from(res, label=None):
    rows = []
    for name, size, bn in res:
        if bn is not False:
            continue
        plain, with_bn = (name, size, False), (name, size, True)
        tp, tb = median(res, plain), median(res, with_bn)
        rows.append([
            label or f"{name} {'single' if size is None else f'K={size}'}",
            f"{tp * 1e6:.0f}", f"{tb * 1e6:.0f}", f"{tb / tp:.2f}",
            f"{median(res, plain, 'faults'):.1f}", f"{median(res, with_bn, 'faults'):.1f}",
        ])
    return rows


HEADER = ["", "plain us/epoch", "BN us/epoch", "BN / plain", "faults/epoch plain", "faults/epoch BN"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=11, help="interleaved repeats per case (median reported)")
    parser.add_argument("--k", type=int, default=16, help="ensemble size")
    parser.add_argument("--no-faults", action="store_true", help="skip the page-fault table (four child processes)")
    parser.add_argument("--child", choices=["reuse", "new-arrays"], help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:  # one row of the page-fault table, in a fresh process
        label = f"spiral K={args.k}, " + ("reused arrays (default)" if args.child == "reuse" else "new arrays every epoch")
        res = measure(fault_cases(args.k, reuse=args.child == "reuse"), args.repeats)
        print("\t".join(rows_from(res, label)[0]))
        return

    print("One full-batch nnlib.train epoch without and with batchnorm=True, float64")
    print(blas_summary())
    res = measure(build_cases(args.k), args.repeats)
    print(f"\nMedian of {args.repeats} interleaved repeats")
    print(table(rows_from(res), HEADER))
    print("\nRatios (target in brackets)")
    for size, label in [(None, "single"), (args.k, f"K={args.k}")]:
        r = median(res, ("spiral", size, True)) / median(res, ("spiral", size, False))
        print(f"  spiral {label}: BN epoch / plain epoch = {r:.2f}  [<= 2.5]")
    print("\nBatchNorm epochs by the form of the per-feature rows: nnlib's (narrow ensemble rows repeated), "
          "broadcast everywhere, np.repeat everywhere")
    rows = []
    for name, size, bn in res:
        if bn == "repeat":
            tn, tb, tr = (median(res, (name, size, form)) for form in (True, "broadcast", "repeat"))
            label = f"{name} {'single' if size is None else f'K={size}'}"
            rows.append([label, f"{tn * 1e6:.0f}", f"{tb * 1e6:.0f}", f"{tr * 1e6:.0f}", f"{tn / tb:.2f}", f"{tn / tr:.2f}"])
    print(table(rows, ["", "nnlib us/epoch", "broadcast us/epoch", "np.repeat us/epoch", "nnlib / broadcast", "nnlib / repeat"]))

    if args.no_faults:
        return
    # Page faults depend on the allocator's history (glibc raises its thresholds
    # after freeing large blocks), so each configuration gets a fresh process.
    rows = []
    for env_label, extra in [("default", {}), (", ".join(f"{k}={v}" for k, v in MALLOC_ENV.items()), MALLOC_ENV)]:
        for mode in ("reuse", "new-arrays"):
            child = [sys.executable, __file__, "--child", mode, "--k", str(args.k), "--repeats", str(args.repeats)]
            out = subprocess.run(child, env=dict(os.environ, **extra), capture_output=True, text=True, check=True).stdout
            rows.append([*out.strip().split("\t"), env_label])
    print(f"\nPage faults, one fresh process per row, median of {args.repeats} interleaved repeats")
    print(table(rows, HEADER + ["environment"]))


if __name__ == "__main__":
    main()
