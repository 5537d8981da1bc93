"""Login, first-run setup, the session cookie and the sidebar.

A browser refresh starts a new Streamlit session, so the login lives server-side (kefu.auth) and the
browser keeps only a random token in a cookie, read back with st.context.cookies. The cookie is written
by a tiny st.components.v2 script; it is SameSite=Strict and expires with the session's idle limit.
"""
from __future__ import annotations

import hashlib

import streamlit as st

from kefu import auth, config
from kefu.errors import AuthError
from kefu.i18n import t
from kefu.sheets import ValidationError
from kefu.ui import context
from kefu.ui.widgets import error_list

COOKIE = "kefu_session"
_COOKIE_JS = """
export default function (component) {
  const { data } = component;
  if (!data || !data.name) return;
  const secure = window.location.protocol === "https:" ? "; Secure" : "";
  document.cookie = `${data.name}=${data.value}; path=/; max-age=${data.max_age}; SameSite=Strict${secure}`;
}
"""
_cookie_writer = st.components.v2.component("kefu_session_cookie", js=_COOKIE_JS)


def cookie_widget_key(value: str, max_age: int) -> str:
    """A component key per cookie value; hex only, since a key holding '__' (which a random token can
    contain) is refused by Streamlit's component ids."""
    return f"cookie-{hashlib.sha256(value.encode()).hexdigest()[:16]}-{max_age}"


def _write_cookie(value: str, max_age: int) -> None:
    _cookie_writer(data={"name": COOKIE, "value": value, "max_age": max_age},
                   key=cookie_widget_key(value, max_age), height=0)


def _cookie() -> str | None:
    value = st.context.cookies.get(COOKIE)
    return value if isinstance(value, str) and value else None


def restore_user(store) -> auth.User | None:
    """The user of this browser: from this session, or from the cookie after a refresh."""
    token = st.session_state.get("token") or _cookie()
    user = auth.session_user(store, token)
    if user is None:
        st.session_state.pop("token", None)
        st.session_state.pop("user", None)
        return None
    st.session_state["token"] = token
    st.session_state["user"] = user
    return user


def keep_cookie(store) -> None:
    """Write the session cookie once per session (the browser may not have it yet)."""
    token = st.session_state.get("token")
    if token and st.session_state.get("cookie_written") != token and _cookie() != token:
        _write_cookie(token, int(store.settings.session_idle_hours * 3600))
    st.session_state["cookie_written"] = token


def language_switch(store, user: auth.User | None) -> None:
    current = context.lang()
    choice = st.segmented_control(t("app.language", current), list(config.LANGUAGES), default=current,
                                  format_func=lambda v: {"zh": "简体中文", "en": "English"}[v], key="lang_switch",
                                  required=True)
    if choice and choice != current:
        st.session_state["lang"] = choice
        if user is not None:
            auth.set_language(store, user, choice)
            st.session_state["user"] = auth.get_user(store, user.id)
        st.rerun()


def login_screen(store) -> None:
    lang = context.lang()
    name = store.settings.office_name
    if st.session_state.pop("logged_out", False):
        _write_cookie("", 0)
    _, middle, _ = st.columns([1, 2, 1])
    with middle:
        st.title(name.get(lang, name.get("en", "Kefu Desk")))
        with st.form("login"):
            username = st.text_input(t("app.username", lang), key="login_username", autocomplete="username")
            password = st.text_input(t("app.password", lang), type="password", key="login_password",
                                     autocomplete="current-password")
            submitted = st.form_submit_button(t("app.login", lang), type="primary", width="stretch")
        if submitted:
            try:
                user, token = auth.login(store, username, password)
            except AuthError as exc:
                st.error(exc.message(lang), icon=":material/lock:")
            else:
                st.session_state["token"], st.session_state["user"] = token, user
                if user.language:
                    st.session_state["lang"] = user.language
                st.rerun()
        if auth.has_demo_accounts(store):
            st.caption(t("app.demo_hint", lang))
        language_switch(store, None)


def setup_screen(store) -> None:
    """An empty database: create the system administrator first."""
    lang = context.lang()
    _, middle, _ = st.columns([1, 2, 1])
    with middle:
        st.title(t("app.setup_title", lang))
        st.write(t("app.setup_intro", lang))
        st.caption(str(store.path))
        with st.form("setup"):
            username = st.text_input(t("app.username", lang), value="admin")
            display_name = st.text_input(t("app.display_name", lang))
            password = st.text_input(t("app.password", lang), type="password")
            again = st.text_input(t("app.password_again", lang), type="password")
            submitted = st.form_submit_button(t("app.setup_button", lang), type="primary", width="stretch")
        if submitted:
            if password != again:
                st.error(t("auth.password_mismatch", lang))
                return
            try:
                auth.create_first_admin(store, username, display_name, password)
            except ValidationError as exc:
                error_list(t("sheet.fix_errors", lang), exc.messages(lang))
                return
            st.session_state["setup_done"] = True
            st.rerun()
        language_switch(store, None)


def sidebar(store, user: auth.User) -> None:
    lang = context.lang()
    with st.sidebar:
        st.markdown(f"**{user.display_name}**  \n{t('role.' + user.role, lang)}")
        language_switch(store, user)
        if st.button(t("app.logout", lang), icon=":material/logout:", key="logout", width="stretch"):
            auth.logout(store, st.session_state.get("token"))
            for name in ("token", "user", "cookie_written"):
                st.session_state.pop(name, None)
            st.session_state["logged_out"] = True
            st.rerun()
