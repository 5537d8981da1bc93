"""End to end in headless Chromium against `streamlit run`: the administrator designs a register on the screen
表单设计 (typing its fields into the table as a person does), a staff member already logged in elsewhere finds it
in the menu on the next click, adds a record and sees its phone masked; the administrator adds a field, then
tries to drop the phone, which holds data, and is refused. The app runs on a demo copy with a schema folder of
its own ($KEFU_SCHEMA), so the repository's schema/ is never written. Also takes the refusal's screenshot."""
import sqlite3
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout, expect

from browser import log_in, own_folder_server, settle, shoot
from kefu import designer
from kefu.sheets import load_sheets

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parent.parent

# The designer's table of fields, as kefu/ui/designer.py lays it out: glide numbers its columns from 1 (0 is
# the row marker). Header and row heights are glide's defaults (35 px).
FIELD_COLUMNS = ("position", "locked", *designer.ROW_KEYS)
EDITOR = "#portal textarea, #portal input"           # the cell editor glide opens over the grid


@pytest.fixture(scope="module")
def server(demo_file, tmp_path_factory):
    """Overrides conftest's: `streamlit run` on a demo copy with a schema folder of its own."""
    running = own_folder_server(demo_file, tmp_path_factory.mktemp("designer"), "schema", "KEFU_SCHEMA")
    yield running
    running.stop()


def query(db, sql, *params):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def column(key: str) -> int:
    return 1 + FIELD_COLUMNS.index(key)


def select_cell(page, grid, row: int, col: int, first: int = 1) -> None:
    """Select a cell as a person does: click in its row, then the arrow keys (the grid scrolls sideways to
    it). first: the grid's first column (0 where it has no row marker). The click is made again when no
    cell of the row is selected after it: a grid clicked while another holds the selection takes the focus
    first, and a run of the script may have moved the page meanwhile (the save's message goes at the
    first edit after it)."""
    in_row = grid.locator(f"td[aria-selected='true'][id$='-{row}']")
    for attempt in range(3):
        box = grid.bounding_box()
        page.mouse.click(box["x"] + 60, box["y"] + 35 + 35 * row + 17)
        try:
            expect(in_row).to_have_count(1, timeout=2000)
            break
        except AssertionError:
            if attempt == 2:
                raise
    for _ in range(len(FIELD_COLUMNS)):
        page.keyboard.press("ArrowLeft")
    for _ in range(col - first):
        page.keyboard.press("ArrowRight")
    expect(grid.locator(f"#glide-cell-{col}-{row}")).to_have_attribute("aria-selected", "true")


def type_cell(page, grid, row: int, key: str, text: str) -> None:
    """Enter opens the cell's editor (a text box, or the type's list), the text is typed, Enter keeps it."""
    select_cell(page, grid, row, column(key))
    page.keyboard.press("Enter")
    editor = page.locator(EDITOR).first
    editor.wait_for(timeout=10000)
    editor.fill(text)
    page.keyboard.press("Enter")
    page.locator(EDITOR).first.wait_for(state="detached", timeout=10000)


def tick_cell(page, grid, row: int, col: int, first: int = 1) -> None:
    select_cell(page, grid, row, col, first)
    page.keyboard.press("Enter")                  # a checkbox cell: Enter ticks it


def add_field(page, grid, row: int, name: str, kind: str, en: str, zh: str, **more) -> None:
    """A new row from the table's toolbar, then its cells typed one by one."""
    grid.hover()
    grid.get_by_role("button", name="Add row").click()
    grid.locator(f"#glide-cell-{column('name')}-{row}").wait_for(state="attached", timeout=10000)
    for key, value in (("name", name), ("type", kind), ("label_en", en), ("label_zh", zh)):
        type_cell(page, grid, row, key, value)
    for key, value in more.items():
        if value is True:
            tick_cell(page, grid, row, column(key))
        else:
            type_cell(page, grid, row, key, value)


def save(page, expected: str) -> None:
    settle(page)            # the table hands its last edit to the app after a moment (150 ms); then the click
    page.get_by_role("button", name="保存并生效").click()
    page.get_by_text(expected).first.wait_for(timeout=30000)


