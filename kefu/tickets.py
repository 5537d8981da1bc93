"""Tickets' own behaviour: intake at the phone (number, first responder, customer found by phone, SLA due
times, escalation), workflow steps each recorded with who, when and why in one transaction with the
ticket, the SLA clock stopped while waiting on the customer, the work lists (open, overdue, due soon,
follow-up calls, escalations to acknowledge), fault attribution with its fine, and the weekly spot check."""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from kefu import auth
from kefu.errors import KefuError, StaleRecord
from kefu.fields import FieldError
from kefu.rules import read_rules
from kefu.sheets import Problem, ValidationError
from kefu import rules as rule_files
from kefu.sla import SlaRules, load_rules, rules_on
from kefu.store import EMPTY, Query, Store
from kefu.workflow import Workflow, load_workflow
from kefu.config import ROOT

SHEET, EVENTS, PENALTIES, CHECKS = "tickets", "ticket_events", "rewards_penalties", "spot_checks"
INCENTIVES_FILE = ROOT / "rules" / "incentives.toml"


def escalation_rules(path=None) -> dict:
    data = read_rules(path or rule_files.file("sla")).get("escalation", {})
    return {"claim_fen": int(Decimal(str(data.get("claim_yuan", 10000))) * 100),
            "group_complaint": bool(data.get("group_complaint", True)),
            "severity": set(data.get("severity", ["major", "emergency"]))}


def due_soon_hours(path=None) -> float:
    return float(read_rules(path or rule_files.file("sla")).get("lists", {}).get("due_soon_hours", 4))


def fault_fine_fen(path=None) -> int:
    """The fine for a complaint found to be one's own fault (rules/incentives.toml, 200 yuan by default)."""
    value = read_rules(path or rule_files.file("incentives")).get("fines", {}).get("own_fault_complaint", 200)
    return int(Decimal(str(value)) * 100)


def handler_superior(store: Store, ticket: dict) -> auth.User | None:
    """Whom an escalated ticket names besides the department manager: its handler's one superior (000 一个上级
    的原则：每个人只有一个上级), the handler being the assignee (or, without one, whoever logged it)."""
    return auth.superior_of(store, ticket.get("assignee") or ticket.get("first_responder"))


def needs_escalation(values: dict, rules: dict) -> bool:
    """A claim at or over the threshold, a group complaint or a severity listed in rules/sla.toml
    [escalation] (major and emergency: 重大客户投诉, 重大突发投诉事件) goes to the manager at once."""
    return bool((values.get("claim_amount") or 0) >= rules["claim_fen"]
                or (rules["group_complaint"] and values.get("group_complaint"))
                or values.get("severity") in rules["severity"])


def next_number(store: Store, day) -> str:
    """TS-20261122-0042: readable on the phone, counted per day."""
    prefix = f"TS-{day:%Y%m%d}-"
    row = store.conn.execute("SELECT max(ticket_no) FROM tickets WHERE ticket_no >= ? AND ticket_no < ?",  # the index
                             (prefix, prefix + "\uffff")).fetchone()
    return f"{prefix}{int(row[0][-4:]) + 1 if row[0] else 1:04d}"


# ---------------------------------------------------------------------------------------------- lookup

@dataclass
class Caller:
    """What the phone number says about a caller: their archive (if one matches) and recent tickets."""
    phone: str
    customer_id: int | None = None
    customer: dict | None = None          # the archive's code and name, when this user may see it
    keeper: str | None = None             # who keeps the archive, said when the user may not see it
    recent: list[dict] | None = None


def normal_phone(store: Store, raw: str) -> str | None:
    field = store.sheet(SHEET).by_name["caller_phone"]
    try:
        return field.type.parse(field, raw, store.ctx)
    except FieldError:
        return None


