"""ONNX Inspector — Streamlit entry point. Run: ``streamlit run app.py``.

Only navigation lives here: widgets created before ``st.navigation`` lose uploads in a real
browser, so every widget is on a page.
"""

import streamlit as st

# No icons: a Material page icon becomes a favicon fetched from a third-party font CDN.
st.set_page_config(page_title="ONNX Inspector", layout="wide")

pages = [
    st.Page("pages/1_Overview.py", title="Overview", default=True),
    st.Page("pages/2_Graph.py", title="Graph"),
    st.Page("pages/3_Weights.py", title="Weights"),
    st.Page("pages/4_Subgraphs.py", title="Subgraphs"),
    st.Page("pages/5_External_data.py", title="External data"),
    st.Page("pages/6_Run_lab.py", title="Run lab"),
    st.Page("pages/7_Compare.py", title="Compare"),
]
st.navigation(pages).run()
