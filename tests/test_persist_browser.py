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


def _run_the_sample(page, url: str) -> str:  # type: ignore[no-untyped-def]
    """Open the app on its sample, run the Run lab's default matrix; Compare's verdict line."""
    page.goto(url)
    page.get_by_role("heading", name="mlp_gelu_layernorm.onnx").wait_for(timeout=60_000)
    page.get_by_role("link", name="Run lab").click()
    page.get_by_role("button", name="Run the matrix").click()
    page.get_by_text("ok, 0 failed").first.wait_for(timeout=180_000)
    return _compare_verdict(page)


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
            before = _run_the_sample(page, url)
            where = _owner_path(page.url)
            assert "s=" in where
        with streamlit_server(env=env) as url:  # a new process on the same store
            page.goto(url + where)
            after = _compare_verdict(page)
            shot(page, "compare-after-restart")
            assert after == before  # the same runs, not re-run: the same numbers
            assert page.locator('[data-testid="stException"]').count() == 0
        browser.close()


def test_a_share_link_is_read_only_and_revocable(tmp_path):
    """The owner makes a read-only link on Compare; a fresh browser (another person) opens it:
    the same page and numbers, no owner token in it, no way to run, cancel, upload or get the
    model; other pages stay closed to it. Revoked, the link stops working at once."""
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS, chromium_available, streamlit_server
    from tests.test_browser import shot

    if not chromium_available():
        pytest.skip("Debian chromium is not installed")
    env = {DATA_DIR_ENV: str(tmp_path / "store")}
    with sync_playwright() as p, streamlit_server(env=env) as url:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        before = _run_the_sample(page, url)
        owner_token = re.search(r"[?&]s=([\w-]+)", page.url).group(1)  # type: ignore[union-attr]
        page.get_by_text("Share this view").click()
        page.get_by_role("button", name="Create a read-only link").click()
        code = page.locator("code").filter(has_text="share=").first
        code.wait_for(timeout=30_000)
        link = code.inner_text().strip()
        assert link.startswith(url) and owner_token not in link and "s=" not in link.split("?")[1]

        viewer = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        viewer.goto(link)
        line = viewer.get_by_text(VERDICT).first
        line.wait_for(timeout=60_000)
        assert line.inner_text() == before  # the same runs
        viewer.get_by_text("Read-only link").wait_for()
        viewer.get_by_text("Latency per configuration").wait_for(timeout=60_000)  # drawn
        shot(viewer, "compare-shared-read-only")
        assert owner_token not in viewer.url
        for absent in ("Run lab", "Overview", "Model diff"):
            assert viewer.get_by_role("link", name=absent, exact=True).count() == 0
        assert viewer.get_by_role("button", name="Find the first diverging node").count() == 0
        assert viewer.get_by_role("button", name="Create a read-only link").count() == 0
        assert viewer.locator('[data-testid="stFileUploader"]').count() == 0
        viewer.get_by_role("tab", name="Downloads").click()
        viewer.get_by_text("without the model, which this link does not share").wait_for()
        assert viewer.get_by_text("Optimized graph of").count() == 0
        viewer.goto(url + "Run_lab?share=" + link.rsplit("=", 1)[1])  # no page but Compare
        viewer.get_by_role("heading", name="Compare · mlp_gelu_layernorm.onnx").wait_for()
        assert viewer.get_by_role("button", name="Run the matrix").count() == 0
        stranger = browser.new_context().new_page()  # the share token is no owner token
        stranger.goto(url + "?s=" + link.rsplit("=", 1)[1])
        stranger.get_by_role("heading", name="mlp_gelu_layernorm.onnx").wait_for(timeout=60_000)
        stranger.get_by_role("link", name="Compare", exact=True).click()
        stranger.get_by_text("No runs yet for this model.").wait_for(timeout=60_000)

        page.get_by_role("button", name="Revoke").click()
        page.get_by_text("Share this view (read-only links: 0)").wait_for(timeout=30_000)
        viewer.goto(link)
        viewer.get_by_text("This read-only link was revoked or has expired").wait_for()
        assert viewer.get_by_text(VERDICT).count() == 0
        browser.close()
