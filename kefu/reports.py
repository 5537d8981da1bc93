"""Reports: the weekly and monthly complaint report and inquiry report, the monthly business-change
report, the customer traffic report (客户流量分析: contacts and visits by hour, day and channel) and the
engineer-service report (工程师实施服务报表: transfers to after-sales engineers and coordination requests), for a
week, a month, a quarter, a year (001: 每周、每月、每季度、每年提交服务分析报表) or any dates, as figures
for the screen and as a CSV.

A ticket report covers the tickets *received* in the period (created_at from the first day 00:00 to the
last day 23:59:59, office time), not deleted, of the report's kinds, as they stand when the report is
made. Every figure comes from one SELECT of the period's rows, narrow columns only; counting and the
working-hour arithmetic happen in one pass here (see WorkingClock), because response and resolution
times are in working hours, which SQL cannot count.

Definitions (what a manager reads on the screen and in the CSV):
- responded / resolved / closed: responded_at, resolved_at, closed_at set. Resolution is the step that
  submits the resolution for approval, or answers the customer where no approval is needed (the step into
  one of rules/workflow.toml's `resolved` states); a ticket sent back or reopened is not resolved until then again.
- response / resolution hours: working hours (rules/sla.toml [hours], on the official calendar of public
  holidays and make-up working days) from created_at to responded_at / resolved_at. Time spent waiting on
  the customer is included here; the due times below already allow for it.
- overdue: resolved after its resolution_due, or not resolved yet, its clock running (not waiting on the
  customer) and its resolution_due already passed when the report is made. `response_late` is the same
  rule for responded_at against response_due.
- on-time rate: of the resolved tickets with a due time, the share resolved by resolution_due.
- satisfaction: the 1-5 score of the follow-up call; satisfied = 4 or 5.

Speed: the SELECT is bounded by created_at, indexed by schema/tickets.toml's `indexes`, so a month's
report reads that month's rows only.

Only kefu/ui and views draw: this module returns dataclasses and bytes.
"""
from __future__ import annotations

import csv
import io
import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from kefu import auth
from kefu.exporting import neutralise
from kefu.i18n import t
from kefu.sheets import Sheet
from kefu.sla import WorkCalendar, load_rules
from kefu.store import Store, quote_ident
from kefu.workflow import Workflow, load_workflow

VIEW = "reports"
TICKETS, CHANGES = "tickets", "business_changes"
TICKET_REPORTS = {"complaint": ("complaint",), "inquiry": ("inquiry",)}
VISITORS = "visitors"
REPORTS = ("complaint", "inquiry", "business_change", "traffic", "engineer")
PRESETS = ("this_week", "last_week", "this_month", "last_month", "this_quarter", "last_quarter", "this_year",
           "last_year")
TOP_CATEGORIES = 5
DAILY_TREND_MAX_DAYS = 62             # a longer period is charted week by week
WEEKLY_TREND_MAX_DAYS = 190           # and a longer one still (a year) month by month
RATINGS = (1, 2, 3, 4, 5)
SATISFIED = 4                         # a score of 4 or 5 counts as satisfied


# ---------------------------------------------------------------------------------------------- periods

def period(kind: str, day: date, last: date | None = None) -> tuple[date, date]:
    """(first day, the day after the last): the week (Monday to Sunday), the calendar month, quarter or
    year holding `day`, or for "custom" the days from `day` to `last` inclusive (in either order)."""
    if kind == "week":
        monday = day - timedelta(days=day.weekday())
        return monday, monday + timedelta(days=7)
    if kind == "month":
        first = day.replace(day=1)
        return first, _next_month(first)
    if kind == "quarter":
        first = date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
        return first, _next_month(_next_month(_next_month(first)))
    if kind == "year":
        return date(day.year, 1, 1), date(day.year + 1, 1, 1)
    if kind == "custom":
        last = day if last is None else last
        low, high = min(day, last), max(day, last)
        return low, high + timedelta(days=1)
    raise ValueError(f"unknown period {kind!r}")


def _next_month(first: date) -> date:
    return (first + timedelta(days=32)).replace(day=1)


def preset(name: str, today: date) -> tuple[date, date]:
    """This or last week, month, quarter or year, counted from today (office date)."""
    which, _, unit = name.partition("_")
    if which not in ("this", "last") or unit not in ("week", "month", "quarter", "year"):
        raise ValueError(f"unknown period {name!r}")
    start, end = period(unit, today)
    return period(unit, start - timedelta(days=1)) if which == "last" else (start, end)


def previous(start: date, end: date) -> tuple[date, date]:
    """The period before: the calendar month, quarter or year before one of those, else as many days."""
    for unit in ("month", "quarter", "year"):
        if period(unit, start) == (start, end):
            return period(unit, start - timedelta(days=1))
    return start - (end - start), start


def today(store: Store) -> date:
    return datetime.now(store.settings.tz).date()


# ---------------------------------------------------------------------------------------------- working time

