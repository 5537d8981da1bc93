"""Ticket intake and workflow steps: numbers, first responder, SLA due times, escalation at the
threshold, every step recorded, stale screens refused, bad input refused with nothing written."""
from datetime import datetime, timedelta

import pytest

from kefu import tickets
from kefu.errors import KefuError, PermissionDenied, StaleRecord
from kefu.sheets import ValidationError
from kefu.sla import load_rules
from kefu.workflow import TransitionRefused, load_workflow


def call(**extra) -> dict:
    return {"channel": "hotline", "kind": "complaint", "category": "speed", "severity": "normal",
            "caller_name": "陈先生", "caller_phone": "13812345678", "subject": "维修迟迟不上门",
            "description": "报修三天无人联系。", **extra}


def count(store, table) -> int:
    return store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


@pytest.fixture
def people(make_user):
    return {role: make_user(role) for role in ("staff", "supervisor", "manager", "gm")}


def test_intake_numbers_the_ticket_and_makes_the_caller_s_first_responder_accountable(store, people):
    staff = people["staff"]
    first = store.get("tickets", tickets.intake(store, staff, call()), staff)
    second = store.get("tickets", tickets.intake(store, staff, call(kind="inquiry")), staff)
    today = datetime.now(store.settings.tz)
    assert first["ticket_no"] == f"TS-{today:%Y%m%d}-0001" and second["ticket_no"].endswith("-0002")
    assert first["state"] == "new" and first["first_responder"] == staff.id and first["assignee"] == staff.id
    created = datetime.fromisoformat(first["created_at"])
    rules = load_rules(tz=store.settings.tz)
    assert first["response_due"] == rules.calendar.due(created, 4).isoformat()
    assert first["resolution_due"] == rules.calendar.due(created, 24).isoformat()
    assert store.conn.execute("SELECT step, to_state, created_by FROM ticket_events WHERE ticket = ?",
                              (first["id"],)).fetchall() == [("intake", "new", staff.id)]


@pytest.mark.parametrize("extra, escalated", [
    ({"claim_amount": "10000.00"}, True), ({"claim_amount": "9999.99"}, False),
    ({"group_complaint": True}, True), ({"severity": "emergency"}, True), ({"severity": "major"}, True),
    ({"severity": "normal"}, False),
])
def test_escalation_to_the_manager(store, people, extra, escalated):
    ticket_id = tickets.intake(store, people["staff"], call(**extra))
    assert store.get("tickets", ticket_id, people["staff"])["escalated"] == int(escalated)


def test_重大客户投诉_a_major_complaint_is_on_the_managers_escalations_list(store, people):
    ticket_id = tickets.intake(store, people["staff"], call(severity="major"))
    listed = store.query("tickets", people["manager"], tickets.queue("escalations", people["manager"]))
    assert [r["id"] for r in listed.rows] == [ticket_id]


def test_an_inquiry_is_answered_and_resolved_without_the_general_manager(store, people):
    staff = people["staff"]
    ticket_id = tickets.intake(store, staff, call(kind="inquiry", subject="发票怎么开"))
    tickets.step(store, staff, ticket_id, "start")
    with pytest.raises(TransitionRefused) as caught:
        tickets.step(store, staff, ticket_id, "submit")
    assert "答复客户（无需审批）" in caught.value.message("zh")
    ticket = tickets.step(store, staff, ticket_id, "answer", comment="已告知开票流程")
    assert ticket["state"] == "feedback_given" and ticket["resolved_at"] and ticket["resolution_hours"] is not None
    ticket = tickets.step(store, staff, ticket_id, "follow_up", values={"satisfaction": 5})
    assert ticket["state"] == "closed"
    steps = [r[0] for r in store.conn.execute("SELECT step FROM ticket_events WHERE ticket = ? ORDER BY id",
                                              (ticket_id,))]
    assert steps == ["intake", "start", "answer", "follow_up", "close"]


