"""Diagnostics: the pitfalls people hit after exporting a model, each with what to do.

Findings come from the other records plus onnx's checker. The checker and ONNX Runtime
disagree both ways on real models, so checker and shape-inference findings are warnings,
never a gate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from inspector.model.compat import (
    INCONCLUSIVE_CHECKS,
    CompatVerdict,
    SessionOutcome,
    build_compat,
)
from inspector.model.external import ExternalDataReport, build_external_data
from inspector.model.graph import GraphRecord, build_graph
from inspector.model.load import LoadedModel
from inspector.model.overview import Overview, build_overview, domain_label
from inspector.model.subgraphs import build_subgraphs
from inspector.records import Record

SEVERITIES = ("error", "warning", "info")


class SessionFindings(SessionOutcome, Protocol):
    """What the diagnosis reads of ONNX Runtime's load check
    (:class:`~inspector.run.execute.loadcheck.SessionCheck`): the verdict's fields and the fix.
    Named here so the inspection core does not import the run package."""

    @property
    def fix(self) -> str: ...


#: "error": will not load or run as is; "warning": a likely problem; "info": worth knowing.
Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True, kw_only=True)
class Finding(Record):
    severity: Severity
    code: str
    subject: str  # the node id, tensor or domain concerned ("" for the whole model)
    message: str
    fix: str


@dataclass(frozen=True)
class Diagnosis(Record):
    findings: tuple[Finding, ...]
    checker: str  # "passed", or the checker's first message

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)


def run_checker(model: LoadedModel) -> str:
    """onnx.checker on a payload-free skeleton, in a limited child process (native.py): never
    lets it resolve external files, never lets it take the server down."""
    return model.native.checker


@dataclass(frozen=True)
class _Records:
    """What the rules read: the model and its records, built once."""

    model: LoadedModel
    overview: Overview
    graph: GraphRecord
    external: ExternalDataReport
    compat: CompatVerdict
    session: SessionFindings | None


def _compatibility(c: _Records, add: Callable[[Finding], None]) -> None:
    """What ONNX Runtime said when it created a session, then what the stamps say."""
    compat, session = c.compat, c.session
    # Compatibility: what ONNX Runtime itself said, then what the stamps say.
    if session is not None and not session.ok and session.kind in INCONCLUSIVE_CHECKS:
        add(
            Finding(
                severity="warning",
                code=f"session_{session.kind}",
                subject="",
                message=f"ONNX Runtime's load check did not finish: {session.message}",
                fix=session.fix or "Check again, or run the model in the run lab.",
            )
        )
    elif session is not None and not session.ok:
        add(
            Finding(
                severity="error",
                code=f"session_{session.kind}",
                subject="",
                message=(
                    f"onnxruntime {session.ort_version} could not create a session: "
                    f"{session.message}"
                ),
                fix=session.fix or "Read ONNX Runtime's message; the run lab shows the same.",
            )
        )
    if compat.installed_stamps == "no":
        add(
            Finding(
                severity="error",
                code="ort_refuses",
                subject="",
                message=f"onnxruntime {compat.installed_ort} will refuse "
                f"the model's version stamps: {'; '.join(compat.installed_stamp_reasons)}.",
                fix=" ".join(s.text for s in compat.suggestions) or "See the compatibility table.",
            )
        )
    elif compat.installed_stamps == "with_env":
        add(
            Finding(
                severity="warning",
                code="ort_needs_env",
                subject="",
                message="; ".join(compat.installed_stamp_reasons),
                fix="Set ALLOW_RELEASED_ONNX_OPSET_ONLY=0 where the model runs, or convert it.",
            )
        )
    for flag in compat.flags:
        add(
            Finding(
                severity="warning",
                code="stamp_too_new",
                subject="",
                message=flag,
                fix="Lower the stamp or convert the opset.",
            )
        )
    for p in compat.op_problems:
        add(
            Finding(
                severity="error",
                code="unknown_op",
                subject=f"{p.domain}::{p.op_type}",
                message=f"{p.op_type} ({p.nodes} nodes): {p.problem}.",
                fix="Check the exporter's opset setting, or provide the op as a function.",
            )
        )
    for domain in compat.custom_domains:
        add(
            Finding(
                severity="warning",
                code="custom_domain",
                subject=domain,
                message=(
                    f"Custom operator domain {domain!r}: ONNX Runtime needs a custom-op "
                    "library for it."
                ),
                fix="Register the library that implements these ops.",
            )
        )


def _repairs(c: _Records, add: Callable[[Finding], None]) -> None:
    """What loading had to repair."""
    model = c.model
    for note in model.notes:
        add(
            Finding(
                severity="warning",
                code="repaired_on_load",
                subject="",
                message=note[:1].upper() + note[1:] + ".",
                fix="Re-export the model; names must be valid UTF-8.",
            )
        )


def _structure(c: _Records, add: Callable[[Finding], None]) -> None:
    """Dangling inputs, cycles, ordering, duplicates, dead nodes."""
    graph = c.graph
    # Structure.
    for issue in graph.issues:
        node = issue.nodes[0] if issue.nodes else ""
        if issue.kind == "dangling_input":
            add(
                Finding(
                    severity="error",
                    code="dangling_input",
                    subject=node,
                    message=f"Input {issue.tensor!r} of {node} is "
                    "produced by no node, graph input or initializer.",
                    fix="Re-export the model; a node or initializer is missing.",
                )
            )
        elif issue.kind == "duplicate_output":
            add(
                Finding(
                    severity="error",
                    code="duplicate_output",
                    subject=issue.tensor,
                    message=f"Tensor {issue.tensor!r} is "
                    "produced more than once "
                    f"({', '.join(issue.nodes) or 'and is a graph input'}).",
                    fix="Rename one producer's output; ONNX graphs are single-assignment.",
                )
            )
        elif issue.kind == "cycle":
            add(
                Finding(
                    severity="error",
                    code="cycle",
                    subject=node,
                    message=f"Graph {issue.graph} has a cycle through "
                    f"{len(issue.nodes)} nodes ({', '.join(issue.nodes[:5])}).",
                    fix="ONNX graphs must be acyclic; re-export the model.",
                )
            )
        elif issue.kind == "unsorted":
            add(
                Finding(
                    severity="warning",
                    code="unsorted",
                    subject=node,
                    message=f"Nodes of {issue.graph} are not in "
                    "topological order (onnx's checker rejects this; ONNX Runtime sorts).",
                    fix="Sort the nodes topologically before saving.",
                )
            )
        elif issue.kind == "dead_node":
            add(
                Finding(
                    severity="info",
                    code="dead_node",
                    subject=node,
                    message=f"Output {issue.tensor!r} of {node} is never used.",
                    fix="ONNX Runtime drops unused nodes; remove them to shrink the model.",
                )
            )


def _export_pitfalls(c: _Records, add: Callable[[Finding], None]) -> None:
    """Fixed dims, types, opsets, initializers as inputs, control flow, names."""
    overview, graph = c.overview, c.graph
    # Export pitfalls.
    for vi in overview.inputs:
        if vi.dims and all(d.kind == "fixed" for d in vi.dims) and len(vi.dims) >= 2:
            add(
                Finding(
                    severity="info",
                    code="fixed_dims",
                    subject=vi.name,
                    message=f"Input {vi.name!r} has only fixed dims "
                    f"{vi.shape_text}: the model accepts only this batch/sequence size.",
                    fix="Export with dynamic axes (torch.onnx.export(..., dynamic_axes=...) or "
                    "dynamic_shapes=...) if other sizes are needed.",
                )
            )
    for vi in (*overview.inputs, *overview.outputs):
        if vi.dtype == "DOUBLE":
            add(
                Finding(
                    severity="warning",
                    code="float64_io",
                    subject=vi.name,
                    message=f"{vi.name!r} is float64: many EPs "
                    "have no double kernels, so nodes fall back to CPU and run slower.",
                    fix="Export in float32 (model.float() before export).",
                )
            )
    for o in overview.opset_imports:
        if not o.used and o.domain not in ("", "ai.onnx"):
            add(
                Finding(
                    severity="info",
                    code="unused_opset",
                    subject=domain_label(o.domain),
                    message=f"Opset domain "
                    f"{domain_label(o.domain)!r} (version {o.version}) is declared but no "
                    "node uses it.",
                    fix="Harmless; remove the import to simplify the model.",
                )
            )
    if overview.initializers_listed_as_inputs:
        n = len(overview.initializers_listed_as_inputs)
        add(
            Finding(
                severity="warning",
                code="initializer_as_input",
                subject=overview.initializers_listed_as_inputs[0],
                message=f"{n} initializers are also graph inputs: ONNX Runtime treats them as "
                "overridable and will not constant-fold or fuse them.",
                fix="Remove them from graph.input (IR ≥ 4), e.g. onnxruntime's "
                "remove_initializer_from_input tool.",
            )
        )
    flow = [n for n in graph.nodes if n.op_type in ("If", "Loop", "Scan") and n.domain == "ai.onnx"]
    if flow:
        add(
            Finding(
                severity="info",
                code="control_flow",
                subject=flow[0].id,
                message=f"{len(flow)} control-flow nodes "
                f"({', '.join(sorted({n.op_type for n in flow}))}): their bodies run as "
                "separate graphs, limit fusions and often stay on the CPU EP.",
                fix="If shapes are static, export with the control flow unrolled or traced.",
            )
        )
    names = [n.name for n in graph.nodes]
    empty = sum(1 for n in names if not n)
    if empty:
        add(
            Finding(
                severity="info",
                code="empty_node_names",
                subject="",
                message=f"{empty} nodes have no name; profiles will show them as <OpType>_<index>.",
                fix="Name nodes at export (ONNX Inspector assigns unique names for runs).",
            )
        )
    seen: dict[str, int] = {}
    for name in names:
        if name:
            seen[name] = seen.get(name, 0) + 1
    dupes = sorted(name for name, c in seen.items() if c > 1)
    if dupes:
        add(
            Finding(
                severity="warning",
                code="duplicate_node_names",
                subject=dupes[0],
                message=f"{len(dupes)} node names are "
                f"used more than once (e.g. {dupes[0]!r}); tools that key by name mix them up.",
                fix="Give nodes unique names.",
            )
        )


def _size_and_nesting(c: _Records, add: Callable[[Finding], None]) -> None:
    """Inline weights near protobuf's limit, recursion, depth, invalid dims."""
    model, overview = c.model, c.overview
    if overview.counts.bytes_inline >= model.limits.large_inline_warning_bytes:
        add(
            Finding(
                severity="warning",
                code="large_inline",
                subject="",
                message=f"{overview.counts.bytes_inline:,} bytes of "
                "weights are stored inline; protobuf cannot save a model of 2 GiB or more.",
                fix="Save with onnx.save_model(..., save_as_external_data=True).",
            )
        )
    sub = build_subgraphs(model)
    for cycle in sub.recursive_functions:
        add(
            Finding(
                severity="error",
                code="recursive_function",
                subject=cycle[0],
                message=f"Functions call each other in a cycle: {' → '.join(cycle)}.",
                fix="ONNX forbids recursion; inline or rewrite.",
            )
        )
    for nid in sub.not_walked:
        add(
            Finding(
                severity="warning",
                code="too_deep",
                subject=nid,
                message=f"Bodies of {nid} are nested deeper than "
                f"{model.limits.max_subgraph_depth} levels and were not inspected.",
                fix="",
            )
        )

    from inspector.model.walk import iter_tensors

    bad_dims = [t.name for t in iter_tensors(model.proto) if any(d < 0 for d in t.dims)]
    if bad_dims:
        add(
            Finding(
                severity="error",
                code="invalid_shape",
                subject=bad_dims[0],
                message=f"{len(bad_dims)} tensors have negative "
                f"dims (e.g. {bad_dims[0]!r}); they count as empty here and will not load.",
                fix="Re-export the model; tensor dims must be ≥ 0.",
            )
        )


