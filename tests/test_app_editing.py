"""Spreadsheet-style editing on the screen (AppTest): the switch above the grid, edits saved with audit,
refused rows kept in the table with the reason, personal data locked whatever the browser sends."""
import json

from apptest import cover_books, db_value, login, open_page, submit, texts


def editing(username: str, path: str):
    at = open_page(login(username), path)
    at.toggle(key=f"{path}__list__editing").set_value(True).run()
    assert not at.exception and len(at.data_editor) == 1
    return at


def edit(at, *, edited: dict | None = None, added: list | None = None):
    """What the user typed into the table (cell edits by row position, added rows), then Save."""
    editor = at.data_editor[0]
    at.session_state[editor.key] = {"edited_rows": edited or {}, "added_rows": added or [], "deleted_rows": []}
    return submit(at.run(), "保存修改")


def columns(at) -> dict:
    return json.loads(at.data_editor[0].proto.columns)


def test_only_roles_that_may_update_get_the_switch(demo_db):
    assert not open_page(login("demo-staff"), "roster").toggle          # staff only read the roster
    at = open_page(login("demo-manager"), "roster")
    assert [t.label for t in at.toggle] == ["表格编辑"] and not at.data_editor
    assert at.dataframe and at.dataframe[0].editing_mode == "read_only"


def test_the_table_has_the_sheets_column_types_choices_and_names(demo_db):
    at = editing("demo-manager", "roster")
    assert at.data_editor[0].editing_mode == "add"                     # the manager may add records
    config = columns(at)
    assert config["id"]["disabled"] and config["duty_date"]["type_config"]["type"] == "date"
    assert config["shift"]["type_config"]["options"] == [{"value": "day", "label": "白班 09:00-18:00"},
                                                          {"value": "evening", "label": "晚班 14:00-23:00"},
                                                          {"value": "rest", "label": "休息"}]
    staff_names = {o["label"] for o in config["staff"]["type_config"]["options"]}
    assert "王小丽" in staff_names and config["note"]["type_config"]["max_chars"] == 200
    assert config["shift"]["label"] == "班次 *" and config["shift"]["required"]


def test_an_edit_and_an_added_row_are_saved_with_audit(demo_db):
    at = editing("demo-manager", "roster")
    first = int(at.data_editor[0].value["id"][0])
    at = edit(at, edited={0: {"note": "与陈帆换班"}},
              added=[{"duty_date": "2027-01-04", "staff": 3, "shift": "evening", "note": "加班"}])
    assert not at.exception
    assert "已保存：修改 1 条，新增 1 条。" in texts(at)
    assert db_value(demo_db, "SELECT note FROM roster WHERE id = ?", first) == "与陈帆换班"
    assert db_value(demo_db, "SELECT username FROM kefu_audit WHERE sheet = 'roster' AND row_id = ? "
                             "AND action = 'update'", first) == "demo-manager"
    assert db_value(demo_db, "SELECT shift FROM roster WHERE duty_date = '2027-01-04' AND staff = 3") == "evening"
    assert "与陈帆换班" in list(at.data_editor[0].value["note"])            # the table shows what is saved


def test_an_invalid_row_is_refused_with_its_reason_and_kept_for_correction(demo_db):
    at = editing("demo-manager", "roster")
    ids = [int(i) for i in at.data_editor[0].value["id"][:2]]
    at = edit(at, edited={0: {"note": "长" * 201}, 1: {"note": "已确认"}})
    assert "编号 %d：备注：最多 200 个字符（现为 201 个）" % ids[0] in at.error[0].value
    assert "已保存：修改 1 条，新增 0 条。" in texts(at)                     # the valid row is saved
    assert db_value(demo_db, "SELECT note FROM roster WHERE id = ?", ids[0]) is None
    assert db_value(demo_db, "SELECT note FROM roster WHERE id = ?", ids[1]) == "已确认"
    table = at.data_editor[0].value
    assert table["note"][0] == "长" * 201                              # kept as typed, for correction
    assert table["_problems"][0] == "备注：最多 200 个字符（现为 201 个）"
    at = edit(at, edited={0: {"note": "长" * 20}})                      # corrected in the same table
    assert not at.error and "已保存：修改 1 条，新增 0 条。" in texts(at)
    assert db_value(demo_db, "SELECT note FROM roster WHERE id = ?", ids[0]) == "长" * 20
    assert "_problems" not in at.data_editor[0].value


