"""Overview: metadata, inputs/outputs, compatibility verdict, external data, diagnostics."""

from collections.abc import Callable
from typing import Any

import streamlit as st

from inspector.model.compat import INCONCLUSIVE_CHECKS, CompatVerdict
from inspector.model.overview import domain_label
from inspector.records import human_bytes, rows_frame
from inspector.run.jobs import Job
from inspector.run.loadcheck import SessionCheck
from pages.common import models
from pages.common.picker import page_header
from pages.common.tasks import poll, wait_for
from pages.common.text import plain

#: Seconds the script waits for a load check that got a run slot before a polling fragment takes
#: over (one still queued is polled at once): a check takes well under a second, and the verdict
#: then comes with the page.
CHECK_GRACE_S = 10.0
CHECKING = "Checking that onnxruntime creates a session for it"


def show_check(check: SessionCheck | Job, compat: CompatVerdict) -> None:
    """Does the installed onnxruntime load it: ONNX Runtime's own verdict (``compat`` holds it
    once the check finished), or where its check stands in the run queue."""
    if isinstance(check, Job):
        if check.active:
            poll(check, CHECKING)
        else:
            st.error(plain(f"The load check did not finish: {check.error or check.state}"))
        return
    version = check.ort_version or compat.installed_ort
    if check.ok:
        st.success(
            f"onnxruntime {plain(version)} created a session for it (CPU EP, optimizations on) in "
            f"{(check.seconds or 0) * 1000:.0f} ms: it loads this model."
        )
    elif check.kind in INCONCLUSIVE_CHECKS:
        st.warning(plain(f"ONNX Runtime's load check did not finish: {check.message}"))
    else:
        st.error(
            f"onnxruntime {plain(version)} does not load this model: it could not create a "
            f"session: {plain(check.message)}"
        )
    if check.fix:
        st.text("Fix: " + check.fix)
    if compat.load_evidence != "session" and compat.installed_loads == "no":
        st.error(
            plain(
                f"onnxruntime {compat.installed_ort} does not load this model: "
                + "; ".join(compat.installed_load_reasons)
            )
        )


model, source = page_header("")

ov = models.record("overview", source)
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
cols[3].metric("Parameters", f"{c.parameters:,}")
cols[4].metric("Inline weights", human_bytes(c.bytes_inline), help=f"{c.bytes_inline:,} bytes")
cols[5].metric(
    "External weights", human_bytes(c.bytes_external), help=f"{c.bytes_external:,} bytes"
)

compat = models.record("compat", source)  # holds ONNX Runtime's load check once it finished
# Does it load: ONNX Runtime's load check runs in a worker queued like every run (issue 22),
# so the rest of the page is drawn first and the verdict fills this slot at the end.
check_slot = st.empty()
# What the version stamps alone say (a check of the table, not of ONNX Runtime): coloured only
# where they already refuse the model, so "supported stamps" never reads as "it loads".
stamps_box: dict[str, Callable[..., Any]] = {
    "yes": st.caption,
    "with_env": st.warning,
    "no": st.error,
    "unknown": st.caption,
}
stamps_text = {
    "yes": "supports the model's version stamps",
    "with_env": "supports the version stamps only with ALLOW_RELEASED_ONNX_OPSET_ONLY=0",
    "no": "refuses the model's version stamps",
    "unknown": "cannot judge the version stamps",
}[compat.installed_stamps]
stamps_box[compat.installed_stamps](
    plain(
        f"Version stamps: onnxruntime {compat.installed_ort or '(not installed)'} {stamps_text}"
        + (
            ": " + "; ".join(compat.installed_stamp_reasons)
            if compat.installed_stamp_reasons
            else "."
        )
    )
)
for s in compat.suggestions:
    st.text("Fix: " + s.text)

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

external = models.record("external", source)
if external.tensors or external.unreferenced_files:
    st.subheader("External data")
    if external.ok:
        st.success(f"{len(external.tensors)} external tensors, all found in the uploaded files.")
    else:
        st.error(f"{external.errors} of {len(external.tensors)} external tensors cannot be read.")
    if external.unreferenced_files:
        st.text("Uploaded but not referenced: " + ", ".join(external.unreferenced_files))
    st.page_link("pages/5_External_data.py", label="Every reference, file by file →")

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

st.subheader("Diagnostics")
diagnostics = st.container()
if ov.doc_string:
    with st.expander("Doc string"):
        st.text(ov.doc_string)

check = models.load_check(source)
if (
    isinstance(check, Job)
    and check.state == "running"  # it had a free slot
    and wait_for(check, check_slot, CHECKING, CHECK_GRACE_S)
):
    check = models.load_check(source)
with check_slot.container():
    show_check(check, models.record("compat", source))
with diagnostics:
    diagnosis = models.record("diagnosis", source)
    if not diagnosis.findings:
        st.success("No findings.")
    else:
        st.dataframe(rows_frame(diagnosis.findings), hide_index=True)
    if isinstance(check, Job):
        st.caption("ONNX Runtime's load check has not finished: its finding joins these then.")
