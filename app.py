"""Kefu Desk entry point: page config, the login gate, and the navigation the user's role allows."""
import streamlit as st

from kefu import auth, importing
from kefu.errors import DatabaseUnavailable
from kefu.ui import context, session
from views import access_log, account, customers, dashboard, events, home, members, reports, sheet, tickets, users
from views import visitors
from views import backups, imports, incentives, kiosk, surveys
from views import survey_reports as survey_reports_view
from views import audit, health, permissions, privacy
from views import office_rules as office_rules_view
from views import designer as designer_view

st.set_page_config(page_title="Kefu Desk 客服台", page_icon=":material/support_agent:", layout="wide")

# Registers with a screen of their own; every other sheet gets the generic screen.
CUSTOM_SCREENS = {"tickets": tickets.render, "visitors": visitors.render, "customers": customers.render,
                  "members": members.render, "events": events.render}
OTHER_PATHS = ("dashboard", "reports", "survey_results", "survey_reports", "incentives", "imports", "backups",
               "access_log", "users", "permissions", "audit", "health", "privacy", "office_rules", "designer", "account")
STAND_IN_ICON = ":material/block:"


def page_for_sheet(name: str, title: str, icon: str) -> st.Page:
    render = CUSTOM_SCREENS.get(name) or sheet.screen_for(name)
    return st.Page(render, title=title, icon=icon, url_path=name)


def stand_in(render, url_path: str) -> st.Page:
    """A hidden page answering a URL this user may not open (yet): the login screen, or a notice,
    never the screen itself, and no English 'page not found' dialog."""
    def page() -> None:
        render()
    page.__name__ = f"stand_in_{url_path}"
    return st.Page(page, title="Kefu Desk", icon=STAND_IN_ICON, url_path=url_path, visibility="hidden")


def today() -> None:
    home.render()


def not_allowed() -> None:
    st.warning(context.tr("app.not_allowed"), icon=":material/block:")


