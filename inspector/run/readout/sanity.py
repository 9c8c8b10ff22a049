"""Outputs that are garbage: not finite, or absurdly large.

A model fed inputs it does not expect (a TTS speed of -0.275: audio of 1e10; ids past the
embedding table; unnormalised pixels) still "runs", and two configurations' outputs then
differ by amounts that mean nothing — deltas between garbage are noise. Every run result
carries a note for each such output (``warning: …``), which the CLI, the Run lab and Compare
show next to the numbers. Outputs over the output-size limit were not kept and are not checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

#: |x| above this in a floating output is reported as absurd.
ABSURD = 1e6
#: The prefix of every note this module writes (how the CLI and pages pick them out).
PREFIX = "warning: output"


def _as_float(arr: np.ndarray) -> np.ndarray | None:
    """A floating view of ``arr`` (ml_dtypes' bfloat16/float8 included), or None for others."""
    if arr.dtype.kind in "fc":
        return arr
    if arr.dtype.kind == "V" and arr.dtype.name.startswith(("bfloat16", "float8", "float4")):
        return arr.astype(np.float32)
    return None


def output_warnings(arrays: Mapping[str, Any], absurd: float = ABSURD) -> tuple[str, ...]:
    """One note per floating output that holds NaN or Inf, or reaches ``|x| > absurd``."""
    notes = []
    for name, value in arrays.items():
        if not isinstance(value, np.ndarray) or value.size == 0:
            continue
        arr = _as_float(value)
        if arr is None:
            continue
        magnitude = np.abs(arr)
        finite = np.isfinite(magnitude)
        nan = int(np.isnan(magnitude).sum())
        inf = int(magnitude.size - finite.sum()) - nan
        if nan or inf:
            notes.append(
                f"{PREFIX} {name!r} is not finite ({nan:,} NaN, {inf:,} Inf of {arr.size:,} "
                "values): deltas against it are noise; check the inputs' values and shapes"
            )
            continue
        peak = float(magnitude.max())
        if peak > absurd:
            notes.append(
                f"{PREFIX} {name!r} reaches |x| = {peak:.3g} (over {absurd:g}): likely garbage "
                "from inputs the model does not expect; deltas against it are noise"
            )
    return tuple(notes)


def warnings_of(notes: tuple[str, ...] | list[str]) -> list[str]:
    """The output warnings among a run result's notes."""
    return [n for n in notes if n.startswith(PREFIX)]


__all__ = ["ABSURD", "output_warnings", "warnings_of"]
