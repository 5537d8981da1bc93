"""End to end in headless Chromium against `streamlit run`: the reception desk's day, the CSV,
forbidden URLs, a refresh that keeps the login, and a file import. Also refreshes the README's screenshots."""
import csv
import io
import sqlite3
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from browser import fill_in_a_call, log_in, settle, shoot, wait_for_session_cookie
from conftest import book_today

pytestmark = pytest.mark.browser


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True, locale="zh-CN")
    yield context.new_page()
    context.close()


def query(db, sql, *params):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def test_reception_day_check_in_check_out_and_csv(server, page):
    name = "司马静怡"
    visit = book_today(server.db, name)                              # the first of 今日预约 at any hour
    log_in(page, server.url, "demo-supervisor")
    settle(page)
    shoot(page, "home")
    expected = page.locator(".st-key-home_expected")
    present = page.locator(".st-key-home_present")
    assert expected.get_by_text(name).count() == 1
    expected.get_by_role("button", name="签到").first.click()
    present.get_by_text(name).wait_for(timeout=15000)
    expect(expected.get_by_text(name)).to_have_count(0, timeout=15000)
    # by the record, not the name: a month of demo visitors may hold an earlier visitor of the same name
    assert query(server.db, "SELECT arrived_at IS NOT NULL AND left_at IS NULL FROM visitors WHERE id = ?", visit) == [(1,)]

    row = present.locator("[data-testid='stHorizontalBlock']").filter(has_text=name)
    row.get_by_role("button", name="签离").click()
    expect(present.get_by_text(name)).to_have_count(0, timeout=15000)
    assert query(server.db, "SELECT left_at IS NOT NULL FROM visitors WHERE id = ?", visit) == [(1,)]

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
    cookie = wait_for_session_cookie(page)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    assert cookie["value"] not in page.evaluate("document.cookie")          # out of page scripts' reach
    assert "kefu_session" not in page.evaluate("document.cookie")
    page.reload()
    page.get_by_role("heading", name="刘芳，您好").wait_for(timeout=20000)
    page.goto(f"{server.url}/roster")
    page.get_by_role("heading", name="排班表").wait_for(timeout=20000)
    page.locator("[data-testid='stDataFrame']").wait_for(timeout=20000)
    shoot(page, "roster")
    page.get_by_role("button", name="退出登录").click()
    page.get_by_role("button", name="登录").wait_for(timeout=20000)
    assert wait_for_session_cookie(page, present=False) is None          # cleared by the server's answer
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


def search_archives(page, base: str, code: str, found: int = 1) -> None:
    """Search the archives for a code and wait for the count the list says."""
    page.goto(f"{base}/customers")
    page.locator("[data-testid='stDataFrame']").first.wait_for(timeout=20000)
    settle(page)
    page.get_by_placeholder("客户名称").fill(code)
    page.keyboard.press("Enter")
    page.get_by_text(f"共 {found} 条").wait_for(timeout=20000)


def open_archive(page, base: str, code: str) -> None:
    """Search the archives for a code and open the one found."""
    search_archives(page, base, code)
    click_first_row(page)


def test_archive_masked_until_revealed_by_its_keeper_revealed_by_the_gm_and_logged(server, page, chromium):
    code, phone, archive_id = query(server.db, "SELECT code, phone, id FROM customers WHERE owner = (SELECT id FROM "
                                               "kefu_users WHERE username = 'demo-staff') ORDER BY id LIMIT 1")[0]
    masked = phone[:3] + "****" + phone[-4:]
    log_in(page, server.url, "demo-staff")
    open_archive(page, server.url, code)
    page.get_by_text("显示个人信息").wait_for(timeout=20000)         # the keeper may reveal (专人管理), not yet
    assert page.get_by_text(masked).count() >= 1 and page.get_by_text(phone).count() == 0
    shoot(page, "customer-staff")

    gm = chromium.new_context(viewport={"width": 1400, "height": 1000})
    boss = gm.new_page()
    log_in(boss, server.url, "demo-gm")
    open_archive(boss, server.url, code)
    boss.get_by_text("显示个人信息").click()
    boss.get_by_text(phone).first.wait_for(timeout=20000)
    shoot(boss, "customer-gm")
    boss.goto(f"{server.url}/access_log")
    boss.get_by_role("heading", name="访问日志").wait_for(timeout=20000)
    settle(boss)
    assert query(server.db, "SELECT count(*) FROM kefu_access_log WHERE username = 'demo-gm' AND row_id = ? "
                            "AND action = 'view'", archive_id)[0][0] == 1
    shoot(boss, "access-log")
    gm.close()