class WorkingClock:
    """Working time between two moments, exactly as WorkCalendar.between counts it, in constant time per
    pair: each calendar day's working hours are asked of the calendar (the slow holiday calendar, or the
    roster where the clock follows it) once, and a moment's position is its day's working seconds since an
    anchor day plus its own share of that day. A stored time in the office's offset
    ('2026-11-20T17:00:00+08:00', as the store writes them) is read without parsing.
    A month's report measures tens of thousands of tickets."""

    def __init__(self, calendar: WorkCalendar):
        self.tz = calendar.tz
        self.calendar = calendar
        self._before: dict[date, int] = {}   # working seconds from the anchor day's start to a day's start
        self._working: dict[date, tuple] = {}  # a day's working hours: ((from, to) in seconds of the day, ...)
        self._days: dict[str, tuple] = {}     # 'YYYY-MM-DD' -> (start position, working hours, office offset)
        self._low = self._high = None

    def _is_working(self, day: date) -> tuple:
        working = self._working.get(day)
        if working is None:
            working = self._working[day] = tuple((_seconds(a), _seconds(b)) for a, b in self.calendar.windows(day))
        return working

    def _day_length(self, day: date) -> int:
        return sum(b - a for a, b in self._is_working(day))

    def _start_of(self, day: date) -> int:
        known = self._before
        if not known:
            known[day], self._low, self._high = 0, day, day
        while day > self._high:
            known[self._high + timedelta(days=1)] = known[self._high] + self._day_length(self._high)
            self._high += timedelta(days=1)
        while day < self._low:
            self._low -= timedelta(days=1)
            known[self._low] = known[self._low + timedelta(days=1)] - self._day_length(self._low)
        return known[day]

    @staticmethod
    def _share(windows: tuple, clock: int) -> int:
        return sum(min(max(clock, a), b) - a for a, b in windows)

    def _position_of(self, moment: datetime) -> int:
        local = moment.astimezone(self.tz)
        day = local.date()
        position = self._start_of(day)
        windows = self._is_working(day)
        if windows:
            position += self._share(windows, local.hour * 3600 + local.minute * 60 + local.second)
        return position

    def position(self, moment: str | datetime) -> int:
        """Working seconds from the anchor to this moment (a datetime or a stored ISO text)."""
        if not isinstance(moment, str):
            return self._position_of(moment)
        entry = self._days.get(moment[:10])
        if entry is None:
            day = date.fromisoformat(moment[:10])
            offset = datetime.combine(day, time(12), self.tz).strftime("%z")
            entry = self._days[moment[:10]] = (self._start_of(day), self._is_working(day), f"{offset[:3]}:{offset[3:]}")
        if len(moment) != 25 or moment[19:] != entry[2]:        # another offset, or fractions of a second
            return self._position_of(datetime.fromisoformat(moment))
        if not entry[1]:
            return entry[0]
        return entry[0] + self._share(entry[1], int(moment[11:13]) * 3600 + int(moment[14:16]) * 60 + int(moment[17:19]))

    def hours(self, start: str | datetime, end: str | datetime) -> float:
        """Working hours from start to end; zero if end is not after start."""
        return max(0, self.position(end) - self.position(start)) / 3600


def later(a: str, b: str) -> bool:
    """Is stored time a after stored time b? Text compares as time when both carry the same offset."""
    if len(a) == len(b) == 25 and a[19:] == b[19:]:
        return a > b
    return datetime.fromisoformat(a) > datetime.fromisoformat(b)


def _seconds(clock: time) -> int:
    return clock.hour * 3600 + clock.minute * 60 + clock.second


# ---------------------------------------------------------------------------------------------- results

@dataclass(frozen=True)
class Hours:
    """Working hours over a set of tickets."""
    count: int
    mean: float | None
    median: float | None

    @classmethod
    def of(cls, values: list[float]) -> "Hours":
        if not values:
            return cls(0, None, None)
        return cls(len(values), statistics.fmean(values), statistics.median(values))


@dataclass
class TicketReport:
    """The figures of a complaint or inquiry report. Counts are keyed by stored values (the choice's
    `value`), in the order the sheet declares them; labels come from the sheet at display time."""
    name: str                             # "complaint" or "inquiry"
    kinds: tuple[str, ...]
    start: date
    end: date                             # the day after the last day
    as_of: datetime
    sheet: Sheet = field(repr=False)
    flow: Workflow = field(repr=False)
    total: int = 0
    by_kind: dict = field(default_factory=dict)
    by_channel: dict = field(default_factory=dict)
    by_category: dict = field(default_factory=dict)
    by_severity: dict = field(default_factory=dict)
    by_state: dict = field(default_factory=dict)
    escalated: int = 0
    group_complaints: int = 0
    open: int = 0
    responded: int = 0
    resolved: int = 0
    closed: int = 0
    overdue: int = 0                      # resolved late, or open with its resolution due passed
    overdue_open: int = 0                 # of those, still open
    response_late: int = 0
    resolved_on_time: int = 0
    resolved_with_due: int = 0
    response_hours: Hours = Hours(0, None, None)
    resolution_hours: Hours = Hours(0, None, None)
    satisfaction: dict = field(default_factory=lambda: dict.fromkeys(RATINGS, 0))
    trend_unit: str = "day"               # "day" or "week" (periods over DAILY_TREND_MAX_DAYS)
    trend: list = field(default_factory=list)   # [(first day of the bucket, tickets received)]

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def on_time_rate(self) -> float | None:
        return self.resolved_on_time / self.resolved_with_due if self.resolved_with_due else None

    @property
    def followed_up(self) -> int:
        return sum(self.satisfaction.values())

    @property
    def satisfaction_mean(self) -> float | None:
        count = self.followed_up
        return sum(score * n for score, n in self.satisfaction.items()) / count if count else None

    @property
    def satisfied_rate(self) -> float | None:
        count = self.followed_up
        return sum(n for score, n in self.satisfaction.items() if score >= SATISFIED) / count if count else None

    def top_categories(self, limit: int = TOP_CATEGORIES) -> list[tuple[str, int]]:
        """The most frequent categories, most first (ties in the sheet's order), without empty ones."""
        ranked = sorted(((v, n) for v, n in self.by_category.items() if n), key=lambda p: -p[1])
        return ranked[:limit]

    def label(self, field_name: str, value, lang: str) -> str:
        if value is None:
            return t("common.none", lang)
        if field_name == "state":
            return self.flow.state_label(value, lang)
        return self.sheet.by_name[field_name].choice_label(value, lang)


