"""Every notebook's claims survive a 1e-12 nudge of the initial weights (see perturbation.py).

The ten perturbed runs (five notebooks x two signs) execute two at a time in one
session-scoped batch, so the whole module takes about as long as running every
notebook once; each parametrized test then reads its own run's result. Only
those runs carry the ``perturbation`` marker: the harness's own tests, on a tiny
notebook written here, take seconds.
"""

from pathlib import Path

import nbformat
import numpy as np
import pytest
from perturbation import DEFAULT_FACTORS, check_factor, comparable_outputs, markers, output_diff, run_many, run_notebook

import nnlib

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
TEST_NAME = "test_notebook_claims_travel"


class _Runs:
    """Results of perturbed runs, computed in one batch the first time any is asked for."""

    def __init__(self, wanted, n_jobs):
        self.wanted = list(dict.fromkeys(wanted))
        self.n_jobs = n_jobs
        self.results = {}

    def get(self, path, factor):
        key = (str(path), factor)
        if key not in self.results:
            batch = [k for k in self.wanted if k not in self.results] if key in self.wanted else [key]
            self.results.update(run_many(batch, n_jobs=self.n_jobs))
        return self.results[key]


@pytest.fixture(scope="session")
def perturbed_runs(request):
    """The perturbed runs the selected tests need, two at a time.

    Under pytest-xdist every worker collects every test but runs only some, so
    there each test runs its own notebook alone instead of the whole batch.
    """
    if hasattr(request.config, "workerinput"):
        return _Runs([], n_jobs=1)
    wanted = [
        (str(item.callspec.params["path"]), item.callspec.params["factor"])
        for item in request.session.items
        if getattr(item, "originalname", None) == TEST_NAME
    ]
    return _Runs(wanted, n_jobs=2)


def test_there_are_notebooks_to_perturb():
    assert NOTEBOOKS, "no notebooks found in notebooks/"


@pytest.mark.perturbation
@pytest.mark.parametrize("factor", DEFAULT_FACTORS, ids=lambda f: f"{f:+g}")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_claims_travel(perturbed_runs, path, factor):
    result = perturbed_runs.get(path, factor)
    assert result.ok, result.report()


# -- the harness itself, on a tiny notebook -------------------------------------------
def _stream(text):
    return nbformat.v4.new_output("stream", name="stdout", text=text)


@pytest.fixture(scope="module")
def tiny_notebook(tmp_path_factory):
    """A committed-looking notebook with a fragile and a robust claim of each kind.

    Cells: 0 markdown, 1 builds a network, 2 fragile print (17 digits), 3 robust
    print, 4 fragile assert (exact equality), 5 robust assert, 6 checks the
    working directory.
    """
    folder = tmp_path_factory.mktemp("tiny")
    w = float(nnlib.MLP([2, 3, 1], rng=0).layers[0].params["W"][0, 0])
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("A tiny notebook"),
        nbformat.v4.new_code_cell("import os\n\nimport nnlib\n\nw = float(nnlib.MLP([2, 3, 1], rng=0).layers[0].params['W'][0, 0])"),
        nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(f'{w:.17g}')", outputs=[_stream(f"{w:.17g}\n")]),
        nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(f'{w:.6f}')\nround(w, 6)", outputs=[
            _stream(f"{w:.6f}\n"),
            nbformat.v4.new_output("execute_result", data={"text/plain": repr(round(w, 6))}, execution_count=4),
        ]),
        nbformat.v4.new_code_cell(f"assert w == {w!r}, f'w moved to {{w!r}}'"),
        nbformat.v4.new_code_cell(f"assert abs(w - {w!r}) < 1e-9 * abs({w!r})"),
        nbformat.v4.new_code_cell(f"assert os.getcwd() == {str(folder)!r}, os.getcwd()"),
    ]
    path = folder / "tiny.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.parametrize("factor", [1e-12, -1e-12])
def test_harness_flags_the_fragile_cells_only(tiny_notebook, factor):
    result = run_notebook(tiny_notebook, factor)
    assert result.setup_error is None, result.setup_error
    assert [m.index for m in result.mismatches] == [2], result.report()
    w = float(nnlib.MLP([2, 3, 1], rng=0).layers[0].params["W"][0, 0])
    nudged = float(np.float64(w) * (1.0 + factor))
    diff = result.mismatches[0].diff
    assert f"-{w:.17g}" in diff and f"+{nudged:.17g}" in diff, diff
    assert [e.index for e in result.errors] == [4], result.report()
    assert "AssertionError: w moved to" in result.errors[0].error
    assert "assert w ==" in result.errors[0].head
    assert not result.ok
    report = result.report()
    assert "cell 2 printed something else" in report and "cell 4 raised" in report


def test_harness_refuses_a_nudge_that_does_not_change_the_weights(tiny_notebook):
    # 1 + 1e-20 == 1 in float64: the wrapper runs but changes nothing, and the prepended cell must say so.
    result = run_notebook(tiny_notebook, 1e-20)
    assert not result.ok
    assert result.setup_error is not None and "were not perturbed" in result.setup_error
    assert not result.errors and not result.mismatches


def test_harness_reports_a_dead_kernel_and_stops(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import os\nos._exit(1)"), nbformat.v4.new_code_cell("print('never runs')")]
    nbformat.write(nb, tmp_path / "dies.ipynb")
    result = run_notebook(tmp_path / "dies.ipynb", 1e-12)
    assert [e.index for e in result.errors] == [0] and "DeadKernelError" in result.errors[0].error, result.report()


# -- the pure parts, no kernel --------------------------------------------------------
def test_outputs_are_compared_like_nbval():
    a = [_stream("a\n"), nbformat.v4.new_output("stream", name="stderr", text="warn\n"), _stream("b\n")]
    b = [_stream("a\nb\n"), nbformat.v4.new_output("stream", name="stderr", text="warn\n")]
    assert comparable_outputs(a) == {"stdout": ["a\nb\n"], "stderr": ["warn\n"]}
    assert output_diff(a, b) == ""  # streams merge by name, like nbval's
    png = nbformat.v4.new_output("display_data", data={"image/png": "AAAA", "text/plain": "<Figure>"})
    png2 = nbformat.v4.new_output("display_data", data={"image/png": "BBBB", "text/plain": "<Figure>"})
    assert output_diff([png], [png2]) == ""  # images are not compared
    assert output_diff([_stream("1.0\n")], [_stream("1.0 \n")]) != ""  # nbval compares text exactly
    assert output_diff([_stream("progress 1\rprogress 2\n")], [_stream("progress 2\n")]) == ""
    diff = output_diff([_stream("x\n")], [])
    assert "-x" in diff and "committed" in diff and "perturbed" in diff


def test_markers_follow_nbval():
    cell = nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(1)")
    assert markers(cell) == {"check": True, "skip": False, "raises": False}
    assert markers(nbformat.v4.new_code_cell("print(1)  # NBVAL_CHECK_OUTPUT"))["check"] is False
    tagged = nbformat.v4.new_code_cell("1 / 0", metadata={"tags": ["raises-exception", "nbval-skip"]})
    assert markers(tagged) == {"check": False, "skip": True, "raises": True}


@pytest.mark.parametrize("bad", [0.0, float("nan"), float("inf"), 0.5, -1e-3])
def test_factor_must_be_a_small_nonzero_number(bad):
    with pytest.raises(ValueError, match="factor"):
        check_factor(bad)


@pytest.mark.parametrize("bad", ["1e-12", None, True])
def test_factor_must_be_a_number(bad):
    with pytest.raises(TypeError, match="factor"):
        check_factor(bad)