def test_未经总经理授权_the_supervisor_asks_the_gm_grants_and_the_archive_closes_again_when_the_grant_ends(
        server, page, chromium):
    """The supervisor asks for an archive he may not read; the gm grants it; he opens it; once the grant's
    days are over (its end moved into the past in the database, as the days passing would) it is refused again."""
    code, archive_id = query(server.db, "SELECT code, id FROM customers WHERE owner = (SELECT id FROM kefu_users "
                                        "WHERE username = 'staff02') AND deleted_at IS NULL ORDER BY id LIMIT 1")[0]
    log_in(page, server.url, "demo-supervisor")
    page.goto(f"{server.url}/customers")
    page.get_by_role("tab", name="申请查阅").click()
    page.get_by_label("档案编号").fill(code)
    page.get_by_label("事由").fill("客户来电投诉，需核对交易记录")
    page.get_by_role("button", name="提交申请").click()
    page.get_by_text("已提交，总经理答复后显示在下方。").wait_for(timeout=20000)

    gm = chromium.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    boss = gm.new_page()
    log_in(boss, server.url, "demo-gm")
    boss.goto(f"{server.url}/customers")
    boss.get_by_role("tab", name="查阅授权").click()
    asked = query(server.db, "SELECT id FROM kefu_access_requests WHERE code = ? AND state = 'open'", code)[0][0]
    boss.locator(f".st-key-customers__requests__request_{asked}").get_by_role("button", name="批准", exact=True).click()
    boss.get_by_text("没有待处理的查阅申请。").wait_for(timeout=20000)
    gm.close()

    open_archive(page, server.url, code)
    page.get_by_role("tab", name="记录详情").wait_for(timeout=20000)          # the archive, open
    query(server.db, "UPDATE kefu_grants SET expires_at = ? WHERE row_id = ? AND user_id = (SELECT id FROM kefu_users "
                     "WHERE username = 'demo-supervisor')", time.time() - 60, archive_id)
    search_archives(page, server.url, code, found=0)                       # refused again: not in his list


def open_ticket(page, base: str, number: str) -> None:
    """Find a ticket by its number in "all tickets" and open it."""
    page.goto(f"{base}/tickets")
    page.get_by_role("tab", name="全部工单").click()
    settle(page)
    page.get_by_placeholder("工单号").fill(number)
    page.keyboard.press("Enter")
    page.get_by_text("共 1 条").wait_for(timeout=20000)
    settle(page)
    grid = page.get_by_role("tabpanel", name="全部工单").locator("[data-testid='stDataFrame']").first
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 14, box["y"] + 35 + 17)
    page.get_by_role("heading", name=number).first.wait_for(timeout=20000)
    settle(page)


def take_step(page, step: str) -> None:
    """Choose a step in the open ticket's panel and take it."""
    page.locator("[class*='tickets__all__step_'][class*='__which'] button", has_text=step).click()
    go = page.locator("[class*='tickets__all__step_'][class*='__go'] button", has_text=step)
    go.wait_for(timeout=20000)
    settle(page)
    go.click()
    settle(page)


