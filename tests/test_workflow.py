"""The ticket workflow: every step from every state for every role, allowed exactly as declared."""
from pathlib import Path

import pytest

from kefu.sheets import ROLES
from kefu.rules import RulesError
from kefu.workflow import TransitionRefused, load_workflow

FLOW = load_workflow()
STATES = [s["value"] for s in FLOW.states]
# Who may take each step, from where: the office's rules as DOMAIN.md gives them, written out by hand
# so a change to rules/workflow.toml that breaks them is caught here.
EXPECTED = {
    "assign": ({"new", "assigned", "in_progress"}, "assigned", {"supervisor", "manager"}),
    "start": ({"new", "assigned"}, "in_progress", {"staff", "supervisor", "manager"}),
    "submit": ({"in_progress"}, "awaiting_approval", {"staff", "supervisor", "manager"}),
    "approve": ({"awaiting_approval"}, "approved", {"gm"}),
    "send_back": ({"awaiting_approval"}, "in_progress", {"gm", "manager"}),
    "give_feedback": ({"approved"}, "feedback_given", {"staff", "supervisor", "manager"}),
    "follow_up": ({"feedback_given"}, "followed_up", {"staff", "supervisor", "manager"}),
    "close": ({"followed_up"}, "closed", {"staff", "supervisor", "manager"}),
    "reopen": ({"feedback_given", "followed_up", "closed"}, "in_progress", {"supervisor", "manager"}),
}
CASES = [(step, state, role) for step in EXPECTED for state in STATES for role in ROLES]


@pytest.mark.parametrize("step, state, role", CASES, ids=[f"{s}-{st}-{r}" for s, st, r in CASES])
def test_every_step_from_every_state_for_every_role(step, state, role):
    sources, target, roles = EXPECTED[step]
    if state in sources and role in roles:
        assert FLOW.check(state, step, role).target == target
        assert step in [t.name for t in FLOW.available(state, role)]
    else:
        with pytest.raises(TransitionRefused):
            FLOW.check(state, step, role)
        assert step not in [t.name for t in FLOW.available(state, role)]


def test_the_main_road_from_new_to_closed():
    state, walk = FLOW.first, [("start", "staff"), ("submit", "staff"), ("approve", "gm"),
                               ("give_feedback", "staff"), ("follow_up", "staff"), ("close", "staff")]
    for step, role in walk:
        state = FLOW.check(state, step, role).target
    assert state == "closed"


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
])
def test_a_bad_workflow_file_names_file_and_step(tmp_path, old, new, message):
    text = (Path(__file__).parent.parent / "rules" / "workflow.toml").read_text(encoding="utf-8")
    path = tmp_path / "workflow.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        load_workflow(path)
    assert str(caught.value).startswith(str(path)) and message in str(caught.value)
