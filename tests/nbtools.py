"""Reading notebooks from the tests: cells, and the reference solutions hidden in them."""

from __future__ import annotations

import json
import re
from pathlib import Path

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"

_SOLUTION = re.compile(r"<details>\s*<summary>[^<]*solution[^<]*</summary>(.*?)</details>", re.S | re.I)
_CODE = re.compile(r"```python\n(.*?)```", re.S)


def cells(name):
    """The cells of ``notebooks/<name>`` (a file name such as ``01_unstable_gradients.ipynb``)."""
    return json.loads((NOTEBOOK_DIR / name).read_text(encoding="utf-8"))["cells"]


def source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def reference_solutions(name):
    """The Python code of every hidden reference solution in a notebook, in order.

    A solution is a fenced ``python`` block inside a markdown
    ``<details><summary>... solution ...</summary> ... </details>`` block.
    """
    out = []
    for cell in cells(name):
        if cell["cell_type"] != "markdown":
            continue
        for block in _SOLUTION.findall(source(cell)):
            out.extend(code for code in _CODE.findall(block))
    return out