def test_the_whole_road_with_every_step_recorded(store, people):
    staff, gm = people["staff"], people["gm"]
    ticket_id = tickets.intake(store, staff, call())
    tickets.step(store, staff, ticket_id, "start")
    assert store.get("tickets", ticket_id, staff)["responded_at"]
    tickets.step(store, staff, ticket_id, "submit", comment="已安排师傅上门")
    with pytest.raises(TransitionRefused) as caught:
        tickets.step(store, staff, ticket_id, "approve")
    assert caught.value.message("zh") == "只有总经理可以执行“审批通过”。"
    with pytest.raises(TransitionRefused):                 # no feedback to the customer before approval
        tickets.step(store, staff, ticket_id, "give_feedback")
    tickets.step(store, gm, ticket_id, "approve")
    tickets.step(store, staff, ticket_id, "give_feedback")
    ticket = tickets.step(store, staff, ticket_id, "follow_up", values={"satisfaction": 4}, comment="客户满意")
    assert ticket["state"] == "closed" and ticket["resolved_at"] and ticket["closed_at"]
    assert ticket["satisfaction"] == 4 and ticket["follow_up_note"] == "客户满意"
    events = store.conn.execute("SELECT step, from_state, to_state, created_by, comment FROM ticket_events "
                                "WHERE ticket = ? ORDER BY id", (ticket_id,)).fetchall()
    assert [e[0] for e in events] == ["intake", "start", "submit", "approve", "give_feedback", "follow_up", "close"]
    assert events[3][3] == gm.id and events[2][4] == "已安排师傅上门"
    assert events[-1][2] == "closed" and events[-1][3] == staff.id      # the follow-up call closed it


@pytest.mark.parametrize("score, code", [(0, "err.bad_rating"), (6, "err.bad_rating"), (None, "err.required")])
def test_a_follow_up_needs_a_satisfaction_from_1_to_5(store, people, score, code):
    staff = people["staff"]
    ticket_id = walk(store, people, "feedback_given")
    before = count(store, "ticket_events"), store.get("tickets", ticket_id, staff)["version"]
    with pytest.raises(ValidationError) as caught:
        tickets.step(store, staff, ticket_id, "follow_up", values={"satisfaction": score})
    assert caught.value.by_field() == {"satisfaction": code}
    assert "回访满意度（1-5）" in caught.value.messages("zh")[0]
    ticket = store.get("tickets", ticket_id, staff)
    assert (count(store, "ticket_events"), ticket["version"]) == before and ticket["state"] == "feedback_given"


def walk(store, people, until: str, **extra) -> int:
    """A ticket taken along the main road until it reaches the state `until`."""
    staff = people["staff"]
    ticket_id = tickets.intake(store, staff, call(**extra))
    road = [("start", staff), ("submit", staff), ("approve", people["gm"]), ("give_feedback", staff)]
    for name, who in road:
        if store.get("tickets", ticket_id, staff)["state"] == until:
            break
        tickets.step(store, who, ticket_id, name)
    assert store.get("tickets", ticket_id, staff)["state"] == until
    return ticket_id


def test_an_escalated_ticket_needs_the_manager_s_approval_first(store, people):
    staff, manager, gm = people["staff"], people["manager"], people["gm"]
    ticket_id = tickets.intake(store, staff, call(claim_amount="10000.00"))
    tickets.step(store, staff, ticket_id, "start")
    with pytest.raises(TransitionRefused) as caught:
        tickets.step(store, staff, ticket_id, "submit")
    assert "提交部门经理审批" in caught.value.message("zh")
    tickets.step(store, staff, ticket_id, "submit_to_manager")
    with pytest.raises(TransitionRefused):
        tickets.step(store, gm, ticket_id, "approve")
    tickets.step(store, manager, ticket_id, "manager_approve", comment="同意赔付方案")
    assert tickets.step(store, gm, ticket_id, "approve")["state"] == "approved"


