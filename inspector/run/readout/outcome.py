"""How each configuration of a run ended, for lists, and which one Compare shows by default.

A strict configuration (no CPU fallback) that ONNX Runtime refuses because its EP has no kernel
for some node did what strict mode is for: it proved that the EP cannot run the whole model.
The fallback demo expects exactly that, so :func:`outcome` says "refused as expected" with the
nodes the non-strict twin ran on CPU, apart from failures (a crash, a timeout, an EP that fails
at session creation). :func:`default_candidate` is the configuration Compare opens on: one
where an EP other than CPU really ran nodes, when there is one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from inspector.records import Record
from inspector.run.readout.results import RunResult

CPU = "CPUExecutionProvider"
EXPECTED_REFUSAL = "refused as expected (strict: no CPU fallback)"


@dataclass(frozen=True)
class Outcome(Record):
    """One configuration's ending: ``ok``, ``expected_refusal`` or ``failed``, in one line."""

    label: str
    kind: Literal["ok", "expected_refusal", "failed"]
    text: str  # "ok", "refused as expected (strict: no CPU fallback) — …", or the error


def outcome(result: RunResult, results: Sequence[RunResult] = ()) -> Outcome:
    """How ``result`` ended; ``results``: the run's others, where a strict refusal's non-strict
    twin (same EPs plus CPU, same level and options) tells which nodes fell back."""
    if result.ok:
        return Outcome(result.label, "ok", "ok")
    if result.config.strict and result.error_kind == "strict_fallback_refused":
        return Outcome(
            result.label, "expected_refusal", f"{EXPECTED_REFUSAL} — {_why(result, results)}"
        )
    return Outcome(result.label, "failed", result.error)


def _why(result: RunResult, results: Sequence[RunResult]) -> str:
    eps = "+".join(e.short for e in result.config.eps)
    twin = next((r for r in results if _is_twin(r, result)), None)
    if twin is None or twin.fallback is None or not twin.fallback.off_preferred:
        return f"{eps} has no kernel for some nodes and strict mode forbids running them on CPU"
    ops = Counter(n.op_type for n in twin.fallback.off_preferred)
    named = [f"{op} ×{k}" if k > 1 else op for op, k in ops.most_common(3)]
    more = f" and {len(ops) - 3} more op types" if len(ops) > 3 else ""
    nodes = len(twin.fallback.off_preferred)
    return (
        f"{eps} has no kernel for {', '.join(named)}{more} "
        f"({nodes:,} node{'s' if nodes != 1 else ''} ran on CPU in {twin.label})"
    )


def _is_twin(other: RunResult, strict: RunResult) -> bool:
    """``other`` is ``strict``'s configuration with CPU fallback allowed, and it ran."""
    a, b = other.config, strict.config
    return (
        other.ok
        and not a.strict
        and tuple(e.name for e in a.eps if e.name != CPU) == tuple(e.name for e in b.eps)
        and (a.opt_level, a.disabled_optimizers, a.session_config)
        == (b.opt_level, b.disabled_optimizers, b.session_config)
    )


def outcomes(results: Sequence[RunResult]) -> tuple[Outcome, ...]:
    """:func:`outcome` of each configuration of one run."""
    return tuple(outcome(r, results) for r in results)


def nodes_off_cpu(result: RunResult) -> int:
    """Nodes that an EP other than CPU ran in ``result`` (0 when it failed)."""
    if not (result.ok and result.fallback):
        return 0
    return sum(n for ep, n in result.fallback.nodes_per_ep if ep != CPU)


def default_candidate(results: Sequence[RunResult], reference: str) -> str | None:
    """The label Compare opens as the candidate against ``reference``: the first configuration
    (matrix order) where an EP other than CPU ran nodes; else the first other one that ran;
    never one that failed (None when no other configuration ran)."""
    others = [r for r in results if r.label != reference and r.ok]
    chosen = next((r for r in others if nodes_off_cpu(r)), others[0] if others else None)
    return chosen.label if chosen else None
