"""The register designer's engine (kefu/designer.py) and `python -m kefu sheet`: the file it writes, every
refusal (bad input, locked fields, stored records that would break), the concurrent save, versions, restore,
the live reload, and the command line's exit codes."""
from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest

from kefu import auth, config, designer, versions
from kefu.cli import main as cli
from kefu.sheets import load_sheets
from kefu.store import Store

ROOT = Path(__file__).resolve().parent.parent
HAND_WRITTEN = sorted((ROOT / "schema").glob("*.toml"))

UMBRELLAS = {
    "name": "umbrellas",
    "label": {"en": "Loaner umbrellas", "zh": "借伞登记"},
    "icon": ":material/umbrella:",
    "list": ["borrower", "phone", "lent_on", "colour"],
    "search": ["borrower"],
    "permissions": {"staff": ["read", "create"], "admin": ["read", "create", "update", "delete"]},
    "fields": [
        {"name": "borrower", "type": "text", "label": {"en": "Borrower", "zh": "借用人"}, "max_length": 50},
        {"name": "phone", "type": "phone", "label": {"en": "Phone", "zh": "电话"}, "pii": True},
        {"name": "lent_on", "type": "date", "label": {"en": "Lent on", "zh": "借出日期"}},
        {"name": "colour", "type": "choice", "label": {"en": "Colour", "zh": "颜色"},
         "choices": [{"value": "black", "en": "Black", "zh": "黑色"}, {"value": "red", "en": "Red", "zh": "红色"}]},
    ],
}


@pytest.fixture(scope="module")
def blank_office(tmp_path_factory) -> SimpleNamespace:
    """A database migrated over schema/ with an administrator and a staff member, made once: each office
    below starts from a copy of the file (the migration and the password hashes took most of a test's time)."""
    path = tmp_path_factory.mktemp("designer-office") / "kefu.db"
    db = Store(path, load_sheets(ROOT / "schema"), config.load())
    db.migrate()
    admin = auth.get_user(db, auth.create_user(db, "admin1", "Admin", "admin", "correct-horse-1", auth.SYSTEM))
    staff = auth.get_user(db, auth.create_user(db, "staff1", "Staff", "staff", "correct-horse-1", auth.SYSTEM))
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return SimpleNamespace(path=path, admin=admin, staff=staff)


def open_office(blank_office: SimpleNamespace, folder: Path) -> Store:
    """A schema folder of its own (a copy of schema/) and a copy of the migrated database over it."""
    schema = folder / "schema"
    shutil.copytree(ROOT / "schema", schema)
    shutil.copy(blank_office.path, folder / "kefu.db")
    db = Store(folder / "kefu.db", load_sheets(schema), config.load())
    designer.mark_current(db)
    db.folder = schema
    return db


@pytest.fixture
def office(blank_office, tmp_path, monkeypatch):
    db = open_office(blank_office, tmp_path)
    monkeypatch.setenv("KEFU_SCHEMA", str(db.folder))
    yield db
    db.close()


@pytest.fixture(scope="module")
def _refusing_office(blank_office, tmp_path_factory):
    db = open_office(blank_office, tmp_path_factory.mktemp("refusing"))
    yield db
    db.close()


@pytest.fixture
def refusing_office(_refusing_office, monkeypatch):
    """One office shared by the tests of a change that is refused (each asserts that nothing was written)."""
    monkeypatch.setenv("KEFU_SCHEMA", str(_refusing_office.folder))
    assert not (_refusing_office.folder / "umbrellas.toml").exists()
    return _refusing_office


@pytest.fixture
def admin(blank_office) -> auth.User:
    return blank_office.admin


def umbrellas(**changes) -> dict:
    data = tomllib.loads(designer.to_toml(UMBRELLAS))
    data.update(changes)
    return data


def field_of(data: dict, name: str) -> dict:
    return next(f for f in data["fields"] if f["name"] == name)


def create(office, admin, data=None) -> designer.Plan:
    return designer.apply(office, admin, designer.to_toml(data or UMBRELLAS), new=True)


