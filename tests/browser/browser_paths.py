"""Where the browser tests find the notebooks and put their artifacts."""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
# Screenshots, and server logs after a failure (test-artifacts/ is ignored by git).
ARTIFACTS_DIR = Path(os.environ.get("NNLIB_TEST_ARTIFACTS") or REPO_ROOT / "test-artifacts") / "browser"


def artifact_path(name):
    """Where a test saves an artifact called ``name`` (the folder is made)."""
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS_DIR / name
