"""Ticket intake and workflow steps: numbers, first responder, SLA due times, escalation at the
threshold, every step recorded, stale screens refused, bad input refused with nothing written."""
from datetime import datetime

import pytest

from kefu import tickets
from kefu.errors import StaleRecord
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
    ({"group_complaint": True}, True), ({"severity": "emergency"}, True), ({"severity": "major"}, False),
])
def test_escalation_to_the_manager(store, people, extra, escalated):
    ticket_id = tickets.intake(store, people["staff"], call(**extra))
    assert store.get("tickets", ticket_id, people["staff"])["escalated"] == int(escalated)


def test_the_whole_road_with_every_step_recorded(store, people):
    staff, gm = people["staff"], people["gm"]
    ticket_id = tickets.intake(store, staff, call())
    tickets.step(store, staff, ticket_id, "start")
    assert store.get("tickets", ticket_id, staff)["responded_at"]
    tickets.step(store, staff, ticket_id, "submit", comment="已安排师傅上门")
    with pytest.raises(TransitionRefused) as caught:
        tickets.step(store, staff, ticket_id, "approve")
    assert caught.value.message("zh") == "只有总经理可以执行“审批通过”。"
    tickets.step(store, gm, ticket_id, "approve")
    for name in ("give_feedback", "follow_up", "close"):
        tickets.step(store, staff, ticket_id, name)
    ticket = store.get("tickets", ticket_id, staff)
    assert ticket["state"] == "closed" and ticket["resolved_at"]
    events = store.conn.execute("SELECT step, from_state, to_state, created_by, comment FROM ticket_events "
                                "WHERE ticket = ? ORDER BY id", (ticket_id,)).fetchall()
    assert [e[0] for e in events] == ["intake", "start", "submit", "approve", "give_feedback", "follow_up", "close"]
    assert events[3][3] == gm.id and events[2][4] == "已安排师傅上门"
    assert [e[2] for e in events][-1] == "closed"


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