@dataclass
class ChangeReport:
    """The business-change report: changes requested in the period, as they stand when it is made."""
    start: date
    end: date
    as_of: datetime
    sheet: Sheet = field(repr=False)
    name: str = "business_change"
    total: int = 0
    by_kind: dict = field(default_factory=dict)
    done: int = 0
    pending: int = 0
    checked_with_customer: int = 0
    customer_notified: int = 0
    done_not_notified: int = 0
    hours_to_done: Hours = Hours(0, None, None)          # working hours, requested_at -> done_at
    by_staff: list = field(default_factory=list)          # [(name, changes)], most first
    trend_unit: str = "day"
    trend: list = field(default_factory=list)

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    def label(self, field_name: str, value, lang: str) -> str:
        if value is None:
            return t("common.none", lang)
        return self.sheet.by_name[field_name].choice_label(value, lang)


# ---------------------------------------------------------------------------------------------- building

def require(actor, sheet: Sheet) -> None:
    """Reports are a screen (auth.VIEW_ROLES) over a sheet: the role needs both. The system actor
    (command line, benchmarks) may."""
    if actor is None or actor.role != "system":
        auth.require_view(actor, VIEW)
    auth.require(actor, sheet, "read")


def _bounds(start: date, end: date) -> tuple[str, str]:
    # Stored times are local ISO text ('2026-11-30T23:59:59+08:00'): comparing with bare dates keeps
    # every moment of the last day and none of the next, whatever the offset.
    return start.isoformat(), end.isoformat()


def ordered_counts(field_obj, counted: dict) -> dict:
    """Counts in the sheet's choice order, with zero for a choice not seen and any unknown value last."""
    ordered = {c["value"]: counted.get(c["value"], 0) for c in field_obj.choices}
    ordered.update({k: v for k, v in counted.items() if k not in ordered})
    return ordered


def trend_unit(start: date, end: date) -> str:
    """How a period is charted: day by day up to two months, week by week (Monday first) up to half a
    year, else month by month."""
    span = (end - start).days
    return "day" if span <= DAILY_TREND_MAX_DAYS else "week" if span <= WEEKLY_TREND_MAX_DAYS else "month"


def bucket_of(day: date, unit: str) -> date:
    """The first day of the day's bucket."""
    return day if unit == "day" else day - timedelta(days=day.weekday()) if unit == "week" else day.replace(day=1)


def bucket_starts(start: date, end: date, unit: str) -> list[date]:
    """The first day of every bucket the period touches, in order (the first may begin before start)."""
    starts, day = [], bucket_of(start, unit)
    while day < end:
        starts.append(day)
        day = day + timedelta(days=1 if unit == "day" else 7) if unit != "month" else _next_month(day)
    return starts


def _trend(days: dict, start: date, end: date) -> tuple[str, list]:
    """Received per day (per week, Monday first, or per month for a long period), empty buckets included."""
    unit = trend_unit(start, end)
    counts = dict.fromkeys(bucket_starts(start, end, unit), 0)
    for day, n in days.items():
        counts[bucket_of(date.fromisoformat(day), unit)] += n
    return unit, sorted(counts.items())


TICKET_COLUMNS = ("kind", "channel", "category", "severity", "state", "escalated", "group_complaint",
                  "created_at", "response_due", "responded_at", "resolution_due", "resolved_at", "closed_at",
                  "satisfaction")