def lookup(store: Store, actor, raw_phone: str, *, limit: int = 5) -> Caller | None:
    """The caller behind a phone number: the one archive with that phone or mobile, and the latest
    tickets from that number or that customer. None when the number is not a valid phone."""
    auth.require(actor, store.sheet(SHEET), "read")
    phone = normal_phone(store, raw_phone)
    if phone is None:
        return None
    caller = Caller(phone=phone)
    found = store.conn.execute(
        "SELECT id, code, name, owner FROM customers WHERE (phone = ? OR mobile = ?) AND +deleted_at IS NULL "
        "ORDER BY id LIMIT 2", (phone, phone)).fetchall()
    if len(found) == 1:
        caller.customer_id = found[0][0]
        visible = store.query("customers", actor, Query(filters={"id": found[0][0]}, page_size=1)).total
        if visible:
            caller.customer = {"id": found[0][0], "code": found[0][1], "name": found[0][2]}
        else:
            caller.keeper = store.user_names().get(found[0][3], "—")
    clause = "caller_phone = ?" + (" OR customer = ?" if caller.customer_id else "")
    params = [phone] + ([caller.customer_id] if caller.customer_id else [])
    ids = [r[0] for r in store.conn.execute(
        f"SELECT id FROM tickets WHERE ({clause}) AND +deleted_at IS NULL ORDER BY id DESC LIMIT ?", (*params, limit))]
    caller.recent = store.query(SHEET, actor, Query(filters={"id": ids}, page_size=limit)).rows if ids else []
    return caller


# ---------------------------------------------------------------------------------------------- intake

def intake(store: Store, actor, values: dict, *, sla: SlaRules | None = None) -> int:
    """Log a ticket: the one who logs it is its first responder and first handler. A caller whose phone
    matches exactly one archive is linked to it."""
    sheet = store.sheet(SHEET)
    auth.require(actor, sheet, "create")
    rules = escalation_rules()
    given = {k: v for k, v in values.items() if k not in sheet.by_name or not sheet.by_name[k].readonly}
    with store.transaction():
        now = datetime.now(store.settings.tz).replace(microsecond=0)
        sla = sla or rules_on(store, now.date())         # the targets in force on the day it is received
        clean = sheet.validate(given, store.ctx, partial=True)
        writer = actor
        if not clean.get("customer") and clean.get("caller_phone"):
            found = store.conn.execute(
                "SELECT id FROM customers WHERE (phone = ?1 OR mobile = ?1) AND +deleted_at IS NULL LIMIT 2",
                (clean["caller_phone"],)).fetchall()
            if len(found) == 1:            # linked even when the archive is not the user's to read;
                given["customer"] = found[0][0]           # the audit still names the user
                writer = auth.acting_for(actor)
        kind, severity = clean.get("kind") or "inquiry", clean.get("severity") or "normal"
        target = sla.target(kind, severity)
        ticket = {**given, "ticket_no": next_number(store, now.date()), "state": "new",
                  "first_responder": actor.id, "assignee": actor.id,
                  "escalated": needs_escalation({**clean, "severity": severity}, rules),
                  "response_due": sla.calendar.due(now, target.response),
                  "resolution_due": sla.calendar.due(now, target.resolution)}
        ticket_id = store.insert(SHEET, ticket, writer)
        store.insert(EVENTS, {"ticket": ticket_id, "step": "intake", "to_state": "new"}, auth.acting_for(actor))
    return ticket_id


def imported(store: Store, row: dict) -> dict:
    """A ticket from a file (a past year's complaint register), completed inside the import's transaction.
    It keeps the file's received time (created_at: the reports and KPIs count it in its own month), its
    number (or gets the next one of its received day), and its state; with no state it arrives closed,
    so a past record stays out of the work lists. Due times and working hours come from the SLA rules as
    at intake; a closed escalated ticket counts as signed for when it closed (not a signature still owed)."""
    sheet = store.sheet(SHEET)
    clean = sheet.validate({k: v for k, v in row.items() if k in sheet.by_name and not _is_blank(v)}, store.ctx,
                           partial=True)
    received = datetime.fromisoformat(row.get("created_at") or store.now())
    sla = rules_on(store, received.date())
    kind, severity = clean.get("kind") or "inquiry", clean.get("severity") or "normal"
    target = sla.target(kind, severity)
    out = {**row, **clean, "created_at": received.isoformat()}
    out.setdefault("ticket_no", None)
    if not out["ticket_no"]:
        out["ticket_no"] = next_number(store, received.date())
    out["state"] = clean.get("state") or "closed"
    if out.get("escalated") is None:
        out["escalated"] = needs_escalation({**clean, "severity": severity}, escalation_rules())
    out["response_due"] = clean.get("response_due") or sla.calendar.due(received, target.response).isoformat()
    out["resolution_due"] = clean.get("resolution_due") or sla.calendar.due(received, target.resolution).isoformat()
    for at, hours in (("responded_at", "response_hours"), ("resolved_at", "resolution_hours")):
        if clean.get(at) and clean.get(hours) is None:
            out[hours] = round(working_hours(sla, received, datetime.fromisoformat(clean[at])), 2)
    if out["state"] == "closed":
        out["closed_at"] = clean.get("closed_at") or clean.get("resolved_at") or received.isoformat()
        if out["escalated"] and not clean.get("acknowledged_at"):
            out["acknowledged_at"] = out["closed_at"]
    return out