def test_the_admin_designs_a_register_staff_use_it_at_once_and_a_field_with_data_cannot_be_dropped(server, chromium):
    staff_context = chromium.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    staff = staff_context.new_page()
    log_in(staff, server.url, "demo-staff")                     # logged in before the register exists
    expect(staff.get_by_role("link", name="借伞登记")).to_have_count(0)

    context = chromium.new_context(viewport={"width": 1400, "height": 1300}, locale="zh-CN")
    page = context.new_page()
    log_in(page, server.url, "demo-admin")
    page.goto(f"{server.url}/designer")
    page.get_by_role("heading", name="表单设计").first.wait_for(timeout=20000)
    settle(page)
    page.get_by_role("textbox", name="名称（文件名与网址）").fill("umbrellas")
    page.get_by_role("textbox", name="英文名称", exact=True).fill("Loaner umbrellas")
    page.get_by_role("textbox", name="中文名称", exact=True).fill("借伞登记")
    page.get_by_role("textbox", name="中文名称", exact=True).press("Tab")
    fields = page.locator("[data-testid='stDataFrame']").first
    fields.locator("table [role='gridcell']").first.wait_for(state="attached", timeout=20000)
    for key, value in (("name", "borrower"), ("label_en", "Borrower"), ("label_zh", "借用人")):
        type_cell(page, fields, 0, key, value)                 # the new register's first row: a text field
    add_field(page, fields, 1, "phone", "phone", "Phone", "电话", pii=True)
    add_field(page, fields, 2, "lent_on", "date", "Lent on", "借出日期")
    add_field(page, fields, 3, "colour", "choice", "Colour", "颜色", choices="black|Black|黑色; red|Red|红色")
    rights = page.locator("[data-testid='stDataFrame']").nth(1)   # role x action; 专员 (staff) is the first row
    rights.scroll_into_view_if_needed()
    tick_cell(page, rights, 0, 1, first=0)                      # read
    tick_cell(page, rights, 0, 2, first=0)                      # create
    save(page, "已保存“umbrellas”（第 1 版）")

    sheet = load_sheets(server.schema)["umbrellas"]             # the file as the app's loader reads it
    assert sheet.label == {"en": "Loaner umbrellas", "zh": "借伞登记"}
    assert [(f.name, f.type_name, f.label["zh"]) for f in sheet.fields] == [
        ("borrower", "text", "借用人"), ("phone", "phone", "电话"), ("lent_on", "date", "借出日期"),
        ("colour", "choice", "颜色")]
    assert [f.name for f in sheet.fields if f.pii] == ["phone"]
    assert [c["value"] for c in sheet.by_name["colour"].choices] == ["black", "red"]
    assert sheet.permissions["staff"] == {"read", "create"}
    assert not (ROOT / "schema" / "umbrellas.toml").exists()

    staff.get_by_role("link", name="今日").click()                 # the staff member's next click
    staff.get_by_role("link", name="借伞登记").click()
    staff.get_by_role("heading", name="借伞登记").first.wait_for(timeout=20000)
    staff.get_by_role("tab", name="新建记录").click()
    staff.get_by_label("借用人").fill("李雷")
    staff.get_by_label("电话").fill("13812345678")
    staff.get_by_role("spinbutton", name="year, 借出日期", exact=True).click()
    staff.keyboard.type("20261102")                             # year, month, day: the field moves on by itself
    staff.get_by_label("颜色").last.click()
    staff.get_by_role("option", name="红色").click()
    staff.get_by_role("button", name="保存").click()
    staff.get_by_text("已创建：李雷。").wait_for(timeout=20000)
    assert query(server.db, "SELECT id, borrower, lent_on, colour FROM umbrellas") == [
        (1, "李雷", "2026-11-02", "red")]
    stored = query(server.db, "SELECT phone FROM umbrellas")[0][0]
    assert stored == "13812345678"                              # the whole number is kept ...
    staff.get_by_role("tab", name="列表").click()
    grid = staff.locator("[data-testid='stDataFrame']").first
    expect(grid.locator("table [role='gridcell']", has_text="138****5678")).to_have_count(1, timeout=20000)
    expect(grid.locator("table [role='gridcell']", has_text="李雷")).to_have_count(1)
    expect(staff.get_by_text("13812345678")).to_have_count(0)   # ... and shown masked to staff
    staff_context.close()

    fields = page.locator("[data-testid='stDataFrame']").first      # the saved register stays open
    fields.locator(f"#glide-cell-{column('name')}-3").wait_for(state="attached", timeout=20000)
    add_field(page, fields, 4, "returned_on", "date", "Returned on", "归还日期")
    save(page, "已保存“umbrellas”（第 2 版）")
    assert [f.name for f in load_sheets(server.schema)["umbrellas"].fields][-1] == "returned_on"
    assert "returned_on" in [row[1] for row in query(server.db, "PRAGMA table_info(umbrellas)")]

    saved = (server.schema / "umbrellas.toml").read_text(encoding="utf-8")
    delete = fields.get_by_role("button", name="Delete row(s)")
    for attempt in range(3):                     # the save's rerun may redraw the grid under the first click
        settle(page)
        box = fields.bounding_box()
        page.mouse.click(box["x"] + 14, box["y"] + 35 + 35 * 1 + 17)    # the phone's row marker
        try:
            expect(delete).to_be_visible(timeout=3000)
            delete.click(timeout=3000)
            break
        except (AssertionError, PlaywrightTimeout):
            if attempt == 2:
                raise
    save(page, "未保存：会丢失或破坏已有数据。")
    refusal = page.locator("[data-testid='stAlertContentError']")
    expect(refusal).to_contain_text("字段“电话”已被删除，但有 1 条记录有值（#1）")
    shoot(page, "designer-refusal")
    assert (server.schema / "umbrellas.toml").read_text(encoding="utf-8") == saved     # nothing written
    assert "phone" in [row[1] for row in query(server.db, "PRAGMA table_info(umbrellas)")]
    assert query(server.db, "SELECT count(*) FROM kefu_versions WHERE kind = 'sheet' AND name = 'umbrellas'") == [(2,)]
    context.close()
