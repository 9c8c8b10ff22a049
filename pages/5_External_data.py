"""External data: every reference checked against the uploaded files, and each file's use."""

import streamlit as st

from inspector.records import rows_frame
from pages.common import models
from pages.common.picker import page_header
from pages.common.text import plain

model, source = page_header("External data")
report = models.record("external", source)
if not report.tensors:
    st.info("No tensor of this model uses external data.")
else:
    if report.ok:
        st.success(f"All {len(report.tensors)} external tensors resolve to uploaded files.")
    else:
        st.error(
            f"{report.errors} of {len(report.tensors)} external tensors cannot be read; "
            "the model cannot run until they are fixed."
        )
    st.subheader("Tensors")
    st.dataframe(
        rows_frame(
            report.tensors,
            [
                "tensor",
                "graph",
                "dtype",
                "shape",
                "location",
                "file",
                "offset",
                "length",
                "expected_bytes",
                "status",
                "messages",
            ],
        ),
        hide_index=True,
    )
    st.subheader("Files")
    st.dataframe(
        [
            {
                "file": f.name,
                "size": "missing" if f.size is None else f.size,
                "tensors": f.tensors,
                "bytes referenced": f.bytes_referenced,
                "gap bytes": f.gap_bytes,
                "overlaps": len(f.overlaps),
            }
            for f in report.files
        ],
        hide_index=True,
    )
if report.unreferenced_files:
    st.warning(
        "Uploaded but not referenced by the model: " + plain(", ".join(report.unreferenced_files))
    )
st.caption(
    "Locations are resolved only against the files uploaded with the model: absolute "
    "paths, '..' and anything else are refused, and nothing on the server is read."
)
