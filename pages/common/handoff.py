"""What one page hands to another: one typed object per destination, not loose session keys."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

_COMPARE = "handoff_compare"


@dataclass(frozen=True)
class CompareFocus:
    """Open Compare on this candidate configuration and tab (the fallback demo lands on its
    fallback configuration's EP assignment)."""

    candidate: str | None = None
    tab: str | None = None


def to_compare(focus: CompareFocus) -> None:
    """Switch to Compare, showing ``focus`` once."""
    st.session_state[_COMPARE] = focus
    st.switch_page("pages/7_Compare.py")


def compare_focus() -> CompareFocus:
    """What the last page asked Compare to show (taken: shown once), or nothing."""
    focus = st.session_state.pop(_COMPARE, None)
    return focus if isinstance(focus, CompareFocus) else CompareFocus()
