"""ONNX Inspector — Streamlit entry point. Run: ``streamlit run app.py``.

Only navigation lives here: widgets created before ``st.navigation`` lose uploads in a real
browser, so every widget is on a page.
"""

import streamlit as st

st.set_page_config(page_title="ONNX Inspector", page_icon=":material/search:", layout="wide")

pages = [
    st.Page("pages/1_Overview.py", title="Overview", icon=":material/search:", default=True),
    st.Page("pages/2_Graph.py", title="Graph", icon=":material/account_tree:"),
    st.Page("pages/3_Weights.py", title="Weights", icon=":material/scale:"),
    st.Page("pages/4_Subgraphs.py", title="Subgraphs", icon=":material/lan:"),
    st.Page("pages/5_External_data.py", title="External data", icon=":material/inventory_2:"),
    st.Page("pages/6_Run_lab.py", title="Run lab", icon=":material/science:"),
    st.Page("pages/7_Compare.py", title="Compare", icon=":material/bar_chart:"),
]
st.navigation(pages).run()