def ticket_report(store: Store, actor, start: date, end: date, *, name: str = "complaint",
                  kinds: tuple[str, ...] | None = None, now: datetime | None = None,
                  flow: Workflow | None = None, clock: WorkingClock | None = None) -> TicketReport:
    """The complaint (name="complaint") or inquiry report over the tickets received from start to the
    day before end. kinds overrides which ticket kinds it covers. See the module's definitions."""
    sheet = store.sheet(TICKETS)
    require(actor, sheet)
    kinds = tuple(kinds or TICKET_REPORTS[name])
    flow = flow or load_workflow()
    clock = clock or WorkingClock(load_rules(tz=store.settings.tz, store=store).calendar)
    now = (now or datetime.now(store.settings.tz)).replace(microsecond=0)
    report = TicketReport(name=name, kinds=kinds, start=start, end=end, as_of=now, sheet=sheet, flow=flow)
    low, high = _bounds(start, end)
    # The (kind, created_at) index reads only the period's tickets of these kinds.
    cursor = store.conn.execute(
        f"SELECT {', '.join(quote_ident(c) for c in TICKET_COLUMNS)} FROM tickets "
        f"WHERE kind IN ({', '.join('?' for _ in kinds)}) AND created_at >= ? AND created_at < ? "
        f"AND +deleted_at IS NULL", (*kinds, low, high))
    counts = {column: {} for column in ("kind", "channel", "category", "severity", "state")}
    days: dict[str, int] = {}
    response, resolution = [], []
    stamp = now.isoformat()
    for row in cursor:
        values = dict(zip(TICKET_COLUMNS, row))
        report.total += 1
        for column, counted in counts.items():
            counted[values[column]] = counted.get(values[column], 0) + 1
        day = values["created_at"][:10]
        days[day] = days.get(day, 0) + 1
        report.escalated += bool(values["escalated"])
        report.group_complaints += bool(values["group_complaint"])
        report.open += values["state"] in flow.open_states
        report.closed += bool(values["closed_at"])
        if values["satisfaction"] in report.satisfaction:
            report.satisfaction[values["satisfaction"]] += 1
        _times(report, values, flow, clock, stamp, response, resolution)
    for column, counted in counts.items():
        setattr(report, f"by_{column}", ordered_counts(sheet.by_name[column], counted))
    report.by_kind = {kind: n for kind, n in report.by_kind.items() if kind in kinds}
    report.response_hours, report.resolution_hours = Hours.of(response), Hours.of(resolution)
    report.trend_unit, report.trend = _trend(days, start, end)
    return report


def _times(report: TicketReport, values: dict, flow: Workflow, clock: WorkingClock, now: str,
           response: list, resolution: list) -> None:
    """One ticket's response and resolution: hours taken, and whether it was late (see the module)."""
    created, responded, resolved = values["created_at"], values["responded_at"], values["resolved_at"]
    response_due, resolution_due = values["response_due"], values["resolution_due"]
    running = values["state"] not in flow.paused_states
    if responded:
        report.responded += 1
        response.append(clock.hours(created, responded))
    if response_due and (later(responded, response_due) if responded else running and later(now, response_due)):
        report.response_late += 1
    if resolved:
        report.resolved += 1
        resolution.append(clock.hours(created, resolved))
        if resolution_due:
            report.resolved_with_due += 1
            if later(resolved, resolution_due):
                report.overdue += 1
            else:
                report.resolved_on_time += 1
    elif resolution_due and running and later(now, resolution_due):
        report.overdue += 1
        report.overdue_open += 1


CHANGE_COLUMNS = ("kind", "requested_at", "checked_with_customer", "done_at", "customer_notified_at", "staff")


def business_change_report(store: Store, actor, start: date, end: date, *, now: datetime | None = None,
                           clock: WorkingClock | None = None) -> ChangeReport:
    """The business changes requested from start to the day before end: by kind, done or pending, checked
    with the customer, customer told, working hours from request to done. Counted over all of them, whoever
    keeps the archive: the report names no customer and shows nothing of an archive (kind, times and the
    staff who handled it only), so the department's monthly report is whole although its manager reads
    only the archives the general manager granted (000: 未经公司总经理授权，任何人不得查阅)."""
    sheet = store.sheet(CHANGES)
    require(actor, sheet)
    clock = clock or WorkingClock(load_rules(tz=store.settings.tz, store=store).calendar)
    now = (now or datetime.now(store.settings.tz)).replace(microsecond=0)
    report = ChangeReport(start=start, end=end, as_of=now, sheet=sheet)
    low, high = _bounds(start, end)
    cursor = store.conn.execute(
        f"SELECT {', '.join(quote_ident(c) for c in CHANGE_COLUMNS)} FROM business_changes "
        f"WHERE requested_at >= ? AND requested_at < ? AND +deleted_at IS NULL", (low, high))
    kinds, staff, days, hours = {}, {}, {}, []
    for row in cursor:
        values = dict(zip(CHANGE_COLUMNS, row))
        report.total += 1
        kinds[values["kind"]] = kinds.get(values["kind"], 0) + 1
        staff[values["staff"]] = staff.get(values["staff"], 0) + 1
        day = values["requested_at"][:10]
        days[day] = days.get(day, 0) + 1
        report.checked_with_customer += bool(values["checked_with_customer"])
        report.customer_notified += bool(values["customer_notified_at"])
        if values["done_at"]:
            report.done += 1
            report.done_not_notified += not values["customer_notified_at"]
            hours.append(clock.hours(values["requested_at"], values["done_at"]))
        else:
            report.pending += 1
    report.by_kind = ordered_counts(sheet.by_name["kind"], kinds)
    names = store.user_names()
    report.by_staff = sorted(((names.get(k, f"#{k}"), n) for k, n in staff.items()), key=lambda p: (-p[1], p[0]))
    report.hours_to_done = Hours.of(hours)
    report.trend_unit, report.trend = _trend(days, start, end)
    return report


# ---------------------------------------------------------------------------------------------- traffic

VISITS = "visits"                     # the visitor book's series beside the ticket channels


