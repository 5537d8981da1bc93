"""Kefu Desk entry point: page config, the login gate, and the navigation the user's role allows."""
import streamlit as st

from kefu import auth
from kefu.ui import context, session
from views import account, home, sheet, users, visitors

st.set_page_config(page_title="Kefu Desk 客服台", page_icon=":material/support_agent:", layout="wide")

# Registers with a screen of their own; every other sheet gets the generic screen.
CUSTOM_SCREENS = {"visitors": visitors.render}


def page_for_sheet(name: str, title: str, icon: str) -> st.Page:
    render = CUSTOM_SCREENS.get(name) or sheet.screen_for(name)
    return st.Page(render, title=title, icon=icon, url_path=name)


def navigation(store, user: auth.User) -> st.navigation:
    tr = context.tr
    lang = context.lang()
    pages = {"": [st.Page(home.render, title=tr("nav.home"), icon=":material/today:",
                                      url_path="home", default=True)]}
    registers = [page_for_sheet(name, s.label_in(lang), s.icon) for name, s in store.sheets.items()
                 if auth.can(user, s, "read")]
    registers.sort(key=lambda p: list(CUSTOM_SCREENS).index(p.url_path) if p.url_path in CUSTOM_SCREENS else 99)
    if registers:
        pages[tr("nav.registers")] = registers
    admin = [st.Page(users.render, title=tr("nav.users"), icon=":material/group:", url_path="users")] \
        if auth.can_view(user, "users") else []
    if admin:
        pages[tr("nav.admin")] = admin
    pages[tr("nav.me")] = [st.Page(account.render, title=tr("nav.account"), icon=":material/person:",
                                   url_path="account")]
    return st.navigation(pages)


def main() -> None:
    store = context.store()
    if store.is_empty():
        st.navigation([st.Page(lambda: session.setup_screen(store), title="Kefu Desk", url_path="setup")],
                      position="hidden").run()
        return
    user = session.restore_user(store)
    if user is None:
        st.navigation([st.Page(lambda: session.login_screen(store), title="Kefu Desk", url_path="login")],
                      position="hidden").run()
        return
    session.keep_cookie(store)
    session.sidebar(store, user)
    navigation(store, user).run()


main()
