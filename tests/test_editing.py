"""Spreadsheet-style editing (kefu.editing.apply): every edit validated again on the server, valid rows
saved together with their audit rows, invalid rows refused whole with the reason per field."""
import json

import pytest

from kefu import auth, editing
from kefu.errors import PermissionDenied

CONTACTS = '''name = "contacts"
label = { en = "Contacts", zh = "联系人" }
title = "name"
[permissions]
staff      = ["read", "update"]
supervisor = ["read", "create", "update"]
manager    = ["read", "create", "update", "pii"]
[[fields]]
name = "name"
type = "text"
label = { en = "Name", zh = "姓名" }
required = true
max_length = 10
[[fields]]
name = "phone"
type = "phone"
label = { en = "Phone", zh = "电话" }
pii = true
[[fields]]
name = "kind"
type = "choice"
label = { en = "Kind", zh = "类别" }
choices = [
  { value = "vip",    en = "VIP",    zh = "贵宾" },
  { value = "normal", en = "Normal", zh = "普通" },
]
[[fields]]
name = "fee"
type = "money"
label = { en = "Fee", zh = "费用" }
min = 0
max = 10000
[[fields]]
name = "visits"
type = "int"
label = { en = "Visits", zh = "来访次数" }
min = 0
max = 100
[[fields]]
name = "code"
type = "text"
label = { en = "Code", zh = "编码" }
readonly = true
'''


@pytest.fixture
def contacts(sheet_store):
    return sheet_store("contacts", CONTACTS)


@pytest.fixture
def people(contacts):
    """Users of three roles, and two contacts: 王五 (id 1) and 赵六 (id 2)."""
    made = {role: auth.get_user(contacts, auth.create_user(contacts, role, role.title(), role, "correct-horse-1",
                                                           auth.SYSTEM))
            for role in ("staff", "supervisor", "manager")}
    contacts.insert_many("contacts", [{"name": "王五", "phone": "13812345678", "kind": "vip", "fee": "10"},
                                      {"name": "赵六", "phone": "13900001111", "kind": "normal"}], auth.SYSTEM)
    return made


def row(store, row_id: int) -> dict:
    cursor = store.conn.execute("SELECT * FROM contacts WHERE id = ?", (row_id,))
    return dict(zip([d[0] for d in cursor.description], cursor.fetchone()))


def audits(store, action: str = "update") -> list[tuple]:
    return store.conn.execute("SELECT row_id, username, before, after FROM kefu_audit WHERE sheet = 'contacts' "
                              "AND action = ? ORDER BY id", (action,)).fetchall()


def test_edits_and_added_rows_are_saved_each_with_its_audit_row(contacts, people):
    supervisor = people["supervisor"]
    result = editing.apply(contacts, "contacts", supervisor, {1: {"fee": 1280.5, "visits": 3}, 2: {"kind": "vip"}},
                           [{"name": "钱七", "kind": "普通", "fee": 0.07}], "zh", versions={1: 1, 2: 1})
    assert result.ok and result.updated == [1, 2] and len(result.created) == 1
    assert (row(contacts, 1)["fee"], row(contacts, 1)["visits"], row(contacts, 2)["kind"]) == (128050, 3, "vip")
    new = row(contacts, result.created[0])
    assert (new["name"], new["kind"], new["fee"], new["created_by"]) == ("钱七", "normal", 7, supervisor.id)
    updates = audits(contacts)
    assert [(r[0], r[1]) for r in updates] == [(1, "supervisor"), (2, "supervisor")]
    assert json.loads(updates[0][2]) == {"fee": 1000, "visits": None}
    assert json.loads(updates[0][3]) == {"fee": 128050, "visits": 3}
    assert [r[0] for r in audits(contacts, "create")][-1] == result.created[0]


@pytest.mark.parametrize("changes, field, reason", [
    ({"name": "新名字", "phone": "12345"}, "phone", "电话：“12345”不是有效的电话号码"),
    ({"name": "一二三四五六七八九十一"}, "name", "姓名：最多 10 个字符（现为 11 个）"),
    ({"name": "新名字", "kind": "gold"}, "kind", "类别：“gold”不在可选项中"),
    ({"fee": 20000}, "fee", "费用：不能大于 10000"),
    ({"visits": 1.5}, "visits", "来访次数：须为整数"),
    ({"name": ""}, "name", "姓名：必填"),
])
def test_an_invalid_edit_is_refused_naming_the_field_and_nothing_of_its_row_is_saved(contacts, people, changes,
                                                                                     field, reason):
    manager = people["manager"]
    before = row(contacts, 1)
    result = editing.apply(contacts, "contacts", manager, {1: changes, 2: {"visits": 5}}, [], "zh",
                           versions={1: 1, 2: 1})
    assert result.refused == {1: {field: reason}}
    assert row(contacts, 1) == before                              # not even the valid name of that row
    assert result.updated == [2] and row(contacts, 2)["visits"] == 5   # the other row is saved
    assert [r[0] for r in audits(contacts)] == [2]


def test_reasons_come_in_the_users_language_and_as_lines(contacts, people):
    result = editing.apply(contacts, "contacts", people["manager"], {1: {"kind": "gold", "visits": -1}},
                           [{"name": None}, {"name": "x" * 11}], "en")
    assert result.refused == {1: {"kind": "Kind: 'gold' is not one of the options",
                                  "visits": "Visits: must be at least 0"}}
    assert result.refused_new == {1: {"name": "Name: at most 10 characters (got 11)"}}     # by position
    assert result.messages("en") == ["No. 1: Kind: 'gold' is not one of the options",
                                     "No. 1: Visits: must be at least 0",
                                     "New row 2: Name: at most 10 characters (got 11)"]
    assert result.created == [] and row(contacts, 1)["kind"] == "vip"