@dataclass
class TrafficReport:
    """Customer traffic (客户流量, 001 客户流量监测): the contacts received (tickets, by channel: 400 hotline,
    visit, web, letter, e-mail) and the visits (arrivals in the visitor book) of a period, by hour of the
    day, by weekday and by day (week or month for a long period). Each series is keyed by the channel's
    stored value, or VISITS; `previous_*` are the same totals for the period before (previous())."""
    start: date
    end: date
    as_of: datetime
    sheet: Sheet = field(repr=False)
    name: str = "traffic"
    contacts: int = 0
    visits: int | None = 0                # None: the role may not read the visitor book
    by_channel: dict = field(default_factory=dict)
    by_hour: dict = field(default_factory=dict)        # series -> [24 counts]
    by_weekday: dict = field(default_factory=dict)     # series -> [7 counts], Monday first
    by_weekday_hour: dict = field(default_factory=dict)   # (weekday, hour) -> contacts
    trend_unit: str = "day"
    trend: list = field(default_factory=list)          # [(first day of the bucket, {series: count})]
    previous_start: date | None = None
    previous_end: date | None = None
    previous_contacts: int = 0
    previous_visits: int | None = 0

    @property
    def total(self) -> int:
        return self.contacts + (self.visits or 0)

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def series(self) -> list[str]:
        return [*self.by_channel, *([VISITS] if self.visits is not None else [])]

    def busiest_hour(self, series: str | None = None) -> int | None:
        """The hour with the most contacts (of one series), the earliest of a tie; None without any."""
        counts = self.hours_of(series)
        return counts.index(max(counts)) if any(counts) else None

    def hours_of(self, series: str | None = None) -> list[int]:
        """Per hour: one series, or every contact of every channel (None)."""
        if series is not None:
            return self.by_hour[series]
        return [sum(self.by_hour[c][h] for c in self.by_channel) for h in range(24)]

    def weekdays_of(self, series: str | None = None) -> list[int]:
        if series is not None:
            return self.by_weekday[series]
        return [sum(self.by_weekday[c][d] for c in self.by_channel) for d in range(7)]

    def busiest_weekday(self) -> int | None:
        counts = self.weekdays_of()
        return counts.index(max(counts)) if any(counts) else None

    def change(self, now: int | None, before: int | None) -> float | None:
        """Change against the period before, as a share (0.25 = 25% more); None when there was nothing."""
        return None if now is None or not before else (now - before) / before

    def label(self, series: str, lang: str) -> str:
        if series == VISITS:
            return t("rp.visits_series", lang)
        return self.sheet.by_name["channel"].choice_label(series, lang)


def traffic_report(store: Store, actor, start: date, end: date, *, now: datetime | None = None) -> TrafficReport:
    """The contacts and visits from start to the day before end. The hour is the office's clock hour as
    stored (local ISO text); a visit counts from its arrival (an expected visitor who has not come is not
    traffic). Two grouped SELECTs read the period (tickets by channel, day and hour over the created_at
    index; visits by day and hour over arrived_at), two counts the period before."""
    sheet = store.sheet(TICKETS)
    require(actor, sheet)
    visitors = store.sheets.get(VISITORS)
    reads_visits = visitors is not None and (actor.role == "system" or auth.can(actor, visitors, "read"))
    now = (now or datetime.now(store.settings.tz)).replace(microsecond=0)
    before = previous(start, end)
    report = TrafficReport(start=start, end=end, as_of=now, sheet=sheet, previous_start=before[0],
                           previous_end=before[1])
    channels = {c["value"]: 0 for c in sheet.by_name["channel"].choices}
    cube: dict[tuple[str, str, int], int] = {}
    for channel, day, hour, n in store.conn.execute(
            "SELECT channel, substr(created_at, 1, 10), CAST(substr(created_at, 12, 2) AS INTEGER), count(*) "
            "FROM tickets WHERE created_at >= ? AND created_at < ? AND +deleted_at IS NULL GROUP BY 1, 2, 3",
            _bounds(start, end)):
        channels.setdefault(channel, 0)
        cube[(channel, day, hour)] = n
    if reads_visits:
        for day, hour, n in store.conn.execute(
                "SELECT substr(arrived_at, 1, 10), CAST(substr(arrived_at, 12, 2) AS INTEGER), count(*) "
                "FROM visitors WHERE arrived_at >= ? AND arrived_at < ? AND +deleted_at IS NULL GROUP BY 1, 2",
                _bounds(start, end)):
            cube[(VISITS, day, hour)] = n
    else:
        report.visits = report.previous_visits = None
    series = [*channels, *([VISITS] if reads_visits else [])]
    report.by_hour = {s: [0] * 24 for s in series}
    report.by_weekday = {s: [0] * 7 for s in series}
    report.trend_unit = trend_unit(start, end)
    buckets = {first: dict.fromkeys(series, 0) for first in bucket_starts(start, end, report.trend_unit)}
    for (name, day, hour), n in cube.items():
        moment = date.fromisoformat(day)
        report.by_hour[name][hour % 24] += n
        report.by_weekday[name][moment.weekday()] += n
        buckets[bucket_of(moment, report.trend_unit)][name] += n
        if name == VISITS:
            report.visits += n
        else:
            channels[name] += n
            report.contacts += n
            key = (moment.weekday(), hour % 24)
            report.by_weekday_hour[key] = report.by_weekday_hour.get(key, 0) + n
    report.by_channel = ordered_counts(sheet.by_name["channel"], channels)
    report.trend = sorted(buckets.items())
    low, high = _bounds(*before)
    report.previous_contacts = store.conn.execute(
        "SELECT count(*) FROM tickets WHERE created_at >= ? AND created_at < ? AND +deleted_at IS NULL",
        (low, high)).fetchone()[0]
    if reads_visits:
        report.previous_visits = store.conn.execute(
            "SELECT count(*) FROM visitors WHERE arrived_at >= ? AND arrived_at < ? AND +deleted_at IS NULL",
            (low, high)).fetchone()[0]
    return report


