"""The manager's dashboard and the staff rankings: KPI figures for a period against the one before,
chart data, the quarterly staff ranking and the monthly team ranking; and seed 001's KPI tables for a
quarter: the department manager's table scoring the department (department_score), the intake
supervisor's MBO table scoring each supervisor (supervisor_scores), and the pass-rate targets beside the
actual figures (pass_rates), their weights and targets in rules/kpi.toml.

Definitions (the dashboard's help texts say the same):
- Ticket figures count the tickets *received* in the period (created_at), not deleted, as they stand now
  — the same rule as the complaint report (kefu/reports.py).
- open: of those, in an open state now. overdue: resolved after the resolution due time, or not yet
  resolved, the clock running (not waiting on the customer) and the due time passed now.
- on-time rate: of the resolved tickets with a due time, the share resolved by it.
- response / resolution hours: working hours recorded on each ticket by kefu/tickets.step (rules/sla.toml
  calendar, public holidays and make-up days respected), averaged.
- satisfaction: mean follow-up score (1-5); follow-up rate: followed-up tickets per resolved ticket.
- complaint rate: complaints received per 100 customer archives on file at the end of the period.
- visitors: visits arrived in the period. new members: members joined in it. survey score: mean of the
  three 1-5 questions of the survey answers taken in it.

Speed: every figure is one SQL aggregate over an index this module declares (INDEXES, created by
prepare()), covering where it pays, so a month at a million tickets reads only that month's index
entries and never a table into pandas. Results are cached per data version — the newest audit entry's
id, which every write through the store creates — so an idle refresh asks SQLite one question; the
one figure that moves with the clock (tickets falling overdue) is cached per minute.

Only kefu/ui and views draw: this module returns dataclasses.
"""
from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from kefu import auth
from kefu.config import ROOT
from kefu.errors import PermissionDenied
from kefu.reports import ordered_counts
from kefu import rules as rule_files
from kefu.rules import RulesError, read_rules
from kefu.store import Store, quote_ident
from kefu.workflow import Workflow, load_workflow

VIEW = "dashboard"
KPI_FILE = ROOT / "rules" / "kpi.toml"
PERIODS = ("today", "week", "month", "quarter", "year", "custom")
HAND_PARTS = ("skill_pass_rate", "process_improvement", "internal_satisfaction", "report_timeliness")
WEIGHT_KEYS = ("satisfaction", *HAND_PARTS)
SHARE_KEYS = ("follow_up", "on_time", "spot_check")
TIE_KEYS = ("satisfaction", "on_time_rate", "handled", "faults", "spot_check_rate")
REVIEWS, TEAMS, DEPARTMENT_REVIEWS = "kpi_reviews", "staff_teams", "department_reviews"
# The KPI tables of seed 001 (rules/kpi.toml [department.weights], [supervisor.weights]): each part, and
# which parts are entered by hand (the rest are computed from the data).
DEPARTMENT_PARTS = ("satisfaction", "skill_pass_rate", "process_improvement", "internal_satisfaction",
                    "report_timeliness")
DEPARTMENT_HAND = ("process_improvement", "internal_satisfaction", "report_timeliness")
SUPERVISOR_PARTS = ("complaint_satisfaction", "report_timeliness", "internal_satisfaction", "skill_improvement",
                    "service_quality", "mbo")
SUPERVISOR_HAND = ("report_timeliness", "internal_satisfaction", "mbo")
TABLES = {"department": DEPARTMENT_PARTS, "supervisor": SUPERVISOR_PARTS}
TARGET_KEYS = ("quarterly_pass_rate", "yearly_pass_rate", "overall_pass_rate")
TABLE_ROLES = ("system", "manager", "gm")       # who sees the KPI tables and the pass-rate targets

# The indexes behind every figure (prepare() creates them). The first reads a period's tickets with every
# column a figure needs from the index alone; the second counts one kind's tickets week by week; the
# third reads one handler's tickets of a period (a staff member's own dashboard, the rankings); the
# fourth finds the few tickets found to be someone's fault.
INDEXES: dict[str, list[tuple[str, ...]]] = {
    "tickets": [
        ("created_at", "kind", "state", "channel", "category", "severity", "satisfaction", "response_hours",
         "resolution_hours", "resolved_at", "resolution_due", "assignee", "deleted_at"),
        ("kind", "created_at", "deleted_at"),
        ("assignee", "created_at", "state", "kind", "satisfaction", "response_hours", "resolution_hours",
         "resolved_at", "resolution_due", "deleted_at"),
        ("fault_staff", "created_at", "deleted_at"),
    ],
    "visitors": [("arrived_at", "purpose", "host", "deleted_at")],
    "customers": [("created_at", "owner", "deleted_at")],
    "members": [("joined_on", "tier", "deleted_at")],
    "surveys": [("taken_at", "service", "price", "overall", "taken_by", "deleted_at")],
    "spot_checks": [("week", "staff", "result", "deleted_at")],
}


# ---------------------------------------------------------------------------------------------- rules

@dataclass(frozen=True)
class KpiRules:
    refresh_seconds: int = 30
    trend_months: int = 12
    satisfied_from: int = 4
    weights: dict = field(default_factory=lambda: dict(zip(WEIGHT_KEYS, (50, 20, 10, 10, 10))))
    shares: dict = field(default_factory=lambda: dict(zip(SHARE_KEYS, (60, 20, 20))))
    per_fault: float = 0
    roles: tuple = ("staff", "supervisor")
    tie_break: tuple = ("satisfaction", "on_time_rate", "handled", "faults")
    bonus_top: int = 3
    bonus_next: int = 8
    department: dict = field(default_factory=lambda: dict(zip(DEPARTMENT_PARTS, (50, 20, 10, 10, 10))))
    supervisor: dict = field(default_factory=lambda: dict(zip(SUPERVISOR_PARTS, (40, 20, 10, 10, 10, 10))))
    targets: dict = field(default_factory=lambda: dict(zip(TARGET_KEYS, (85, 90, 95))))


