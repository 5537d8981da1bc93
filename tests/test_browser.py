"""End to end in headless Chromium against `streamlit run`: the reception desk's day, the CSV,
forbidden URLs, and a refresh that keeps the login. Also refreshes the README's screenshots."""
import csv
import io
import shutil
import sqlite3

import pytest
from playwright.sync_api import expect

from browser import CHROMIUM, CHROMIUM_ARGS, Server, log_in, require_chromium, settle, shoot

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(demo_file, tmp_path_factory):
    require_chromium()
    db = tmp_path_factory.mktemp("browser") / "kefu.db"
    shutil.copy(demo_file, db)
    running = Server(db)
    running.db = db
    yield running
    running.stop()


@pytest.fixture(scope="module")
def chromium(server):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True, locale="zh-CN")
    yield context.new_page()
    context.close()


def query(db, sql, *params):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def test_reception_day_check_in_check_out_and_csv(server, page):
    log_in(page, server.url, "demo-supervisor")
    settle(page)
    shoot(page, "home")
    name = query(server.db, "SELECT visitor_name FROM visitors WHERE arrived_at IS NULL AND appointment_at >= date('now') "
                            "AND deleted_at IS NULL ORDER BY appointment_at LIMIT 1")[0][0]
    expected = page.locator(".st-key-home_expected")
    present = page.locator(".st-key-home_present")
    assert expected.get_by_text(name).count() == 1
    expected.get_by_role("button", name="签到").first.click()
    present.get_by_text(name).wait_for(timeout=15000)
    expect(expected.get_by_text(name)).to_have_count(0, timeout=15000)
    assert query(server.db, "SELECT count(*) FROM visitors WHERE visitor_name = ? AND arrived_at IS NOT NULL "
                            "AND left_at IS NULL", name)[0][0] == 1

    row = present.locator("[data-testid='stHorizontalBlock']").filter(has_text=name)
    row.get_by_role("button", name="签离").click()
    expect(present.get_by_text(name)).to_have_count(0, timeout=15000)
    assert query(server.db, "SELECT count(*) FROM visitors WHERE visitor_name = ? AND left_at IS NOT NULL", name)[0][0] == 1

    page.goto(f"{server.url}/visitors")
    page.get_by_role("heading", name="来访登记").first.wait_for(timeout=20000)
    page.locator("[data-testid='stDataFrame']").wait_for(timeout=20000)
    shoot(page, "visitors")
    with page.expect_download(timeout=30000) as download:
        page.get_by_role("button", name="下载 CSV").click()
    data = open(download.value.path(), "rb").read()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:2] == ["编号", "来访人姓名"]
    visits = query(server.db, "SELECT count(*) FROM visitors WHERE deleted_at IS NULL")[0][0]
    assert len(rows) == visits + 1
    assert any(r[1] == name for r in rows)
    phone = rows[0].index("联系电话")
    assert all("****" in r[phone] for r in rows[1:])            # a supervisor's CSV is masked


def test_forbidden_url_shows_nothing(server, chromium):
    fresh = chromium.new_context(viewport={"width": 1400, "height": 900})
    page = fresh.new_page()
    page.goto(f"{server.url}/visitors")
    page.get_by_role("button", name="登录").wait_for(timeout=20000)
    settle(page)
    assert page.get_by_role("heading", name="来访登记").count() == 0     # a fresh session sees only the login
    assert page.locator("[data-testid='stDataFrame']").count() == 0
    page.get_by_label("用户名").fill("demo-staff")                         # ...and after it, what it asked for
    page.get_by_label("密码").fill("kefu-demo")
    page.get_by_role("button", name="登录").click()
    page.get_by_role("heading", name="来访登记").first.wait_for(timeout=20000)
    fresh.close()

    fresh = chromium.new_context(viewport={"width": 1400, "height": 900})
    page = fresh.new_page()
    log_in(page, server.url, "demo-staff")
    page.goto(f"{server.url}/users")
    page.get_by_text("您的角色无权打开此页面。").wait_for(timeout=20000)
    assert page.get_by_role("heading", name="用户管理").count() == 0
    assert page.get_by_text("demo-admin").count() == 0                     # no user list leaks
    fresh.close()


