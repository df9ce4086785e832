"""Time one full-batch training epoch of the spiral network, nnlib against references.

Run ``python benchmarks/epoch_speed.py`` (``--help`` for options). It prints

1. one epoch (forward, backward, update) of the 2-18-4-1 spiral network on its
   500 points, measured four ways in the same run: ``nnlib.train`` (with its
   History bookkeeping: loss, gradient norms), a bare loop over nnlib's public
   ``forward``/``backward``, a plain unrolled numpy implementation, and an
   idiomatic PyTorch CPU loop (``nn.Sequential``, autograd, ``optim.SGD``,
   ``BCEWithLogitsLoss``) if torch is installed;
2. the throughput of K = 16 networks trained as one ensemble
   (``MLP(..., rng=range(16))``) against the same 16 trained one after another.

Targets: nnlib's epoch at most 0.5x PyTorch's; the ensemble at least 1.5x the
throughput of 16 separate runs. Everything is float64 (nnlib's precision).
"""

from __future__ import annotations

import argparse

import numpy as np
from _timing import blas_summary, interleaved, median, table

import nnlib

SIZES = [2, 18, 4, 1]
LR = 0.1


def nnlib_train(X, y, epochs):
    model = nnlib.MLP(SIZES, rng=0)

    def run():
        hist = nnlib.train(model, X, y, loss="bce", lr=LR, epochs=epochs)
        assert hist.epochs_run == epochs, "a timed run stopped early"

    return run


def nnlib_bare(X, y, epochs):
    """nnlib's public forward/backward and a plain parameter update, no History."""
    model = nnlib.MLP(SIZES, rng=0)
    bce = nnlib.losses.BinaryCrossEntropy()
    pairs = [(layer.params[k], layer.grads[k]) for layer in model.layers for k in layer.params]

    def run():
        for _ in range(epochs):
            p = model.forward(X, training=True)
            model.backward(bce.gradient(p, y))
            for param, grad in pairs:
                param -= LR * grad

    return run


def numpy_unrolled(X, y, epochs):
    """The same network written out by hand: the simplest numpy version."""
    start = nnlib.MLP(SIZES, rng=0)
    (W1, b1), (W2, b2), (W3, b3) = [(d.params["W"].copy(), d.params["b"].copy()) for d in start.dense_layers]
    n = X.shape[0]
    ones = np.ones(n)

    def run():
        for _ in range(epochs):
            h1 = X @ W1 + b1
            a1 = np.maximum(h1, 0.0)
            h2 = a1 @ W2 + b2
            a2 = np.maximum(h2, 0.0)
            z = a2 @ W3 + b3
            p = 0.5 * (1.0 + np.tanh(0.5 * z))
            _loss = np.mean(np.logaddexp(0.0, z) - y * z)
            dz = (p - y) / n
            dW3, db3 = a2.T @ dz, ones @ dz
            dh2 = (dz @ W3.T) * (h2 > 0)
            dW2, db2 = a1.T @ dh2, ones @ dh2
            dh1 = (dh2 @ W2.T) * (h1 > 0)
            dW1, db1 = X.T @ dh1, ones @ dh1
            for param, grad in ((W1, dW1), (b1, db1), (W2, dW2), (b2, db2), (W3, dW3), (b3, db3)):
                param -= LR * grad

    return run


def torch_loop(X, y, epochs, torch):
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(2, 18), torch.nn.ReLU(), torch.nn.Linear(18, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1)
    ).double()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def run():
        for _ in range(epochs):
            opt.zero_grad()
            loss = loss_fn(net(Xt), yt)
            loss.backward()
            opt.step()

    return run


def ensemble(X, y, epochs, k):
    model = nnlib.MLP(SIZES, rng=range(k))

    def run():
        hist = nnlib.train(model, X, y, loss="bce", lr=LR, epochs=epochs)
        assert hist.epochs_run == epochs and not hist.diverged.any()

    return run


def separate(X, y, epochs, k):
    models = [nnlib.MLP(SIZES, rng=s) for s in range(k)]

    def run():
        for model in models:
            hist = nnlib.train(model, X, y, loss="bce", lr=LR, epochs=epochs)
            assert hist.epochs_run == epochs

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15, help="interleaved repeats per case (median reported)")
    parser.add_argument("--torch-threads", type=int, default=1, help="torch.set_num_threads (default 1, see README)")
    parser.add_argument("--k", type=int, default=16, help="ensemble size")
    args = parser.parse_args()

    X, y = nnlib.make_spiral(n_per_class=250, noise=0.2, rng=0)
    print("Spiral network 2-18-4-1, 500 points, full batch, float64")
    print(blas_summary())

    cases = {
        "nnlib.train (with History)": (nnlib_train(X, y, 300), 300),
        "nnlib bare loop (public forward/backward)": (nnlib_bare(X, y, 300), 300),
        "plain numpy, unrolled": (numpy_unrolled(X, y, 300), 300),
    }
    try:
        import torch
    except ImportError:
        torch = None
        print("  torch is not installed: PyTorch row skipped (pip install -r benchmarks/requirements.txt)")
    else:
        torch.set_num_threads(args.torch_threads)
        print(f"  torch {torch.__version__}, torch.set_num_threads({args.torch_threads})")
        cases["PyTorch eager (nn.Sequential + SGD)"] = (torch_loop(X, y, 50, torch), 50)
    k, e = args.k, 30
    cases[f"ensemble of {k}, one nnlib.train"] = (ensemble(X, y, e, k), e)
    cases[f"{k} separate nnlib.train runs"] = (separate(X, y, e, k), e)

    for run, _ in cases.values():  # warm up: first-call costs, caches, allocator
        run()
    res = interleaved(cases, args.repeats)

    ref = "PyTorch eager (nn.Sequential + SGD)" if torch is not None else "plain numpy, unrolled"
    t_ref = median(res, ref)
    single = list(cases)[: 4 if torch is not None else 3]
    rows = []
    for name in single:
        t = median(res, name)
        rows.append([name, f"{t * 1e6:.0f}", f"{t / t_ref:.2f}", f"{median(res, name, 'faults'):.1f}"])
    print(f"\nOne epoch, median of {args.repeats} interleaved repeats")
    print(table(rows, ["", "us/epoch", f"x {ref.split(' (')[0]}", "page faults/epoch"]))

    t_ens = median(res, f"ensemble of {k}, one nnlib.train")
    t_sep = median(res, f"{k} separate nnlib.train runs")
    rows = [
        [f"ensemble of {k}, one nnlib.train", f"{t_ens * 1e6:.0f}", f"{k / t_ens:.0f}", f"{median(res, f'ensemble of {k}, one nnlib.train', 'faults'):.1f}"],
        [f"{k} separate nnlib.train runs", f"{t_sep * 1e6:.0f}", f"{k / t_sep:.0f}", f"{median(res, f'{k} separate nnlib.train runs', 'faults'):.1f}"],
    ]
    print(f"\nOne epoch of all {k} networks, median of {args.repeats} interleaved repeats")
    print(table(rows, ["", "us/epoch", "network-epochs/s", "page faults/epoch"]))

    t_nn = median(res, "nnlib.train (with History)")
    print("\nRatios (target in brackets)")
    if torch is not None:
        print(f"  nnlib.train epoch / PyTorch epoch      = {t_nn / t_ref:.2f}  [<= 0.5]")
    print(f"  nnlib.train epoch / plain numpy epoch  = {t_nn / median(res, 'plain numpy, unrolled'):.2f}")
    print(f"  ensemble throughput / {k} separate runs = {t_sep / t_ens:.2f}  [>= 1.5]")


if __name__ == "__main__":
    main()