def _whole(path: Path, key: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RulesError(f"{path}: {key} must be a whole number from {low} to {high}, not {value!r}",
                         key=_dotted(key), code="rl.whole_range", low=low, high=high, value=value)
    return value


def _dotted(key: str) -> str:
    """"[ranking.weights] satisfaction" -> "ranking.weights.satisfaction": the key as a path in the file."""
    return key.replace("[", "").replace("] ", ".").replace("]", "")


def _percents(path: Path, table: str, raw, keys: tuple[str, ...]) -> dict:
    if not isinstance(raw, dict):
        raise RulesError(f"{path}: missing table [{table}] ({', '.join(keys)})", key=table, code="rl.missing")
    unknown = sorted(set(raw) - set(keys))
    if unknown:
        raise RulesError(f"{path}: [{table}] {unknown[0]} is not a known key ({', '.join(keys)})",
                         key=f"{table}.{unknown[0]}", code="rl.unknown_key", known=", ".join(keys))
    values = {}
    for key in keys:
        if key not in raw:
            raise RulesError(f"{path}: [{table}] missing key {key}", key=f"{table}.{key}", code="rl.missing")
        values[key] = _whole(path, f"[{table}] {key}", raw[key], 0, 100)
    if sum(values.values()) != 100:
        raise RulesError(f"{path}: [{table}] must add up to 100, not {sum(values.values())}",
                         key=table, code="rl.sum_100", total=sum(values.values()))
    return values


def load_rules(path: Path | None = None, *, text: str | None = None) -> KpiRules:
    """rules/kpi.toml as KpiRules; RulesError names the file and the key at fault. text: these rules
    instead of the file's (a saved version, or a text checked before saving)."""
    path = path or rule_files.file("kpi")
    data = read_rules(path, text)
    board = data.get("dashboard", {})
    ranking = data.get("ranking")
    if not isinstance(ranking, dict):
        raise RulesError(f"{path}: missing table [ranking]")
    deductions = ranking.get("deductions", {})
    per_fault = deductions.get("per_fault", 0)
    if isinstance(per_fault, bool) or not isinstance(per_fault, (int, float)) or not 0 <= per_fault <= 100:
        raise RulesError(f"{path}: [ranking.deductions] per_fault must be a number from 0 to 100, not {per_fault!r}",
                         key="ranking.deductions.per_fault", code="rl.number_range", low=0, high=100, value=per_fault)
    roles = ranking.get("roles", ["staff", "supervisor"])
    if not isinstance(roles, list) or not roles or any(r not in auth.ROLES for r in roles):
        raise RulesError(f"{path}: [ranking] roles must be a list of roles ({', '.join(auth.ROLES)})",
                         key="ranking.roles", code="rl.roles", roles=", ".join(auth.ROLES))
    ties = ranking.get("tie_break", list(KpiRules.tie_break))
    if not isinstance(ties, list) or any(k not in TIE_KEYS for k in ties) or len(set(ties)) != len(ties):
        raise RulesError(f"{path}: [ranking] tie_break must list figures from {', '.join(TIE_KEYS)}, each once")
    bonus = ranking.get("bonus", {})
    top = _whole(path, "[ranking.bonus] top", bonus.get("top", 3), 0, 100)
    upto = _whole(path, "[ranking.bonus] next", bonus.get("next", 8), 0, 100)
    if upto < top:
        raise RulesError(f"{path}: [ranking.bonus] next ({upto}) must not be below top ({top})",
                         key="ranking.bonus.next", code="rl.not_below", other="ranking.bonus.top", value=upto,
                         bound=top)
    return KpiRules(
        refresh_seconds=_whole(path, "[dashboard] refresh_seconds", board.get("refresh_seconds", 30), 5, 3600),
        trend_months=_whole(path, "[dashboard] trend_months", board.get("trend_months", 12), 1, 36),
        satisfied_from=_whole(path, "[dashboard] satisfied_from", board.get("satisfied_from", 4), 1, 5),
        weights=_percents(path, "ranking.weights", ranking.get("weights"), WEIGHT_KEYS),
        shares=_percents(path, "ranking.satisfaction", ranking.get("satisfaction"), SHARE_KEYS),
        per_fault=float(per_fault), roles=tuple(roles), tie_break=tuple(ties), bonus_top=top, bonus_next=upto,
        department=_table(path, data, "department.weights", DEPARTMENT_PARTS, KpiRules().department),
        supervisor=_table(path, data, "supervisor.weights", SUPERVISOR_PARTS, KpiRules().supervisor),
        targets=_targets(path, data.get("targets", {})))


def _table(path: Path, data: dict, table: str, keys: tuple[str, ...], default: dict) -> dict:
    """A KPI table's weights ([department.weights]): read by the same check as [ranking.weights] (every
    part, whole numbers, adding up to 100). A file from before the tables existed has the rulebook's."""
    top, sub = table.split(".")
    if top not in data:
        return dict(default)
    return _percents(path, table, data[top].get(sub) if isinstance(data[top], dict) else None, keys)


def _targets(path: Path, raw) -> dict:
    """[targets]: the pass-rate targets, each a whole percent; a missing one is the rulebook's."""
    if not isinstance(raw, dict):
        raise RulesError(f"{path}: [targets] must be a table ({', '.join(TARGET_KEYS)})", key="targets",
                         code="rl.missing")
    unknown = sorted(set(raw) - set(TARGET_KEYS))
    if unknown:
        raise RulesError(f"{path}: [targets] {unknown[0]} is not a known key ({', '.join(TARGET_KEYS)})",
                         key=f"targets.{unknown[0]}", code="rl.unknown_key", known=", ".join(TARGET_KEYS))
    shipped = KpiRules().targets
    return {key: _whole(path, f"[targets] {key}", raw.get(key, shipped[key]), 0, 100) for key in TARGET_KEYS}


def rules_on(store: Store, day: date) -> KpiRules:
    """The KPI rules in force on `day` (kefu/rules.py text_on): a saved change takes effect from its day."""
    return load_rules(text=rule_files.text_on(store, "kpi", day))


def ranking_day(start: date, end: date, today: date) -> date:
    """The day whose rules rank a period: its last day, or today while it runs."""
    return min(end - timedelta(days=1), today)


# ---------------------------------------------------------------------------------------------- set-up

def prepare(store: Store) -> list[str]:
    """Create the indexes the figures read (INDEXES) and fill the working hours of tickets from before
    they were recorded. Cheap when done: run after every migrate."""
    made = make_indexes(store)
    from kefu.tickets import backfill_hours
    backfill_hours(store)
    return made


def make_indexes(store: Store) -> list[str]:
    """The indexes the figures read (INDEXES) that the database lacks, made; returns their names."""
    made = []
    with store.transaction():
        for table, groups in INDEXES.items():
            if table not in store.sheets:
                continue
            for number, columns in enumerate(groups, start=1):
                name = f"kpi_{table}_{number}"
                if not store.has_index(name):
                    store.conn.execute(f"CREATE INDEX {quote_ident(name)} ON {quote_ident(table)}"
                                       f"({', '.join(quote_ident(c) for c in columns)})")
                    made.append(name)
    return made


def require(actor) -> None:
    """The dashboard is a screen (auth.VIEW_ROLES); the system actor (command line, benchmarks) may."""
    if actor is None or actor.role != "system":
        auth.require_view(actor, VIEW)


def sees_all(actor) -> bool:
    """Supervisors, managers and the gm see the office's figures; staff see only their own."""
    return actor.role in ("system", "supervisor", "manager", "gm")


def scope_of(actor) -> int | None:
    """None for the whole office, else the user id whose own figures the actor sees."""
    require(actor)
    return None if sees_all(actor) else actor.id


# ---------------------------------------------------------------------------------------------- periods

def period(kind: str, today: date, first: date | None = None, last: date | None = None) -> tuple[date, date]:
    """(first day, the day after the last) of today, this week (Monday first), month, quarter or year,
    or custom days from first to last inclusive."""
    if kind == "today":
        return today, today + timedelta(days=1)
    if kind == "week":
        monday = today - timedelta(days=today.weekday())
        return monday, monday + timedelta(days=7)
    if kind == "month":
        start = today.replace(day=1)
        return start, _add_months(start, 1)
    if kind == "quarter":
        start = date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
        return start, _add_months(start, 3)
    if kind == "year":
        return date(today.year, 1, 1), date(today.year + 1, 1, 1)
    if kind == "custom":
        first = first or today
        last = last or first
        low, high = min(first, last), max(first, last)
        return low, high + timedelta(days=1)
    raise ValueError(f"unknown period {kind!r}")


def previous(kind: str, start: date, end: date) -> tuple[date, date]:
    """The period before: yesterday, last week, last month, quarter or year, or as many days before."""
    if kind in ("month", "quarter", "year"):
        months = {"month": 1, "quarter": 3, "year": 12}[kind]
        return _add_months(start, -months), start
    return start - (end - start), start


def quarter_of(day: date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def quarter_bounds(year: int, quarter: int) -> tuple[date, date]:
    start = date(year, quarter * 3 - 2, 1)
    return start, _add_months(start, 3)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def buckets(start: date, end: date) -> tuple[str, list[tuple[date, date]]]:
    """A period cut for a sparkline or a trend: days up to two months, weeks up to half a year, else
    calendar months."""
    span = (end - start).days
    if span <= 62:
        return "day", [(start + timedelta(days=i), start + timedelta(days=i + 1)) for i in range(span)]
    if span <= 190:
        cuts, day = [], start
        while day < end:
            nxt = min(day - timedelta(days=day.weekday()) + timedelta(days=7), end)
            cuts.append((day, nxt))
            day = nxt
        return "week", cuts
    cuts, day = [], start
    while day < end:
        nxt = min(_add_months(day.replace(day=1), 1), end)
        cuts.append((day, nxt))
        day = nxt
    return "month", cuts


def now_in(store: Store) -> datetime:
    return datetime.now(store.settings.tz).replace(microsecond=0)


# ---------------------------------------------------------------------------------------------- cache

class _Cache:
    """Results keyed by database file, data version and question; shared by every session of the
    process (results are plain data, and the permission check runs before each lookup)."""

    def __init__(self, size: int = 512):
        self.size = size
        self.entries: OrderedDict = OrderedDict()
        self.lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key, compute):
        with self.lock:
            if key in self.entries:
                self.entries.move_to_end(key)
                self.hits += 1
                return self.entries[key]
        value = compute()
        with self.lock:
            self.misses += 1
            self.entries[key] = value
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
            self.hits = self.misses = 0


CACHE = _Cache()


def data_version(store: Store) -> int:
    """Changes with every write through the store (each is audited): the newest audit entry's id."""
    return store.conn.execute("SELECT max(id) FROM kefu_audit").fetchone()[0] or 0


def _cached(store: Store, name: str, args: tuple, compute, *, minute: bool = False):
    args = tuple(repr(a) if isinstance(a, KpiRules) else a for a in args)
    key = (str(store.location), data_version(store), name, args)      # the file or the database URL
    if minute:
        key += (now_in(store).strftime("%Y-%m-%dT%H:%M"),)
    return CACHE.get(key, compute)


# ---------------------------------------------------------------------------------------------- figures

@dataclass
class Figures:
    """One period's KPI figures. Counts are whole numbers; a rate or mean is None when it has nothing to
    divide by (no resolved ticket, no follow-up, no customer on file)."""
    start: date
    end: date
    tickets: int = 0
    complaints: int = 0
    open: int = 0
    overdue: int = 0
    resolved: int = 0
    resolved_with_due: int = 0
    resolved_on_time: int = 0
    response_hours: float | None = None
    resolution_hours: float | None = None
    followed_up: int = 0
    satisfied: int = 0
    satisfaction: float | None = None
    visitors: int = 0
    customers: int = 0
    new_members: int | None = None        # None: not the user's to see (staff see their own figures only)
    survey_answers: int = 0
    survey_score: float | None = None

    @property
    def on_time_rate(self) -> float | None:
        return self.resolved_on_time / self.resolved_with_due if self.resolved_with_due else None

    @property
    def follow_up_rate(self) -> float | None:
        return self.followed_up / self.resolved if self.resolved else None

    @property
    def complaint_rate(self) -> float | None:
        return self.complaints * 100 / self.customers if self.customers else None

    @property
    def satisfied_rate(self) -> float | None:
        return self.satisfied / self.followed_up if self.followed_up else None


KPIS = ("visitors", "tickets", "open", "overdue", "on_time_rate", "response_hours", "resolution_hours",
        "satisfaction", "follow_up_rate", "complaint_rate", "new_members", "survey_score")
LOWER_IS_BETTER = {"open", "overdue", "response_hours", "resolution_hours", "complaint_rate"}

# One row per bucket: the sums every ticket figure is made of (SQL, over the covering index).
_TICKET_SUMS = (
    "count(*)", "sum(kind = 'complaint')", "sum(state IN ({open}))", "sum(resolved_at IS NOT NULL)",
    "sum(resolved_at IS NOT NULL AND resolution_due IS NOT NULL)",
    "sum(resolved_at IS NOT NULL AND resolution_due IS NOT NULL AND resolved_at <= resolution_due)",
    "sum(resolved_at IS NOT NULL AND resolution_due IS NOT NULL AND resolved_at > resolution_due)",
    "total(response_hours)", "count(response_hours)", "total(resolution_hours)", "count(resolution_hours)",
    "count(satisfaction)", "sum(satisfaction >= ?)", "total(satisfaction)")


def _in(values) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in sorted(values))


