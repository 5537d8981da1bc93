"""The ticket workflow: states and the steps between them, each step declared in rules/workflow.toml
with the roles that may take it, the tickets it applies to (`when`) and what it records (`needs`).
Other acts on a ticket (acknowledge, attribute a fault, spot check) name their roles there too.
Nothing else in the code decides who may move a ticket."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kefu.config import ROOT
from kefu.errors import KefuError, PermissionDenied
from kefu.i18n import label as pick_label, t
from kefu.sheets import ROLES
from kefu import rules as rule_files
from kefu.rules import RulesError, read_rules

WORKFLOW_FILE = ROOT / "rules" / "workflow.toml"


class TransitionRefused(KefuError):
    """A step the ticket's state or the user's role does not allow; the message says who may."""


def roles_text(roles, lang: str) -> str:
    return "、".join(t("role." + r, lang) for r in sorted(roles))


@dataclass(frozen=True)
class Transition:
    name: str
    label: dict
    sources: frozenset
    target: str
    roles: frozenset
    when: tuple = ()                 # ((field, value), ...) the ticket must have
    needs: tuple = ()                # ticket fields the step records
    then: str | None = None          # a step taken at once after this one

    def label_in(self, lang: str) -> str:
        return pick_label(self.label, lang)

    def applies(self, ticket: dict | None) -> bool:
        """A `when` value true/false tests the ticket's flag, a list its value being one of them."""
        return ticket is None or all(bool(ticket.get(k)) == bool(v) if isinstance(v, bool)
                                     else ticket.get(k) in v if isinstance(v, tuple) else ticket.get(k) == v
                                     for k, v in self.when)


@dataclass(frozen=True)
class Workflow:
    states: tuple[dict, ...]
    transitions: dict[str, Transition]
    open_states: frozenset = frozenset()
    paused_states: frozenset = frozenset()
    actions: dict = field(default_factory=dict)
    spot_check_per_staff: int = 3
    resolved_states: frozenset = frozenset({"awaiting_manager", "awaiting_approval"})
    gm_approval_kinds: frozenset = frozenset({"complaint"})
    departments: tuple = ()          # [coordination] departments: ({value, en, zh}, ...)

    def facts(self, ticket: dict | None) -> dict | None:
        """The ticket as `when` sees it: its fields, and `gm_approval` (its kind's result goes to the
        general manager before feedback: `gm_approval_kinds`)."""
        if ticket is None:
            return None
        return {**ticket, "gm_approval": ticket.get("kind") in self.gm_approval_kinds}

    @property
    def first(self) -> str:
        return self.states[0]["value"]

    def state_label(self, value: str, lang: str) -> str:
        return next((pick_label(s, lang) for s in self.states if s["value"] == value), value)

    def available(self, state: str, role: str, ticket: dict | None = None) -> list[Transition]:
        """The steps this role may take from this state (for this ticket), in declaration order."""
        facts = self.facts(ticket)
        return [tr for tr in self.transitions.values()
                if state in tr.sources and (role in tr.roles or role == "system") and tr.applies(facts)]

    def check(self, state: str, name: str, role: str, lang: str = "zh", ticket: dict | None = None) -> Transition:
        """The transition, if this role may take it from this state; else TransitionRefused."""
        transition = self.transitions.get(name)
        if transition is None:
            raise TransitionRefused("wf.unknown", step=name)
        if state not in transition.sources:
            raise TransitionRefused("wf.wrong_state", step=transition.label_in(lang),
                                    state=self.state_label(state, lang))
        if not transition.applies(self.facts(ticket)):
            instead = [tr.label_in(lang) for tr in self.available(state, "system", ticket)   # the sibling step
                       if tr.when and tr.sources == transition.sources]
            raise TransitionRefused("wf.not_this_ticket", step=transition.label_in(lang),
                                    instead="、".join(instead) or "—")
        if role != "system" and role not in transition.roles:
            raise TransitionRefused("wf.wrong_role", step=transition.label_in(lang), roles=roles_text(transition.roles, lang))
        return transition

    def department_label(self, value: str | None, lang: str) -> str:
        return next((pick_label(d, lang) for d in self.departments if d["value"] == value), value or "—")

    def may(self, action: str, role: str) -> bool:
        return role == "system" or role in self.actions.get(action, ())

    def require(self, action: str, role: str, lang: str = "zh") -> None:
        """PermissionDenied naming who may, unless rules/workflow.toml [actions] lets this role."""
        if not self.may(action, role):
            raise PermissionDenied("wf.action_denied", action=t("act." + action, lang),
                                   roles=roles_text(self.actions.get(action, ()), lang) or "—")


def _states_list(path, data, key, values) -> frozenset:
    listed = data.get(key, [])
    if not isinstance(listed, list) or any(s not in values for s in listed):
        raise RulesError(f"{path}: {key} must list known states")
    return frozenset(listed)


