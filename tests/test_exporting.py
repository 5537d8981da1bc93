"""CSV and XLSX export: opens in Excel with Chinese intact, formulas never run, personal data masked by role."""
import csv
import io
import zipfile
from datetime import date, datetime

import pytest
from openpyxl import load_workbook

from kefu import auth
from kefu.errors import PermissionDenied
from kefu.exporting import csv_bytes, neutralise, xlsx_bytes
from kefu.store import Query
from conftest import ASKED


def read(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")                      # UTF-8 BOM: Excel reads Chinese right
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


@pytest.fixture
def visits(store, make_user):
    staff = make_user("staff")
    store.insert("visitors", {"visitor_name": "=HYPERLINK(\"http://x\")", "phone": "13812345678",
                              "purpose": "business", "host": staff.id, "organisation": "+cmd", "record": "@SUM(A1)",
                              "identity": "-2+3"}, staff)
    store.insert("visitors", {"visitor_name": "李四", "phone": "13900001111", "purpose": "complaint",
                              "host": staff.id, "party_size": 3, **ASKED}, staff)     # checked in by a test
    return staff


def test_headers_in_the_users_language_and_labels_not_codes(store, make_user, visits):
    rows = read(csv_bytes(store, "visitors", make_user("manager"), Query(), "zh"))
    assert rows[0][:3] == ["编号", "来访人姓名", "性别"]
    li = next(r for r in rows if r[1] == "李四")
    assert "投诉" in li and "Staff 1" in li                       # choice label, host's name
    english = read(csv_bytes(store, "visitors", make_user("manager"), Query(), "en"))
    assert english[0][:2] == ["No.", "Visitor name"] and "Complaint" in english[1]   # newest first


def test_formula_cells_are_neutralised(store, make_user, visits):
    rows = read(csv_bytes(store, "visitors", make_user("manager"), Query(), "en"))
    first = next(r for r in rows[1:] if "HYPERLINK" in r[1])
    assert first[1] == "'=HYPERLINK(\"http://x\")"
    assert "'+cmd" in first and "'@SUM(A1)" in first and "'-2+3" in first
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row)


@pytest.mark.parametrize("text, safe", [("=1+1", "'=1+1"), ("+86", "'+86"), ("-x", "'-x"), ("@a", "'@a"),
                                        ("\tx", "'\tx"), ("plain", "plain"), ("中文", "中文")])
def test_neutralise(text, safe):
    assert neutralise(text) == safe




def test_money_has_two_decimals(money_store):
    from kefu import auth
    for amount in ("1280.5", "-3", "0.07"):
        money_store.insert("fees", {"amount": amount}, auth.SYSTEM)
    rows = read(csv_bytes(money_store, "fees", auth.SYSTEM, Query(sort="id"), "en"))
    assert [r[1] for r in rows[1:]] == ["1280.50", "-3.00", "0.07"]


# -- XLSX -----------------------------------------------------------------------------------------
def workbook(data: bytes) -> list[list]:
    """The values of the workbook's only sheet, row by row (and the sheet, for its formats)."""
    book = load_workbook(io.BytesIO(data))
    assert len(book.worksheets) == 1
    return [list(r) for r in book.active.iter_rows(values_only=True)]


def worksheet(data: bytes):
    return load_workbook(io.BytesIO(data)).active


def test_xlsx_has_the_same_columns_as_the_csv_with_chinese_headers(store, make_user, visits):
    manager = make_user("manager")
    rows = workbook(xlsx_bytes(store, "visitors", manager, Query(), "zh"))
    assert rows[0] == read(csv_bytes(store, "visitors", manager, Query(), "zh"))[0]
    assert rows[0][:3] == ["编号", "来访人姓名", "性别"] and rows[0][-1] == "创建时间"
    li = next(r for r in rows if r[1] == "李四")
    assert "投诉" in li and "Staff 1" in li                       # choice label, host's name
    sheet = worksheet(xlsx_bytes(store, "visitors", manager, Query(), "zh"))
    assert sheet.title == "来访登记" and sheet.freeze_panes == "A2"
    assert all(cell.font.bold for cell in sheet[1]) and not sheet["B2"].font.bold
    assert sheet.column_dimensions["B"].width >= 20 and sheet.column_dimensions["A"].width < 20