def _ticket_scope(scope: int | None) -> tuple[str, list]:
    return ("assignee = ? AND ", [scope]) if scope is not None else ("", [])


def _ticket_sums(store: Store, cuts: list[tuple[date, date]], scope: int | None, flow: Workflow,
                 satisfied_from: int) -> list[tuple]:
    """Per cut: the _TICKET_SUMS row. Each cut is one range of the index, summed without sorting."""
    sums = ", ".join(s.format(open=_in(flow.open_states)) for s in _TICKET_SUMS)
    where, params = _ticket_scope(scope)
    sql = (f"SELECT {sums} FROM tickets WHERE {where}created_at >= ? AND created_at < ? AND +deleted_at IS NULL")
    return [store.conn.execute(sql, (satisfied_from, *params, a.isoformat(), b.isoformat())).fetchone()
            for a, b in cuts]


def _overdue_open(store: Store, cuts: list[tuple[date, date]], scope: int | None, flow: Workflow,
                  now: datetime) -> list[int]:
    """Per cut: tickets not resolved, their clock running, their resolution due passed now."""
    running = flow.open_states - flow.paused_states
    where, params = _ticket_scope(scope)
    sql = (f"SELECT count(*) FROM tickets WHERE {where}created_at >= ? AND created_at < ? AND +deleted_at IS NULL "
           f"AND resolved_at IS NULL AND +state IN ({_in(running)}) AND +resolution_due < ?")   # the period's range only
    stamp = now.isoformat()
    return [store.conn.execute(sql, (*params, a.isoformat(), b.isoformat(), stamp)).fetchone()[0] for a, b in cuts]


