"""What every session of this server shares: its limits, the job queue, who owns a session
(the owner token in ``?s=``) and which owners still have an open tab.

The owner token is the one piece of identity: models, jobs and published graphs are this
owner's, and a token is adopted only by the browser it was issued to (issue 22).
"""

from __future__ import annotations

from pathlib import Path

# pandas whole, before this module can start any thread (the job queue's runners, presence,
# the store's watcher, the Graph prewarm): plotly takes pandas from sys.modules when it is
# there, and a runner thread importing it at that moment handed plotly a half-initialised module
# ("partially initialized module 'pandas' has no attribute 'Series'") on a fresh server whose
# first page was Compare. Every page imports this module first (app.py does not run first: with
# a pages/ folder Streamlit runs a deep-linked page directly).
import pandas  # noqa: F401
import streamlit as st

from inspector.limits import DEFAULT_LIMITS, limits_from_env
from inspector.presence import Presence
from inspector.run.execute.jobs import JobQueue, queue
from inspector.store import Share, Store

#: This server's limits: the defaults, with the deployment's ``INSPECTOR_LIMIT_*`` variables.
#: A bad variable leaves the defaults in place and every page says so instead of working.
try:
    LIMITS, LIMITS_ERROR = limits_from_env(), ""
except ValueError as _exc:
    LIMITS, LIMITS_ERROR = DEFAULT_LIMITS, f"The server's limits are misconfigured: {_exc}."
STATIC_DIR = Path(__file__).resolve().parents[2] / "static"


def _browser() -> str:
    """This browser's secret: the token inside Streamlit's XSRF cookie (the same for every tab
    and reload of one browser, unknown to any other); "" without one (AppTest, XSRF off)."""
    from inspector.tokens import browser_key

    try:
        cookie = st.context.cookies.get("_streamlit_xsrf") or ""
    except Exception:  # noqa: BLE001 - no request context (AppTest)
        cookie = ""
    return browser_key(cookie)


@st.cache_resource(show_spinner=False)
def store() -> Store | None:
    """The server's store (``INSPECTOR_DATA_DIR``; None when set to "off"), opened once: jobs
    a stopped process left queued or running end "interrupted", retention runs, owner tokens
    are signed with its secret (they survive a restart) and the queue's jobs are recorded in
    it (``pages/common/persist.py``)."""
    from inspector.store import Store, default_folder
    from inspector.tokens import use_secret
    from pages.common.persist import record

    folder = default_folder()
    if folder is None:
        return None
    kept = Store(folder)
    kept.interrupt_unfinished()
    kept.clean(LIMITS.store_max_age_days * 86400, LIMITS.store_max_bytes)
    use_secret(kept.secret())
    job_queue().watchers.append(lambda job: record(kept, job))
    return kept


#: The query parameter of a read-only share link (``Compare?share=<token>``).
SHARE_PARAM = "share"


def shared() -> Share | None:
    """The read-only link this session was opened with, while it is valid (checked on every
    run: a revoked or expired link stops working at once); None for an owner's session."""
    token = st.session_state.get("share_token")
    if token is None:
        token = st.session_state["share_token"] = st.query_params.get(SHARE_PARAM) or ""
    kept = store()
    return kept.shared(token) if token and kept is not None else None


def link_refused() -> bool:
    """This session came from a share link that is unknown, revoked or expired."""
    link = shared()  # reads the link's token into the session first
    return bool(st.session_state.get("share_token")) and link is None


def owner() -> str:
    """Who owns this session's models and jobs: a token the server issued to this browser,
    kept in the URL (``?s=``) so a reload or a second tab of the same browser finds the same
    jobs. A token in the URL that this server did not issue to this browser — one an attacker
    chose, or one issued to another browser — is never adopted: a new one replaces it."""
    from inspector.tokens import issue, valid

    store()  # its secret signs tokens: opened before any token is checked
    link = shared()
    if link is not None:  # a viewer of a share link: an owner of nothing, never the sharer
        return f"share:{link.token}"
    token = st.session_state.get("owner")
    if not token:
        offered = st.query_params.get("s") or ""
        token = offered if valid(offered, _browser()) else issue(_browser())
        st.session_state["owner"] = token
    if st.query_params.get("s") != token:
        st.query_params["s"] = token
    return token


def job_queue() -> JobQueue:
    return queue(LIMITS)


def _owner_gone(name: str, resources: set[str]) -> None:
    """Every tab of ``name`` has been closed for ``session_grace_s``: stop its jobs (workers
    killed, private folders removed) and remove the graphs published for it."""
    from inspector.netron_assets import unpublish as remove
    from pages.common.persist import forget_owner

    job_queue().forget_owner(name)
    forget_owner(name)  # its stored jobs come back on its next visit
    for resource in resources:
        kind, _, key = resource.partition(":")
        if kind == "netron":
            remove(STATIC_DIR, key)


@st.cache_resource(show_spinner=False)
def presence() -> Presence:
    """The server's one presence tracker, sweeping every few seconds."""
    from streamlit import runtime

    tracker = Presence(
        runtime.get_instance().is_active_session, _owner_gone, LIMITS.session_grace_s
    )
    tracker.start(interval_s=min(10.0, max(1.0, LIMITS.session_grace_s / 4)))
    return tracker


def tracked() -> bool:
    """A real server runs this script (AppTest runs pages without one)."""
    from streamlit import runtime

    return runtime.exists()


def hold(resource: str) -> None:
    """This owner holds ``resource`` (``kind:key``) until all its tabs are gone."""
    if tracked():
        presence().hold(owner(), resource)


def release(resource: str) -> None:
    if tracked():
        presence().release(owner(), resource)


def check_in() -> None:
    """Record that this browser session works for its owner (every page run calls it)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    token = owner()
    ctx = get_script_run_ctx()
    if ctx is not None and tracked():  # AppTest runs pages without a server
        presence().seen(token, ctx.session_id)
