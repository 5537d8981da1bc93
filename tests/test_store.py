"""The store: migration without data loss, every write audited in its transaction, soft delete,
search in Chinese and English, server-side filters and pages, and refusals that name the field."""
import json
import threading
from datetime import date, timedelta
from pathlib import Path

import pytest

from kefu import auth, config
from kefu.errors import DatabaseUnavailable, MigrationError, NotFound, PermissionDenied, StaleRecord
from kefu.sheets import ValidationError, load_sheets
from kefu.store import Query, Store
from conftest import ASKED

SCHEMA = Path(__file__).resolve().parent.parent / "schema"


def visit(host: int, **extra) -> dict:
    asked = ASKED if extra.get("arrived_at") else {}        # an arrival is asked who the visitor is
    return {**asked, "visitor_name": "张三丰", "phone": "13812345678", "purpose": "business", "host": host, **extra}


def audit_rows(store, sheet="visitors"):
    return store.conn.execute("SELECT action, row_id, username, before, after FROM kefu_audit WHERE sheet = ? "
                              "ORDER BY id", (sheet,)).fetchall()


@pytest.mark.sqlite
def test_fresh_file_has_a_table_per_sheet_readable_by_sqlite_utils(store):
    tables = set(store.db.table_names())
    assert {"visitors", "roster", "kefu_users", "kefu_audit", "visitors_fts"} <= tables
    assert store.db["visitors"].columns_dict["phone"] is str
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.migrate() == []                      # a second run has nothing to do


def test_every_write_has_its_audit_row(store, make_user):
    staff, manager = make_user("staff"), make_user("manager")
    row_id = store.insert("visitors", visit(staff.id), staff)
    store.update("visitors", row_id, {"organisation": "华为"}, staff)
    store.delete("visitors", row_id, manager)
    store.restore("visitors", row_id, manager)
    rows = audit_rows(store)
    assert [r[0] for r in rows] == ["create", "update", "delete", "restore"]
    assert all(r[1] == row_id for r in rows)
    assert [r[2] for r in rows] == [staff.username, staff.username, manager.username, manager.username]
    assert json.loads(rows[1][3]) == {"organisation": None} and json.loads(rows[1][4]) == {"organisation": "华为"}
    assert json.loads(rows[0][4])["visitor_name"] == "张三丰"


def test_soft_delete_hides_and_restore_brings_back(store, make_user):
    manager = make_user("manager")
    row_id = store.insert("visitors", visit(manager.id), manager)
    store.delete("visitors", row_id, manager)
    assert store.query("visitors", manager).total == 0
    assert store.query("visitors", manager, Query(deleted=True)).total == 1
    assert store.conn.execute("SELECT count(*) FROM visitors").fetchone()[0] == 1     # still in the file
    with pytest.raises(NotFound):
        store.update("visitors", row_id, {"organisation": "x"}, manager)
    store.restore("visitors", row_id, manager)
    assert store.query("visitors", manager).total == 1


def test_refused_input_writes_nothing_and_names_fields(store, make_user):
    staff = make_user("staff")
    bad = {"visitor_name": "", "phone": "abc", "purpose": "party", "host": staff.id, "party_size": "0",
           "record": "x" * 10_000}
    with pytest.raises(ValidationError) as caught:
        store.insert("visitors", bad, staff)
    assert set(caught.value.by_field()) == {"visitor_name", "phone", "purpose", "party_size", "record"}
    assert "联系电话：“abc”不是有效的电话号码" in caught.value.messages("zh")
    assert store.conn.execute("SELECT count(*) FROM visitors").fetchone()[0] == 0
    assert audit_rows(store) == []


def test_a_bad_row_in_a_batch_writes_none_of_it(store, make_user):
    staff = make_user("staff")
    rows = [visit(staff.id), visit(staff.id), visit(99999)]          # host 99999 does not exist
    with pytest.raises(ValidationError) as caught:
        store.insert_many("visitors", rows, auth.SYSTEM)
    assert caught.value.by_field() == {"host": "err.bad_user"}
    assert store.conn.execute("SELECT count(*) FROM visitors").fetchone()[0] == 0
    assert audit_rows(store) == []


