"""Hand-off and coordination (001 受理组: 如未能解决，转给售后工程师; 000: 报请公司生产处协同处理): a ticket transferred
to an after-sales engineer, in their own work list, worked and resolved by them; a request to a department and its
answer, each in the ticket's history with who and when; the engineer-service report (工程师实施服务报表) counting
them for a period exactly; the roles without the right refused, in the engine and on the screens (AppTest)."""
import json
from datetime import date, datetime, timedelta, timezone

import pytest

from apptest import db_value as one, login, open_page, texts
from kefu import auth, reports, tickets
from kefu.errors import KefuError, PermissionDenied
from kefu.sheets import ROLES, ValidationError
from kefu.workflow import TransitionRefused, load_workflow

WEEK = (date(2026, 11, 23), date(2026, 11, 30))                  # Monday 23 to Sunday 29 November 2026


@pytest.fixture
def people(make_user):
    return {"staff": make_user("staff"), "engineer": make_user("engineer"), "other": make_user("engineer"),
            "manager": make_user("manager")}


def call(store, staff, kind: str = "inquiry") -> int:
    return tickets.intake(store, staff, {"channel": "hotline", "kind": kind, "category": "billing",
                                         "severity": "normal", "caller_name": "陈先生", "subject": "宽带时断时续"})


def history(store, ticket_id: int) -> list[tuple]:
    return store.conn.execute("SELECT step, created_by, created_at, engineer, department, comment FROM ticket_events "
                              "WHERE ticket = ? ORDER BY id", (ticket_id,)).fetchall()


def listed(store, user, name: str) -> list[int]:
    return [r["id"] for r in store.query(tickets.SHEET, user, tickets.queue(name, user)).rows]


def test_如未能解决转给售后工程师_a_staff_member_transfers_an_unresolved_inquiry_to_an_engineer(store, people):
    staff, engineer = people["staff"], people["engineer"]
    ticket_id = call(store, staff)
    tickets.step(store, staff, ticket_id, "start")
    moved = tickets.step(store, staff, ticket_id, "transfer", values={"engineer": engineer.id}, comment="需上门检修")
    assert (moved["state"], moved["engineer"], moved["assignee"]) == ("in_progress", engineer.id, staff.id)
    assert listed(store, engineer, "engineer") == [ticket_id]                # the engineer's own work list
    assert listed(store, people["other"], "engineer") == []
    step, who, when, to, _, comment = history(store, ticket_id)[-1]
    assert (step, who, to, comment) == ("transfer", staff.id, engineer.id, "需上门检修") and when == moved["updated_at"]
    audited = [json.loads(after or "{}") for after, in store.conn.execute(
        "SELECT after FROM kefu_audit WHERE sheet = 'tickets' AND row_id = ? AND user_id = ?", (ticket_id, staff.id))]
    assert [entry.get("engineer") for entry in audited].count(engineer.id) == 1
    flow = load_workflow()
    assert [s.name for s in flow.available("in_progress", "engineer", moved)][:1] == ["answer"]
    done = tickets.step(store, engineer, ticket_id, "answer", comment="已上门更换光猫")     # the engineer resolves it
    assert done["state"] == "feedback_given" and done["resolved_at"]
    assert listed(store, engineer, "engineer") == []                         # resolved: off the list
    assert history(store, ticket_id)[-1][:2] == ("answer", engineer.id)


