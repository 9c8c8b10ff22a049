"""Will ONNX Runtime load this model? A verdict for the installed ORT and every release since 1.16.

Decided from the model's stamps (IR version, opset imports) and op/domain usage alone —
onnxruntime is not imported here (the inspection core stays runtime-free; the run lab is
where the model meets ORT). The per-release limits below were measured by loading probe models
into each release (see docs/compat.md for how).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import metadata
from typing import Literal

import onnx
from packaging.version import InvalidVersion, Version

from inspector.model.dtypes import MIN_IR, dtype_name
from inspector.model.load import LoadedModel
from inspector.model.overview import domain_label
from inspector.model.walk import walk
from inspector.records import Record

#: What the version stamps say about one release: loads, only with the env variable, or not.
StampVerdict = Literal["yes", "with_env", "no"]


@dataclass(frozen=True)
class OrtRelease:
    version: str
    max_ir: int
    max_opset: int  # ai.onnx
    max_opset_with_env: int  # ai.onnx with ALLOW_RELEASED_ONNX_OPSET_ONLY=0
    max_ml_opset: int


# Measured with a Relu probe model (IR 3–20, ai.onnx 7–40, ai.onnx.ml 1–15) on each release.
ORT_RELEASES: tuple[OrtRelease, ...] = (
    OrtRelease("1.16.3", 9, 19, 19, 3),
    OrtRelease("1.17.3", 9, 20, 20, 4),
    OrtRelease("1.18.1", 10, 21, 21, 5),
    OrtRelease("1.19.2", 10, 21, 21, 5),
    OrtRelease("1.20.1", 10, 21, 21, 5),
    OrtRelease("1.21.1", 10, 22, 22, 5),
    OrtRelease("1.22.1", 10, 22, 22, 5),
    OrtRelease("1.23.2", 11, 23, 23, 5),
    OrtRelease("1.24.4", 13, 25, 25, 5),
    OrtRelease("1.25.1", 13, 26, 26, 5),
    OrtRelease("1.26.0", 13, 26, 26, 5),
    OrtRelease("1.27.0", 13, 26, 26, 5),
    OrtRelease("1.28.0", 13, 26, 27, 5),
    OrtRelease("1.29.0", 13, 26, 27, 5),
    OrtRelease("1.30.0", 13, 26, 27, 5),
    OrtRelease("1.31.1", 13, 26, 27, 5),
    OrtRelease("1.32.0", 14, 28, 28, 5),
)

#: Operator domains ONNX Runtime implements itself (others need a custom-op library).
ORT_DOMAINS = {
    "",
    "ai.onnx",
    "ai.onnx.ml",
    "com.microsoft",
    "com.microsoft.nchwc",
    "com.microsoft.experimental",
    "ai.onnx.training",
    "ai.onnx.preview.training",
    "com.ms.internal.nhwc",
    "org.pytorch.aten",
}
ORT_DISTRIBUTIONS = (
    "onnxruntime",
    "onnxruntime-gpu",
    "onnxruntime-openvino",
    "onnxruntime-directml",
    "onnxruntime-qnn",
    "onnxruntime-silicon",
)


@dataclass(frozen=True)
class ReleaseRow(Record):
    version: str
    loads: StampVerdict  # "with_env": needs ALLOW_RELEASED_ONNX_OPSET_ONLY=0
    reasons: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class OpProblem(Record):
    domain: str
    op_type: str
    nodes: int
    problem: str


@dataclass(frozen=True, kw_only=True)
class Suggestion(Record):
    action: str  # "lower_ir", "convert_opset", "upgrade_ort", "custom_ops"
    text: str
    tried: bool  # True when the fix was attempted here (version conversion)
    works: bool | None


@dataclass(frozen=True, kw_only=True)
class CompatVerdict(Record):
    ir_version: int
    opsets: tuple[tuple[str, int], ...]
    installed_ort: str  # "" when no onnxruntime distribution is installed
    installed_limits_assumed: bool  # installed ORT newer than the table: newest row assumed
    installed_loads: StampVerdict | Literal["unknown"]
    installed_reasons: tuple[str, ...]
    releases: tuple[ReleaseRow, ...]
    newest_onnx: tuple[str, int, int]  # (onnx release, IR, ai.onnx opset) known to this onnx
    min_ir_required: int  # by the features the model uses
    flags: tuple[str, ...]  # stamps newer than any released ONNX, under development, ...
    custom_domains: tuple[str, ...]
    op_problems: tuple[OpProblem, ...]
    suggestions: tuple[Suggestion, ...]


def installed_ort_version() -> str:
    for dist in ORT_DISTRIBUTIONS:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return ""


def _vkey(version: str) -> tuple[int, ...]:
    """(major, minor, micro) by PEP 440 (local and dev parts ignored; unparsable: digits)."""
    try:
        return Version(version).release[:3]
    except InvalidVersion:
        return tuple(int(x) for x in re.findall(r"\d+", version)[:3])


def limits_for(version: str) -> tuple[OrtRelease | None, bool]:
    """The table row for an ORT version (same minor), and whether it is assumed (newer)."""
    if not version:
        return None, False
    key = _vkey(version)[:2]
    for row in ORT_RELEASES:
        if _vkey(row.version)[:2] == key:
            return row, False
    if key > _vkey(ORT_RELEASES[-1].version)[:2]:
        return ORT_RELEASES[-1], True
    return None, False


def _opset(model: onnx.ModelProto, domain: str) -> int | None:
    for o in model.opset_import:
        if (o.domain or "") == domain or (domain == "" and o.domain == "ai.onnx"):
            return o.version
    return None


def _judge(
    release: OrtRelease, ir: int, opset: int | None, ml: int | None, no_opsets: bool = False
) -> ReleaseRow:
    reasons = []
    loads: StampVerdict = "yes"
    if ir < 3:
        reasons.append(f"IR version {ir} < 3: ONNX Runtime reads IR 3 and later")
        loads = "no"
    if no_opsets:
        reasons.append("no opset imports: operators cannot be resolved")
        loads = "no"
    if ir > release.max_ir:
        reasons.append(f"IR version {ir} > {release.max_ir}")
        loads = "no"
    if opset is not None and opset > release.max_opset:
        if opset <= release.max_opset_with_env and loads == "yes":
            reasons.append(
                f"ai.onnx opset {opset} > {release.max_opset}: loads only with "
                "ALLOW_RELEASED_ONNX_OPSET_ONLY=0"
            )
            loads = "with_env"
        else:
            reasons.append(f"ai.onnx opset {opset} > {release.max_opset}")
            loads = "no"
    if ml is not None and ml > release.max_ml_opset:
        reasons.append(f"ai.onnx.ml opset {ml} > {release.max_ml_opset}")
        loads = "no"
    return ReleaseRow(release.version, loads, tuple(reasons))


def required_ir(model: onnx.ModelProto) -> tuple[int, list[str]]:
    """Lowest IR version whose features cover what the model uses, with the reasons."""
    need = 3
    why: list[str] = []

    def bump(ir: int, reason: str) -> None:
        nonlocal need
        if ir > need:
            need = ir
        if ir > 3 and reason not in why:
            why.append(reason)

    def types(tp: onnx.TypeProto) -> None:
        which = tp.WhichOneof("value")
        if which in ("tensor_type", "sparse_tensor_type"):
            name = dtype_name(getattr(tp, which).elem_type)
            if name in MIN_IR:
                bump(MIN_IR[name], f"{name} (IR {MIN_IR[name]})")
            if which == "sparse_tensor_type":
                bump(8, "sparse tensor types (IR 8)")
        elif which == "sequence_type":
            types(tp.sequence_type.elem_type)
        elif which == "optional_type":
            bump(8, "optional types (IR 8)")
            types(tp.optional_type.elem_type)
        elif which == "map_type":
            types(tp.map_type.value_type)

    from inspector.model.walk import iter_tensors

    for t in iter_tensors(model):
        name = dtype_name(t.data_type)
        if name in MIN_IR:
            bump(MIN_IR[name], f"{name} (IR {MIN_IR[name]})")
    for scope in walk(model).scopes:
        g = scope.graph
        if g is not None:
            for vi in (*g.input, *g.output, *g.value_info):
                types(vi.type)
            if g.sparse_initializer:
                bump(6, "sparse initializers (IR 6)")
            if len(g.metadata_props) if hasattr(g, "metadata_props") else 0:
                bump(10, "graph metadata_props (IR 10)")
        for node in scope.nodes:
            if node.op_type in ("Cast", "CastLike", "EyeLike", "RandomNormal", "RandomUniform"):
                for a in node.attribute:
                    if a.name in ("to", "dtype"):
                        n = dtype_name(a.i)
                        if n in MIN_IR:
                            bump(MIN_IR[n], f"{n} (IR {MIN_IR[n]})")
            if getattr(node, "metadata_props", None):
                bump(10, "node metadata_props (IR 10)")
            if getattr(node, "overload", ""):
                bump(10, "function overloads (IR 10)")
    if model.training_info:
        bump(7, "training_info (IR 7)")
    if model.functions:
        bump(8, "model-local functions (IR 8)")
        if any(f.attribute_proto for f in model.functions):
            bump(9, "function attribute defaults (IR 9)")
    return need, why


def _ops(model: onnx.ModelProto) -> tuple[list[OpProblem], list[str]]:
    local = {(f.domain, f.name) for f in model.functions}
    counts: dict[tuple[str, str], int] = {}
    for scope in walk(model).scopes:
        for node in scope.nodes:
            key = (node.domain if node.domain != "ai.onnx" else "", node.op_type)
            counts[key] = counts.get(key, 0) + 1
    problems = []
    custom = set()
    for (domain, op), n in sorted(counts.items()):
        if (domain, op) in local:
            continue
        if domain not in ("", "ai.onnx.ml"):
            if domain not in ORT_DOMAINS:
                custom.add(domain)
            continue
        version = _opset(model, domain)
        if version is None:
            problems.append(
                OpProblem(
                    domain=domain_label(domain),
                    op_type=op,
                    nodes=n,
                    problem=f"domain {domain_label(domain)} is not imported",
                )
            )
            continue
        if not onnx.defs.has(op, domain):
            problems.append(
                OpProblem(
                    domain=domain_label(domain),
                    op_type=op,
                    nodes=n,
                    problem="not an operator of this domain in the ONNX schema registry",
                )
            )
            continue
        if not 0 < version < 2**31:
            problems.append(
                OpProblem(
                    domain=domain_label(domain),
                    op_type=op,
                    nodes=n,
                    problem=f"opset version {version} is not a valid version",
                )
            )
            continue
        try:
            onnx.defs.get_schema(op, version, domain)
        except (onnx.defs.SchemaError, TypeError, OverflowError):
            since = min(
                s.since_version
                for s in onnx.defs.get_all_schemas_with_history()
                if s.name == op and s.domain == domain
            )
            problems.append(
                OpProblem(
                    domain=domain_label(domain),
                    op_type=op,
                    nodes=n,
                    problem=f"needs opset {since} or later; the model imports {version}",
                )
            )
    for o in model.opset_import:
        if o.domain not in ORT_DOMAINS and not any(f.domain == o.domain for f in model.functions):
            if any(d == o.domain for d, _ in counts):
                custom.add(o.domain)
    return problems, sorted(custom)


def try_convert(model: LoadedModel, target: int) -> tuple[bool, str]:
    """Try ``onnx.version_converter`` to ``target`` on a payload-free copy, in a limited child
    process (:mod:`inspector.model.native`); (ok, detail)."""
    from inspector.model.native import analyse

    result = analyse(model.skeleton, model.limits, infer=False, check=False, convert=target)
    assert result.converted is not None
    return result.converted


def build_compat(model: LoadedModel, ort_version: str | None = None) -> CompatVerdict:
    """The compatibility verdict. ``ort_version`` overrides the detected installed version."""
    proto = model.proto
    ir = proto.ir_version
    opset = _opset(proto, "")
    ml = _opset(proto, "ai.onnx.ml")
    no_opsets = not proto.opset_import
    releases = tuple(_judge(r, ir, opset, ml, no_opsets) for r in ORT_RELEASES)

    installed = installed_ort_version() if ort_version is None else ort_version
    limits, assumed = limits_for(installed)
    reasons: tuple[str, ...]
    loads: StampVerdict | Literal["unknown"]
    if limits is None:
        loads, reasons = (
            "unknown",
            (
                ("onnxruntime is not installed",)
                if not installed
                else (f"onnxruntime {installed} is older than the releases measured (1.16+)",)
            ),
        )
    else:
        row = _judge(limits, ir, opset, ml, no_opsets)
        loads, reasons = row.loads, row.reasons

    newest = max(onnx.helper.VERSION_TABLE, key=lambda r: (r[1], r[2]))
    newest_onnx = (newest[0], newest[1], newest[2])
    newest_ml = max(r[3] for r in onnx.helper.VERSION_TABLE)
    flags = []
    if ir > newest_onnx[1]:
        flags.append(
            f"IR version {ir} is newer than any ONNX release this onnx knows "
            f"(newest: IR {newest_onnx[1]}, onnx {newest_onnx[0]})"
        )
    if opset is not None and opset > newest_onnx[2]:
        flags.append(
            f"ai.onnx opset {opset} is newer than any released ONNX "
            f"(newest: {newest_onnx[2]}, onnx {newest_onnx[0]})"
        )
    if ml is not None and ml > newest_ml:
        flags.append(f"ai.onnx.ml opset {ml} is newer than any released ONNX (newest: {newest_ml})")
    if limits is not None and opset is not None and opset > limits.max_opset:
        flags.append(
            f"ai.onnx opset {opset} is 'under development' for onnxruntime {installed} "
            f"(it supports up to {limits.max_opset})"
        )
    if limits is not None and ir > limits.max_ir:
        flags.append(
            f"IR version {ir} is too new for onnxruntime {installed} (max {limits.max_ir})"
        )

    need_ir, why = required_ir(proto)
    problems, custom = _ops(proto)
    suggestions: list[Suggestion] = []
    target_ir = limits.max_ir if limits else ORT_RELEASES[-1].max_ir
    if ir > target_ir:
        if need_ir <= target_ir:
            uses = f"it uses no feature newer than IR {need_ir}" + (
                f" ({', '.join(why)})" if why else ""
            )
            suggestions.append(
                Suggestion(
                    action="lower_ir",
                    text=f"Set ir_version to {target_ir} (safe: {uses}): "
                    f"`model.ir_version = {target_ir}` then save.",
                    tried=False,
                    works=None,
                )
            )
        else:
            suggestions.append(
                Suggestion(
                    action="lower_ir",
                    text=f"Lowering the IR stamp is not safe: the model needs IR {need_ir} "
                    f"({', '.join(why)}).",
                    tried=False,
                    works=False,
                )
            )
    target_opset = limits.max_opset if limits else None
    if opset is not None and target_opset is not None and opset > target_opset:
        ok, detail = try_convert(model, target_opset)
        suggestions.append(
            Suggestion(
                action="convert_opset",
                text=f"Convert to ai.onnx opset {target_opset} with "
                "onnx.version_converter.convert_version"
                f"(model, {target_opset}): tried here — {detail}.",
                tried=True,
                works=ok,
            )
        )
    if loads != "yes":
        first = next((r.version for r in releases if r.loads == "yes"), None)
        if first and (not installed or _vkey(first) > _vkey(installed)):
            suggestions.append(
                Suggestion(
                    action="upgrade_ort",
                    text=f"Upgrade onnxruntime to {first} or later (the first measured "
                    "release that loads these stamps).",
                    tried=False,
                    works=None,
                )
            )
        elif not first:
            fixes = (
                " and ".join(
                    x
                    for x, bad in (
                        ("lower the IR version", ir > ORT_RELEASES[-1].max_ir),
                        (
                            "convert the opset",
                            (opset or 0) > ORT_RELEASES[-1].max_opset_with_env
                            or (ml or 0) > ORT_RELEASES[-1].max_ml_opset,
                        ),
                    )
                    if bad
                )
                or "re-export the model"
            )
            suggestions.append(
                Suggestion(
                    action="upgrade_ort",
                    text=f"No measured onnxruntime release loads these stamps; {fixes} instead.",
                    tried=False,
                    works=False,
                )
            )
    if custom:
        suggestions.append(
            Suggestion(
                action="custom_ops",
                text=f"Domains {', '.join(custom)} are not implemented by ONNX Runtime: "
                "register the custom-op library that implements them "
                "(SessionOptions.register_custom_ops_library) where you run the model.",
                tried=False,
                works=None,
            )
        )

    return CompatVerdict(
        ir_version=ir,
        opsets=tuple((domain_label(o.domain), o.version) for o in proto.opset_import),
        installed_ort=installed,
        installed_limits_assumed=assumed,
        installed_loads=loads,
        installed_reasons=tuple(reasons),
        releases=releases,
        newest_onnx=newest_onnx,
        min_ir_required=need_ir,
        flags=tuple(flags),
        custom_domains=tuple(custom),
        op_problems=tuple(problems),
        suggestions=tuple(suggestions),
    )