def test_unknown_field_and_departure_before_arrival_are_refused(store, make_user):
    staff = make_user("staff")
    with pytest.raises(ValidationError) as caught:
        store.insert("visitors", visit(staff.id, nickname="x"), staff)
    assert caught.value.by_field() == {"nickname": "err.unknown_field"}
    row_id = store.insert("visitors", visit(staff.id, arrived_at="2026-11-22 10:00"), staff)
    with pytest.raises(ValidationError) as caught:
        store.update("visitors", row_id, {"left_at": "2026-11-22 09:00"}, staff)
    assert caught.value.messages("zh") == ["离开时间：不能早于到访时间"]


def test_stale_screen_cannot_overwrite_a_newer_change(store, make_user):
    staff = make_user("staff")
    row_id = store.insert("visitors", visit(staff.id), staff)
    seen = store.get("visitors", row_id, staff)
    store.update("visitors", row_id, {"organisation": "First"}, staff, expected_version=seen["version"])
    with pytest.raises(StaleRecord):
        store.update("visitors", row_id, {"organisation": "Second"}, staff, expected_version=seen["version"])
    assert store.get("visitors", row_id, staff)["organisation"] == "First"


def test_unique_group_ignores_deleted_rows(store, make_user):
    supervisor = make_user("supervisor")
    shift = {"duty_date": "2026-11-23", "staff": supervisor.id, "shift": "day"}
    first = store.insert("roster", shift, supervisor)
    with pytest.raises(ValidationError) as caught:
        store.insert("roster", {**shift, "shift": "evening"}, supervisor)
    assert caught.value.by_field() == {"staff": "err.unique"}
    store.delete("roster", first, supervisor)
    store.insert("roster", {**shift, "shift": "evening"}, supervisor)
    with pytest.raises(ValidationError):
        store.restore("roster", first, supervisor)             # would make a second shift that day


def test_permissions_are_checked_in_the_engine(store, make_user):
    staff, finance = make_user("staff"), make_user("finance")
    row_id = store.insert("visitors", visit(staff.id), staff)
    with pytest.raises(PermissionDenied):
        store.delete("visitors", row_id, staff)
    with pytest.raises(PermissionDenied):
        store.query("visitors", finance)
    with pytest.raises(PermissionDenied):
        store.insert("roster", {"duty_date": "2026-11-23", "staff": staff.id, "shift": "day"}, staff)
    with pytest.raises(ValidationError) as caught:                # staff may not rewrite personal data
        store.update("visitors", row_id, {"phone": "13900000000"}, staff)
    assert caught.value.by_field() == {"phone": "err.not_editable"}


def test_grids_mask_personal_data_and_reveals_are_logged(store, make_user):
    staff, manager = make_user("staff"), make_user("manager")
    row_id = store.insert("visitors", visit(staff.id, id_number="11010119900307001X"), staff)
    assert store.query("visitors", manager).rows[0]["phone"] == "138****5678"
    assert store.get("visitors", row_id, staff, reveal=True)["phone"] == "138****5678"
    assert store.conn.execute("SELECT count(*) FROM kefu_access_log").fetchone()[0] == 0
    shown = store.get("visitors", row_id, manager, reveal=True)
    assert shown["phone"] == "13812345678" and shown["id_number"] == "11010119900307001X"
    log = store.conn.execute("SELECT username, sheet, row_id, action FROM kefu_access_log").fetchall()
    assert log == [(manager.username, "visitors", row_id, "view")]
    history = store.history("visitors", row_id, staff)
    assert history[0]["after"]["phone"] == "138****5678"