def test_a_transfer_to_a_disabled_engineer_is_refused_naming_the_field_and_nothing_is_written(store, people):
    staff, engineer = people["staff"], people["engineer"]
    ticket_id = call(store, staff)
    auth.set_active(store, engineer.id, False, auth.SYSTEM)
    before = (store.get(tickets.SHEET, ticket_id, staff), history(store, ticket_id),
              store.conn.execute("SELECT count(*) FROM kefu_audit").fetchone()[0])
    with pytest.raises(ValidationError) as refused:
        tickets.step(store, staff, ticket_id, "transfer", values={"engineer": engineer.id})
    assert refused.value.messages("zh") == ["售后工程师：Engineer 2 的账号已停用，请选择在岗的工程师"]
    assert refused.value.messages("en") == ["After-sales engineer: Engineer 2's account is disabled; choose an active engineer"]
    with pytest.raises(ValidationError) as not_one:                           # a staff member is not an engineer
        tickets.step(store, staff, ticket_id, "transfer", values={"engineer": people["manager"].id})
    assert not_one.value.messages("zh") == ["售后工程师：请选择一位售后工程师"]
    with pytest.raises(ValidationError) as none:
        tickets.step(store, staff, ticket_id, "transfer", values={})
    assert none.value.messages("zh") == ["售后工程师：必填"]
    after = (store.get(tickets.SHEET, ticket_id, staff), history(store, ticket_id),
             store.conn.execute("SELECT count(*) FROM kefu_audit").fetchone()[0])
    assert after == before
    assert tickets.engineers(store) == [(people["other"].id, "Engineer 3")]   # the screen offers the active one only


def test_报请公司生产处协同处理_a_coordination_records_the_department_and_its_answer(store, people):
    staff, engineer = people["staff"], people["engineer"]
    ticket_id = call(store, staff, "complaint")
    state = store.get(tickets.SHEET, ticket_id, staff)["state"]
    tickets.coordinate(store, staff, ticket_id, "production", "同批次热水器漏水，请生产处核查")
    [asked] = tickets.coordinations(store, staff, ticket_id)
    assert (asked.department, asked.asked_by, asked.question, asked.answered_at) == (
        "production", staff.id, "同批次热水器漏水，请生产处核查", None)
    with pytest.raises(KefuError) as unasked:                                 # finance was never asked
        tickets.coordination_answer(store, engineer, ticket_id, "finance", "无")
    assert unasked.value.message("zh") == "本工单没有等待财务部答复的协同请求。"
    with pytest.raises(ValidationError) as blank:
        tickets.coordination_answer(store, engineer, ticket_id, "production", "  ")
    assert blank.value.messages("en") == ["Comment: this field is required"]
    with pytest.raises(ValidationError) as unknown:
        tickets.coordinate(store, staff, ticket_id, "canteen", "")
    assert unknown.value.messages("zh") == ["协同部门：不是规则中列出的部门"]
    tickets.coordination_answer(store, engineer, ticket_id, "production", "已核查，更换同批次阀门")
    [done] = tickets.coordinations(store, staff, ticket_id)
    assert (done.answered_by, done.answer) == (engineer.id, "已核查，更换同批次阀门") and done.answered_at >= done.asked_at
    steps = history(store, ticket_id)
    assert [(s[0], s[1], s[4]) for s in steps[1:]] == [("coordinate", staff.id, "production"),
                                                        ("coordination_answer", engineer.id, "production")]
    assert store.get(tickets.SHEET, ticket_id, staff)["state"] == state      # the ticket's state is unchanged
    with pytest.raises(KefuError):                                            # answered once
        tickets.coordination_answer(store, engineer, ticket_id, "production", "再次答复")


def dated(store, ticket_id: int, when: str, *, resolved: bool = False) -> None:
    """The ticket's last step moved to `when` (2026-11-DDTHH:MM), and its resolution with it."""
    stamp = f"2026-{when}:00+08:00"
    store.conn.execute("UPDATE ticket_events SET created_at = ? WHERE id = (SELECT max(id) FROM ticket_events "
                       "WHERE ticket = ?)", (stamp, ticket_id))
    if resolved:
        store.conn.execute("UPDATE tickets SET resolved_at = ? WHERE id = ?", (stamp, ticket_id))


