"""Which execution providers exist here — and which of them really work.

Four sources: EPs compiled into the installed onnxruntime wheel; plugin EPs installed as Python
packages (``onnxruntime-ep-*`` such as OpenVINO's, ``onnxruntime-ggml``, ``nxrt-ep-*``), which
are registered with ``register_execution_provider_library`` and selected with
``add_provider_for_devices``; plugin libraries the operator names (``--ep-library NAME=PATH`` on
the CLI, ``INSPECTOR_EP_LIBRARIES`` for the app); and EPs a user may ask for that are not usable
here, each with the precise reason. Discovery runs in a child process: loading an EP library
can crash.

Installed is not usable: the OpenVINO plugin registers on an AMD CPU but lists no device, so
every answer here comes from what the probe saw, never from what pip installed.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from inspector.errors import InspectorError
from inspector.isolation.spawn import spawn
from inspector.records import Record

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
class PluginPackage:
    """A pip-installable plugin EP: its distribution, EP name and where its library lives."""

    dist: str
    ep: str
    library: str  # glob inside the distribution's files
    hint: str  # what it needs / how to get it


#: Plugin packages known by name. ``onnxruntime-ep-*`` packages not listed are found by their
#: ``get_ep_name()``/``get_library_path()`` functions.
KNOWN_PLUGINS = (
    PluginPackage(
        "onnxruntime-ggml",
        "ggml",
        "onnxruntime_ggml/lib/*onnxruntime_ggml*",
        "any x86-64 or Arm CPU (AMD and Intel); takes the nodes it supports with partial=1",
    ),
    PluginPackage(
        "onnxruntime-ep-openvino",
        "OpenVINOExecutionProvider",
        "onnxruntime_ep_openvino/**/*onnxruntime_providers_openvino_plugin*",
        "Intel CPUs, GPUs and NPUs only",
    ),
    PluginPackage(
        "nxrt-ep-cpu",
        "cpu_ep",
        "nxrt_ep_cpu/*onnx_runtime_ep_cpu_plugin*",
        "a CPU plugin EP (pre-release: pip install --pre nxrt-ep-cpu)",
    ),
)
_PLUGIN_DIST = re.compile(r"(onnxruntime-ep-[a-z0-9-]+|nxrt-ep-[a-z0-9-]+|onnxruntime-ggml)")

#: The operator's own plugin libraries: ``NAME=PATH`` pairs separated by ``;`` (the app never
#: takes a library path from the browser: loading a library runs its code).
LIBRARIES_ENV = "INSPECTOR_EP_LIBRARIES"
_EXTRA: dict[str, str] = {}


@dataclass(frozen=True, kw_only=True)
class EpInfo(Record):
    name: str
    source: str  # "built-in", "plugin", "library", "not installed"
    usable: bool
    reason: str  # why not usable, or what it is
    devices: tuple[str, ...] = ()
    package: str = ""  # distribution and version, or the library path


class EpLibraryError(InspectorError):
    """A plugin EP library given by name and path is unusable."""

    kind = "config"


def add_library(ep: str, path: str) -> None:
    """Make a plugin EP library available to discovery and to every later run."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]{0,63}", ep):
        raise EpLibraryError(f"{ep!r} is not an execution provider name.")
    p = Path(path).expanduser()
    if not p.is_file():
        raise EpLibraryError(f"EP library {str(p)!r} for {ep} does not exist or is not a file.")
    _EXTRA[ep] = str(p.resolve())
    discover.cache_clear()


def _env_libraries() -> dict[str, str]:
    out = {}
    for item in os.environ.get(LIBRARIES_ENV, "").split(";"):
        name, sep, path = item.partition("=")
        if sep and name.strip() and Path(path.strip()).is_file():
            out[name.strip()] = str(Path(path.strip()).resolve())
    return out


def _library_from_files(dist: metadata.Distribution, pattern: str) -> str:
    """The shared library a package ships, found in its file list (without importing it:
    some plugin modules import onnxruntime, which only workers may do)."""
    for f in dist.files or ():
        name = str(f)
        if fnmatch.fnmatch(name, pattern) and name.endswith((".so", ".dylib", ".dll")):
            return str(dist.locate_file(f))
    return ""


def _library_from_module(dist_name: str) -> tuple[str, str]:
    """(ep name, library path) from an ``onnxruntime-ep-*`` module's own functions."""
    import importlib

    mod = importlib.import_module(dist_name.replace("-", "_"))
    return mod.get_ep_name(), mod.get_library_path()


