"""Issue 16: eight people on one server at once, in a real browser.

Each of eight browser contexts (separate sessions, separate owner tokens) uploads the *same
bytes* under its own file name, opens the graph (a published Netron copy) and runs the Run lab's
default matrix; one of them runs a model that never finishes and closes its tab mid-run. Checked:
every page shows only its own name, every run finishes, the server's memory stays bounded, and
once the tabs are closed (plus the deployment's grace period) no worker, run folder or published
graph is left.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.browser import CHROMIUM, CHROMIUM_ARGS, ROOT, chromium_available, streamlit_server
from tests.factories import endless_loop
from tests.test_browser import drop_model_files, shot
from tests.test_jobs import _run_dirs, _workers

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not chromium_available(), reason="Debian chromium is not installed"),
]

USERS = 8
GRACE_S = 3
PUBLISHED = ROOT / "static" / "models"


def _rss(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # the server has exited
        return 0
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _published() -> set[str]:
    return {p.name for p in PUBLISHED.iterdir()} if PUBLISHED.is_dir() else set()


def _wait(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.25)
    return True


def test_eight_sessions_at_once_no_cross_talk_bounded_memory_nothing_left(tmp_path):
    from playwright.sync_api import sync_playwright

    sample = (ROOT / "sample_models" / "mlp_gelu_layernorm.onnx").read_bytes()
    files = []
    for i in range(USERS - 1):
        path = tmp_path / f"user{i}_private.onnx"
        path.write_bytes(sample)  # the same bytes for everyone, a different name each
        files.append(path)
    hung = tmp_path / "user7_endless.onnx"
    hung.write_bytes(endless_loop().SerializeToString())
    files.append(hung)
    before_dirs, before_published = _run_dirs(), _published()

    env = {"INSPECTOR_LIMIT_SESSION_GRACE_S": str(GRACE_S)}
    with streamlit_server(env=env) as url, sync_playwright() as p:
        rss_start = _rss(url.pid)
        peak = [rss_start]
        stop = threading.Event()

        def sample_rss() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], _rss(url.pid))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample_rss, daemon=True)
        sampler.start()
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        contexts = [browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in files]
        pages = [c.new_page() for c in contexts]
        for page in pages:
            page.goto(url)
        for page, path in zip(pages, files, strict=True):
            page.get_by_role("heading", name="mlp_gelu_layernorm.onnx").wait_for(timeout=60_000)
            drop_model_files(page, [str(path)])
        for page, path in zip(pages, files, strict=True):
            page.get_by_role("heading", name=path.name).wait_for(timeout=60_000)
            page.get_by_role("link", name="Graph", exact=True).click()
            page.locator("iframe").first.wait_for(timeout=60_000)  # Netron's copy is published
        # Counted while every tab is open: the endless run's tab is closed below, and its graph
        # is removed GRACE_S later — before the others finish once their runs take longer.
        published_while_open = _published() - before_published
        for page in pages:
            page.get_by_role("link", name="Run lab").click()
            page.get_by_role("button", name="Run the matrix").wait_for(timeout=60_000)
        for page in pages:  # every job queued before any finishes
            page.get_by_role("button", name="Run the matrix").click()
        # The endless run starts (it holds one run slot), then its tab is closed mid-run.
        pages[-1].get_by_text("configurations — running").first.wait_for(timeout=120_000)
        seen = _workers(url.pid)  # this server's workers (other sessions on the host run theirs)
        assert _wait(lambda: bool(seen.update(_workers(url.pid)) or seen), 30), "no worker started"
        contexts[-1].close()
        for i, (page, path) in enumerate(zip(pages[:-1], files[:-1], strict=True)):
            try:
                page.get_by_text("Last results").first.wait_for(timeout=240_000)
            except Exception:
                shot(page, f"eight-sessions-stuck-{i}")
                raise
            page.get_by_text("ok, 0 failed").first.wait_for(timeout=30_000)
            body = page.locator("body").inner_text()
            others = [f.name for f in files if f != path and f.name in body]
            assert path.name in body and others == [], others
        shot(pages[0], "eight-sessions-user0")
        # The endless job's worker is stopped once its tab has been gone for the grace period.
        assert _wait(lambda: not _workers(url.pid), GRACE_S + 60)
        for context in contexts[:-1]:
            context.close()
        browser.close()
        # ... and every remaining session's files once they are gone too.
        left_published = lambda: _published() - before_published  # noqa: E731
        assert _wait(lambda: not left_published(), GRACE_S + 60), left_published()
        assert _wait(lambda: not (_run_dirs() - before_dirs), 30), _run_dirs() - before_dirs
        stop.set()
        sampler.join()
        growth = peak[0] - rss_start
        print(
            f"\n8 sessions: server RSS {rss_start / 2**20:.0f} MiB at start, peak "
            f"{peak[0] / 2**20:.0f} MiB (+{growth / 2**20:.0f} MiB); graphs published "
            f"{len(published_while_open)}, left 0; workers left 0; run folders left 0"
        )
        assert len(published_while_open) == USERS
        assert growth < 1024 * 2**20, f"server grew by {growth / 2**20:.0f} MiB"
    assert not (seen & _workers())