def test_工程师实施服务报表_counts_transfers_resolutions_and_coordinations_for_a_period_exactly(store, people):
    staff, a, b, manager = people["staff"], people["engineer"], people["other"], people["manager"]

    def transfer(ticket_id, engineer, when):
        tickets.step(store, staff, ticket_id, "transfer", values={"engineer": engineer.id})
        dated(store, ticket_id, when)

    def ask(ticket_id, department, when, answered=None):
        tickets.coordinate(store, staff, ticket_id, department, "请协同")
        dated(store, ticket_id, when)
        if answered:
            tickets.coordination_answer(store, staff, ticket_id, department, "已答复")
            dated(store, ticket_id, answered)

    first, second, third, before, after, deleted = (call(store, staff) for _ in range(6))
    transfer(first, a, "11-23T10:00")                      # Monday 10:00, resolved 14:00: 4 working hours
    tickets.step(store, a, first, "answer")
    dated(store, first, "11-23T14:00", resolved=True)
    transfer(second, a, "11-25T09:30")                     # still with the engineer
    transfer(third, a, "11-24T11:00")                      # passed on to the other engineer
    transfer(third, b, "11-26T16:00")
    transfer(before, a, "11-20T10:00")                     # the week before
    transfer(after, b, "11-30T00:00")                      # the next Monday
    transfer(deleted, a, "11-24T10:00")
    store.delete(tickets.SHEET, deleted, auth.SYSTEM)
    ask(first, "production", "11-24T09:00", answered="11-25T10:00")
    ask(second, "production", "11-26T10:00")
    ask(third, "finance", "11-27T15:00", answered="11-27T17:00")
    ask(before, "sales", "11-20T11:00", answered="11-24T09:00")     # asked the week before: not this week's

    report = reports.engineer_report(store, manager, *WEEK)
    lines = {line.name: (line.transferred, line.resolved, line.open, line.resolution_mean) for line in report.engineers}
    assert lines == {"Engineer 2": (3, 1, 1, 4.0), "Engineer 3": (1, 0, 1, None)}
    assert (report.transferred, report.resolved, report.open, report.resolution_mean) == (4, 1, 2, 4.0)
    assert report.coordination == {"production": 2, "engineering": 0, "finance": 1, "sales": 0}
    assert report.answered == {"production": 1, "engineering": 0, "finance": 1, "sales": 0}
    assert [n for _, n in report.trend] == [1, 1, 1, 1, 0, 0, 0]          # transfers per day, Monday first
    figures = dict(reports.summary(report, "zh"))
    assert (figures["转售后工程师"], figures["工程师已解决"], figures["报请部门协同"], figures["部门已答复"]) == (4, 1, 3, 2)
    rows = reports.report_csv(report, "zh").decode("utf-8-sig").splitlines()
    assert "转交工单（按工程师）,Engineer 2,3" in rows and "协同请求（按部门）,生产处,2" in rows
    assert "每日转交工程师工单,2026-11-26,1" in rows
    month = reports.engineer_report(store, manager, *reports.period("month", date(2026, 11, 1)))
    assert (month.transferred, month.requests) == (6, 4)                  # the whole of November
    assert reports.build(store, manager, "engineer", *WEEK).transferred == 4


@pytest.mark.parametrize("role", [r for r in ROLES if r not in ("staff", "supervisor", "manager")])
def test_roles_without_the_right_cannot_transfer_or_coordinate(store, people, make_user, role):
    ticket_id = call(store, people["staff"])
    user = make_user(role)
    flow = load_workflow()
    with pytest.raises((TransitionRefused, PermissionDenied)):
        tickets.step(store, user, ticket_id, "transfer", values={"engineer": people["engineer"].id})
    if not flow.may("coordinate", role):
        with pytest.raises(PermissionDenied):
            tickets.coordinate(store, user, ticket_id, "production", "")
    if role not in ("manager", "gm", "supervisor"):
        with pytest.raises(PermissionDenied):
            reports.engineer_report(store, user, *WEEK)
    assert store.get(tickets.SHEET, ticket_id, auth.SYSTEM)["engineer"] is None
    assert history(store, ticket_id)[-1][0] == "intake"