def test_xlsx_numbers_are_numbers_and_times_are_times(store, make_user, visits):
    manager = make_user("manager")
    store.update("visitors", 2, {"arrived_at": "2026-11-22 14:30"}, manager)
    sheet = worksheet(xlsx_bytes(store, "visitors", manager, Query(sort="id"), "zh"))
    header = [c.value for c in sheet[1]]
    li = [c for c in sheet[3]]
    assert li[0].value == 2 and li[header.index("来访人数")].value == 3 and li[0].data_type == "n"
    arrived = li[header.index("到访时间")]
    assert arrived.value == datetime(2026, 11, 22, 14, 30) and arrived.number_format == "yyyy-mm-dd hh:mm"
    assert isinstance(li[-1].value, datetime)                     # created at


def test_xlsx_money_is_a_number_with_two_decimals(money_store):
    for amount in ("1280.5", "-3", "0.07"):
        money_store.insert("fees", {"amount": amount}, auth.SYSTEM)
    sheet = worksheet(xlsx_bytes(money_store, "fees", auth.SYSTEM, Query(sort="id"), "en"))
    cells = [row[1] for row in sheet.iter_rows(min_row=2)]
    assert [c.value for c in cells] == [1280.5, -3, 0.07]
    assert all(c.data_type == "n" and c.number_format == "0.00" for c in cells)


def test_xlsx_dates_are_dates(store, make_user):
    manager, staff = make_user("manager"), make_user("staff")
    store.insert("roster", {"duty_date": "2026-11-02", "staff": staff.id, "shift": "day"}, manager)
    sheet = worksheet(xlsx_bytes(store, "roster", manager, Query(), "zh"))
    assert [c.value for c in sheet[1]][:4] == ["编号", "日期", "员工", "班次"]
    day = sheet["B2"]
    assert day.is_date and day.value.date() == date(2026, 11, 2) and day.number_format == "yyyy-mm-dd"
    assert sheet["D2"].value == "白班 09:00-18:00"


def test_xlsx_formula_like_text_stays_text(store, make_user, visits):
    data = xlsx_bytes(store, "visitors", make_user("manager"), Query(), "en")
    rows = workbook(data)
    first = next(r for r in rows[1:] if "HYPERLINK" in str(r[1]))
    assert first[1] == '=HYPERLINK("http://x")'                   # as typed, not with an apostrophe
    assert "+cmd" in first and "@SUM(A1)" in first and "-2+3" in first
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml and "<f " not in xml                  # no formula anywhere in the file
    sheet = worksheet(data)
    cell = next(row[1] for row in sheet.iter_rows(min_row=2) if "HYPERLINK" in str(row[1].value))
    assert cell.data_type == "s" and cell.quotePrefix             # Excel keeps it text when it is edited


BOTH = pytest.mark.parametrize("export, rows_of", [(csv_bytes, read), (xlsx_bytes, workbook)], ids=["csv", "xlsx"])


@BOTH
def test_personal_data_masked_unless_the_role_has_pii(store, make_user, visits, export, rows_of):
    supervisor, manager = make_user("supervisor"), make_user("manager")
    masked = rows_of(export(store, "visitors", supervisor, Query(), "zh"))
    phones = [row[masked[0].index("联系电话")] for row in masked[1:]]
    assert sorted(phones) == ["138****5678", "139****1111"] and "13812345678" not in str(masked)
    clear = rows_of(export(store, "visitors", manager, Query(), "zh"))
    assert "13812345678" in str(clear)
    assert store.conn.execute("SELECT username, action, detail FROM kefu_access_log ORDER BY id").fetchall() == \
        [(supervisor.username, "export", '{"rows": 2, "masked": true}'),
         (manager.username, "export", '{"rows": 2, "masked": false}')]


@BOTH
def test_export_follows_the_filter_and_needs_the_right(store, make_user, visits, export, rows_of):
    manager = make_user("manager")
    rows = rows_of(export(store, "visitors", manager, Query(filters={"purpose": ["complaint"]}), "zh"))
    assert len(rows) == 2 and rows[1][1] == "李四"
    with pytest.raises(PermissionDenied):
        export(store, "visitors", visits, Query(), "zh")          # staff have no export right
    assert store.conn.execute("SELECT count(*) FROM kefu_access_log").fetchone()[0] == 1
