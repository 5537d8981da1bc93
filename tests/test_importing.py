"""Importing CSV and XLSX files into sheets: encodings, mapping, every bad cell, duplicates, all or nothing."""
from __future__ import annotations

import csv
import io
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import openpyxl
import pytest

from kefu import auth, importing
from kefu.jobs import ahead as jobs_ahead
from processes import children_of, gone
from kefu.errors import PermissionDenied
from kefu.importing import ImportRefused

ROOT = Path(__file__).resolve().parent.parent
HEADER = "客户编号,客户名称,类型,联系人,联系电话,信用等级,档案负责人"


@pytest.fixture
def people(store, make_user):
    """Two keepers, and the department manager who imports the office's registers. The archives are the
    keepers' and the gm's to read (000: 未经公司总经理授权，任何人不得查阅及外传), so the gm has granted the
    manager both keepers' books, with export, as the office does for a colleague who takes them in hand."""
    keeper, other, boss = make_user("staff", "keeper"), make_user("staff", "other"), make_user("manager", "boss")
    gm = make_user("gm", "gm")
    until = (datetime.now(store.settings.tz).date() + timedelta(days=30)).isoformat()
    for book in (keeper, other):
        store.grant("customers", None, boss.id, gm, keeper=book.id, until=until, export=True, reason="导入")
    return {"keeper": keeper, "other": other, "manager": boss}


def customers_csv(rows: int, keeper: str = "keeper", start: int = 0) -> str:
    lines = [HEADER] + [f"C{n:05d},海棠湾酒店{n},企业,张三,138{n:08d},A（优）,{keeper}"
                        for n in range(start, start + rows)]
    return "\n".join(lines) + "\n"


def plan_for(store, sheet: str, data: bytes, actor, name: str = "file.csv"):
    table = importing.read_file(data, name)
    return importing.check(store, sheet, table, importing.auto_map(store.sheet(sheet), table.headers), actor)


def count(store, table: str) -> int:
    return store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def messages(store, plan, lang="zh") -> list[tuple]:
    return [(e.row, e.column, e.value, e.reason(store.sheet(plan.sheet), lang)) for e in plan.errors]


# --------------------------------------------------------------------------------------------- encodings

GB18030_ONLY = "𠮷"          # outside GBK: only GB18030 (and Unicode) can hold it


@pytest.mark.parametrize("encoding, name", [("utf-8", "海棠湾酒店"), ("utf-8-sig", "海棠湾酒店"), ("gbk", "海棠湾酒店"),
                                            ("gb18030", f"{GB18030_ONLY}家大酒店"), ("utf-16", "海棠湾酒店")])
def test_a_csv_in_each_encoding_arrives_with_its_chinese_text(store, people, encoding, name):
    text = f"{HEADER}\nC001,{name},企业,欧阳娜娜,13812345678,A（优）,keeper\nC002,北京华夏科技有限公司,个人,李四,,B,keeper\n"
    plan = plan_for(store, "customers", text.encode(encoding), people["manager"])
    assert plan.ok and len(plan.new) == 2
    importing.commit(store, plan, people["manager"])
    rows = store.conn.execute("SELECT code, name, kind, contact, phone, credit_rating, owner FROM customers "
                              "ORDER BY code").fetchall()
    assert rows == [("C001", name, "company", "欧阳娜娜", "13812345678", "A", people["keeper"].id),
                    ("C002", "北京华夏科技有限公司", "person", "李四", None, "B", people["keeper"].id)]


def test_a_gbk_file_is_told_as_gb18030_and_a_tab_separated_one_is_read(store, people):
    data = (HEADER.replace(",", "\t") + "\nC001\t海棠湾酒店\t企业\t张三\t13812345678\tA\t王五\n").encode("gbk")
    table = importing.read_file(data, "客户.txt")
    assert table.encoding == "gb18030" and table.headers[1] == "客户名称" and table.rows[0][1] == "海棠湾酒店"


def test_a_long_gbk_file_is_told_as_gb18030_where_its_sample_ends_inside_a_character(store):
    """The encoding is guessed from the file's first 200,000 bytes; ending them in the middle of a two-byte
    character once made a GBK ticket register read as Cyrillic (ЙЄЕЅКХ for 工单号)."""
    lines = ["工单号,受理时间,来电人,事由"] + [f",2025/{1 + n % 12}/{1 + n % 28} 09:{n % 60:02d},张三{n},事由{n}"
                                        for n in range(9000)]
    data = ("\n".join(lines) + "\n").encode("gbk")
    assert len(data) > importing.SAMPLE_BYTES
    with pytest.raises(UnicodeDecodeError):
        data[:importing.SAMPLE_BYTES].decode("gbk")              # the sample's last character is cut
    table = importing.read_file(data, "2025投诉登记.csv")
    assert table.encoding == "gb18030" and table.headers[0] == "工单号" and table.rows[-1][2] == "张三8999"


def test_columns_map_by_field_name_and_either_label_and_the_export_s_own_columns_are_left_out(store):
    sheet = store.sheet("customers")
    headers = ["编号", "code", "Name", "类型", " 联系电话 ", "Credit rating*", "备注说明", "创建时间"]
    assert importing.auto_map(sheet, headers) == [None, "code", "name", "kind", "phone", "credit_rating", None, None]


def test_an_export_of_the_sheet_imports_back_as_unchanged_records(store, people):
    from kefu.exporting import csv_bytes
    from kefu.store import Query
    importing.commit(store, plan_for(store, "customers", customers_csv(5).encode(), people["manager"]), people["manager"])
    exported = csv_bytes(store, "customers", people["manager"], Query(), "zh")
    plan = plan_for(store, "customers", exported, people["manager"])
    assert plan.ok, messages(store, plan)
    assert len(plan.new) == 0 and len(plan.matched) == 5 and plan.updates == []


# --------------------------------------------------------------------------------------------- xlsx

