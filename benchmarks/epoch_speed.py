"""Time one full-batch training epoch, nnlib against references, for both running networks.

Run ``python benchmarks/epoch_speed.py`` (``--help`` for options). It prints

1. the **fixed cost** of an epoch: the spiral network 2-18-4-1 trained on only
   n = 2 samples, where the arithmetic is negligible and what remains is the
   per-epoch overhead of numpy calls and Python, for ``nnlib.train`` and for the
   same network written out by hand in numpy, and their ratio;
2. one epoch (forward, backward, update) of each running network, the spiral
   network on its 500 points and the polynomial network 1-88-48-1 on its 40
   (standardized), measured in the same run: ``nnlib.train`` (with its History
   bookkeeping: loss, gradient norms), a bare loop over nnlib's public
   ``forward``/``backward``, the hand-written numpy loop, and an idiomatic
   PyTorch CPU loop (``nn.Sequential``, autograd, ``optim.SGD``) if torch is
   installed;
3. the throughput of K = 16 spiral networks trained as one ensemble
   (``MLP(..., rng=range(16))``) against the same 16 trained one after another.

Targets: the fixed cost at most 1.1x the hand-written loop's; nnlib's epoch at
most 0.35x PyTorch's on both networks; the ensemble at least 1.7x the
throughput of 16 separate runs. Everything is float64 (nnlib's precision).
"""

from __future__ import annotations

import argparse

import numpy as np
from _timing import blas_summary, interleaved, median, table, timing_data

import nnlib

PROBLEMS = {
    "spiral": dict(sizes=[2, 18, 4, 1], output="sigmoid", loss="bce", lr=0.1),
    "polynomial": dict(sizes=[1, 88, 48, 1], output=None, loss="mse", lr=0.01),
}


def nnlib_train(prob, X, y, epochs):
    model = nnlib.MLP(prob["sizes"], output=prob["output"], rng=0)

    def run():
        hist = nnlib.train(model, X, y, loss=prob["loss"], lr=prob["lr"], epochs=epochs)
        assert hist.epochs_run == epochs, "a timed run stopped early"

    return run


def nnlib_bare(prob, X, y, epochs):
    """nnlib's public forward/backward and a plain parameter update, no History."""
    model = nnlib.MLP(prob["sizes"], output=prob["output"], rng=0)
    loss = nnlib.losses.get_loss(prob["loss"])
    pairs = [(layer.params[k], layer.grads[k]) for layer in model.layers for k in layer.params]
    lr = prob["lr"]

    def run():
        for _ in range(epochs):
            out = model.forward(X, training=True)
            model.backward(loss.gradient(out, y))
            for param, grad in pairs:
                param -= lr * grad

    return run


def numpy_unrolled(prob, X, y, epochs):
    """The same network written out by hand: the simplest numpy version."""
    start = nnlib.MLP(prob["sizes"], output=prob["output"], rng=0)
    (W1, b1), (W2, b2), (W3, b3) = [(d.params["W"].copy(), d.params["b"].copy()) for d in start.dense_layers]
    n = X.shape[0]
    ones = np.ones(n)
    lr = prob["lr"]
    bce = prob["loss"] == "bce"

    def run():
        for _ in range(epochs):
            h1 = X @ W1 + b1
            a1 = np.maximum(h1, 0.0)
            h2 = a1 @ W2 + b2
            a2 = np.maximum(h2, 0.0)
            z = a2 @ W3 + b3
            if bce:
                p = 0.5 * (1.0 + np.tanh(0.5 * z))
                _loss = np.mean(np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z))) - y * z)  # nnlib's softplus form
                dz = (p - y) / n
            else:
                r = z - y
                _loss = np.mean(r * r)
                dz = r * (2.0 / n)
            dW3, db3 = a2.T @ dz, ones @ dz
            dh2 = (dz @ W3.T) * (h2 > 0)
            dW2, db2 = a1.T @ dh2, ones @ dh2
            dh1 = (dh2 @ W2.T) * (h1 > 0)
            dW1, db1 = X.T @ dh1, ones @ dh1
            for param, grad in ((W1, dW1), (b1, db1), (W2, dW2), (b2, db2), (W3, dW3), (b3, db3)):
                param -= lr * grad

    return run


def torch_loop(prob, X, y, epochs, torch):
    torch.manual_seed(0)
    sizes = prob["sizes"]
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers[:-1]).double()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    opt = torch.optim.SGD(net.parameters(), lr=prob["lr"])
    loss_fn = torch.nn.BCEWithLogitsLoss() if prob["loss"] == "bce" else torch.nn.MSELoss()

    def run():
        for _ in range(epochs):
            opt.zero_grad()
            loss = loss_fn(net(Xt), yt)
            loss.backward()
            opt.step()

    return run


def ensemble(X, y, epochs, k):
    prob = PROBLEMS["spiral"]
    model = nnlib.MLP(prob["sizes"], rng=range(k))

    def run():
        hist = nnlib.train(model, X, y, loss="bce", lr=prob["lr"], epochs=epochs)
        assert hist.epochs_run == epochs and not hist.diverged.any()

    return run