@pytest.mark.parametrize("text, expected", [
    ("张三", {"张三丰"}),                  # two Chinese characters: LIKE fallback
    ("三丰", {"张三丰"}),
    ("华为技术", {"李四"}),                # 3+ characters: trigram full-text
    ("huawei", {"王五"}),                  # case-insensitive English
    ("Huawei Tech", {"王五"}),
    ("1381234", {"张三丰"}),               # digits of a phone
    ("李", {"李四"}),                      # one character
    ("hu", {"王五"}),                      # a short Latin prefix of a word
    ("张三 1381234", {"张三丰"}),           # a short and a long term together
    ('"; DROP TABLE visitors; --', set()),  # operators and quotes are text, not syntax
    ("AND OR NOT *", set()),
    ("x" * 10_000, set()),
])
def test_search_in_chinese_and_english(store, make_user, text, expected):
    staff = make_user("staff")
    store.insert("visitors", visit(staff.id), staff)
    store.insert("visitors", visit(staff.id, visitor_name="李四", organisation="华为技术有限公司",
                                   phone="13900001111"), staff)
    store.insert("visitors", visit(staff.id, visitor_name="王五", organisation="Huawei Technologies",
                                   phone="13700002222"), staff)
    found = store.query("visitors", staff, Query(search=text)).rows
    assert {r["visitor_name"] for r in found} == expected


def test_search_sees_updates_and_not_deleted_rows(store, make_user):
    manager = make_user("manager")
    row_id = store.insert("visitors", visit(manager.id, organisation="旧公司名称"), manager)
    store.update("visitors", row_id, {"organisation": "新公司名称"}, manager)
    assert store.query("visitors", manager, Query(search="旧公司")).total == 0
    assert store.query("visitors", manager, Query(search="旧公")).total == 0        # the short-term index too
    assert store.query("visitors", manager, Query(search="新公司")).total == 1
    assert store.query("visitors", manager, Query(search="新公")).total == 1
    store.delete("visitors", row_id, manager)
    assert store.query("visitors", manager, Query(search="新公司")).total == 0


def test_a_large_batch_is_searchable_and_a_refused_one_leaves_the_index_as_it_was(store, make_user):
    """A batch of many rows is indexed at its end, not row by row (Store._fts_in_one): every row of it is
    found, a single insert after it is indexed again by the trigger, and a batch refused midway indexes
    nothing and leaves the trigger in place."""
    staff = make_user("staff")
    store.insert_many("visitors", [visit(staff.id, visitor_name=f"批量访客{n:03d}", organisation=f"第{n:03d}号商行")
                                   for n in range(80)], staff)
    found = store.query("visitors", staff, Query(search="号商行", page_size=100))
    assert found.total == 80
    assert store.query("visitors", staff, Query(search="第042号")).rows[0]["visitor_name"] == "批量访客042"
    store.insert("visitors", visit(staff.id, visitor_name="单个访客", organisation="孤零零贸易"), staff)
    assert store.query("visitors", staff, Query(search="孤零零")).total == 1
    # a duplicate archive code is found inside the transaction, after 55 rows of the batch were written
    store.insert("customers", archive(staff, 55, "先到的客户"), staff)
    rows = [archive(staff, 1000 + n, f"不该留下的公司{n}") for n in range(60)]
    rows[55]["code"] = "KH000055"
    with pytest.raises(ValidationError):
        store.insert_many("customers", rows, staff)
    assert store.conn.execute("SELECT count(*) FROM customers").fetchone()[0] == 1
    assert store.query("customers", staff, Query(search="不该留下")).total == 0
    store.insert("customers", archive(staff, 56, "后来居上公司"), staff)
    assert store.query("customers", staff, Query(search="居上公司")).total == 1
    if store.url:                                       # PostgreSQL: no FTS5 tables to check
        return
    assert store.conn.execute("SELECT count(*) FROM customers_fts WHERE customers_fts MATCH '\"不该留下\"'").fetchone()[0] == 0
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    for fts in ("visitors_fts", "customers_fts"):       # FTS5 raises if its index and the table disagree
        store.conn.execute(f"INSERT INTO {fts}({fts}, rank) VALUES ('integrity-check', 1)")


