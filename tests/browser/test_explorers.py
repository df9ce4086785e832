"""Every notebook with an explorer, opened in JupyterLab and in Voila, driven with the keyboard.

For each notebook whose code builds an ``nnlib.widgets.Explorer``, in each front end:
run all cells, wait for the widgets, move the seed and learning-rate sliders with
the keyboard and check that the plot and the printed configuration follow; push the
learning rate to its maximum (10) and check the status names what happened (the
raw spiral stalls, the raw polynomial diverges); and check that no output, and no
kernel message, holds a traceback. Screenshots of every step are saved.
"""

from __future__ import annotations

import json
import math
import re
import time
from contextlib import contextmanager

import pytest
from browser_paths import NOTEBOOKS_DIR, artifact_path
from explorer_page import (
    EXTREME_LR_WORD,
    RUN_ALL_TIMEOUT,
    ExplorerDriver,
    config_lr,
    config_seed,
    tracebacks_in_page,
    wait_until,
)

LR_MAX = 10.0


def uses_explorer(path):
    """True if the notebook's code builds an ``nnlib.widgets.Explorer``."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    code = "\n".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code")
    imports_widgets = re.search(r"nnlib\.widgets|from\s+nnlib\s+import[^\n]*\bwidgets\b", code)
    return bool(imports_widgets and re.search(r"\bExplorer\s*\(", code))


EXPLORER_NOTEBOOKS = sorted(p.name for p in NOTEBOOKS_DIR.glob("*.ipynb") if uses_explorer(p))


def test_explorer_notebooks_are_found():
    """The discovery finds notebook 01's explorer, so the browser tests below cannot silently run on nothing."""
    assert "01_unstable_gradients.ipynb" in EXPLORER_NOTEBOOKS, (
        f"no explorer found in notebooks/01_unstable_gradients.ipynb; found {EXPLORER_NOTEBOOKS}"
    )


# --------------------------------------------------------------------------- the checks


def exercise_explorer(driver):
    """Move every control as a person would and check what the explorer shows."""
    first = driver.wait_settled(lambda s: bool(s.config) and bool(s.status), "the explorer's first run to be drawn")
    assert first.lr is not None and first.seed is not None, f"a slider is missing: {first}"
    driver.screenshot("initial")

    # The seed slider: one step retrains with the next seed (the previous one at the slider's end).
    before, before_pixels = first, driver.plot_pixels()
    step = -1 if driver.slider_at_max("nnlib-seed") else 1
    driver.press_on_slider("nnlib-seed", "ArrowRight" if step == 1 else "ArrowLeft")
    after = driver.wait_settled(lambda s: s.seed != before.seed and s.config != before.config and s.plot != before.plot,
                                "the seed slider to move and the explorer to redraw")
    assert int(after.seed) == int(before.seed) + step
    assert config_seed(after.config) == int(after.seed), f"config does not replay seed {after.seed}: {after.config!r}"
    assert driver.plot_pixels() != before_pixels, "the plot did not change with the seed"
    driver.screenshot("seed-moved")

    # The learning-rate slider: one step on the log scale.
    before, before_pixels = after, driver.plot_pixels()
    driver.press_on_slider("nnlib-lr", "ArrowLeft" if float(before.lr) >= LR_MAX else "ArrowRight")
    after = driver.wait_settled(lambda s: s.lr != before.lr and s.config != before.config and s.plot != before.plot,
                                "the learning-rate slider to move and the explorer to redraw")
    assert config_lr(after.config) == pytest.approx(float(after.lr), rel=5e-3), (
        f"config does not replay the learning rate {after.lr}: {after.config!r}")
    # The browser's value for the step, snapped to Python's float for it: the float
    # the explorer's background run for the next learning rate was trained with.
    lr = config_lr(after.config)
    assert lr == 10.0 ** round(math.log10(lr), 1), f"the learning rate {lr!r} is not a slider step's value: {after.config!r}"
    assert driver.plot_pixels() != before_pixels, "the plot did not change with the learning rate"
    driver.screenshot("lr-moved")

    # lr = 10 on the raw problems: a named failure in the status, never a traceback.
    driver.switch_off_toggles()
    state = push_lr_to_max(driver)
    problems = [state.problem] + [p for p in state.problems if p != state.problem]
    for problem in problems:
        if problem != state.problem:
            before = state
            driver.select_problem(problem)
            driver.wait_settled(lambda s, b=before, p=problem: s.problem == p and s.config != b.config,
                                f"the explorer to retrain on {problem}")
            driver.switch_off_toggles()  # a toggle disabled for the previous problem may be on
            state = push_lr_to_max(driver)
        word = EXTREME_LR_WORD.get(problem)
        assert state.status, f"empty status at lr = 10 on {problem}"
        if word:
            assert word in state.status.lower(), f"{problem} at lr = {state.lr}: expected {word!r} in the status, got {state.status!r}"
        assert config_lr(state.config) == pytest.approx(LR_MAX), f"config does not replay lr = 10: {state.config!r}"
        driver.screenshot(f"lr-max-{problem}")


def push_lr_to_max(driver):
    """Press End on the learning-rate handle and wait for the retraining (if the value moved)."""
    before = driver.snapshot()
    if float(before.lr) >= LR_MAX * 0.999:
        return before
    driver.press_on_slider("nnlib-lr", "End")
    return driver.wait_settled(lambda s: float(s.lr) >= LR_MAX * 0.999 and s.config != before.config and s.status,
                               "the learning rate to reach its maximum and the explorer to redraw")


