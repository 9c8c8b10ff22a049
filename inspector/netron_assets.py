"""Netron's web UI served from our own origin, patched for unattended, offline use.

The ``netron`` wheel ships its whole browser UI. Served as is it has three traps (measured in
Netron 9.3): it sends analytics events; without a ``consent`` cookie it asks a third-party
service for the visitor's country and shows a blocking consent dialog; and once its build date
is 180 days old it loops on "Please update to the newest version". The copy made here drops the
``date`` meta tag, sets the ``version`` meta tag to ``0.0.0`` (which turns telemetry off), and
sets the consent cookie from a small script *file* (its page policy forbids inline scripts), so
the viewer makes no request outside the app's origin.

Model strings as HTML: Netron renders an op's documentation from Markdown to HTML, and for a
model-local function that Markdown is the model's own ``doc_string`` (and its attributes'):
a ``<meta http-equiv="refresh">`` there navigated the embedded viewer to another site, an
``<img>`` loaded from another host. The iframe's sandbox cannot stop that (Netron needs
``allow-scripts``, which also allows a meta refresh), nor can a page policy (browsers never
shipped ``navigate-to``). So the copy is patched at that one sink: the documentation panel's
HTML goes through :data:`SAFE_HTML_JS`, which keeps formatting tags and plain links and drops
everything else (``meta``, ``img``, ``style``, ``form``, ``iframe``, event attributes...). And
the page policy allows nothing off the app's origin: ``default-src 'self'``, images from the
origin or ``data:``/``blob:`` only, no forms, ``<base>``, frames or plugins.

Models are published under ``<static>/models/<random key>/`` — whoever can reach the port can
fetch static files, so keys are unguessable and old folders are removed. Only what Netron
fetches is published, under names the inspector chooses: ``model.onnx`` and ``data_N.bin`` for
the external-data files the model references (their ``location`` entries rewritten to match).
A user's own file names and extensions never reach the static folder, so an uploaded
``.html`` or ``.svg`` companion cannot become active content on the app's origin.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import time
from pathlib import Path

import netron
import onnx

from inspector.model.companions import normalize_location
from inspector.model.load import LoadedModel
from inspector.model.walk import iter_tensors

MODEL_FILE = "model.onnx"
#: Most bytes of published models kept at once: Streamlit stops serving the whole static
#: folder once it passes 1 GB ("Static folder size is larger than 1GB. Static file serving has
#: been disabled"): every Netron view of every user then stays blank until a restart.
STATIC_BUDGET_BYTES = 768 * 1024 * 1024
PATCH_VERSION = 4  # bump when a patch changes: installed copies are redone

#: The viewer's page policy, replacing Netron's own (``script-src 'self'; frame-src 'none'``,
#: kept): nothing is fetched, framed, submitted or navigated to off the app's origin. Inline
#: styles stay allowed: Netron's index.html and its SVG drawing use them.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self' blob: data:; font-src 'self' data:; "
    "worker-src 'self' blob:; object-src 'none'; frame-src 'none'; base-uri 'none'; "
    "form-action 'none'"
)

CONSENT_JS = "inspector-consent.js"
_CONSENT = (
    "// Added by ONNX Inspector: consent is implied (no third-party requests are made).\n"
    "document.cookie = 'consent=' + Date.now() + '; path=/; max-age=31536000; SameSite=Strict';\n"
)


SAFE_HTML_JS = "inspector-safe-html.js"
_SAFE_HTML = r"""// Added by ONNX Inspector: the HTML of Netron's documentation panel, made inert.
// For a model-local function that HTML is the model's own doc_string (Markdown rendered to
// HTML): it is parsed in an inert document (nothing loads, nothing runs, no refresh) and
// rebuilt from formatting tags and plain links only; everything else becomes its text.
(function () {
    'use strict';
    var KEEP = {
        A: 1, B: 1, BLOCKQUOTE: 1, BR: 1, CODE: 1, DD: 1, DEL: 1, DIV: 1, DL: 1, DT: 1, EM: 1,
        H1: 1, H2: 1, H3: 1, H4: 1, H5: 1, H6: 1, HR: 1, I: 1, LI: 1, OL: 1, P: 1, PRE: 1,
        S: 1, SPAN: 1, STRONG: 1, SUB: 1, SUP: 1, TABLE: 1, TBODY: 1, TD: 1, TH: 1, THEAD: 1,
        TR: 1, TT: 1, U: 1, UL: 1
    };
    var DROP = {
        SCRIPT: 1, STYLE: 1, TEMPLATE: 1, NOSCRIPT: 1, IFRAME: 1, FRAME: 1, OBJECT: 1, EMBED: 1,
        SVG: 1, MATH: 1, TITLE: 1, TEXTAREA: 1, SELECT: 1
    };
    function copy(source, target) {
        for (var node = source.firstChild; node; node = node.nextSibling) {
            if (node.nodeType === 3) {
                target.appendChild(document.createTextNode(node.nodeValue));
            } else if (node.nodeType === 1) {
                var tag = node.nodeName.toUpperCase();
                if (DROP[tag]) {
                    continue;
                }
                if (!KEEP[tag]) {
                    copy(node, target);  // an unknown element keeps only its text
                    continue;
                }
                var element = document.createElement(tag.toLowerCase());
                var href = tag === 'A' ? (node.getAttribute('href') || '').trim() : '';
                if (/^https?:\/\//i.test(href)) {
                    element.setAttribute('href', href);
                    element.setAttribute('target', '_blank');
                    element.setAttribute('rel', 'noopener noreferrer');
                }
                copy(node, element);
                target.appendChild(element);
            }
        }
    }
    window.inspectorSafeHTML = function (element, html) {
        var inert = new DOMParser().parseFromString(String(html), 'text/html');
        var fragment = document.createDocumentFragment();
        copy(inert.body, fragment);
        element.replaceChildren(fragment);
    };
})();
"""

#: Netron's documentation panel writes its HTML here (view.js, DocumentationSidebar._append).
_DOC_SINK = """    _append(parent, type, content) {
        const element = this.createElement(type);
        if (content) {
            element.innerHTML = content;
        }"""
_DOC_SINK_SAFE = """    _append(parent, type, content) {
        const element = this.createElement(type);
        if (content) {
            if (typeof window.inspectorSafeHTML === 'function') {
                window.inspectorSafeHTML(element, content);
            } else {
                element.textContent = content;
            }
        }"""


#: Netron opens every graph at zoom 1, centred on its inputs: in a narrow pane (Model diff's
#: two side by side) most of the graph is cut off. With ``fit=1`` in the viewer's URL the first
#: zoom fits the graph's width to the pane instead (it scrolls down; Netron clamps at 0.15).
_FIRST_ZOOM = "        this._zoom = state ? state.zoom : 1;\n"
_FIRST_ZOOM_FIT = (
    "        this._zoom = state ? state.zoom : 1;\n"
    "        if (!state && new URLSearchParams(window.location.search).get('fit') === '1') {\n"
    "            const pane = document.getElementById('target');\n"
    "            this._zoom = Math.min(1, pane.clientWidth / width);\n"
    "        }\n"
)


def patch_view(js: str) -> str:
    """Netron's view.js with the documentation panel's HTML sink made inert (module docstring)
    and the first zoom fitting the pane on ``fit=1``. Refuses a view.js without that sink: a
    Netron whose panel changed must be looked at, not served unpatched."""
    if js.count(_DOC_SINK) != 1 and js.count(_DOC_SINK_SAFE) != 1:
        raise RuntimeError(
            "Netron's view.js changed: its documentation panel's HTML sink was not found, so "
            "model doc strings could become live HTML. Update inspector/netron_assets.py."
        )
    js = js.replace(_DOC_SINK, _DOC_SINK_SAFE)
    if js.count(_FIRST_ZOOM_FIT) == 1:
        return js
    if js.count(_FIRST_ZOOM) != 1:
        raise RuntimeError(
            "Netron's view.js changed: its first zoom was not found (the fit=1 patch). "
            "Update inspector/netron_assets.py."
        )
    return js.replace(_FIRST_ZOOM, _FIRST_ZOOM_FIT)


def netron_source() -> Path:
    return Path(netron.__file__).resolve().parent


def patch_index(html: str) -> str:
    """Netron's index.html made safe to serve unattended (see the module docstring)."""
    html = re.sub(r'\s*<meta name="date"[^>]*>', "", html)
    # Netron's own policy allows fetching any origin: ``index.html?url=https://elsewhere``
    # would make the embedded viewer request it. Same origin only, for everything (CSP).
    html, found = re.subn(
        r'<meta http-equiv="Content-Security-Policy" content="[^"]*"',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}"',
        html,
        count=1,
    )
    if not found:
        raise RuntimeError("Netron's index.html has no Content-Security-Policy meta tag")
    html = re.sub(
        r'<meta name="version" content="[^"]*"', '<meta name="version" content="0.0.0"', html
    )
    for name in (CONSENT_JS, SAFE_HTML_JS):
        tag = f'<script type="text/javascript" src="{name}"></script>'
        if name not in html:
            html = html.replace(
                '<script type="text/javascript" src="index.js"></script>',
                tag + '\n<script type="text/javascript" src="index.js"></script>',
                1,
            )
    return html


def install(static_dir: Path) -> Path:
    """Copy (once per Netron version) the patched UI to ``static_dir/netron``; return it."""
    src = netron_source()
    target = static_dir / "netron"
    stamp = target / ".source"
    # The stamp is served with the UI: a hash, so it does not reveal the install path.
    digest = hashlib.sha256(str(src).encode()).hexdigest()[:16]
    marker = f"{getattr(netron, '__version__', '')}:{digest}:{PATCH_VERSION}"
    if stamp.exists() and stamp.read_text() == marker:
        return target
    tmp = static_dir / f".netron-{secrets.token_hex(4)}"
    shutil.copytree(src, tmp, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    index = tmp / "index.html"
    index.write_text(patch_index(index.read_text(encoding="utf-8")), encoding="utf-8")
    view = tmp / "view.js"
    view.write_text(patch_view(view.read_text(encoding="utf-8")), encoding="utf-8")
    (tmp / CONSENT_JS).write_text(_CONSENT)
    (tmp / SAFE_HTML_JS).write_text(_SAFE_HTML)
    (tmp / ".source").write_text(marker)
    if target.exists():
        shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    return target


def netron_files(
    model: LoadedModel, data: bytes, max_file_bytes: int
) -> tuple[bytes, dict[str, bytes]]:
    """The model and the data files Netron will fetch, under fixed, inert names.

    External ``location`` entries are rewritten to ``data_N.bin``; files that are missing,
    unsafe or over ``max_file_bytes`` point at a name that is never published (Netron shows
    those tensors without values). Without external data ``data`` (the model's bytes) is used
    as is."""
    external = [
        t for t in iter_tensors(model.proto) if t.data_location == onnx.TensorProto.EXTERNAL
    ]
    if not external:
        return data, {}
    copy = onnx.ModelProto()
    copy.CopyFrom(model.proto)
    names: dict[str, str] = {}
    for t in iter_tensors(copy):
        if t.data_location != onnx.TensorProto.EXTERNAL:
            continue
        for entry in t.external_data:
            if entry.key != "location":
                continue
            try:
                source = normalize_location(entry.value, model.limits)
            except Exception:  # refused by the companion gate: never served
                entry.value = "unavailable.bin"
                continue
            size = model.companions.size(source)
            if size is None or size > max_file_bytes:
                entry.value = "unavailable.bin"
                continue
            entry.value = names.setdefault(source, f"data_{len(names)}.bin")
    files = {
        new: model.companions.read(src, 0, model.companions.size(src) or 0)
        for src, new in names.items()
    }
    return copy.SerializeToString(), files


def publish(
    static_dir: Path,
    data: bytes,
    files: dict[str, bytes],
    max_age_s: float = 6 * 3600,
) -> str:
    """Write ``model.onnx`` and its ``data_N.bin`` files (from :func:`netron_files`) under an
    unguessable key; return the key. On the way, folders older than ``max_age_s`` are removed,
    then the oldest until the new one fits :data:`STATIC_BUDGET_BYTES` (a removed folder that
    is still in use is published again on its page's next run: the page checks)."""
    models = static_dir / "models"
    models.mkdir(parents=True, exist_ok=True)
    now = time.time()
    kept: list[tuple[float, int, Path]] = []
    for old in models.iterdir():
        try:
            age = now - old.stat().st_mtime
            if age > max_age_s:
                shutil.rmtree(old, ignore_errors=True)
            else:
                size = sum(f.stat().st_size for f in old.iterdir())
                kept.append((age, size, old))
        except OSError:
            continue
    total = sum(size for _, size, _ in kept) + len(data) + sum(map(len, files.values()))
    for _age, size, old in sorted(kept, reverse=True):  # oldest first
        if total <= STATIC_BUDGET_BYTES:
            break
        shutil.rmtree(old, ignore_errors=True)
        total -= size
    key = secrets.token_urlsafe(18)
    folder = models / key
    folder.mkdir()
    (folder / MODEL_FILE).write_bytes(data)
    for name, payload in files.items():
        if not re.fullmatch(r"data_[0-9]+\.bin", name):
            raise ValueError(f"refusing to publish {name!r}: only data_N.bin files are served")
        (folder / name).write_bytes(payload)
    return key


def unpublish(static_dir: Path, key: str) -> None:
    """Remove a published model (when its user closes it or the session ends)."""
    if re.fullmatch(r"[A-Za-z0-9_-]{16,64}", key):
        shutil.rmtree(static_dir / "models" / key, ignore_errors=True)
