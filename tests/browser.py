"""Real-browser helpers: a Streamlit server on a free port and Debian chromium via Playwright."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from inspector.store import DATA_DIR_ENV

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: The app between script runs: a click then is not lost to a rerun's re-render.
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "tests" / "artifacts"


def chromium_available() -> bool:
    return os.path.exists(CHROMIUM)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(
    base: str, timeout: float = 60, proc: subprocess.Popen | None = None, log: Path | None = None
) -> None:
    """Poll ``<base>_stcore/health`` until it answers (or fail with the server's output)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(base + "_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if (proc is not None and proc.poll() is not None) or time.monotonic() > deadline:
            out = log.read_text(errors="replace") if log is not None and log.exists() else ""
            raise RuntimeError(f"server at {base} did not start:\n{out[-2000:]}")
        time.sleep(0.2)


class Server(str):
    """The app's URL (ending in ``/``), with the server's process id and its log file."""

    pid: int
    log: Path


@contextlib.contextmanager
def streamlit_server(
    cwd: Path = ROOT, timeout: float = 60, base_path: str = "", env: dict[str, str] | None = None
) -> Iterator[Server]:
    """``streamlit run app.py`` on a free port; yields the app's URL (ending in ``/``).
    ``env`` adds environment variables (e.g. a deployment's ``INSPECTOR_LIMIT_*``); each server
    gets a store folder of its own unless ``env`` names one (a restart test reuses it)."""
    port = _free_port()
    extra = ["--server.baseUrlPath", base_path] if base_path else []
    # The server's output goes to a file, never to a pipe nobody reads: once 64 KiB of log
    # lines filled such a pipe, the next thread that logged blocked for good — a download's
    # file was then never made and its button stayed disabled (issue 24's "page that never
    # settles").
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    log = SCREENSHOTS / f"server-{port}.log"
    out = log.open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "app.py"),
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
            *extra,
        ],
        cwd=cwd,
        env={**os.environ, DATA_DIR_ENV: tempfile.mkdtemp(prefix="store-"), **(env or {})},
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    out.close()  # the child holds its own copy
    url = Server(f"http://127.0.0.1:{port}/" + (f"{base_path}/" if base_path else ""))
    url.pid, url.log = proc.pid, log
    try:
        wait_healthy(url, timeout, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def download(page, button: str, timeout: float = 30_000) -> bytes:  # type: ignore[no-untyped-def]
    """Click a download button and return the file (one click: the app's download buttons do
    not re-run the page, so nothing replaces the button under the click)."""
    with page.expect_download(timeout=timeout) as info:
        page.get_by_role("button", name=button).click()
    return Path(info.value.path()).read_bytes()


def open_tab(page, name: str, expect, timeout: float = 60_000) -> None:  # type: ignore[no-untyped-def]
    """Click a tab and wait for ``expect`` (a locator) inside it; a click lost to a re-render
    is repeated once."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.get_by_role("tab", name=name).click()
    try:
        expect.wait_for(timeout=10_000)
    except PlaywrightTimeout:
        page.get_by_role("tab", name=name).click()
        try:
            expect.wait_for(timeout=timeout)
        except PlaywrightTimeout:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"failed-tab-{name}.png"), full_page=True)
            raise


def open_page(page, link: str, heading: str, timeout: float = 60_000) -> None:  # type: ignore[no-untyped-def]
    """Follow a sidebar link and wait for the page's heading; a click that lands while the
    previous page is still re-rendering can be lost, so it is clicked again once."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    target = page.get_by_role("heading", name=heading)
    page.get_by_role("link", name=link, exact=True).click()
    try:
        target.wait_for(timeout=10_000)
    except PlaywrightTimeout:
        page.get_by_role("link", name=link, exact=True).click()
        target.wait_for(timeout=timeout)


@contextlib.contextmanager
def app_with_files(
    files: list[str], heading: str, viewport: tuple[int, int] = (1400, 1000)
) -> Iterator[tuple[str, object, object]]:
    """The app in Debian chromium with ``files`` dropped on the model uploader, once the page
    shows ``heading``: yields (url, browser, page). Skips the test without chromium."""
    import pytest
    from playwright.sync_api import sync_playwright

    from tests.test_browser import drop_model_files

    if not chromium_available():
        pytest.skip("Debian chromium is not installed")
    with streamlit_server() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
        page.goto(url)
        page.get_by_role("heading", name="mlp_gelu_layernorm.onnx").wait_for(timeout=30_000)
        drop_model_files(page, files)
        page.get_by_role("heading", name=heading).wait_for(timeout=60_000)
        try:
            yield url, browser, page
        finally:
            browser.close()