def _external_data(c: _Records, add: Callable[[Finding], None]) -> None:
    """External-data references that do not resolve."""
    external = c.external
    # External data.
    for t in external.tensors:
        if t.status == "ok":
            continue
        severity: Severity = "error" if not t.usable else "warning"
        add(
            Finding(
                severity=severity,
                code=f"external_{t.status}",
                subject=t.tensor,
                message=f"{t.tensor}: {'; '.join(t.messages)}.",
                fix=_external_fix(t.status),
            )
        )


def _checker_and_inference(c: _Records, add: Callable[[Finding], None]) -> None:
    """onnx's checker and shape inference (warnings only)."""
    model, graph = c.model, c.graph
    # Checker and shape inference (warnings only), unless onnx itself could not finish.
    checker = run_checker(model)
    if model.native.failure:
        add(
            Finding(
                severity="error",
                code="onnx_failed",
                subject="",
                message=f"Shape inference and the checker could not run: {model.native.failure}.",
                fix="ONNX Runtime runs the same shape inference when it loads the model; expect it "
                "to fail or crash too. Re-export the model, or check the declared tensor sizes.",
            )
        )
    elif checker != "passed":
        add(
            Finding(
                severity="warning",
                code="checker",
                subject="",
                message=f"onnx.checker: {checker}",
                fix="The checker and ONNX Runtime disagree on many real models; run it to be sure.",
            )
        )
    if not graph.shape_inference.ok and not model.native.failure:
        add(
            Finding(
                severity="warning",
                code="shape_inference",
                subject="",
                message=f"Shape inference failed: {graph.shape_inference.error}",
                fix="Shapes shown are partial.",
            )
        )