def test_the_manager_signs_for_an_escalation_and_it_leaves_their_list(store, people):
    staff, manager = people["staff"], people["manager"]
    escalated = tickets.intake(store, staff, call(group_complaint=True))
    tickets.intake(store, staff, call())
    waiting = store.query("tickets", manager, tickets.queue("escalations", manager)).rows
    assert [r["id"] for r in waiting] == [escalated]
    with pytest.raises(PermissionDenied) as caught:
        tickets.acknowledge(store, staff, escalated)
    assert caught.value.message("zh") == "只有部门经理可以签收上报工单。"
    ticket = tickets.acknowledge(store, manager, escalated)
    assert ticket["acknowledged_by"] == manager.id and ticket["acknowledged_at"]
    assert store.query("tickets", manager, tickets.queue("escalations", manager)).total == 0
    assert store.conn.execute("SELECT count(*) FROM ticket_events WHERE step = 'acknowledge' AND created_by = ?",
                              (manager.id,)).fetchone()[0] == 1


def test_an_edit_that_raises_the_claim_escalates_the_ticket(store, people):
    staff = people["staff"]
    ticket_id = tickets.intake(store, staff, call(claim_amount="500.00"))
    seen = store.get("tickets", ticket_id, staff)
    assert not seen["escalated"]
    updated = tickets.edit(store, staff, ticket_id, {"claim_amount": "12000.00"}, expected_version=seen["version"])
    assert updated["escalated"] == 1
    assert store.conn.execute("SELECT step FROM ticket_events WHERE ticket = ? ORDER BY id DESC LIMIT 1",
                              (ticket_id,)).fetchone()[0] == "escalate"


def test_waiting_on_the_customer_stops_the_clock(store, people):
    staff = people["staff"]
    ticket_id = tickets.intake(store, staff, call())
    tickets.step(store, staff, ticket_id, "start")
    tickets.step(store, staff, ticket_id, "wait_customer", comment="等客户提供发票")
    tz = store.settings.tz
    now = datetime.now(tz).replace(microsecond=0)
    created, paused = now - timedelta(days=20), now - timedelta(days=19)       # paused before it was due
    store.conn.execute("UPDATE tickets SET created_at = ? WHERE id = ?", (created.isoformat(), ticket_id))
    store.conn.execute("UPDATE ticket_events SET created_at = ? WHERE ticket = ? AND step = 'wait_customer'",
                       (paused.isoformat(), ticket_id))
    manager = people["manager"]
    overdue = tickets.queue("overdue", manager, tz=tz, now=now + timedelta(days=60))
    assert ticket_id not in [r["id"] for r in store.query("tickets", manager, overdue).rows]   # paused: not overdue
    ticket = tickets.step(store, staff, ticket_id, "resume", comment="客户已回复")
    resumed = datetime.fromisoformat(store.conn.execute(
        "SELECT created_at FROM ticket_events WHERE ticket = ? AND step = 'resume'", (ticket_id,)).fetchone()[0])
    calendar = load_rules(tz=tz).calendar
    assert ticket["resolution_due"] == calendar.due(created, 24, [(paused, resumed)]).isoformat()
    assert datetime.fromisoformat(ticket["resolution_due"]) > calendar.due(created, 24)
    assert datetime.fromisoformat(ticket["resolution_due"]) > resumed      # the paused weeks were not counted


def test_work_lists_overdue_due_soon_follow_up_and_mine(store, people):
    staff, manager = people["staff"], people["manager"]
    tz = store.settings.tz
    late, soon, later = (tickets.intake(store, staff, call()) for _ in range(3))
    now = datetime.now(tz).replace(microsecond=0)
    for ticket_id, due in ((late, now - timedelta(hours=1)), (soon, now + timedelta(minutes=30)),
                           (later, now + timedelta(days=30))):
        store.conn.execute("UPDATE tickets SET resolution_due = ? WHERE id = ?", (due.isoformat(), ticket_id))
    fed_back = walk(store, people, "feedback_given")
    ids = lambda name: [r["id"] for r in store.query("tickets", manager, tickets.queue(name, manager, tz=tz, now=now)).rows]  # noqa: E731
    assert ids("overdue") == [late]
    assert soon in ids("due_soon") and late not in ids("due_soon") and later not in ids("due_soon")
    assert ids("follow_up") == [fed_back]
    assert set(ids("open")) == {late, soon, later}
    assert ids("mine") == [] and set(r["id"] for r in store.query(
        "tickets", staff, tickets.queue("mine", staff)).rows) == {late, soon, later}