def test_a_refused_new_row_stays_at_the_bottom_with_its_reason(demo_db):
    at = editing("demo-manager", "roster")
    rows = len(at.data_editor[0].value)
    at = edit(at, added=[{"duty_date": "2027-01-05", "shift": "day"}])       # no staff member chosen
    assert "新增第 1 行：员工：必填" in at.error[0].value
    table = at.data_editor[0].value
    assert len(table) == rows + 1 and table["_problems"].iloc[-1] == "员工：必填"
    at.session_state[at.data_editor[0].key] = {"edited_rows": {rows: {"staff": 3}}, "added_rows": [],
                                               "deleted_rows": []}
    at = submit(at.run(), "保存修改")
    assert not at.error and "新增 1 条" in texts(at)
    assert db_value(demo_db, "SELECT count(*) FROM roster WHERE duty_date = '2027-01-05' AND staff = 3") == 1


def test_a_record_changed_meanwhile_is_not_overwritten(demo_db, demo_store):
    from kefu import auth
    at = editing("demo-manager", "roster")
    first = int(at.data_editor[0].value["id"][0])
    demo_store.update("roster", first, {"note": "别人先改了"}, auth.SYSTEM)     # another user, meanwhile
    at = edit(at, edited={0: {"note": "我的修改"}})
    assert "编号 %d：该记录已被他人修改，请刷新后重试。" % first in texts(at)
    assert db_value(demo_db, "SELECT note FROM roster WHERE id = ?", first) == "别人先改了"
    assert at.data_editor[0].value["note"][0] == "别人先改了"              # the table shows it as it is now


def test_personal_data_is_locked_and_a_forged_edit_of_it_is_not_saved(demo_db):
    at = editing("demo-staff", "visitors")
    config = columns(at)
    assert config["phone"]["disabled"] and "****" in at.data_editor[0].value["phone"][0]
    assert at.data_editor[0].editing_mode == "fixed"          # a new visit needs the phone: the form adds it
    first = int(at.data_editor[0].value["id"][0])
    phone = db_value(demo_db, "SELECT phone FROM visitors WHERE id = ?", first)
    at = edit(at, edited={0: {"phone": "13700002222"}})        # what a tampered browser might send
    assert db_value(demo_db, "SELECT phone FROM visitors WHERE id = ?", first) == phone
    assert "没有需要保存的修改。" in texts(at)


def test_personal_data_is_locked_even_for_a_role_with_pii(demo_db):
    at = editing("demo-manager", "visitors")
    assert columns(at)["phone"]["disabled"]                  # the table shows it masked, as every grid does
    assert "****" in at.data_editor[0].value["phone"][0]


def test_discard_and_leaving_edit_mode_forget_refused_rows(demo_db):
    at = editing("demo-manager", "roster")
    at = edit(at, edited={0: {"note": "长" * 201}})
    assert at.error
    at = submit(at, "放弃修改")
    assert not at.error and "_problems" not in at.data_editor[0].value
    at.toggle(key="roster__list__editing").set_value(False).run()
    assert not at.data_editor and at.dataframe


def test_a_reference_to_a_big_register_is_named_but_locked(demo_db):
    """Parts sales point to customer archives: the manager covering four keepers' books may pick from over
    200 of them, too many to offer in a cell, so the column shows each archive's name (or, for an archive
    he may not read, its number) and is changed in the record's form (a new sale too: it needs one)."""
    keepers = cover_books(demo_db, "demo-manager", 4)
    at = editing("demo-manager", "parts_sales")
    config = columns(at)["customer"]
    assert config["disabled"] and at.data_editor[0].editing_mode == "fixed"
    assert config["help"] == "可选记录过多，无法在表格中选择：请在记录详情中修改。"
    labels = {o["value"]: o["label"] for o in config["type_config"]["options"]}
    for customer in at.data_editor[0].value["customer"]:
        name, owner = (db_value(demo_db, f"SELECT {c} FROM customers WHERE id = ?", int(customer))
                       for c in ("name", "owner"))
        assert labels[int(customer)] == (name if owner in keepers else f"#{customer}")
    assert any(owner in keepers for owner in (db_value(demo_db, "SELECT owner FROM customers WHERE id = ?", int(c))
                                              for c in at.data_editor[0].value["customer"]))


def test_archives_the_user_may_not_read_are_numbers_in_a_locked_column(demo_db):
    """The manager keeps no archive: the sales' customers are shown by number, never by name, and the column
    cannot be changed in the table (nor a sale added there, since it needs a customer)."""
    at = editing("demo-manager", "parts_sales")
    config = columns(at)["customer"]
    assert config["disabled"] and at.data_editor[0].editing_mode == "fixed"
    assert config["help"] == "部分记录您无权查阅（以编号显示）：请在记录详情中修改。"
    shown = at.data_editor[0].value["customer"]
    assert {o["label"] for o in config["type_config"]["options"]} == {f"#{int(c)}" for c in shown}
    names = {db_value(demo_db, "SELECT name FROM customers WHERE id = ?", int(c)) for c in shown}
    assert not names & {o["label"] for o in config["type_config"]["options"]}