def lend(office, admin, rows):
    for row in rows:
        office.insert("umbrellas", row, admin)


def refused(office, admin, data, kind="data") -> designer.DesignRefused:
    before = (office.folder / "umbrellas.toml").read_text(encoding="utf-8")
    with pytest.raises(designer.DesignRefused) as caught:
        designer.apply(office, admin, designer.to_toml(data, before), base_text=before)
    assert caught.value.kind == kind, caught.value.problems
    assert (office.folder / "umbrellas.toml").read_text(encoding="utf-8") == before     # nothing written
    return caught.value


@pytest.fixture(scope="module")
def hand_written_sheets():
    return load_sheets(ROOT / "schema")


# -- the file -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", HAND_WRITTEN, ids=lambda p: p.name)
def test_a_hand_written_register_opened_and_saved_unchanged_is_the_same_bytes(path):
    text = path.read_text(encoding="utf-8")
    assert designer.to_toml(tomllib.loads(text), text) == text


@pytest.mark.parametrize("path", HAND_WRITTEN, ids=lambda p: p.name)
def test_a_register_written_anew_loads_to_the_same_sheet(path, hand_written_sheets):
    """The writer's own layout (a register designed from nothing) says the same register: the loader reads
    it to an equal Sheet (with every other register: load_sheets's checks across files pass too)."""
    text = path.read_text(encoding="utf-8")
    fresh = designer.to_toml(tomllib.loads(text))
    assert fresh != text and fresh.startswith("# ")
    original = hand_written_sheets[path.stem]
    rewritten = load_sheets(ROOT / "schema", texts={path.stem: fresh})[path.stem]
    assert {k: v for k, v in vars(rewritten).items() if k not in ("path", "checks", "import_fill")} == \
           {k: v for k, v in vars(original).items() if k not in ("path", "checks", "import_fill")}


def test_an_edit_keeps_the_files_comments_and_layout():
    text = (ROOT / "schema" / "roster.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    field_of(data, "note")["label"]["zh"] = "备注说明"
    data["fields"].append({"name": "swap_with", "type": "user", "label": {"en": "Swaps with", "zh": "换班同事"}})
    data["permissions"]["staff"] = ["read", "create"]
    written = designer.to_toml(data, text)
    assert tomllib.loads(written) == data
    assert written.startswith("# 排班表 — the duty roster.")                       # the file's own comments stay
    assert 'label = { en = "Note", zh = "备注说明" }' in written
    assert 'staff      = ["read", "create"]' in written                           # aligned like the file
    assert written.endswith('[[fields]]\nname = "swap_with"\ntype = "user"\n'
                            'label = { en = "Swaps with", zh = "换班同事" }\n')
    kept = [line for line in text.splitlines() if line in written.splitlines()]
    assert len(kept) == len(text.splitlines()) - 2                 # every line but the label and staff's rights


def test_a_new_register_is_written_readable_and_applied(office, admin):
    plan = create(office, admin)
    text = (office.folder / "umbrellas.toml").read_text(encoding="utf-8")
    assert plan.applied and plan.version.version == 1 and text == plan.text
    assert '[permissions]' in text and 'staff = ["read", "create"]' in text.replace("  ", " ")
    assert 'choices = [\n  { value = "black", en = "Black", zh = "黑色" },' in text
    assert "umbrellas" in office.sheets and office.sheets["umbrellas"].by_name["phone"].pii
    row = office.insert("umbrellas", {"borrower": "李雷", "phone": "13812345678", "colour": "red"}, admin)
    assert office.get("umbrellas", row, admin)["borrower"] == "李雷"
    audit = office.conn.execute("SELECT action, after FROM kefu_audit WHERE sheet = 'kefu_sheet'").fetchall()
    assert audit and audit[-1][0] == "sheet_saved" and '"umbrellas"' in audit[-1][1]
    assert [v.version for v in designer.history(office, "umbrellas")] == [1]


# -- bad input ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("change, english, chinese", [
    ({"name": ""}, "name '' must be", "只能由小写字母"),
    ({"name": "x" * 41}, "must be lower-case letters", "只能由小写字母"),
    ({"name": "select"}, "'select' is a word SQL reserves", "SQL 保留字"),
    ({"name": "kefu_users"}, "not starting with 'kefu'", "kefu 开头"),
    ({"label": {"en": "", "zh": "借伞"}}, "label needs both en and zh", "同时填写英文和中文"),
    ({"label": {"en": "U" * 61, "zh": "借伞"}}, "the en label is 61 characters long; at most 60", "最多 60"),
    ({"label": {"en": "Umbrellas\nlent", "zh": "借伞"}}, "holds control characters", "控制字符"),
])
def test_a_bad_register_name_or_label_is_refused_naming_it(refusing_office, admin, change, english, chinese):
    data = umbrellas(**change)
    name = data["name"] or "umbrellas"
    with pytest.raises(designer.DesignRefused) as caught:
        designer.apply(refusing_office, admin, designer.to_toml(data), new=True)
    assert caught.value.kind == "invalid"
    assert any(english in m for m in caught.value.messages("en")), caught.value.messages("en")
    assert any(chinese in m for m in caught.value.messages("zh")), caught.value.messages("zh")
    assert not (refusing_office.folder / f"{name}.toml").exists()
    assert name not in refusing_office.sheets