def _fill_tickets(figures: Figures, row: tuple, overdue_open: int) -> None:
    (n, complaints, open_, resolved, with_due, on_time, late, response_sum, response_n, resolution_sum,
     resolution_n, followed, satisfied, satisfaction_sum) = (v or 0 for v in row)
    figures.tickets, figures.complaints, figures.open = n, complaints, open_
    figures.resolved, figures.resolved_with_due, figures.resolved_on_time = resolved, with_due, on_time
    figures.overdue = late + overdue_open
    figures.response_hours = response_sum / response_n if response_n else None
    figures.resolution_hours = resolution_sum / resolution_n if resolution_n else None
    figures.followed_up, figures.satisfied = followed, satisfied
    figures.satisfaction = satisfaction_sum / followed if followed else None


def _other_sums(store: Store, cuts: list[tuple[date, date]], scope: int | None) -> list[dict]:
    """Per cut: visitors, customers on file at its end, new members and surveys. One grouped query per
    register over the whole span (day by day), then added up per cut."""
    low, high = cuts[0][0].isoformat(), cuts[-1][1].isoformat()
    conn = store.conn
    starts = [a.isoformat() for a, _ in cuts]

    def per_cut(sql: str, params: tuple, width: int) -> list[list]:
        totals = [[0] * width for _ in cuts]
        for day, *values in conn.execute(sql, params):
            i = bisect.bisect_right(starts, day) - 1
            if 0 <= i < len(cuts):
                totals[i] = [a + (b or 0) for a, b in zip(totals[i], values)]
        return totals

    mine = (lambda column: (f"{column} = ? AND ", (scope,))) if scope is not None else (lambda column: ("", ()))
    where, params = mine("host")
    visitors = per_cut(f"SELECT substr(arrived_at, 1, 10), count(*) FROM visitors WHERE {where}arrived_at >= ? "
                       f"AND arrived_at < ? AND +deleted_at IS NULL GROUP BY 1", (*params, low, high), 1)
    where, params = mine("owner")
    on_file = conn.execute(f"SELECT count(*) FROM customers WHERE {where}created_at < ? AND +deleted_at IS NULL",
                           (*params, low)).fetchone()[0]
    added = per_cut(f"SELECT substr(created_at, 1, 10), count(*) FROM customers WHERE {where}created_at >= ? "
                    f"AND created_at < ? AND +deleted_at IS NULL GROUP BY 1", (*params, low, high), 1)
    members = None
    if scope is None:
        members = per_cut("SELECT joined_on, count(*) FROM members WHERE joined_on >= ? AND joined_on < ? "
                          "AND +deleted_at IS NULL GROUP BY 1", (low, high), 1)
    where, params = mine("taken_by")
    surveys = per_cut(f"SELECT substr(taken_at, 1, 10), count(*), total((service + price + overall) / 3.0) "
                      f"FROM surveys WHERE {where}taken_at >= ? AND taken_at < ? AND +deleted_at IS NULL GROUP BY 1",
                      (*params, low, high), 2)
    result = []
    for i in range(len(cuts)):
        on_file += added[i][0]
        answers, total = surveys[i]
        result.append({"visitors": visitors[i][0], "customers": on_file,
                       "new_members": None if members is None else members[i][0],
                       "survey_answers": answers, "survey_score": total / answers if answers else None})
    return result


def figures(store: Store, actor, start: date, end: date, *, rules: KpiRules | None = None,
            flow: Workflow | None = None, now: datetime | None = None) -> Figures:
    """The KPI figures of the days from start to the day before end, for the actor's scope."""
    scope = scope_of(actor)
    rules = rules or load_rules()
    flow = flow or load_workflow()
    now = now or now_in(store)
    return _figures(store, scope, start, end, rules, flow, now)


def _figures(store, scope, start, end, rules, flow, now) -> Figures:
    cut = [(start, end)]
    args = (scope, start, end, rules.satisfied_from)
    sums = _cached(store, "ticket_sums", args, lambda: _ticket_sums(store, cut, scope, flow, rules.satisfied_from))
    late = _cached(store, "overdue_open", args, lambda: _overdue_open(store, cut, scope, flow, now), minute=True)
    result = Figures(start, end)
    _fill_tickets(result, sums[0], late[0])
    for name, value in _cached(store, "other_sums", (scope, tuple(cut)), lambda: _other_sums(store, cut, scope))[0].items():
        setattr(result, name, value)
    return result


@dataclass
class Overview:
    """A period against the one before, with each figure's course through the period (sparklines)."""
    kind: str
    current: Figures
    before: Figures
    unit: str                                   # "day", "week" or "month": the sparkline's step
    series: dict = field(default_factory=dict)  # KPI -> [value per bucket]
    scope: int | None = None

    def delta(self, name: str):
        now, then = getattr(self.current, name), getattr(self.before, name)
        if now is None or then is None:
            return None
        return now - then


def overview(store: Store, actor, kind: str, today: date, first: date | None = None, last: date | None = None,
             *, rules: KpiRules | None = None, flow: Workflow | None = None, now: datetime | None = None) -> Overview:
    """The overview cards: the chosen period, the one before, and each figure bucket by bucket."""
    scope = scope_of(actor)
    rules = rules or load_rules()
    flow = flow or load_workflow()
    now = now or now_in(store)
    start, end = period(kind, today, first, last)
    before = _figures(store, scope, *previous(kind, start, end), rules, flow, now)
    unit, cuts = buckets(start, end)
    if kind == "today":     # today alone, its line the week up to it
        current = _figures(store, scope, start, end, rules, flow, now)
        unit, cuts = "day", [(d, d + timedelta(days=1)) for d in (start - timedelta(days=6 - i) for i in range(7))]
    cuts = [c for c in cuts if c[0] <= today] or cuts[:1]     # no empty days after today on the line
    args = (scope, tuple(cuts), rules.satisfied_from)
    sums = _cached(store, "ticket_sums", args, lambda: _ticket_sums(store, cuts, scope, flow, rules.satisfied_from))
    late = _cached(store, "overdue_open", args, lambda: _overdue_open(store, cuts, scope, flow, now), minute=True)
    others = _cached(store, "other_sums", (scope, tuple(cuts)), lambda: _other_sums(store, cuts, scope))
    series: dict[str, list] = {name: [] for name in KPIS}
    for (a, b), row, overdue, other in zip(cuts, sums, late, others):
        point = Figures(a, b)
        _fill_tickets(point, row, overdue)
        for name, value in other.items():
            setattr(point, name, value)
        for name in KPIS:
            series[name].append(getattr(point, name))
    if kind != "today":     # every sum adds up, so the period is its buckets together
        current = Figures(start, end)
        _fill_tickets(current, [sum(r[i] or 0 for r in sums) for i in range(len(_TICKET_SUMS))], sum(late))
        whole = others[-1] | {"visitors": sum(o["visitors"] for o in others),
                              "survey_answers": sum(o["survey_answers"] for o in others)}
        if whole["new_members"] is not None:
            whole["new_members"] = sum(o["new_members"] for o in others)
        answers = [(o["survey_answers"], o["survey_score"]) for o in others if o["survey_answers"]]
        whole["survey_score"] = (sum(n * v for n, v in answers) / whole["survey_answers"]) if answers else None
        for name, value in whole.items():
            setattr(current, name, value)
    return Overview(kind=kind, current=current, before=before, unit=unit, series=series, scope=scope)