def test_a_role_without_pii_cannot_change_personal_data(contacts, people):
    staff = people["staff"]
    result = editing.apply(contacts, "contacts", staff, {1: {"phone": "13700002222"}}, [], "zh")
    assert result.refused == {1: {"phone": "电话：您无权修改此项"}}
    assert row(contacts, 1)["phone"] == "13812345678" and not audits(contacts)


@pytest.mark.parametrize("role", ["staff", "manager"])
def test_the_masked_value_the_grid_showed_is_never_written_back(contacts, people, role):
    result = editing.apply(contacts, "contacts", people[role], {1: {"phone": "138****5678", "name": "王五一"}}, [],
                           "zh", versions={1: 1})
    assert result.ok and result.updated == [1]
    assert (row(contacts, 1)["phone"], row(contacts, 1)["name"]) == ("13812345678", "王五一")
    assert "phone" not in json.loads(audits(contacts)[0][3])


def test_an_edit_that_changes_nothing_is_no_update(contacts, people):
    result = editing.apply(contacts, "contacts", people["manager"], {1: {"kind": "vip"}, 2: {"phone": "139****1111"}},
                           [], "zh", versions={1: 1, 2: 1})
    assert result.ok and result.updated == [] and result.unchanged == [1, 2] and not audits(contacts)


def test_a_role_with_pii_may_change_personal_data(contacts, people):
    result = editing.apply(contacts, "contacts", people["manager"], {1: {"phone": "137 0000 2222"}}, [], "zh")
    assert result.ok and row(contacts, 1)["phone"] == "13700002222"


def test_a_read_only_field_is_refused(contacts, people):
    result = editing.apply(contacts, "contacts", people["manager"], {1: {"code": "A-1", "visits": 2}}, [], "zh")
    assert result.refused == {1: {"code": "编码：您无权修改此项"}}
    assert (row(contacts, 1)["code"], row(contacts, 1)["visits"]) == (None, None)


def test_an_edit_of_a_record_changed_meanwhile_is_refused_as_stale(contacts, people):
    manager, supervisor = people["manager"], people["supervisor"]
    contacts.update("contacts", 1, {"visits": 7}, supervisor, expected_version=1)       # someone else, first
    result = editing.apply(contacts, "contacts", manager, {1: {"visits": 8}, 2: {"visits": 9}}, [], "zh",
                           versions={1: 1, 2: 1})
    assert result.refused == {1: {editing.ROW: "该记录已被他人修改，请刷新后重试。"}}
    assert row(contacts, 1)["visits"] == 7 and row(contacts, 2)["visits"] == 9


def test_a_deleted_record_is_refused(contacts, people):
    contacts.conn.execute("UPDATE contacts SET deleted_at = '2026-01-01' WHERE id = 2")
    result = editing.apply(contacts, "contacts", people["manager"], {2: {"visits": 1}}, [], "zh")
    assert result.refused == {2: {editing.ROW: "该记录不存在或已删除。"}}


def test_all_valid_changes_are_one_transaction(contacts, people, monkeypatch):
    """An unexpected failure part-way (here: while adding a row) saves none of the edits before it."""
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")
    monkeypatch.setattr(contacts, "insert_many", broken)
    with pytest.raises(RuntimeError):
        editing.apply(contacts, "contacts", people["manager"], {1: {"visits": 4}}, [{"name": "钱七"}], "zh")
    assert row(contacts, 1)["visits"] is None and not audits(contacts)


def test_adding_rows_needs_the_create_right_and_blank_rows_are_ignored(contacts, people):
    staff = people["staff"]
    with pytest.raises(PermissionDenied):
        editing.apply(contacts, "contacts", staff, {1: {"visits": 4}}, [{"name": "钱七"}], "zh")
    assert row(contacts, 1)["visits"] is None                       # nothing at all
    result = editing.apply(contacts, "contacts", staff, {1: {"visits": 4}}, [{"name": None, "kind": ""}], "zh")
    assert result.ok and result.created == [] and row(contacts, 1)["visits"] == 4
    with pytest.raises(PermissionDenied):
        editing.apply(contacts, "contacts", auth.User(id=None, username="x", display_name="X", role="gm"),
                      {1: {"visits": 5}}, [], "zh")


def test_added_rows_are_checked_one_by_one_against_the_sheet_and_each_other(store, make_user):
    """The duty roster: one shift per person a day, also between two rows added at once."""
    manager, staff = make_user("manager"), make_user("staff")
    result = editing.apply(store, "roster", manager, {}, [
        {"duty_date": "2026-11-02", "staff": staff.id, "shift": "day"},
        {"duty_date": "2026-11-02", "staff": staff.id, "shift": "evening"},
        {"duty_date": "2026-11-03", "staff": staff.id, "shift": "night"},
        {"duty_date": "2026-11-04", "staff": staff.id, "shift": "rest", "note": "调休"},
    ], "zh")
    assert result.refused_new == {1: {"staff": "员工：已存在相同的记录"}, 2: {"shift": "班次：“night”不在可选项中"}}
    assert len(result.created) == 2
    saved = store.conn.execute("SELECT duty_date, shift FROM roster ORDER BY duty_date").fetchall()
    assert saved == [("2026-11-02", "day"), ("2026-11-04", "rest")]