def test_a_complaint_from_call_to_follow_up_by_three_people(server, chromium):
    names = dict(query(server.db, "SELECT username, display_name FROM kefu_users"))
    people = {}
    for username in ("demo-staff", "demo-supervisor", "demo-gm"):
        context = chromium.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
        people[username] = context.new_page()
        log_in(people[username], server.url, username)
    staff, supervisor, gm = people["demo-staff"], people["demo-supervisor"], people["demo-gm"]

    fill_in_a_call(staff, server.url, "空调维修后仍然漏水")
    shoot(staff, "ticket-intake")
    staff.get_by_role("button", name="登记工单").click()
    staff.get_by_text("请将工单号告知来电人").wait_for(timeout=20000)
    number, ticket_id = query(server.db, "SELECT ticket_no, id FROM tickets ORDER BY id DESC LIMIT 1")[0]
    assert staff.get_by_text(number).count() >= 1

    open_ticket(supervisor, server.url, number)
    supervisor.get_by_role("combobox", name="分派给").click()
    supervisor.keyboard.type(names["demo-staff"])             # a long list: typing narrows it
    supervisor.get_by_role("option", name=names["demo-staff"], exact=True).click()
    settle(supervisor)
    supervisor.locator("[class*='tickets__all__step_'][class*='__comment'] input").fill("请今天联系客户")
    take_step(supervisor, "分派")

    open_ticket(staff, server.url, number)
    take_step(staff, "开始处理")
    take_step(staff, "提交审批")

    open_ticket(gm, server.url, number)
    take_step(gm, "审批通过")

    open_ticket(staff, server.url, number)
    take_step(staff, "已反馈客户")
    staff.locator("[class*='tickets__all__step_'][class*='__which'] button", has_text="完成回访").click()
    staff.locator("[class*='tickets__all__step_'][class*='__go'] button", has_text="完成回访").wait_for(timeout=20000)
    settle(staff)
    staff.locator("[class*='tickets__all__step_'][class*='__stars'] button").nth(3).click()      # four stars
    settle(staff)
    comment = staff.locator("[class*='tickets__all__step_'][class*='__comment'] input")
    comment.fill("客户表示满意")
    comment.press("Tab")                                      # the value is sent when the field is left
    settle(staff)
    shoot(staff, "ticket-follow-up")
    staff.locator("[class*='tickets__all__step_'][class*='__go'] button").click()
    staff.get_by_role("tabpanel", name="全部工单").get_by_text("已关闭").locator("visible=true").first.wait_for(
        timeout=20000)                                        # the panel's state badge
    settle(staff)

    assert query(server.db, "SELECT state, satisfaction, follow_up_note FROM tickets WHERE id = ?", ticket_id) == [
        ("closed", 4, "客户表示满意")]
    steps = query(server.db, "SELECT e.step, u.username FROM ticket_events e JOIN kefu_users u ON u.id = e.created_by "
                             "WHERE e.ticket = ? ORDER BY e.id", ticket_id)
    assert steps == [("intake", "demo-staff"), ("assign", "demo-supervisor"), ("start", "demo-staff"),
                     ("submit", "demo-staff"), ("approve", "demo-gm"), ("give_feedback", "demo-staff"),
                     ("follow_up", "demo-staff"), ("close", "demo-staff")]
    gm.goto(f"{server.url}/reports")
    gm.get_by_role("heading", name="统计报表").wait_for(timeout=20000)
    shoot(gm, "reports")
    for page in people.values():
        page.context.close()


