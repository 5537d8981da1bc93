"""Who opens what, by URL, in a real browser. tests/test_app.py checks the whole matrix of tests/screens.py
(every role, every screen) through AppTest; here each role's menu in Chromium must offer exactly its screens, and
every screen's address is typed by one role that may open it and by one that may not (the roles take turns),
and by nobody logged in. A screen a role may not open shows the notice and nothing of the screen; one it may
open shows that screen, marked as the current one in the menu."""
import pytest

from browser import log_in
from kefu.sheets import ROLES
from screens import DEMO, NOT_ALLOWED, OPENS, opens

pytestmark = pytest.mark.browser
TABS = 6      # addresses typed at once, each in its own tab, so the server runs several screens' scripts together


def typed_by(role: str) -> list[str]:
    """The addresses `role` types: for the i-th screen, the i-th of the roles that open it (in turn) and the
    i-th of those that may not, so every screen is typed both ways and each role types a share."""
    typed = []
    for turn, (path, roles) in enumerate(OPENS.items()):
        openers, others = sorted(roles), sorted(set(ROLES) - roles)
        if openers[turn % len(openers)] == role or (others and others[turn % len(others)] == role):
            typed.append(path)
    return typed


def test_every_screen_is_typed_by_one_role_that_opens_it_and_one_that_may_not():
    for path, roles in OPENS.items():
        typing = {role for role in ROLES if path in typed_by(role)}
        assert typing & roles and (typing - roles or roles == set(ROLES)), path


def menu(page, base: str) -> set[str]:
    links = page.locator("[data-testid='stSidebarNavLink']")
    links.first.wait_for(timeout=20000)
    return {href.removeprefix(base).strip("/") or "home" for href in (links.nth(n).get_attribute("href")
                                                                      for n in range(links.count()))}


def visit_all(context, base: str, paths) -> dict[str, tuple[str | None, bool, bool, bool]]:
    """Type each address and wait for its answer (the screen, the notice or the login):
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
def test_each_role_is_offered_its_screens_and_opens_only_those_by_url(server, chromium, role):
    context = chromium.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page = context.new_page()
    log_in(page, server.url, DEMO[role])
    assert menu(page, server.url) == opens(role)
    wrong = []
    for path, (shown, refused, login, table) in visit_all(context, server.url, typed_by(role)).items():
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
