"""ONNX Inspector — Streamlit entry point. Run: ``streamlit run app.py``.

Only navigation lives here: widgets created before ``st.navigation`` lose uploads in a real
browser, so every widget is on a page.
"""

import streamlit as st

from pages.common.nav import PAGES, SHARED_PAGE
from pages.common.server import link_refused, owner, shared

# No icons: a Material page icon becomes a favicon fetched from a third-party font CDN.
st.set_page_config(page_title="ONNX Inspector", layout="wide")

# The owner token first, before any page can be switched away from: a page switch drops the
# URL's ?s=, and a first run cut short by an early click would otherwise lose it. A read-only
# share link (?share=) is no owner: it opens the shared page and nothing else.
if link_refused():  # a share link that was revoked, expired or never existed
    st.error("This read-only link was revoked or has expired: ask its owner for a new one.")
    st.stop()
owner()
if shared() is not None:  # a read-only link opens its page only (Compare)
    pages = [st.Page(SHARED_PAGE, title="Compare", default=True)]
else:
    pages = [st.Page(path, title=title, default=i == 0) for i, (path, title) in enumerate(PAGES)]
st.navigation(pages, position="hidden").run()
