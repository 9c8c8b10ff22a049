"""The Overview's sections, each drawing one record of the model: its header and counts, what
the version stamps say, inputs and outputs, external data, the releases table, diagnostics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from inspector.model.compat import CompatVerdict
from inspector.model.cost import CostRecord
from inspector.model.diagnose import Diagnosis
from inspector.model.external import ExternalDataReport
from inspector.model.overview import Overview, domain_label
from inspector.records import human_bytes, rows_frame
from pages.common.text import plain


def summary(ov: Overview) -> None:
    """IR version, producer and size; the counts as metrics."""
    st.caption(
        f"IR {ov.ir_version} · producer {plain(ov.producer_name) or '—'} "
        f"{plain(ov.producer_version)} · "
        f"{ov.file_bytes:,} bytes"
    )
    c = ov.counts
    cols = st.columns(6)
    cols[0].metric("Nodes (all graphs)", f"{c.nodes_total:,}")
    cols[1].metric("Subgraphs", c.subgraphs)
    cols[2].metric("Initializers", f"{c.initializers:,}")
    # A sixth of the page holds ~10 characters: a real model's "22,617,344" was cut to
    # "22,617,…"; the exact count is in the help.
    cols[3].metric("Parameters", _si(c.parameters), help=f"{c.parameters:,} parameters")
    cols[4].metric("Inline weights", human_bytes(c.bytes_inline), help=f"{c.bytes_inline:,} bytes")
    cols[5].metric(
        "External weights", human_bytes(c.bytes_external), help=f"{c.bytes_external:,} bytes"
    )


def stamps(compat: CompatVerdict) -> None:
    """What the version stamps alone say (a check of the table, not of ONNX Runtime): coloured
    only where they already refuse the model, so "supported stamps" never reads as "it loads"."""
    box: dict[str, Callable[..., Any]] = {
        "yes": st.caption,
        "with_env": st.warning,
        "no": st.error,
        "unknown": st.caption,
    }
    text = {
        "yes": "supports the model's version stamps",
        "with_env": "supports the version stamps only with ALLOW_RELEASED_ONNX_OPSET_ONLY=0",
        "no": "refuses the model's version stamps",
        "unknown": "cannot judge the version stamps",
    }[compat.installed_stamps]
    box[compat.installed_stamps](
        plain(
            f"Version stamps: onnxruntime {compat.installed_ort or '(not installed)'} {text}"
            + (
                ": " + "; ".join(compat.installed_stamp_reasons)
                if compat.installed_stamp_reasons
                else "."
            )
        )
    )
    for s in compat.suggestions:
        st.text("Fix: " + s.text)


def inputs_outputs(ov: Overview) -> None:
    """Inputs and outputs on the left; opset imports and metadata on the right."""
    left, right = st.columns(2)
    with left:
        st.subheader("Inputs")
        st.dataframe(
            [{"name": v.name, "type": v.dtype, "shape": v.shape_text} for v in ov.inputs],
            hide_index=True,
        )
        st.subheader("Outputs")
        st.dataframe(
            [{"name": v.name, "type": v.dtype, "shape": v.shape_text} for v in ov.outputs],
            hide_index=True,
        )
    with right:
        st.subheader("Opset imports")
        st.dataframe(
            [
                {"domain": domain_label(o.domain), "version": o.version, "nodes": o.nodes_using}
                for o in ov.opset_imports
            ],
            hide_index=True,
        )
        if ov.metadata_props:
            st.subheader("Metadata")
            st.dataframe([{"key": k, "value": v} for k, v in ov.metadata_props], hide_index=True)


def external_data(external: ExternalDataReport) -> None:
    """Whether every external tensor was found (nothing when the model has none)."""
    if not (external.tensors or external.unreferenced_files):
        return
    st.subheader("External data")
    if external.ok:
        st.success(f"{len(external.tensors)} external tensors, all found in the uploaded files.")
    else:
        st.error(f"{external.errors} of {len(external.tensors)} external tensors cannot be read.")
    if external.unreferenced_files:
        st.text("Uploaded but not referenced: " + ", ".join(external.unreferenced_files))
    st.page_link("pages/5_External_data.py", label="Every reference, file by file →")


def releases(compat: CompatVerdict) -> None:
    """Each ONNX Runtime release against the model's stamps (open when the installed one does
    not simply accept them)."""
    with st.expander(
        "ONNX Runtime releases: version stamps", expanded=compat.installed_stamps != "yes"
    ):
        st.caption(
            "Each release's measured limits against the model's stamps only: whether a release "
            "has the model's custom ops or kernels is not judged here."
        )
        st.dataframe(
            [
                {"onnxruntime": r.version, "stamps": r.stamps, "why not": "; ".join(r.reasons)}
                for r in compat.releases
            ],
            hide_index=True,
        )


def diagnostics(diagnosis: Diagnosis, check_pending: bool) -> None:
    """The findings; ``check_pending``: ONNX Runtime's load check has not finished yet."""
    if not diagnosis.findings:
        st.success("No findings.")
    else:
        st.dataframe(rows_frame(diagnosis.findings), hide_index=True)
    if check_pending:
        st.caption("ONNX Runtime's load check has not finished: its finding joins these then.")


def cost_totals(cost: CostRecord | str) -> None:
    """The model's FLOPs, parameter bytes and activation peak at the suggested input sizes
    (``cost`` is why not, in words, where they cannot be counted)."""
    st.subheader("Cost at the suggested input sizes")
    if isinstance(cost, str):
        st.caption(plain(f"Not counted: {cost}"))
        return
    cols = st.columns(4)
    bound = "≥ " if cost.unknown_nodes else ""
    cols[0].metric("FLOPs", bound + _si(cost.flops), help=f"{cost.flops:,} FLOPs")
    cols[1].metric("MACs", bound + _si(cost.macs), help=f"{cost.macs:,} MACs")
    cols[2].metric(
        "Parameter bytes", human_bytes(cost.param_bytes), help=f"{cost.param_bytes:,} bytes"
    )
    cols[3].metric(
        "Activation peak (estimate)",
        human_bytes(cost.activation_peak_bytes),
        help=f"{cost.activation_peak_bytes:,} bytes live at "
        f"{plain(cost.activation_peak_node or '—')}, each activation kept from its producer to "
        "its last consumer",
    )
    shapes = ", ".join(f"{name} {list(shape)}" for name, shape in cost.input_shapes)
    left_out = (
        f" {cost.unknown_nodes:,} node(s) of unknown cost are left out: the totals are lower "
        "bounds (the Graph page says why per node)."
        if cost.unknown_nodes
        else ""
    )
    st.caption(
        plain(f"Inputs {shapes or '(none)'}; main graph only, from inferred shapes.{left_out}")
        + " Measured time next to these counts: Compare's Cost tab."
    )


def _si(count: int) -> str:
    """A count with the prefix that keeps it readable: 2.044 G, 16.7 k (a small model's
    FLOPs read "0.000 G" in billions)."""
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if count >= scale * (1 - 5e-4):  # 999,600 is "1 M", not "1e+03 k"
            return f"{count / scale:,.3g} {prefix}"
    return f"{count:,}"