def test_survey_kiosk_shows_the_survey_at_any_url_and_takes_an_answer(server, chromium):
    from kefu import auth, config
    from kefu.sheets import load_sheets
    from kefu.store import Store
    office = Store(server.db, load_sheets(), config.load())
    token = auth.create_kiosk_token(office, auth.SYSTEM)
    office.close()
    kiosk = chromium.new_context(viewport={"width": 1200, "height": 900}, locale="zh-CN")
    page = kiosk.new_page()
    page.goto(f"{server.url}/customers?kiosk={token}")
    page.get_by_role("heading", name="满意度调查").wait_for(timeout=20000)
    page.locator("[data-testid='stRadio']").nth(2).wait_for(timeout=20000)     # the form is drawn
    settle(page)
    assert page.get_by_role("heading", name="客户档案").count() == 0
    assert page.locator("[data-testid='stSidebar']").count() == 0         # no navigation at all
    assert page.locator("[data-testid='stDataFrame']").count() == 0
    assert page.get_by_label("用户名").count() == 0
    assert page.locator("[data-testid='stRadio']").count() == 3
    for chrome in ("stHeader", "stToolbar", "stMainMenu", "stAppDeployButton"):   # no menu, settings, print
        expect(page.locator(f"[data-testid='{chrome}']")).to_be_hidden()
    answered = ("SELECT count(*) FROM surveys WHERE channel = 'kiosk' AND service = 5 AND price = 4 AND overall = 3 "
                "AND taken_by IS NULL")
    before = query(server.db, answered)[0][0]
    for group, score in zip(page.locator("[data-testid='stRadio']").all(), (5, 4, 3)):
        group.get_by_text(f"{score} " + "★" * score, exact=True).click()
    page.get_by_role("button", name="提交").click()
    page.get_by_text("感谢您的宝贵意见！").wait_for(timeout=20000)
    assert query(server.db, answered)[0][0] == before + 1
    assert "kefu_session" not in {c["name"] for c in kiosk.cookies()}
    page.goto(f"{server.url}/survey?kiosk={token}")                         # the URL the CLI prints
    page.get_by_role("heading", name="满意度调查").wait_for(timeout=20000)
    settle(page)
    assert page.get_by_text("Page not found").count() == 0
    page.goto(f"{server.url}/customers")                                    # without the token: the login
    page.get_by_role("button", name="登录").wait_for(timeout=20000)
    expect(page.locator("[data-testid='stMainMenu']")).to_be_visible()       # the staff app keeps its menu
    kiosk.close()


def new_tickets_shown(page) -> int:
    card = page.locator('[data-testid="stMetric"]').filter(has_text="新增工单")
    return int(card.locator('[data-testid="stMetricValue"]').inner_text().replace(",", ""))


def test_a_ticket_saved_at_one_desk_appears_on_the_managers_dashboard_by_itself(server, chromium):
    desks = {}
    for username in ("demo-manager", "demo-staff"):
        context = chromium.new_context(viewport={"width": 1400, "height": 1400}, locale="zh-CN")
        desks[username] = context.new_page()
        log_in(desks[username], server.url, username)
    manager, staff = desks["demo-manager"], desks["demo-staff"]
    manager.goto(f"{server.url}/dashboard")
    settle(manager)
    every = manager.get_by_label("间隔（秒）")
    every.fill("5")
    every.press("Enter")
    settle(manager)
    manager.get_by_text("每 5 秒自动刷新").wait_for(timeout=20000)
    shoot(manager, "dashboard")
    before = new_tickets_shown(manager)

    fill_in_a_call(staff, server.url, "询问本月账单明细", kind="咨询", category="收费账单", phone="13812340000",
                   caller="钱先生")
    staff.get_by_role("button", name="登记工单").click()
    staff.get_by_text("请将工单号告知来电人").wait_for(timeout=20000)

    # no reload, no click on the manager's screen: the board refreshes itself within its interval
    manager.wait_for_function(
        """([before]) => {
            const card = [...document.querySelectorAll('[data-testid="stMetric"]')]
                .find(c => c.innerText.includes('新增工单'));
            return card && parseInt(card.querySelector('[data-testid="stMetricValue"]').innerText.replace(/,/g, '')) === before + 1;
        }""", arg=[before], timeout=15000)
    assert new_tickets_shown(manager) == before + 1

    # a bar of the weekly trend opens the tickets it counts (the bars are thin: try a few points)
    frame = manager.locator(".st-key-dashboard__trend [data-testid='stVegaLiteChart']").first
    frame.scroll_into_view_if_needed()
    manager.wait_for_timeout(1000)
    box = frame.bounding_box()
    for share in (0.5, 0.52, 0.54, 0.56, 0.58, 0.6, 0.62, 0.64):
        manager.mouse.click(box["x"] + box["width"] * share, box["y"] + box["height"] * 0.75)
        settle(manager)
        if manager.get_by_text("当周").count():
            break
    heading = manager.get_by_text("当周").first.inner_text()            # e.g. "投诉，2026-06-01 当周"
    kind, monday = heading.replace(" 当周", "").split("，")
    grid = manager.locator("[data-testid='stDataFrame']").last
    grid.wait_for(timeout=15000)
    labels = {"咨询": "inquiry", "投诉": "complaint", "建议": "suggestion", "表扬": "praise"}
    counted = query(server.db, "SELECT count(*) FROM tickets WHERE kind = ? AND created_at >= ? AND "
                    "created_at < date(?, '+7 day') AND deleted_at IS NULL", labels[kind], monday, monday)[0][0]
    expect(manager.get_by_text(f"共 {counted} 条").first).to_be_visible(timeout=15000)   # the grid's count line
    for page in desks.values():
        page.context.close()


