"""Service-level targets counted in working hours on the office's working calendar.

A working day is what the chinese-calendar package says (public holidays off, make-up days 调休 on);
for a year it does not know yet, Monday to Friday. Working time runs between the office's opening and
closing hours. The clock stops while a ticket waits on the customer (pauses).

Where the office turns it on (rules/sla.toml [hours] follow_roster), the clock follows the duty roster
(排班表, seed 002: 白班9:00-18:00, 晚班14:00-23:00): a day with shifts rostered counts the union of their
hours ([shifts]), a holiday included (someone is on duty); rest days and deleted rows do not count; a day
with no shift rostered keeps the [hours] of a working day. The roster is read a month at a time, once per
calculation (RosterDays), never once per ticket and day.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar

from kefu import config
from kefu.config import ROOT
from kefu import rules as rule_files
from kefu.rules import RulesError, read_rules

SLA_FILE = ROOT / "rules" / "sla.toml"
SEVERITIES = ("normal", "major", "emergency")
KINDS = ("complaint", "inquiry", "suggestion", "praise")


def is_working_day(day: date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:                 # a year the package has no schedule for yet
        return day.weekday() < 5


Windows = tuple[tuple[time, time], ...]    # a day's working hours: (from, to) each, in order, apart


def union(spans) -> Windows:
    """The hours covered by any of the spans, as few (from, to) pairs as cover them, in order."""
    merged: list[list[time]] = []
    for opens, closes in sorted(spans):
        if merged and opens <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], closes)
        else:
            merged.append([opens, closes])
    return tuple((a, b) for a, b in merged)


class RosterDays:
    """The working hours of each day that has a shift rostered (the roster register: not a rest day, not
    deleted), from the hours of each shift in rules/sla.toml [shifts]. Read from the database a month at a
    time on first use and kept for the life of this object (one calculation: an intake, a report)."""

    REST = "rest"

    def __init__(self, conn, shifts: dict[str, tuple[time, time]]):
        self._conn, self._shifts = conn, shifts
        self._months: dict[tuple[int, int], dict[date, Windows]] = {}

    def windows(self, day: date) -> Windows | None:
        """The day's hours from its rostered shifts; None when no shift is rostered that day."""
        month = self._months.get((day.year, day.month))
        if month is None:
            month = self._months[(day.year, day.month)] = self._read(day.replace(day=1))
        return month.get(day)

    def _read(self, first: date) -> dict[date, Windows]:
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        found: dict[date, list] = {}
        for day, shift in self._conn.execute(
                "SELECT DISTINCT duty_date, shift FROM roster WHERE duty_date BETWEEN ? AND ? AND shift != ? "
                "AND deleted_at IS NULL", (first.isoformat(), last.isoformat(), self.REST)):
            hours = self._shifts.get(shift)
            if hours is not None:
                found.setdefault(date.fromisoformat(day), []).append(hours)
        return {day: union(spans) for day, spans in found.items()}


