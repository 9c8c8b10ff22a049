"""The app's pages, in order: used by app.py's navigation and drawn by the model picker.

The built-in sidebar navigation lists a stray "app" entry when a user opens a deep link
(e.g. ``/Weights``) while a ``pages/`` folder exists (Streamlit 1.67), so the navigation is
hidden and drawn here with ``st.page_link`` instead."""

PAGES = [
    ("pages/1_Overview.py", "Overview"),
    ("pages/2_Graph.py", "Graph"),
    ("pages/3_Weights.py", "Weights"),
    ("pages/4_Subgraphs.py", "Subgraphs"),
    ("pages/5_External_data.py", "External data"),
    ("pages/6_Run_lab.py", "Run lab"),
    ("pages/7_Compare.py", "Compare"),
    ("pages/8_Model_diff.py", "Model diff"),
]

#: The page a read-only share link opens (the only one it opens).
SHARED_PAGE = "pages/7_Compare.py"