@pytest.mark.sqlite
def test_the_search_index_is_rewritten_only_when_a_searched_column_changes(store, make_user):
    """The update trigger fires only for searched columns: a file made by an earlier version, whose trigger
    fired on every update, gets the new one at migration; search stays right after either kind of change."""
    staff = make_user("staff")
    row_id = store.insert("visitors", visit(staff.id, organisation="旧日商行"), staff)
    conn = store.conn
    conn.execute("DROP TRIGGER visitors_fts_au")
    conn.execute("CREATE TRIGGER visitors_fts_au AFTER UPDATE ON visitors BEGIN SELECT 1; END")   # an older one
    store.migrate()
    trigger = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'visitors_fts_au'").fetchone()[0]
    assert "AFTER UPDATE OF" in trigger and '"organisation"' in trigger
    assert store.migrate() == []

    segments = lambda: conn.execute("SELECT count(*) FROM visitors_fts_data").fetchone()[0]
    before = segments()
    store.update("visitors", row_id, {"left_at": "2026-11-30 18:00"}, staff)        # not a searched field
    assert segments() == before
    store.update("visitors", row_id, {"organisation": "新开商行"}, staff)
    assert store.query("visitors", staff, Query(search="新开商")).total == 1
    assert store.query("visitors", staff, Query(search="旧日商")).total == 0
    conn.execute("INSERT INTO visitors_fts(visitors_fts, rank) VALUES ('integrity-check', 1)")


def test_filters_sort_and_pages_happen_in_sql(store, make_user):
    staff = make_user("staff")
    rows = [visit(staff.id, visitor_name=f"访客{n:03d}", purpose="inquiry" if n % 3 else "complaint",
                  arrived_at=f"2026-11-{1 + n % 20:02d} 10:00") for n in range(120)]
    store.insert_many("visitors", rows, auth.SYSTEM)
    page = store.query("visitors", staff, Query(filters={"purpose": ["complaint"]}, page_size=25, page=2,
                                                 sort="visitor_name"))
    assert page.total == 40 and page.pages == 2 and len(page.rows) == 15
    assert [r["visitor_name"] for r in page.rows][:2] == ["访客075", "访客078"]
    ranged = store.query("visitors", staff, Query(filters={"arrived_at": ("2026-11-05", "2026-11-06")}))
    assert ranged.total == 12
    assert all(r["arrived_at"][:10] in ("2026-11-05", "2026-11-06") for r in ranged.rows)
    assert store.query("visitors", staff, Query(page=999, page_size=50)).page == 3     # clamped to the last page


