"""Who opens what, by URL, in a real browser: every screen's address typed by every role, and by nobody.

The expected matrix is written out here, from DOMAIN.md's roles, not computed from the engine's rules, so a
permission that slips in a sheet file or in the navigation fails this test. A screen a role may not open shows
the notice and nothing of the screen; one it may open shows that screen, marked as the current one in the menu."""
import shutil

import pytest

from browser import CHROMIUM, CHROMIUM_ARGS, Server, log_in, require_chromium
from kefu import auth
from kefu.sheets import ROLES, load_sheets

pytestmark = pytest.mark.browser

EVERYONE_BUT_FINANCE = {"staff", "supervisor", "manager", "gm"}
BOARD = {"supervisor", "manager", "gm"}
# url path -> the roles that open it. Every register with a menu entry and every other screen is listed.
OPENS = {
    "home": set(ROLES),
    "account": set(ROLES),
    "visitors": EVERYONE_BUT_FINANCE | {"admin"},
    "roster": EVERYONE_BUT_FINANCE | {"admin"},
    "customers": EVERYONE_BUT_FINANCE,
    "tickets": EVERYONE_BUT_FINANCE,
    "members": EVERYONE_BUT_FINANCE,
    "events": EVERYONE_BUT_FINANCE,
    "knowledge": EVERYONE_BUT_FINANCE,
    "kpi_reviews": EVERYONE_BUT_FINANCE,
    "partners": EVERYONE_BUT_FINANCE,
    "parts_sales": EVERYONE_BUT_FINANCE,
    "rewards_penalties": EVERYONE_BUT_FINANCE,
    "safety_incidents": EVERYONE_BUT_FINANCE,
    "service_points": EVERYONE_BUT_FINANCE,
    "staff_teams": EVERYONE_BUT_FINANCE,
    "surveys": EVERYONE_BUT_FINANCE,
    "corrective_actions": BOARD,
    "dashboard": {"staff"} | BOARD,
    "reports": BOARD,
    "survey_results": BOARD,
    "imports": BOARD,
    "incentives": {"staff", "manager", "finance"},
    "access_log": {"manager", "gm", "admin"},
    "users": {"admin"},
    "permissions": {"admin"},
    "audit": {"admin"},
    "health": {"admin"},
    "backups": {"admin"},
    "privacy": {"admin"},
}
NOT_ALLOWED = "您的角色无权打开此页面。"


def test_the_matrix_names_every_screen_the_app_has():
    """A new register or screen must be added above, with who opens it, before it ships."""
    menu = {name for name, sheet in load_sheets().items() if sheet.menu}
    assert set(OPENS) == menu | set(auth.VIEW_ROLES)


@pytest.fixture(scope="module")
def server(demo_file, tmp_path_factory):
    require_chromium()
    db = tmp_path_factory.mktemp("access") / "kefu.db"
    shutil.copy(demo_file, db)
    running = Server(db)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def chromium(server):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


TABS = 6      # addresses typed at once, each in its own tab, so the server runs several screens' scripts together


def visit_all(context, base: str, paths) -> dict[str, tuple[str | None, bool, bool]]:
    """Type each address and wait for its answer (the screen, the notice or the login) and for its script to end:
    {path: (the menu's current screen, notice shown, login shown, a table shown)}."""
    tabs = [context.new_page() for _ in range(TABS)]
    paths, seen = list(paths), {}
    for start in range(0, len(paths), TABS):
        batch = list(zip(tabs, paths[start:start + TABS]))
        for page, path in batch:
            page.goto(f"{base}/{'' if path == 'home' else path}")
        for page, path in batch:
            current = page.locator("[data-testid='stSidebarNavLink'][aria-current='page']")
            notice = page.get_by_text(NOT_ALLOWED)
            login = page.get_by_role("button", name="登录", exact=True)
            # the answer decides: a screen shown marks its menu entry at once; a refused one, or the login,
            # is all its page draws (no need to wait for the rest of an allowed screen's script)
            current.or_(notice).or_(login).first.wait_for(timeout=30000)
            shown = current.first.get_attribute("href").removeprefix(base).strip("/") or "home" \
                if current.count() else None
            seen[path] = (shown, notice.count() > 0, login.count() > 0,
                          page.locator("[data-testid='stDataFrame']").count() > 0)
    return seen


@pytest.mark.parametrize("role", ROLES)
def test_each_role_opens_exactly_its_screens_by_url(server, chromium, role):
    context = chromium.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    log_in(context.new_page(), server.url, f"demo-{role}")
    wrong = []
    for path, (shown, refused, login, table) in visit_all(context, server.url, OPENS).items():
        if role in OPENS[path]:
            if shown != path or refused or login:
                wrong.append((path, "should open", shown, refused, login))
        elif shown is not None or not refused or login or table:
            wrong.append((path, "should be refused", shown, refused, login, table))
    context.close()
    assert wrong == []


def test_nobody_logged_in_sees_only_the_login_at_every_url(server, chromium):
    context = chromium.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    seen = visit_all(context, server.url, OPENS)
    context.close()
    assert [path for path, (shown, refused, login, table) in seen.items() if not login or shown or table] == []
