"""Overview: metadata, inputs/outputs, compatibility verdict, external data, diagnostics.

Each section (``pages/common/overview/``) draws one record; ONNX Runtime's load check waits in
the run queue, so its verdict fills a slot near the top once the rest is drawn."""

import streamlit as st

from inspector.run.execute.jobs import Job
from pages.common import models
from pages.common.compare.cost import suggested_cost
from pages.common.overview import check, sections
from pages.common.picker import page_header

model, source = page_header("")

ov = models.record("overview", source)
sections.summary(ov)
compat = models.record("compat", source)  # holds ONNX Runtime's load check once it finished
# Does it load: ONNX Runtime's load check runs in a worker queued like every run (issue 22),
# so the rest of the page is drawn first and the verdict fills this slot at the end.
check_slot = st.empty()
sections.stamps(compat)
sections.inputs_outputs(ov)
sections.cost_totals(suggested_cost(source))  # FLOPs, parameter bytes, activation peak
sections.external_data(models.record("external", source))
sections.releases(compat)

st.subheader("Diagnostics")
diagnostics = st.container()
if ov.doc_string:
    with st.expander("Doc string"):
        st.text(ov.doc_string)

load_check = check.settle(source, check_slot)
with check_slot.container():
    check.show_check(load_check, models.record("compat", source))
with diagnostics:
    sections.diagnostics(models.record("diagnosis", source), isinstance(load_check, Job))