# -- import: a manager brings a GBK CSV of archives in, then corrects one archive by file ---------------------

IMPORT_HEADER = "客户编号,客户名称,类型,联系人,联系电话,信用等级,档案负责人"


def open_import(page, server, sheet_label: str, upload, username: str = "demo-manager") -> None:
    log_in(page, server.url, username)
    page.goto(f"{server.url}/imports")
    page.get_by_role("combobox", name="导入到").click()
    page.get_by_role("option", name=sheet_label, exact=True).click()
    settle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(upload)
    page.get_by_text("列对应").wait_for(timeout=20000)
    settle(page)
    page.get_by_role("button", name="检查文件").click()
    settle(page)


def test_a_gbk_csv_with_bad_rows_goes_in_without_them(server, page, tmp_path):
    keeper = query(server.db, "SELECT display_name FROM kefu_users WHERE username = 'demo-staff'")[0][0]
    lines = [IMPORT_HEADER, f"IMP-001,新海棠湾酒店,企业,张三,13812340001,A（优）,{keeper}",
             f"IMP-002,北京新华夏科技,个人,李四,12345,B,{keeper}",
             f"IMP-003,上海新浦东物业,企业,王五,,外星,{keeper}",
             f"IMP-004,广州新天河商贸,企业,赵六,13812340004,C,{keeper}"]
    upload = tmp_path / "客户名单.csv"
    upload.write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))
    open_import(page, server, "客户档案", str(upload))
    page.get_by_text("2 行中有 2 处错误").wait_for(timeout=20000)
    with page.expect_download() as download:                            # the grid is a canvas: read its file
        page.get_by_role("button", name="下载错误清单").click()
    errors = list(csv.reader(io.StringIO(Path(download.value.path()).read_bytes().decode("utf-8-sig"))))
    assert errors == [["行号", "列", "值", "原因"], ["3", "联系电话", "12345", "联系电话：“12345”不是有效的电话号码"],
                      ["4", "信用等级", "外星", "信用等级：“外星”不在可选项中"]]
    commit = page.get_by_role("button", name="导入 2 条记录")
    expect(commit).to_be_disabled()                                   # errors: not until the user chooses
    shoot(page, "import")
    page.get_by_text("跳过 2 行有错误的行，导入其余的行").click()
    settle(page)
    expect(commit).to_be_enabled()
    commit.click()
    page.get_by_text("已导入“客户档案”：新建 2 条").wait_for(timeout=30000)
    rows = query(server.db, "SELECT code, name, status FROM customers WHERE code LIKE 'IMP-%' ORDER BY code")
    assert rows == [("IMP-001", "新海棠湾酒店", "draft"), ("IMP-004", "广州新天河商贸", "draft")]
    assert query(server.db, "SELECT count(*) FROM kefu_audit WHERE sheet = 'customers' AND action = 'create' "
                            "AND username = 'demo-manager' AND row_id IN (SELECT id FROM customers "
                            "WHERE code LIKE 'IMP-%')")[0][0] == 2


