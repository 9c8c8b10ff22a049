"""The Graph page's drawings: the whole graph in Netron, or — above the node budget
(``graph_node_budget``) — a scope of the name-scope tree (collapsed: its scopes as boxes, when
it is over the budget itself; the whole graph first), or one node's neighbourhood, cut at its
boundary. Each returns the node ids it drew, which the node table then follows."""

from __future__ import annotations

import threading

import streamlit as st

from inspector import LoadedModel
from inspector.errors import InspectorError
from inspector.model.collapsed import Collapsed, collapsed_of
from inspector.model.scopes import SEP, Scope, ScopeTree, find_node, neighbourhood, sub_model
from pages.common import models, published
from pages.common.models import Source
from pages.common.text import plain

_SCOPE = "g_scope"  # model key → the scope the browser shows (kept across page switches)


def drawn_scope(source: Source) -> str | None:
    """The scope the Graph page last drew for ``source`` (Compare's overlay starts there)."""
    return st.session_state.get(_SCOPE, {}).get(source.key)


def whole(source: Source) -> None:
    """The whole graph in Netron (within the node budget)."""
    url, note = published.netron_url(source)
    if note:
        st.info(note)
    st.iframe(published.app_base_path() + url, height=620)


def draw_part(model: LoadedModel, source: Source, tag: str, indices: list[int], title: str) -> None:
    """Main-graph nodes ``indices`` as a model of their own, in Netron."""
    url = published.netron_view_url(
        source, tag, lambda: sub_model(model, indices, title, for_viewing=True).SerializeToString()
    )
    st.iframe(published.app_base_path() + url, height=620)


def _opened(tree: ScopeTree, path: str, budget: int) -> Scope:
    """The scope drawn for ``path``: it, or its only child while it holds nothing else and
    is over the budget ("/model" holding the whole graph: straight in)."""
    try:
        here = tree.get(path)
    except InspectorError:
        here = tree.get(SEP)
    while here.nodes > budget and not here.own and len(kids := tree.children(here.path)) == 1:
        here = kids[0]
    return here


_warming: set[str] = set()  # models whose first collapsed drawing is being made or made
_warming_lock = threading.Lock()


def prewarm(model: LoadedModel, source: Source) -> None:
    """Make a big model's first Graph drawing in the background as soon as it is open
    (shape inference, which types its edges, first): opening the Graph page then costs only
    Netron's drawing — the build alone is 1.4–2.2 s of CPU at 100,000 nodes."""
    budget = model.limits.graph_node_budget
    with _warming_lock:
        if len(model.proto.graph.node) <= budget or source.key in _warming:
            return
        _warming.add(source.key)

    def make() -> None:
        try:
            tree = models.record("scopes", source)
            model.native  # noqa: B018 - shared with the Overview (one run per model)
            _collapsed(source.key, _opened(tree, SEP, budget).path, True, model)
        except Exception:  # noqa: BLE001 - the page builds it itself and says what failed
            with _warming_lock:
                _warming.discard(source.key)

    threading.Thread(target=make, daemon=True, name=f"prewarm-{source.key[:8]}").start()