# ---------------------------------------------------------------------------------------------- charts

@dataclass
class Trend:
    """Tickets received week by week (Monday first), by kind."""
    weeks: list                                  # [Monday]
    counts: dict                                 # kind -> [count per week]


def trend(store: Store, actor, today: date, *, rules: KpiRules | None = None) -> Trend:
    """The ticket trend of the last rules.trend_months months, week by week, by kind."""
    scope = scope_of(actor)
    rules = rules or load_rules()
    kinds = [c["value"] for c in store.sheet("tickets").by_name["kind"].choices]
    this_monday = today - timedelta(days=today.weekday())
    first = _add_months(today.replace(day=1), -rules.trend_months + 1)
    first -= timedelta(days=first.weekday())
    weeks = [first + timedelta(days=7 * i) for i in range((this_monday - first).days // 7 + 1)]

    def compute():
        counts = {}
        for kind in kinds:
            if scope is None:      # each week one range of the (kind, created_at) index
                sql = ("SELECT count(*) FROM tickets WHERE kind = ? AND created_at >= ? AND created_at < ? "
                       "AND deleted_at IS NULL")
                counts[kind] = [store.conn.execute(sql, (kind, w.isoformat(), (w + timedelta(days=7)).isoformat()))
                                .fetchone()[0] for w in weeks]
            else:
                sql = ("SELECT count(*) FROM tickets WHERE assignee = ? AND created_at >= ? AND created_at < ? "
                       "AND kind = ? AND +deleted_at IS NULL")
                counts[kind] = [store.conn.execute(sql, (scope, w.isoformat(), (w + timedelta(days=7)).isoformat(),
                                                         kind)).fetchone()[0] for w in weeks]
        return counts
    return Trend(weeks=weeks, counts=_cached(store, "trend", (scope, tuple(weeks)), compute))


@dataclass
class Breakdown:
    """The period's tickets counted by kind, channel, category, severity and follow-up score, the intake
    heatmap (weekday 0 = Monday x hour), and visits by purpose and by hour."""
    by_kind: dict
    by_channel: dict
    by_category: dict
    by_severity: dict
    by_satisfaction: dict
    heatmap: dict                                # (weekday, hour) -> tickets
    visits_by_purpose: dict
    visits_by_hour: dict

    def top_categories(self, limit: int = 10) -> list[tuple[str, int]]:
        return sorted(((k, n) for k, n in self.by_category.items() if n), key=lambda p: -p[1])[:limit]


def breakdown(store: Store, actor, start: date, end: date) -> Breakdown:
    scope = scope_of(actor)

    def compute():
        low, high = start.isoformat(), end.isoformat()
        where, params = _ticket_scope(scope)
        cube: dict[str, dict] = {name: {} for name in ("kind", "channel", "category", "severity", "satisfaction")}
        for kind, channel, category, severity, score, n in store.conn.execute(
                f"SELECT kind, channel, category, severity, satisfaction, count(*) FROM tickets WHERE {where}"
                f"created_at >= ? AND created_at < ? AND +deleted_at IS NULL GROUP BY 1, 2, 3, 4, 5",
                (*params, low, high)):
            for name, value in zip(cube, (kind, channel, category, severity, score)):
                cube[name][value] = cube[name].get(value, 0) + n
        heat = {}
        for weekday, hour, n in store.conn.execute(
                f"SELECT (CAST(strftime('%w', substr(created_at, 1, 10)) AS INTEGER) + 6) % 7, "
                f"CAST(substr(created_at, 12, 2) AS INTEGER), count(*) FROM tickets WHERE {where}"
                f"created_at >= ? AND created_at < ? AND +deleted_at IS NULL GROUP BY 1, 2", (*params, low, high)):
            heat[(weekday, hour)] = n
        host = ("host = ? AND ", [scope]) if scope is not None else ("", [])
        purposes, hours = {}, {}
        for purpose, hour, n in store.conn.execute(
                f"SELECT purpose, CAST(substr(arrived_at, 12, 2) AS INTEGER), count(*) FROM visitors WHERE {host[0]}"
                f"arrived_at >= ? AND arrived_at < ? AND +deleted_at IS NULL GROUP BY 1, 2", (*host[1], low, high)):
            purposes[purpose] = purposes.get(purpose, 0) + n
            hours[hour] = hours.get(hour, 0) + n
        sheet = store.sheet("tickets")
        ordered = {name: ordered_counts(sheet.by_name[name], counts) for name, counts in cube.items() if name != "satisfaction"}
        scores = {score: cube["satisfaction"].get(score, 0) for score in (1, 2, 3, 4, 5)}
        visits = ordered_counts(store.sheet("visitors").by_name["purpose"], purposes)
        return Breakdown(ordered["kind"], ordered["channel"], ordered["category"], ordered["severity"], scores,
                         heat, visits, dict(sorted(hours.items())))
    return _cached(store, "breakdown", (scope, start, end), compute)


@dataclass
class ClubTrend:
    months: list                                 # [first day of the month]
    members_by_tier: dict                        # tier -> [members on file at the month's end]
    survey_scores: dict                          # question -> [mean score or None]
    survey_answers: list                         # [answers per month]


def club_trend(store: Store, actor, today: date, *, rules: KpiRules | None = None) -> ClubTrend:
    """Members by tier month by month (members who had joined by the month's end, by their tier now) and
    the survey scores per month, over the last rules.trend_months months."""
    require(actor)
    if not sees_all(actor):
        raise PermissionDenied()
    rules = rules or load_rules()
    first = _add_months(today.replace(day=1), -rules.trend_months + 1)
    months = [_add_months(first, i) for i in range(rules.trend_months)]

    def compute():
        tiers = [c["value"] for c in store.sheet("members").by_name["tier"].choices]
        running = dict.fromkeys(tiers, 0)
        for tier, n in store.conn.execute("SELECT tier, count(*) FROM members WHERE joined_on < ? "
                                          "AND +deleted_at IS NULL GROUP BY tier", (first.isoformat(),)):
            running[tier] = running.get(tier, 0) + n
        joined: dict[tuple, int] = {}
        for month, tier, n in store.conn.execute(
                "SELECT substr(joined_on, 1, 7), tier, count(*) FROM members WHERE joined_on >= ? "
                "AND +deleted_at IS NULL GROUP BY 1, 2", (first.isoformat(),)):
            joined[(month, tier)] = n
        by_tier = {tier: [] for tier in running}
        for month in months:
            for tier in running:
                running[tier] += joined.get((month.isoformat()[:7], tier), 0)
                by_tier[tier].append(running[tier])
        scores = {q: [None] * len(months) for q in ("service", "price", "overall")}
        answers = [0] * len(months)
        index = {m.isoformat()[:7]: i for i, m in enumerate(months)}
        for month, n, service, price, overall in store.conn.execute(
                "SELECT substr(taken_at, 1, 7), count(*), avg(service), avg(price), avg(overall) FROM surveys "
                "WHERE taken_at >= ? AND +deleted_at IS NULL GROUP BY 1", (first.isoformat(),)):
            if month in index:
                i = index[month]
                answers[i] = n
                scores["service"][i], scores["price"][i], scores["overall"][i] = service, price, overall
        return by_tier, scores, answers
    by_tier, scores, answers = _cached(store, "club_trend", (tuple(months),), compute)
    return ClubTrend(months=months, members_by_tier=by_tier, survey_scores=scores, survey_answers=answers)


def drill_ids(store: Store, actor, start: date, end: date, weekday: int, hour: int, limit: int = 5000) -> list[int]:
    """The tickets of a heatmap cell (weekday 0 = Monday, hour), newest first, for the filtered list."""
    scope = scope_of(actor)
    where, params = _ticket_scope(scope)
    return [r[0] for r in store.conn.execute(
        f"SELECT id FROM tickets WHERE {where}created_at >= ? AND created_at < ? AND +deleted_at IS NULL "
        f"AND (CAST(strftime('%w', substr(created_at, 1, 10)) AS INTEGER) + 6) % 7 = ? "
        f"AND CAST(substr(created_at, 12, 2) AS INTEGER) = ? ORDER BY id DESC LIMIT ?",
        (*params, start.isoformat(), end.isoformat(), weekday, hour, limit))]


def drill_visit_ids(store: Store, actor, start: date, end: date, hour: int, limit: int = 5000) -> list[int]:
    """The visits of one bar of 'visitors by hour': arrived in the period at that hour, newest first."""
    scope = scope_of(actor)
    host = ("host = ? AND ", [scope]) if scope is not None else ("", [])
    return [r[0] for r in store.conn.execute(
        f"SELECT id FROM visitors WHERE {host[0]}arrived_at >= ? AND arrived_at < ? AND +deleted_at IS NULL "
        f"AND CAST(substr(arrived_at, 12, 2) AS INTEGER) = ? ORDER BY id DESC LIMIT ?",
        (*host[1], start.isoformat(), end.isoformat(), hour, limit))]


# ---------------------------------------------------------------------------------------------- rankings

@dataclass
class Standing:
    """One person's (or team's) line of a ranking, with the figures it came from."""
    key: int | str                       # user id, or team value
    name: str
    handled: int = 0                     # tickets received in the period and handled by them
    resolved_with_due: int = 0
    resolved_on_time: int = 0
    followed_up: int = 0
    satisfaction: float | None = None    # mean follow-up score, 1-5
    spot_checks: int = 0
    spot_passed: int = 0
    faults: int = 0                      # complaints found to be their own fault
    review: dict | None = None           # the manager's hand scores (0-100), when entered
    parts: dict = field(default_factory=dict)   # each weighted part on 0-100
    computed: float | None = None        # the computed (satisfaction) part, 0-100
    score: float | None = None
    place: int | None = None
    bonus: str | None = None             # "top" (places 1-3) or "next" (4-8)
    members: int = 0                     # a team's size

    @property
    def on_time_rate(self) -> float | None:
        return self.resolved_on_time / self.resolved_with_due if self.resolved_with_due else None

    @property
    def spot_check_rate(self) -> float | None:
        return self.spot_passed / self.spot_checks if self.spot_checks else None

    @property
    def ranked(self) -> bool:
        return self.place is not None


def computed_part(row: Standing, rules: KpiRules) -> float | None:
    """The satisfaction part on 0-100 from the follow-up score, the on-time rate and the spot-check pass
    rate, by their shares; a figure without data gives its share to the others."""
    figures = {"follow_up": None if row.satisfaction is None else (row.satisfaction - 1) / 4 * 100,
               "on_time": None if row.on_time_rate is None else row.on_time_rate * 100,
               "spot_check": None if row.spot_check_rate is None else row.spot_check_rate * 100}
    weights = {k: rules.shares[k] for k, v in figures.items() if v is not None and rules.shares[k]}
    if not weights:
        return None
    return sum(figures[k] * w for k, w in weights.items()) / sum(weights.values())


def _score(row: Standing, rules: KpiRules) -> None:
    row.computed = computed_part(row, rules)
    row.parts = {"satisfaction": row.computed}
    for part in HAND_PARTS:
        row.parts[part] = (row.review or {}).get(part)
    total = sum((row.parts[k] or 0) * w / 100 for k, w in rules.weights.items())
    row.score = round(total - rules.per_fault * row.faults, 2)


def _order(rows: list[Standing], rules: KpiRules) -> list[Standing]:
    """Highest score first; equal scores by the declared tie-break figures, then by name, then id. Rows
    with nothing handled are left unranked at the end."""
    def key(row: Standing):
        ties = []
        for name in rules.tie_break:
            value = getattr(row, name)
            value = -1 if value is None else value
            ties.append(value if name == "faults" else -value)
        return (-(row.score or 0), *ties, row.name, str(row.key))
    ranked = sorted((r for r in rows if r.handled), key=key)
    for place, row in enumerate(ranked, start=1):
        row.place = place
        row.bonus = "top" if place <= rules.bonus_top else "next" if place <= rules.bonus_next else None
    return ranked + sorted((r for r in rows if not r.handled), key=lambda r: r.name)


def bonus_places(mark: str, rules: KpiRules) -> dict:
    """The places a bonus mark stands for under these rules: {"first": 1, "last": 3} for "top"."""
    return {"first": 1, "last": rules.bonus_top} if mark == "top" else {"first": rules.bonus_top + 1,
                                                                          "last": rules.bonus_next}


def _ticket_figures_by(store: Store, people: list[int], start: date, end: date) -> dict:
    """Per person: their tickets of the period (one range of the (assignee, created_at, ...) index each,
    read in the index's order, so nothing is sorted), faults and spot checks."""
    low, high = start.isoformat(), end.isoformat()
    result = {}
    marks = ", ".join("?" for _ in people) or "NULL"
    for who, n, with_due, on_time, followed, total in store.conn.execute(
            "SELECT assignee, count(*), sum(resolved_at IS NOT NULL AND resolution_due IS NOT NULL), "
            "sum(resolved_at IS NOT NULL AND resolution_due IS NOT NULL AND resolved_at <= resolution_due), "
            f"count(satisfaction), total(satisfaction) FROM tickets WHERE assignee IN ({marks}) "
            "AND created_at >= ? AND created_at < ? AND +deleted_at IS NULL GROUP BY assignee",
            (*people, low, high)):
        result[who] = {"handled": n, "resolved_with_due": with_due or 0, "resolved_on_time": on_time or 0,
                       "followed_up": followed, "satisfaction": total / followed if followed else None}
    faults = dict(store.conn.execute(
        "SELECT fault_staff, count(*) FROM tickets WHERE fault_staff IS NOT NULL AND +created_at >= ? "
        "AND +created_at < ? AND +deleted_at IS NULL GROUP BY fault_staff", (low, high)))   # the few faults only
    checks = {}
    for who, n, passed in store.conn.execute(
            "SELECT staff, count(*), sum(result = 'pass') FROM spot_checks WHERE week >= ? AND week < ? "
            "AND +deleted_at IS NULL GROUP BY staff", (low, high)):
        checks[who] = (n, passed or 0)
    return {"tickets": result, "faults": faults, "checks": checks}


def staff_ranking(store: Store, actor, year: int, quarter: int, *, rules: KpiRules | None = None) -> list[Standing]:
    """The quarter's staff ranking (see rules/kpi.toml). Staff get their own line only."""
    scope = scope_of(actor)
    start, end = quarter_bounds(year, quarter)
    rules = rules or rules_on(store, ranking_day(start, end, now_in(store).date()))   # the weights then

    def compute():
        people = store.conn.execute(f"SELECT id, display_name, active FROM kefu_users "
                                    f"WHERE role IN ({_in(rules.roles)}) ORDER BY id").fetchall()
        data = _ticket_figures_by(store, [p[0] for p in people], start, end)
        reviews = {row[0]: dict(zip(HAND_PARTS, row[1:])) for row in store.conn.execute(
            f"SELECT staff, {', '.join(HAND_PARTS)} FROM {REVIEWS} WHERE year = ? AND quarter = ? "
            f"AND deleted_at IS NULL", (year, str(quarter)))} if REVIEWS in store.sheets else {}
        rows = []
        for uid, name, active in people:
            if not active and uid not in data["tickets"]:
                continue                          # left before the quarter
            row = Standing(key=uid, name=name, **data["tickets"].get(uid, {}))
            row.faults = data["faults"].get(uid, 0)
            row.spot_checks, row.spot_passed = data["checks"].get(uid, (0, 0))
            row.review = reviews.get(uid)
            _score(row, rules)
            rows.append(row)
        return _order(rows, rules)
    rows = _cached(store, "staff_ranking", (year, quarter, rules), compute)
    if scope is not None:
        return [r for r in rows if r.key == scope]
    return rows


def team_ranking(store: Store, actor, year: int, month: int, *, rules: KpiRules | None = None) -> list[Standing]:
    """The month's team ranking: each team's tickets, on-time rate, follow-up score, spot checks and
    faults together; the score is the computed part less the fault deduction (hand scores are quarterly).
    Teams come from the staff teams register; staff without a team are not counted."""
    require(actor)
    if not sees_all(actor):
        raise PermissionDenied()
    start = date(year, month, 1)
    end = _add_months(start, 1)
    rules = rules or rules_on(store, ranking_day(start, end, now_in(store).date()))

    def compute():
        if TEAMS not in store.sheets:
            return []
        field_obj = store.sheet(TEAMS).by_name["team"]
        team_of = dict(store.conn.execute(f"SELECT staff, team FROM {TEAMS} WHERE deleted_at IS NULL"))
        data = _ticket_figures_by(store, sorted(team_of), start, end)
        teams: dict[str, Standing] = {}
        for choice in field_obj.choices:
            teams[choice["value"]] = Standing(key=choice["value"], name=choice["value"])
        sums: dict[str, float] = {}
        for uid, team in team_of.items():
            row = teams.get(team)
            if row is None:
                continue
            row.members += 1
            figures = data["tickets"].get(uid)
            if figures:
                row.handled += figures["handled"]
                row.resolved_with_due += figures["resolved_with_due"]
                row.resolved_on_time += figures["resolved_on_time"]
                row.followed_up += figures["followed_up"]
                sums[team] = sums.get(team, 0) + (figures["satisfaction"] or 0) * figures["followed_up"]
            row.faults += data["faults"].get(uid, 0)
            checks = data["checks"].get(uid, (0, 0))
            row.spot_checks += checks[0]
            row.spot_passed += checks[1]
        for team, row in teams.items():
            row.satisfaction = sums.get(team, 0) / row.followed_up if row.followed_up else None
            row.computed = computed_part(row, rules)
            row.parts = {"satisfaction": row.computed}
            row.score = None if row.computed is None else round(row.computed - rules.per_fault * row.faults, 2)
        ordered = _order(list(teams.values()), rules)
        for row in ordered:
            row.bonus = None                       # bonus places are for people, quarterly
        return ordered
    return _cached(store, "team_ranking", (year, month, rules), compute)


def staff_tickets_query(user_id: int, start: date, end: date):
    """The filtered list behind a ranking line: the person's tickets received in the period."""
    from kefu.store import Query
    return Query(filters={"assignee": [user_id], "created_at": (start.isoformat(), end.isoformat())})


# ---------------------------------------------------------------------------------------------- KPI tables

@dataclass
class TableScore:
    """One line of a KPI table of seed 001 for a quarter: the department's (客服部经理考核指标表) or a
    supervisor's (受理组主管考核指标表). Each part on 0-100; a part without a figure counts as 0."""
    key: int | str                       # "department", or the supervisor's user id
    name: str
    parts: dict = field(default_factory=dict)   # part -> 0-100, or None (no data, not entered)
    entered: bool = False                # the hand-scored parts are entered for the quarter
    team: str | None = None              # a supervisor's team (Teams register); None: the whole department
    score: float | None = None           # None: not one figure for the quarter

    @property
    def missing(self) -> list[str]:
        return [part for part, value in self.parts.items() if value is None]


@dataclass
class PassRate:
    """A pass-rate target of rules/kpi.toml [targets] beside the actual figure."""
    key: str                             # quarterly_pass_rate, yearly_pass_rate, overall_pass_rate
    target: int                          # percent
    actual: float | None                 # percent; None: nothing checked or reviewed yet
    basis: int                           # the spot checks or reviews it is made of

    @property
    def met(self) -> bool | None:
        return None if self.actual is None else self.actual >= self.target


def may_see_tables(actor) -> bool:
    return actor is not None and actor.role in TABLE_ROLES


def require_tables(actor) -> None:
    """The KPI tables and targets are the manager's and the gm's (and the command line's)."""
    require(actor)
    if not may_see_tables(actor):
        raise PermissionDenied()


def _stars(mean: float | None) -> float | None:
    """A 1-5 follow-up score on 0-100."""
    return None if mean is None else (mean - 1) / 4 * 100


def _table_score(parts: dict, weights: dict) -> float | None:
    if all(value is None for value in parts.values()):
        return None
    return round(sum((parts[k] or 0) * w / 100 for k, w in weights.items()), 2)


def _group_figures(store: Store, people: list[int] | None, year: int, quarter: int,
                   checked: list[int] | None = None) -> dict:
    """The quarter's figures of a group (people: user ids; None: the whole department): follow-up score of
    the tickets and of the complaints they received in the quarter; and of `checked` (people when not
    given): spot checks and their passes, and the mean skill pass rate of their quarterly reviews."""
    start, end = quarter_bounds(year, quarter)
    low, high = start.isoformat(), end.isoformat()
    marks = ", ".join("?" for _ in people or ()) or "NULL"
    who = ("", ()) if people is None else (f"AND assignee IN ({marks}) ", tuple(people))
    checked = people if checked is None else checked
    marks = ", ".join("?" for _ in checked or ()) or "NULL"
    followed, total, complaints, complaint_total = store.conn.execute(
        "SELECT count(satisfaction), total(satisfaction), count(CASE WHEN kind = 'complaint' THEN satisfaction END), "
        "total(CASE WHEN kind = 'complaint' THEN satisfaction END) FROM tickets WHERE created_at >= ? AND created_at < ? "
        f"{who[0]}AND +deleted_at IS NULL", (low, high, *who[1])).fetchone()
    staff = ("", ()) if checked is None else (f"AND staff IN ({marks}) ", tuple(checked))
    checks, passed = store.conn.execute(
        f"SELECT count(*), sum(result = 'pass') FROM spot_checks WHERE week >= ? AND week < ? {staff[0]}"
        "AND +deleted_at IS NULL", (low, high, *staff[1])).fetchone()
    reviews, skill = (0, None)
    if REVIEWS in store.sheets:
        reviews, skill = store.conn.execute(
            f"SELECT count(skill_pass_rate), avg(skill_pass_rate) FROM {REVIEWS} WHERE year = ? AND quarter = ? "
            f"{staff[0]}AND deleted_at IS NULL", (year, str(quarter), *staff[1])).fetchone()
    return {"satisfaction": total / followed if followed else None, "followed_up": followed,
            "complaint_satisfaction": complaint_total / complaints if complaints else None,
            "checks": checks, "passed": passed or 0, "spot_check_rate": (passed or 0) / checks * 100 if checks else None,
            "reviews": reviews, "skill_pass_rate": skill}


def _table_rules(store: Store, rules: KpiRules | None, year: int, quarter: int) -> KpiRules:
    return rules or rules_on(store, ranking_day(*quarter_bounds(year, quarter), now_in(store).date()))


def department_score(store: Store, actor, year: int, quarter: int, *, rules: KpiRules | None = None) -> TableScore:
    """The department manager's KPI table (rules/kpi.toml [department.weights]) for the quarter: the
    department's follow-up score and the staff's mean skill pass rate from the data, the other parts from
    the department's quarterly review (department_reviews) when entered."""
    require_tables(actor)
    rules = _table_rules(store, rules, year, quarter)

    def compute():
        figures = _group_figures(store, None, year, quarter)
        hand = None
        if DEPARTMENT_REVIEWS in store.sheets:
            hand = store.conn.execute(f"SELECT {', '.join(DEPARTMENT_HAND)} FROM {DEPARTMENT_REVIEWS} WHERE year = ? "
                                      "AND quarter = ? AND deleted_at IS NULL", (year, str(quarter))).fetchone()
        entered = dict(zip(DEPARTMENT_HAND, hand)) if hand else {}
        parts = {"satisfaction": _stars(figures["satisfaction"]), "skill_pass_rate": figures["skill_pass_rate"],
                 **{part: entered.get(part) for part in DEPARTMENT_HAND}}
        return TableScore(key="department", name="", parts=parts, entered=hand is not None,
                          score=_table_score(parts, rules.department))
    return _cached(store, "department_score", (year, quarter, rules), compute)


def supervisor_scores(store: Store, actor, year: int, quarter: int, *,
                      rules: KpiRules | None = None) -> list[TableScore]:
    """The intake supervisor's MBO table (rules/kpi.toml [supervisor.weights]) for each supervisor and the
    quarter, best first: from the data, the follow-up score of the complaints his team received (him
    included), and his staff's skill pass rate (their quarterly reviews) and spot checks passed (his team in
    the Teams register; in none: the whole department); from his quarterly review, his reports, internal
    satisfaction and MBO management."""
    require_tables(actor)
    rules = _table_rules(store, rules, year, quarter)

    def compute():
        reviews = {}
        if REVIEWS in store.sheets:
            reviews = {row[0]: dict(zip(SUPERVISOR_HAND, row[1:])) for row in store.conn.execute(
                f"SELECT staff, {', '.join(SUPERVISOR_HAND)} FROM {REVIEWS} WHERE year = ? AND quarter = ? "
                "AND deleted_at IS NULL", (year, str(quarter)))}
        team_of = dict(store.conn.execute(f"SELECT staff, team FROM {TEAMS} WHERE deleted_at IS NULL")) \
            if TEAMS in store.sheets else {}
        rows = []
        for uid, name, active in store.conn.execute(
                "SELECT id, display_name, active FROM kefu_users WHERE role = 'supervisor' ORDER BY id").fetchall():
            if not active and uid not in reviews:
                continue
            team = team_of.get(uid)
            people = None if team is None else sorted(u for u, t in team_of.items() if t == team)
            staff = None if people is None else [u for u in people if u != uid]    # his staff, not himself
            figures = _group_figures(store, people, year, quarter, staff)
            entered = reviews.get(uid, {})
            parts = {"complaint_satisfaction": _stars(figures["complaint_satisfaction"]),
                     "report_timeliness": entered.get("report_timeliness"),
                     "internal_satisfaction": entered.get("internal_satisfaction"),
                     "skill_improvement": figures["skill_pass_rate"],
                     "service_quality": figures["spot_check_rate"],
                     "mbo": entered.get("mbo")}
            rows.append(TableScore(key=uid, name=name, parts=parts, entered=uid in reviews, team=team,
                                   score=_table_score(parts, rules.supervisor)))
        return sorted(rows, key=lambda r: (r.score is None, -(r.score or 0), r.name, r.key))
    return _cached(store, "supervisor_scores", (year, quarter, rules), compute)


def pass_rates(store: Store, actor, year: int, quarter: int, *, rules: KpiRules | None = None) -> list[PassRate]:
    """The pass-rate targets (rules/kpi.toml [targets]) beside the actual figures of the quarter: the
    quarter's spot checks passed (平均季度合格率), the year's spot checks to the quarter's end (年度总体合格率),
    and the staff's mean skill pass rate of the quarterly reviews (总体合格率)."""
    require_tables(actor)
    rules = _table_rules(store, rules, year, quarter)

    def compute():
        quarter_figures = _group_figures(store, None, year, quarter)
        _, end = quarter_bounds(year, quarter)
        checks, passed = store.conn.execute(
            "SELECT count(*), sum(result = 'pass') FROM spot_checks WHERE week >= ? AND week < ? "
            "AND +deleted_at IS NULL", (date(year, 1, 1).isoformat(), end.isoformat())).fetchone()
        actual = {"quarterly_pass_rate": (quarter_figures["spot_check_rate"], quarter_figures["checks"]),
                  "yearly_pass_rate": ((passed or 0) / checks * 100 if checks else None, checks),
                  "overall_pass_rate": (quarter_figures["skill_pass_rate"], quarter_figures["reviews"])}
        return [PassRate(key, rules.targets[key], *actual[key]) for key in TARGET_KEYS]
    return _cached(store, "pass_rates", (year, quarter, rules), compute)
