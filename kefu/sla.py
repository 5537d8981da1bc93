"""Service-level targets counted in working hours on the office's working calendar.

A working day is what the chinese-calendar package says (public holidays off, make-up days 调休 on);
for a year it does not know yet, Monday to Friday. Working time runs between the office's opening and
closing hours. The clock stops while a ticket waits on the customer (pauses).
"""
from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class WorkCalendar:
    tz: ZoneInfo
    opens: time = time(9, 0)
    closes: time = time(18, 0)

    def _window(self, day: date) -> tuple[datetime, datetime]:
        return datetime.combine(day, self.opens, self.tz), datetime.combine(day, self.closes, self.tz)

    def _next_open(self, moment: datetime) -> datetime:
        """The moment itself if the office is open then, else the next opening."""
        day = moment.date()
        while True:
            start, end = self._window(day)
            if is_working_day(day) and moment < end:
                return max(moment, start)
            day += timedelta(days=1)
            moment = datetime.combine(day, time(0), self.tz)

    def add(self, moment: datetime, hours: float) -> datetime:
        """The moment `hours` working hours after `moment`."""
        remaining = timedelta(hours=hours)
        current = self._next_open(moment.astimezone(self.tz))
        while True:
            _, end = self._window(current.date())
            if current + remaining <= end:
                return current + remaining
            remaining -= end - current
            current = self._next_open(end + timedelta(seconds=1))

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Working time from start to end (zero if end is not after start)."""
        total = timedelta()
        current = start.astimezone(self.tz)
        end = end.astimezone(self.tz)
        while current < end:
            current = self._next_open(current)
            if current >= end:
                break
            _, closes = self._window(current.date())
            total += min(closes, end) - current
            current = closes + timedelta(seconds=1)
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


def load_rules(path: Path | None = None, tz: ZoneInfo | None = None, *, text: str | None = None) -> SlaRules:
    """rules/sla.toml as SlaRules; RulesError names the file and the key at fault. text: these rules
    instead of the file's (a saved version, or a text checked before saving)."""
    path = path or rule_files.file("sla")
    data = read_rules(path, text)
    hours = data.get("hours", {})
    opens, closes = _clock(path, "hours.start", hours.get("start", "09:00")), _clock(path, "hours.end", hours.get("end", "18:00"))
    if opens >= closes:
        raise RulesError(f"{path}: hours.start must be before hours.end", key="hours.end", code="rl.above",
                         other="hours.start", value=hours.get("end"), bound=hours.get("start"))
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
    return SlaRules(calendar=WorkCalendar(tz or config.load().tz, opens, closes), targets=targets)


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
    in force on the day it was received."""
    return load_rules(tz=tz or store.settings.tz, text=rule_files.text_on(store, "sla", day))