def test_a_long_file_goes_in_from_the_screen_with_its_search_keys(server, page, tmp_path):
    """12,000 rows: long enough that the app's process has a second one work out the search keys while it
    inserts (kefu.jobs.ahead), as it runs under `streamlit run`. Every row arrives, findable by pinyin."""
    keeper = query(server.db, "SELECT display_name FROM kefu_users WHERE username = 'demo-staff'")[0][0]
    lines = [IMPORT_HEADER] + [f"LONG-{n:05d},重庆长江第{n}商行,企业,欧阳娜娜,,B,{keeper}" for n in range(12000)]
    upload = tmp_path / "长名单.csv"
    upload.write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))
    open_import(page, server, "客户档案", str(upload))
    commit = page.get_by_role("button", name="导入 12,000 条记录")
    commit.wait_for(timeout=60000)
    commit.click()
    page.get_by_text("已导入“客户档案”：新建 12,000 条").wait_for(timeout=120000)
    rows = query(server.db, "SELECT count(*), count(DISTINCT search_pinyin), min(search_pinyin) FROM customers "
                            "WHERE code LIKE 'LONG-%'")[0]
    assert rows[:2] == (12000, 12000) and rows[2].startswith("chongqingchangjiangdi")
    assert query(server.db, "SELECT count(*) FROM customers_grams WHERE customers_grams MATCH '\"长江\"' AND rowid IN "
                            "(SELECT id FROM customers WHERE code LIKE 'LONG-%')")[0][0] == 12000


def test_a_row_matching_an_archive_updates_it_when_the_user_chooses_so(server, page, tmp_path):
    """The supervisor corrects the credit rating of an archive he keeps from a file."""
    code, name = query(server.db, "SELECT code, name FROM customers WHERE deleted_at IS NULL AND owner = (SELECT id "
                                  "FROM kefu_users WHERE username = 'demo-supervisor') ORDER BY id LIMIT 1 OFFSET 30")[0]
    upload = tmp_path / "更正.csv"
    upload.write_text(f"客户编号,信用等级\n{code},C\n", encoding="utf-8-sig")
    before = query(server.db, "SELECT credit_rating FROM customers WHERE code = ?", code)[0][0]
    assert before != "C"
    open_import(page, server, "客户档案", str(upload), "demo-supervisor")
    page.get_by_text("1 行按唯一键与已有记录相同").wait_for(timeout=20000)
    page.get_by_text("用文件中的值更新记录").click()
    settle(page)
    page.get_by_role("button", name="导入 1 条记录").click()
    page.get_by_text("更新 1 条").wait_for(timeout=30000)
    assert query(server.db, "SELECT credit_rating, name FROM customers WHERE code = ?", code)[0] == ("C", name)


# -- backups: the administrator downloads a backup and restores it after a change --------------------------

