"""The ticket workflow: states and the steps between them, each step declared in rules/workflow.toml
with the roles that may take it. Nothing else in the code decides who may move a ticket."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kefu.config import ROOT
from kefu.errors import KefuError
from kefu.i18n import label as pick_label, t
from kefu.sheets import ROLES
from kefu.rules import RulesError, read_rules

WORKFLOW_FILE = ROOT / "rules" / "workflow.toml"


class TransitionRefused(KefuError):
    """A step the ticket's state or the user's role does not allow; the message says who may."""


@dataclass(frozen=True)
class Transition:
    name: str
    label: dict
    sources: frozenset
    target: str
    roles: frozenset

    def label_in(self, lang: str) -> str:
        return pick_label(self.label, lang)


@dataclass(frozen=True)
class Workflow:
    states: tuple[dict, ...]
    transitions: dict[str, Transition]

    @property
    def first(self) -> str:
        return self.states[0]["value"]

    def state_label(self, value: str, lang: str) -> str:
        return next((pick_label(s, lang) for s in self.states if s["value"] == value), value)

    def available(self, state: str, role: str) -> list[Transition]:
        """The steps this role may take from this state, in declaration order."""
        return [tr for tr in self.transitions.values() if state in tr.sources and (role in tr.roles or role == "system")]

    def check(self, state: str, name: str, role: str, lang: str = "zh") -> Transition:
        """The transition, if this role may take it from this state; else TransitionRefused."""
        transition = self.transitions.get(name)
        if transition is None:
            raise TransitionRefused("wf.unknown", step=name)
        if state not in transition.sources:
            raise TransitionRefused("wf.wrong_state", step=transition.label_in(lang),
                                    state=self.state_label(state, lang))
        if role != "system" and role not in transition.roles:
            raise TransitionRefused("wf.wrong_role", step=transition.label_in(lang),
                                    roles="、".join(t("role." + r, lang) for r in sorted(transition.roles)))
        return transition


def load_workflow(path: Path | None = None) -> Workflow:
    path = path or WORKFLOW_FILE
    data = read_rules(path)
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
        if not roles or any(r not in ROLES for r in roles):
            raise RulesError(f"{where} ({name}): roles must be a non-empty list of {', '.join(ROLES)}")
        transitions[name] = Transition(name, label, frozenset(sources), target, frozenset(roles))
    if not transitions:
        raise RulesError(f"{path}: no [[transitions]]")
    return Workflow(states=tuple(states), transitions=transitions)
