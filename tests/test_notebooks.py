"""Static checks over every notebook in notebooks/ (nbval executes them separately).

nbval compares the stored output of each ``# NBVAL_CHECK_OUTPUT`` cell, so a
cell committed without output would silently never be compared.
"""

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found in notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_check_output_cells_have_stored_outputs(path):
    cells = [c for c in load(path)["cells"] if c["cell_type"] == "code" and "NBVAL_CHECK_OUTPUT" in source(c)]
    empty = [source(c).splitlines()[1:2] for c in cells if not c.get("outputs")]
    assert not empty, f"{path.name}: NBVAL_CHECK_OUTPUT cells without stored output: {empty}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_executed_in_order(path):
    code = [c for c in load(path)["cells"] if c["cell_type"] == "code"]
    counts = [c.get("execution_count") for c in code]
    assert counts == list(range(1, len(code) + 1)), f"{path.name}: execution counts {counts}; execute top to bottom on a fresh kernel"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_errors_stored(path):
    for c in load(path)["cells"]:
        for out in c.get("outputs", []):
            assert out.get("output_type") != "error", f"{path.name}: a cell was committed with an error"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_opens_and_closes_with_the_required_sections(path):
    md = [source(c).lower() for c in load(path)["cells"] if c["cell_type"] == "markdown"]
    assert any("what you will see" in m for m in md), f"{path.name}: no 'What you will see' markdown cell"
    assert any("what we measured" in m for m in md), f"{path.name}: no 'What we measured' markdown cell"


FORBIDDEN = [
    (re.compile(r"sys\.path\.(insert|append)|sys\.path\s*\+?="), "sys.path hack"),
    (re.compile(r"^\s*%run\b", re.M), "%run"),
    (re.compile(r"np\.random\.seed\("), "global numpy seed"),
]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_imports_the_installed_package_only(path):
    for c in load(path)["cells"]:
        if c["cell_type"] != "code":
            continue
        for pattern, what in FORBIDDEN:
            assert not pattern.search(source(c)), f"{path.name}: {what} in a code cell"