def test_the_administrator_downloads_a_backup_and_restores_it(server, page, tmp_path):
    log_in(page, server.url, "demo-admin")
    page.goto(f"{server.url}/backups")
    page.get_by_role("heading", name="备份与恢复").wait_for(timeout=20000)
    settle(page)
    with page.expect_download() as download:
        page.get_by_role("button", name="下载备份").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name.startswith("kefu-") and saved.read_bytes()[:16] == b"SQLite format 3\x00"
    before = query(server.db, "SELECT count(*) FROM visitors")[0][0]
    with sqlite3.connect(server.db) as conn:                          # a change made after the backup
        conn.execute("UPDATE visitors SET deleted_at = '2026-12-01T00:00:00+08:00' WHERE deleted_at IS NULL")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(saved))
    page.get_by_text("是完好的客服台备份").wait_for(timeout=30000)
    restore = page.get_by_role("button", name="恢复", exact=True)
    expect(restore).to_be_disabled()
    shoot(page, "backups")
    page.get_by_text("用此备份替换全部当前数据").click()
    settle(page)
    restore.click()
    page.get_by_text("已恢复").wait_for(timeout=60000)
    assert query(server.db, "SELECT count(*) FROM visitors WHERE deleted_at IS NULL")[0][0] > 0
    assert query(server.db, "SELECT count(*) FROM visitors")[0][0] == before
    assert list(server.db.parent.glob("kefu-before-restore-*.db"))


def _post(url, body=b"{}", headers=None):
    import urllib.error
    import urllib.request
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.headers.get_all("set-cookie") or []
    except urllib.error.HTTPError as refused:
        return refused.code, refused.headers.get_all("set-cookie") or []


def test_the_session_cookie_is_set_only_by_the_servers_answer_to_a_fresh_code_of_this_site(server):
    import json as json_
    from kefu import auth, config
    from kefu.sheets import load_sheets
    from kefu.store import Store
    store = Store(server.db, load_sheets(), config.load())
    _, token = auth.login(store, "demo-staff", "kefu-demo")
    url = f"{server.url}/_kefu/session"
    code = json_.dumps({"code": auth.handoff(store, token)}).encode()
    assert _post(url, code, {"Origin": "http://evil.example"}) == (403, [])          # another site's page
    assert _post(url, code, {"Content-Type": "text/plain"}) == (403, [])             # a plain form post
    assert _post(url, json_.dumps({"code": "guessed"}).encode()) == (403, [])
    status, cookies = _post(url, code, {"Origin": server.url, "X-Forwarded-Proto": "https"})
    assert status == 204 and len(cookies) == 1
    value = cookies[0].split(";")[0].split("=", 1)[1]
    assert {"HttpOnly", "SameSite=Strict", "Path=/", "Secure"} <= {p.strip() for p in cookies[0].split(";")}
    assert auth.session_user(store, value).username == "demo-staff"
    assert _post(url, code) == (403, [])                                               # used once
    status, cleared = _post(f"{server.url}/_kefu/logout", headers={"Cookie": f"kefu_session={value}"})
    assert status == 204 and "Max-Age=0" in cleared[0] and "HttpOnly" in cleared[0]
    assert auth.session_user(store, value) is None and auth.session_user(store, token) is None
    store.close()


def test_经总经理审批后发放_the_gm_approves_the_survey_report_and_it_prints_without_the_controls(server, page):
    """The gm approves the supervisor's waiting analysis report; printed, the page holds the report and its
    chart, and neither the menu nor a button (the print CSS of views/survey_reports.py)."""
    log_in(page, server.url, "demo-gm")
    page.goto(f"{server.url}/survey_reports")
    page.get_by_role("heading", name="配件价格满意度专项调查分析报告").wait_for(timeout=20000)
    page.get_by_role("button", name="审批通过").click()
    page.get_by_text("已审批，待发放").first.wait_for(timeout=20000)
    settle(page)
    assert query(server.db, "SELECT r.status, u.username FROM survey_reports r JOIN kefu_users u ON u.id = r.approved_by "
                             "WHERE r.title = '配件价格满意度专项调查分析报告'") == [("approved", "demo-gm")]
    page.emulate_media(media="print")
    expect(page.get_by_role("heading", name="配件价格满意度专项调查分析报告")).to_be_visible()
    expect(page.locator("[data-testid='stVegaLiteChart']").first).to_be_visible()
    expect(page.locator("[data-testid='stSidebar']")).to_be_hidden()
    expect(page.get_by_role("button", name="发放")).to_be_hidden()
    expect(page.get_by_text("打印版式")).to_be_hidden()