@dataclass(frozen=True)
class WorkCalendar:
    tz: ZoneInfo
    opens: time = time(9, 0)
    closes: time = time(18, 0)
    roster: RosterDays | None = field(default=None, compare=False, repr=False)   # None: the roster is not followed

    def windows(self, day: date) -> Windows:
        """The day's working hours: its rostered shifts when the roster is followed and has any that day,
        else the office's hours on a working day, none on a day off."""
        if self.roster is not None:
            rostered = self.roster.windows(day)
            if rostered is not None:
                return rostered
        return ((self.opens, self.closes),) if is_working_day(day) else ()

    def _open_span(self, moment: datetime) -> tuple[datetime, datetime]:
        """(from, to) of working time: from the moment itself if the office is open then, else from the next
        opening, to the end of that stretch of working hours."""
        day = moment.date()
        while True:
            for opens, closes in self.windows(day):
                end = datetime.combine(day, closes, self.tz)
                if moment < end:
                    return max(moment, datetime.combine(day, opens, self.tz)), end
            day += timedelta(days=1)
            moment = datetime.combine(day, time(0), self.tz)

    def add(self, moment: datetime, hours: float) -> datetime:
        """The moment `hours` working hours after `moment`."""
        remaining = timedelta(hours=hours)
        current, end = self._open_span(moment.astimezone(self.tz))
        while current + remaining > end:
            remaining -= end - current
            current, end = self._open_span(end)
        return current + remaining

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Working time from start to end (zero if end is not after start)."""
        total = timedelta()
        current = start.astimezone(self.tz)
        end = end.astimezone(self.tz)
        while current < end:
            current, closes = self._open_span(current)
            if current >= end:
                break
            total += min(closes, end) - current
            current = closes
        return total

    def due(self, start: datetime, hours: float, pauses: list[tuple[datetime, datetime | None]] = ()) -> datetime | None:
        """When `hours` of working time since `start` run out, the clock stopped during each pause.
        None while a pause is still open (the ticket waits on the customer)."""
        due = self.add(start, hours)
        for paused_at, resumed_at in sorted(pauses, key=lambda p: p[0]):
            if paused_at >= due:
                break
            if resumed_at is None:
                return None
            due = self.add(due, self.between(max(paused_at, start), resumed_at).total_seconds() / 3600)
        return due


@dataclass(frozen=True)
class Target:
    response: float
    resolution: float


@dataclass(frozen=True)
class SlaRules:
    calendar: WorkCalendar
    targets: dict[tuple[str, str], Target]

    def target(self, kind: str, severity: str) -> Target:
        return self.targets[(kind, severity)]


def _clock(path: Path, key: str, value) -> time:
    try:
        return time.fromisoformat(value)
    except (TypeError, ValueError):
        raise RulesError(f"{path}: {key} must be a time like \"09:00\", not {value!r}", key=key, code="rl.time",
                         value=value) from None


def _span(path: Path, key: str, raw) -> tuple[time, time]:
    """{ start = "09:00", end = "18:00" } at `key`: opening before closing, on the same day."""
    if not isinstance(raw, dict):
        raise RulesError(f"{path}: {key} must be a table with start and end, like {{ start = \"09:00\", end = \"18:00\" }}",
                         key=f"{key}.start", code="rl.time", value=raw)
    opens, closes = _clock(path, f"{key}.start", raw.get("start")), _clock(path, f"{key}.end", raw.get("end"))
    if opens >= closes:
        raise RulesError(f"{path}: {key}.start must be before {key}.end", key=f"{key}.end", code="rl.above",
                         other=f"{key}.start", value=raw.get("end"), bound=raw.get("start"))
    return opens, closes


def roster_shifts(sheets: dict | None) -> list[str]:
    """The roster register's working shifts (its shift choices but the rest day), when the register exists."""
    sheet = (sheets or {}).get("roster")
    if sheet is None or "shift" not in sheet.by_name:
        return []
    return [c["value"] for c in sheet.by_name["shift"].choices if c["value"] != RosterDays.REST]