def workbook(rows: list[list], sheet_title: str = "客户") -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = sheet_title
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_xlsx_dates_as_real_excel_dates_and_as_text_and_numbers_as_numbers(store, people):
    labels = [store.sheet("visitors").by_name[n].label_in("zh")
              for n in ("visitor_name", "phone", "purpose", "host", "appointment_at", "party_size")]
    data = workbook([labels,
                     ["张三", 13812345678, "业务洽谈", "keeper", datetime(2026, 11, 2, 9, 30), 2],
                     ["李四", "139 1234 5678", "business", "Staff 1", "2026年11月3日 14:30", 1.0],
                     ["王五", "13712345678", "Business talk", "keeper", "2026/11/4 10:00", None]])
    plan = plan_for(store, "visitors", data, people["manager"], "来访.xlsx")
    assert plan.ok, messages(store, plan)
    importing.commit(store, plan, people["manager"])
    rows = store.conn.execute("SELECT visitor_name, phone, purpose, host, appointment_at, party_size FROM visitors "
                              "ORDER BY id").fetchall()
    keeper = people["keeper"].id
    assert rows == [("张三", "13812345678", "business", keeper, "2026-11-02T09:30:00+08:00", 2),
                    ("李四", "13912345678", "business", keeper, "2026-11-03T14:30:00+08:00", 1),
                    ("王五", "13712345678", "business", keeper, "2026-11-04T10:00:00+08:00", 1)]   # blank: the default


def test_xlsx_date_fields_take_excel_dates_and_chinese_and_iso_text(store, people):
    customer = store.insert("customers", {"code": "C1", "name": "海棠湾酒店", "kind": "company", "credit_rating": "A",
                                          "owner": people["keeper"].id}, auth.SYSTEM)
    sheet = store.sheet("transactions")
    date_field = next(f for f in sheet.fields if f.type_name == "date")
    required = [f for f in sheet.fields if f.required and f.name not in ("customer", date_field.name)]
    header = [sheet.by_name["customer"].label_in("zh"), date_field.label_in("zh")] + [f.label_in("zh") for f in required]
    filler = [_sample(f) for f in required]
    data = workbook([header, ["C1", datetime(2026, 3, 1), *filler], ["海棠湾酒店", "2026年3月2日", *filler],
                     ["#%d" % customer, "2026-03-03", *filler], ["C1", date(2026, 3, 4), *filler]])
    plan = plan_for(store, "transactions", data, people["manager"], "交易.xlsx")
    assert plan.ok, messages(store, plan)
    importing.commit(store, plan, people["manager"])
    days = [r[0] for r in store.conn.execute(f"SELECT {date_field.name} FROM transactions ORDER BY id")]
    assert days == ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"]
    assert {r[0] for r in store.conn.execute("SELECT customer FROM transactions")} == {customer}


def _sample(field):
    if field.type_name in ("choice", "multichoice"):
        return field.choices[0]["zh"]
    if field.type_name in ("money", "int", "number"):
        return 100
    return "示例"


def test_a_chosen_worksheet_is_read_and_a_missing_one_is_named(store, people):
    book = openpyxl.Workbook()
    book.active.title = "说明"
    book.active.append(["这一页是说明"])
    second = book.create_sheet("客户")
    for row in customers_csv(2).splitlines():
        second.append(row.split(","))
    buffer = io.BytesIO()
    book.save(buffer)
    table = importing.read_file(buffer.getvalue(), "x.xlsx", worksheet="客户")
    assert table.worksheets == ["说明", "客户"] and len(table.rows) == 2
    with pytest.raises(ImportRefused) as refused:
        importing.read_file(buffer.getvalue(), "x.xlsx", worksheet="会员")
    assert "会员" in refused.value.message("zh") and "说明、客户" in refused.value.message("zh")


# --------------------------------------------------------------------------------------------- bad cells

def test_three_bad_cells_among_a_thousand_rows_are_exactly_the_three_errors(store, people):
    lines = customers_csv(1000).splitlines()
    lines[101] = lines[101].replace("138", "12", 1)                   # data row 101 -> file row 102: bad phone
    lines[500] = lines[500].replace("企业", "外星")                   # row 501: not a choice
    lines[999] = lines[999].replace(f"C{998:05d}", "BAD CODE!")      # row 1000: code pattern
    plan = plan_for(store, "customers", ("\n".join(lines) + "\n").encode("gbk"), people["manager"])
    assert messages(store, plan) == [
        (102, "联系电话", "1200000100", "联系电话：“1200000100”不是有效的电话号码"),
        (501, "类型", "外星", "类型：“外星”不在可选项中"),
        (1000, "客户编号", "BAD CODE!", "客户编号：“BAD CODE!”格式不正确"),
    ]
    assert len(plan.new) == 997 and plan.bad_rows == {102, 501, 1000}
    with pytest.raises(ImportRefused):                                # errors: nothing written unless asked
        importing.commit(store, plan, people["manager"])
    assert count(store, "customers") == 0
    outcome = importing.commit(store, plan, people["manager"], skip_invalid=True)
    assert (outcome.created, outcome.left_out) == (997, 3) and count(store, "customers") == 997


def test_the_list_of_bad_cells_downloads_as_a_csv_excel_opens(store, people):
    lines = customers_csv(3).splitlines()
    lines[2] = lines[2].replace("海棠湾酒店1", "=HYPERLINK(\"http://x\")")
    plan = plan_for(store, "customers", ("\n".join(lines)).encode(), people["manager"])
    data = importing.errors_csv(store, plan, "zh")
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["行号", "列", "值", "原因"]
    assert rows[1][:3] == ["3", "客户名称", "'=HYPERLINK(\"http://x\")"]     # the formula stays text in Excel
    assert "公式" in rows[1][3]


