"""The screens on PostgreSQL, in Chromium (`make test-pg`): the demo office moved from its SQLite file into a
fresh PostgreSQL database (python -m kefu migrate-to), the app served on it, and each of three roles opens every
screen it may open, as a user clicks through the menu. Each screen must draw (its menu entry current, no error
box, no traceback) and its tables and figures come from PostgreSQL. A ticket logged on the screen is then found
in the database with its audit row."""
import subprocess
import sys

import pytest

from browser import ROOT, Server, fill_in_a_call, launched_chromium, log_in, require_chromium, settle
from conftest import PG, drop_pg_databases, new_pg_database
from screens import DEMO, OPENS

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not PG, reason="PostgreSQL only (make test-pg)")]


@pytest.fixture(scope="module")
def pg_server(demo_file, tmp_path_factory):
    require_chromium()
    made = []
    url = new_pg_database(made, prefix="browser")
    moved = subprocess.run([sys.executable, "-m", "kefu", "migrate-to", url, "--from", str(demo_file), "--lang", "en"],
                           capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert moved.returncode == 0, moved.stderr
    running = Server(url, log=tmp_path_factory.mktemp("browser_pg") / "streamlit.log")
    running.db = url
    yield running
    running.stop()
    drop_pg_databases(made)


@pytest.fixture(scope="module")
def browser(pg_server):
    with launched_chromium() as launched:
        yield launched


def drawn(page, base: str, path: str) -> tuple[str | None, int]:
    """Open `path` from the menu's address and wait for its script to finish: (the menu's current screen, the
    number of error boxes and tracebacks on the page)."""
    page.goto(f"{base}/{'' if path == 'home' else path}")
    current = page.locator("[data-testid='stSidebarNavLink'][aria-current='page']")
    current.first.wait_for(timeout=30000)
    settle(page, timeout=60000)
    shown = current.first.get_attribute("href").removeprefix(base).strip("/") or "home"
    return shown, page.locator("[data-testid='stException'], [data-testid='stAlertContentError']").count()


@pytest.mark.parametrize("role", ["manager", "staff", "admin"])
def test_every_screen_a_role_opens_draws_on_postgresql(pg_server, browser, role, tmp_path):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page = context.new_page()
    log_in(page, pg_server.url, DEMO[role])
    wrong = []
    for path in [path for path, roles in OPENS.items() if role in roles]:
        shown, errors = drawn(page, pg_server.url, path)
        if shown != path or errors:
            page.screenshot(path=str(tmp_path / f"{path}.png"))
            wrong.append((path, shown, errors))
    context.close()
    assert wrong == []


def test_a_ticket_logged_on_the_screen_is_in_postgresql_with_its_audit_row(pg_server, browser):
    import psycopg
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    page = context.new_page()
    log_in(page, pg_server.url, DEMO["staff"])
    fill_in_a_call(page, pg_server.url, "空调维修后仍然漏水，数据库是 PostgreSQL")
    page.get_by_role("button", name="登记工单").click()
    page.get_by_text("请将工单号告知来电人").wait_for(timeout=20000)
    with psycopg.connect(pg_server.db) as conn:
        (number, ticket_id), = conn.execute("SELECT ticket_no, id FROM tickets WHERE subject LIKE %s",
                                            ("%数据库是 PostgreSQL%",)).fetchall()
        audited = conn.execute("SELECT count(*) FROM kefu_audit WHERE sheet = 'tickets' AND action = 'create' "
                               "AND row_id = %s", (ticket_id,)).fetchone()[0]
    assert page.get_by_text(number).count() >= 1          # the number the caller is told is the stored one
    context.close()
    assert audited == 1
