"""Issue 16: the claims of docs/deploy.md, one test each (the rest are named there)."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
import tomllib

from tests.browser import CHROMIUM, CHROMIUM_ARGS, ROOT, chromium_available, streamlit_server

CONFIG = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())


def test_the_shipped_server_config_keeps_its_protections():
    server, client = CONFIG["server"], CONFIG["client"]
    assert server.get("enableXsrfProtection", True) is True  # Streamlit's default, never off
    assert server.get("enableCORS", True) is True
    assert server["maxUploadSize"] == 1024  # MB per file
    assert client["showErrorDetails"] == "none"  # no traceback reaches a browser
    assert "runOnSave" not in server and "fileWatcherType" not in server


def test_an_upload_from_another_site_is_refused():
    """XSRF: a request without the app's token (what a page on another origin can send)."""
    with streamlit_server() as url:
        for method, body in (("PUT", b"--x--\r\n"), ("DELETE", None)):
            req = urllib.request.Request(
                url + "_stcore/upload_file/some-session/some-file",
                data=body,
                method=method,
                headers={
                    "Content-Type": "multipart/form-data; boundary=x",
                    "Origin": "http://elsewhere.invalid",
                },
            )
            with pytest.raises(urllib.error.HTTPError) as info:
                urllib.request.urlopen(req, timeout=10)
            assert info.value.code == 403 and b"XSRF" in info.value.read()


@pytest.mark.browser
@pytest.mark.skipif(not chromium_available(), reason="Debian chromium is not installed")
def test_a_misconfigured_limit_is_named_on_every_page():
    from playwright.sync_api import sync_playwright

    env = {"INSPECTOR_LIMIT_MAX_CONCURENT_RUNS": "4"}  # a typo: must not silently be ignored
    with streamlit_server(env=env) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(url)
        page.get_by_text("INSPECTOR_LIMIT_MAX_CONCURENT_RUNS: there is no limit").wait_for(
            timeout=30_000
        )
        assert page.locator('[data-testid="stException"]').count() == 0
        browser.close()
