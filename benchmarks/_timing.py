"""Shared timing helpers for the benchmark scripts.

The machine these run on is shared and noisy, so every figure is a median over
interleaved repeats (each repeat runs every case once, in a rotating order, so
a burst of load from elsewhere hits all cases alike), and the scripts report
ratios between cases measured in the same run rather than absolute times.
"""

from __future__ import annotations

import os
import platform
import resource
import time

import numpy as np

from nnlib.problems import get_problem


def minor_faults():
    """Minor page faults of this process so far (``getrusage``)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def interleaved(cases, repeats):
    """Time every case ``repeats`` times, interleaved.

    Parameters
    ----------
    cases : dict of str to (callable, int)
        ``name -> (run, units)``: ``run()`` does ``units`` units of work (e.g.
        epochs) and returns nothing.
    repeats : int

    Returns
    -------
    dict of str to dict
        For each case, ``"seconds"`` and ``"faults"``: arrays of shape
        (repeats,), per unit of work.
    """
    names = list(cases)
    out = {name: {"seconds": [], "faults": []} for name in names}
    for r in range(repeats):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            run, units = cases[name]
            f0 = minor_faults()
            t0 = time.perf_counter()
            run()
            dt = time.perf_counter() - t0
            out[name]["seconds"].append(dt / units)
            out[name]["faults"].append((minor_faults() - f0) / units)
    return {name: {k: np.array(v) for k, v in d.items()} for name, d in out.items()}


def median(results, name, key="seconds"):
    return float(np.median(results[name][key]))


def blas_summary():
    """One paragraph on numpy, its BLAS and threads, and the allocator settings in force."""
    lines = [f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs"]
    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            lines.append(
                f"  {pool.get('internal_api')} {pool.get('version')} ({pool.get('architecture')}), "
                f"{pool.get('num_threads')} threads, {pool.get('threading_layer')}"
            )
    except ImportError:
        blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
        lines.append(f"  BLAS {blas.get('name')} {blas.get('version')} (install threadpoolctl for thread counts)")
    env = {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS", "OMP_", "MKL_", "MALLOC_"))}
    lines.append("  env: " + (", ".join(f"{k}={v}" for k, v in sorted(env.items())) or "no OPENBLAS_*/OMP_*/MKL_*/MALLOC_* variables set"))
    return "\n".join(lines)


def table(rows, header):
    """Format rows (sequences of str) under ``header`` as an aligned text table."""
    rows = [list(map(str, header))] + [list(map(str, r)) for r in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    fmt = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))  # noqa: E731
    return "\n".join([fmt(rows[0]), "  ".join("-" * w for w in widths)] + [fmt(r) for r in rows[1:]])


def timing_data(name, standardized=True):
    """A running problem's training data, made as the tutorial makes it (``Problem.make_data``).

    With ``standardized`` the polynomial's inputs and targets are standardized,
    so that no timed run diverges (a diverged run stops early and would time
    fewer epochs); the spiral is used as it is either way.

    Returns
    -------
    X : ndarray of shape (n, features)
    y : ndarray of shape (n, 1)
    """
    spec = get_problem(name)
    X, y = spec.make_data()
    if standardized and name == "polynomial":
        X, y, _, _ = spec.standardize(X, y, inputs=True, targets=True)
    return X, y