#: The rules, in the order their findings are listed within a severity.
RULES: tuple[Callable[[_Records, Callable[[Finding], None]], None], ...] = (
    _compatibility,
    _repairs,
    _structure,
    _export_pitfalls,
    _size_and_nesting,
    _external_data,
    _checker_and_inference,
)


def diagnose(
    model: LoadedModel,
    overview: Overview | None = None,
    graph: GraphRecord | None = None,
    external: ExternalDataReport | None = None,
    compat: CompatVerdict | None = None,
    session: SessionFindings | None = None,
) -> Diagnosis:
    """All findings, errors first. Pass records already built to avoid rebuilding them.

    ``session``: a :class:`inspector.run.execute.loadcheck.SessionCheck` — whether the installed
    onnxruntime really created a session (the compatibility verdict only judges stamps)."""
    overview = overview or build_overview(model)
    graph = graph or build_graph(model)
    external = external or build_external_data(model)
    compat = compat or build_compat(model, session=session)
    records = _Records(model, overview, graph, external, compat, session)
    out: list[Finding] = []
    for rule in RULES:
        rule(records, out.append)
    checker = run_checker(model)

    out.sort(key=lambda f: SEVERITIES.index(f.severity))
    return Diagnosis(tuple(out), checker)


def _external_fix(status: str) -> str:
    return {
        "missing_file": "Upload the data file together with the .onnx file (same names).",
        "unsafe_path": "Re-save the model with a plain relative location "
        "(onnx.save_model(..., location='weights.bin')).",
        "out_of_range": "The data file is shorter than the model expects: copy it again.",
        "size_mismatch": "The reference does not match the tensor; re-save the model.",
        "no_length": "Re-save with onnx's external-data helpers, which write 'length'.",
        "unknown_key": "Harmless for ONNX Runtime; re-save to drop it.",
        "bad_number": "Re-save the model; offset/length must be non-negative integers.",
        "no_location": "Re-save the model; every external tensor needs a location.",
    }.get(status, "")