def _is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def edit(store: Store, actor, ticket_id: int, changes: dict, *, expected_version: int | None = None) -> dict:
    """Change a ticket's details; a claim raised over the threshold, a group complaint or an emergency
    found later escalates it then (escalation is never taken back by an edit)."""
    with store.transaction():
        updated = store.update(SHEET, ticket_id, changes, actor, expected_version=expected_version)
        if not updated["escalated"] and needs_escalation(updated, escalation_rules()):
            updated = store.update(SHEET, ticket_id, {"escalated": True}, auth.acting_for(actor), allow_readonly=True)
            store.insert(EVENTS, {"ticket": ticket_id, "step": "escalate", "from_state": updated["state"],
                                  "to_state": updated["state"]}, auth.acting_for(actor))
    return updated


# ---------------------------------------------------------------------------------------------- steps

def _pauses(store: Store, ticket_id: int, flow: Workflow, now: datetime) -> list[tuple[datetime, datetime | None]]:
    """The spans the ticket spent in a paused state (waiting on the customer), the last one ending now."""
    pauses, start = [], None
    for to_state, at in store.conn.execute(
            "SELECT to_state, created_at FROM ticket_events WHERE ticket = ? AND +deleted_at IS NULL ORDER BY id",
            (ticket_id,)):
        moment = datetime.fromisoformat(at)
        if to_state in flow.paused_states and start is None:
            start = moment
        elif to_state not in flow.paused_states and start is not None:
            pauses.append((start, moment))
            start = None
    if start is not None:
        pauses.append((start, now))
    return pauses


def working_hours(sla: SlaRules, start: datetime, end: datetime) -> float:
    """Working hours from start to end on the office calendar (rules/sla.toml), to the hundredth: what a
    ticket records as its response and resolution time, so that dashboards average them in SQL."""
    return round(sla.calendar.between(start, end).total_seconds() / 3600, 2)


def backfill_hours(store: Store, sla: SlaRules | None = None) -> int:
    """Working hours for tickets responded to or resolved before the hours were recorded (a database
    from an earlier version). Returns how many tickets were filled; runs once per database."""
    if store.conn.execute("SELECT 1 FROM kefu_meta WHERE key = 'backfill:ticket_hours'").fetchone():
        return 0
    from kefu.reports import WorkingClock           # the same hours as working_hours, in constant time each
    sla = sla or load_rules(tz=store.settings.tz, store=store)
    clock = WorkingClock(sla.calendar)
    filled = 0
    with store.transaction():
        if store.conn.execute("SELECT 1 FROM kefu_meta WHERE key = 'backfill:ticket_hours'").fetchone():
            return 0                                  # another process starting on the same database did it first
        rows = store.conn.execute(
            "SELECT id, created_at, responded_at, resolved_at FROM tickets WHERE "
            "(responded_at IS NOT NULL AND response_hours IS NULL) OR "
            "(resolved_at IS NOT NULL AND resolution_hours IS NULL)").fetchall()
        for ticket_id, created, responded, resolved in rows:
            store.conn.execute(
                "UPDATE tickets SET response_hours = ?, resolution_hours = ? WHERE id = ?",
                (round(clock.hours(created, responded), 2) if responded else None,
                 round(clock.hours(created, resolved), 2) if resolved else None, ticket_id))
            filled += 1
        store.conn.execute("INSERT INTO kefu_meta (key, value) VALUES ('backfill:ticket_hours', ?)", (store.now(),))
    return filled