@lru_cache(maxsize=1)
def plugin_packages() -> tuple[tuple[str, str, str, str], ...]:
    """(distribution, version, ep name, library path) of installed plugin EP packages; the
    path is "" when the package is broken (discover() says so)."""
    known = {k.dist: k for k in KNOWN_PLUGINS}
    found = {}
    for dist in metadata.distributions():
        # The name from the install folder's name where the finder gives it: reading every
        # package's METADATA to find the two plugins cost ~0.05–0.09 s of every CLI run.
        folder = getattr(dist, "_normalized_name", None)
        if isinstance(folder, str) and not _PLUGIN_DIST.fullmatch(folder.replace("_", "-")):
            continue
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if not _PLUGIN_DIST.fullmatch(name) or name in found:
            continue
        spec = known.get(name)
        ep, lib = (spec.ep, "") if spec else ("", "")
        try:
            if spec:
                lib = _library_from_files(dist, spec.library)
            if not lib and name.startswith("onnxruntime-ep-"):
                ep, lib = _library_from_module(name)
        except Exception:  # a broken plugin package is reported by discover()
            pass
        found[name] = (name, dist.version, ep or name, lib)
    return tuple(sorted(found.values()))


def plugin_libraries() -> list[list[str]]:
    """[[ep name, library path], ...] for the workers to register (packages, then the
    operator's libraries, which win on a name clash)."""
    libs = {ep: lib for _, _, ep, lib in plugin_packages() if lib}
    libs.update(_env_libraries())
    libs.update(_EXTRA)
    return [[ep, lib] for ep, lib in libs.items()]


def cpu_name() -> str:
    """The CPU model, as the kernel reports it ("AMD EPYC 7B13", "Intel(R) Xeon(R) …")."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "Model", "Hardware")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def _device_name(device: Any) -> str:
    """An ``OrtEpDevice`` in words: its EP's vendor, the device type, the device's full name
    where the EP gives one."""
    meta = device.ep_metadata
    full = meta.get("FULL_DEVICE_NAME", meta.get("ov_device", ""))
    return f"{device.ep_vendor} {str(device.device.type).split('.')[-1]} {full}".strip()


#: The discovery child's entry (:func:`probe`), started by :mod:`inspector.isolation.spawn`.
PROBE = ("inspector.run.setup.eps", "probe")


def probe(plugins: list[list[str]]) -> None:
    """In the discovery child: print, as one JSON line, the EPs compiled into onnxruntime and,
    for each plugin library ``[name, path]``, whether it registers and which devices it lists.
    A library that crashes takes only this child down."""
    import onnxruntime as ort

    found: dict[str, dict[str, Any]] = {}
    for name, path in plugins:
        before = {d.ep_name for d in ort.get_ep_devices()}
        try:
            ort.register_execution_provider_library(name, path)
        except Exception as exc:  # whatever the library's loader raises is its reason
            found[name] = {
                "registered": False,
                "devices": [],
                "others": [],
                "error": str(exc).strip().splitlines()[0][:300],
            }
            continue
        devices = [d for d in ort.get_ep_devices() if d.ep_name == name]
        others = sorted({d.ep_name for d in ort.get_ep_devices()} - before - {name})
        found[name] = {
            "registered": True,
            "others": others,
            "error": "",
            "devices": [_device_name(d) for d in devices],
        }
    hardware = sorted(
        {(str(d.device.type).split(".")[-1], d.device.vendor, d.device.vendor_id)
         for d in ort.get_ep_devices()}
    )  # fmt: skip
    out = {
        "available": ort.get_available_providers(),
        "plugins": found,
        "version": ort.__version__,
        "hardware": [list(h) for h in hardware],
    }
    print(json.dumps(out))


#: Plugin EPs whose factory offers only devices of one vendor, as ONNX Runtime reports the
#: device's PCI vendor id: OpenVINO's plugin skips every hardware device whose id is not Intel's
#: (its factory's GetSupportedDevices), although OpenVINO's own runtime computes on AMD CPUs —
#: measured 2026-12-06: ``openvino`` 2026.4.1 lists "CPU" on an AMD EPYC.
VENDOR_BOUND = {"OpenVINOExecutionProvider": (0x8086, "Intel")}


def _no_device(name: str, package: str, hardware: list[list[Any]]) -> str:
    """Why a registered plugin lists no device: for a vendor-bound plugin, the vendor it needs
    against the devices ONNX Runtime sees; else the CPU's name."""
    plain = f"installed ({package}), but lists no device on this CPU: {cpu_name()}"
    bound = VENDOR_BOUND.get(name)
    if bound is None or not hardware or any(vid == bound[0] for *_, vid in hardware):
        return plain  # not vendor-bound, or a device of its vendor is there: no reason known
    vendor_id, vendor = bound
    seen = ", ".join(f"{kind} by {who or '?'} ({vid:#06x})" for kind, who, vid in hardware)
    return (
        f"{plain} — the plugin offers only {vendor} devices (vendor id {vendor_id:#06x}) "
        f"and ONNX Runtime sees {seen}"
    )


