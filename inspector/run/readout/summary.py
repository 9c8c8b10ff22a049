"""One summary of a matrix's results, rendered everywhere: the CLI's table and ``run --json``,
the Run lab's results table, ``compare``'s latency lines and the HTML report.

:class:`RunSummary` holds a :class:`SummaryRow` per configuration — every column any of them
shows; each picks its own — plus the expected-output checks and the CI gates. ``to_dict`` is
``run --json``'s ``summary`` (and ``expected``) as it has always been."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from inspector.limits import DEFAULT_ATOL, DEFAULT_RTOL
from inspector.records import to_jsonable
from inspector.run.analyses.compare import (
    EXPECTED_ATOL,
    EXPECTED_RTOL,
    Comparison,
    check_expected,
    compare,
)
from inspector.run.readout.results import LatencyDelta, RunResult, latency_delta, speed_words
from inspector.run.readout.sanity import warnings_of
from inspector.run.readout.timing import pct, relative_halfwidth


def short_ep(name: str) -> str:
    """``OpenVINOExecutionProvider`` → ``OpenVINO``."""
    return name.removesuffix("ExecutionProvider")


@dataclass(frozen=True, kw_only=True)
class SummaryRow:
    """One configuration's line: status, latency with its spread, the verdict against the
    reference, EP placement and fallback, output agreement and warnings."""

    label: str
    status: str  # "ok" or the error kind ("timeout", "crash", …)
    error: str = ""
    notes: tuple[str, ...] = ()  # why a requested EP took no node first, then the run's notes
    why: tuple[str, ...] = ()  # per requested EP that took no node or failed: one line why
    output_warnings: tuple[str, ...] = ()  # NaN/Inf or absurd outputs: their deltas are noise
    placed: bool = False  # ran on a Ray node
    where: str = ""  # that node: host and node id
    machine: str = ""  # that node: host and CPU
    timed: bool = False  # ran and has a latency (the fields below are set)
    median_ms: float | None = None
    ci_ms: tuple[float, float] | None = None  # the median's 95 % interval
    cv: float | None = None
    runs: int | None = None
    stop: str = ""  # why timing stopped, in words
    p90_ms: float | None = None
    session_s: float | None = None
    vs_ref: LatencyDelta | None = None
    nodes_per_ep: tuple[tuple[str, int], ...] = ()
    fallback_nodes: int | None = None  # None: no placement report
    inactive_eps: tuple[str, ...] = ()
    max_abs_vs_ref: float | None = None
    allclose: bool | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def spread(self) -> str:
        """``±1.3 %``: the wider side of the median's interval, relative to it."""
        if self.median_ms is None or self.ci_ms is None:
            return ""
        return pct(relative_halfwidth(self.median_ms, *self.ci_ms))

    @property
    def versus(self) -> str:
        """The verdict, which states the medians' speed when it is a difference (``1.32×
        slower``) and is followed by it when within noise (``within noise · medians 1.08×
        faster``), in the same words either way; "" for the reference or without a latency."""
        vs = self.vs_ref
        if vs is None:
            return ""
        return f"{vs.verdict} · medians {speed_words(vs.ratio)}" if vs.within_noise else vs.verdict

    @property
    def eps_text(self) -> str:
        """``OpenVINO 12, CPU 3``."""
        return ", ".join(f"{short_ep(k)} {v}" for k, v in self.nodes_per_ep)

    @property
    def remarks(self) -> str:
        """The error, else the run's notes."""
        return self.error or "; ".join(self.notes)

    def to_dict(self) -> dict[str, Any]:
        """The row as ``run --json`` writes it: keys present only where they apply."""
        row: dict[str, Any] = {"label": self.label, "status": self.status}
        if self.placed:
            row["where"] = self.where
        if self.timed:
            row |= {
                "median_ms": self.median_ms,
                "ci_ms": list(self.ci_ms or ()),
                "cv": self.cv,
                "runs": self.runs,
                "stop": self.stop,
                "p90_ms": self.p90_ms,
                "session_s": self.session_s,
            }
            if self.vs_ref is not None:
                row["vs_ref"] = {
                    "ratio": self.vs_ref.ratio,
                    "ratio_ci": list(self.vs_ref.ratio_ci),
                    "within_noise": self.vs_ref.within_noise,
                    "verdict": self.vs_ref.verdict,
                }
            row["nodes_per_ep"] = dict(self.nodes_per_ep)
            row["fallback_nodes"] = self.fallback_nodes or 0
            row["inactive_eps"] = list(self.inactive_eps)
            if self.allclose is not None:
                row["max_abs_vs_ref"] = self.max_abs_vs_ref
                row["allclose"] = self.allclose
        else:
            row["error"] = self.error
        if self.why:
            row["why"] = list(self.why)
        if self.output_warnings:
            row["output_warnings"] = list(self.output_warnings)
        return row


