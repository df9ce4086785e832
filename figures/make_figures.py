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


def save_png(fig, path, dpi=110):
    """Save ``fig`` as a PNG without metadata that changes from run to run, and close it."""
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=dpi, metadata={"Software": None}, bbox_inches="tight")
    plt.close(fig)
    return Path(path)


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
    selection = tuple(sys.argv[1:] if argv is None else argv)
    sys.path.insert(0, str(HERE))
    written = []
    for path in figure_modules(selection):
        start = time.perf_counter()
        paths = _load(path).make(HERE)
        written.extend(paths)
        print(f"{path.name}: {len(paths)} figure(s) in {time.perf_counter() - start:.1f} s")
        for p in paths:
            print(f"  {Path(p).relative_to(HERE.parent)}")
    if not written:
        print("no figure modules matched", selection)
    return 0


if __name__ == "__main__":
    sys.exit(main())
