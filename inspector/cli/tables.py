"""The CLI's one table formatter (fixed-width columns, long cells cut with an ellipsis)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the parser must not import inspector.run (a broken run package)
    from inspector.run.compare import NodeTimingRow


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
        return f"{x:.1f}" + ("*" if k < len(row.derived) and row.derived[k] else "")

    lines = [
        "\nSlowest nodes (µs, median)",
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