def separate(X, y, epochs, k):
    prob = PROBLEMS["spiral"]
    models = [nnlib.MLP(prob["sizes"], rng=s) for s in range(k)]

    def run():
        for model in models:
            hist = nnlib.train(model, X, y, loss="bce", lr=prob["lr"], epochs=epochs)
            assert hist.epochs_run == epochs

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15, help="interleaved repeats per case (median reported)")
    parser.add_argument("--torch-threads", type=int, default=1, help="torch.set_num_threads (default 1, see README)")
    parser.add_argument("--k", type=int, default=16, help="ensemble size")
    args = parser.parse_args()

    print("One full-batch training epoch, float64")
    print(blas_summary())
    try:
        import torch
    except ImportError:
        torch = None
        print("  torch is not installed: PyTorch rows skipped (pip install -r benchmarks/requirements.txt)")
    else:
        torch.set_num_threads(args.torch_threads)
        print(f"  torch {torch.__version__}, torch.set_num_threads({args.torch_threads})")

    spiral = PROBLEMS["spiral"]
    Xs, ys = timing_data("spiral")
    X2, y2 = Xs[[0, -1]], ys[[0, -1]]  # one point of each class
    cases = {
        ("fixed", "nnlib.train"): (nnlib_train(spiral, X2, y2, 1000), 1000),
        ("fixed", "plain numpy, unrolled"): (numpy_unrolled(spiral, X2, y2, 1000), 1000),
    }
    for name, prob in PROBLEMS.items():
        X, y = timing_data(name)
        cases[(name, "nnlib.train (with History)")] = (nnlib_train(prob, X, y, 300), 300)
        cases[(name, "nnlib bare loop (public forward/backward)")] = (nnlib_bare(prob, X, y, 300), 300)
        cases[(name, "plain numpy, unrolled")] = (numpy_unrolled(prob, X, y, 300), 300)
        if torch is not None:
            cases[(name, "PyTorch eager (nn.Sequential + SGD)")] = (torch_loop(prob, X, y, 60, torch), 60)
    k, e = args.k, 30
    cases[("ensemble", f"ensemble of {k}, one nnlib.train")] = (ensemble(Xs, ys, e, k), e)
    cases[("ensemble", f"{k} separate nnlib.train runs")] = (separate(Xs, ys, e, k), e)

    for run, _ in cases.values():  # warm up: first-call costs, caches, allocator
        run()
    res = interleaved(cases, args.repeats)
    t = {key: median(res, key) for key in cases}
    faults = {key: median(res, key, "faults") for key in cases}

    fixed_nn, fixed_np = t[("fixed", "nnlib.train")], t[("fixed", "plain numpy, unrolled")]
    print(f"\nFixed cost of an epoch: spiral network on n = 2 samples, median of {args.repeats} interleaved repeats")
    print(table([["nnlib.train", f"{fixed_nn * 1e6:.1f}"], ["plain numpy, unrolled", f"{fixed_np * 1e6:.1f}"]], ["", "us/epoch"]))

    ratios = {}
    for name, prob in PROBLEMS.items():
        ref = (name, "PyTorch eager (nn.Sequential + SGD)") if torch is not None else (name, "plain numpy, unrolled")
        rows = []
        for key in cases:
            if key[0] == name:
                rows.append([key[1], f"{t[key] * 1e6:.0f}", f"{t[key] / t[ref]:.2f}", f"{faults[key]:.1f}"])
        ratios[name] = t[(name, "nnlib.train (with History)")] / t[ref]
        print(f"\n{name} {'-'.join(map(str, prob['sizes']))}, one epoch, median of {args.repeats} interleaved repeats")
        print(table(rows, ["", "us/epoch", f"x {ref[1].split(' (')[0]}", "page faults/epoch"]))

    t_ens, t_sep = t[("ensemble", f"ensemble of {k}, one nnlib.train")], t[("ensemble", f"{k} separate nnlib.train runs")]
    rows = [[key[1], f"{t[key] * 1e6:.0f}", f"{k / t[key]:.0f}", f"{faults[key]:.1f}"] for key in cases if key[0] == "ensemble"]
    print(f"\nOne epoch of all {k} spiral networks, median of {args.repeats} interleaved repeats")
    print(table(rows, ["", "us/epoch", "network-epochs/s", "page faults/epoch"]))

    print("\nRatios (target in brackets)")
    print(f"  fixed cost, nnlib.train / plain numpy (n = 2)   = {fixed_nn / fixed_np:.2f}  [<= 1.1]")
    for name in PROBLEMS:
        label = "PyTorch" if torch is not None else "plain numpy"
        target = "  [<= 0.35]" if torch is not None else ""
        print(f"  {name + ',':<11} nnlib.train epoch / {label} epoch = {ratios[name]:.2f}{target}")
    print(f"  ensemble throughput / {k} separate runs          = {t_sep / t_ens:.2f}  [>= 1.7]")


if __name__ == "__main__":
    main()
