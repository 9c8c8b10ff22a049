"""ONNX Inspector — Streamlit entry point. Run: ``streamlit run app.py``.

Only navigation lives here: widgets created before ``st.navigation`` lose uploads in a real
browser, so every widget is on a page.
"""

import streamlit as st

st.set_page_config(page_title="ONNX Inspector", page_icon="🔎", layout="wide")

pages = [
    st.Page("pages/1_Overview.py", title="Overview", icon="🔎", default=True),
]
st.navigation(pages).run()
