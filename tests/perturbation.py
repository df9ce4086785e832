"""Re-execute notebooks with every initial weight nudged, to prove their claims travel.

Training at the tutorial's learning rates is chaotic: a 1e-15 difference (another
CPU's BLAS kernel, another numpy build) can grow until it decides a run's outcome.
A notebook's asserts and its ``# NBVAL_CHECK_OUTPUT`` prints must survive that.
This harness runs a notebook on a fresh kernel with one code cell prepended that
multiplies every weight array nnlib's initializers return by ``1 + factor``
(``factor`` about 1e-12, far above rounding and far below anything a learner could
see), then reports

- every cell that raised: its index in the notebook, its first source lines and
  the last lines of the error;
- every ``# NBVAL_CHECK_OUTPUT`` cell whose output differs from the committed one,
  compared the way ``pytest --nbval-lax`` compares it (streams merged by name,
  every output type but images and widget ids), as a unified diff.

How the nudge is applied, from the outside (nnlib has no test hook): ``MLP`` and
``Dense`` look initializers up by name in ``nnlib.init.INITIALIZERS`` at call time
(through ``get_initializer``), so replacing that dict's entries in place reaches
every network, ensemble and sweep; the module attributes ``nnlib.he`` etc. are
replaced too. ``nnlib.sweep`` trains in spawned worker processes, which import
nnlib afresh, so the kernel also runs with a ``sitecustomize`` module on its
``PYTHONPATH`` that installs the same wrapper at start-up of any interpreter it
launches. The prepended cell checks that the nudge took effect, in the kernel and
in a freshly spawned interpreter, and that the kernel imports the same nnlib as
the caller, so a broken wrapper cannot pass silently.

The kernel runs in the notebook's own directory with the caller's environment
and interpreter (that ``sitecustomize`` shadows any other one on the path, in the
kernel only). Cells after a failing one still run, as under nbval, so one broken
claim can be followed by others that merely depend on it.

Run it on one notebook, both signs of the nudge (the default) at once::

    python tests/perturbation.py notebooks/01_unstable_gradients.ipynb

``--factor F`` (repeatable) chooses the nudges, ``--jobs N`` how many runs execute
at once (default 2); each result is printed as its run ends, and the exit status
is 0 when every run passed. ``tests/test_perturbation.py`` runs every notebook in
``notebooks/`` with factors +1e-12 and -1e-12 as part of the test suite.
"""

from __future__ import annotations

import argparse
import difflib
import math
import multiprocessing
import os
import re
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

ENV_VAR = "NNLIB_PERTURB_FACTOR"
DEFAULT_FACTORS = (1e-12, -1e-12)

# Defines the wrapper and its self-check. Executed in the prepended cell and, via
# sitecustomize, at start-up of every interpreter the kernel spawns.
_WRAPPER_SOURCE = '''
def _nnlib_perturb_install(factor):
    """Replace every nnlib initializer by one whose weights are multiplied by (1 + factor)."""
    import functools

    import nnlib
    import nnlib.init

    for name, draw in list(nnlib.init.INITIALIZERS.items()):
        original = getattr(draw, "unperturbed", draw)

        @functools.wraps(original)
        def nudged(*args, _original=original, **kwargs):
            return _original(*args, **kwargs) * (1.0 + factor)

        nudged.unperturbed = original
        nudged.perturb_factor = factor
        nnlib.init.INITIALIZERS[name] = nudged  # in place: every lookup by name sees it
        for module in (nnlib.init, nnlib):
            if getattr(module, name, None) in (draw, original):
                setattr(module, name, nudged)


def _nnlib_perturb_check(factor):
    """Raise AssertionError unless freshly built networks carry the nudge, exactly once."""
    import numpy as np

    import nnlib

    for name, draw in nnlib.init.INITIALIZERS.items():
        assert getattr(draw, "perturb_factor", None) == factor, f"initializer {name!r} is not wrapped with factor {factor!r}"
        gen = np.random.default_rng(0)
        plain = [draw.unperturbed(2, 3, gen), draw.unperturbed(3, 1, gen)]
        for model in (nnlib.MLP([2, 3, 1], init=name, rng=0), nnlib.MLP([2, 3, 1], init=name, rng=[0]).member(0)):
            for w0, layer in zip(plain, model.dense_layers, strict=True):
                w = layer.params["W"]
                assert not np.array_equal(w, w0), f"{name!r}: the weights were not perturbed (is 1 + {factor!r} == 1?)"
                rel = (w - w0) / w0
                assert np.allclose(rel, factor, rtol=1e-2, atol=0), f"{name!r}: relative change {rel.ravel()} instead of {factor!r}"
'''

