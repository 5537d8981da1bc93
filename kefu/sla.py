"""Service-level targets counted in working hours on the office's working calendar.

A working day is what the chinese-calendar package says (public holidays off, make-up days 调休 on);
for a year it does not know yet, Monday to Friday. Working time runs between the office's opening and
closing hours. The clock stops while a ticket waits on the customer (pauses).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar

from kefu import config
from kefu.config import ROOT
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
        raise RulesError(f"{path}: {key} must be a time like \"09:00\", not {value!r}") from None


def load_rules(path: Path | None = None, tz: ZoneInfo | None = None) -> SlaRules:
    path = path or SLA_FILE
    data = read_rules(path)
    hours = data.get("hours", {})
    opens, closes = _clock(path, "hours.start", hours.get("start", "09:00")), _clock(path, "hours.end", hours.get("end", "18:00"))
    if opens >= closes:
        raise RulesError(f"{path}: hours.start must be before hours.end")
    targets = {}
    for kind in KINDS:
        for severity in SEVERITIES:
            key = f"targets.{kind}.{severity}"
            raw = data.get("targets", {}).get(kind, {}).get(severity)
            if not isinstance(raw, dict):
                raise RulesError(f"{path}: missing key {key} (a table with response and resolution hours)")
            values = {}
            for part in ("response", "resolution"):
                value = raw.get(part)
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                    raise RulesError(f"{path}: {key}.{part} must be a positive number of hours, not {value!r}")
                values[part] = float(value)
            if values["resolution"] < values["response"]:
                raise RulesError(f"{path}: {key}.resolution is shorter than its response time")
            targets[(kind, severity)] = Target(**values)
    return SlaRules(calendar=WorkCalendar(tz or config.load().tz, opens, closes), targets=targets)