def test_migration_adds_a_new_field_and_keeps_data(tmp_path, make_user, store):
    staff = make_user("staff")
    row_id = store.insert("visitors", visit(staff.id), staff)
    schema = tmp_path / "schema"
    schema.mkdir()
    for path in SCHEMA.glob("*.toml"):
        (schema / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    with open(schema / "visitors.toml", "a", encoding="utf-8") as extra:
        extra.write('\n[[fields]]\nname = "car_plate"\ntype = "text"\nlabel = { en = "Car plate", zh = "车牌" }\n'
                    'index = true\n')
    grown = Store(store.location, load_sheets(schema), config.load())
    assert "visitors: added column car_plate" in grown.migrate()
    assert grown.get("visitors", row_id, staff)["visitor_name"] == "张三丰"
    grown.update("visitors", row_id, {"car_plate": "琼A12345"}, staff)
    assert grown.get("visitors", row_id, staff)["car_plate"] == "琼A12345"


def test_migration_refuses_to_drop_or_retype_a_column_holding_data(tmp_path, make_user, store):
    staff = make_user("staff")
    store.insert("visitors", visit(staff.id, organisation="华为"), staff)
    schema = tmp_path / "schema"
    schema.mkdir()
    (schema / "roster.toml").write_text((SCHEMA / "roster.toml").read_text(encoding="utf-8"), encoding="utf-8")
    text = (SCHEMA / "visitors.toml").read_text(encoding="utf-8")
    text = text.replace('name = "party_size"\ntype = "int"', 'name = "party_size"\ntype = "number"')
    text = text.replace('name = "identity"', 'name = "identity_renamed"').replace('"identity"]', '"visitor_name"]')
    (schema / "visitors.toml").write_text(text, encoding="utf-8")
    store.update("visitors", 1, {"identity": "经理"}, staff)
    before = store.columns("visitors")
    changed = Store(store.location, load_sheets(schema), config.load())
    with pytest.raises(MigrationError) as caught:
        changed.migrate()
    text = "\n".join(caught.value.problems)
    assert "field 'party_size' is now number (REAL) but the column is INTEGER and holds 1 value(s)" in text
    assert "column 'identity' is no longer declared but holds 1 value(s)" in text
    after = store.columns("visitors")
    assert before == after and "identity_renamed" not in after             # nothing at all changed


@pytest.mark.sqlite
def test_a_file_that_is_not_a_database_is_refused_clearly(tmp_path):
    bad = tmp_path / "kefu.db"
    bad.write_bytes(b"this is not a database" * 100)
    broken = Store(bad, load_sheets(), config.load())
    with pytest.raises(DatabaseUnavailable) as caught:
        broken.migrate()
    assert "file is not a database" in caught.value.message("en")
    assert bad.read_bytes() == b"this is not a database" * 100


def test_concurrent_writers_lose_nothing(store, make_user):
    staff = make_user("staff")
    errors = []

    def writer(n):
        try:
            for i in range(25):
                store.insert("visitors", visit(staff.id, visitor_name=f"w{n}-{i}"), staff)
        except Exception as exc:              # collected: the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.conn.execute("SELECT count(*) FROM visitors").fetchone()[0] == 100
    assert store.conn.execute("SELECT count(*) FROM kefu_audit WHERE sheet = 'visitors'").fetchone()[0] == 100


def test_money_is_exact_in_integer_fen(money_store):
    for amount in ["0.10", "0.20", 0.1, "19.99"] * 250:
        money_store.insert("fees", {"amount": amount}, auth.SYSTEM)
    total = money_store.conn.execute("SELECT sum(amount) FROM fees").fetchone()[0]
    assert total == (10 + 20 + 10 + 1999) * 250
    assert {type(r[0]) for r in money_store.conn.execute("SELECT amount FROM fees")} == {int}     # whole fen


def archive(owner, n: int, name: str) -> dict:
    return {"code": f"KH{n:06d}", "name": name, "kind": "company", "credit_rating": "A", "owner": owner.id}


def test_a_ref_picker_finds_an_old_record_by_search_and_never_offers_an_invisible_one(store, make_user):
    keeper, other, gm = (make_user(r) for r in ("staff", "staff", "gm"))
    old = store.insert("customers", archive(keeper, 1, "雨林木风计算机信息有限公司"), keeper)
    theirs = store.insert("customers", archive(other, 2, "雨林木风物业管理有限公司"), other)
    store.insert_many("customers", [archive(keeper, n, f"海棠湾第{n}酒店") for n in range(3, 603)], auth.SYSTEM)
    assert old not in dict(store.ref_options("customers", gm))                   # older than the newest 500
    for query in ("雨林木风计算机", "雨林", "ylmf", "yulinmufeng", "KH000001"):
        assert old in dict(store.ref_options("customers", gm, query=query)), query
    newest_match = store.ref_options("customers", gm, query="雨林木风", limit=1)
    assert newest_match == [(theirs, "雨林木风物业管理有限公司")]
    assert [i for i, _ in store.ref_options("customers", keeper, query="雨林")] == [old]       # not the other's
    assert [i for i, _ in store.ref_options("customers", other, query="雨林")] == [theirs]
    assert store.ref_options("customers", other, query="计算机") == []
    store.grant("customers", old, other.id, gm, until=(date.today() + timedelta(days=30)).isoformat())
    assert [i for i, _ in store.ref_options("customers", other, query="雨林")] == [theirs, old]  # granted: as before
    store.delete("customers", theirs, auth.SYSTEM)
    assert [i for i, _ in store.ref_options("customers", other, query="雨林")] == [old]