def test_a_link_names_a_record_by_title_code_or_number_among_those_the_user_may_see(store, people):
    mine = store.insert("customers", {"code": "C1", "name": "海棠湾酒店", "kind": "company", "credit_rating": "A",
                                      "owner": people["keeper"].id}, auth.SYSTEM)
    for code in ("C2", "C3"):                                          # two archives of the same name
        store.insert("customers", {"code": code, "name": "同名公司", "kind": "company", "credit_rating": "A",
                                   "owner": people["other"].id}, auth.SYSTEM)
    table = importing.Table(headers=["客户", "交易日期"], rows=[["海棠湾酒店", "2026-01-01"], ["C1", "2026-01-02"],
                                                          ["同名公司", "2026-01-03"], ["C2", "2026-01-04"]],
                            numbers=[2, 3, 4, 5], kind="csv")
    sheet = store.sheet("transactions")
    mapping = importing.auto_map(sheet, table.headers)
    as_keeper = importing.check(store, "transactions", table, mapping, people["keeper"])
    links = {(e.row, e.code) for e in as_keeper.errors if e.params["field"] == "customer"}
    assert links == {(4, "im.no_such_record"), (5, "im.no_such_record")}   # the other keeper's archives: unseen
    as_manager = importing.check(store, "transactions", table, mapping, people["manager"])
    links = {(e.row, e.code) for e in as_manager.errors if e.params["field"] == "customer"}
    assert links == {(4, "im.ambiguous")}                              # by name: two; by code: one
    assert all(r.values["customer"] == mine for r in as_manager.rows if r.number in (2, 3))


# --------------------------------------------------------------------------------------------- duplicates

def test_rows_matching_a_record_by_its_unique_key_are_offered_as_updates_and_skipped_by_default(store, people):
    boss = people["manager"]
    importing.commit(store, plan_for(store, "customers", customers_csv(3).encode(), boss), boss)
    again = f"{HEADER}\nC00000,海棠湾酒店0,企业,张三,13800000000,A,keeper\nC00001,新名字,企业,,,B,keeper\nC00009,新客户,个人,赵六,,C,keeper\n"
    plan = plan_for(store, "customers", again.encode(), boss)
    assert [r.number for r in plan.new] == [4] and [r.number for r in plan.matched] == [2, 3]
    assert plan.updates[0].changes == {"name": ("海棠湾酒店1", "新名字"), "credit_rating": ("A", "B")}
    outcome = importing.commit(store, plan, boss)
    assert (outcome.created, outcome.updated, outcome.skipped, outcome.unchanged) == (1, 0, 1, 1)
    assert store.conn.execute("SELECT name, contact FROM customers WHERE code = 'C00001'").fetchone() == ("海棠湾酒店1", "张三")


def test_with_update_the_matched_records_change_only_where_the_file_fills_a_cell(store, people):
    boss = people["manager"]
    importing.commit(store, plan_for(store, "customers", customers_csv(3).encode(), boss), boss)
    before = count(store, "kefu_audit")
    again = f"{HEADER}\nC00001,新名字,企业,,,B,keeper\n"
    outcome = importing.commit(store, plan_for(store, "customers", again.encode(), boss), boss, duplicates="update")
    assert outcome.updated == 1
    row = store.conn.execute("SELECT name, contact, phone, credit_rating FROM customers WHERE code = 'C00001'").fetchone()
    assert row == ("新名字", "张三", "13800000001", "B")               # blank cells kept what the record held
    audit = store.conn.execute("SELECT username, action, before, after FROM kefu_audit ORDER BY id DESC LIMIT 1").fetchone()
    assert count(store, "kefu_audit") == before + 1 and audit[:2] == ("boss", "update") and "新名字" in audit[3]


def test_a_key_repeated_within_the_file_names_the_first_row(store, people):
    text = customers_csv(3) + "C00001,又一个,企业,张三,,A,keeper\n"
    plan = plan_for(store, "customers", text.encode(), people["manager"])
    assert messages(store, plan) == [(5, "客户编号", "C00001", "客户编号：与本文件第 3 行重复")]


def test_updating_needs_the_update_right_and_a_record_the_user_cannot_see_is_not_matched_silently(store, people):
    importing.commit(store, plan_for(store, "customers", customers_csv(2, keeper="other").encode(), people["manager"]),
                     people["manager"])
    plan = plan_for(store, "customers", customers_csv(2, keeper="keeper").encode(), people["keeper"])
    assert {e.code for e in plan.errors} == {"im.exists_unseen"} and plan.rows == []


# --------------------------------------------------------------------------------------------- all or nothing

def test_a_row_refused_at_commit_leaves_nothing_written(store, people):
    boss = people["manager"]
    plan = plan_for(store, "customers", customers_csv(50).encode(), boss)
    store.insert("customers", {"code": "C00042", "name": "刚刚有人录入", "kind": "company", "credit_rating": "A",
                               "owner": people["keeper"].id}, auth.SYSTEM)   # saved by someone meanwhile
    with pytest.raises(importing.RowFailed) as failed:
        importing.commit(store, plan, boss)
    assert "第 44 行" in failed.value.message("zh") and "客户编号" in failed.value.message("zh")
    assert count(store, "customers") == 1


def test_progress_is_told_as_the_rows_go_in(store, people):
    told = []
    plan = plan_for(store, "customers", customers_csv(2500).encode(), people["manager"])
    importing.commit(store, plan, people["manager"], progress=lambda done, total: told.append((done, total)))
    assert told == [(1000, 2500), (2000, 2500), (2500, 2500)]
    assert count(store, "customers") == 2500
    assert store.conn.execute("SELECT count(*) FROM kefu_audit WHERE sheet = 'customers' AND action = 'create'"
                              ).fetchone()[0] == 2500


