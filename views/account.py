"""My account: language, password, and who is the user's one superior."""
import streamlit as st

from kefu import auth
from kefu.sheets import ValidationError
from kefu.ui import context
from kefu.ui.text import plain
from kefu.ui.widgets import error_list


def render() -> None:
    user = context.require_view("account")
    store, tr = context.store(), context.tr
    st.title(tr("account.title"))
    st.markdown(f"**{plain(user.display_name)}** · {plain(user.username)} · {tr('role.' + user.role)}")
    superior = auth.superior_of(store, user.id)          # 000 一个上级的原则
    st.caption(tr("account.superior", name=plain(superior.display_name)) if superior else tr("account.no_superior"))
    st.subheader(tr("account.change_password"))
    with st.form("change_password", clear_on_submit=True):
        current = st.text_input(tr("account.current_password"), type="password", autocomplete="current-password")
        new = st.text_input(tr("account.new_password"), type="password", autocomplete="new-password")
        again = st.text_input(tr("app.password_again"), type="password", autocomplete="new-password")
        submitted = st.form_submit_button(tr("account.change_password"), type="primary")
    if submitted:
        if new != again:
            st.error(tr("auth.password_mismatch"))
            return
        try:
            auth.change_password(store, user, current, new)
            st.success(tr("account.password_changed"))
        except ValidationError as exc:
            error_list(tr("sheet.fix_errors"), exc.messages(context.lang()))