def retime_to_roster(store: Store, actor, days: set[date], *, flow: Workflow | None = None) -> int:
    """After the roster changed on `days`: the open tickets whose SLA clock follows the roster (the rules in
    force on the day each was received) and is still running over one of those days get the due times the
    roster now gives, like the due times a save of the SLA hours gives the open tickets (kefu/office_rules.py).
    Only a clock still running moves: a response already given keeps its response due time, a resolution
    its resolution due time (and both their recorded hours), and a closed ticket keeps everything. Audited
    as written by the engine for the one who changed the roster; returns how many tickets changed."""
    if not days:
        return 0
    flow = flow or load_workflow()
    tz, first, last = store.settings.tz, min(days), max(days)
    states = sorted(flow.open_states)
    # a day's margin each side: the stored times' text compares as time only within one offset
    rows = store.conn.execute(
        f"SELECT id, kind, severity, state, created_at, response_due, resolution_due, responded_at, resolved_at "
        f"FROM tickets WHERE state IN ({', '.join('?' for _ in states)}) AND +deleted_at IS NULL AND created_at < ? "
        f"AND (resolution_due IS NULL OR resolution_due >= ? OR response_due >= ?)",
        (*states, (last + timedelta(days=2)).isoformat(), *[(first - timedelta(days=1)).isoformat()] * 2)).fetchall()
    now = datetime.now(tz).replace(microsecond=0)
    rules: dict[date, SlaRules | None] = {}
    by_text: dict[str, SlaRules | None] = {}
    count = 0
    for ticket_id, kind, severity, state, created, response, resolution, responded, resolved in rows:
        received = datetime.fromisoformat(created)
        day = received.astimezone(tz).date()
        running = [due for due, done in ((response, responded), (resolution, resolved)) if not done]
        if day > last or not running or all(due and datetime.fromisoformat(due).astimezone(tz).date() < first
                                             for due in running):
            continue                               # received after the days, or its clocks ran out before them
        if day not in rules:                       # the rules in force on the day it was received, read once
            text = rule_files.text_on(store, "sla", day)
            if text not in by_text:
                found = load_rules(tz=tz, text=text, store=store)
                by_text[text] = found if found.calendar.roster is not None else None
            rules[day] = by_text[text]
        sla = rules[day]
        if sla is None:                            # those rules do not follow the roster
            continue
        target = sla.target(kind or "inquiry", severity or "normal")
        changes = {}
        if not responded:
            changes["response_due"] = sla.calendar.due(received, target.response).isoformat()
        if not resolved:
            pauses = _pauses(store, ticket_id, flow, now)
            if state in flow.paused_states and pauses and pauses[-1][1] == now:
                pauses = pauses[:-1]               # waiting now: the due time as at the last resume
            due = sla.calendar.due(received, target.resolution, pauses)
            if due is not None:
                changes["resolution_due"] = due.isoformat()
        stored = {"response_due": response, "resolution_due": resolution}
        changes = {key: value for key, value in changes.items() if value != stored[key]}
        if changes:
            store.update(SHEET, ticket_id, changes, auth.acting_for(actor), allow_readonly=True)
            count += 1
    return count


def step(store: Store, actor, ticket_id: int, name: str, *, comment: str = "", expected_version: int | None = None,
         assignee: int | None = None, values: dict | None = None, flow: Workflow | None = None,
         sla: SlaRules | None = None, lang: str = "zh") -> dict:
    """Take one workflow step, if the ticket's state and the user's role allow it; refused with a
    message saying who may, or StaleRecord when the screen showed an older version of the ticket.
    values carries what the step records (its `needs`, e.g. satisfaction); a step's `then` follows it."""
    flow = flow or load_workflow()
    given_sla = sla
    values = dict(values or {})
    if assignee is not None:
        values["assignee"] = assignee
    with store.transaction():
        ticket = store.get(SHEET, ticket_id, actor)
        if expected_version is not None and ticket["version"] != expected_version:
            raise StaleRecord()
        transition = flow.check(ticket["state"], name, actor.role, lang, ticket)
        missing = [Problem(need, "err.required", {}) for need in transition.needs if values.get(need) in (None, "")]
        if missing:
            raise ValidationError(store.sheet(SHEET), missing)
        if "engineer" in transition.needs:
            _check_engineer(store, values["engineer"])
        now = datetime.now(store.settings.tz).replace(microsecond=0)
        stamp = now.isoformat()
        changes = {"state": transition.target, **{need: values[need] for need in transition.needs}}
        if "satisfaction" in transition.needs:
            changes["follow_up_note"] = comment or None
        created = datetime.fromisoformat(ticket["created_at"])
        if transition.target == "in_progress" and not ticket["responded_at"]:
            sla = sla or load_rules(tz=store.settings.tz, store=store)
            changes.update(responded_at=stamp, response_hours=working_hours(sla, created, now))
        if transition.target in flow.resolved_states and not ticket["resolved_at"]:
            sla = sla or load_rules(tz=store.settings.tz, store=store)
            changes.update(resolved_at=stamp, resolution_hours=working_hours(sla, created, now))
        if transition.target == "closed":
            changes["closed_at"] = stamp
        if transition.target == "in_progress" and ticket["state"] not in flow.paused_states:
            # sent back or reopened: not resolved after all
            changes.update(resolved_at=None, resolution_hours=None, closed_at=None)
        if ticket["state"] in flow.paused_states and transition.target not in flow.paused_states:
            due_rules = given_sla or rules_on(store, created.date())   # the targets in force when it was received
            target = due_rules.target(ticket["kind"], ticket["severity"])
            changes["resolution_due"] = due_rules.calendar.due(created, target.resolution,
                                                         _pauses(store, ticket_id, flow, now)).isoformat()
        updated = store.update(SHEET, ticket_id, changes, actor, expected_version=ticket["version"],
                               allow_readonly=True)
        store.insert(EVENTS, {"ticket": ticket_id, "step": name, "from_state": ticket["state"],
                              "to_state": transition.target, "comment": comment or None,
                              **({"engineer": values["engineer"]} if "engineer" in transition.needs else {})},
                     auth.acting_for(actor))
        if transition.then:
            updated = step(store, auth.acting_for(actor), ticket_id, transition.then, flow=flow, sla=sla, lang=lang)
    return updated