def _plugin_reason(
    name: str, package: str, info: dict, hardware: list[list[Any]] | None = None
) -> tuple[bool, str]:
    if not info.get("registered"):
        error = info.get("error") or "the probe did not reach it"
        return False, f"installed ({package}), but its library does not load: {error}"
    if info["devices"]:
        return True, "plugin EP: registered, with a device"
    if info.get("others"):
        return False, (
            f"installed ({package}); its library registers {', '.join(info['others'])}, not {name}"
        )
    return False, _no_device(name, package, hardware or [])


@lru_cache(maxsize=1)
def discover() -> tuple[EpInfo, ...]:
    """Every EP this machine can (or cannot) use, probed in a child process."""
    plugins = plugin_libraries()
    try:
        with tempfile.TemporaryDirectory(prefix="inspector-probe-") as home:
            proc = spawn(
                *PROBE,
                plugins,
                home=home,
                cwd=home,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            try:
                stdout, _ = proc.communicate(timeout=120)
            finally:
                if proc.poll() is None:  # timed out (or interrupted): no child left behind
                    proc.kill()
                    proc.wait()
        seen = json.loads(stdout.decode().strip().splitlines()[-1])
    except Exception as exc:
        return (
            EpInfo(
                name="CPUExecutionProvider",
                source="built-in",
                usable=False,
                reason=f"onnxruntime could not be probed: {exc}",
            ),
        )
    infos = []
    plugin_names = {ep for ep, _ in plugins}
    for name in seen["available"]:
        if name in plugin_names or "." in name:
            continue
        reason = "compiled into this onnxruntime build"
        if name == "AzureExecutionProvider":
            reason = "compiled in; runs remote endpoints, not local nodes"
        infos.append(
            EpInfo(
                name=name, source="built-in", usable=name != "AzureExecutionProvider", reason=reason
            )
        )
    by_ep = {ep: (dist, version) for dist, version, ep, _ in plugin_packages()}
    libraries = dict(plugins)
    for dist, version, ep, lib in plugin_packages():
        if not lib:
            infos.append(
                EpInfo(
                    name=ep,
                    source="plugin",
                    usable=False,
                    reason=(
                        f"installed ({dist} {version}), but its library was not found in "
                        "the package"
                    ),
                    devices=(),
                    package=f"{dist} {version}",
                )
            )
    operator = _env_libraries() | _EXTRA
    for ep, lib in libraries.items():
        info = seen["plugins"].get(ep, {})
        if ep in operator or ep not in by_ep:
            source, package = "library", lib
        else:
            source, package = "plugin", " ".join(by_ep[ep])
        usable, reason = _plugin_reason(ep, package, info, seen.get("hardware"))
        infos.append(
            EpInfo(
                name=ep,
                source=source,
                usable=usable,
                reason=reason,
                devices=tuple(info.get("devices", ())),
                package=package,
            )
        )
    have = {i.name for i in infos}
    hints = {k.ep: k for k in KNOWN_PLUGINS}
    for name in (*KNOWN_EPS, *(k.ep for k in KNOWN_PLUGINS)):
        if name in have:
            continue
        if name in hints:
            spec = hints[name]
            reason = f"not installed: pip install {spec.dist} ({spec.hint})"
        else:
            hint = {
                "CUDAExecutionProvider": "needs the onnxruntime-gpu wheel and CUDA libraries",
                "TensorrtExecutionProvider": "needs onnxruntime-gpu with TensorRT",
            }.get(name, "no installed package provides it")
            reason = f"not in this build: requesting it runs on CPU silently ({hint})"
        infos.append(EpInfo(name=name, source="not installed", usable=False, reason=reason))
        have.add(name)
    return tuple(infos)


#: Which usable second EP the fallback demo prefers: vendor EPs with a device first, then the
#: portable ggml plugin, then any other plugin or compiled-in EP.
DEMO_PREFERENCE = ("OpenVINOExecutionProvider", "ggml")


def second_eps() -> list[EpInfo]:
    """Usable EPs other than CPU (and Azure), the demo's preferred one first."""
    usable = [
        e
        for e in discover()
        if e.usable and e.name not in ("CPUExecutionProvider", "AzureExecutionProvider")
    ]
    rank = {n: i for i, n in enumerate(DEMO_PREFERENCE)}
    return sorted(usable, key=lambda e: rank.get(e.name, len(rank)))