@pytest.mark.parametrize("field, english, chinese", [
    ({"name": "Phone"}, "field name 'Phone' must be lower-case", "字段名 'Phone'"),
    ({"name": "order"}, "field 'order': 'order' is a word SQL reserves", "SQL 保留字"),
    ({"name": "created_at"}, "reserved for the engine's own column", "系统自用"),
    ({"label": {"en": "Note", "zh": ""}}, "field 'note': label needs both en and zh", "同时填写英文和中文"),
    ({"label": {"en": "Note\tx", "zh": "备注"}}, "field 'note': the en label holds control characters", "控制字符"),
    ({"pattern": "[a-z"}, "field 'note': pattern is not a valid regular expression", "不是有效的正则表达式"),
    ({"pattern": "(a+)+b"}, "field 'note': pattern '(a+)+b' can take exponential time", "指数"),
    ({"pattern": "(\\w+\\s?)*$"}, "can take exponential time", "指数"),
    ({"type": "ref", "sheet": "nowhere"}, "field 'note': ref to missing sheet 'nowhere'", "“nowhere”不存在"),
])
def test_a_bad_field_is_refused_naming_it_in_both_languages(refusing_office, admin, field, english, chinese):
    data = umbrellas()
    data["fields"].append({"name": "note", "type": "text", "label": {"en": "Note", "zh": "备注"}, **field})
    if field.get("name") == "Phone" or field.get("name") in ("order", "created_at"):
        data["fields"][-1]["name"] = field["name"]
    with pytest.raises(designer.DesignRefused) as caught:
        create(refusing_office, admin, data)
    assert any(english in m for m in caught.value.messages("en")), caught.value.messages("en")
    assert any(chinese in m for m in caught.value.messages("zh")), caught.value.messages("zh")
    assert not (refusing_office.folder / "umbrellas.toml").exists()


def test_a_duplicate_name_is_refused(refusing_office, admin):
    data = umbrellas(name="roster")
    with pytest.raises(designer.DesignRefused) as caught:
        designer.apply(refusing_office, admin, designer.to_toml(data), new=True)
    assert caught.value.kind == "exists"
    assert "a register named 'roster' exists already" in caught.value.messages("en")[0]
    duplicate = umbrellas()
    duplicate["fields"].append(dict(duplicate["fields"][0]))
    with pytest.raises(designer.DesignRefused) as caught:
        create(refusing_office, admin, duplicate)
    assert "field 'borrower' is declared twice" in caught.value.messages("en")[0]


def test_a_safe_pattern_is_taken():
    from kefu.patterns import slow_reason
    assert slow_reason("[0-9]{17}[0-9Xx]") is None and slow_reason(r"\d+(-\d+)*") is None
    assert slow_reason("(a|aa)*b") == "slow" and slow_reason("(x+)*y") == "nested"