def load_workflow(path: Path | None = None, *, text: str | None = None) -> Workflow:
    """rules/workflow.toml as a Workflow; RulesError names the file and the key at fault. text: these rules
    instead of the file's (a text checked before saving)."""
    path = path or rule_files.file("workflow")
    data = read_rules(path, text)
    states = data.get("states")
    if not isinstance(states, list) or not states or not all(
            isinstance(s, dict) and s.get("value") and s.get("en") and s.get("zh") for s in states):
        raise RulesError(f"{path}: states must be a list of {{ value, en, zh }}")
    values = {s["value"] for s in states}
    transitions = {}
    for position, raw in enumerate(data.get("transitions", []), 1):
        where = f"{path}: transitions[{position}]"
        name = raw.get("name")
        if not isinstance(name, str) or not name or name in transitions:
            raise RulesError(f"{where}: name missing or used twice")
        label = raw.get("label")
        if not isinstance(label, dict) or not label.get("en") or not label.get("zh"):
            raise RulesError(f"{where} ({name}): label needs en and zh")
        sources, target, roles = raw.get("from", []), raw.get("to"), raw.get("roles", [])
        unknown = [s for s in [*sources, target] if s not in values]
        if not sources or unknown:
            raise RulesError(f"{where} ({name}): from/to name unknown states {unknown or '(none given)'}")
        if not isinstance(roles, list) or not roles or any(r not in ROLES for r in roles):
            raise RulesError(f"{where} ({name}): roles must be a non-empty list of {', '.join(ROLES)}",
                             key=f"transitions[{position}].roles", code="rl.roles", roles=", ".join(ROLES))
        when, needs = raw.get("when", {}), raw.get("needs", [])
        if not isinstance(when, dict) or not isinstance(needs, list) or not all(isinstance(n, str) for n in needs):
            raise RulesError(f"{where} ({name}): when must be a table and needs a list of field names")
        if any(isinstance(v, list) and not all(isinstance(x, str) for x in v) for v in when.values()):
            raise RulesError(f"{where} ({name}): a list in when holds values (text)")
        when = {k: tuple(v) if isinstance(v, list) else v for k, v in when.items()}
        transitions[name] = Transition(name, label, frozenset(sources), target, frozenset(roles),
                                       tuple(sorted(when.items())), tuple(needs), raw.get("then"))
    if not transitions:
        raise RulesError(f"{path}: no [[transitions]]")
    for transition in transitions.values():
        if transition.then is not None and (transition.then not in transitions
                                            or transition.target not in transitions[transition.then].sources):
            raise RulesError(f"{path}: transitions ({transition.name}): then = {transition.then!r} is not a step "
                             f"that can follow '{transition.target}'")
    actions = data.get("actions", {})
    if not isinstance(actions, dict):
        raise RulesError(f"{path}: [actions] maps an act to a list of roles ({', '.join(ROLES)})", key="actions",
                         code="rl.roles", roles=", ".join(ROLES))
    for act, roles in actions.items():
        if not isinstance(roles, list) or any(x not in ROLES for x in roles):
            raise RulesError(f"{path}: [actions] maps an act to a list of roles ({', '.join(ROLES)}): {act} = {roles!r}",
                             key=f"actions.{act}", code="rl.roles", roles=", ".join(ROLES))
    per_staff = data.get("spot_check", {}).get("per_staff", 3)
    if isinstance(per_staff, bool) or not isinstance(per_staff, int) or per_staff < 1:
        raise RulesError(f"{path}: spot_check.per_staff must be a whole number of at least 1",
                         key="spot_check.per_staff", code="rl.whole_min", low=1, value=per_staff)
    kinds = data.get("gm_approval_kinds", ["complaint"])
    if not isinstance(kinds, list) or not all(isinstance(k, str) and k for k in kinds):
        raise RulesError(f"{path}: gm_approval_kinds must list ticket kinds (complaint, inquiry, ...)")
    resolved = _states_list(path, data, "resolved", values) if "resolved" in data else Workflow.resolved_states
    departments = data.get("coordination", {}).get("departments", [])
    if not isinstance(departments, list) or not all(
            isinstance(d, dict) and d.get("value") and d.get("en") and d.get("zh") for d in departments) \
            or len({d["value"] for d in departments}) != len(departments):
        raise RulesError(f"{path}: coordination.departments must be a list of {{ value, en, zh }}, each value once",
                         key="coordination.departments")
    return Workflow(states=tuple(states), transitions=transitions,
                    open_states=_states_list(path, data, "open", values),
                    paused_states=_states_list(path, data, "paused", values),
                    actions={k: frozenset(v) for k, v in actions.items()}, spot_check_per_staff=per_staff,
                    resolved_states=resolved, gm_approval_kinds=frozenset(kinds), departments=tuple(departments))