# ---------------------------------------------------------------------------------------------- engineers

@dataclass
class EngineerLine:
    """One engineer's figures in the engineer-service report."""
    engineer: int
    name: str
    transferred: int = 0
    resolved: int = 0
    open: int = 0
    hours: list = field(default_factory=list, repr=False)      # working hours from transfer to resolution

    @property
    def resolution_mean(self) -> float | None:
        return statistics.fmean(self.hours) if self.hours else None


@dataclass
class EngineerReport:
    """The engineer-service report (工程师实施服务报表, 001: 如未能解决，转给售后工程师; 000: 报请公司生产处协同处理)
    of a period, per engineer: the tickets transferred to them in the period (a transfer step dated in it, one
    ticket once per engineer); of those, resolved (still theirs and resolved after the transfer) and open (still
    theirs, not resolved); the mean working hours from the transfer to the resolution. And the coordination
    requests sent to each department in the period, with how many have been answered."""
    start: date
    end: date
    as_of: datetime
    flow: Workflow = field(repr=False)
    name: str = "engineer"
    engineers: list = field(default_factory=list)           # [EngineerLine], by name
    coordination: dict = field(default_factory=dict)        # department -> requests in the period
    answered: dict = field(default_factory=dict)            # department -> of those, answered
    trend_unit: str = "day"
    trend: list = field(default_factory=list)               # [(first day of the bucket, transfers)]

    @property
    def transferred(self) -> int:
        return sum(line.transferred for line in self.engineers)

    @property
    def resolved(self) -> int:
        return sum(line.resolved for line in self.engineers)

    @property
    def open(self) -> int:
        return sum(line.open for line in self.engineers)

    @property
    def resolution_mean(self) -> float | None:
        hours = [h for line in self.engineers for h in line.hours]
        return statistics.fmean(hours) if hours else None

    @property
    def requests(self) -> int:
        return sum(self.coordination.values())

    @property
    def total(self) -> int:
        return self.transferred + self.requests

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    def department(self, value: str, lang: str) -> str:
        return self.flow.department_label(value, lang)


def engineer_report(store: Store, actor, start: date, end: date, *, now: datetime | None = None,
                    flow: Workflow | None = None) -> EngineerReport:
    """Two SELECTs over the period's ticket steps (transfers with their tickets; coordination requests and
    the answers to them); every active engineer is listed, with zeros when nothing came to them."""
    sheet = store.sheet(TICKETS)
    require(actor, sheet)
    flow = flow or load_workflow()
    now = (now or datetime.now(store.settings.tz)).replace(microsecond=0)
    report = EngineerReport(start=start, end=end, as_of=now, flow=flow)
    names = store.user_names()
    lines = {uid: EngineerLine(uid, name) for uid, name in store.conn.execute(
        "SELECT id, display_name FROM kefu_users WHERE role = 'engineer' AND active = 1")}
    clock = WorkingClock(load_rules(tz=store.settings.tz, store=store).calendar)
    seen, days = set(), {}
    for engineer, ticket_id, moved_at, current, state, resolved_at in store.conn.execute(
            "SELECT e.engineer, e.ticket, e.created_at, t.engineer, t.state, t.resolved_at FROM ticket_events e "
            "JOIN tickets t ON t.id = e.ticket AND t.deleted_at IS NULL WHERE e.step = 'transfer' "
            "AND e.created_at >= ? AND e.created_at < ? AND e.deleted_at IS NULL AND e.engineer IS NOT NULL "
            "ORDER BY e.id", _bounds(start, end)):
        if (engineer, ticket_id) in seen:
            continue
        seen.add((engineer, ticket_id))
        days[moved_at[:10]] = days.get(moved_at[:10], 0) + 1
        line = lines.setdefault(engineer, EngineerLine(engineer, names.get(engineer, f"#{engineer}")))
        line.transferred += 1
        if current != engineer:
            continue                                  # transferred on to another engineer since
        if resolved_at and resolved_at >= moved_at:
            line.resolved += 1
            line.hours.append(clock.hours(moved_at, resolved_at))
        elif state in flow.open_states:
            line.open += 1
    report.engineers = sorted(lines.values(), key=lambda line: line.name)
    report.trend_unit, report.trend = _trend(days, start, end)
    report.coordination = {d["value"]: 0 for d in flow.departments}
    report.answered = {d["value"]: 0 for d in flow.departments}
    waiting: dict[tuple[int, str], list[bool]] = {}       # (ticket, department) -> the period's requests, oldest first
    for step_name, ticket_id, department, at in store.conn.execute(
            "SELECT step, ticket, department, created_at FROM ticket_events WHERE step IN ('coordinate', "
            "'coordination_answer') AND ticket IN (SELECT ticket FROM ticket_events WHERE step = 'coordinate' "
            "AND created_at >= ? AND created_at < ? AND deleted_at IS NULL) AND deleted_at IS NULL ORDER BY id",
            _bounds(start, end)):
        asked = waiting.setdefault((ticket_id, department), [])
        if step_name == "coordinate":
            in_period = start.isoformat() <= at < end.isoformat()
            asked.append([in_period, False])
            if in_period:
                report.coordination[department] = report.coordination.get(department, 0) + 1
                report.answered.setdefault(department, 0)
        else:
            pending = next((a for a in asked if not a[1]), None)
            if pending is not None:
                pending[1] = True
                if pending[0]:
                    report.answered[department] += 1
    return report