def check_no_traceback(page, server=None, log_start=0):
    """No output area, kernel message or (given a server) server log line since ``log_start`` holds a traceback.

    Voila's log is not read: it runs the next notebook while a test checks this one.
    """
    shown = tracebacks_in_page(page)
    assert not shown, "an output holds an error:\n" + "\n---\n".join(shown)
    errors = page.kernel_errors.errors
    assert not errors, "the kernel reported an error:\n" + "\n---\n".join(errors)
    if server is not None:
        log = server.log_path.read_bytes()[log_start:].decode("utf-8", "replace")
        assert "Traceback" not in log, f"the {server.name} log holds a traceback:\n{log[-5000:]}"


def drive_every_explorer(page, prefix):
    """Wait for the explorers to appear, then exercise each of them."""
    explorers = page.locator(".nnlib-explorer")
    wait_until(lambda: explorers.count() > 0, 60, lambda: "no .nnlib-explorer on the page")
    shots = artifact_path("")
    for i in range(explorers.count()):
        exercise_explorer(ExplorerDriver(page, explorers.nth(i), shots, f"{prefix}-explorer{i}"))


@contextmanager
def timed(prefix, phase):
    """Append how long ``phase`` took to test-artifacts/browser/timings.tsv."""
    start = time.monotonic()
    try:
        yield
    finally:
        with open(artifact_path("timings.tsv"), "a") as out:
            out.write(f"{prefix}\t{phase}\t{time.monotonic() - start:.1f}\n")


def screenshot_on_failure(page, prefix):
    try:
        page.screenshot(path=str(artifact_path(f"{prefix}-failure.png")))
    except Exception:  # the page may be gone; the original failure matters more
        pass


# --------------------------------------------------------------------------- the front ends


def run_all_in_lab(page, server, notebook):
    """Open the notebook in a fresh workspace, wait for an idle kernel, clear and run every cell."""
    workspace = re.sub(r"\W", "-", notebook) + f"-{time.monotonic_ns()}"
    page.goto(server.url(f"lab/workspaces/{workspace}/tree/{notebook}"))
    page.locator(".jp-NotebookPanel").first.wait_for(state="visible", timeout=60_000)
    # Run All before the kernel is ready can open a kernel-selection dialog.
    page.locator("#jp-main-statusbar").get_by_text(re.compile(r"\|\s*Idle\s*$")).wait_for(timeout=90_000)
    click_menu(page, "Edit", "Clear Outputs of All Cells")
    click_menu(page, "Run", "Run All Cells")

    def prompts():
        return page.locator(".jp-CodeCell .jp-InputArea-prompt").all_inner_texts()

    def finished():
        texts = prompts()
        failed = tracebacks_in_page(page)
        return failed or (texts and all(re.fullmatch(r"\[\d+\]:", t.strip()) for t in texts))

    wait_until(finished, RUN_ALL_TIMEOUT, lambda: f"Run All did not finish; prompts {prompts()}")
    page.locator("#jp-main-statusbar").get_by_text(re.compile(r"\|\s*Idle\s*$")).wait_for(timeout=60_000)


def click_menu(page, menu, item):
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(rf"^{menu}$")).click()
    page.locator(".lm-Menu-itemLabel:visible", has_text=re.compile(rf"^{item}$")).click()


def shut_down_kernels(server):
    for session in server.api("api/sessions") or []:
        server.api(f"api/sessions/{session['id']}", method="DELETE")


@pytest.mark.browser
@pytest.mark.parametrize("notebook", EXPLORER_NOTEBOOKS)
def test_explorer_in_jupyterlab(request, lab_server, page, notebook):
    prefix = f"lab-{notebook.removesuffix('.ipynb')}"
    if any(item.name == f"test_explorer_in_voila[{notebook}]" for item in request.session.items):
        request.getfixturevalue("voila_renders").start(notebook)  # Voila runs the notebook meanwhile
    log_start = lab_server.log_path.stat().st_size
    try:
        with timed(prefix, "run all cells"):
            run_all_in_lab(page, lab_server, notebook)
        check_no_traceback(page, lab_server, log_start)
        with timed(prefix, "drive the explorers"):
            drive_every_explorer(page, prefix)
        check_no_traceback(page, lab_server, log_start)
    except BaseException:
        screenshot_on_failure(page, prefix)
        raise
    finally:
        shut_down_kernels(lab_server)


def shut_down_voila_kernel(page, server):
    """Voila keeps a page's kernel until the page unloads; shut it down now to free the machine."""
    config = page.evaluate("() => { const el = document.getElementById('jupyter-config-data');"
                           " return el ? JSON.parse(el.textContent) : {}; }")
    if config.get("kernelId"):
        server.api(f"voila/api/shutdown/{config['kernelId']}", method="POST")


@pytest.mark.browser
@pytest.mark.parametrize("notebook", EXPLORER_NOTEBOOKS)
def test_explorer_in_voila(voila_server, voila_renders, notebook):
    prefix = f"voila-{notebook.removesuffix('.ipynb')}"
    page = voila_renders.take(notebook)
    try:
        with timed(prefix, "render (run all cells)"):
            page.wait_for_load_state("load", timeout=RUN_ALL_TIMEOUT * 1000)
        check_no_traceback(page)
        with timed(prefix, "drive the explorers"):
            drive_every_explorer(page, prefix)
        check_no_traceback(page)
    except BaseException:
        screenshot_on_failure(page, prefix)
        raise
    finally:
        shut_down_voila_kernel(page, voila_server)
        page.context.close()