def test_refresh_keeps_the_login_and_logout_ends_it(server, page):
    log_in(page, server.url, "demo-manager")
    settle(page)
    page.reload()
    page.get_by_role("heading", name="刘芳，您好").wait_for(timeout=20000)
    page.goto(f"{server.url}/roster")
    page.get_by_role("heading", name="排班表").wait_for(timeout=20000)
    page.locator("[data-testid='stDataFrame']").wait_for(timeout=20000)
    shoot(page, "roster")
    page.get_by_role("button", name="退出登录").click()
    page.get_by_role("button", name="登录").wait_for(timeout=20000)
    page.reload()
    page.get_by_role("button", name="登录").wait_for(timeout=20000)
    assert page.get_by_role("heading", name="刘芳，您好").count() == 0


def test_login_screen_and_english(server, page):
    page.goto(server.url)
    page.get_by_role("button", name="登录").wait_for(timeout=20000)
    settle(page)
    shoot(page, "login")
    log_in(page, server.url, "demo-gm")
    page.get_by_text("English").click()
    page.get_by_role("heading", name="Good day").wait_for(timeout=20000)
    page.goto(f"{server.url}/visitors")
    page.get_by_role("heading", name="Visitor log").first.wait_for(timeout=20000)
    page.locator("[data-testid='stDataFrame']").wait_for(timeout=20000)
    shoot(page, "visitors-en")
    page.get_by_text("简体中文").click()                                     # leave the account as it was
    page.get_by_role("heading", name="来访登记").first.wait_for(timeout=20000)


def click_first_row(page) -> None:
    """Tick the first row of the grid (a canvas: click where its checkbox is drawn)."""
    grid = page.locator("[data-testid='stDataFrame']").first
    grid.wait_for(timeout=20000)
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 14, box["y"] + 35 + 17)


def open_archive(page, base: str, code: str) -> None:
    """Search the archives for a code and open the one found."""
    page.goto(f"{base}/customers")
    page.locator("[data-testid='stDataFrame']").first.wait_for(timeout=20000)
    settle(page)
    page.get_by_placeholder("客户名称").fill(code)
    page.keyboard.press("Enter")
    page.get_by_text("共 1 条").wait_for(timeout=20000)
    click_first_row(page)


def test_archive_masked_for_staff_revealed_for_manager_and_logged(server, page, chromium):
    code, phone, archive_id = query(server.db, "SELECT code, phone, id FROM customers WHERE owner = (SELECT id FROM "
                                               "kefu_users WHERE username = 'demo-staff') ORDER BY id LIMIT 1")[0]
    masked = phone[:3] + "****" + phone[-4:]
    log_in(page, server.url, "demo-staff")
    open_archive(page, server.url, code)
    page.get_by_text("您的角色看到的个人信息已做脱敏处理。").wait_for(timeout=20000)
    assert page.get_by_text(masked).count() >= 1 and page.get_by_text(phone).count() == 0
    shoot(page, "customer-staff")

    manager = chromium.new_context(viewport={"width": 1400, "height": 1000})
    boss = manager.new_page()
    log_in(boss, server.url, "demo-manager")
    open_archive(boss, server.url, code)
    boss.get_by_text("显示个人信息").click()
    boss.get_by_text(phone).first.wait_for(timeout=20000)
    shoot(boss, "customer-manager")
    boss.goto(f"{server.url}/access_log")
    boss.get_by_role("heading", name="访问日志").wait_for(timeout=20000)
    settle(boss)
    assert query(server.db, "SELECT count(*) FROM kefu_access_log WHERE username = 'demo-manager' AND row_id = ? "
                            "AND action = 'view'", archive_id)[0][0] == 1
    shoot(boss, "access-log")
    manager.close()
