"""Issue 22, session fixation: the ``?s=`` owner token is issued by the server to one browser
and never adopted from a URL otherwise — neither a token an attacker chose nor one issued to
another browser."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest

from inspector import tokens


class TestLibrary:
    def test_a_token_is_valid_only_for_the_browser_it_was_issued_to(self):
        alice, mallory = "a1" * 16, "b2" * 16
        token = tokens.issue(alice)
        assert re.fullmatch(r"[A-Za-z0-9_-]{44}", token)
        assert tokens.valid(token, alice)
        assert not tokens.valid(token, mallory)
        assert not tokens.valid(tokens.issue(mallory), alice)
        assert tokens.issue(alice) != token  # fresh randomness each time

    @pytest.mark.parametrize(
        "offered",
        ["attackerChosenToken_0001", "A" * 44, "", "x" * 200, "../../etc/passwd"],
    )
    def test_a_token_the_server_did_not_issue_is_refused(self, offered):
        assert not tokens.valid(offered, "a1" * 16)
        assert not tokens.valid(offered, "")

    def test_the_browser_key_survives_a_new_mask_on_every_page_load(self):
        from streamlit.web.server.starlette.starlette_app_utils import (
            generate_xsrf_token_string,
        )

        secret = bytes(range(16))
        first, second = (generate_xsrf_token_string(secret, 1) for _ in range(2))
        assert first != second  # the cookie's text changes (a new mask)…
        assert tokens.browser_key(first) == tokens.browser_key(second) == secret.hex()  # …not it
        other = generate_xsrf_token_string(bytes(16), 1)
        assert tokens.browser_key(other) != secret.hex()
        assert tokens.browser_key("garbage|x") == "" and tokens.browser_key("") == ""


def _token(url: str) -> str:
    return parse_qs(urlparse(url).query).get("s", [""])[0]


@pytest.mark.browser
def test_a_url_token_is_never_adopted_by_another_browser():
    """Alice runs a matrix; Mallory opens Alice's URL (as if Alice had pasted it, or Mallory
    had planted it) and a URL with a token of her own choosing: each time she gets a new
    token and sees none of Alice's runs. Alice's reload keeps her token and her runs."""
    from playwright.sync_api import sync_playwright

    from tests.browser import (
        CHROMIUM,
        CHROMIUM_ARGS,
        chromium_available,
        open_page,
        streamlit_server,
    )

    if not chromium_available():
        pytest.skip("Debian chromium is not installed")
    with streamlit_server() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        alice = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        alice.goto(url)
        alice.get_by_role("heading", name="mlp_gelu_layernorm.onnx").wait_for(timeout=30_000)
        open_page(alice, "Run lab", "Run lab · mlp_gelu_layernorm.onnx")
        alice.get_by_role("button", name="Run the matrix").click()
        alice.get_by_text("Last results").first.wait_for(timeout=120_000)
        alice_url = alice.url
        mine = _token(alice_url)
        assert mine

        mallory = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        chosen = "attackerChosenToken_0001"
        for offered in (chosen, mine):
            mallory.goto(f"{url}?s={offered}")
            mallory.get_by_role("heading", name="mlp_gelu_layernorm.onnx").wait_for(timeout=30_000)
            mallory.wait_for_function(
                "offered => !location.search.includes('s=' + offered)", arg=offered
            )
            given = _token(mallory.url)
            assert given and given not in (chosen, mine)
            open_page(mallory, "Run lab", "Run lab · mlp_gelu_layernorm.onnx")
            mallory.get_by_role("button", name="Run the matrix").wait_for(timeout=30_000)
            assert mallory.get_by_text("Last results").count() == 0  # none of Alice's runs

        alice.reload()
        open_page(alice, "Run lab", "Run lab · mlp_gelu_layernorm.onnx")
        alice.get_by_text("Last results").first.wait_for(timeout=60_000)
        assert _token(alice.url) == mine
        browser.close()
