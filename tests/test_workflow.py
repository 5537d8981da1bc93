"""The ticket workflow: every step from every state for every role, allowed exactly as declared."""
from pathlib import Path

import pytest

from kefu.errors import PermissionDenied
from kefu.sheets import ROLES
from kefu.rules import RulesError
from kefu.workflow import TransitionRefused, load_workflow

FLOW = load_workflow()
STATES = [s["value"] for s in FLOW.states]
# Who may take each step, from where: the office's rules as DOMAIN.md gives them, written out by hand
# so a change to rules/workflow.toml that breaks them is caught here.
WORKERS = {"staff", "supervisor", "manager"}
ENGINEER = WORKERS | {"engineer"}        # 001 受理组: 如未能解决，转给售后工程师 — the engineer works what is transferred
ANY = {(True, True), (True, False), (False, True), (False, False)}       # (escalated, kind needs the gm)
EXPECTED = {     # step: (from, to, roles, the tickets it applies to as (escalated, kind needs the gm) pairs)
    "assign": ({"new", "assigned", "in_progress"}, "assigned", {"supervisor", "manager"}, ANY),
    "start": ({"new", "assigned"}, "in_progress", WORKERS, ANY),
    "wait_customer": ({"in_progress"}, "waiting_customer", ENGINEER, ANY),
    "resume": ({"waiting_customer"}, "in_progress", ENGINEER, ANY),
    "submit": ({"in_progress"}, "awaiting_approval", ENGINEER, {(False, True)}),
    "answer": ({"in_progress"}, "feedback_given", ENGINEER, {(False, False)}),
    "submit_to_manager": ({"in_progress"}, "awaiting_manager", ENGINEER, {(True, True), (True, False)}),
    "manager_approve": ({"awaiting_manager"}, "awaiting_approval", {"manager"}, {(True, True), (False, True)}),
    "manager_approve_final": ({"awaiting_manager"}, "approved", {"manager"}, {(True, False), (False, False)}),
    "approve": ({"awaiting_approval"}, "approved", {"gm"}, ANY),
    "send_back": ({"awaiting_manager", "awaiting_approval"}, "in_progress", {"gm", "manager"}, ANY),
    "give_feedback": ({"approved"}, "feedback_given", WORKERS, ANY),
    "follow_up": ({"feedback_given"}, "followed_up", WORKERS, ANY),
    "close": ({"followed_up"}, "closed", WORKERS, ANY),
    "reopen": ({"feedback_given", "followed_up", "closed"}, "in_progress", {"supervisor", "manager"}, ANY),
    "transfer": ({"new", "assigned", "in_progress"}, "in_progress", WORKERS, ANY),
}
KIND = {True: "complaint", False: "inquiry"}
CASES = [(step, state, role, escalated, gm) for step in EXPECTED for state in STATES for role in ROLES
         for escalated in (True, False) for gm in (True, False)]


def test_the_declared_steps_are_exactly_the_expected_ones():
    assert set(FLOW.transitions) == set(EXPECTED)


@pytest.mark.parametrize("step, state, role, escalated, gm", CASES,
                         ids=[f"{s}-{st}-{r}-{'esc' if e else 'plain'}-{KIND[g]}" for s, st, r, e, g in CASES])
def test_every_step_from_every_state_for_every_role(step, state, role, escalated, gm):
    sources, target, roles, applies_to = EXPECTED[step]
    ticket = {"escalated": 1 if escalated else 0, "kind": KIND[gm]}
    if state in sources and role in roles and (escalated, gm) in applies_to:
        assert FLOW.check(state, step, role, ticket=ticket).target == target
        assert step in [t.name for t in FLOW.available(state, role, ticket)]
    else:
        with pytest.raises(TransitionRefused):
            FLOW.check(state, step, role, ticket=ticket)
        assert step not in [t.name for t in FLOW.available(state, role, ticket)]


def test_the_main_road_from_new_to_closed():
    complaint = {"kind": "complaint", "escalated": 0}
    state, walk = FLOW.first, [("start", "staff"), ("submit", "staff"), ("approve", "gm"),
                               ("give_feedback", "staff"), ("follow_up", "staff"), ("close", "staff")]
    for step, role in walk:
        state = FLOW.check(state, step, role, ticket=complaint).target
    assert state == "closed"


def test_处理结果公司总经理审批后反馈_a_complaint_result_is_approved_by_the_gm_before_feedback():
    complaint = {"kind": "complaint", "escalated": 0}
    with pytest.raises(TransitionRefused) as caught:
        FLOW.check("in_progress", "answer", "staff", ticket=complaint)
    assert caught.value.message("zh") == "“答复客户（无需审批）”不适用于此工单，请使用“提交审批”。"
    assert FLOW.available("in_progress", "staff", complaint)[0].name == "submit"    # the usual next step


