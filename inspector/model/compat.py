"""Will ONNX Runtime load this model? A verdict for the installed ORT and every release since 1.16.

Two kinds of evidence, kept apart. The *stamps* (IR version, opset imports) are judged against
per-release limits measured by loading probe models into each release (see docs/compat.md):
fast, and possible for releases that are not installed, but blind to an unregistered custom op
or a kernel that fails for an environment reason (StringNormalizer and a missing locale). The
*session check* (:func:`~inspector.run.execute.loadcheck.check_session`) makes a real session
with the installed onnxruntime in a worker. ``installed_loads`` combines both: ONNX Runtime's
own answer wins whenever a check ran; without one it says "no" only where the stamps or the ops
already prove it, and otherwise "not_checked" — never "yes" on the stamps' word alone.
onnxruntime is not imported here (the inspection core stays runtime-free): the session check's
result is handed in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import metadata
from typing import Literal, Protocol

import onnx
from packaging.version import InvalidVersion, Version

from inspector.model.dtypes import MIN_IR, dtype_name
from inspector.model.load import LoadedModel
from inspector.model.overview import domain_label
from inspector.model.walk import walk
from inspector.records import Record

#: What the version stamps say about one release: supported, only with the env variable, or not.
StampVerdict = Literal["yes", "with_env", "no"]
#: Whether the installed onnxruntime loads the model (stamps, ops and the session check together):
#: "not_checked" where the stamps are fine but no session was created to confirm it.
LoadVerdict = Literal["yes", "with_env", "no", "not_checked", "unknown"]


class SessionOutcome(Protocol):
    """What :class:`~inspector.run.execute.loadcheck.SessionCheck` tells the verdict (named here
    so the inspection core does not import the run package)."""

    @property
    def ort_version(self) -> str: ...
    @property
    def ok(self) -> bool: ...
    @property
    def kind(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def seconds(self) -> float | None: ...


#: Session-check kinds that say nothing about the model: the check did not reach an answer.
INCONCLUSIVE_CHECKS = frozenset({"cancelled", "timeout", "worker_files"})


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
    """What one release's measured limits say about the model's stamps (stamps only: no release
    but the installed one is ever asked to create a session)."""

    version: str
    stamps: StampVerdict  # "with_env": needs ALLOW_RELEASED_ONNX_OPSET_ONLY=0
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
    # Does the installed onnxruntime load it? ONNX Runtime's own session check when one ran,
    # else what the stamps and ops prove ("no"), else "not_checked".
    installed_loads: LoadVerdict
    installed_load_reasons: tuple[str, ...]
    load_evidence: Literal["session", "stamps", "ops", "none"]  # what decided installed_loads
    # What the stamps alone say about the installed release (the table's row for it).
    installed_stamps: StampVerdict | Literal["unknown"]
    installed_stamp_reasons: tuple[str, ...]
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
    stamps: StampVerdict = "yes"
    if ir < 3:
        reasons.append(f"IR version {ir} < 3: ONNX Runtime reads IR 3 and later")
        stamps = "no"
    if no_opsets:
        reasons.append("no opset imports: operators cannot be resolved")
        stamps = "no"
    if ir > release.max_ir:
        reasons.append(f"IR version {ir} > {release.max_ir}")
        stamps = "no"
    if opset is not None and opset > release.max_opset:
        if opset <= release.max_opset_with_env and stamps == "yes":
            reasons.append(
                f"ai.onnx opset {opset} > {release.max_opset}: accepted only with "
                "ALLOW_RELEASED_ONNX_OPSET_ONLY=0"
            )
            stamps = "with_env"
        else:
            reasons.append(f"ai.onnx opset {opset} > {release.max_opset}")
            stamps = "no"
    if ml is not None and ml > release.max_ml_opset:
        reasons.append(f"ai.onnx.ml opset {ml} > {release.max_ml_opset}")
        stamps = "no"
    return ReleaseRow(release.version, stamps, tuple(reasons))


def _same_release(a: str, b: str) -> bool:
    return bool(a) and bool(b) and _vkey(a)[:2] == _vkey(b)[:2]


def _loads(
    installed: str,
    stamps: StampVerdict | Literal["unknown"],
    stamp_reasons: tuple[str, ...],
    problems: list[OpProblem],
    custom: list[str],
    session: SessionOutcome | None,
) -> tuple[LoadVerdict, tuple[str, ...], Literal["session", "stamps", "ops", "none"]]:
    """The combined verdict (see the module docstring) and the reasons behind it."""
    note: tuple[str, ...] = ()
    # A check of another release (``ort_version`` given) says nothing about this one; one that
    # failed before ONNX Runtime was reached (no version: missing external data) is about the
    # model's files, whatever the release.
    applies = session is not None and (
        not session.ort_version or _same_release(session.ort_version, installed)
    )
    if session is not None and applies:
        if session.kind in INCONCLUSIVE_CHECKS:
            note = (f"the session check did not finish ({session.kind}): {session.message}",)
        elif session.ok:
            took = f" in {session.seconds * 1000:.0f} ms" if session.seconds is not None else ""
            made = f"onnxruntime {session.ort_version} created a session (CPU EP, optimizations on)"
            return "yes", (made + took,), "session"
        else:
            who = f"onnxruntime {session.ort_version}" if session.ort_version else "the check"
            return (
                "no",
                (f"{who} could not create a session: {session.message}",),
                "session",
            )
    if stamps == "no":
        return "no", stamp_reasons + note, "stamps"
    if custom or problems:
        why = [
            f"domain {d} has no kernels in ONNX Runtime unless its custom-op library is registered"
            for d in custom
        ] + [f"{p.domain}::{p.op_type}: {p.problem}" for p in problems]
        return "no", tuple(why) + note, "ops"
    if stamps == "with_env":
        return "with_env", stamp_reasons + note, "stamps"
    if stamps == "unknown":
        return "unknown", stamp_reasons + note, "none"
    unconfirmed = (
        "its version stamps and ops are supported, but no session was created to confirm it "
        "(custom-op libraries, missing data and kernel errors show only then)"
    )
    return "not_checked", (unconfirmed, *note), "none"


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


def build_compat(
    model: LoadedModel, ort_version: str | None = None, session: SessionOutcome | None = None
) -> CompatVerdict:
    """The compatibility verdict. ``ort_version`` overrides the detected installed version;
    ``session``: ONNX Runtime's own load check
    (:func:`~inspector.run.execute.loadcheck.check_session`) of the installed release, which
    decides ``installed_loads`` when it reached an answer."""
    proto = model.proto
    ir = proto.ir_version
    opset = _opset(proto, "")
    ml = _opset(proto, "ai.onnx.ml")
    no_opsets = not proto.opset_import
    releases = tuple(_judge(r, ir, opset, ml, no_opsets) for r in ORT_RELEASES)

    installed = installed_ort_version() if ort_version is None else ort_version
    limits, assumed = limits_for(installed)
    reasons: tuple[str, ...]
    stamps: StampVerdict | Literal["unknown"]
    if limits is None:
        stamps, reasons = (
            "unknown",
            (
                ("onnxruntime is not installed",)
                if not installed
                else (f"onnxruntime {installed} is older than the releases measured (1.16+)",)
            ),
        )
    else:
        row = _judge(limits, ir, opset, ml, no_opsets)
        stamps, reasons = row.stamps, row.reasons

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
    if stamps != "yes":
        first = next((r.version for r in releases if r.stamps == "yes"), None)
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

    loads, load_reasons, evidence = _loads(installed, stamps, reasons, problems, custom, session)
    return CompatVerdict(
        ir_version=ir,
        opsets=tuple((domain_label(o.domain), o.version) for o in proto.opset_import),
        installed_ort=installed,
        installed_limits_assumed=assumed,
        installed_loads=loads,
        installed_load_reasons=load_reasons,
        load_evidence=evidence,
        installed_stamps=stamps,
        installed_stamp_reasons=tuple(reasons),
        releases=releases,
        newest_onnx=newest_onnx,
        min_ir_required=need_ir,
        flags=tuple(flags),
        custom_domains=tuple(custom),
        op_problems=tuple(problems),
        suggestions=tuple(suggestions),
    )