def test_the_demo_engineer_opens_their_list_and_the_manager_the_report(demo_db):
    engineer = open_page(login("demo-engineer"), "tickets")
    assert not engineer.exception
    lists = [s for s in engineer.segmented_control if s.label == "清单"][0]
    assert lists.value == "engineer"
    count = one(demo_db, "SELECT count(*) FROM tickets t JOIN kefu_users u ON u.id = t.engineer WHERE "
                         "u.username = 'demo-engineer' AND t.state IN ('new', 'assigned', 'in_progress', "
                         "'waiting_customer')")
    assert count > 0 and lists.format_func("engineer") == f"转交给我的 · {count}"
    assert "转交给您（售后工程师）且尚未解决的工单" in texts(engineer)
    assert not [b for b in engineer.button if (b.key or "").startswith("tickets__new")]     # no intake for an engineer
    assert f"转交给我的 {count} 张" in texts(open_page(engineer, ""))          # and on the home screen
    latest = one(demo_db, "SELECT max(created_at) FROM ticket_events WHERE step = 'transfer'")
    choice = "this_month" if latest[:7] == datetime.now(timezone(timedelta(hours=8))).strftime("%Y-%m") else "last_month"
    report = open_page(login("demo-manager"), "reports")
    report.selectbox(key="reports__name").set_value("engineer")
    report.selectbox(key="reports__period").set_value(choice)
    report.run()
    assert not report.exception
    labels = {m.label: m.value for m in report.metric}
    assert "工程师实施服务报表 · " in texts(report) and int(labels["转售后工程师"]) > 0
    assert report.dataframe[0].value.shape[0] >= 2                          # a line per engineer
    staff = open_page(login("demo-staff"), "tickets")
    assert [s for s in staff.segmented_control if s.label == "清单"][0].value == "mine"


def test_a_staff_member_transfers_a_ticket_on_the_screen_and_the_history_says_who(demo_store, demo_db):
    staff = auth.get_user(demo_store, one(demo_db, "SELECT id FROM kefu_users WHERE username = 'demo-staff'"))
    engineer = one(demo_db, "SELECT id FROM kefu_users WHERE username = 'demo-engineer'")
    number = demo_store.get(tickets.SHEET, call(demo_store, staff), staff)["ticket_no"]
    at = open_page(login("demo-staff"), "tickets")
    key = next(f.key for f in at.dataframe if (f.key or "").startswith("tickets__lists__mine__grid_"))
    at.session_state[key] = {"selection": {"rows": [0], "columns": [], "cells": []}}   # the newest: this call
    at = at.run()
    steps = [s for s in at.segmented_control if s.label == "下一步"][0]
    assert steps.options == ["开始处理", "转售后工程师"]                    # a new ticket: start, or transfer
    at = steps.set_value("transfer").run()
    base = steps.key.removesuffix("__which")
    go = at.button(key=base + "__go")
    at = go.click().run()                                                    # no engineer chosen
    assert "售后工程师：必填" in texts(at)
    assert one(demo_db, "SELECT engineer FROM tickets WHERE ticket_no = ?", number) is None
    at.selectbox(key=base + "__engineer").set_value(engineer)
    at.text_input(key=base + "__comment").input("需上门检测")
    at = at.button(key=base + "__go").click().run()
    assert not at.exception
    assert one(demo_db, "SELECT engineer FROM tickets WHERE ticket_no = ?", number) == engineer
    assert "已转售后工程师 冯志远" in texts(at)
    timeline = next(f.value for f in at.dataframe if "步骤" in list(f.value.columns))
    last = timeline.iloc[-1].to_dict()
    assert (last["操作人"], last["步骤"]) == ("王小丽", "转售后工程师") and "冯志远 · 需上门检测" == last["说明"]