ENGINEER_ROLE = "engineer"


def engineers(store: Store) -> list[tuple[int, str]]:
    """The active after-sales engineers (id, name), by name: whom a ticket can be transferred to."""
    return list(store.conn.execute("SELECT id, display_name FROM kefu_users WHERE active = 1 AND role = ? "
                                   "ORDER BY display_name", (ENGINEER_ROLE,)))


def _check_engineer(store: Store, user_id) -> None:
    """A transfer goes to an active user with the engineer role; else refused naming the field."""
    user = auth.get_user(store, user_id) if isinstance(user_id, int) else None
    if user is None or user.role != ENGINEER_ROLE:
        raise ValidationError(store.sheet(SHEET), [Problem("engineer", "tk.not_engineer", {})])
    if not user.active:
        raise ValidationError(store.sheet(SHEET), [Problem("engineer", "tk.engineer_disabled",
                                                           {"name": user.display_name})])


def acknowledge(store: Store, actor, ticket_id: int, *, flow: Workflow | None = None, lang: str = "zh") -> dict:
    """The department manager signs for an escalated ticket: it leaves their home screen."""
    flow = flow or load_workflow()
    flow.require("acknowledge", actor.role, lang)
    with store.transaction():
        ticket = store.get(SHEET, ticket_id, actor)
        if not ticket["escalated"]:
            raise KefuError("tk.not_escalated")
        if ticket["acknowledged_at"]:
            return ticket
        updated = store.update(SHEET, ticket_id, {"acknowledged_by": actor.id, "acknowledged_at": store.now()},
                               actor, expected_version=ticket["version"], allow_readonly=True)
        store.insert(EVENTS, {"ticket": ticket_id, "step": "acknowledge", "from_state": ticket["state"],
                              "to_state": ticket["state"]}, auth.acting_for(actor))
    return updated


def attribute_fault(store: Store, actor, ticket_id: int, staff_id: int | None, reason: str, *,
                    expected_version: int | None = None, flow: Workflow | None = None, lang: str = "zh") -> int:
    """After investigation a manager finds a complaint to be a staff member's own fault: the ticket names
    them with the reason, and a fine line (rules/incentives.toml) is written for the incentive run.
    Returns the fine line's id."""
    flow = flow or load_workflow()
    flow.require("attribute_fault", actor.role, lang)
    sheet = store.sheet(SHEET)
    reason = (reason or "").strip()
    problems = []
    if not staff_id:
        problems.append(Problem("fault_staff", "err.required", {}))
    if not reason:
        problems.append(Problem("fault_reason", "err.required", {}))
    if problems:
        raise ValidationError(sheet, problems)
    with store.transaction():
        ticket = store.get(SHEET, ticket_id, actor)
        if expected_version is not None and ticket["version"] != expected_version:
            raise StaleRecord()
        if ticket["kind"] != "complaint":
            raise KefuError("tk.fault_not_complaint")
        if ticket["fault_staff"]:
            raise KefuError("tk.fault_already", who=store.user_names().get(ticket["fault_staff"], "—"))
        store.update(SHEET, ticket_id, {"fault_staff": staff_id, "fault_reason": reason}, actor,
                     expected_version=ticket["version"], allow_readonly=True)
        fine = store.insert(PENALTIES, {
            "staff": staff_id, "happened_on": datetime.now(store.settings.tz).date(), "kind": "own_fault_complaint",
            "amount": Decimal(fault_fine_fen()) / 100, "reason": f"{ticket['ticket_no']}：{reason}"[:500],
            "ticket": ticket_id}, auth.acting_for(actor))
        store.insert(EVENTS, {"ticket": ticket_id, "step": "attribute_fault", "from_state": ticket["state"],
                              "to_state": ticket["state"], "comment": reason[:1000]}, auth.acting_for(actor))
    return fine


