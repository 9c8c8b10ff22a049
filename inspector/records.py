"""Shared behaviour of the frozen records the library returns (JSON and DataFrame views)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


def to_jsonable(value: Any) -> Any:
    """Plain JSON types for a record: dataclasses → dicts, tuples → lists, NaN/Inf → strings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_jsonable(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not f.name.startswith("_")
        }
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        return to_jsonable(value.item())
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return value


def human_bytes(n: int) -> str:
    """``1536`` → ``"1.5 KiB"`` (exact count below 1 KiB)."""
    if n < 1024:
        return f"{n:,} B"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            return f"{value:,.1f} {unit}"
    raise AssertionError("unreachable")


class Record:
    """Mixin for frozen dataclass records."""

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)

    def _repr_html_(self) -> str:
        """Jupyter's rich view: the record's fields as a table (model strings escaped)."""
        return record_html(self)


_MAX_ROWS = 20
_MAX_TEXT = 300


def _cell(value: Any, depth: int) -> str:
    import html

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return record_html(value, depth + 1) if depth < 2 else html.escape(type(value).__name__)
    if (
        isinstance(value, (tuple, list))
        and value
        and all(dataclasses.is_dataclass(v) and not isinstance(v, type) for v in value)
    ):
        if depth >= 2:
            return f"{len(value):,} × {html.escape(type(value[0]).__name__)}"
        fields = [
            f.name
            for f in dataclasses.fields(value[0])
            if not f.name.startswith("_")
            and not isinstance(getattr(value[0], f.name), (tuple, list))
            and not dataclasses.is_dataclass(getattr(value[0], f.name))
        ]
        head = "".join(f"<th>{html.escape(f)}</th>" for f in fields)
        body = "".join(
            "<tr>"
            + "".join(f"<td>{_cell(getattr(v, f), depth + 1)}</td>" for f in fields)
            + "</tr>"
            for v in value[:_MAX_ROWS]
        )
        more = f"<p>… {len(value) - _MAX_ROWS:,} more</p>" if len(value) > _MAX_ROWS else ""
        return f"{len(value):,} rows<table><tr>{head}</tr>{body}</table>{more}"
    text = ", ".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value)
    if isinstance(value, float):
        text = f"{value:.6g}"
    if len(text) > _MAX_TEXT:
        text = text[: _MAX_TEXT - 1] + "…"
    return html.escape(text)


def record_html(record: Any, depth: int = 0) -> str:
    """An HTML table of a record's public fields; nested records and lists of records as
    nested tables (20 rows at most, two levels deep)."""
    import html

    rows = "".join(
        f"<tr><th style='text-align:left'>{html.escape(f.name)}</th>"
        f"<td style='text-align:left'>{_cell(getattr(record, f.name), depth)}</td></tr>"
        for f in dataclasses.fields(record)
        if not f.name.startswith("_")
    )
    title = (
        f"<caption style='text-align:left'><b>{html.escape(type(record).__name__)}</b></caption>"
    )
    return f"<table>{title}{rows}</table>"


def rows_frame(rows: Sequence[Any], columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A DataFrame with one row per dataclass in ``rows`` (tuples shown as joined text)."""
    import pandas as pd  # imported here: the CLI and the overview path do not need it

    if columns is None and rows:
        columns = [f.name for f in dataclasses.fields(rows[0]) if not f.name.startswith("_")]
    data = []
    for row in rows:
        item = {}
        for col in columns or ():
            v = getattr(row, col)
            if isinstance(v, tuple) and all(isinstance(x, (str, int)) for x in v):
                v = ", ".join(str(x) for x in v)
            item[col] = v
        data.append(item)
    return pd.DataFrame(data, columns=list(columns or ()))
