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
EXPECTED = {     # step: (from, to, roles, applies to escalated tickets, to the others)
    "assign": ({"new", "assigned", "in_progress"}, "assigned", {"supervisor", "manager"}, True, True),
    "start": ({"new", "assigned"}, "in_progress", WORKERS, True, True),
    "wait_customer": ({"in_progress"}, "waiting_customer", WORKERS, True, True),
    "resume": ({"waiting_customer"}, "in_progress", WORKERS, True, True),
    "submit": ({"in_progress"}, "awaiting_approval", WORKERS, False, True),
    "submit_to_manager": ({"in_progress"}, "awaiting_manager", WORKERS, True, False),
    "manager_approve": ({"awaiting_manager"}, "awaiting_approval", {"manager"}, True, True),
    "approve": ({"awaiting_approval"}, "approved", {"gm"}, True, True),
    "send_back": ({"awaiting_manager", "awaiting_approval"}, "in_progress", {"gm", "manager"}, True, True),
    "give_feedback": ({"approved"}, "feedback_given", WORKERS, True, True),
    "follow_up": ({"feedback_given"}, "followed_up", WORKERS, True, True),
    "close": ({"followed_up"}, "closed", WORKERS, True, True),
    "reopen": ({"feedback_given", "followed_up", "closed"}, "in_progress", {"supervisor", "manager"}, True, True),
}
CASES = [(step, state, role, escalated) for step in EXPECTED for state in STATES for role in ROLES
         for escalated in (True, False)]


def test_the_declared_steps_are_exactly_the_expected_ones():
    assert set(FLOW.transitions) == set(EXPECTED)


@pytest.mark.parametrize("step, state, role, escalated", CASES,
                         ids=[f"{s}-{st}-{r}-{'esc' if e else 'plain'}" for s, st, r, e in CASES])
def test_every_step_from_every_state_for_every_role(step, state, role, escalated):
    sources, target, roles, for_escalated, for_plain = EXPECTED[step]
    ticket = {"escalated": 1 if escalated else 0}
    applies = for_escalated if escalated else for_plain
    if state in sources and role in roles and applies:
        assert FLOW.check(state, step, role, ticket=ticket).target == target
        assert step in [t.name for t in FLOW.available(state, role, ticket)]
    else:
        with pytest.raises(TransitionRefused):
            FLOW.check(state, step, role, ticket=ticket)
        assert step not in [t.name for t in FLOW.available(state, role, ticket)]


def test_the_main_road_from_new_to_closed():
    state, walk = FLOW.first, [("start", "staff"), ("submit", "staff"), ("approve", "gm"),
                               ("give_feedback", "staff"), ("follow_up", "staff"), ("close", "staff")]
    for step, role in walk:
        state = FLOW.check(state, step, role).target
    assert state == "closed"


def test_an_escalated_ticket_goes_to_the_manager_before_the_general_manager():
    escalated = {"escalated": 1}
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