def navigation(store, user: auth.User) -> st.navigation:
    tr = context.tr
    lang = context.lang()
    # The default page is served at "/" only; a hidden page answers "/home" (the login keeps that URL).
    pages = {"": [st.Page(today, title=tr("nav.home"), icon=":material/today:", default=True),
                  stand_in(home.render, "home")]}
    registers = [page_for_sheet(name, s.label_in(lang), s.icon) for name, s in store.sheets.items()
                 if s.menu and auth.can(user, s, "read")]
    registers.sort(key=lambda p: list(CUSTOM_SCREENS).index(p.url_path) if p.url_path in CUSTOM_SCREENS else 99)
    if registers:
        pages[tr("nav.registers")] = registers
    if auth.can_view(user, "dashboard"):
        pages.setdefault(tr("rp.nav_section"), []).append(
            st.Page(dashboard.render, title=tr("nav.dashboard"), icon=":material/monitoring:", url_path="dashboard"))
    if auth.can_view(user, "reports"):
        pages.setdefault(tr("rp.nav_section"), []).append(
            st.Page(reports.render, title=tr("nav.reports"), icon=":material/bar_chart:", url_path="reports"))
    if auth.can_view(user, "survey_results"):
        pages.setdefault(tr("rp.nav_section"), []).append(
            st.Page(surveys.render, title=tr("sv.nav"), icon=":material/sentiment_satisfied:",
                    url_path="survey_results"))
    if auth.can_view(user, "survey_reports"):
        pages.setdefault(tr("rp.nav_section"), []).append(
            st.Page(survey_reports_view.render, title=tr("svr.nav"), icon=":material/summarize:",
                    url_path="survey_reports"))
    if auth.can_view(user, "incentives"):
        pages.setdefault(tr("rp.nav_section"), []).append(
            st.Page(incentives.render, title=tr("ic.nav"), icon=":material/paid:", url_path="incentives"))
    admin = []
    if auth.can_view(user, "imports") and importing.importable_sheets(store, user):
        admin.append(st.Page(imports.render, title=tr("im.nav"), icon=":material/upload_file:", url_path="imports"))
    if auth.can_view(user, "users"):
        admin.append(st.Page(users.render, title=tr("nav.users"), icon=":material/group:", url_path="users"))
    if auth.can_view(user, "permissions"):
        admin.append(st.Page(permissions.render, title=tr("adm.nav_permissions"),
                             icon=":material/admin_panel_settings:", url_path="permissions"))
    if auth.can_view(user, "audit"):
        admin.append(st.Page(audit.render, title=tr("adm.nav_audit"), icon=":material/history:", url_path="audit"))
    if auth.can_view(user, "access_log"):
        admin.append(st.Page(access_log.render, title=tr("nav.access_log"), icon=":material/policy:",
                             url_path="access_log"))
    if auth.can_view(user, "health"):
        admin.append(st.Page(health.render, title=tr("adm.nav_health"), icon=":material/monitor_heart:",
                             url_path="health"))
    if auth.can_view(user, "backups"):
        admin.append(st.Page(backups.render, title=tr("bk.nav"), icon=":material/backup:", url_path="backups"))
    if auth.can_view(user, "privacy"):
        admin.append(st.Page(privacy.render, title=tr("pv.nav"), icon=":material/shield_person:", url_path="privacy"))
    if auth.can_view(user, "office_rules"):
        admin.append(st.Page(office_rules_view.render, title=tr("or.nav"), icon=":material/tune:",
                             url_path="office_rules"))
    if auth.can_view(user, "designer"):
        admin.append(st.Page(designer_view.render, title=tr("dz.nav"), icon=":material/design_services:",
                             url_path="designer"))
    if admin:
        pages[tr("nav.admin")] = admin
    pages[tr("nav.me")] = [st.Page(account.render, title=tr("nav.account"), icon=":material/person:",
                                   url_path="account")]
    offered = {p.url_path for group in pages.values() for p in group}
    menu_sheets = [name for name, s in store.sheets.items() if s.menu]
    hidden = [stand_in(not_allowed, path) for path in (*menu_sheets, *OTHER_PATHS, "survey") if path not in offered]
    if hidden:
        pages[""] += hidden
    return st.navigation(pages, expanded=True)      # every screen listed (no English "View more")


def gate(render, store) -> None:
    """Logged out: every known URL shows `render` (login or setup); after login the URL still names
    the screen the user asked for, and it opens."""
    paths = ("home", "survey", *[name for name, s in store.sheets.items() if s.menu], *OTHER_PATHS)
    st.navigation([st.Page(render, title="Kefu Desk", url_path="login", default=True)]
                  + [stand_in(render, path) for path in paths], position="hidden").run()


def kiosk_gate(store, identity: auth.User) -> None:
    """The survey kiosk: the survey at every URL, no navigation, no login, no cookie, no user."""
    def survey() -> None:
        kiosk.render(store, identity)

    def kiosk_start() -> None:           # the default page answers "/" only; "/survey" is a stand-in
        kiosk.render(store, identity)
    paths = ("survey", "login", "home", *[name for name, s in store.sheets.items() if s.menu], *OTHER_PATHS)
    st.navigation([st.Page(kiosk_start, title="Kefu Desk", default=True)]
                  + [stand_in(survey, path) for path in paths], position="hidden").run()


def main() -> None:
    store = context.store()
    identity = kiosk.identity(store)            # the kiosk URL's token: before, and instead of, the login
    if identity is not None:
        kiosk_gate(store, identity)
        return
    if store.is_empty():
        gate(lambda: session.setup_screen(store), store)
        return
    user = session.restore_user(store)
    if user is None:
        gate(lambda: session.login_screen(store), store)
        return
    session.keep_cookie(store)
    session.sidebar(store, user)
    navigation(store, user).run()


try:
    main()
except DatabaseUnavailable as exc:           # the database went away during this run: a notice, not a traceback
    context.database_gone(exc)
