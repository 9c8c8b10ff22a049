"""Issue 29 in the browser: runs outlive the server. A matrix run in one server process is on
the same owner URL, with the same numbers, after that process is stopped and a new one starts
on the same store; a matrix the server stopped mid-run comes back "interrupted", and runs again
from the Run lab."""

from __future__ import annotations

import re

import pytest

from inspector.store import DATA_DIR_ENV

pytestmark = pytest.mark.browser

VERDICT = re.compile(r"× \[\d+\.\d{3}, \d+\.\d{3}\]")  # Compare's latency line: ratio [CI]


def _owner_path(url: str) -> str:
    """The page path and query of ``url`` (its owner token), for another server's address."""
    return url.split("/", 3)[3]


def _compare_verdict(page) -> str:  # type: ignore[no-untyped-def]
    page.get_by_role("link", name="Compare", exact=True).click()
    page.get_by_role("heading", name="Compare · mlp_gelu_layernorm.onnx").wait_for(timeout=60_000)
    line = page.get_by_text(VERDICT).first
    line.wait_for(timeout=60_000)
    return line.inner_text()


def test_a_matrix_and_its_compare_page_survive_a_restart(tmp_path):
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS, chromium_available, streamlit_server
    from tests.test_browser import shot

    if not chromium_available():
        pytest.skip("Debian chromium is not installed")
    env = {DATA_DIR_ENV: str(tmp_path / "store")}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        with streamlit_server(env=env) as url:
            page.goto(url)
            page.get_by_role("heading", name="mlp_gelu_layernorm.onnx").wait_for(timeout=60_000)
            page.get_by_role("link", name="Run lab").click()
            page.get_by_role("button", name="Run the matrix").click()
            page.get_by_text("ok, 0 failed").first.wait_for(timeout=180_000)
            before = _compare_verdict(page)
            where = _owner_path(page.url)
            assert "s=" in where
        with streamlit_server(env=env) as url:  # a new process on the same store
            page.goto(url + where)
            after = _compare_verdict(page)
            shot(page, "compare-after-restart")
            assert after == before  # the same runs, not re-run: the same numbers
            assert page.locator('[data-testid="stException"]').count() == 0
        browser.close()
