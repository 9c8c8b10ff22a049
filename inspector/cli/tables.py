"""The CLI's one table formatter (fixed-width columns, long cells cut with an ellipsis)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the parser must not import inspector.run (a broken run package)
    from inspector.run.analyses.compare import NodeChange, NodeTimingRow


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], max_width: int = 60) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, (list, tuple)):
            v = ", ".join(str(x) for x in v)
        if isinstance(v, int) and not isinstance(v, bool):
            v = f"{v:,}"
        text = "" if v is None else str(v)
        text = text.replace("\n", " ")
        return text if len(text) <= max_width else text[: max_width - 1] + "…"

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = [
        "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def slowest_table(labels: Sequence[str], rows: Sequence[NodeTimingRow], top: int = 15) -> str:
    """The slowest nodes by name and op type, one column per configuration. ``*`` marks a
    derived time (a share of a fused, shared or EP-compiled kernel's time), explained below;
    ONNX Runtime's own kernels (layout Reorders, inserted Reshapes…) are rows of their own."""
    shown = rows[:top]

    def cell(row: NodeTimingRow, k: int) -> str:
        x = row.times_us[k]
        if x is None:
            return "-"
        span = row.interval(k)
        spread = f" ±{100 * max(x - span[0], span[1] - x) / x:.0f}%" if span and x > 0 else ""
        return f"{x:.1f}{spread}" + ("*" if k < len(row.derived) and row.derived[k] else "")

    lines = [
        "\nSlowest nodes (µs, median ± the wider side of its interval across profiled runs)",
        table(
            ["node", "op", *labels],
            [
                (
                    r.label or r.node_id or r.node,
                    r.op_type,
                    *(cell(r, k) for k in range(len(labels))),
                )
                for r in shown
            ],
            60,
        ),
    ]
    notes = [
        f"  {r.label} ({label}): {r.via[k]}"
        for r in shown
        for k, label in enumerate(labels)
        if k < len(r.derived) and r.derived[k] and r.times_us[k] is not None
    ]
    if notes:
        lines.append("* derived through tensor and node names; a kernel's time split evenly:")
        lines += notes
    return "\n".join(lines)


def changes_table(changes: Sequence[NodeChange], top: int = 10) -> str:
    """The nodes whose time changed beyond noise (the biggest slow-downs first, then speed-ups),
    and how many changed within noise: those are never listed as regressions."""
    real = [c for c in changes if not c.within_noise]
    noise = len(changes) - len(real)
    head = "\nPer-node changes beyond noise (candidate − reference, µs)"
    tail = (
        f"{noise:,} other node(s) within noise (their intervals across the profiled runs "
        "overlap once each is ±20 % and ±1 µs) or not judged (ONNX Runtime's own kernels, "
        "named anew in each session)"
    )
    if not real:
        return f"{head}\n  none. {tail}"
    rows = [
        (
            c.label,
            c.op_type,
            f"{c.reference_us:.1f}",
            f"{c.candidate_us:.1f}",
            f"{c.delta_us:+.1f}",
            f"{c.ratio:.2f}×" if c.ratio is not None else "",
            "slower" if c.delta_us > 0 else "faster",
            "*" if c.derived else "",
        )
        for c in real[:top]
    ]
    more = f"\n  … and {len(real) - top:,} more beyond noise" if len(real) > top else ""
    return (
        f"{head}\n"
        + table(["node", "op", "ref", "cand", "Δ", "ratio", "", "derived"], rows, 60)
        + more
        + f"\n{tail}"
    )