def build(store: Store, actor, name: str, start: date, end: date, **options):
    """The report called `name` (REPORTS) for the period."""
    if name == "business_change":
        return business_change_report(store, actor, start, end, **options)
    if name == "traffic":
        return traffic_report(store, actor, start, end, **options)
    if name == "engineer":
        return engineer_report(store, actor, start, end, **options)
    if name in TICKET_REPORTS:
        return ticket_report(store, actor, start, end, name=name, **options)
    raise ValueError(f"unknown report {name!r}")


# ---------------------------------------------------------------------------------------------- rows and CSV

def _hours(value: float | None):
    return None if value is None else round(value, 1)


hours_shown = _hours                  # hours as a screen shows them (one decimal)


def _percent(value: float | None):
    return None if value is None else round(value * 100, 1)


def _by(report, field_name: str, lang: str) -> str:
    return t("rp.by", lang, what=report.sheet.by_name[field_name].label_in(lang))


def title(report, lang: str) -> str:
    return t(f"rp.report_{report.name}", lang)


def period_text(report, lang: str) -> str:
    return t("rp.period_text", lang, start=report.start.isoformat(), last=report.last_day.isoformat())


def hour_text(hour: int | None) -> str | None:
    return None if hour is None else f"{hour:02d}:00-{hour + 1:02d}:00"


def summary(report, lang: str) -> list[tuple[str, object]]:
    """The headline figures, (label, value): hours to one decimal, rates in percent, None when empty."""
    if isinstance(report, TrafficReport):
        weekday = report.busiest_weekday()
        out = [
            (t("rp.contacts", lang), report.contacts),
            (t("rp.contacts_per_day", lang), round(report.contacts / report.days, 1)),
            (t("rp.busiest_hour", lang), hour_text(report.busiest_hour())),
            (t("rp.busiest_weekday", lang), None if weekday is None else t(f"day.{weekday}", lang)),
            (t("rp.previous_period", lang), t("rp.period_text", lang, start=report.previous_start.isoformat(),
                                               last=(report.previous_end - timedelta(days=1)).isoformat())),
            (t("rp.previous_contacts", lang), report.previous_contacts),
            (t("rp.contacts_change", lang), _percent(report.change(report.contacts, report.previous_contacts))),
        ]
        if report.visits is not None:
            out[2:2] = [(t("rp.visits", lang), report.visits),
                        (t("rp.visits_per_day", lang), round(report.visits / report.days, 1)),
                        (t("rp.busiest_visit_hour", lang), hour_text(report.busiest_hour(VISITS)))]
            out += [(t("rp.previous_visits", lang), report.previous_visits),
                    (t("rp.visits_change", lang), _percent(report.change(report.visits, report.previous_visits)))]
        return out
    if isinstance(report, EngineerReport):
        return [
            (t("rp.transferred", lang), report.transferred),
            (t("rp.engineer_resolved", lang), report.resolved),
            (t("rp.engineer_open", lang), report.open),
            (t("rp.engineer_hours_mean", lang), _hours(report.resolution_mean)),
            (t("rp.coordination_requests", lang), report.requests),
            (t("rp.coordination_answered", lang), sum(report.answered.values())),
        ]
    if isinstance(report, ChangeReport):
        return [
            (t("rp.changes_total", lang), report.total),
            (t("rp.done", lang), report.done),
            (t("rp.pending", lang), report.pending),
            (t("rp.checked", lang), report.checked_with_customer),
            (t("rp.notified", lang), report.customer_notified),
            (t("rp.done_not_notified", lang), report.done_not_notified),
            (t("rp.hours_to_done_mean", lang), _hours(report.hours_to_done.mean)),
            (t("rp.hours_to_done_median", lang), _hours(report.hours_to_done.median)),
        ]
    return [
        (t("rp.total", lang), report.total),
        (t("rp.escalated", lang), report.escalated),
        (t("rp.group_complaints", lang), report.group_complaints),
        (t("rp.open", lang), report.open),
        (t("rp.responded", lang), report.responded),
        (t("rp.resolved", lang), report.resolved),
        (t("rp.closed", lang), report.closed),
        (t("rp.overdue", lang), report.overdue),
        (t("rp.overdue_open", lang), report.overdue_open),
        (t("rp.response_late", lang), report.response_late),
        (t("rp.on_time_rate", lang), _percent(report.on_time_rate)),
        (t("rp.response_mean", lang), _hours(report.response_hours.mean)),
        (t("rp.response_median", lang), _hours(report.response_hours.median)),
        (t("rp.resolution_mean", lang), _hours(report.resolution_hours.mean)),
        (t("rp.resolution_median", lang), _hours(report.resolution_hours.median)),
        (t("rp.followed_up", lang), report.followed_up),
        (t("rp.satisfaction_mean", lang), None if report.satisfaction_mean is None
         else round(report.satisfaction_mean, 2)),
        (t("rp.satisfied_rate", lang), _percent(report.satisfied_rate)),
    ]


