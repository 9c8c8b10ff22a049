"""Which execution providers exist here — and which of them really work.

Three sources: EPs compiled into the installed onnxruntime wheel, plugin EPs installed as
Python packages (``onnxruntime-ep-*``, e.g. ``onnxruntime-ep-openvino``, which must be registered
with ``register_execution_provider_library`` and selected with ``add_provider_for_devices``),
and EPs the user asks for that are not usable here, with the reason. Discovery itself runs in a
child process, because loading an EP library can crash.
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata

from inspector.records import Record
from inspector.run.sandbox import minimal_env

KNOWN_EPS = (
    "CUDAExecutionProvider",
    "TensorrtExecutionProvider",
    "OpenVINOExecutionProvider",
    "DmlExecutionProvider",
    "CoreMLExecutionProvider",
    "ROCMExecutionProvider",
    "QNNExecutionProvider",
    "XnnpackExecutionProvider",
)


@dataclass(frozen=True)
class EpInfo(Record):
    name: str
    source: str  # "built-in", "plugin", "not installed"
    usable: bool
    reason: str  # why not usable, or what it is
    devices: tuple[str, ...] = ()
    package: str = ""


@lru_cache(maxsize=1)
def plugin_packages() -> tuple[tuple[str, str, str], ...]:
    """(distribution, module, ep name) of installed ``onnxruntime-ep-*`` plugin packages."""
    found = []
    for dist in metadata.distributions():
        name = (dist.metadata.get("Name") or "").lower().replace("_", "-")
        if not re.fullmatch(r"onnxruntime-ep-[a-z0-9-]+", name):
            continue
        module = name.replace("-", "_")
        try:
            mod = importlib.import_module(module)
            found.append((name, module, mod.get_ep_name()))
        except Exception:  # a broken plugin package is reported by discover()
            found.append((name, module, ""))
    return tuple(sorted(found))


def plugin_libraries() -> list[list[str]]:
    """[[ep name, library path], ...] for the workers to register."""
    out = []
    for _, module, ep in plugin_packages():
        if not ep:
            continue
        try:
            out.append([ep, importlib.import_module(module).get_library_path()])
        except Exception:
            continue
    return out


_PROBE = r"""
import json, sys
import onnxruntime as ort
plugins = json.loads(sys.argv[1])
out = {"available": ort.get_available_providers(), "plugins": {}, "version": ort.__version__}
for name, path in plugins:
    try:
        ort.register_execution_provider_library(name, path)
        devs = [d for d in ort.get_ep_devices() if d.ep_name == name]
        out["plugins"][name] = {"ok": bool(devs), "devices": [
            f"{d.ep_vendor} {str(d.device.type).split('.')[-1]} "
            f"{d.ep_metadata.get('FULL_DEVICE_NAME', d.ep_metadata.get('ov_device', ''))}".strip()
            for d in devs], "error": "" if devs else "no device"}
    except Exception as exc:
        out["plugins"][name] = {"ok": False, "devices": [], "error": str(exc)[:300]}
print(json.dumps(out))
"""


@lru_cache(maxsize=1)
def discover() -> tuple[EpInfo, ...]:
    """Every EP this machine can (or cannot) use, probed in a child process."""
    plugins = plugin_libraries()
    try:
        with tempfile.TemporaryDirectory(prefix="inspector-probe-") as home:
            proc = subprocess.run(
                [sys.executable, "-I", "-c", _PROBE, json.dumps(plugins)],
                capture_output=True,
                text=True,
                timeout=120,
                cwd=home,
                env=minimal_env(home),
            )
        probe = json.loads(proc.stdout.strip().splitlines()[-1])
    except Exception as exc:
        return (
            EpInfo(
                "CPUExecutionProvider", "built-in", False, f"onnxruntime could not be probed: {exc}"
            ),
        )
    infos = []
    plugin_names = {ep for ep, _ in plugins}
    for name in probe["available"]:
        if name in plugin_names or "." in name:
            continue
        reason = "compiled into this onnxruntime build"
        if name == "AzureExecutionProvider":
            reason = "compiled in; runs remote endpoints, not local nodes"
        infos.append(EpInfo(name, "built-in", name != "AzureExecutionProvider", reason))
    for dist, _, ep in plugin_packages():
        info = probe["plugins"].get(ep, {"ok": False, "devices": [], "error": "not importable"})
        infos.append(
            EpInfo(
                ep or dist,
                "plugin",
                info["ok"],
                "plugin EP library registered" if info["ok"] else info["error"],
                tuple(info["devices"]),
                dist,
            )
        )
    have = {i.name for i in infos}
    for name in KNOWN_EPS:
        if name not in have:
            hint = {
                "OpenVINOExecutionProvider": "pip install onnxruntime-ep-openvino",
                "CUDAExecutionProvider": "needs the onnxruntime-gpu wheel and CUDA libraries",
                "TensorrtExecutionProvider": "needs onnxruntime-gpu with TensorRT",
            }.get(name, "not in this onnxruntime build")
            infos.append(
                EpInfo(
                    name,
                    "not installed",
                    False,
                    f"not in this build: requesting it runs on CPU silently ({hint})",
                )
            )
    return tuple(infos)