_SITECUSTOMIZE = f'''"""Written by the notebook perturbation harness: nudge nnlib's initial weights when {ENV_VAR} is set."""
import os as _os

if _os.environ.get("{ENV_VAR}"):
{_WRAPPER_SOURCE.replace(chr(10), chr(10) + "    ")}
    _nnlib_perturb_install(float(_os.environ["{ENV_VAR}"]))
'''

_CHILD_CHECK = f"{_WRAPPER_SOURCE}\nimport os\n_nnlib_perturb_check(float(os.environ[{ENV_VAR!r}]))\n"


def setup_source(factor, nnlib_file):
    """Source of the cell prepended to every notebook: install the nudge, then prove it took effect."""
    return f"""# Prepended by tests/perturbation.py: every initial weight is multiplied by (1 + {factor!r}).
{_WRAPPER_SOURCE}
_nnlib_perturb_install({factor!r})
_nnlib_perturb_check({factor!r})

import subprocess as _subprocess
import sys as _sys

import nnlib as _nnlib

assert _nnlib.__file__ == {nnlib_file!r}, f"the kernel imports nnlib from {{_nnlib.__file__}}, the caller from {nnlib_file!r}"
# nnlib.sweep trains in spawned processes: a new interpreter must be nudged too.
_child = _subprocess.run([_sys.executable, "-c", {_CHILD_CHECK!r}], capture_output=True, text=True)
assert _child.returncode == 0, "a freshly started interpreter is not perturbed:\\n" + _child.stderr[-2000:]
del _nnlib_perturb_install, _nnlib_perturb_check, _subprocess, _sys, _nnlib, _child
"""


# -- results --------------------------------------------------------------------
@dataclass
class CellError:
    """A cell that raised: ``index`` counts every cell of the committed notebook from 0."""

    index: int
    head: str
    error: str

    def __str__(self):
        return f"cell {self.index} raised:\n{_indent(self.head)}\n  ---\n{_indent(self.error)}"


@dataclass
class Mismatch:
    """A ``# NBVAL_CHECK_OUTPUT`` cell whose output differs from the committed one."""

    index: int
    head: str
    diff: str

    def __str__(self):
        return f"cell {self.index} printed something else:\n{_indent(self.head)}\n  ---\n{_indent(self.diff)}"


@dataclass
class Result:
    """What one perturbed run of one notebook found.

    ``setup_error`` is set when the prepended cell failed (the nudge did not take
    effect, or the kernel imported another nnlib); then no other cell ran.
    """

    notebook: str
    factor: float
    seconds: float
    setup_error: str | None = None
    errors: list = field(default_factory=list)
    mismatches: list = field(default_factory=list)

    @property
    def ok(self):
        return self.setup_error is None and not self.errors and not self.mismatches

    def report(self):
        head = f"{self.notebook} with factor {self.factor:+g}: "
        if self.ok:
            return head + f"passed ({self.seconds:.1f} s)"
        if self.setup_error is not None:
            return head + f"the perturbation could not be installed:\n{_indent(self.setup_error)}"
        parts = [head + f"{len(self.errors)} cell(s) raised, {len(self.mismatches)} checked output(s) differ ({self.seconds:.1f} s)"]
        parts += [str(item) for item in sorted(self.errors + self.mismatches, key=lambda item: item.index)]
        return "\n".join(parts)


# -- nbval's view of a cell -------------------------------------------------------
_MARKERS = {
    "NBVAL_CHECK_OUTPUT": ("check", True),
    "NBVAL_IGNORE_OUTPUT": ("check", False),
    "PYTEST_VALIDATE_IGNORE_OUTPUT": ("check", False),
    "NBVAL_SKIP": ("skip", True),
    "NBVAL_RAISES_EXCEPTION": ("raises", True),
}


def _source(cell):
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def markers(cell):
    """nbval's markers of a code cell, from comment lines and tags: {"check", "skip", "raises"} -> bool."""
    found = {"check": False, "skip": False, "raises": False}
    for line in _source(cell).splitlines():
        line = line.strip()
        if line.startswith("#") and line.lstrip("#").strip() in _MARKERS:
            key, value = _MARKERS[line.lstrip("#").strip()]
            found[key] = value
    tags = cell.get("metadata", {}).get("tags", [])
    for name, (key, value) in _MARKERS.items():
        if name.lower().replace("_", "-") in tags:
            found[key] = value
    if "raises-exception" in tags:
        found["raises"] = True
    return found


