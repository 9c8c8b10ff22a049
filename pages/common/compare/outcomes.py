"""How each configuration of the run ended, above Compare's tabs: a failure as an error, a
strict configuration that refused as the fallback demo expects as a neutral note."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from inspector.run.readout.outcome import outcomes
from inspector.run.readout.results import RunResult
from pages.common.text import plain


def show(results: Sequence[RunResult]) -> None:
    ended = outcomes(results)
    expected = [o for o in ended if o.kind == "expected_refusal"]
    for o in ended:
        if o.kind == "failed":
            st.error(plain(o.text))
    if expected:
        st.info(
            "\n".join(f"- **{plain(o.label)}**: {plain(o.text)}" for o in expected),
            icon=":material/check_circle:",
        )
