"""Netron's web UI served from our own origin, patched for unattended, offline use.

The ``netron`` wheel ships its whole browser UI. Served as is it has three traps (measured in
Netron 9.3): it sends analytics events; without a ``consent`` cookie it asks a third-party
service for the visitor's country and shows a blocking consent dialog; and once its build date
is 180 days old it loops on "Please update to the newest version". The copy made here drops the
``date`` meta tag, sets the ``version`` meta tag to ``0.0.0`` (which turns telemetry off), and
sets the consent cookie from a small script *file* (its page policy forbids inline scripts), so
the viewer makes no request outside the app's origin.

Models are published under ``<static>/models/<random key>/`` — whoever can reach the port can
fetch static files, so keys are unguessable and old folders are removed.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
from pathlib import Path

import netron

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
    marker = f"{getattr(netron, '__version__', '')}:{src}"
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


def publish(
    static_dir: Path,
    name: str,
    data: bytes,
    companions: dict[str, bytes],
    max_age_s: float = 6 * 3600,
) -> str:
    """Write a model (and its data files) under an unguessable key; return the key.

    Folders older than ``max_age_s`` are removed on the way."""
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
    safe = Path(name).name or "model.onnx"
    (folder / safe).write_bytes(data)
    for cname, cdata in companions.items():  # names were normalised by the companion gate
        dest = folder / cname
        if folder not in dest.resolve().parents:
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(cdata)
    return key
