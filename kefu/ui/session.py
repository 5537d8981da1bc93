"""Login, first-run setup, the session cookie and the sidebar.

A browser refresh starts a new Streamlit session, so the login lives server-side (kefu.auth) and the
browser keeps a random key in a cookie, read back with st.context.cookies. The cookie is HttpOnly: page
script never sees it. After a login a tiny st.components.v2 script posts a one-time code to the server
(kefu/web.py), whose answer sets the cookie; logging out posts there again to clear it.
"""
from __future__ import annotations

import hashlib

import streamlit as st

from kefu import auth, config
from kefu.errors import AuthError
from kefu.i18n import t
from kefu.sheets import ValidationError
from kefu.ui import context
from kefu.ui.text import plain
from kefu.ui.widgets import error_list
from kefu.web import COOKIE, LOGOUT_PATH, SESSION_PATH

_COOKIE_JS = """
export default function (component) {
  const { data } = component;
  if (!data || !data.path) return;
  fetch(data.path, { method: "POST", credentials: "same-origin", cache: "no-store",
                     headers: { "Content-Type": "application/json" }, body: JSON.stringify({ code: data.code }) });
}
"""
_cookie_poster = st.components.v2.component("kefu_session_cookie", js=_COOKIE_JS)


def cookie_widget_key(value: str, action: str) -> str:
    """A component key per code and action; hex only, since a key holding '__' (which a random code can
    contain) is refused by Streamlit's component ids."""
    return f"cookie-{action}-{hashlib.sha256(value.encode()).hexdigest()[:16]}"


def _server_path(path: str) -> str:
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}{path}" if base else path


def _post_cookie(path: str, code: str, action: str) -> None:
    _cookie_poster(data={"path": _server_path(path), "code": code}, key=cookie_widget_key(code, action), height=0)


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
    """Give the browser its session cookie once per login: a one-time code its script trades with the
    server, whose answer sets the cookie (a browser restored from its cookie has it already)."""
    token = st.session_state.get("token")
    if token and st.session_state.get("cookie_written") != token and _cookie() != token:
        code = auth.handoff(store, token)
        if code:
            _post_cookie(SESSION_PATH, code, "set")
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
        _post_cookie(LOGOUT_PATH, "", "clear")
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
        st.caption(store.shown_location)
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
        st.markdown(f"**{plain(user.display_name)}**  \n{t('role.' + user.role, lang)}")
        language_switch(store, user)
        if st.button(t("app.logout", lang), icon=":material/logout:", key="logout", width="stretch"):
            auth.logout(store, st.session_state.get("token"))
            for name in ("token", "user", "cookie_written"):
                st.session_state.pop(name, None)
            st.session_state["logged_out"] = True
            st.rerun()
