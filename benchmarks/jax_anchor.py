"""The limit anchor: the same training compiled whole by JAX, against nnlib.

Run ``python benchmarks/jax_anchor.py`` (needs ``pip install jax jaxlib``; not a
requirement of the tutorial or of the other benchmarks). JAX traces the whole
run, ``jit`` of a ``lax.scan`` over the epochs, and compiles it with XLA into
one program: no Python and no per-call dispatch between epochs, and the
elementwise steps fused. That is about as fast as this float64 math gets on a
CPU without changing the algorithm, so it shows how much of nnlib's time is
overhead a numpy library cannot remove.

Both sides run the same networks from the same initial weights, in float64,
full batch, recording the loss and every Dense layer's gradient norm per epoch
(what nnlib's History records): the spiral network 2-18-4-1 on 500 points (BCE
from logits) and the polynomial network 1-88-48-1 on 40 standardized points
(MSE), one network and an ensemble of K = 16 (``vmap`` over the networks on the
JAX side). The compile time is reported apart; the timed JAX runs reuse the
compiled program. It prints nnlib's time over JAX's: how many times slower
nnlib is.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _timing import blas_summary, interleaved, median, table, timing_data

# the same networks, settings and data as the epoch benchmark
from epoch_speed import PROBLEMS

import nnlib


def jax_trainer(jax, jnp, loss, lr, epochs, ensemble):
    """A compiled function ``run(params, X, y) -> (params, losses, norms)``."""

    def forward(params, X):
        h = X
        for W, b in params[:-1]:
            h = jnp.maximum(h @ W + b, 0.0)
        W, b = params[-1]
        return h @ W + b

    def loss_fn(params, X, y):
        z = forward(params, X)
        if loss == "bce":
            return jnp.mean(jnp.logaddexp(0.0, z) - y * z)
        return jnp.mean((z - y) ** 2)

    def epoch(params, X, y):
        value, grads = jax.value_and_grad(loss_fn)(params, X, y)
        norms = jnp.stack([jnp.sqrt(jnp.sum(gW * gW)) for gW, _ in grads])
        params = jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads)
        return params, value, norms

    step = jax.vmap(epoch, in_axes=(0, None, None)) if ensemble else epoch

    def run(params, X, y):
        def body(p, _):
            p, value, norms = step(p, X, y)
            return p, (value, norms)

        params, (losses, norms) = jax.lax.scan(body, params, None, length=epochs)
        return params, losses, norms

    return jax.jit(run)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="interleaved repeats per case (median reported)")
    parser.add_argument("--epochs", type=int, default=500)
    parser.add_argument("--k", type=int, default=16, help="ensemble size")
    args = parser.parse_args()
    try:
        import jax
    except ImportError:
        raise SystemExit("jax is not installed: pip install jax jaxlib") from None
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    print(f"Whole training run, {args.epochs} epochs, float64: nnlib.train against jax.jit(lax.scan)")
    print(blas_summary())
    print(f"  jax {jax.__version__} on {jax.devices()[0].platform}")
    cases, compile_s = {}, {}
    for name, prob in PROBLEMS.items():
        X, y = timing_data(name)
        for k in (None, args.k):
            model = nnlib.MLP(prob["sizes"], output=prob["output"], rng=0 if k is None else range(k))
            start = [(d.params["W"].copy(), d.params["b"].copy()) for d in model.dense_layers]
            params = [(jnp.asarray(W), jnp.asarray(b)) for W, b in start]
            run = jax_trainer(jax, jnp, prob["loss"], prob["lr"], args.epochs, ensemble=k is not None)
            t0 = time.perf_counter()
            out = run(params, jnp.asarray(X), jnp.asarray(y))  # the first call compiles
            jax.block_until_ready(out)
            compile_s[(name, k)] = time.perf_counter() - t0
            hist = nnlib.train(model.copy(), X, y, loss=prob["loss"], lr=prob["lr"], epochs=args.epochs)
            # same math: the loss curves agree to rounding (not bit for bit: XLA fuses and reorders)
            np.testing.assert_allclose(np.asarray(out[1]), hist.loss, rtol=1e-6)

            def nn_run(model=model, X=X, y=y, prob=prob):
                nnlib.train(model.copy(), X, y, loss=prob["loss"], lr=prob["lr"], epochs=args.epochs)

            Xj, yj = jnp.asarray(X), jnp.asarray(y)

            def jax_run(run=run, params=params, X=Xj, y=yj):
                jax.block_until_ready(run(params, X, y))

            cases[("nnlib", name, k)] = (nn_run, args.epochs * (k or 1))
            cases[("jax", name, k)] = (jax_run, args.epochs * (k or 1))
    for run, _ in cases.values():
        run()
    res = interleaved(cases, args.repeats)
    rows = []
    for name in PROBLEMS:
        for k in (None, args.k):
            t_nn, t_jax = median(res, ("nnlib", name, k)), median(res, ("jax", name, k))
            rows.append([f"{name} {'single' if k is None else f'K={k}'}", f"{t_nn * 1e6:.1f}", f"{t_jax * 1e6:.1f}",
                         f"{t_nn / t_jax:.2f}", f"{compile_s[(name, k)]:.2f}"])
    print(f"\nMedian of {args.repeats} interleaved repeats, per network-epoch")
    print(table(rows, ["", "nnlib us", "JAX us", "nnlib / JAX", "JAX compile s"]))


if __name__ == "__main__":
    main()