def test_a_long_file_s_search_keys_worked_out_ahead_are_those_an_insert_makes(store, people, monkeypatch):
    """A long file's pinyin keys and short grams come from a second process (kefu.jobs.ahead) while the rows
    go in: each imported archive is found by pinyin, by initials and by a two-character term, and its search
    columns are exactly those a record typed into the form gets."""
    from kefu.pinyin import search_key, short_grams
    from kefu.store import Query
    monkeypatch.setattr(importing, "CHUNK", 20)
    monkeypatch.setattr(importing, "AHEAD_CHUNKS", 2)
    worked = []
    monkeypatch.setattr(importing.jobs, "ahead", lambda f, batches: (worked.append(len(batches)),
                                                                     jobs_ahead(f, batches))[1])
    lines = [HEADER] + [f"C{n:05d},{name}{n},企业,{person},138{n:08d},A（优）,keeper"
                        for n, (name, person) in enumerate(zip(["重庆长江大酒店", "厦门鼓浪屿商行", "海棠湾酒店"] * 100,
                                                                ["曾小贤", "单田芳", "欧阳娜娜"] * 100))]
    boss = people["manager"]
    importing.commit(store, plan_for(store, "customers", ("\n".join(lines) + "\n").encode(), boss), boss)
    assert worked == [15]
    rows = store.conn.execute("SELECT c.name, c.contact, c.search_pinyin, g.grams, c.code, c.phone, c.mobile, c.notes "
                              "FROM customers c JOIN customers_grams g ON g.rowid = c.id").fetchall()
    assert len(rows) == 300
    for name, contact, key, grams, *searched in rows:
        assert key == search_key([name, contact])
        assert grams == short_grams([name, *searched[:1], contact, *searched[1:], key])
    find = lambda term: store.query("customers", boss, Query(search=term)).total
    assert find("chongqingchangjiang") == 100 and find("oynn") == 100 and find("鼓浪") == 100
    assert find("ouyangnana") == 100 and find("海棠湾酒店29") == 5      # 29, 290, 293, 296, 299


def test_a_long_file_refused_midway_writes_nothing_and_ends_its_second_process(store, people, monkeypatch):
    monkeypatch.setattr(importing, "CHUNK", 20)
    monkeypatch.setattr(importing, "AHEAD_CHUNKS", 2)
    boss = people["manager"]
    plan = plan_for(store, "customers", customers_csv(300).encode(), boss)
    store.insert("customers", {"code": "C00250", "name": "刚刚有人录入", "kind": "company", "credit_rating": "A",
                               "owner": people["keeper"].id}, auth.SYSTEM)   # saved by someone meanwhile
    before = children_of(os.getpid())
    with pytest.raises(importing.RowFailed):
        importing.commit(store, plan, boss)
    assert children_of(os.getpid()) <= before
    assert count(store, "customers") == 1