def test_only_the_administrator_designs(refusing_office, blank_office):
    from kefu.errors import PermissionDenied
    with pytest.raises(PermissionDenied):
        create(refusing_office, blank_office.staff)
    assert not (refusing_office.folder / "umbrellas.toml").exists()


# -- stored records that would break -------------------------------------------------------------------------
def lend_three(office, admin) -> Store:
    """The umbrella register with three loans: #1 black, #2 red with a long name, #3 with no phone or date."""
    create(office, admin)
    lend(office, admin, [
        {"borrower": "李雷", "phone": "13812345678", "lent_on": "2026-11-02", "colour": "black"},
        {"borrower": "Han Meimei of the front desk", "phone": "13812345679", "lent_on": "2026-11-03",
         "colour": "red"},
        {"borrower": "李雷", "colour": "red"},
    ])
    return office


@pytest.fixture
def lent(office, admin):
    return lend_three(office, admin)


@pytest.fixture(scope="module")
def _lent_once(blank_office, tmp_path_factory):
    db = open_office(blank_office, tmp_path_factory.mktemp("lent"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KEFU_SCHEMA", str(db.folder))
        lend_three(db, blank_office.admin)
    yield db
    db.close()


@pytest.fixture
def lent_refusing(_lent_once, monkeypatch):
    """The three loans, shared by the tests of a change they refuse (`refused` asserts nothing was written)."""
    monkeypatch.setenv("KEFU_SCHEMA", str(_lent_once.folder))
    return _lent_once


def test_dropping_a_field_that_holds_data_is_refused(lent_refusing, admin):
    data = umbrellas()
    data["fields"] = [f for f in data["fields"] if f["name"] != "phone"]
    data["list"] = ["borrower", "lent_on"]
    problem = refused(lent_refusing, admin, data)
    assert problem.messages("en") == ["schema/umbrellas.toml: column 'phone' is no longer declared but holds 2 value(s) "
                                      "(#1, #2); declare it again, or empty it first, to go on"]
    assert "电话" in problem.messages("zh", {"phone": "电话"})[0] and "2 条" in problem.messages("zh")[0]
    assert "phone" in [r[1] for r in lent_refusing.conn.execute("PRAGMA table_info(umbrellas)")]


def test_retyping_a_field_that_holds_data_is_refused(lent_refusing, admin):
    data = umbrellas()
    field_of(data, "borrower").update(type="int")
    field_of(data, "borrower").pop("max_length")
    data["search"] = []
    assert "field 'borrower' is now int (INTEGER) but the column is TEXT and holds 3 value(s) (#1, #2, #3)" in \
        refused(lent_refusing, admin, data).messages("en")[0]
    data = umbrellas()
    field_of(data, "borrower").update(type="email")
    field_of(data, "borrower").pop("max_length")
    assert "borrower: cannot become email (was text): 3 record(s) hold values it refuses (#1, #2, #3)" in \
        refused(lent_refusing, admin, data).messages("en")[0]


@pytest.mark.parametrize("change, english", [
    ({"required": True, "_field": "phone"}, "phone: cannot be made required: 1 record(s) have no value (#3)"),
    ({"unique": True, "_field": "borrower"}, "borrower: cannot be made unique: 2 record(s) share their value with "
                                             "another (#1, #3)"),
    ({"max_length": 10, "_field": "borrower"}, "borrower: max_length 10 is below the longest stored value "
                                               "(28 characters): 1 record(s) are longer (#2)"),
    ({"pattern": "[A-Za-z ]+", "_field": "borrower"}, "borrower: 2 record(s) hold values the new rules refuse "
                                                      "(#1, #3); the first: borrower: '李雷' does not have the expected form"),
])
def test_a_rule_stored_records_break_is_refused_naming_field_count_and_ids(lent_refusing, admin, change, english):
    data = umbrellas()
    change = dict(change)
    field_of(data, change.pop("_field")).update(change)
    assert english in refused(lent_refusing, admin, data).messages("en")[0]


def test_removing_a_choice_in_use_is_refused_and_an_unused_one_goes(lent, admin):
    data = umbrellas()
    field_of(data, "colour")["choices"] = [{"value": "black", "en": "Black", "zh": "黑色"}]
    problem = refused(lent, admin, data)
    assert "colour: choice red cannot be removed: 2 record(s) use it (#2, #3)" in problem.messages("en")[0]
    assert "不能删除选项 red：有 2 条记录在使用（#2, #3）" in problem.messages("zh", {"colour": "颜色"})[0]
    field_of(data, "colour")["choices"].append({"value": "red", "en": "Red", "zh": "红色"})
    field_of(data, "colour")["choices"].append({"value": "blue", "en": "Blue", "zh": "蓝色"})
    before = (lent.folder / "umbrellas.toml").read_text(encoding="utf-8")
    designer.apply(lent, admin, designer.to_toml(data, before), base_text=before)
    data = tomllib.loads((lent.folder / "umbrellas.toml").read_text(encoding="utf-8"))
    field_of(data, "colour")["choices"].pop()                    # blue: in no record
    before = (lent.folder / "umbrellas.toml").read_text(encoding="utf-8")
    assert designer.apply(lent, admin, designer.to_toml(data, before), base_text=before).applied


def test_min_and_max_below_stored_numbers_are_refused(office, admin):
    data = umbrellas()
    data["fields"].append({"name": "deposit", "type": "money", "label": {"en": "Deposit", "zh": "押金"}})
    create(office, admin, data)
    lend(office, admin, [{"borrower": "A", "deposit": "50"}, {"borrower": "B", "deposit": "20.50"}])
    field_of(data, "deposit")["max"] = 30
    before = (office.folder / "umbrellas.toml").read_text(encoding="utf-8")
    assert "deposit: 1 record(s) hold values the new rules refuse (#1); the first: deposit: must be at most 30" in \
        refused(office, admin, data).messages("en")[0]
    field_of(data, "deposit")["max"] = 50
    assert designer.apply(office, admin, designer.to_toml(data, before), base_text=before).applied


def test_a_new_required_field_on_a_register_with_records_needs_a_default(lent, admin):
    data = umbrellas()
    data["fields"].append({"name": "returned", "type": "bool", "label": {"en": "Returned", "zh": "已归还"},
                           "required": True})
    assert "returned: a new required field without a default, but 3 record(s) exist" in \
        refused(lent, admin, data).messages("en")[0]
    field_of(data, "returned")["default"] = False
    before = (lent.folder / "umbrellas.toml").read_text(encoding="utf-8")
    plan = designer.apply(lent, admin, designer.to_toml(data, before), base_text=before)
    assert plan.applied and "umbrellas: added column returned" in plan.steps


def test_a_field_the_code_relies_on_is_locked_but_the_register_takes_new_fields(office, admin):
    text = (office.folder / "tickets.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    data["fields"] = [f for f in data["fields"] if f["name"] != "state"]
    data["list"] = [n for n in data.get("list", []) if n != "state"]
    data["filters"] = [n for n in data.get("filters", []) if n != "state"]
    with pytest.raises(designer.DesignRefused) as caught:
        designer.apply(office, admin, designer.to_toml(data, text), base_text=text, dry_run=True)
    assert caught.value.kind == "locked"
    assert caught.value.messages("en") == ["schema/tickets.toml: field 'state': cannot be removed: the engine's code "
                                           "relies on it (kefu/tickets.py, kefu/workflow.py, kefu/sla.py, kefu/kpi.py, "
                                           "kefu/reports.py)"]
    assert "字段“state”：不能删除：系统程序依赖此字段" in caught.value.messages("zh")[0]
    data = tomllib.loads(text)
    data["fields"].append({"name": "weather", "type": "text", "label": {"en": "Weather", "zh": "天气"},
                           "required": True})
    with pytest.raises(designer.DesignRefused) as caught:
        designer.apply(office, admin, designer.to_toml(data, text), base_text=text)
    assert caught.value.kind == "locked"
    assert "cannot be required without a default: the engine's code writes its records" in \
        caught.value.messages("en")[0]
    data["fields"][-1].pop("required")
    field_of(data, "subject")["label"]["en"] = "Subject line"
    plan = designer.apply(office, admin, designer.to_toml(data, text), base_text=text)
    assert plan.applied and office.sheets["tickets"].by_name["subject"].label["en"] == "Subject line"


def test_a_locked_field_is_refused_by_name_when_the_loader_has_nothing_against_it(refusing_office, admin):
    text = (refusing_office.folder / "roster.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    field_of(data, "shift")["type"] = "text"
    field_of(data, "shift").pop("choices")
    with pytest.raises(designer.DesignRefused) as caught:
        designer.apply(refusing_office, admin, designer.to_toml(data, text), base_text=text)
    assert (refusing_office.folder / "roster.toml").read_text(encoding="utf-8") == text
    assert caught.value.kind == "locked"
    assert caught.value.messages("en") == ["schema/roster.toml: field 'shift': cannot change its type: the engine's "
                                           "code relies on it (views/home.py)"]
    assert "不能修改类型" in caught.value.messages("zh")[0]


# -- saving together, versions, restore, live reload -------------------------------------------------------
def test_the_second_of_two_admins_saving_is_told_the_file_changed_and_sees_the_diff(lent, admin):
    opened_by_a = (lent.folder / "umbrellas.toml").read_text(encoding="utf-8")
    opened_by_b = opened_by_a
    mine = tomllib.loads(opened_by_b)
    mine["label"]["zh"] = "雨伞借用"
    designer.apply(lent, admin, designer.to_toml(mine, opened_by_b), base_text=opened_by_b)
    theirs = tomllib.loads(opened_by_a)
    theirs["icon"] = ":material/beach_access:"
    with pytest.raises(designer.DesignRefused) as caught:
        designer.apply(lent, admin, designer.to_toml(theirs, opened_by_a), base_text=opened_by_a)
    assert caught.value.kind == "conflict"
    assert "changed by someone else since you opened it" in caught.value.messages("en")[0]
    assert '-label = { en = "Loaner umbrellas", zh = "借伞登记" }' in caught.value.diff
    assert '+label = { en = "Loaner umbrellas", zh = "雨伞借用" }' in caught.value.diff
    assert "雨伞借用" in (lent.folder / "umbrellas.toml").read_text(encoding="utf-8")


def test_a_file_changed_by_hand_while_open_is_not_overwritten(office, admin):
    path = office.folder / "roster.toml"
    opened = path.read_text(encoding="utf-8")
    path.write_text(opened.replace('icon = ":material/calendar_month:"', 'icon = ":material/event:"'),
                    encoding="utf-8")
    data = tomllib.loads(opened)
    data["label"]["en"] = "Roster"
    with pytest.raises(designer.DesignRefused) as caught:
        designer.apply(office, admin, designer.to_toml(data, opened), base_text=opened)
    assert caught.value.kind == "conflict" and '+icon = ":material/event:"' in caught.value.diff
    assert ":material/event:" in path.read_text(encoding="utf-8")


def test_versions_are_kept_compared_and_restored_and_a_restore_is_checked(office, admin):
    create(office, admin)
    first = (office.folder / "umbrellas.toml").read_text(encoding="utf-8")
    data = umbrellas()
    data["fields"].append({"name": "returned_on", "type": "date", "label": {"en": "Returned", "zh": "归还日期"},
                           "not_before": "lent_on"})
    designer.apply(office, admin, designer.to_toml(data, first), base_text=first)
    assert [v.version for v in designer.history(office, "umbrellas")] == [2, 1]
    assert '+name = "returned_on"' in designer.compare(office, "umbrellas", 2)
    lend(office, admin, [{"borrower": "A", "lent_on": "2026-11-01", "returned_on": "2026-11-05"}])
    with pytest.raises(designer.DesignRefused) as caught:           # version 1 has no returned_on: it holds data
        designer.restore(office, admin, "umbrellas", 1)
    assert caught.value.kind == "data" and "column 'returned_on' is no longer declared but holds 1 value(s) (#1)" \
        in caught.value.messages("en")[0]
    office.update("umbrellas", 1, {"returned_on": None}, admin)
    plan = designer.restore(office, admin, "umbrellas", 1)
    assert plan.version.version == 3 and plan.version.note == "restored version 1"
    assert (office.folder / "umbrellas.toml").read_text(encoding="utf-8") == first
    assert "returned_on" not in office.sheets["umbrellas"].by_name


def test_a_failed_migration_puts_the_file_back(lent, admin, monkeypatch):
    before = (lent.folder / "umbrellas.toml").read_text(encoding="utf-8")
    data = umbrellas()
    data["fields"].append({"name": "note", "type": "text", "label": {"en": "Note", "zh": "备注"}})

    def broken(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(versions, "record", broken)
    with pytest.raises(OSError):
        designer.apply(lent, admin, designer.to_toml(data, before), base_text=before)
    assert (lent.folder / "umbrellas.toml").read_text(encoding="utf-8") == before
    assert "note" not in [r[1] for r in lent.conn.execute("PRAGMA table_info(umbrellas)")]
    assert "note" not in lent.sheets["umbrellas"].by_name


def test_another_process_sees_a_saved_register_on_its_next_run(office, admin):
    other = Store(office.path, load_sheets(office.folder), config.load())     # another server process's store
    designer.mark_current(other)
    assert designer.refresh(other) is False
    create(office, admin)
    assert "umbrellas" not in other.sheets
    assert designer.refresh(other) is True and "umbrellas" in other.sheets
    assert designer.refresh(other) is False
    other.insert("umbrellas", {"borrower": "王五"}, admin)
    other.close()


# -- the command line --------------------------------------------------------------------------------------
def test_the_command_line_applies_checks_lists_and_restores(office, admin, tmp_path, capsys):
    db = ["--db", str(office.path)]
    design = tmp_path / "umbrellas.toml"
    design.write_text(designer.to_toml(UMBRELLAS), encoding="utf-8")
    assert cli(db + ["sheet", "apply", str(design), "--dry-run"]) == 0
    assert not (office.folder / "umbrellas.toml").exists()
    assert cli(db + ["sheet", "apply", str(design)]) == 0
    assert (office.folder / "umbrellas.toml").read_text(encoding="utf-8") == design.read_text(encoding="utf-8")
    office.sheets = load_sheets(office.folder)
    lend(office, admin, [{"borrower": "李雷", "phone": "13812345678"}])
    data = umbrellas()
    data["fields"] = [f for f in data["fields"] if f["name"] != "phone"]
    data["list"] = ["borrower"]
    design.write_text(designer.to_toml(data), encoding="utf-8")
    capsys.readouterr()
    assert cli(db + ["sheet", "apply", str(design)]) == 2
    err = capsys.readouterr().err
    assert "column 'phone' is no longer declared but holds 1 value(s) (#1)" in err
    assert cli(db + ["sheet", "history", "umbrellas"]) == 0
    assert capsys.readouterr().out.startswith("v1\t")
    data = umbrellas()
    data["fields"].append({"name": "note", "type": "text", "label": {"en": "Note", "zh": "备注"}})
    design.write_text(designer.to_toml(data), encoding="utf-8")
    assert cli(db + ["sheet", "apply", str(design)]) == 0
    assert cli(db + ["sheet", "restore", "umbrellas", "7"]) == 2
    assert "there is no version 7" in capsys.readouterr().err
    assert cli(db + ["sheet", "restore", "umbrellas", "1"]) == 0
    capsys.readouterr()
    assert cli(db + ["sheet", "history", "umbrellas"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["v3", "v2", "v1"] and "restored version 1" in lines[0]


def test_the_command_line_runs_as_a_program(office, tmp_path):
    """python -m kefu sheet apply: exit 2 and the refusal on standard error for a broken register."""
    design = tmp_path / "umbrellas.toml"
    design.write_text(designer.to_toml(umbrellas(label={"en": "Umbrellas", "zh": ""})), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "kefu", "--db", str(office.path), "sheet", "apply", str(design)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "schema/umbrellas.toml: label needs both en and zh" in done.stderr


@pytest.mark.parametrize("path", HAND_WRITTEN, ids=lambda p: p.name)
def test_the_screens_table_of_fields_says_every_hand_written_field_back(path):
    """The designer's table (one row per field, choices as value|English|中文) loses no option of any field."""
    fields = tomllib.loads(path.read_text(encoding="utf-8"))["fields"]
    assert designer.fields_from_rows(designer.rows_from_fields(fields), fields) == fields


def test_a_choice_label_holding_the_tables_separators_comes_back_whole():
    """A label may hold ; | (or the full-width ； ｜ a Chinese keyboard types, which also separate): the table
    writes them after a backslash, and reads them back as they were."""
    choices = [{"value": "no_repeat", "en": "No repeat (reward; no longer entered)", "zh": "无返修（奖励；已停用）"},
               {"value": "a_b", "en": "A | B \\ C", "zh": "甲｜乙"}]
    text = designer.choices_text(choices)
    assert text == ("no_repeat|No repeat (reward\\; no longer entered)|无返修（奖励\\；已停用）; "
                    "a_b|A \\| B \\\\ C|甲\\｜乙")
    assert designer.parse_choices(text) == choices
    assert designer.parse_choices("day|Day|白班； night｜Night｜夜班") == [
        {"value": "day", "en": "Day", "zh": "白班"}, {"value": "night", "en": "Night", "zh": "夜班"}]


def test_a_row_typed_into_the_table_becomes_a_field():
    rows = [{"name": "colour", "type": "choice", "label_en": "Colour", "label_zh": "颜色", "required": True,
             "choices": "black|Black|黑色; red｜Red｜红色"},
            {"name": None, "type": None, "label_en": None},                    # an empty row added and left
            {"name": "deposit", "type": "money", "label_en": "Deposit", "label_zh": "押金", "max": 50.0,
             "default": "20"}]
    assert designer.fields_from_rows(rows) == [
        {"name": "colour", "type": "choice", "label": {"en": "Colour", "zh": "颜色"}, "required": True,
         "choices": [{"value": "black", "en": "Black", "zh": "黑色"}, {"value": "red", "en": "Red", "zh": "红色"}]},
        {"name": "deposit", "type": "money", "label": {"en": "Deposit", "zh": "押金"}, "max": 50, "default": 20}]


def test_the_screen_saves_a_change_and_keeps_what_was_typed_on_a_refusal(office, monkeypatch):
    """Through the app (AppTest): the administrator relabels the roster and saves (version 2 in the file and the
    history); then empties the English label and saves: refused naming the label in Chinese, what was typed
    still in the fields, the file unchanged."""
    sys.path.insert(0, str(ROOT / "tests"))
    from apptest import login, open_page
    folder = office.folder
    monkeypatch.setenv("KEFU_DB", str(office.path))
    at = open_page(login("admin1", "correct-horse-1"), "designer")
    at = at.selectbox(key="dz_pick").select("roster").run()
    at.text_input(key="dz_roster_0_label_en").input("Duty rota").run()
    at = next(b for b in at.button if b.label == "保存并生效").click().run()
    assert not at.exception
    assert [s.value for s in at.success] == ["已保存“roster”（第 2 版），所有人下次点击即可看到。"]
    saved = (folder / "roster.toml").read_text(encoding="utf-8")
    assert 'label = { en = "Duty rota", zh = "排班表" }' in saved and saved.startswith("# 排班表")
    at.text_input(key="dz_roster_0_label_zh").input("值班表").run()
    at.text_input(key="dz_roster_0_label_en").input("").run()
    at = next(b for b in at.button if b.label == "保存并生效").click().run()
    assert not at.exception and not at.success
    assert "未保存：登记表有问题。" in at.error[0].value and "名称须同时填写英文和中文" in at.error[0].value
    assert at.text_input(key="dz_roster_0_label_zh").value == "值班表"
    assert (folder / "roster.toml").read_text(encoding="utf-8") == saved
