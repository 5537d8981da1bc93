"""Users (administrator): who can log in, with which role; add a user."""
import pandas as pd
import streamlit as st

from kefu import auth
from kefu.sheets import ROLES, ValidationError
from kefu.ui import context
from kefu.ui.widgets import error_list, yes_no


def render() -> None:
    admin = context.require_view("users")
    store, tr, lang = context.store(), context.tr, context.lang()
    st.title(tr("users.title"))
    rows = auth.list_users(store)
    st.dataframe(pd.DataFrame({
        tr("app.username"): [r["username"] for r in rows],
        tr("app.display_name"): [r["display_name"] for r in rows],
        tr("users.role"): [tr("role." + r["role"]) for r in rows],
        tr("users.active"): [yes_no(r["active"], lang) for r in rows],
        tr("users.last_login"): [(r["last_login_at"] or "")[:16].replace("T", " ") for r in rows],
    }), hide_index=True, width="stretch")
    st.subheader(tr("users.add"))
    with st.form("add_user"):
        columns = st.columns(2)
        username = columns[0].text_input(tr("app.username"))
        display_name = columns[1].text_input(tr("app.display_name"))
        role = columns[0].selectbox(tr("users.role"), ROLES, format_func=lambda r: tr("role." + r))
        password = columns[1].text_input(tr("app.password"), type="password", autocomplete="new-password")
        submitted = st.form_submit_button(tr("users.add"), type="primary")
    if submitted:
        try:
            auth.create_user(store, username, display_name, role, password, admin)
            st.success(tr("users.added", name=username))
        except ValidationError as exc:
            error_list(tr("sheet.fix_errors"), exc.messages(lang))
