"""Session bundles: one file holding a model's runs, to re-open anywhere without re-running.

A bundle is a zip with fixed member names — ``manifest.json`` (format, version, the model's
name and SHA-256, the environment the runs were made in, and every result as JSON),
``inputs.npz`` (the exact tensor inputs), ``outputs/<i>.npz`` (each result's saved tensor
outputs; bfloat16/float8/int4… as their codes, typed again from the result's record),
``sequences/<i>.npz`` (its sequence outputs, element ``k`` of output ``j`` as ``<j>_<k>``),
``profiles/<i>.json`` (each raw ORT profile) and, if asked, ``model/<name>`` with its data files.
Analyses made on those runs (first divergence, optimizer ablation) travel in the manifest too.
Reading one is as strict as an upload: no pickle (``allow_pickle=False``), nothing extracted to
disk, unknown members refused, sizes bounded, a version check, and every run configuration goes
through the same allow-lists as a new one (a bundle cannot smuggle a file-writing config key).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import platform
import re
import types
import typing
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from inspector import __version__
from inspector.errors import InspectorError
from inspector.limits import DEFAULT_LIMITS, Limits
from inspector.model.dtypes import codes, typed
from inspector.model.load import LoadedModel
from inspector.records import to_jsonable
from inspector.run.analyses.analysis import AblationRow, Divergence
from inspector.run.readout.results import RunResult
from inspector.run.setup.inputs import load_npz

FORMAT = "onnx-inspector-bundle"
VERSION = 1
_MEMBER = re.compile(
    r"manifest\.json|inputs\.npz|(outputs|sequences)/\d{1,4}\.npz|profiles/\d{1,4}\.json"
    r"|model/[^/\\]{1,255}"
)


class BundleError(InspectorError):
    kind = "bundle"


#: Analyses a bundle can hold, by kind, and the type of their value.
ANALYSES: dict[str, Any] = {"divergence": Divergence, "ablation": tuple[AblationRow, ...]}


@dataclass(frozen=True)
class Analysis:
    """A finished analysis of a bundle's runs. ``about`` names what it was run on, in the
    configurations' labels: "REF → CAND" for a divergence, the candidate's label for an
    ablation (see :func:`about`)."""

    kind: str
    about: str
    value: Any


def about(kind: str, reference: str, candidate: str) -> str:
    """The ``about`` text of an analysis of these configurations (one spelling everywhere)."""
    return f"{reference} → {candidate}" if kind == "divergence" else candidate


@dataclass(frozen=True)
class Bundle:
    model_name: str
    model_sha256: str
    environment: dict[str, str]
    results: tuple[RunResult, ...]
    inputs: dict[str, np.ndarray]
    model_files: dict[str, bytes]  # the model and its data files, when bundled
    created: str
    analyses: tuple[Analysis, ...] = ()
    skipped: tuple[str, ...] = ()  # parts this version cannot read (an analysis of a new kind)
    decoded_bytes: int = 0  # what reading it took: arrays, files, manifest and profiles


def environment() -> dict[str, str]:
    """Versions and machine the runs were made on (shown beside a re-run's)."""
    from importlib import metadata

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return ""

    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            cpu = next(
                (ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu
            )
    except OSError:
        pass
    env = {
        "inspector": __version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "system": platform.system(),
        "cpu": cpu,
        "onnx": version("onnx"),
        "onnxruntime": version("onnxruntime"),
    }
    for dist in ("onnxruntime-ggml", "onnxruntime-ep-openvino", "onnxruntime-gpu"):
        if v := version(dist):
            env[dist] = v
    return env


def _npz(arrays: Mapping[str, Any]) -> bytes:
    buf = io.BytesIO()
    plain = {
        k: (v.astype(np.str_) if v.dtype == object else codes(v))  # .npy keeps no ml_dtypes
        for k, v in arrays.items()
        if isinstance(v, np.ndarray)
    }
    np.savez_compressed(buf, **plain)  # type: ignore[arg-type]  # numpy's stub takes **kwds as bool
    return buf.getvalue()


def write_bundle(
    model: LoadedModel,
    results: Sequence[RunResult],
    inputs: Mapping[str, Any],
    *,
    include_model: bool = False,
    model_bytes: bytes | None = None,
    analyses: Sequence[Analysis] = (),
) -> bytes:
    """The bundle as bytes. ``include_model`` adds the model file (``model_bytes``, else the
    loaded proto serialized) and its companion data files; ``analyses`` are kept beside the
    runs."""
    for a in analyses:
        if a.kind not in ANALYSES:
            raise BundleError(f"unknown analysis kind {a.kind!r}")
    raw = model_bytes if model_bytes is not None else model.proto.SerializeToString()
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "created": __import__("datetime").datetime.now().isoformat(timespec="seconds"),
        "model": {
            "name": model.name,
            "sha256": hashlib.sha256(raw).hexdigest(),
            "bytes": len(raw),
            "included": include_model,
        },
        "environment": environment(),
        "results": [to_jsonable(r) for r in results],
        "analyses": [
            {"kind": a.kind, "about": a.about, "value": to_jsonable(a.value)} for a in analyses
        ],
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("manifest.json", json.dumps(manifest, indent=1))
        z.writestr("inputs.npz", _npz(inputs))
        for i, r in enumerate(results):
            if r.output_arrays():
                z.writestr(f"outputs/{i}.npz", _npz(r.output_arrays()))
            values = r.output_values()
            elements = {
                f"{j}_{k}": v
                for j, o in enumerate(r.outputs)
                if isinstance(values.get(o.name), list)
                for k, v in enumerate(values[o.name])
            }
            if elements:
                z.writestr(f"sequences/{i}.npz", _npz(elements))
            if r.profile_trace():
                z.writestr(f"profiles/{i}.json", r.profile_trace())
        if include_model:
            z.writestr(f"model/{model.name}", raw)
            for name in model.companions.names():
                size = model.companions.size(name)
                if "/" not in name and "\\" not in name and size is not None:
                    z.writestr(f"model/{name}", model.companions.read(name, 0, size))
    return buf.getvalue()


# ------------------------------------------------------------------------------ reading


def from_jsonable(tp: Any, data: Any) -> Any:
    """The inverse of :func:`to_jsonable` for the record types (dataclasses, tuples, optionals,
    literals, "nan"/"inf" floats). Dataclasses are rebuilt through their constructors, so their
    own checks (e.g. RunConfig's allow-lists) run again."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return data
    if origin in (typing.Union, types.UnionType):
        if data is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return from_jsonable(inner[0], data)
    if origin is typing.Literal:
        if data not in args:
            raise BundleError(f"unexpected value {data!r} (expected one of {args})")
        return data
    if origin is tuple:
        if not isinstance(data, list):
            raise BundleError(f"expected a list, got {type(data).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_jsonable(args[0], x) for x in data)
        return tuple(from_jsonable(a, x) for a, x in zip(args, data, strict=True))
    if origin is dict:
        return {str(k): from_jsonable(args[1], v) for k, v in data.items()}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(data, dict):
            raise BundleError(f"expected an object for {tp.__name__}")
        hints = typing.get_type_hints(tp)
        kwargs = {
            f.name: from_jsonable(hints[f.name], data[f.name])
            for f in dataclasses.fields(tp)
            if not f.name.startswith("_") and f.name in data
        }
        return tp(**kwargs)
    if tp is float:
        if isinstance(data, str) and data in ("nan", "inf", "-inf"):
            return float(data)
        if not isinstance(data, (int, float)) or isinstance(data, bool):
            raise BundleError(f"expected a number, got {data!r}")
        return float(data)
    if tp in (int, str, bool):
        if not isinstance(data, tp) or (tp is int and isinstance(data, bool)):
            raise BundleError(f"expected {tp.__name__}, got {data!r}")
        return data
    raise BundleError(f"cannot read a field of type {tp!r}")


#: Deepest nesting of JSON containers read from a manifest (a real one nests about 8 deep).
MAX_MANIFEST_DEPTH = 64


def _json_depth_within(value: Any, limit: int) -> bool:
    """Whether ``value`` nests no deeper than ``limit`` containers (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return True


class _Budget:
    """Decoded bytes of one bundle, against its limit (and the session's quota)."""

    def __init__(self, limit: int, why: str) -> None:
        self.limit, self.why, self.used = limit, why, 0

    def take(self, n: int, what: str) -> None:
        self.used += n
        if self.used > self.limit:
            raise BundleError(
                f"the bundle unpacks to more than {self.limit:,} bytes ({self.why}; reached at "
                f"{what})"
            )


def read_bundle(
    data: bytes, limits: Limits = DEFAULT_LIMITS, quota_bytes: int | None = None
) -> Bundle:
    """A bundle's records, arrays and files (see the module docstring); BundleError says why a
    file is not a usable bundle.

    Every level is bounded before it is decoded: the zip's entry count (from its end record),
    members' declared sizes, the manifest's size and nesting, each ``.npz``'s entries and array
    headers, and the whole (``max_bundle_bytes``, or ``quota_bytes`` — what the session may
    still hold — when that is smaller). An included model must hash to the manifest's SHA-256."""
    from inspector.archives import entry_count, open_zip, read_member

    if quota_bytes is not None and quota_bytes < limits.max_bundle_bytes:
        budget = _Budget(
            max(0, quota_bytes), "what this session may still hold, max_session_upload_bytes"
        )
    else:
        budget = _Budget(limits.max_bundle_bytes, "max_bundle_bytes")
    if entry_count(data) is None:
        raise BundleError("not an ONNX Inspector bundle (not a zip file)")
    z = open_zip(data, "the bundle", limits.max_bundle_members, BundleError, "zip")
    infos = z.infolist()
    names = [i.filename for i in infos]
    if "manifest.json" not in names:
        raise BundleError("not an ONNX Inspector bundle (no manifest.json)")
    bad = [n for n in names if not _MEMBER.fullmatch(n) or ".." in n]
    if bad:
        raise BundleError(f"the bundle holds unexpected members: {', '.join(map(repr, bad[:5]))}")
    if len(set(names)) != len(names):
        raise BundleError("the bundle holds a member twice")
    by_name = {i.filename: i for i in infos}
    declared = sum(i.file_size for i in infos)
    if declared > budget.limit:
        raise BundleError(
            f"the bundle unpacks to {declared:,} bytes (limit {budget.limit:,}, {budget.why})"
        )

    def read(name: str, max_bytes: int) -> bytes:
        info = by_name[name]
        if info.file_size > max_bytes:
            raise BundleError(
                f"member {name!r} unpacks to {info.file_size:,} bytes (limit {max_bytes:,})"
            )
        return read_member(z, info, "the bundle", max_bytes, BundleError)

    raw_manifest = read("manifest.json", limits.max_bundle_manifest_bytes)
    budget.take(len(raw_manifest), "manifest.json")
    try:
        manifest = json.loads(raw_manifest)
    except RecursionError:
        raise BundleError("manifest.json nests too deeply to be a bundle manifest") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleError(f"manifest.json is not valid JSON ({exc})") from None
    del raw_manifest
    if not _json_depth_within(manifest, MAX_MANIFEST_DEPTH):
        raise BundleError(
            f"manifest.json nests deeper than {MAX_MANIFEST_DEPTH} levels: not a bundle manifest"
        )
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError("not an ONNX Inspector bundle (wrong format field)")
    version = manifest.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise BundleError(
            f"the bundle was written by a newer ONNX Inspector (bundle version {version}); "
            f"this one reads version {VERSION} and older"
        )
    model = manifest.get("model") or {}
    if not isinstance(model, dict):
        raise BundleError("the manifest's model entry is not an object")
    model_name, model_sha = str(model.get("name", "")), str(model.get("sha256", ""))
    raw_results = manifest.get("results", [])
    if not isinstance(raw_results, list):
        raise BundleError("the manifest's results are not a list")
    try:
        results = tuple(from_jsonable(RunResult, r) for r in raw_results)
    except (InspectorError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BundleError(f"a result in the bundle cannot be read: {exc}") from None

    # Everything that would be decoded, summed from the directories (the outer zip's, and each
    # .npz's own) before any array or file is: a bomb is refused holding only its packed bytes.
    packed = {n: read(n, budget.limit) for n in names if n.endswith(".npz")}
    unpacked = {
        n: sum(
            i.file_size
            for i in open_zip(
                raw, n, limits.max_bundle_members, BundleError, ".npz (zip)"
            ).infolist()
        )
        for n, raw in packed.items()
    }
    plain = sum(by_name[n].file_size for n in names if not n.endswith(".npz"))
    declared = plain + sum(unpacked.values())
    if declared > budget.limit:
        raise BundleError(
            f"the bundle's files and arrays unpack to {declared:,} bytes (limit "
            f"{budget.limit:,}, {budget.why})"
        )

    def npz(member: str, max_array: int, max_total: int) -> dict[str, np.ndarray]:
        arrays = load_npz(
            packed.pop(member),
            member,
            max_array,
            max_total=max(0, min(max_total, budget.limit - budget.used)),
            max_arrays=limits.max_bundle_members,
        )
        budget.take(sum(a.nbytes for a in arrays.values()), member)
        return arrays

    arrays: list[dict[str, np.ndarray]] = []
    sequences: list[dict[str, tuple[np.ndarray, ...]]] = []
    traces: list[bytes] = []
    for i, r in enumerate(results):
        member = f"outputs/{i}.npz"
        out_cap = limits.max_output_bytes
        found = npz(member, out_cap, out_cap) if member in by_name else {}
        dtypes = {o.name: o.dtype for o in r.outputs}
        arrays.append({k: typed(v, dtypes.get(k, "")) for k, v in found.items()})
        member = f"sequences/{i}.npz"
        elements = npz(member, out_cap, out_cap) if member in by_name else {}
        try:
            sequences.append(
                {
                    o.name: tuple(
                        typed(elements[f"{j}_{k}"], o.dtype) for k in range(len(o.element_shapes))
                    )
                    for j, o in enumerate(r.outputs)
                    if o.kind == "sequence" and o.saved and (o.element_shapes == () or elements)
                }
            )
        except KeyError as exc:
            raise BundleError(f"{member} misses the sequence element {exc}") from None
        trace = f"profiles/{i}.json"
        traces.append(read(trace, budget.limit) if trace in by_name else b"")
        budget.take(len(traces[-1]), trace)
    results = tuple(
        dataclasses.replace(r, _arrays=a, _profile_json=t, _sequences=q)
        for r, a, t, q in zip(results, arrays, traces, sequences, strict=True)
    )
    inputs = (
        npz("inputs.npz", limits.max_input_bytes, 4 * limits.max_input_bytes)
        if "inputs.npz" in by_name
        else {}
    )
    analyses, skipped = _analyses(manifest.get("analyses", []))
    files = {}
    for n in names:
        if n.startswith("model/"):
            files[n.removeprefix("model/")] = read(n, budget.limit)
            budget.take(len(files[n.removeprefix("model/")]), n)
    if model_name in files and hashlib.sha256(files[model_name]).hexdigest() != model_sha:
        raise BundleError(
            f"the bundled {model_name} is not the model its runs were made on (its SHA-256 is "
            f"{hashlib.sha256(files[model_name]).hexdigest()[:12]}…, the manifest says "
            f"{model_sha[:12]}…)"
        )
    env = manifest.get("environment") or {}
    return Bundle(
        model_name=model_name,
        model_sha256=model_sha,
        environment={str(k): str(v) for k, v in env.items()} if isinstance(env, dict) else {},
        results=results,
        inputs=inputs,
        model_files=files,
        created=str(manifest.get("created", "")),
        analyses=analyses,
        skipped=skipped,
        decoded_bytes=budget.used,
    )


def _analyses(items: Any) -> tuple[tuple[Analysis, ...], tuple[str, ...]]:
    """The manifest's analyses; a kind this version does not know is skipped with a note (a
    newer writer may add kinds without raising the version: the runs stay readable)."""
    if not isinstance(items, list):
        raise BundleError("the manifest's analyses are not a list")
    out, skipped = [], []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("about"), str):
            raise BundleError("an analysis in the bundle has no kind or subject")
        kind = item.get("kind")
        if kind not in ANALYSES:
            skipped.append(f"an analysis of kind {str(kind)[:40]!r} (not known to this version)")
            continue
        try:
            value = from_jsonable(ANALYSES[kind], item.get("value"))
        except (InspectorError, KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"the {kind} analysis in the bundle cannot be read: {exc}") from None
        out.append(Analysis(kind, item["about"], value))
    return tuple(out), tuple(skipped)


def model_matches(bundle: Bundle, model_bytes: bytes) -> bool:
    return hashlib.sha256(model_bytes).hexdigest() == bundle.model_sha256


__all__ = [
    "ANALYSES",
    "Analysis",
    "Bundle",
    "BundleError",
    "about",
    "environment",
    "from_jsonable",
    "read_bundle",
    "write_bundle",
]
