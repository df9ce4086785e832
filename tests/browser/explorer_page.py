"""Drive an ``nnlib.widgets.Explorer`` in a browser page, as a person would.

The explorer's DOM contract (CSS classes set with ``widget.add_class``):
``nnlib-explorer`` (the container), ``nnlib-lr`` (FloatLogSlider), ``nnlib-seed``
(IntSlider), ``nnlib-problem`` (Dropdown), ``nnlib-plot`` (Image), ``nnlib-config``
and ``nnlib-status`` (HTML). Sliders are moved with the keyboard on their handle
(ipywidgets 8 draws them with noUiSlider); each key press is one release, so one
retraining.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

# The word each problem's status must show at the largest learning rate
# (measured: the raw spiral's ReLUs all die, the raw polynomial's loss overflows).
EXTREME_LR_WORD = {"spiral": "stalled", "polynomial": "diverged"}

RUN_ALL_TIMEOUT = 300  # seconds to run a notebook: under ~90 s alone, more in a browser on a busy machine
UPDATE_TIMEOUT = 60  # seconds for one retraining plus redraw on a loaded machine
SETTLE_TIME = 0.4  # seconds the explorer must stay unchanged to count as settled

_STATE_JS = """root => {
    const text = sel => { const el = root.querySelector(sel); return el ? el.innerText.trim() : null; };
    const img = root.querySelector('img.nnlib-plot, .nnlib-plot img');
    const select = root.querySelector('.nnlib-problem select');
    return {
        config: text('.nnlib-config'),
        status: text('.nnlib-status'),
        plot: img ? img.getAttribute('src') : null,
        plot_loaded: img ? (img.complete && img.naturalWidth > 0) : false,
        lr: text('.nnlib-lr .widget-readout'),
        seed: text('.nnlib-seed .widget-readout'),
        problem: select ? select.value : null,
        problems: select ? Array.from(select.options).map(o => o.value) : [],
    };
}"""

# Output areas that hold an error, as JupyterLab and Voila render them.
_TRACEBACKS_JS = """() => {
    const found = [];
    const sel = '.jp-OutputArea-output, [data-mime-type="application/vnd.jupyter.stderr"], .jp-LogConsole';
    for (const el of document.querySelectorAll(sel)) {
        const t = el.innerText || '';
        if (/Traceback|Error displaying widget|There was an error when executing cell/.test(t)) {
            found.push(t.slice(0, 2000));
        }
    }
    return found;
}"""

_ERROR_MSG = re.compile(r'"msg_type":\s*"error"')
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Snapshot:
    """What the explorer shows at one moment."""

    config: str | None
    status: str | None
    plot: str | None
    plot_loaded: bool
    lr: str | None
    seed: str | None
    problem: str | None
    problems: list


class KernelTrafficWatcher:
    """Collects every kernel message over the page's websockets that reports an error.

    A traceback raised in a widget callback never reaches a notebook's output
    area (JupyterLab sends it to the log console), so the websocket is where it
    can be seen in any front end.
    """

    def __init__(self, page):
        self.errors = []
        page.on("websocket", self._attach)

    def _attach(self, ws):
        ws.on("framereceived", self._frame)

    def _frame(self, payload):
        text = payload if isinstance(payload, str) else payload.decode("utf-8", "replace")
        if _ERROR_MSG.search(text) or ("Traceback" in text and '"stream"' in text):
            self.errors.append(readable_error(text))


def readable_error(frame):
    """The traceback (or stream text) in a raw kernel message, without terminal colours."""
    decoder = json.JSONDecoder()
    for key in ("traceback", "text"):
        match = re.search(rf'"{key}":\s*', frame)
        if match:
            try:
                value, _ = decoder.raw_decode(frame, match.end())
            except ValueError:
                continue
            text = "\n".join(value) if isinstance(value, list) else str(value)
            return _ANSI.sub("", text)[-4000:]
    return frame[:4000]


def tracebacks_in_page(page):
    """Texts of output areas (or JupyterLab's log console) that hold an error."""
    return page.evaluate(_TRACEBACKS_JS)


def wait_until(predicate, timeout, message, interval=0.2):
    """Poll ``predicate`` until it returns a truthy value; fail with ``message`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s: {message()}")
        time.sleep(interval)


def _number(pattern, text):
    match = re.search(pattern, text or "")
    return float(match.group(1)) if match else None


class ExplorerDriver:
    """One explorer on a page: read what it shows, move its controls, wait for the redraw."""

    def __init__(self, page, root, shots_dir: Path, prefix: str):
        self.page = page
        self.root = root
        self.watcher = page.kernel_errors
        self.shots_dir = shots_dir
        self.prefix = prefix
        self.n_shots = 0

    def snapshot(self) -> Snapshot:
        return Snapshot(**self.root.evaluate(_STATE_JS))

    def plot_pixels(self):
        """PNG bytes of the plot as the browser drew it."""
        return self.root.locator(".nnlib-plot").first.screenshot()

    def screenshot(self, step):
        """Save the page (scrolled to the explorer) as an artifact."""
        self.root.scroll_into_view_if_needed()
        self.n_shots += 1
        path = self.shots_dir / f"{self.prefix}-{self.n_shots:02d}-{step}.png"
        self.page.screenshot(path=str(path))
        return path

    def wait_settled(self, changed, description, timeout=UPDATE_TIMEOUT):
        """Wait until ``changed(snapshot)`` holds, then until nothing moves for SETTLE_TIME s."""
        last = [self.snapshot()]

        def done():
            if self.watcher.errors:
                raise AssertionError(f"the kernel reported an error while waiting for {description}:\n"
                                     + "\n---\n".join(self.watcher.errors))
            last[0] = self.snapshot()
            if (last[0].status or "").lower().startswith("error"):
                raise AssertionError(f"the explorer reports an error while waiting for {description}: {last[0].status}")
            return last[0].plot_loaded and changed(last[0])

        wait_until(done, timeout, lambda: f"{description}; explorer shows {last[0]}")
        settled_since, current = time.monotonic(), last[0]
        while time.monotonic() - settled_since < SETTLE_TIME:
            time.sleep(0.15)
            now = self.snapshot()
            if now != current:
                settled_since, current = time.monotonic(), now
        return current

    def press_on_slider(self, css_class, key):
        """Press ``key`` with the focus on a slider's handle (a release: one retraining)."""
        handle = self.root.locator(f".{css_class} .noUi-handle").first
        handle.scroll_into_view_if_needed()
        handle.press(key)

    def slider_at_max(self, css_class):
        handle = self.root.locator(f".{css_class} .noUi-handle").first
        return float(handle.get_attribute("aria-valuenow")) >= float(handle.get_attribute("aria-valuemax"))

    def select_problem(self, name):
        self.root.locator(".nnlib-problem select").first.select_option(value=name)

    def switch_off_toggles(self):
        """Untick every enabled checkbox and release every toggle button (the raw setting)."""
        for box in self.root.locator("input[type=checkbox]").all():
            if box.is_checked() and box.is_enabled():
                before = self.snapshot()
                box.uncheck()
                # a run setting changes the replay line; a readout (sharpness) only the status line
                self.wait_settled(lambda s, b=before: s.config != b.config or s.status != b.status, "untick a toggle")
        for button in self.root.locator("button.widget-toggle-button.mod-active").all():
            before = self.snapshot()
            button.click()
            self.wait_settled(lambda s, b=before: s.config != b.config, "release a toggle button")


def config_lr(config):
    """The learning rate the config line replays."""
    return _number(r"\blr\s*=\s*([-+0-9.eE]+)", config)


def config_seed(config):
    """The seed the config line replays."""
    return _number(r"\b(?:seed|rng)\s*=\s*(\d+)", config)


def describe(obj):
    return json.dumps(obj, indent=1, default=str)[:4000]