# ---------------------------------------------------------------------------------------------- coordination

COORDINATE, ANSWER = "coordinate", "coordination_answer"


@dataclass(frozen=True)
class Coordination:
    """One request to a department (000: 报请公司生产处协同处理) and its answer once it came."""
    department: str
    asked_by: int
    asked_at: str
    question: str | None
    answered_by: int | None = None
    answered_at: str | None = None
    answer: str | None = None


def coordinations(store: Store, actor, ticket_id: int) -> list[Coordination]:
    """The ticket's coordination requests in order, each with the first answer recorded after it."""
    store.get(SHEET, ticket_id, actor)              # the ticket's own read check
    out: list[Coordination] = []
    for step_name, department, who, at, comment in store.conn.execute(
            "SELECT step, department, created_by, created_at, comment FROM ticket_events WHERE ticket = ? "
            "AND step IN (?, ?) AND +deleted_at IS NULL ORDER BY id", (ticket_id, COORDINATE, ANSWER)):
        if step_name == COORDINATE:
            out.append(Coordination(department, who, at, comment))
            continue
        for i, asked in enumerate(out):
            if asked.department == department and asked.answered_at is None:
                out[i] = Coordination(asked.department, asked.asked_by, asked.asked_at, asked.question, who, at, comment)
                break
    return out


def _coordination_event(store: Store, actor, ticket_id: int, step_name: str, department: str | None, text: str,
                        *, flow: Workflow | None, lang: str, required_text: bool) -> int:
    flow = flow or load_workflow()
    flow.require(COORDINATE, actor.role, lang)
    text = (text or "").strip()
    events = store.sheet(EVENTS)
    problems = []
    if department not in {d["value"] for d in flow.departments}:
        problems.append(Problem("department", "err.required" if not department else "tk.unknown_department", {}))
    if required_text and not text:
        problems.append(Problem("comment", "err.required", {}))
    if problems:
        raise ValidationError(events, problems)
    with store.transaction():
        ticket = store.get(SHEET, ticket_id, actor)
        if step_name == ANSWER and not any(c.department == department and c.answered_at is None
                                           for c in coordinations(store, actor, ticket_id)):
            raise KefuError("tk.no_open_coordination", department=flow.department_label(department, lang))
        return store.insert(EVENTS, {"ticket": ticket_id, "step": step_name, "from_state": ticket["state"],
                                     "to_state": ticket["state"], "department": department,
                                     "comment": text[:1000] or None}, auth.acting_for(actor))


def coordinate(store: Store, actor, ticket_id: int, department: str | None, question: str = "", *,
               flow: Workflow | None = None, lang: str = "zh") -> int:
    """Refer the ticket to a department for coordination ([coordination] departments in rules/workflow.toml),
    saying what is asked: a step in the ticket's history with who and when. The ticket's state is unchanged."""
    return _coordination_event(store, actor, ticket_id, COORDINATE, department, question, flow=flow, lang=lang,
                               required_text=False)


def coordination_answer(store: Store, actor, ticket_id: int, department: str | None, answer: str, *,
                        flow: Workflow | None = None, lang: str = "zh") -> int:
    """Record a department's answer to the ticket's open request to it (required text); refused when the
    department was not asked or has answered already."""
    return _coordination_event(store, actor, ticket_id, ANSWER, department, answer, flow=flow, lang=lang,
                               required_text=True)