def summary_row(r: RunResult, ref: RunResult | None, atol: float, rtol: float) -> SummaryRow:
    """``r``'s row against the reference ``ref`` (outputs compared within atol/rtol; None: a
    job's reference has not finished yet)."""
    place = dict(r.placement)
    fb = r.fallback
    why = tuple(e.why for e in r.ep_reports if e.why and (e.took_nothing or e.failed_node))
    explained = {e.reason for e in r.ep_reports if e.source == "note"}  # now in a why line
    row: dict[str, Any] = {
        "label": r.label,
        "status": r.status if r.ok else r.error_kind,
        "error": r.error,
        "notes": (*why, *(n for n in r.notes if n not in explained)) if r.ok else tuple(r.notes),
        "why": why,
        "output_warnings": tuple(warnings_of(r.notes)),
        "placed": bool(r.placement),
        "where": f"{place.get('host', '')} {place.get('node', '')[:8]}".strip(),
        "machine": " ".join(v for k, v in r.placement if k in ("host", "cpu")),
        "nodes_per_ep": tuple(fb.nodes_per_ep) if fb else (),
        "fallback_nodes": len(fb.off_preferred) if fb else None,
        "inactive_eps": tuple(fb.requested_inactive) if fb else (),
    }
    lat = r.latency
    if r.ok and lat:
        row |= {
            "timed": True,
            "median_ms": lat.median_ms,
            "ci_ms": lat.interval,
            "cv": lat.cv,
            "runs": len(lat.runs_ms),
            "stop": lat.stop_detail or f"fixed {len(lat.runs_ms)} runs",
            "p90_ms": lat.p90_ms,
            "session_s": r.session_create_s,
            "vs_ref": latency_delta(ref, r) if ref is not None and r is not ref else None,
        }
        if ref is not None and ref.ok and r is not ref:
            c = compare(ref, r, atol, rtol)
            row |= {"max_abs_vs_ref": c.worst_max_abs, "allclose": c.all_close}
    return SummaryRow(**row)


@dataclass(frozen=True)
class RunSummary:
    """The rows of one matrix's results, its expected-output checks and its CI gates."""

    results: tuple[RunResult, ...]
    rows: tuple[SummaryRow, ...]
    reference: int = 0
    atol: float | None = None  # as asked (--atol); None: DEFAULT_ATOL for rows
    rtol: float | None = None
    expected: tuple[Comparison | None, ...] | None = None  # None: no expected outputs given

    @classmethod
    def of(
        cls,
        results: Sequence[RunResult],
        reference: int = 0,
        *,
        atol: float | None = None,
        rtol: float | None = None,
        expected: Mapping[str, Any] | None = None,
    ) -> RunSummary:
        """Rows against ``results[reference]``: outputs within atol/rtol (the defaults where
        None); before a job's reference has finished, rows without a comparison. With
        ``expected`` outputs, each configuration is checked against them (atol/rtol where
        given, else onnx's backend-test tolerances; None for a failed configuration)."""
        results = tuple(results)
        ref = results[reference] if reference < len(results) else None
        a = DEFAULT_ATOL if atol is None else atol
        r_ = DEFAULT_RTOL if rtol is None else rtol
        rows = tuple(summary_row(r, ref, a, r_) for r in results)
        checks = None
        if expected is not None:
            ea = EXPECTED_ATOL if atol is None else atol
            er = EXPECTED_RTOL if rtol is None else rtol
            checks = tuple(check_expected(r, expected, ea, er) if r.ok else None for r in results)
        return cls(results, rows, reference, atol, rtol, checks)

    @property
    def gated(self) -> bool:
        """Whether tolerances were asked for: only then do output deltas fail the gate."""
        return self.atol is not None or self.rtol is not None

    def gate(self, *, require_ep: str = "", max_fallback_nodes: int | None = None) -> str:
        """The first CI gate that fails, as a one-line reason ("" when all pass): a failed
        configuration, ``require_ep`` inactive or fallen off, more than ``max_fallback_nodes``
        off the preferred EP, outputs beyond the asked tolerances (reference, expected)."""
        for r in self.results:
            if not r.ok:
                return f"configuration failed: {r.error}"
        if require_ep:
            from inspector.run.setup.config import parse_eps

            reason = _require_ep(self.results, parse_eps(require_ep)[0].name)
            if reason:
                return reason
        if max_fallback_nodes is not None:
            for row in self.rows:
                n = row.fallback_nodes or 0
                if n > max_fallback_nodes:
                    return f"{row.label}: {n} nodes off the preferred EP (max {max_fallback_nodes})"
        if not self.gated:
            return ""
        for row in self.rows:
            if row.allclose is False:
                return (
                    f"{row.label}: outputs differ from the reference by up to "
                    f"{row.max_abs_vs_ref:.3g} (atol {self.atol or 0:g}, rtol {self.rtol or 0:g})"
                )
        off = [c for c in self.expected or () if c is not None and not c.all_close]
        return f"{off[0].candidate}: outputs differ from the expected outputs" if off else ""

    def to_dict(self) -> dict[str, Any]:
        """``{"summary": [row, …]}``, with ``"expected"`` where expected outputs were given."""
        doc: dict[str, Any] = {"summary": [row.to_dict() for row in self.rows]}
        if self.expected is not None:
            doc["expected"] = to_jsonable(list(self.expected))
        return doc


def _require_ep(results: Sequence[RunResult], want: str) -> str:
    for r in results:
        if want not in r.providers_requested:
            continue
        fb = r.fallback
        if fb and want in fb.requested_inactive:
            return f"{r.label}: {want} was requested but is not active"
        off = [a for a in (fb.off_preferred if fb else ()) if a.ep != want]
        if fb and fb.preferred_ep == want and off:
            ops = ", ".join(sorted({a.op_type for a in off}))
            return f"{r.label}: {len(off)} nodes fell back off {want} ({ops})"
    return ""
