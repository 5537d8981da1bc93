"""Tickets' own behaviour: intake at the phone (number, first responder, SLA due times, escalation)
and workflow steps, each recorded with who, when and why, in one transaction with the ticket."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from kefu import auth
from kefu.errors import StaleRecord
from kefu.sheets import Problem, ValidationError
from kefu.rules import read_rules
from kefu.sla import SLA_FILE, SlaRules, load_rules
from kefu.store import Store
from kefu.workflow import Workflow, load_workflow

SHEET, EVENTS = "tickets", "ticket_events"


def escalation_rules(path=None) -> dict:
    data = read_rules(path or SLA_FILE).get("escalation", {})
    return {"claim_fen": int(Decimal(str(data.get("claim_yuan", 10000))) * 100),
            "group_complaint": bool(data.get("group_complaint", True)),
            "severity": set(data.get("severity", ["emergency"]))}


def needs_escalation(values: dict, rules: dict) -> bool:
    """A claim at or over the threshold, a group complaint or an emergency goes to the manager at once."""
    return bool((values.get("claim_amount") or 0) >= rules["claim_fen"]
                or (rules["group_complaint"] and values.get("group_complaint"))
                or values.get("severity") in rules["severity"])


def next_number(store: Store, day) -> str:
    """TS-20261122-0042: readable on the phone, counted per day."""
    prefix = f"TS-{day:%Y%m%d}-"
    row = store.conn.execute("SELECT max(ticket_no) FROM tickets WHERE ticket_no LIKE ?", (prefix + "%",)).fetchone()
    return f"{prefix}{int(row[0][-4:]) + 1 if row[0] else 1:04d}"


def intake(store: Store, actor, values: dict, *, sla: SlaRules | None = None) -> int:
    """Log a ticket: the one who logs it is its first responder and first handler."""
    sheet = store.sheet(SHEET)
    auth.require(actor, sheet, "create")
    sla = sla or load_rules(tz=store.settings.tz)
    rules = escalation_rules()
    given = {k: v for k, v in values.items() if k not in sheet.by_name or not sheet.by_name[k].readonly}
    with store.transaction():
        now = datetime.now(store.settings.tz).replace(microsecond=0)
        clean = sheet.validate(given, store.ctx, partial=True)
        kind, severity = clean.get("kind") or "inquiry", clean.get("severity") or "normal"
        target = sla.target(kind, severity)
        ticket = {**given, "ticket_no": next_number(store, now.date()), "state": "new",
                  "first_responder": actor.id, "assignee": actor.id,
                  "escalated": needs_escalation({**clean, "severity": severity}, rules),
                  "response_due": sla.calendar.due(now, target.response),
                  "resolution_due": sla.calendar.due(now, target.resolution)}
        ticket_id = store.insert(SHEET, ticket, actor)
        store.insert(EVENTS, {"ticket": ticket_id, "step": "intake", "to_state": "new"}, auth.acting_for(actor))
    return ticket_id


def step(store: Store, actor, ticket_id: int, name: str, *, comment: str = "", expected_version: int | None = None,
         assignee: int | None = None, flow: Workflow | None = None, lang: str = "zh") -> dict:
    """Take one workflow step, if the ticket's state and the user's role allow it; refused with a
    message saying who may, or StaleRecord when the screen showed an older version of the ticket."""
    flow = flow or load_workflow()
    with store.transaction():
        ticket = store.get(SHEET, ticket_id, actor)
        if expected_version is not None and ticket["version"] != expected_version:
            raise StaleRecord()
        transition = flow.check(ticket["state"], name, actor.role, lang)
        now = store.now()
        changes = {"state": transition.target}
        if name == "assign":
            if assignee is None:
                raise ValidationError(store.sheet(SHEET), [Problem("assignee", "err.required", {})])
            changes["assignee"] = assignee
        if transition.target == "in_progress" and not ticket["responded_at"]:
            changes["responded_at"] = now
        if transition.target == "awaiting_approval":
            changes["resolved_at"] = now
        updated = store.update(SHEET, ticket_id, changes, actor, expected_version=ticket["version"],
                               allow_readonly=True)
        store.insert(EVENTS, {"ticket": ticket_id, "step": name, "from_state": ticket["state"],
                              "to_state": transition.target, "comment": comment or None}, auth.acting_for(actor))
    return updated
