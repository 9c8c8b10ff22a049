"""Compare's "Share this view": read-only links to this model's runs and analyses for anyone
who has the link — no owner token in it, no power to run, cancel, close or upload, the model
file only if the owner includes it — revocable, expiring after ``share_link_ttl_s``."""

from __future__ import annotations

import time
from urllib.parse import urlparse

import streamlit as st

from pages.common import persist, published
from pages.common.models import Source
from pages.common.server import LIMITS, SHARE_PARAM, owner, shared, store
from pages.common.text import plain


def _revoke(token: str) -> None:
    kept = store()
    if kept is not None:
        kept.revoke(owner(), token)  # only this owner's own link: the store checks


def show(source: Source) -> None:
    """The owner's links to this model's Compare page: make one, see them, revoke them."""
    kept = store()
    if kept is None or shared() is not None:  # no store, or this is a viewer already
        return
    mine = kept.shares(owner(), source.key)
    with st.expander(f"Share this view (read-only links: {len(mine)})"):
        with_model = st.checkbox(
            "Let them download the model file too",
            key=source.widget("share_with_model"),
            value=False,
        )
        if st.button("Create a read-only link", key="share_make"):
            persist.keep(kept, owner(), source)  # e.g. runs opened from a bundle
            kept.share(
                owner(), source.key, "Compare", with_model=with_model, ttl_s=LIMITS.share_link_ttl_s
            )
            mine = kept.shares(owner(), source.key)
        url = urlparse(st.context.url or "")
        base = f"{url.scheme}://{url.netloc}{published.app_base_path()}" if url.netloc else ""
        for link in mine:
            until = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(link.expires))
            model = "with the model file" if link.with_model else "without the model file"
            st.code(f"{base}?{SHARE_PARAM}={link.token}", language=None)  # opens on Compare
            c1, c2 = st.columns([3, 1])
            c1.caption(f"Works until {plain(until)}, {plain(model)}.")
            c2.button(
                "Revoke",
                key=f"revoke_{link.token}",
                on_click=_revoke,
                args=(link.token,),
            )