@pytest.mark.parametrize("kind", ["inquiry", "suggestion", "praise"])
def test_an_inquiry_or_suggestion_reaches_feedback_without_the_gm(kind):
    ticket = {"kind": kind, "escalated": 0}
    assert FLOW.available("in_progress", "staff", ticket)[0].name == "answer"
    with pytest.raises(TransitionRefused):
        FLOW.check("in_progress", "submit", "staff", ticket=ticket)
    state = FLOW.check("in_progress", "answer", "staff", ticket=ticket).target
    assert state == "feedback_given" and state in FLOW.resolved_states
    escalated = {"kind": kind, "escalated": 1}                # escalated: the department manager decides
    state = FLOW.check("in_progress", "submit_to_manager", "staff", ticket=escalated).target
    with pytest.raises(TransitionRefused):
        FLOW.check(state, "manager_approve", "manager", ticket=escalated)
    assert FLOW.check(state, "manager_approve_final", "manager", ticket=escalated).target == "approved"


def test_which_kinds_go_to_the_gm_is_the_offices_choice(tmp_path):
    text = Path("rules/workflow.toml").read_text(encoding="utf-8")
    changed = text.replace('gm_approval_kinds = ["complaint"]', 'gm_approval_kinds = ["complaint", "suggestion"]')
    assert changed != text
    flow = load_workflow(text=changed)
    assert flow.available("in_progress", "staff", {"kind": "suggestion", "escalated": 0})[0].name == "submit"
    assert flow.available("in_progress", "staff", {"kind": "inquiry", "escalated": 0})[0].name == "answer"


def test_an_escalated_ticket_goes_to_the_manager_before_the_general_manager():
    escalated = {"escalated": 1, "kind": "complaint"}
    with pytest.raises(TransitionRefused) as caught:
        FLOW.check("in_progress", "submit", "staff", ticket=escalated)
    assert caught.value.message("zh") == "“提交审批”不适用于此工单，请使用“提交部门经理审批”。"
    state = FLOW.check("in_progress", "submit_to_manager", "staff", ticket=escalated).target
    with pytest.raises(TransitionRefused):
        FLOW.check(state, "approve", "gm", ticket=escalated)
    state = FLOW.check(state, "manager_approve", "manager", ticket=escalated).target
    assert FLOW.check(state, "approve", "gm", ticket=escalated).target == "approved"


def test_acts_besides_steps_name_their_roles():
    assert FLOW.may("acknowledge", "manager") and not FLOW.may("acknowledge", "staff")
    with pytest.raises(PermissionDenied) as caught:
        FLOW.require("attribute_fault", "supervisor")
    assert caught.value.message("zh") == "只有部门经理可以认定本人过失。"


def test_refusals_say_who_may_and_why():
    with pytest.raises(TransitionRefused) as caught:
        FLOW.check("awaiting_approval", "approve", "staff")
    assert caught.value.message("zh") == "只有总经理可以执行“审批通过”。"
    with pytest.raises(TransitionRefused) as caught:
        FLOW.check("closed", "submit", "staff")                     # a stale screen
    assert "工单当前为“已关闭”，不能执行“提交审批”" in caught.value.message("zh")
    with pytest.raises(TransitionRefused) as caught:
        FLOW.check("closed", "submit", "staff", "en")
    assert caught.value.message("en").startswith("'Submit for approval' is not possible while the ticket is 'Closed'")


@pytest.mark.parametrize("old, new, message", [
    ('to = "assigned"', 'to = "limbo"', "unknown states ['limbo']"),
    ('roles = ["gm"]', 'roles = ["king"]', "roles must be a non-empty list"),
    ('name = "close"', 'name = "assign"', "name missing or used twice"),
    ('then = "close"', 'then = "approve"', "then = 'approve' is not a step that can follow 'followed_up'"),
    ('spot_check = ["supervisor", "manager"]', 'spot_check = ["janitor"]', "[actions] maps an act to a list of roles"),
    ('per_staff = 3', 'per_staff = 0', "spot_check.per_staff must be a whole number"),
])
def test_a_bad_workflow_file_names_file_and_step(tmp_path, old, new, message):
    text = (Path(__file__).parent.parent / "rules" / "workflow.toml").read_text(encoding="utf-8")
    path = tmp_path / "workflow.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        load_workflow(path)
    assert str(caught.value).startswith(str(path)) and message in str(caught.value)