def test_typing_the_phone_finds_the_customer_and_their_recent_tickets(store, people):
    staff, manager = people["staff"], people["manager"]
    customer = store.insert("customers", {"code": "KH000001", "name": "深圳市华信科技有限公司", "kind": "company",
                                          "credit_rating": "A", "phone": "0755-86001234", "owner": manager.id}, manager)
    first = tickets.intake(store, staff, call(caller_phone="0755 8600 1234"))
    assert store.get("tickets", first, staff)["customer"] == customer          # linked by the phone
    other = tickets.intake(store, staff, call(caller_phone="13900001111"))
    caller = tickets.lookup(store, manager, "075586001234")
    assert caller.customer == {"id": customer, "code": "KH000001", "name": "深圳市华信科技有限公司"}
    assert [t["id"] for t in caller.recent] == [first]
    hidden = tickets.lookup(store, staff, "0755-86001234")      # not the staff member's archive: name withheld
    assert hidden.customer is None and hidden.keeper == manager.display_name and hidden.customer_id == customer
    assert tickets.lookup(store, staff, "13900001111").recent[0]["id"] == other
    assert tickets.lookup(store, staff, "138-CALL-ME") is None


def test_fault_attribution_writes_the_fine_line(store, people):
    staff, manager, supervisor = people["staff"], people["manager"], people["supervisor"]
    ticket_id = tickets.intake(store, staff, call())
    with pytest.raises(PermissionDenied):
        tickets.attribute_fault(store, supervisor, ticket_id, staff.id, "未按约定时间上门")
    with pytest.raises(ValidationError) as caught:
        tickets.attribute_fault(store, manager, ticket_id, staff.id, "  ")
    assert caught.value.by_field() == {"fault_reason": "err.required"}
    fine_id = tickets.attribute_fault(store, manager, ticket_id, staff.id, "未按约定时间上门")
    fine = store.get("rewards_penalties", fine_id, manager)
    assert (fine["staff"], fine["kind"], fine["amount"], fine["ticket"]) == (staff.id, "own_fault_complaint", 20000, ticket_id)
    assert store.get("rewards_penalties", fine_id, staff)["reason"].endswith("未按约定时间上门")   # they see their own
    ticket = store.get("tickets", ticket_id, manager)
    assert ticket["fault_staff"] == staff.id and ticket["fault_reason"] == "未按约定时间上门"
    assert store.conn.execute("SELECT count(*) FROM kefu_audit WHERE sheet = 'rewards_penalties'").fetchone()[0] == 1
    with pytest.raises(KefuError) as again:
        tickets.attribute_fault(store, manager, ticket_id, supervisor.id, "再次认定")
    assert again.value.message("zh") == f"此投诉已认定为{staff.display_name}的本人过失。"
    inquiry = tickets.intake(store, staff, call(kind="inquiry"))
    with pytest.raises(KefuError) as caught:
        tickets.attribute_fault(store, manager, inquiry, staff.id, "态度不好")
    assert caught.value.code == "tk.fault_not_complaint"
    assert count(store, "rewards_penalties") == 1


