"""Owner tokens: the key to a user's models, jobs and results, issued by the server only.

The threat (issue 22, session fixation): when the server adopted any well-formed ``?s=`` from
the URL, an attacker could send a victim ``/?s=<a token the attacker chose>``, wait for the
victim to drop a model, open the same URL and download it. So a token is only accepted when
this server issued it *to this browser*: it is ``nonce + MAC(secret, nonce, browser)``, where
``browser`` is a per-browser secret the page cannot be made to send from another browser (the
app uses Streamlit's XSRF cookie; see ``pages/common/server.py``). A token the attacker made, or
one issued to the attacker's browser and pasted into the victim's, fails the check, and the
victim gets a fresh token of their own.

The secret is random per server process unless ``INSPECTOR_OWNER_SECRET`` sets it (replicas
behind one load balancer) or the server's store keeps one (:func:`use_secret`: tokens survive
a restart). A token carries 128 bits
of randomness and a 128-bit MAC; both are URL-safe, so the whole token is 44 characters.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets

SECRET_ENV = "INSPECTOR_OWNER_SECRET"
_NONCE_BYTES = _MAC_BYTES = 16
_SECRET = os.environ.get(SECRET_ENV, "").encode() or secrets.token_bytes(32)


def use_secret(secret: bytes) -> None:
    """Sign and check tokens with ``secret`` from now on — the server's store keeps one, so
    tokens issued before a restart stay valid after it — unless the deployment set
    ``INSPECTOR_OWNER_SECRET`` (replicas share that one)."""
    global _SECRET
    if not os.environ.get(SECRET_ENV) and secret:
        _SECRET = secret


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _mac(nonce: str, browser: str) -> str:
    digest = hmac.new(_SECRET, f"{nonce}\0{browser}".encode(), hashlib.sha256).digest()
    return _b64(digest[:_MAC_BYTES])


def issue(browser: str) -> str:
    """A new owner token for ``browser`` (its per-browser secret; "" where there is none)."""
    nonce = _b64(secrets.token_bytes(_NONCE_BYTES))
    return nonce + _mac(nonce, browser)


def valid(token: str, browser: str) -> bool:
    """Whether this server issued ``token`` to ``browser``."""
    n = len(_b64(bytes(_NONCE_BYTES)))
    if len(token) != n + len(_b64(bytes(_MAC_BYTES))):
        return False
    return hmac.compare_digest(token[n:], _mac(token[:n], browser))


def browser_key(xsrf_cookie: str) -> str:
    """The per-browser secret inside Streamlit's XSRF cookie (``2|mask|masked|time``: the
    token is ``masked`` XOR the repeated ``mask``; a new mask is drawn on every page load, the
    token stays). "" when the cookie is missing or not in that form."""
    value = xsrf_cookie.strip("\"'")
    try:
        if value.startswith("2|"):
            _, mask_hex, masked_hex, _time = value.split("|")
            mask, masked = binascii.unhexlify(mask_hex), binascii.unhexlify(masked_hex)
            if not mask:
                return ""
            return bytes(b ^ mask[i % len(mask)] for i, b in enumerate(masked)).hex()
        return binascii.unhexlify(value).hex() if value else ""
    except (ValueError, binascii.Error):
        return ""


__all__ = ["SECRET_ENV", "browser_key", "issue", "valid"]
