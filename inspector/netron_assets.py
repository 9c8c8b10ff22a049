"""Netron's web UI served from our own origin, patched for unattended, offline use.

The ``netron`` wheel ships its whole browser UI. Served as is it has three traps (measured in
Netron 9.3): it sends analytics events; without a ``consent`` cookie it asks a third-party
service for the visitor's country and shows a blocking consent dialog; and once its build date
is 180 days old it loops on "Please update to the newest version". The copy made here drops the
``date`` meta tag, sets the ``version`` meta tag to ``0.0.0`` (which turns telemetry off), and
sets the consent cookie from a small script *file* (its page policy forbids inline scripts), so
the viewer makes no request outside the app's origin.

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
PATCH_VERSION = 2  # bump when patch_index changes: installed copies are redone

CONSENT_JS = "inspector-consent.js"
_CONSENT = (
    "// Added by ONNX Inspector: consent is implied (no third-party requests are made).\n"
    "document.cookie = 'consent=' + Date.now() + '; path=/; max-age=31536000; SameSite=Strict';\n"
)


def netron_source() -> Path:
    return Path(netron.__file__).resolve().parent


def patch_index(html: str) -> str:
    """Netron's index.html made safe to serve unattended (see the module docstring)."""
    html = re.sub(r'\s*<meta name="date"[^>]*>', "", html)
    # Netron's own policy allows fetching any origin: ``index.html?url=https://elsewhere``
    # would make the embedded viewer request it. Same origin only.
    html = re.sub(
        r'(<meta http-equiv="Content-Security-Policy" content=")([^"]*)"',
        lambda m: m.group(1) + m.group(2).rstrip("; ") + "; connect-src 'self' blob: data:\"",
        html,
        count=1,
    )
    html = re.sub(
        r'<meta name="version" content="[^"]*"', '<meta name="version" content="0.0.0"', html
    )
    tag = f'<script type="text/javascript" src="{CONSENT_JS}"></script>'
    if CONSENT_JS not in html:
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
    (tmp / CONSENT_JS).write_text(_CONSENT)
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
    unguessable key; return the key. Folders older than ``max_age_s`` are removed on the way."""
    models = static_dir / "models"
    models.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in models.iterdir():
        try:
            if now - old.stat().st_mtime > max_age_s:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            continue
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