def test_the_weekly_spot_check_draws_the_same_sample_and_records_results(store, people, make_user):
    staff, supervisor = people["staff"], people["supervisor"]
    other = make_user("staff")
    closed = []
    for who in [staff] * 5 + [other] * 2:
        ticket_id = walk(store, {**people, "staff": who}, "feedback_given")
        closed.append(tickets.step(store, who, ticket_id, "follow_up", values={"satisfaction": 5})["id"])
    week = tickets.week_of(datetime.now(store.settings.tz).date())
    sample = tickets.spot_sample(store, supervisor, week)
    per_staff = {}
    for ticket in sample:
        per_staff.setdefault(ticket["assignee"], []).append(ticket["id"])
    assert {k: len(v) for k, v in per_staff.items()} == {staff.id: 3, other.id: 2}
    assert [t["id"] for t in tickets.spot_sample(store, supervisor, week)] == [t["id"] for t in sample]
    with pytest.raises(PermissionDenied):
        tickets.spot_sample(store, staff, week)
    tickets.record_check(store, supervisor, sample[0]["id"], "fail", "未核实客户身份")
    again = tickets.spot_sample(store, supervisor, week)
    assert again[0]["check"]["result"] == "fail" and again[1]["check"] is None
    with pytest.raises(ValidationError):                       # one check per ticket
        tickets.record_check(store, supervisor, sample[0]["id"], "pass")
    with pytest.raises(ValidationError) as caught:
        tickets.record_check(store, supervisor, sample[1]["id"], "maybe")
    assert caught.value.by_field() == {"result": "err.bad_choice"}
    open_ticket = tickets.intake(store, staff, call())
    with pytest.raises(KefuError):
        tickets.record_check(store, supervisor, open_ticket, "pass")


def test_assign_needs_a_handler_and_a_supervisor(store, people):
    staff, supervisor = people["staff"], people["supervisor"]
    ticket_id = tickets.intake(store, staff, call())
    with pytest.raises(TransitionRefused):
        tickets.step(store, staff, ticket_id, "assign", assignee=staff.id)
    with pytest.raises(ValidationError) as caught:
        tickets.step(store, supervisor, ticket_id, "assign")
    assert caught.value.by_field() == {"assignee": "err.required"}
    tickets.step(store, supervisor, ticket_id, "assign", assignee=people["manager"].id)
    ticket = store.get("tickets", ticket_id, staff)
    assert ticket["assignee"] == people["manager"].id and ticket["first_responder"] == staff.id   # 首问 stays


def test_a_step_from_a_stale_screen_is_refused_and_writes_nothing(store, people):
    staff = people["staff"]
    ticket_id = tickets.intake(store, staff, call())
    seen = store.get("tickets", ticket_id, staff)
    tickets.step(store, staff, ticket_id, "start", expected_version=seen["version"])
    events = count(store, "ticket_events")
    with pytest.raises(StaleRecord):
        tickets.step(store, staff, ticket_id, "start", expected_version=seen["version"])
    with pytest.raises(TransitionRefused) as caught:       # and without a version: the state says no
        tickets.step(store, staff, ticket_id, "start")
    assert "工单当前为“处理中”" in caught.value.message("zh")
    assert count(store, "ticket_events") == events


@pytest.mark.parametrize("extra, field, code", [
    ({"claim_amount": "-1.00"}, "claim_amount", "err.too_small"),
    ({"description": "长" * 10_000}, "description", "err.too_long"),
    ({"caller_phone": "138-CALL-ME"}, "caller_phone", "err.bad_phone"),
    ({"category": "weather"}, "category", "err.bad_choice"),
    ({"subject": ""}, "subject", "err.required"),
])
def test_bad_intake_is_refused_and_nothing_is_written(store, people, extra, field, code):
    with pytest.raises(ValidationError) as caught:
        tickets.intake(store, people["staff"], call(**extra))
    assert caught.value.by_field() == {field: code}
    assert count(store, "tickets") == 0 and count(store, "ticket_events") == 0


def test_a_user_cannot_set_what_the_engine_sets(store, people):
    staff = people["staff"]
    ticket_id = tickets.intake(store, staff, call(state="closed", ticket_no="TS-FAKE", escalated=True))
    ticket = store.get("tickets", ticket_id, staff)
    assert ticket["state"] == "new" and ticket["ticket_no"].startswith("TS-2") and ticket["escalated"] == 0


def test_the_ticket_sheet_knows_every_workflow_state(store):
    sheet_states = [c["value"] for c in store.sheet("tickets").by_name["state"].choices]
    assert sheet_states == [s["value"] for s in load_workflow().states]
