"""Model strings are data: escape them for the formats and devices that would interpret them.

A node name, doc string or metadata value comes from an uploaded file and may hold newlines,
terminal escape sequences (OSC 52 writes the clipboard, ``ESC c`` clears the screen),
bidirectional overrides that reorder what a reader sees, or a leading ``=`` that a spreadsheet
runs as a formula. Markdown is handled where the app renders (``pages/common/text.py``); this
module covers CSV files and terminal output.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

#: C0 controls except tab and newline, DEL, C1 controls, bidi embeddings/overrides/isolates.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def terminal(text: str) -> str:
    """``text`` with control characters shown as ``\\uXXXX`` (also valid inside JSON strings)."""
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def csv_cell(value: Any) -> Any:
    """A cell a spreadsheet shows as text: strings that would start a formula get a quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        # A number like -1.5 is data, not a formula; keep it readable as a number.
        try:
            float(value)
            return value
        except ValueError:
            return "'" + value
    return value


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """CSV text (RFC 4180 quoting: embedded newlines stay inside their field)."""
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_MINIMAL)
    w.writerow([csv_cell(h) for h in header])
    for row in rows:
        w.writerow([csv_cell(v) for v in row])
    return buf.getvalue()


class TerminalStream(io.TextIOBase):
    """A text stream that escapes control characters on their way to a terminal."""

    def __init__(self, raw: TextIO) -> None:
        self._raw = raw

    def write(self, s: str) -> int:
        self._raw.write(terminal(s))
        return len(s)

    def flush(self) -> None:
        self._raw.flush()

    def isatty(self) -> bool:
        return self._raw.isatty()
