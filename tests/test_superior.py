"""Each user has one superior (000 一个上级的原则：每个岗位、每个人只有一个上级): the administrator sets it, never
oneself nor a circle; escalations name the handler's superior; a colleague's whole book of archives is granted
only up the keeper's line of superiors."""
import json
import sqlite3
from datetime import date, timedelta

import pytest

from apptest import db_value, login, open_page, submit, texts
from kefu import auth, tickets
from kefu.errors import PermissionDenied
from kefu.i18n import t
from kefu.sheets import ValidationError


def superior_audit(store) -> list[tuple]:
    return [(row_id, json.loads(before), json.loads(after)) for row_id, before, after in store.conn.execute(
        "SELECT row_id, before, after FROM kefu_audit WHERE sheet = 'kefu_users' AND action = 'superior_changed' "
        "ORDER BY id")]


def test_一个上级的原则_the_admin_sets_one_superior_not_oneself_nor_a_circle(store, make_user):
    admin, staff, supervisor, manager = (make_user(r) for r in ("admin", "staff", "supervisor", "manager"))
    auth.set_superior(store, staff.id, supervisor.id, admin)
    auth.set_superior(store, supervisor.id, manager.id, admin)
    assert auth.superior_of(store, staff.id) == supervisor
    assert [u.id for u in auth.line_of_superiors(store, staff.id)] == [supervisor.id, manager.id]

    with pytest.raises(ValidationError) as caught:
        auth.set_superior(store, manager.id, staff.id, admin)            # the manager under their own staff
    assert caught.value.by_field() == {"superior": "auth.superior_cycle"}
    assert caught.value.messages("zh") == ["上级：Staff 2已是Manager 4的下属（Staff 2 → Supervisor 3 → Manager 4），"
                                           "上级不能是本人的下属"]
    with pytest.raises(ValidationError) as caught:
        auth.set_superior(store, staff.id, staff.id, admin)
    assert caught.value.messages("en") == ["Superior: a user cannot be their own superior"]
    auth.set_active(store, manager.id, False, admin)
    with pytest.raises(ValidationError) as caught:
        auth.set_superior(store, staff.id, manager.id, admin)
    assert caught.value.messages("zh") == ["上级：须为已启用的用户"]
    with pytest.raises(PermissionDenied):
        auth.set_superior(store, staff.id, None, supervisor)             # only the administrator
    assert auth.superior_of(store, manager.id) is None and auth.superior_of(store, staff.id) == supervisor

    auth.set_superior(store, staff.id, None, admin)
    assert auth.superior_of(store, staff.id) is None
    assert superior_audit(store) == [
        (staff.id, {"superior": None, "superior_id": None}, {"superior": "Supervisor 3", "superior_id": supervisor.id}),
        (supervisor.id, {"superior": None, "superior_id": None}, {"superior": "Manager 4", "superior_id": manager.id}),
        (staff.id, {"superior": "Supervisor 3", "superior_id": supervisor.id}, {"superior": None, "superior_id": None})]


def test_一个上级的原则_a_colleagues_book_is_granted_only_up_their_line(store, make_user):
    admin, gm = make_user("admin"), make_user("gm")
    keeper, supervisor, other, manager = (make_user(r) for r in ("staff", "supervisor", "supervisor", "manager"))
    until = date.today() + timedelta(days=7)
    store.grant("customers", None, other.id, gm, keeper=keeper.id, until=until)      # no superior set: the gm decides
    auth.set_superior(store, keeper.id, supervisor.id, admin)
    auth.set_superior(store, supervisor.id, manager.id, admin)
    granted = store.conn.execute("SELECT count(*) FROM kefu_grants").fetchone()[0]
    with pytest.raises(ValidationError) as caught:
        store.grant("customers", None, other.id, gm, keeper=keeper.id, until=until)
    assert caught.value.by_field() == {"user": "err.grant_not_superior"}
    problem = caught.value.problems[0]
    assert t(problem.code, "zh", field="授权给", **problem.params) == \
        "授权给：Staff 3的全部客户档案只能授权给其上级Supervisor 4或更上一级（一个上级的原则）"
    assert store.conn.execute("SELECT count(*) FROM kefu_grants").fetchone()[0] == granted     # nothing written
    store.grant("customers", None, supervisor.id, gm, keeper=keeper.id, until=until)
    store.grant("customers", None, manager.id, gm, keeper=keeper.id, until=until)   # further up the line
    assert store.conn.execute("SELECT count(*) FROM kefu_grants").fetchone()[0] == granted + 2


def test_一个上级的原则_an_escalation_names_the_handlers_superior(demo_db, demo_store):
    manager = auth.get_user(demo_store, db_value(demo_db, "SELECT id FROM kefu_users WHERE username = 'demo-manager'"))
    waiting = demo_store.query("tickets", manager, tickets.queue("escalations", manager)).rows
    assert waiting, "the demo office has escalations for the manager to sign"
    first = waiting[0]
    handler_id = first["assignee"] or first["first_responder"]
    superior = tickets.handler_superior(demo_store, first)
    assert superior is not None and superior == auth.superior_of(demo_store, handler_id)
    handler = demo_store.user_names()[handler_id]
    at = login("demo-manager")
    assert f"已上报：经办人{handler}的上级为{superior.display_name}" in texts(at)


def test_一个上级的原则_the_admin_screen_sets_it_and_the_account_screen_shows_it(demo_db):
    ids = {name: db_value(demo_db, "SELECT id FROM kefu_users WHERE username = ?", name)
           for name in ("demo-staff", "demo-manager", "demo-supervisor")}
    at = open_page(login("demo-admin"), "users")
    table = at.dataframe[0].value
    assert table.loc[table["用户名"] == "demo-staff", "上级"].item() == "陈建国"
    at.selectbox(key="adm_user").set_value(ids["demo-manager"]).run()
    at.selectbox(key=f"adm_superior_{ids['demo-manager']}").set_value(ids["demo-staff"]).run()
    at = submit(at, "设定上级")
    assert "上级：王小丽已是刘芳的下属（王小丽 → 陈建国 → 刘芳），上级不能是本人的下属" in texts(at)
    with sqlite3.connect(demo_db) as conn:
        gm = conn.execute("SELECT superior FROM kefu_users WHERE username = 'demo-manager'").fetchone()[0]
    assert gm == db_value(demo_db, "SELECT id FROM kefu_users WHERE username = 'demo-gm'")      # unchanged

    at.selectbox(key="adm_user").set_value(ids["demo-staff"]).run()
    at.selectbox(key=f"adm_superior_{ids['demo-staff']}").set_value(ids["demo-manager"]).run()
    at = submit(at, "设定上级")
    assert "王小丽的上级已设为刘芳。" in texts(at)
    table = at.dataframe[0].value
    assert table.loc[table["用户名"] == "demo-staff", "上级"].item() == "刘芳"
    assert db_value(demo_db, "SELECT username FROM kefu_audit WHERE action = 'superior_changed' "
                             "ORDER BY id DESC LIMIT 1") == "demo-admin"
    account = open_page(login("demo-staff"), "account")
    assert "上级：刘芳" in texts(account)