_SKIP_COMPARE = {"image/png", "image/jpeg", "application/vnd.jupyter.widget-view+json"}
_CARRIAGE_RETURN = re.compile(r"^.*\r(?=[^\n])", re.MULTILINE)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def comparable_outputs(outputs):
    """The text nbval compares: {"stdout" | "stderr" | mime type: [text, ...]}.

    Streams with the same name are merged and a ``\\r`` not followed by a newline
    erases its line so far, as nbval does;
    rich outputs contribute every mime type except images and widget ids, in
    order. Errors are reported separately and skipped here.
    """
    out = {}
    for o in outputs:
        if o.get("output_type") == "stream":
            text = out.setdefault(o["name"], [""])
            text[0] += _source({"source": o.get("text", "")})
        elif o.get("output_type") in ("execute_result", "display_data"):
            for mime, value in o.get("data", {}).items():
                if mime not in _SKIP_COMPARE:
                    out.setdefault(mime, []).append(value if isinstance(value, str) else _source({"source": value}))
    for name in ("stdout", "stderr"):
        if name in out:
            out[name] = [_CARRIAGE_RETURN.sub("", out[name][0])]
    return out


def output_diff(committed, fresh):
    """A unified diff between two cells' comparable outputs, or "" when nbval would accept them."""
    old, new = comparable_outputs(committed), comparable_outputs(fresh)
    if old == new:
        return ""

    def render(outs):
        return "".join(f"[{key}]\n" + "".join(v if v.endswith("\n") else v + "\n" for v in outs[key]) for key in sorted(outs))

    lines = difflib.unified_diff(render(old).splitlines(keepends=True), render(new).splitlines(keepends=True), "committed", "perturbed")
    return "".join(lines)


def _head(cell, n=3):
    lines = _source(cell).splitlines()
    return "\n".join(lines[:n]) + ("\n..." if len(lines) > n else "")


def _error_text(output, n=6):
    tb = _ANSI.sub("", "\n".join(output.get("traceback", [])))
    lines = [line for line in tb.splitlines() if line.strip()]
    if not lines:
        lines = [f"{output.get('ename')}: {output.get('evalue')}"]
    return "\n".join(lines[-n:])


def _indent(text):
    return "\n".join("  " + line for line in text.splitlines())


# -- running ------------------------------------------------------------------------
def check_factor(factor):
    """Validate a perturbation factor: a finite, non-zero float."""
    if isinstance(factor, bool) or not isinstance(factor, (int, float)):
        raise TypeError(f"factor must be a float such as 1e-12, got {type(factor).__name__}: {factor!r}")
    factor = float(factor)
    if not math.isfinite(factor) or factor == 0.0 or abs(factor) >= 1e-3:
        raise ValueError(f"factor must be a small non-zero relative change (0 < |factor| < 1e-3), got {factor!r}")
    return factor