def _traffic_tables(report: TrafficReport, lang: str) -> list[tuple[str, list[tuple[str, int]]]]:
    """Per channel; then per hour and per weekday, the contacts of all channels, each channel and the visits."""
    everything = t("rp.all_contacts", lang)
    tables = [(t("rp.by", lang, what=report.sheet.by_name["channel"].label_in(lang)),
               [(report.label(c, lang), n) for c, n in report.by_channel.items()]
               + ([(report.label(VISITS, lang), report.visits)] if report.visits is not None else []))]
    for what, counts, names in (
            ("rp.by_hour", report.hours_of, [hour_text(h) for h in range(24)]),
            ("rp.by_weekday", report.weekdays_of, [t(f"day.{d}", lang) for d in range(7)])):
        for series in (None, *report.series):
            heading = t(what, lang, series=everything if series is None else report.label(series, lang))
            tables.append((heading, list(zip(names, counts(series)))))
    return tables


def breakdowns(report, lang: str) -> list[tuple[str, list[tuple[str, int]]]]:
    """The report's tables, (title, [(label, count)]), in the user's language."""
    if isinstance(report, TrafficReport):
        return _traffic_tables(report, lang)
    if isinstance(report, EngineerReport):
        per = lambda key, value: (t(key, lang), [(line.name, value(line)) for line in report.engineers])
        return [per("rp.transferred_by_engineer", lambda line: line.transferred),
                per("rp.resolved_by_engineer", lambda line: line.resolved),
                per("rp.open_by_engineer", lambda line: line.open),
                per("rp.hours_by_engineer", lambda line: _hours(line.resolution_mean)),
                (t("rp.requests_by_department", lang), [(report.department(d, lang), n)
                                                        for d, n in report.coordination.items()]),
                (t("rp.answered_by_department", lang), [(report.department(d, lang), n)
                                                        for d, n in report.answered.items()])]
    if isinstance(report, ChangeReport):
        return [(_by(report, "kind", lang), [(report.label("kind", v, lang), n) for v, n in report.by_kind.items()]),
                (_by(report, "staff", lang), list(report.by_staff))]
    tables = [(_by(report, name, lang), [(report.label(name, v, lang), n)
                                         for v, n in getattr(report, f"by_{name}").items()])
              for name in ("kind", "channel", "category", "severity", "state")
              if name != "kind" or len(report.kinds) > 1]
    top = [(report.label("category", v, lang), n) for v, n in report.top_categories()]
    tables.insert(len(tables) - 2, (t("rp.top_categories", lang), top))      # after the categories
    tables.append((t("rp.satisfaction", lang), [(t("rp.score", lang, score=s), n)
                                                for s, n in report.satisfaction.items()]))
    return tables


def rows(report, lang: str) -> list[tuple[str, str, object]]:
    """(section, item, value) rows: what the CSV holds, and the screen's table."""
    heading = t("rp.section_report", lang)
    out = [(heading, t("rp.report", lang), title(report, lang)),
           (heading, t("rp.period", lang), period_text(report, lang)),
           (heading, t("rp.as_of", lang), report.as_of.strftime("%Y-%m-%d %H:%M"))]
    out += [(t("rp.section_summary", lang), label, value) for label, value in summary(report, lang)]
    for section, items in breakdowns(report, lang):
        out += [(section, label, count) for label, count in items]
    if isinstance(report, TrafficReport):
        for series in report.series:
            heading = t("rp.traffic_" + report.trend_unit, lang, series=report.label(series, lang))
            out += [(heading, day.isoformat(), counts[series]) for day, counts in report.trend]
        return out
    if isinstance(report, EngineerReport):
        trend = t("rp.transfers_" + report.trend_unit, lang)
        return out + [(trend, day.isoformat(), count) for day, count in report.trend]
    trend = t("rp.trend_" + report.trend_unit, lang)
    out += [(trend, day.isoformat(), count) for day, count in report.trend]
    return out


def report_csv(report, lang: str) -> bytes:
    """The report as CSV: UTF-8 with BOM (Excel reads the Chinese), one (section, item, value) row per
    figure, text neutralised so a spreadsheet never runs it as a formula."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([t("rp.csv_section", lang), t("rp.csv_item", lang), t("rp.csv_value", lang)])
    for section, item, value in rows(report, lang):
        cell = "" if value is None else neutralise(value) if isinstance(value, str) else value
        writer.writerow([neutralise(section), neutralise(item), cell])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def file_name(report) -> str:
    return f"{report.name}-report-{report.start.isoformat()}-{report.last_day.isoformat()}.csv"