def load_rules(path: Path | None = None, tz: ZoneInfo | None = None, *, text: str | None = None,
               store=None, sheets: dict | None = None) -> SlaRules:
    """rules/sla.toml as SlaRules; RulesError names the file and the key at fault. text: these rules
    instead of the file's (a saved version, or a text checked before saving). store: the office's database;
    with it (or with the registers, sheets) the shifts are checked against the roster register's, and when
    [hours] follow_roster is on the calendar follows the roster (without a store, it keeps [hours])."""
    path = path or rule_files.file("sla")
    data = read_rules(path, text)
    hours = data.get("hours", {})
    opens, closes = _clock(path, "hours.start", hours.get("start", "09:00")), _clock(path, "hours.end", hours.get("end", "18:00"))
    if opens >= closes:
        raise RulesError(f"{path}: hours.start must be before hours.end", key="hours.end", code="rl.above",
                         other="hours.start", value=hours.get("end"), bound=hours.get("start"))
    follow = hours.get("follow_roster", False)
    if not isinstance(follow, bool):
        raise RulesError(f"{path}: hours.follow_roster must be true or false", key="hours.follow_roster", code="rl.bool")
    raw_shifts = data.get("shifts", {})
    if not isinstance(raw_shifts, dict):
        raise RulesError(f"{path}: shifts must be a table", key="shifts", code="rl.missing")
    shifts = {name: _span(path, f"shifts.{name}", raw) for name, raw in raw_shifts.items()}
    known = roster_shifts(sheets if sheets is not None else store.sheets if store is not None else None)
    if known and follow:                       # followed: exactly the roster's shifts (rest excepted) have hours
        for name in shifts:
            if name not in known:
                raise RulesError(f"{path}: shifts.{name} is not a shift of the roster ({', '.join(known)})",
                                 key=f"shifts.{name}", code="rl.unknown_key", known=", ".join(known))
        for name in known:
            if name not in shifts:
                raise RulesError(f"{path}: missing key shifts.{name} (the hours of a rostered shift)",
                                 key=f"shifts.{name}", code="rl.missing")
    targets = {}
    for kind in KINDS:
        for severity in SEVERITIES:
            key = f"targets.{kind}.{severity}"
            raw = data.get("targets", {}).get(kind, {}).get(severity)
            if not isinstance(raw, dict):
                raise RulesError(f"{path}: missing key {key} (a table with response and resolution hours)", key=key,
                                 code="rl.missing")
            values = {}
            for part in ("response", "resolution"):
                value = raw.get(part)
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                    raise RulesError(f"{path}: {key}.{part} must be a positive number of hours, not {value!r}",
                                     key=f"{key}.{part}", code="rl.positive", value=value)
                values[part] = float(value)
            if values["resolution"] < values["response"]:
                raise RulesError(f"{path}: {key}.resolution is shorter than its response time", key=f"{key}.resolution",
                                 code="rl.not_below", other=f"{key}.response", value=values["resolution"],
                                 bound=values["response"])
            targets[(kind, severity)] = Target(**values)
    _escalation(path, data.get("escalation", {}))
    soon = data.get("lists", {}).get("due_soon_hours", 4)
    if isinstance(soon, bool) or not isinstance(soon, (int, float)) or soon <= 0:
        raise RulesError(f"{path}: lists.due_soon_hours must be a positive number of hours, not {soon!r}",
                         key="lists.due_soon_hours", code="rl.positive", value=soon)
    roster = RosterDays(store.conn, shifts) if follow and store is not None and known else None
    return SlaRules(calendar=WorkCalendar(tz or config.load().tz, opens, closes, roster), targets=targets)


def _escalation(path: Path, raw) -> None:
    """[escalation]: the claim in yuan to the fen, 0 or more; group_complaint true or false; severities known."""
    if not isinstance(raw, dict):
        raise RulesError(f"{path}: escalation must be a table", key="escalation", code="rl.missing")
    claim = raw.get("claim_yuan", 10000)
    if isinstance(claim, bool) or not isinstance(claim, (int, float)):
        raise RulesError(f"{path}: escalation.claim_yuan must be a number, not {claim!r}", key="escalation.claim_yuan",
                         code="rl.number", value=claim)
    if claim < 0:
        raise RulesError(f"{path}: escalation.claim_yuan must be 0 or more, not {claim}", key="escalation.claim_yuan",
                         code="rl.negative", value=claim)
    if Decimal(str(claim)) != Decimal(str(claim)).quantize(Decimal("0.01")):
        raise RulesError(f"{path}: escalation.claim_yuan must be yuan with at most two decimals, not {claim}",
                         key="escalation.claim_yuan", code="rl.fen", value=claim)
    if not isinstance(raw.get("group_complaint", True), bool):
        raise RulesError(f"{path}: escalation.group_complaint must be true or false", key="escalation.group_complaint",
                         code="rl.bool")
    severity = raw.get("severity", ["major", "emergency"])
    if not isinstance(severity, list) or any(s not in SEVERITIES for s in severity):
        raise RulesError(f"{path}: escalation.severity must list severities ({', '.join(SEVERITIES)})",
                         key="escalation.severity", code="rl.one_of", choices=", ".join(SEVERITIES), value=severity)


def rules_on(store, day: date, tz: ZoneInfo | None = None) -> SlaRules:
    """The SLA rules in force on `day` (kefu/rules.py text_on): a ticket's due times come from the rules
    in force on the day it was received (and, where they follow it, from the roster as it stands)."""
    return load_rules(tz=tz or store.settings.tz, text=rule_files.text_on(store, "sla", day), store=store)