def run_notebook(path, factor=1e-12, timeout=900, kernel_name="python3"):
    """Execute a notebook with perturbed initial weights and compare it with its committed outputs.

    Parameters
    ----------
    path : str or Path
        A committed, executed ``.ipynb``; the kernel runs in its directory.
    factor : float, default 1e-12
        Every initial weight array is multiplied by ``1 + factor``.
    timeout : int, default 900
        Seconds a single cell may run.
    kernel_name : str, default "python3"
        The kernel spec; its ``python`` resolves to the caller's interpreter.

    Returns
    -------
    Result
    """
    import nbclient
    import nbformat
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    import nnlib

    factor = check_factor(factor)
    path = Path(path).resolve()
    if not path.is_file():
        raise ValueError(f"no notebook at {path}")
    nb = nbformat.read(path, as_version=4)
    committed = [cell for cell in nb.cells]
    setup = nbformat.v4.new_code_cell(setup_source(factor, nnlib.__file__))
    nb.cells = [setup] + [nbformat.v4.new_code_cell(_source(c), metadata=c.get("metadata", {})) if c.cell_type == "code" else c for c in committed]

    result = Result(notebook=path.name, factor=factor, seconds=0.0)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nnlib-perturb-") as site_dir:
        Path(site_dir, "sitecustomize.py").write_text(_SITECUSTOMIZE, encoding="utf-8")
        env = dict(os.environ)
        env[ENV_VAR] = repr(factor)
        env["PYTHONPATH"] = os.pathsep.join([site_dir] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
        client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name=kernel_name, allow_errors=True, resources={"metadata": {"path": str(path.parent)}})
        with client.setup_kernel(env=env, cwd=str(path.parent)):
            for i, cell in enumerate(nb.cells):
                if cell.cell_type != "code" or (i > 0 and markers(committed[i - 1])["skip"]):
                    continue
                try:
                    client.execute_cell(cell, i)
                except (CellTimeoutError, DeadKernelError) as exc:  # the kernel is unusable: stop here
                    index, ref = (i - 1, committed[i - 1]) if i else (0, cell)
                    result.errors.append(CellError(index, _head(ref), f"{type(exc).__name__}: {str(exc)[-1000:]}"))
                    break
                errors = [o for o in cell.outputs if o.get("output_type") == "error"]
                if i == 0:
                    if errors:
                        result.setup_error = _error_text(errors[0], n=12)
                        break
                    continue
                ref = committed[i - 1]
                flags = markers(ref)
                if errors and not flags["raises"]:
                    result.errors.append(CellError(i - 1, _head(ref), _error_text(errors[0])))
                if flags["check"]:
                    diff = output_diff(ref.get("outputs", []), cell.outputs)
                    if diff:
                        result.mismatches.append(Mismatch(i - 1, _head(ref), diff))
    result.seconds = time.perf_counter() - start
    return result


def recorded_seconds(path):
    """How long the committed notebook took to execute, from its cells' timing metadata (0 if absent)."""
    import json
    from datetime import datetime

    stamps = []
    for cell in json.loads(Path(path).read_text(encoding="utf-8")).get("cells", []):
        timing = cell.get("metadata", {}).get("execution", {})
        stamps += [datetime.fromisoformat(t.replace("Z", "+00:00")) for k, t in timing.items() if k in ("iopub.execute_input", "shell.execute_reply")]
    return (max(stamps) - min(stamps)).total_seconds() if stamps else 0.0


def _run_one(job):
    path, factor = job
    return run_notebook(path, factor)


def run_many(jobs, n_jobs=2, on_result=None):
    """Run several (notebook, factor) pairs, ``n_jobs`` at a time.

    Parameters
    ----------
    jobs : sequence of (path, factor)
    n_jobs : int, default 2
        Notebooks executing at once, each on its own kernel.
    on_result : callable, optional
        Called with each Result as soon as its run ends.

    Returns
    -------
    dict
        (path, factor) -> Result, for every pair given.
    """
    jobs = [(str(Path(p)), check_factor(f)) for p, f in jobs]
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise ValueError(f"n_jobs must be a positive integer, got {n_jobs!r}")
    done = {}
    if n_jobs == 1 or len(jobs) <= 1:
        for job in jobs:
            done[job] = _run_one(job)
            if on_result is not None:
                on_result(done[job])
        return done
    order = sorted(jobs, key=lambda job: -recorded_seconds(job[0]))  # longest first: the pool finishes together
    # Spawned, not forked: the callers (pytest, a CLI) may hold threads and sockets.
    with ProcessPoolExecutor(max_workers=min(n_jobs, len(jobs)), mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(_run_one, job): job for job in order}
        for future in as_completed(futures):
            done[futures[future]] = future.result()
            if on_result is not None:
                on_result(done[futures[future]])
    return {job: done[job] for job in jobs}


def main(argv=None):
    parser = argparse.ArgumentParser(description="Re-execute notebooks with every initial weight multiplied by (1 + factor).")
    parser.add_argument("notebooks", nargs="+", type=Path, help="committed, executed .ipynb files")
    parser.add_argument("--factor", type=float, action="append", help="relative nudge, e.g. --factor=1e-9 (write a negative one with =: --factor=-1e-9); repeat for several (default: 1e-12 and -1e-12)")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks executing at once (default 2)")
    args = parser.parse_args(argv)
    factors = args.factor or list(DEFAULT_FACTORS)
    start = time.perf_counter()
    results = run_many([(p, f) for p in args.notebooks for f in factors], n_jobs=args.jobs, on_result=lambda r: print(r.report(), end="\n\n", flush=True))
    failed = sum(not r.ok for r in results.values())
    print(f"{len(results) - failed} of {len(results)} runs passed; wall time {time.perf_counter() - start:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
