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
