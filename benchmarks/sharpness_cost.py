"""What one sharpness evaluation costs, in training epochs.

Run ``python benchmarks/sharpness_cost.py`` (``--help`` for options). For the
spiral network 2-18-4-1 (500 points, bce), plain and with ``batchnorm=True``,
and the polynomial network 1-88-48-1 (its 40 raw points, linear output, mse),
each as a single network and as an ensemble of K = 16, it times one call of
``nnlib.curvature.sharpness`` and one full-batch ``nnlib.train`` epoch of the
same model in the same run (median of interleaved repeats), and prints their
ratio: the cost of one evaluation in epochs. It also prints how many
Hessian-vector products the Lanczos iteration used (for an ensemble, the most
any member needed: the members iterate in lockstep until the last converges).

The models are first trained for a few hundred epochs, so the curvature is
that of a network in training rather than at its initial weights.

Target: at most about 100 epochs per evaluation for the spiral network, so
that recording it every 25 epochs or more costs at most a few times the training.
"""

from __future__ import annotations

import argparse

import numpy as np
from _timing import blas_summary, interleaved, median, table, timing_data

import nnlib
from nnlib.curvature import sharpness


def problems():
    Xs, ys = timing_data("spiral")
    Xp, yp = timing_data("polynomial", standardized=False)  # raw: the edge of stability at lr 1e-6
    spiral = dict(sizes=[2, 18, 4, 1], output="sigmoid", loss="bce", lr=0.1, X=Xs, y=ys)
    return {
        "spiral": dict(spiral, batchnorm=False),
        "spiral + BN": dict(spiral, batchnorm=True),
        "polynomial": dict(sizes=[1, 88, 48, 1], output=None, loss="mse", lr=1e-6, X=Xp, y=yp, batchnorm=False),
    }


def trained_model(p, k, warmup):
    rng = 0 if k is None else range(k)
    model = nnlib.MLP(p["sizes"], output=p["output"], batchnorm=p["batchnorm"], rng=rng)
    hist = nnlib.train(model, p["X"], p["y"], loss=p["loss"], lr=p["lr"], epochs=warmup)
    assert not np.any(hist.diverged), "a warm-up run diverged"
    return model


def epoch_case(model, p, epochs):
    def run():
        hist = nnlib.train(model, p["X"], p["y"], loss=p["loss"], lr=p["lr"], epochs=epochs)
        assert hist.epochs_run == epochs, "a timed run stopped early"

    return run, epochs


def sharpness_case(model, p, tol, max_iter):
    # The timed calls read the model while the epoch case trains it between
    # repeats; evaluate a fixed copy so every call does the same work.
    fixed = model.copy()

    def run():
        sharpness(fixed, p["X"], p["y"], p["loss"], tol=tol, max_iter=max_iter, rng=0)

    return run, 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=9, help="interleaved repeats per case (median reported)")
    parser.add_argument("--k", type=int, default=16, help="ensemble size")
    parser.add_argument("--tol", type=float, default=1e-6, help="sharpness tolerance (its default is 1e-6)")
    parser.add_argument("--max-iter", type=int, default=100, help="sharpness max_iter (its default is 100)")
    parser.add_argument("--warmup", type=int, default=300, help="epochs trained before measuring")
    args = parser.parse_args()

    print("Cost of one sharpness evaluation in training epochs, full batch, float64")
    print(blas_summary())
    print(f"  tol={args.tol:g}, max_iter={args.max_iter}, models trained {args.warmup} epochs first")

    cases, info = {}, {}
    for name, p in problems().items():
        for k in (None, args.k):
            label = f"{name}, " + ("single" if k is None else f"K = {k}")
            model = trained_model(p, k, args.warmup)
            cases[label + " | epoch"] = epoch_case(model, p, 20 if k is None else 5)
            cases[label + " | sharpness"] = sharpness_case(model, p, args.tol, args.max_iter)
            value, it = sharpness(model, p["X"], p["y"], p["loss"], tol=args.tol, max_iter=args.max_iter, rng=0, return_info=True)
            info[label] = (np.atleast_1d(value), np.atleast_1d(it["iterations"]), np.atleast_1d(it["converged"]))

    for run, _ in cases.values():  # warm up: first-call costs, caches, allocator
        run()
    res = interleaved(cases, args.repeats)

    rows = []
    for label, (value, iters, conv) in info.items():
        t_epoch = median(res, label + " | epoch")
        t_sharp = median(res, label + " | sharpness")
        rows.append([
            label,
            f"{t_epoch * 1e3:.2f}",
            f"{t_sharp * 1e3:.1f}",
            f"{t_sharp / t_epoch:.0f}",
            f"{int(iters.max())}",
            f"{int(conv.sum())}/{conv.size}",
            f"{np.median(value):.4g}",
        ])
    print(f"\nMedian of {args.repeats} interleaved repeats")
    print(table(rows, ["", "ms/epoch", "ms/sharpness", "epochs per sharpness", "H-v products", "converged", "sharpness (median)"]))


if __name__ == "__main__":
    main()
