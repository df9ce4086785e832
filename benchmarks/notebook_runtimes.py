"""How long a learner waits for Run All: each notebook, executed on a fresh kernel.

Run ``python benchmarks/notebook_runtimes.py`` (``--help`` for options). Every
``*.ipynb`` in ``notebooks/`` (or the ones named on the command line) is
executed top to bottom with nbclient on a new Python kernel, started in the
notebook's folder and inheriting this process's environment (so ``PYTHONPATH``
decides which nnlib it imports). The notebooks are read, not written: their
stored outputs stay as they are.

It prints, per notebook, the wall time of the whole execution (kernel start
included), the time of its slowest cell, and the ratio to the target of 25 s.
A notebook that raises is reported with the failing cell's number instead of
stopping the table. Notebooks run one after another, never in parallel, so
each has the machine to itself as far as this script is concerned; on a
shared machine, note the load average printed with the table.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import nbformat
from _timing import blas_summary, table
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

TARGET = 25.0
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


class _TimedClient(NotebookClient):
    """A NotebookClient that records the wall time of every code cell."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.cell_seconds = []

    async def async_execute_cell(self, cell, cell_index, *args, **kwargs):
        start = time.perf_counter()
        try:
            return await super().async_execute_cell(cell, cell_index, *args, **kwargs)
        finally:
            if cell.cell_type == "code":
                self.cell_seconds.append((time.perf_counter() - start, cell_index))


def run_notebook(path, timeout):
    """Execute one notebook on a fresh kernel.

    Returns
    -------
    seconds : float
        Wall time, kernel start to shutdown.
    slowest : (float, int)
        The slowest code cell's seconds and its index in the notebook.
    error : str or None
        What went wrong, if a cell raised.
    """
    nb = nbformat.read(path, as_version=4)
    client = _TimedClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    error = None
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as exc:
        failed = max(client.cell_seconds, key=lambda c: c[1])[1] if client.cell_seconds else "?"
        error = f"cell {failed}: {str(exc).strip().splitlines()[-1][:80]}"
    seconds = time.perf_counter() - start
    slowest = max(client.cell_seconds, default=(0.0, -1))
    return seconds, slowest, error


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to run (default: every notebooks/*.ipynb)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds allowed per cell")
    args = parser.parse_args()
    paths = [p.resolve() for p in args.notebooks] or sorted(NOTEBOOKS.glob("*.ipynb"))
    if not paths:
        raise SystemExit(f"no notebooks found in {NOTEBOOKS}")

    print("Run All on a fresh kernel, one notebook at a time")
    print(blas_summary())
    print(f"  PYTHONPATH={os.environ.get('PYTHONPATH', '')!r}; load average before: {os.getloadavg()[0]:.2f}")
    rows = []
    total = 0.0
    for path in paths:
        seconds, (slow_s, slow_i), error = run_notebook(path, args.timeout)
        total += seconds
        rows.append([
            path.name, f"{seconds:.1f}", f"{seconds / TARGET:.2f}", "yes" if seconds <= TARGET else "no",
            f"{slow_s:.1f} (cell {slow_i})", error or "ok",
        ])
        print(f"  {path.name}: {seconds:.1f} s", flush=True)
    print(f"\nWall time per notebook against the {TARGET:g} s target; load average after: {os.getloadavg()[0]:.2f}")
    print(table(rows, ["notebook", "seconds", f"x {TARGET:g} s", "within target", "slowest cell (s)", "status"]))
    print(f"total {total:.1f} s")


if __name__ == "__main__":
    main()