def scope_browser(model: LoadedModel, source: Source, tree: ScopeTree) -> set[str]:
    """Breadcrumbs, the current scope's children (a click opens one) and a drawing of the
    scope: whole within the budget, collapsed above it; the ids under it."""
    budget = model.limits.graph_node_budget

    def set_scope(path: str) -> None:
        st.session_state.setdefault(_SCOPE, {})[source.key] = path

    here = _opened(tree, st.session_state.setdefault(_SCOPE, {}).get(source.key, SEP), budget)
    crumbs = [SEP] + [
        SEP + SEP.join(here.path.split(SEP)[1 : i + 1])
        for i in range(1, len(here.path.split(SEP)))
        if here.path != SEP
    ]
    # A crumb that would only step straight back in (one child, over budget) is left out.
    crumbs = [
        c
        for c in crumbs
        if c == here.path or tree.get(c).nodes <= budget or len(tree.children(c)) != 1
    ]
    cols = st.columns(min(len(crumbs), 8))
    for col, crumb in zip(cols, crumbs[-8:], strict=False):
        label = "whole graph" if crumb == SEP else crumb.rsplit(SEP, 1)[-1]
        col.button(
            plain(label),
            key=f"crumb_{crumb}",
            on_click=set_scope,
            args=(crumb,),
            disabled=crumb == here.path,
            width="stretch",
        )
    children = tree.children(here.path)
    left, right = st.columns([1, 2])
    with left:
        st.markdown(
            f"**{plain(here.path)}** · {here.nodes:,} nodes"
            + (f" ({here.own:,} of its own)" if here.own and children else "")
        )
        if children:
            pick = st.dataframe(
                [
                    {
                        "scope": c.path.rsplit(SEP, 1)[-1],
                        "nodes": c.nodes,
                        "ops": c.ops,
                        "opens": "drawn whole" if c.nodes <= budget else "collapsed",
                    }
                    for c in children
                ],
                hide_index=True,
                height=min(560, 38 + 35 * len(children)),  # no empty rows under a short list
                on_select="rerun",
                selection_mode="single-row",
                key=f"g_children_{here.path}",
            )
            rows = pick.selection.rows if pick and pick.selection else []
            if rows:
                set_scope(children[rows[0]].path)
                st.rerun()
    with right:
        idx = tree.nodes_of(here.path)
        if here.nodes <= budget:
            st.caption(
                f"Drawn: {plain(here.path)} — {here.nodes:,} nodes ({plain(here.ops)}); "
                "its boundary tensors are the drawing's inputs and outputs."
            )
            draw_part(model, source, "scope:" + here.path, idx, here.path)
        else:
            drawn = collapsed_view(model, source, here.path)
            st.caption(
                f"Drawn collapsed: {plain(here.path)} — {drawn.nodes:,} nodes as {int(drawn.top)} "
                f"boxes and nodes ({drawn.boxes:,} boxes in all, {int(drawn.depth)} levels). A box "
                "is a scope (its node count in brackets), a group of scopes (layers.0–11) or a "
                "run of consecutive nodes ([first–last] node index); click its ƒ to open it, ‹ "
                "to come back, or pick a scope on the left."
            )
        return {f"main:{i}" for i in idx}


def collapsed_view(model: LoadedModel, source: Source, path: str) -> Collapsed:
    """``path`` drawn collapsed in Netron (:mod:`inspector.model.collapsed`); its edges typed
    once shape inference has run (the Overview runs it), never waiting for it here."""
    typed = "native" in vars(model)  # inference already ran: its types cost nothing
    drawn = _collapsed(source.key, path, typed, model)
    url = published.netron_view_url(
        source, f"collapsed:{path}:{typed}", drawn.model.SerializeToString
    )
    st.iframe(published.app_base_path() + url, height=620)
    return drawn


@st.cache_resource(max_entries=8, show_spinner="Collapsing the graph…")
def _collapsed(key: str, path: str, typed: bool, _model: LoadedModel) -> Collapsed:
    return collapsed_of(_model, path, typed=typed)


def around(model: LoadedModel, source: Source, wanted: str, hops: int) -> set[str] | None:
    """The nodes within ``hops`` of the node named (or with id) ``wanted`` — at most the
    budget's nearest in graph order; the ids drawn, or None when no node has that name."""
    main = model.proto.graph
    budget = model.limits.graph_node_budget
    index = find_node(main, wanted)
    if index is None:
        st.warning(plain(f"No node named {wanted!r} in the main graph (ids: main:0 …)."))
        return None
    idx = neighbourhood(main, index, hops)
    if len(idx) > budget:
        st.warning(
            f"{len(idx):,} nodes within {hops} hops: drawing the {budget:,} nearest "
            "in graph order; lower the hops to see all."
        )
        idx = sorted(sorted(idx, key=lambda j: abs(j - index))[:budget])
    st.caption(
        f"{plain(main.node[index].name or f'main:{index}')} and {len(idx) - 1:,} "
        f"nodes within {hops} hops."
    )
    draw_part(model, source, f"hops:{index}:{hops}", idx, f"{main.node[index].name} ±{hops}")
    return {f"main:{i}" for i in idx}
