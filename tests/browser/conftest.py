"""Fixtures for the browser tests: isolated JupyterLab and Voila servers, and chromium.

The servers serve a temporary copy of ``notebooks/`` (nothing autosaves into the
repository), listen on 127.0.0.1 on a free port with ``port_retries=0`` (a busy
port fails loudly), use a random token, and keep their config, data, runtime and
settings directories in a temporary folder. Kernelspecs and lab extensions are
still found through ``sys.prefix/share/jupyter``.

The browser is the system's chromium (Debian's package), driven by Playwright;
Playwright never downloads a browser. Every request that does not go to the
loopback interface is aborted. Screenshots, and the server logs when a test
failed, go to ``test-artifacts/browser/`` at the repository root, or to
``$NNLIB_TEST_ARTIFACTS/browser/``.

Without chromium or Playwright the tests skip, saying why; with the ``CI``
environment variable set they fail instead.

The JupyterLab test of a notebook opens its Voila page too (``VoilaRenders``),
so the two front ends run the notebook at the same time.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from browser_paths import ARTIFACTS_DIR, NOTEBOOKS_DIR, artifact_path
from explorer_page import RUN_ALL_TIMEOUT, KernelTrafficWatcher

CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests may run as root (CI does)
    "--disable-gpu",
    # Without these chromium keeps opening connections to the outside world.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SERVER_START_TIMEOUT = 90  # seconds
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}

# JupyterLab settings: render every cell (no virtualization of off-screen cells,
# so the widgets exist in the DOM wherever they are) and never ask the internet
# for news or updates.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"checkForUpdates": False, "fetchNews": "false"},
}


def find_chromium():
    """Path of the system's chromium, or None."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _unavailable(reason):
    """Skip, or fail under CI, where every browser test must run."""
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_path():
    path = find_chromium()
    if path is None:
        _unavailable("chromium is not installed (Debian: apt-get install chromium)")
    return path


@pytest.fixture(scope="session")
def browser(chromium_path):
    """A headless chromium shared by the session."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright Python package is not installed (pip install -r requirements-test.txt)")
    shutil.rmtree(ARTIFACTS_DIR, ignore_errors=True)  # screenshots of an earlier run would mislead
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
    except Exception:
        playwright.stop()
        raise
    yield browser
    browser.close()
    playwright.stop()


def _is_loopback(url):
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    return parts.hostname in LOOPBACK_HOSTS


def open_page(browser):
    """A page in a fresh context that can only reach loopback addresses.

    Other requests (Voila asks a CDN for fonts) are aborted.
    ``page.kernel_errors`` collects the kernel's error messages.
    """
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)

    def only_loopback(route):
        if _is_loopback(route.request.url):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", only_loopback)
    page = context.new_page()
    page.kernel_errors = KernelTrafficWatcher(page)
    return page


@pytest.fixture
def page(browser):
    page = open_page(browser)
    yield page
    page.context.close()


# --------------------------------------------------------------------------- servers


@dataclass
class Server:
    """A running Jupyter server: where it listens and how to reach it."""

    name: str
    process: subprocess.Popen
    base_url: str
    token: str
    root_dir: Path
    log_path: Path

    def url(self, path):
        """Absolute URL of ``path`` with the token as a query parameter."""
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}/{path.lstrip('/')}{sep}token={self.token}"

    def api(self, path, method="GET"):
        """Call the server's REST API; returns the decoded JSON (or None)."""
        request = urllib.request.Request(self.url(path), method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _isolated_env(home):
    """Environment for a server: every Jupyter and IPython directory under ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    for var, sub in [("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                     ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython")]:
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(home / sub)
    env["JUPYTER_PREFER_ENV_PATH"] = "1"  # sys.prefix/share/jupyter before anything else
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _wait_until_up(server, probe_path):
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited with code {server.process.returncode}:\n{server.log_path.read_text()}")
        try:
            with urllib.request.urlopen(server.url(probe_path), timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{server.name} did not answer within {SERVER_START_TIMEOUT} s:\n{server.log_path.read_text()}")


def _stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.fixture(scope="session")
def served_notebooks(tmp_path_factory):
    """A temporary copy of notebooks/, so nothing a server saves lands in the repository."""
    target = tmp_path_factory.mktemp("served") / "notebooks"
    shutil.copytree(NOTEBOOKS_DIR, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return target


def _start_server(tmp_path_factory, name, args, root_dir, probe_path):
    home = tmp_path_factory.mktemp(f"{name}-home")
    port, token = _free_port(), secrets.token_hex(16)
    log_path = home / f"{name}.log"
    argv = [sys.executable, "-m", *args(port, token, home)]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(argv, cwd=root_dir, env=_isolated_env(home), stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT)
    server = Server(name, process, f"http://127.0.0.1:{port}", token, root_dir, log_path)
    try:
        _wait_until_up(server, probe_path)
    except Exception:
        _stop(process)
        shutil.copy(log_path, artifact_path(log_path.name))
        raise
    return server


def _finish_server(request, server):
    _stop(server.process)
    if request.session.testsfailed:
        shutil.copy(server.log_path, artifact_path(server.log_path.name))


@pytest.fixture(scope="session")
def lab_server(request, tmp_path_factory, served_notebooks, browser):
    """JupyterLab 4 serving the copied notebooks."""

    def args(port, token, home):
        settings = home / "user-settings"
        for rel, values in LAB_SETTINGS.items():
            path = settings / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        return ["jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
                "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
                f"--ServerApp.root_dir={served_notebooks}", f"--LabApp.user_settings_dir={settings}",
                f"--LabApp.workspaces_dir={home / 'workspaces'}", "--ServerApp.terminals_enabled=False",
                "--LabApp.extension_manager=readonly", "--ServerApp.allow_root=True"]

    server = _start_server(tmp_path_factory, "jupyterlab", args, served_notebooks, "api/status")
    yield server
    _finish_server(request, server)


@pytest.fixture(scope="session")
def voila_server(request, tmp_path_factory, served_notebooks, browser):
    """Voila serving the copied notebooks folder; tracebacks are shown so the tests can see them."""

    def args(port, token, home):
        return ["voila", str(served_notebooks), "--no-browser", "--Voila.ip=127.0.0.1", f"--Voila.port={port}",
                "--Voila.port_retries=0", f"--Voila.token={token}", "--show_tracebacks=True"]

    server = _start_server(tmp_path_factory, "voila", args, served_notebooks, "")
    yield server
    _finish_server(request, server)


class VoilaRenders:
    """Voila pages opened ahead of their test.

    Voila runs every cell of a notebook before it has sent the whole page. The
    JupyterLab test of a notebook starts its Voila page, so both front ends run
    the notebook at the same time; the Voila test then takes the page.
    """

    def __init__(self, browser, server):
        self.browser = browser
        self.server = server
        self.pages = {}

    def start(self, notebook):
        if notebook not in self.pages:
            page = open_page(self.browser)
            # "commit": return once Voila answers; the page goes on loading while other work is done
            page.goto(self.server.url(f"voila/render/{notebook}"), wait_until="commit", timeout=RUN_ALL_TIMEOUT * 1000)
            self.pages[notebook] = page

    def take(self, notebook):
        """The page of ``notebook`` (opened now if it was not started), no longer tracked here."""
        self.start(notebook)
        return self.pages.pop(notebook)

    def close(self):
        for page in self.pages.values():
            page.context.close()
        self.pages.clear()


@pytest.fixture(scope="session")
def voila_renders(browser, voila_server):
    renders = VoilaRenders(browser, voila_server)
    yield renders
    renders.close()
