"""Regenerate every PNG in ``figures/`` from nnlib, deterministically.

Usage::

    python figures/make_figures.py            # all figures
    python figures/make_figures.py 01 05      # only the modules whose names contain these

Each ``figures/fig_*.py`` module defines ``make(outdir) -> list of paths``;
this script imports them in name order and runs them. Same seeds, same
pictures: PNGs are written without timestamps or version metadata.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

HERE = Path(__file__).resolve().parent

# When the current figure module started (time.perf_counter()), so each saved
# figure can say how long it took; None outside main().
_module_start = None


def save_png(fig, path, dpi=110):
    """Save ``fig`` as a PNG without metadata that changes from run to run, and close it."""
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=dpi, metadata={"Software": None}, bbox_inches="tight")
    plt.close(fig)
    if _module_start is not None:
        print(f"  wrote {_shown(path)} after {time.perf_counter() - _module_start:.1f} s", flush=True)
    return Path(path)


def _shown(path):
    """``path`` relative to the project root when it lies inside it."""
    path = Path(path).resolve()
    return path.relative_to(HERE.parent) if path.is_relative_to(HERE.parent) else path


def figure_modules(selection=()):
    """The ``fig_*.py`` modules beside this script, in name order, filtered by ``selection``."""
    paths = sorted(HERE.glob("fig_*.py"))
    return [p for p in paths if not selection or any(s in p.stem for s in selection)]


def _load(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None):
    global _module_start
    selection = tuple(sys.argv[1:] if argv is None else argv)
    sys.path.insert(0, str(HERE))
    # The figure modules import save_png from "make_figures"; run as a script
    # this file is "__main__", so point that name here to share _module_start.
    sys.modules.setdefault("make_figures", sys.modules[__name__])
    modules = figure_modules(selection)
    written = []
    total = time.perf_counter()
    for i, path in enumerate(modules, 1):
        # Say what is running before it runs: the stability maps alone take about a minute.
        print(f"[{i}/{len(modules)}] {path.name} ...", flush=True)
        _module_start = time.perf_counter()
        try:
            paths = _load(path).make(HERE)
        finally:
            elapsed, _module_start = time.perf_counter() - _module_start, None
        written.extend(paths)
        print(f"[{i}/{len(modules)}] {path.name}: {len(paths)} figure(s) in {elapsed:.1f} s", flush=True)
    if not written:
        print("no figure modules matched", selection)
    else:
        print(f"{len(written)} figure(s) in {time.perf_counter() - total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