# ---------------------------------------------------------------------------------------------- lists

QUEUES = ("open", "overdue", "due_soon", "follow_up", "escalations", "mine", "engineer")


def queue(name: str, actor, *, flow: Workflow | None = None, sla: SlaRules | None = None,
          now: datetime | None = None, tz=None, store: Store | None = None) -> Query:
    """The Query behind a work list: open tickets; overdue (resolution due passed, clock running); due
    within the next working hours (rules/sla.toml [lists]); follow-up calls to make; escalations the
    manager has not signed for; the user's own open tickets; the tickets transferred to this engineer and not
    resolved yet. Newest first. store: the roster, for "due soon" when the SLA clock follows it."""
    flow = flow or load_workflow()
    running = sorted(flow.open_states - flow.paused_states)
    if name == "open":
        return Query(filters={"state": sorted(flow.open_states)})
    if name == "mine":
        return Query(filters={"state": sorted(flow.open_states), "assignee": actor.id})
    if name == "engineer":                         # transferred to this engineer, not yet resolved
        return Query(filters={"state": sorted(flow.open_states - flow.resolved_states), "engineer": actor.id})
    if name == "follow_up":
        return Query(filters={"state": ["feedback_given"]}, sort="resolution_due")
    if name == "escalations":
        return Query(filters={"escalated": 1, "acknowledged_at": EMPTY})
    sla = sla or load_rules(tz=tz or (store.settings.tz if store else None), store=store)
    now = (now or datetime.now(sla.calendar.tz)).replace(microsecond=0)
    if name == "overdue":
        return Query(filters={"state": running, "resolution_due": (None, now.isoformat())}, sort="resolution_due")
    if name == "due_soon":
        until = sla.calendar.add(now, due_soon_hours())
        return Query(filters={"state": running, "resolution_due": (now.isoformat(), until.isoformat())},
                     sort="resolution_due")
    raise ValueError(f"unknown list {name!r}")


# ---------------------------------------------------------------------------------------------- spot check

def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def spot_sample(store: Store, actor, week: date, *, flow: Workflow | None = None) -> list[dict]:
    """The week's sample: for each staff member, up to spot_check.per_staff of the tickets they closed
    that week, drawn at random but the same draw every time for that week (so a supervisor who comes
    back finds the same tickets), with any result already recorded."""
    flow = flow or load_workflow()
    flow.require("spot_check", actor.role)
    week = week_of(week)
    tz = store.settings.tz
    start = datetime.combine(week, datetime.min.time(), tz)
    rows = store.conn.execute(
        "SELECT id, assignee FROM tickets WHERE closed_at >= ? AND closed_at < ? AND +deleted_at IS NULL ORDER BY id",
        (start.isoformat(), (start + timedelta(days=7)).isoformat())).fetchall()
    by_staff: dict[int, list[int]] = {}
    for ticket_id, assignee in rows:
        by_staff.setdefault(assignee, []).append(ticket_id)
    draw = random.Random(f"spot-check {week.isoformat()}")
    chosen = []
    for staff in sorted(k for k in by_staff if k is not None):
        ids = by_staff[staff]
        chosen += sorted(draw.sample(ids, min(flow.spot_check_per_staff, len(ids))))
    if not chosen:
        return []
    found = {r["id"]: r for r in store.query(SHEET, actor, Query(filters={"id": chosen}, page_size=len(chosen))).rows}
    checks = {r["ticket"]: r for r in store.query(CHECKS, actor, Query(filters={"ticket": chosen},
                                                                         page_size=len(chosen))).rows}
    return [{**found[i], "check": checks.get(i)} for i in chosen if i in found]


def record_check(store: Store, actor, ticket_id: int, result: str, note: str = "", *,
                 flow: Workflow | None = None) -> int:
    """Pass or fail one sampled ticket (once; a second check of the same ticket is refused)."""
    flow = flow or load_workflow()
    flow.require("spot_check", actor.role)
    with store.transaction():
        ticket = store.get(SHEET, ticket_id, actor)
        if not ticket["closed_at"]:
            raise KefuError("tk.check_not_closed")
        week = week_of(datetime.fromisoformat(ticket["closed_at"]).astimezone(store.settings.tz).date())
        return store.insert(CHECKS, {"week": week, "ticket": ticket_id, "staff": ticket["assignee"],
                                     "result": result, "note": note or None}, actor)
