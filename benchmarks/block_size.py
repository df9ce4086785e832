"""How many networks ``nnlib.train`` should compute at once: the ensemble block size.

Run ``python benchmarks/block_size.py`` (``--help`` for options). An ensemble
of K networks runs every layer as one batched numpy call, which pays the
Python and call overhead once for all K; but past some size the per-sample
arrays (K x n x width float64) no longer fit in the CPU caches and every
network-epoch gets slower. ``train`` therefore splits a large ensemble into
blocks of at most ``nnlib.training.BLOCK`` networks.

This script trains one K = 80 ensemble (the size of a 16-seed x 5-learning-rate
grid) with ``BLOCK`` set to each candidate in turn, in interleaved repeats, for
the spiral network (plain and with BatchNorm) and the polynomial network, and
prints the time per network-epoch and its ratio to the whole ensemble in one
block (what ``train`` did before it blocked). Every block size gives the same
numbers bit for bit (checked here before timing).
"""

from __future__ import annotations

import argparse

import numpy as np
from _timing import blas_summary, interleaved, median, table, timing_data

import nnlib
import nnlib.training


def problems():
    Xs, ys = timing_data("spiral")
    Xp, yp = timing_data("polynomial")  # standardized, so that no timed run diverges
    return {
        "spiral": dict(sizes=[2, 18, 4, 1], output="sigmoid", batchnorm=False, loss="bce", lr=0.1, X=Xs, y=ys),
        "spiral + BN": dict(sizes=[2, 18, 4, 1], output="sigmoid", batchnorm=True, loss="bce", lr=0.1, X=Xs, y=ys),
        "polynomial": dict(sizes=[1, 88, 48, 1], output=None, batchnorm=False, loss="mse", lr=0.01, X=Xp, y=yp),
    }


def case(prob, k, block, epochs):
    model = nnlib.MLP(prob["sizes"], output=prob["output"], batchnorm=prob["batchnorm"], rng=range(k))

    def run():
        default = nnlib.training.BLOCK
        nnlib.training.BLOCK = block
        try:
            return nnlib.train(model.copy(), prob["X"], prob["y"], loss=prob["loss"], lr=prob["lr"], epochs=epochs)
        finally:
            nnlib.training.BLOCK = default

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats per case (median reported)")
    parser.add_argument("--k", type=int, default=80, help="ensemble size")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--blocks", type=int, nargs="+", default=[4, 8, 16, 32, 64])
    args = parser.parse_args()
    blocks = sorted(set(args.blocks) | {args.k})

    print(f"One nnlib.train call on an ensemble of K = {args.k}, {args.epochs} epochs, float64, per block size")
    print(blas_summary())
    rows = []
    for name, prob in problems().items():
        cases = {b: (case(prob, args.k, b, args.epochs), args.epochs * args.k) for b in blocks}
        ref = cases[args.k][0]()
        for run, _ in cases.values():  # same numbers whatever the block size; also a warm-up
            np.testing.assert_array_equal(run().loss, ref.loss)
        res = interleaved(cases, args.repeats)
        whole = median(res, args.k)
        best = min(blocks, key=lambda b: median(res, b))
        for b in blocks:
            t = median(res, b)
            rows.append([name, str(b), f"{t * 1e6:.1f}", f"{whole / t:.2f}", "<- fastest" if b == best else ""])
    print(f"\nMedian of {args.repeats} interleaved repeats; speed-up against one block of all {args.k}")
    print(table(rows, ["", "block", "us per network-epoch", "speed-up", ""]))
    print(f"\nnnlib.training.BLOCK is {nnlib.training.BLOCK}")


if __name__ == "__main__":
    main()
