"""What `streamlit run serve.py` serves (make run, the browser tests): the app in app.py, plus the routes
that set and clear the login cookie by a response header, out of page scripts' reach (kefu/web.py)."""
import streamlit as st

from kefu.web import ROUTES

app = st.App("app.py", routes=ROUTES)