def test_kill_9_in_the_middle_of_an_import_leaves_no_partial_rows(store, people, tmp_path):
    store.close()
    source = tmp_path / "big.csv"
    source.write_text(customers_csv(30000), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "kefu", "--db", str(store.location), "import", "customers",
                                str(source), "--user", "boss"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    for line in process.stderr:                                        # wait until rows are going in
        if line.startswith("imported 2000 of"):
            break
    else:
        pytest.fail("the import finished or failed before it could be killed")
    ahead = children_of(process.pid)            # the second process working out the search keys (kefu.jobs.ahead)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert ahead and gone(ahead)
    if store.path:                              # SQLite's file, whole after the kill
        with sqlite3.connect(store.path) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert count(store, "customers") == 0          # PostgreSQL rolls back the killed client's transaction
    assert count(store, "kefu_audit WHERE sheet = 'customers'") == 0


# --------------------------------------------------------------------------------------------- bad files

@pytest.mark.parametrize("data, name, code", [
    (b"", "empty.csv", "im.empty_file"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" * 50, "photo.csv", "im.binary"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "old.xls", "im.old_xls"),
    (b"PK\x03\x04not really a workbook", "broken.xlsx", "im.bad_xlsx"),
    (HEADER.encode("gbk") + b"\r\n", "header-only.csv", "im.no_rows"),
    ("客户编号,客户名称,客户编号\nC1,a,C2\n".encode(), "twice.csv", "im.duplicate_header"),
    (b"\n\n\n", "blank.csv", "im.no_header"),
])
def test_a_file_that_cannot_be_imported_says_why(store, data, name, code):
    with pytest.raises(ImportRefused) as refused:
        importing.read_file(data, name)
    assert refused.value.code == code
    assert refused.value.message("zh") != code and refused.value.message("en") != code


def test_a_file_over_the_limit_is_refused_before_it_is_read():
    data = b"a,b\n" + b"x,y\n" * (50 * 2**20 // 4)                     # 50 MB
    with pytest.raises(ImportRefused) as refused:
        importing.read_file(data, "big.csv")
    assert refused.value.code == "im.too_big" and "50.0 MB" in refused.value.message("en")


def test_duplicated_headers_name_the_header_and_both_columns():
    with pytest.raises(ImportRefused) as refused:
        importing.read_file("客户编号,客户名称,客户名称\nC1,a,b\n".encode(), "x.csv")
    assert refused.value.message("zh") == "表头“客户名称”出现了两次（第 2 列和第 3 列），请改名后重新导入。"


def test_the_file_of_another_register_is_told_and_nothing_is_written(store, people):
    visitors = "来访人姓名,联系电话,来访事由\n张三,13812345678,业务洽谈\n"
    plan = plan_for(store, "customers", visitors.encode(), people["manager"])
    assert importing.problem_messages(store, plan, "zh")[0].startswith("文件中没有任何一列对应“客户档案”的必填项或唯一键")
    with pytest.raises(ImportRefused):
        importing.commit(store, plan, people["manager"])
    assert count(store, "customers") == 0


def test_formulas_in_cells_are_refused_cell_by_cell(store, people):
    data = workbook([HEADER.split(","), ["C1", "=A1&\"x\"", "企业", "张三", "13812345678", "A", "keeper"],
                     ["C2", "海棠湾", "企业", "张三", "13812345679", "A", "keeper"]])
    plan = plan_for(store, "customers", data, people["manager"], "f.xlsx")
    assert [(e.row, e.column, e.code) for e in plan.errors] == [(2, "客户名称", "im.formula")]
    assert "公式" in plan.errors[0].reason(store.sheet("customers"), "zh")


# --------------------------------------------------------------------------------------------- who may

def test_only_a_role_that_may_create_imports_and_system_registers_are_not_importable(store, people, make_user):
    finance = make_user("finance")
    with pytest.raises(PermissionDenied):
        plan_for(store, "customers", customers_csv(1).encode(), finance)
    with pytest.raises(ImportRefused) as refused:
        importing.require_import(store.sheet("ticket_events"), auth.SYSTEM)
    assert refused.value.code == "im.sheet_not_importable"
    names = {s.name for s in importing.importable_sheets(store, people["manager"])}
    assert {"customers", "tickets"} <= names and not names & {"ticket_events", "points", "event_signups"}
    assert importing.importable_sheets(store, finance) == []


def test_an_approval_sheet_s_import_makes_drafts_and_its_approval_columns_cannot_be_filled(store, people):
    text = HEADER + ",状态\n" + "C1,海棠湾酒店,企业,张三,,A,keeper,已审批\n"
    table = importing.read_file(text.encode(), "x.csv")
    mapping = importing.auto_map(store.sheet("customers"), table.headers)
    assert mapping[-1] is None                                         # the approval state is not offered
    mapping[-1] = "status"
    plan = importing.check(store, "customers", table, mapping, people["manager"])
    assert plan.problems and "不能导入" in importing.problem_messages(store, plan, "zh")[0]
    plan = importing.check(store, "customers", table, mapping[:-1] + [None], people["manager"])
    importing.commit(store, plan, people["manager"])
    assert store.conn.execute("SELECT status FROM customers").fetchone()[0] == "draft"


def test_members_from_a_roll_keep_their_numbers_and_the_others_get_the_next(store, people):
    for code in ("C1", "C2", "C3"):
        store.insert("customers", {"code": code, "name": f"客户{code}", "kind": "company", "credit_rating": "A",
                                   "owner": people["keeper"].id}, auth.SYSTEM)
    sheet = store.sheet("members")
    header = [sheet.by_name[n].label_in("zh") for n in ("member_no", "customer", "status", "joined_on")]
    status = sheet.by_name["status"].choices[0]["zh"]
    data = workbook([header, ["HY000100", "C1", status, date(2025, 5, 1)], [None, "C2", status, "2025-06-01"],
                     ["", "C3", status, "2025年7月1日"]])
    plan = plan_for(store, "members", data, people["manager"], "会员.xlsx")
    assert plan.ok, messages(store, plan)
    importing.commit(store, plan, people["manager"])
    numbers = [r[0] for r in store.conn.execute("SELECT member_no FROM members ORDER BY id")]
    assert numbers == ["HY000100", "HY000101", "HY000102"]


# --------------------------------------------------------------------------------------------- the command line

def run_cli(*args) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "kefu", *args], cwd=ROOT, env=env, capture_output=True, text=True)


def test_the_command_line_checks_with_dry_run_then_imports(store, people, tmp_path):
    store.close()
    source = tmp_path / "客户.csv"
    source.write_bytes((customers_csv(3) + "BAD!,坏,企业,张三,,A,keeper\n").encode("gbk"))
    dry = run_cli("--db", str(store.location), "import", "customers", str(source), "--dry-run",
                  "--errors-csv", str(tmp_path / "errors.csv"))
    assert dry.returncode == 1 and "3 new" in dry.stderr and "1 with errors" in dry.stderr
    assert "客户编号" in (tmp_path / "errors.csv").read_text(encoding="utf-8-sig")
    refused = run_cli("--db", str(store.location), "import", "customers", str(source))
    assert refused.returncode == 1 and "nothing imported" in refused.stderr
    assert count(store, "customers") == 0
    done = run_cli("--db", str(store.location), "import", "customers", str(source), "--skip-invalid", "--user", "boss")
    assert done.returncode == 0, done.stderr
    assert "3 created" in done.stdout and "1 left out" in done.stdout
    assert count(store, "customers") == 3
    assert store.conn.execute("SELECT DISTINCT username FROM kefu_audit WHERE sheet = 'customers'").fetchall() == [
        ("boss",)]


def test_the_command_line_maps_a_column_by_hand(store, people, tmp_path):
    store.close()
    source = tmp_path / "c.csv"
    source.write_text(customers_csv(1).replace("客户名称", "公司"), encoding="utf-8")
    done = run_cli("--db", str(store.location), "import", "customers", str(source), "--map", "公司=name")
    assert done.returncode == 0, done.stderr
    assert store.conn.execute("SELECT name FROM customers").fetchone()[0] == "海棠湾酒店0"


def test_a_unique_field_is_looked_up_by_an_index(store):
    assert "idx_customers_code" in store.index_names("customers")
    if store.url:                          # SQLite's query plan: that SQLite uses it
        return
    plan = store.conn.execute("EXPLAIN QUERY PLAN SELECT 1 FROM customers WHERE code = ? AND +deleted_at IS NULL",
                              ("C1",)).fetchall()
    assert "idx_customers_code" in str(plan)


# --------------------------------------------------------------------------------- a past complaint register

TICKET_HEADER = "工单号,受理时间,来电人,来电号码,渠道,类型,分类,紧急程度,事由,详细情况,状态,关闭时间"


def test_last_year_s_complaint_register_keeps_its_times_and_numbers_and_stays_out_of_the_work_lists(store, people):
    from kefu import tickets
    text = "\n".join([TICKET_HEADER,
                      "TS-20250314-0007,2025年3月14日 09:30,张三,13812345678,400 来电,投诉,维修质量,突发,空调不制冷,三次报修未修好,,"
                      "2025-03-15 17:00",
                      ",2025/6/2 14:05,李四,13812345679,来访,咨询,其他,一般,会员积分,积分何时到账,,",
                      ",2025/6/2 16:40,王五,,网络,建议,物业服务,一般,停车指引,希望增加指示牌,处理中,"]) + "\n"
    sheet = store.sheet("tickets")
    table = importing.read_file(text.encode("gbk"), "2025投诉登记.csv")
    mapping = importing.auto_map(sheet, table.headers)
    assert mapping[1] == "created_at"                                   # 受理时间: when each was received
    plan = importing.check(store, "tickets", table, mapping, people["manager"])
    assert plan.errors == [] and len(plan.new) == 3
    importing.commit(store, plan, people["manager"])

    rows = store.conn.execute("SELECT ticket_no, created_at, state, closed_at, response_due, escalated, "
                              "acknowledged_at FROM tickets ORDER BY id").fetchall()
    assert [r[:4] for r in rows] == [
        ("TS-20250314-0007", "2025-03-14T09:30:00+08:00", "closed", "2025-03-15T17:00:00+08:00"),
        ("TS-20250602-0001", "2025-06-02T14:05:00+08:00", "closed", "2025-06-02T14:05:00+08:00"),
        ("TS-20250602-0002", "2025-06-02T16:40:00+08:00", "in_progress", None)]   # numbered by received day
    assert rows[0][4] > rows[0][1]                                      # due by the SLA from its received time
    assert rows[0][5] == 1 and rows[0][6] == rows[0][3]                # an emergency: escalated, signed for
    manager = people["manager"]
    still_open = store.query("tickets", manager, tickets.queue("open", manager)).rows
    assert [r["ticket_no"] for r in still_open] == ["TS-20250602-0002"]    # only the one the file says is open
    assert store.query("tickets", manager, tickets.queue("escalations", manager)).total == 0
    audit = store.conn.execute("SELECT count(*), min(at) > '2026' FROM kefu_audit WHERE sheet = 'tickets' "
                               "AND action = 'create'").fetchone()
    assert audit == (3, 1)                                              # the audit says when they were written


def test_a_received_time_in_the_future_or_not_a_time_is_named_and_nothing_is_written(store, people):
    text = "\n".join([TICKET_HEADER, ",2099-01-01 09:00,张三,13812345678,来访,咨询,其他,一般,主题,描述,,",
                      ",昨天下午,李四,13812345679,来访,咨询,其他,一般,主题,描述,,"]) + "\n"
    plan = plan_for(store, "tickets", text.encode(), people["manager"])
    assert [(e.row, e.column, e.code) for e in plan.errors] == [(2, "受理时间", "im.created_future"),
                                                                 (3, "受理时间", "err.bad_datetime")]
    assert "受理时间" in plan.errors[0].reason(store.sheet("tickets"), "zh")
    with pytest.raises(ImportRefused):
        importing.commit(store, plan, people["manager"])
    assert count(store, "tickets") == 0


def test_created_at_from_a_file_is_refused_by_the_store_for_other_registers_and_for_the_future(store, people):
    with pytest.raises(ValueError):
        store.insert("customers", {"code": "C9", "name": "海棠湾", "kind": "company"}, people["manager"],
                     created_at="2025-01-01T00:00:00+08:00")
    with pytest.raises(ValueError):
        store.insert("tickets", {"caller_name": "张三", "channel": "visit", "kind": "inquiry", "subject": "x",
                                 "description": "y"}, people["manager"], created_at="2099-01-01T00:00:00+08:00")
    assert count(store, "tickets") == 0 and count(store, "customers") == 0


# --------------------------------------------------------------------------------------------- hostile files
# Every file the import takes by its name (.csv, .xlsx) that is no spreadsheet of a register, or one built to
# exhaust the machine: refused with a message naming the problem, nothing written, memory bounded.

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE = "http://schemas.openxmlformats.org/package/2006/relationships"
OOXML = "application/vnd.openxmlformats-officedocument.spreadsheetml"
GIB = 2**30


def handmade_xlsx(rows, *, strings=None, dimension: str | None = None, level: int = 6) -> bytes:
    """A workbook written part by part with zipfile: `rows` (the sheet's <row> elements) and `strings` (the
    shared strings' <si> elements) are iterables of XML bytes streamed into the zip, so a part can unpack to
    gigabytes while the file stays a few megabytes."""
    import zipfile
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as book:
        book.writestr("[Content_Types].xml", (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{OOXML}.sheet.main+xml"/>'
            f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{OOXML}.worksheet+xml"/>'
            + (f'<Override PartName="/xl/sharedStrings.xml" ContentType="{OOXML}.sharedStrings+xml"/>' if strings else "")
            + "</Types>"))
        book.writestr("_rels/.rels", f'<Relationships xmlns="{PACKAGE}"><Relationship Id="rId1" '
                                     f'Type="{RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        book.writestr("xl/workbook.xml", f'<workbook xmlns="{MAIN}" xmlns:r="{RELS}"><sheets>'
                                         '<sheet name="客户" sheetId="1" r:id="rId1"/></sheets></workbook>')
        book.writestr("xl/_rels/workbook.xml.rels", (
            f'<Relationships xmlns="{PACKAGE}"><Relationship Id="rId1" Type="{RELS}/worksheet" '
            'Target="worksheets/sheet1.xml"/>'
            + (f'<Relationship Id="rId2" Type="{RELS}/sharedStrings" Target="sharedStrings.xml"/>' if strings else "")
            + "</Relationships>"))
        with book.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
            part.write(f'<worksheet xmlns="{MAIN}">'.encode()
                       + (f'<dimension ref="{dimension}"/>'.encode() if dimension else b"") + b"<sheetData>")
            for row in rows:
                part.write(row)
            part.write(b"</sheetData></worksheet>")
        if strings:
            with book.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
                part.write(f'<sst xmlns="{MAIN}">'.encode())
                for item in strings:
                    part.write(item)
                part.write(b"</sst>")
    return out.getvalue()


def xml_row(number: int, *cells, column: str = "") -> bytes:
    """A <row> of inline-text cells (from column A, or the one cell at `column`)."""
    where = f' r="{column}{number}"' if column else ""
    return (f'<row r="{number}">' + "".join(f'<c{where} t="inlineStr"><is><t>{cell}</t></is></c>' for cell in cells)
            + "</row>").encode()


HEADER_ROW = xml_row(1, *HEADER.split(","))
GOOD_ROW = xml_row(2, "C00001", "海棠湾酒店", "企业", "张三", "13812345678", "A（优）", "keeper")


@lru_cache(maxsize=1)
def zip_bomb(size: int = 2 * GIB) -> bytes:
    """A workbook of some 15 MB whose sheet unpacks to `size` bytes of rows (made once per test process)."""
    row = b'<row><c t="inlineStr"><is><t>' + b"A" * 1000 + b"</t></is></c></row>"
    chunk = row * (2**20 // len(row))
    return handmade_xlsx([HEADER_ROW, *(chunk for _ in range(size // len(chunk)))], level=1)


def strings_bomb(size: int = GIB) -> bytes:
    """A workbook whose shared-strings table (which the reader holds whole) unpacks to `size` bytes."""
    item = b"<si><t>x</t></si>" * 60_000
    return handmade_xlsx([HEADER_ROW, b'<row r="2"><c t="s"><v>0</v></c></row>'],
                         strings=(item for _ in range(size // len(item))), level=1)


def many_strings(size: int = 34 * 2**20) -> bytes:
    """A workbook with a shared-strings table of distinct short texts, `size` bytes unpacked: no zip bomb
    (it packs like any text), but more text than the reader holds in memory."""
    def items():
        written, n = 0, 0
        while written < size:
            item = f"<si><t>客户{n:x}</t></si>".encode()
            written, n = written + len(item), n + 1
            yield item
    return handmade_xlsx([HEADER_ROW, b'<row r="2"><c t="s"><v>0</v></c></row>'], strings=items(), level=1)


def rows_of_nothing_xlsx() -> bytes:
    """1,048,576 rows (Excel's last row), none holding anything."""
    return handmade_xlsx([HEADER_ROW, *(f'<row r="{n}"/>'.encode() for n in range(2, 1_048_577))])


def truncated(data: bytes, keep: float) -> bytes:
    return data[:int(len(data) * keep)]


GOOD_XLSX = handmade_xlsx([HEADER_ROW, GOOD_ROW])
LONG_TEXT = "长" * 2**20                                                   # 1 MB and more in UTF-8
HOSTILE = {   # name: (how the file is made, the message's code, what the Chinese message says)
    "truncated.xlsx": (lambda: GOOD_XLSX[:len(GOOD_XLSX) // 2], "im.bad_xlsx", "Excel 文件已损坏"),
    "truncated-end.xlsx": (lambda: GOOD_XLSX[:-60], "im.bad_xlsx", "Excel 文件已损坏"),
    "photo.csv": (lambda: random.Random(7).randbytes(300_000), "im.binary", "不是文本 CSV 文件"),
    "no-nul-binary.csv": (lambda: bytes(range(1, 256)) * 2_000, "im.binary", "不是文本 CSV 文件"),
    "10000-columns.csv": (lambda: (",".join(f"列{n}" for n in range(10_000)) + "\n" + "x," * 9_999 + "x\n").encode(),
                          "im.too_many_columns", "第 1 行有 10,000 列，最多可导入 200 列"),
    "10000-columns.xlsx": (lambda: handmade_xlsx([xml_row(1, *(f"列{n}" for n in range(10_000)))]),
                           "im.too_many_columns", "第 1 行有 10,000 列"),
    "far-right.xlsx": (lambda: handmade_xlsx([HEADER_ROW, GOOD_ROW, xml_row(3, "?", column="XFD")]),
                       "im.too_many_columns", "第 3 行有 16,384 列"),
    "50mb-line.csv": (lambda: b"a," * (25 * 2**20), "im.too_big", "文件大小为 50.0 MB，一次最多导入 30 MB"),
    "14mb-line.csv": (lambda: b"a," * (7 * 2**20), "im.line_too_long", "文件第 1 行有 14,680,064 个字符"),
    "1mb-cell.csv": (lambda: (HEADER + "\nC1," + LONG_TEXT + ",企业,张三,13812345678,A,keeper\n").encode(),
                     "im.cell_too_long_row", "第 2 行：单元格超过 32,767 个字符"),
    "40000-characters.csv": (lambda: (HEADER + "\nC1," + "长" * 40_000 + ",企业,张三,13812345678,A,keeper\n").encode(),
                             "im.cell_too_long", "第 2 行“客户名称”列：单元格超过 32,767 个字符"),
    "1mb-cell.xlsx": (lambda: handmade_xlsx([HEADER_ROW, xml_row(2, "C1", LONG_TEXT)]),
                      "im.cell_too_long", "第 2 行“客户名称”列：单元格超过 32,767 个字符"),
    "rows-of-nothing.csv": (lambda: (HEADER + "\n" + ",,,,,,\n" * (2**20 - 1)).encode(),
                            "im.too_many_rows", "文件超过 200,000 行"),
    "blank-lines.csv": (lambda: b"\r\n" * 2**20, "im.too_many_rows", "文件超过 200,000 行"),
    "row-999999999999.xlsx": (lambda: handmade_xlsx([HEADER_ROW, xml_row(999_999_999_999, "C1")]),
                              "im.too_many_rows", "文件超过 200,000 行"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_file_is_refused_with_a_message_naming_the_problem(name):
    build, code, says = HOSTILE[name]
    with pytest.raises(ImportRefused) as refused:
        importing.read_file(build(), name)
    assert refused.value.code == code
    assert says in refused.value.message("zh")
    english = refused.value.message("en")
    assert english != code and not any("\u4e00" <= ch <= "\u9fff" for ch in english.replace("客户名称", ""))


def test_a_workbook_whose_text_table_is_too_large_to_hold_is_refused_before_it_is_read():
    data = many_strings()
    with pytest.raises(ImportRefused) as refused:
        importing.read_file(data, "text.xlsx")
    assert refused.value.code == "im.xlsx_strings"
    assert refused.value.message("zh").startswith("工作簿的文本表解压后有 34 MB，最多可读取 32 MB")


def test_a_sheet_that_declares_the_whole_grid_is_read_by_its_cells():
    """A1:XFD1048576 declared: read-only openpyxl would pad every row to 16,384 cells (and add rows to the
    1,048,576th); the file is read as the two rows and seven columns it holds."""
    table = importing.read_file(handmade_xlsx([HEADER_ROW, GOOD_ROW], dimension="A1:XFD1048576"), "grid.xlsx")
    assert table.headers == HEADER.split(",")
    assert table.rows == [["C00001", "海棠湾酒店", "企业", "张三", "13812345678", "A（优）", "keeper"]]


def test_a_cell_at_excel_s_limit_and_an_empty_styled_cell_far_right_still_import(store, people):
    far = b'<row r="2"><c t="inlineStr"><is><t>C1</t></is></c><c t="inlineStr"><is><t>' + ("长" * 100).encode() \
        + b'</t></is></c><c r="XFD2" s="1"/></row>'
    table = importing.read_file(handmade_xlsx([HEADER_ROW, far]), "styled.xlsx")
    assert [len(cell) for cell in table.rows[0]] == [2, 100]
    at_limit = (HEADER + "\nC1,海棠,企业,张三,13812345678,A,keeper," + "x" * importing.MAX_CELL + "\n").encode()
    assert len(importing.read_file(at_limit, "limit.csv").rows[0][-1]) == importing.MAX_CELL


BOUNDED = {   # built in the test, written to files, each read by the import in a child process
    "bomb.xlsx": (zip_bomb, "im.xlsx_unpacks", "此 Excel 文件解压后将达 2,0"),            # 2,047 MB
    "strings-bomb.xlsx": (strings_bomb, "im.xlsx_unpacks", "此 Excel 文件解压后将达 1,02"),   # 1,023 MB
    "rows-of-nothing.xlsx": (rows_of_nothing_xlsx, "im.too_many_rows", "文件超过 200,000 行"),
    "50mb-line.csv": (lambda: b"x" * (50 * 2**20), "im.too_big", "文件大小为 50.0 MB"),
    "1mb-cells.csv": (lambda: (HEADER + "\n" + ("C1," + LONG_TEXT + ",企业,张三,,A,keeper\n") * 8).encode(),
                      "im.cell_too_long_row", "第 2 行"),
}
MEMORY_BOUND_MB = 400
READER = """
import resource, sys
from kefu import importing
for path in sys.argv[1:]:
    try:
        importing.read_path(path)
        print(path, "read", flush=True)
    except importing.ImportRefused as exc:
        print(path, exc.code, exc.message("zh"), flush=True)
    print("peak", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, flush=True)
"""


def test_zip_bombs_and_huge_files_are_refused_in_bounded_memory(tmp_path):
    """Peak memory of the process reading them (its own ru_maxrss), the program's own imports included (some
    170 MB): under MEMORY_BOUND_MB. A zip bomb that were read would take gigabytes; the reader may take no more
    than 2 GB of address space, so a regression fails here, not the machine. The reader is started by a shell,
    not forked from this test's process: Linux carries a process's peak over fork and exec, so a direct child
    would report the pytest worker's own peak (400 MB late in a full run), not what the import took."""
    import resource
    paths = []
    for name, (build, _, _) in BOUNDED.items():
        path = tmp_path / name
        path.write_bytes(build())
        paths.append(str(path))
    assert os.path.getsize(tmp_path / "bomb.xlsx") < 20 * 2**20

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 * GIB + 512 * 2**20,) * 2)
    child = subprocess.run(["/bin/sh", "-c", '"$0" "$@"; exit $?', sys.executable, "-c", READER, *paths], cwd=ROOT,
                           capture_output=True, text=True, preexec_fn=limit, env={**os.environ, "PYTHONPATH": str(ROOT)})
    out = child.stdout
    assert child.returncode == 0, child.stderr
    told = dict(line.split(" ", 1) for line in out.splitlines() if not line.startswith("peak"))
    for name, (_, code, says) in BOUNDED.items():
        assert told[str(tmp_path / name)].startswith(code + " " + says), (name, told[str(tmp_path / name)])
    peaks = [int(line.split()[1]) for line in out.splitlines() if line.startswith("peak")]
    assert len(peaks) == len(BOUNDED) and max(peaks) < MEMORY_BOUND_MB, dict(zip(BOUNDED, peaks))
    print("peak memory (MB) after each file:", dict(zip(BOUNDED, peaks)))


def test_the_command_line_refuses_a_zip_bomb_in_the_user_s_language(store, people, tmp_path):
    """(A file over the limit is refused by its size before the command line reads it: read_path, in the
    memory test above.)"""
    store.close()
    (tmp_path / "bomb.xlsx").write_bytes(zip_bomb())
    refused = run_cli("--db", str(store.location), "import", "customers", str(tmp_path / "bomb.xlsx"), "--lang", "zh",
                      "--user", "boss")
    assert refused.returncode == 1 and "此 Excel 文件解压后将达 2,0" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    assert count(store, "customers") == 0
    assert count(store, "kefu_audit WHERE sheet = 'customers'") == 0


def test_the_import_screen_tells_each_hostile_file_s_problem_and_writes_nothing(demo_db):
    """The manager uploads each file on the import screen (AppTest): the message in Chinese, no column
    mapping, no check button, nothing written."""
    from apptest import db_value, login, open_page
    counts = lambda: (db_value(demo_db, "SELECT count(*) FROM customers"),          # noqa: E731
                      db_value(demo_db, "SELECT count(*) FROM kefu_audit"))
    at = open_page(login("demo-manager"), "imports")
    before = counts()                                   # the login is audited
    at.selectbox(key="import__sheet").set_value("customers").run()
    files = {name: (HOSTILE[name][0](), HOSTILE[name][2]) for name in (
        "truncated.xlsx", "photo.csv", "10000-columns.csv", "1mb-cell.xlsx", "row-999999999999.xlsx", "14mb-line.csv")}
    files["bomb.xlsx"] = (zip_bomb(), "此 Excel 文件解压后将达 2,0")
    for name, (data, says) in files.items():
        at.file_uploader(key="import__file").set_value((name, data, "application/octet-stream"))
        at = at.run()
        assert not at.exception, (name, at.exception)
        shown = [re.sub(r"\\(.)", r"\1", e.value).replace(":color[]", "") for e in at.error]   # as Markdown shows it
        assert [text for text in shown if says in text], (name, shown)
        assert "import__check" not in [b.key for b in at.button] and not at.data_editor, name
    assert counts() == before
