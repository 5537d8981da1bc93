"""Incentives and penalties (奖惩): the rules (rules/incentives.toml), the run of a month or a quarter
made from the source registers, its approval (a snapshot that locks the period), and finance's files.

A month ("2026-10") pays performance points over the base, rewards and fines; a quarter ("2026-Q4")
pays the ranking bonus (places from kefu.kpi.staff_ranking) and the spare-parts commission on sales fully
paid in the quarter, split between the person and the department pool. Each line is one staff member and
one component with the figures it came from. Money is integer fen throughout; a share or a rate is
applied with Decimal and rounded half up to the fen once per line, so totals are exact sums of lines.

Approving a run stores it (kefu_incentive_runs, kefu_incentive_lines): the approved run is what every
later screen and file shows, byte for byte. It also locks its period in the store (kefu_period_locks):
a record of a source register dated in it is refused, or, with lock = "next_period", let through and
its difference carried into the next run as an adjustment.
"""
from __future__ import annotations

import calendar
import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from kefu import auth, kpi
from kefu.config import ROOT
from kefu.errors import KefuError, NotFound, PermissionDenied
from kefu.exporting import neutralise
from kefu.fields import format_fen
from kefu.i18n import t
from kefu import rules as rule_files
from kefu.rules import RulesError, read_rules
from kefu.sheets import Problem
from kefu.store import Store

INCENTIVES_FILE = ROOT / "rules" / "incentives.toml"
VIEW = "incentives"
POINTS, INCIDENTS, REWARDS, SALES = "service_points", "safety_incidents", "rewards_penalties", "parts_sales"
MONTH_SHEETS = (POINTS, INCIDENTS, REWARDS)          # locked by a month's run
QUARTER_SHEETS = (SALES,)                             # locked by a quarter's run
RANGE_REWARDS = ("praise_letter", "cost_saving")      # an amount judged within bounds
FIXED_REWARDS = ("no_repeat_project",)                # the rule's figure per record
RETIRED_KINDS = ("no_repeat_project",)                # counted from the data now: old records read, none entered
FINES = ("unsigned_record", "own_fault_complaint")
MONTH_COMPONENTS = ("performance", *RANGE_REWARDS, *FIXED_REWARDS, *FINES)
QUARTER_COMPONENTS = ("ranking_bonus", "commission")
LOCK_MODES = ("refuse", "next_period")
DEPARTMENT = "department_pool"                        # the pool's line (no staff member)
HUNDRED = Decimal(100)


# ---------------------------------------------------------------------------------------------- rules

@dataclass(frozen=True)
class Band:
    margin_from: Decimal
    margin_below: Decimal | None                      # None: open-ended
    rate: Decimal                                     # percent of the amount

    def holds(self, margin: Decimal) -> bool:
        return margin >= self.margin_from and (self.margin_below is None or margin < self.margin_below)


@dataclass(frozen=True)
class IncentiveRules:
    base_points: Decimal
    point_fen: int
    incident_points: Decimal
    coefficients: dict
    bonus_fen: dict                                   # kpi bonus mark ("top", "next") -> fen
    bands: tuple
    person_share: Decimal
    pool_share: Decimal
    reward_bounds: dict                               # kind -> (min fen, max fen)
    fixed_fen: dict                                   # kind -> fen per record (rewards positive)
    fines_fen: dict                                   # kind -> fen per record (positive: deducted)
    prepare_roles: frozenset                          # who computes a run and sends it for checking
    checks: tuple                                     # the roles that check it, in order (财务部、人力发展部)
    approve_roles: frozenset                          # who approves it (总经理): approved, the period locked
    lock_mode: str
    no_repeat_types: tuple = ("installation",)        # project types whose commissioning earns the reward
    no_repeat_months: int = 6                         # the window without repeat service, and the count's rhythm
    pay_after: dict = field(default_factory=lambda: {"quarter": 1})   # run kind -> months after its end paid

    def chain_roles(self) -> frozenset:
        return frozenset(self.prepare_roles | set(self.checks) | self.approve_roles)


def _get(path: Path, data: dict, key: str):
    node = data
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise RulesError(f"{path}: missing key {key}", key=key, code="rl.missing")
        node = node[part]
    return node


def _number(path: Path, key: str, value, *, whole: bool = False) -> Decimal:
    """A figure of the file: a number, 0 or more (a whole number when `whole`)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RulesError(f"{path}: {key} must be a number, not {value!r}", key=key, code="rl.number", value=value)
    number = Decimal(str(value))
    if number < 0:
        raise RulesError(f"{path}: {key} must be 0 or more, not {value}", key=key, code="rl.negative", value=value)
    if whole and number != number.to_integral_value():
        raise RulesError(f"{path}: {key} must be a whole number, not {value}", key=key, code="rl.whole", value=value)
    return number


def _fen(path: Path, key: str, value) -> int:
    yuan = _number(path, key, value)
    if yuan != yuan.quantize(Decimal("0.01")):
        raise RulesError(f"{path}: {key} must be yuan with at most two decimals, not {value}", key=key, code="rl.fen",
                         value=value)
    return int(yuan * 100)


def _percent(path: Path, key: str, value) -> Decimal:
    number = _number(path, key, value)
    if number > 100:
        raise RulesError(f"{path}: {key} must be a percentage from 0 to 100, not {value}", key=key,
                         code="rl.number_range", low=0, high=100, value=value)
    return number


def _bands(path: Path, raw) -> tuple:
    if not isinstance(raw, list) or not raw:
        raise RulesError(f"{path}: missing key commission.bands (one [[commission.bands]] per margin band)")
    bands = []
    for number, band in enumerate(raw, start=1):
        key = f"commission.bands[{number}]"
        if not isinstance(band, dict):
            raise RulesError(f"{path}: {key} must be a table")
        low = _percent(path, f"{key}.margin_from", _required(path, band, f"{key}.margin_from"))
        below = band.get("margin_below")
        below = None if below is None else _percent(path, f"{key}.margin_below", below)
        if below is not None and below <= low:
            raise RulesError(f"{path}: {key}.margin_below ({below}) must be above margin_from ({low})",
                             key=f"{key}.margin_below", code="rl.above", value=below, bound=low,
                             other=f"{key}.margin_from")
        rate = _percent(path, f"{key}.rate", _required(path, band, f"{key}.rate"))
        bands.append((number, Band(low, below, rate)))
    ordered = sorted(bands, key=lambda item: item[1].margin_from)
    for (_, before), (number, after) in zip(ordered, ordered[1:]):
        if before.margin_below is None or after.margin_from < before.margin_below:
            raise RulesError(f"{path}: commission.bands[{number}] (margin from {after.margin_from}%) overlaps the band "
                             f"from {before.margin_from}%" + ("" if before.margin_below is None
                                                             else f" below {before.margin_below}%"),
                             key=f"commission.bands[{number}].margin_from", code="rl.band_overlap",
                             value=after.margin_from, bound=before.margin_from)
    return tuple(band for _, band in ordered)


def _required(path: Path, table: dict, key: str):
    name = key.rsplit(".", 1)[-1]
    if name not in table:
        raise RulesError(f"{path}: missing key {key}", key=key, code="rl.missing")
    return table[name]


def load_rules(path: Path | None = None, *, project_types: list[str] | None = None,
               text: str | None = None) -> IncentiveRules:
    """rules/incentives.toml as IncentiveRules; RulesError names the file and the key at fault.
    project_types (the choices of schema/service_points.toml) must be exactly the coefficient table's keys.
    text: these rules instead of the file's (a saved version, or a text checked before saving)."""
    path = path or rule_files.file("incentives")
    data = read_rules(path, text)
    coefficients_raw = _get(path, data, "coefficients")
    if not isinstance(coefficients_raw, dict) or not coefficients_raw:
        raise RulesError(f"{path}: coefficients must give each project type its points")
    coefficients = {name: _number(path, f"coefficients.{name}", value) for name, value in coefficients_raw.items()}
    if project_types is not None and set(project_types) != set(coefficients):
        raise RulesError(f"{path}: coefficients ({', '.join(sorted(coefficients))}) must be the project types of "
                         f"schema/service_points.toml ({', '.join(sorted(project_types))})", key="coefficients",
                         code="rl.same_keys", keys=", ".join(sorted(project_types)))
    person = _percent(path, "commission.person_share", _get(path, data, "commission.person_share"))
    pool = _percent(path, "commission.pool_share", _get(path, data, "commission.pool_share"))
    if person + pool != HUNDRED:
        raise RulesError(f"{path}: commission.person_share ({person}) and commission.pool_share ({pool}) must add up "
                         f"to 100", key="commission.person_share", code="rl.sum_100", total=points_text(person + pool))
    bounds = {}
    for kind in RANGE_REWARDS:
        raw = _get(path, data, f"rewards.{kind}")
        if not isinstance(raw, dict):
            raise RulesError(f"{path}: rewards.{kind} must be a range, as {{ min = 200, max = 500 }}")
        low = _fen(path, f"rewards.{kind}.min", _get(path, data, f"rewards.{kind}.min"))
        high = _fen(path, f"rewards.{kind}.max", _get(path, data, f"rewards.{kind}.max"))
        if high < low:
            raise RulesError(f"{path}: rewards.{kind}.max must not be below its min", key=f"rewards.{kind}.max",
                             code="rl.not_below", other=f"rewards.{kind}.min", value=format_fen(high),
                             bound=format_fen(low))
        bounds[kind] = (low, high)
    prepare, checks, approvers = _chain(path, _get(path, data, "approval"))
    lock = _get(path, data, "approval.lock")
    if lock not in LOCK_MODES:
        raise RulesError(f"{path}: approval.lock must be one of {', '.join(LOCK_MODES)}, not {lock!r}",
                         key="approval.lock", code="rl.one_of", choices=", ".join(LOCK_MODES), value=lock)
    return IncentiveRules(
        base_points=_number(path, "performance.base_points", _get(path, data, "performance.base_points")),
        point_fen=_fen(path, "performance.yuan_per_point", _get(path, data, "performance.yuan_per_point")),
        incident_points=_number(path, "performance.incident_points", _get(path, data, "performance.incident_points")),
        coefficients=coefficients,
        bonus_fen={mark: _fen(path, f"ranking_bonus.{mark}", _get(path, data, f"ranking_bonus.{mark}"))
                   for mark in ("top", "next")},
        bands=_bands(path, _get(path, data, "commission.bands")),
        person_share=person, pool_share=pool, reward_bounds=bounds,
        fixed_fen={kind: _fen(path, f"rewards.{kind}", _get(path, data, f"rewards.{kind}")) for kind in FIXED_REWARDS},
        fines_fen={kind: _fen(path, f"fines.{kind}", _get(path, data, f"fines.{kind}"))
                   for kind in (*FINES, "unsigned_record_approved")},
        prepare_roles=frozenset(prepare), checks=tuple(checks), approve_roles=frozenset(approvers), lock_mode=lock,
        no_repeat_types=_no_repeat_types(path, data, coefficients), no_repeat_months=_no_repeat_months(path, data),
        pay_after=_pay_after(path, data))


def _roles(path: Path, table: dict, name: str, *, empty: bool = False) -> list:
    key = f"approval.{name}"
    roles = _required(path, table, key)
    if (not isinstance(roles, list) or (not roles and not empty) or len(set(roles)) != len(roles)
            or any(r not in auth.ROLES for r in roles)):
        raise RulesError(f"{path}: {key} must be a list of roles ({', '.join(auth.ROLES)})", key=key, code="rl.roles",
                         roles=", ".join(auth.ROLES))
    return roles


def _chain(path: Path, table) -> tuple[list, list, list]:
    """[approval]: who prepares a run, who checks it in order, who approves it. A file of the one-step
    approval (`roles = [...]`) is read as those roles preparing and approving, with no checks."""
    if not isinstance(table, dict):
        raise RulesError(f"{path}: approval must be a table", key="approval")
    if "roles" in table and not {"prepare", "checks", "approve"} & set(table):
        roles = _roles(path, table, "roles")
        return roles, [], roles
    prepare, checks, approvers = (_roles(path, table, "prepare"), _roles(path, table, "checks", empty=True),
                                  _roles(path, table, "approve"))
    for role in checks:
        if role in prepare or role in approvers:
            raise RulesError(f"{path}: approval.checks names {role}, who also prepares or approves: a check is "
                             f"someone else's", key="approval.checks", code="rl.chain_twice", value=role)
    return prepare, checks, approvers


def _no_repeat_types(path: Path, data: dict, coefficients: dict) -> tuple:
    types = data.get("no_repeat", {}).get("project_types", ["installation"]) if isinstance(data.get("no_repeat"), dict) \
        else ["installation"]
    if not isinstance(types, list) or not types or any(t not in coefficients for t in types):
        raise RulesError(f"{path}: no_repeat.project_types must be a list of project types "
                         f"({', '.join(coefficients)})", key="no_repeat.project_types", code="rl.one_of",
                         choices=", ".join(coefficients), value=types)
    return tuple(types)


def _no_repeat_months(path: Path, data: dict) -> int:
    table = data.get("no_repeat") if isinstance(data.get("no_repeat"), dict) else {}
    months = table.get("months", 6)
    if isinstance(months, bool) or months not in (1, 2, 3, 4, 6, 12):
        raise RulesError(f"{path}: no_repeat.months must be 1, 2, 3, 4, 6 or 12 (a divisor of the year), not "
                         f"{months!r}", key="no_repeat.months", code="rl.one_of", choices="1, 2, 3, 4, 6, 12",
                         value=months)
    return months


def _pay_after(path: Path, data: dict) -> dict:
    """[payment] after_quarter / after_month: months after a run's period that it is paid in (absent: not said)."""
    table = data.get("payment") if isinstance(data.get("payment"), dict) else {}
    found = {}
    for kind in ("quarter", "month"):
        key = f"payment.after_{kind}"
        if f"after_{kind}" in table:
            value = table[f"after_{kind}"]
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 12:
                raise RulesError(f"{path}: {key} must be a whole number of months from 0 to 12, not {value!r}",
                                 key=key, code="rl.whole_range", low=0, high=12, value=value)
            found[kind] = value
    return found


def rules_for(store: Store, path: Path | None = None, *, text: str | None = None) -> IncentiveRules:
    """The rules, checked against the project types of the service points register."""
    return load_rules(path, project_types=[c["value"] for c in store.sheet(POINTS).by_name["project_type"].choices],
                      text=text)


def rules_on(store: Store, day: date) -> IncentiveRules:
    """The rules in force on `day` (kefu/rules.py text_on): a saved change takes effect from its day."""
    return rules_for(store, text=rule_files.text_on(store, "incentives", day))


def period_rules(store: Store, period: "Period") -> IncentiveRules:
    """The figures a period is computed with: those in force on its last day (or today, while it runs)."""
    return rules_on(store, kpi.ranking_day(period.first, period.end, kpi.now_in(store).date()))


_RULES_CACHE: dict = {}


def current_rules(store: Store) -> IncentiveRules:
    """rules_for(store) from the default file, read again only when the file changes (entry checks)."""
    path = rule_files.file("incentives")
    key = (path, path.stat().st_mtime_ns)
    if key not in _RULES_CACHE:
        _RULES_CACHE.clear()
        _RULES_CACHE[key] = rules_for(store)
    return _RULES_CACHE[key]


def reward_amount(store: Store, row: dict) -> list[Problem]:
    """The entry check of rewards_penalties (schema key `checks`): a praise letter's or a cost saving's
    amount must lie within the rule's bounds; the other kinds pay or cost the rule's figure, so their
    amount is filled in from the rules, and a different figure is refused."""
    kind, amount = row.get("kind"), row.get("amount")
    if not kind:
        return []
    if kind in RETIRED_KINDS and not _was_kind(store, row.get("id"), kind):
        return [Problem("kind", "ic.no_repeat_retired", {})]
    rules = current_rules(store)
    if kind in rules.reward_bounds:
        low, high = rules.reward_bounds[kind]
        if amount is None:
            return [Problem("amount", "err.required", {})]
        if not low <= amount <= high:
            return [Problem("amount", "ic.amount_bounds", {"min": format_fen(low), "max": format_fen(high)})]
        return []
    if kind in rules.fixed_fen:
        fixed = rules.fixed_fen[kind]
    elif kind == "unsigned_record" and row.get("approved"):
        fixed = rules.fines_fen["unsigned_record_approved"]
    elif kind in rules.fines_fen:
        fixed = rules.fines_fen[kind]
    else:
        return []
    if amount is None:
        row["amount"] = fixed
    elif amount != fixed:
        return [Problem("amount", "ic.amount_fixed", {"amount": format_fen(fixed)})]
    return []


def _was_kind(store: Store, row_id, kind: str) -> bool:
    """Whether a stored record already had this kind: an old record of a retired kind stays editable."""
    if row_id is None:
        return False
    found = store.conn.execute(f"SELECT kind FROM {REWARDS} WHERE id = ?", (row_id,)).fetchone()
    return found is not None and found[0] == kind


# ---------------------------------------------------------------------------------------------- figures

def to_fen(amount: Decimal) -> int:
    """Decimal fen rounded half up to a whole fen (never a float on the way)."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def points_text(value: Decimal) -> str:
    """20 -> '20', 18.50 -> '18.5'."""
    return format(value.normalize(), "f")


def performance(points: Decimal, incidents: int, rules: IncentiveRules) -> tuple[int, dict]:
    """Fen paid for a month's points after the incident deduction, and the figures it came from."""
    net = points - rules.incident_points * incidents
    over = max(Decimal(0), net - rules.base_points)
    fen = to_fen(over * rules.point_fen)
    return fen, {"points": points_text(points), "per": points_text(rules.incident_points), "incidents": incidents,
                 "net": points_text(net), "base": points_text(rules.base_points), "over": points_text(over),
                 "rate": format_fen(rules.point_fen), "amount": format_fen(fen)}


def ranking_bonus_fen(mark: str | None, rules: IncentiveRules) -> int:
    """The bonus of a place the staff ranking marked "top" (1-3) or "next" (4-8), rules/kpi.toml."""
    return rules.bonus_fen.get(mark, 0) if mark else 0


def band_for(margin, rules: IncentiveRules) -> Band | None:
    margin = Decimal(str(margin))
    return next((band for band in rules.bands if band.holds(margin)), None)


def commission_fen(amount_fen: int, margin, rules: IncentiveRules) -> int:
    """The commission on one fully paid sale (before the person / pool split)."""
    band = band_for(margin, rules)
    return 0 if band is None else to_fen(Decimal(amount_fen) * band.rate / HUNDRED)


def split(total_fen: int, rules: IncentiveRules) -> tuple[int, int]:
    """(the person's share, the department pool's share), adding up to total_fen exactly."""
    person = to_fen(Decimal(total_fen) * rules.person_share / HUNDRED)
    return person, total_fen - person


# ---------------------------------------------------------------------------------------------- periods

@dataclass(frozen=True)
class Period:
    label: str                       # "2026-10" or "2026-Q4"
    kind: str                        # "month" or "quarter"
    first: date
    end: date                        # the day after the last

    @property
    def sheets(self) -> tuple:
        return MONTH_SHEETS if self.kind == "month" else QUARTER_SHEETS

    @property
    def last(self) -> date:
        return date.fromordinal(self.end.toordinal() - 1)


PERIOD_RE = re.compile(r"(\d{4})-(?:(0[1-9]|1[0-2])|[Qq]([1-4]))")


def parse_period(text: str) -> Period:
    """'2026-10' (a month) or '2026-Q4' (a quarter); anything else is refused naming the field."""
    match = PERIOD_RE.fullmatch((text or "").strip())
    if not match:
        raise KefuError("ic.bad_period", value=text)
    year = int(match.group(1))
    if match.group(2):
        month = int(match.group(2))
        first = date(year, month, 1)
        end = date(year + month // 12, month % 12 + 1, 1)
        return Period(f"{year}-{month:02d}", "month", first, end)
    quarter = int(match.group(3))
    first, end = kpi.quarter_bounds(year, quarter)
    return Period(f"{year}-Q{quarter}", "quarter", first, end)


# ---------------------------------------------------------------------------------------------- runs

@dataclass
class Line:
    staff: int | None                # None: the department pool
    staff_name: str
    component: str
    basis: list                      # [[i18n key, params], ...]: the figures the amount came from
    amount_fen: int                  # paid (+) or deducted (-)
    pool_fen: int = 0                # the department pool's share beside it (commission)
    adjusts: str | None = None       # an adjustment: the approved period whose source changed

    def basis_text(self, lang: str) -> str:
        parts = [t(key, lang, **params) for key, params in self.basis]
        if self.adjusts:
            parts.insert(0, t("ic.basis_adjusts", lang, period=self.adjusts))
        return "; ".join(parts) if lang == "en" else "；".join(parts)


@dataclass
class Run:
    period: Period
    lines: list = field(default_factory=list)
    approved_at: str | None = None
    approved_by: str | None = None
    run_id: int | None = None
    pay_month: str | None = None     # "2027-01": the month the run is paid in (rules [payment]); None: not said

    @property
    def approved(self) -> bool:
        return self.approved_at is not None

    @property
    def total_fen(self) -> int:
        """Everything the run pays out: the staff lines and the department pool."""
        return sum(line.amount_fen for line in self.lines)

    @property
    def pool_fen(self) -> int:
        return sum(line.amount_fen for line in self.lines if line.staff is None)

    def per_person(self) -> list[tuple[int, str, int]]:
        """(staff id, name, total fen) per staff member, in the order of their first line."""
        totals: dict[int, list] = {}
        for line in self.lines:
            if line.staff is not None:
                entry = totals.setdefault(line.staff, [line.staff_name, 0])
                entry[1] += line.amount_fen
        return [(staff, name, fen) for staff, (name, fen) in totals.items()]

    def only(self, staff: int) -> "Run":
        """The run as one staff member's statement: their lines only."""
        return Run(self.period, [line for line in self.lines if line.staff == staff], self.approved_at,
                   self.approved_by, self.run_id, self.pay_month)

    def key(self) -> list[tuple]:
        """The figures of the lines (not the names): what a check compares with the registers now."""
        return [(line.staff, line.component, json.dumps(line.basis, ensure_ascii=False, sort_keys=True),
                 line.amount_fen, line.pool_fen, line.adjusts) for line in self.lines]


def pay_month(period: Period, rules: IncentiveRules) -> str | None:
    """The month a period's run is paid in: after_quarter (after_month) months after its last month, so
    2026-Q4 is paid in 2027-01 (每月4、7、10、第二年1月发放); None when the rules do not say."""
    after = rules.pay_after.get(period.kind)
    if after is None:
        return None
    months = period.last.year * 12 + period.last.month - 1 + after
    return f"{months // 12}-{months % 12 + 1:02d}"


def may_compute(actor, rules: IncentiveRules) -> bool:
    """Computing a run from the registers now: the roles that prepare one (and the system)."""
    return actor is not None and actor.active and (actor.role == "system" or actor.role in rules.prepare_roles)


def _month_lines(store: Store, period: Period, rules: IncentiveRules) -> list[Line]:
    low, high = period.first.isoformat(), period.end.isoformat()
    conn, names = store.conn, store.user_names()
    points: dict[int, Decimal] = {}
    repeats: dict[int, int] = {}
    for staff, kind, repeat, count in conn.execute(
            f"SELECT staff, project_type, coalesce(own_fault_repeat, 0), count(*) FROM {POINTS} "
            f"WHERE done_on >= ? AND done_on < ? AND deleted_at IS NULL GROUP BY 1, 2, 3", (low, high)):
        points.setdefault(staff, Decimal(0))
        if repeat:
            repeats[staff] = repeats.get(staff, 0) + count
        else:
            points[staff] += rules.coefficients.get(kind, Decimal(0)) * count
    incidents = dict(conn.execute(f"SELECT staff, count(*) FROM {INCIDENTS} WHERE happened_on >= ? "
                                  f"AND happened_on < ? AND deleted_at IS NULL GROUP BY staff", (low, high)))
    lines: dict[tuple[int, str], Line] = {}
    for staff in sorted(set(points) | set(incidents)):
        fen, params = performance(points.get(staff, Decimal(0)), incidents.get(staff, 0), rules)
        basis = [["ic.basis_performance", params]]
        if repeats.get(staff):
            basis.append(["ic.basis_repeats", {"count": repeats[staff]}])
        lines[(staff, "performance")] = Line(staff, names.get(staff, f"#{staff}"), "performance", basis, fen)
    for kind in RANGE_REWARDS:
        low_fen, high_fen = rules.reward_bounds[kind]
        for staff, count, entered, paid in conn.execute(
                f"SELECT staff, count(*), sum(amount), sum(max(?, min(?, amount))) FROM {REWARDS} "
                f"WHERE kind = ? AND happened_on >= ? AND happened_on < ? AND deleted_at IS NULL "
                f"GROUP BY staff ORDER BY staff", (low_fen, high_fen, kind, low, high)):
            basis = [["ic.basis_range", {"count": count, "entered": format_fen(entered), "min": format_fen(low_fen),
                                         "max": format_fen(high_fen), "amount": format_fen(paid)}]]
            lines[(staff, kind)] = Line(staff, names.get(staff, f"#{staff}"), kind, basis, paid)
    for line in _no_repeat_lines(store, period, rules, names):
        lines[(line.staff, line.component)] = line
    per_record = {**rules.fixed_fen, **{kind: -fen for kind, fen in rules.fines_fen.items() if kind in FINES}}
    approved_fine = -rules.fines_fen["unsigned_record_approved"]
    for staff, kind, approved, count in conn.execute(
            f"SELECT staff, kind, coalesce(approved, 0), count(*) FROM {REWARDS} WHERE happened_on >= ? "
            f"AND happened_on < ? AND deleted_at IS NULL AND kind IN ({', '.join('?' for _ in per_record)}) "
            f"GROUP BY 1, 2, 3 ORDER BY 1, 2, 3", (low, high, *per_record)):
        each = approved_fine if kind == "unsigned_record" and approved else per_record[kind]
        key = "ic.basis_approved" if kind == "unsigned_record" and approved else "ic.basis_each"
        line = lines.get((staff, kind))
        part = [key, {"count": count, "each": format_fen(abs(each)), "amount": format_fen(abs(each * count))}]
        if line is None:
            lines[(staff, kind)] = Line(staff, names.get(staff, f"#{staff}"), kind, [part], each * count)
        else:
            line.basis.append(part)
            line.amount_fen += each * count
    order = {name: n for n, name in enumerate(MONTH_COMPONENTS)}
    return sorted(lines.values(), key=lambda line: (line.staff_name, line.staff, order[line.component]))


def plus_months(day: date, months: int) -> date:
    """The same day `months` later (or earlier), the month's last day where it has no such day."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def no_repeat_span(period: Period, rules: IncentiveRules) -> tuple[date, date] | None:
    """(first day, day after the last) of the projects a month's run pays the no-repeat reward for: the month
    closing a count (June and December, for six months) counts those commissioned in the six months before
    the last six, whose six months without repeat have all passed by its end; None for any other period."""
    months = rules.no_repeat_months
    if period.kind != "month" or period.first.month % months:
        return None
    end = plus_months(period.end, -months)
    return plus_months(end, -months), end


def _no_repeat_lines(store: Store, period: Period, rules: IncentiveRules, names: dict) -> list[Line]:
    """每半年由客服管理部统计核算: per staff member, the projects of the no-repeat types they commissioned in the
    span, each without a repeat service of their own making (a service point marked own_fault_repeat naming the
    project under repeat_of) within the months after it, at the rule's figure each."""
    span = no_repeat_span(period, rules)
    if span is None:
        return []
    each = rules.fixed_fen["no_repeat_project"]
    kinds = ", ".join("?" for _ in rules.no_repeat_types)
    counts: dict[int, list[int]] = {}
    for staff, done_on, repeated_on in store.conn.execute(
            f"SELECT p.staff, p.done_on, (SELECT min(r.done_on) FROM {POINTS} r WHERE r.repeat_of = p.id "
            f"AND coalesce(r.own_fault_repeat, 0) AND r.deleted_at IS NULL AND r.done_on >= p.done_on) "
            f"FROM {POINTS} p WHERE p.project_type IN ({kinds}) AND p.done_on >= ? AND p.done_on < ? "
            f"AND NOT coalesce(p.own_fault_repeat, 0) AND p.deleted_at IS NULL ORDER BY p.staff, p.id",
            (*rules.no_repeat_types, span[0].isoformat(), span[1].isoformat())):
        window_end = plus_months(date.fromisoformat(done_on), rules.no_repeat_months).isoformat()
        tally = counts.setdefault(staff, [0, 0])
        tally[1 if repeated_on is not None and repeated_on < window_end else 0] += 1
    last = plus_months(span[1], -1)
    lines = []
    for staff, (kept, lost) in sorted(counts.items()):
        basis = [["ic.basis_no_repeat", {"count": kept, "first": f"{span[0]:%Y-%m}", "last": f"{last:%Y-%m}",
                                         "months": rules.no_repeat_months, "each": format_fen(each),
                                         "amount": format_fen(each * kept)}]]
        if lost:
            basis.append(["ic.basis_no_repeat_lost", {"count": lost}])
        lines.append(Line(staff, names.get(staff, f"#{staff}"), "no_repeat_project", basis, each * kept))
    return lines


def _quarter_lines(store: Store, period: Period, rules: IncentiveRules, *, ranking: bool = True) -> list[Line]:
    names = store.user_names()
    lines: list[Line] = []
    if ranking:
        year, quarter = period.first.year, (period.first.month - 1) // 3 + 1
        kpi_rules = kpi.rules_on(store, kpi.ranking_day(period.first, period.end, kpi.now_in(store).date()))
        for row in kpi.staff_ranking(store, auth.SYSTEM, year, quarter, rules=kpi_rules):
            mark = row.bonus                        # marked by the ranking from rules/kpi.toml [ranking.bonus]
            fen = ranking_bonus_fen(mark, rules)
            if fen:
                places = (f"1-{kpi_rules.bonus_top}" if mark == "top"
                          else f"{kpi_rules.bonus_top + 1}-{kpi_rules.bonus_next}")
                lines.append(Line(row.key, names.get(row.key, row.name), "ranking_bonus",
                                  [["ic.basis_ranking", {"place": row.place, "places": places,
                                                         "amount": format_fen(fen)}]], fen))
    per_staff: dict[int, dict] = {}
    for staff, margin, amount in store.conn.execute(
            f"SELECT staff, margin, amount FROM {SALES} WHERE paid_on >= ? AND paid_on < ? AND deleted_at IS NULL "
            f"ORDER BY staff, id", (period.first.isoformat(), period.end.isoformat())):
        band = band_for(margin, rules)
        sums = per_staff.setdefault(staff, {"bands": {}, "below": 0, "total": 0})
        if band is None:
            sums["below"] += 1
            continue
        count, sold, earned = sums["bands"].get(band.rate, (0, 0, 0))
        fen = commission_fen(amount, margin, rules)
        sums["bands"][band.rate] = (count + 1, sold + amount, earned + fen)
        sums["total"] += fen
    pool = 0
    for staff in sorted(per_staff):
        sums = per_staff[staff]
        person, share = split(sums["total"], rules)
        pool += share
        basis = [["ic.basis_band", {"rate": points_text(rate), "count": count, "sold": format_fen(sold),
                                    "amount": format_fen(earned)}]
                 for rate, (count, sold, earned) in sorted(sums["bands"].items())]
        if sums["below"]:
            basis.append(["ic.basis_below", {"count": sums["below"], "margin": points_text(rules.bands[0].margin_from)}])
        basis.append(["ic.basis_split", {"total": format_fen(sums["total"]), "share": points_text(rules.person_share),
                                         "amount": format_fen(person), "pool": format_fen(share)}])
        lines.append(Line(staff, names.get(staff, f"#{staff}"), "commission", basis, person, pool_fen=share))
    if pool:
        lines.append(Line(None, "", DEPARTMENT, [["ic.basis_pool", {"share": points_text(rules.pool_share),
                                                                    "amount": format_fen(pool)}]], pool))
    order = {name: n for n, name in enumerate((*QUARTER_COMPONENTS, DEPARTMENT))}
    return sorted(lines, key=lambda line: (line.staff is None, line.staff_name, line.staff or 0,
                                           order[line.component]))


def _lines_of(store: Store, period: Period, rules: IncentiveRules, *, ranking: bool = True) -> list[Line]:
    if period.kind == "month":
        return _month_lines(store, period, rules)
    return _quarter_lines(store, period, rules, ranking=ranking)


def compute(store: Store, actor, period: str | Period, *, rules: IncentiveRules | None = None) -> Run:
    """The run of a period: the approved snapshot if it was approved, else computed now from the source
    registers (for the roles that approve). A period without data gives a run without lines.
    rules: the figures to compute with; by default those in force for the period (period_rules)."""
    period = parse_period(period) if isinstance(period, str) else period
    if not may_compute(actor, rules or rules_for(store)):
        raise PermissionDenied()
    stored = approved_run(store, period.label)
    if stored is not None:
        return stored
    return _computed(store, period, rules)


def _computed(store: Store, period: Period, rules: IncentiveRules | None) -> Run:
    """The run of a period from the source registers now (no permission check: the callers check)."""
    figures = rules or period_rules(store, period)
    run = Run(period, _lines_of(store, period, figures), pay_month=pay_month(period, figures))
    run.lines += _adjustments(store, period, rules)
    return run


def _adjustments(store: Store, period: Period, rules: IncentiveRules | None) -> list[Line]:
    """For each earlier approved run of the same kind whose period was locked in mode next_period: the
    difference between its figures now and what was approved and carried since, per staff and component."""
    lines = []
    runs = store.conn.execute("SELECT id, period FROM kefu_incentive_runs WHERE kind = ? AND lock_mode = 'next_period' "
                              "AND end_day <= ? ORDER BY first_day", (period.kind, period.first.isoformat())).fetchall()
    for run_id, label in runs:
        earlier = parse_period(label)
        paid: dict[tuple, int] = {}
        for staff, component, fen in store.conn.execute(
                "SELECT staff, component, sum(amount_fen) FROM kefu_incentive_lines WHERE (run_id = ? AND adjusts IS NULL) "
                "OR adjusts = ? GROUP BY staff, component", (run_id, label)):
            paid[(staff, component)] = fen
        now = {}
        for line in _lines_of(store, earlier, rules or period_rules(store, earlier), ranking=False):
            now[(line.staff, line.component)] = line
        for key in sorted(set(paid) | set(now), key=lambda k: (k[0] is None, k[0] or 0, k[1])):
            if key[1] == "ranking_bonus":
                continue                            # the ranking is not a locked register: never re-paid
            fresh = now.get(key)
            difference = (fresh.amount_fen if fresh else 0) - paid.get(key, 0)
            if difference:
                name = fresh.staff_name if fresh else store.user_names().get(key[0], "") if key[0] else ""
                basis = [["ic.basis_difference", {"was": format_fen(paid.get(key, 0)),
                                                  "now": format_fen(fresh.amount_fen if fresh else 0),
                                                  "amount": format_fen(difference)}]]
                lines.append(Line(key[0], name, key[1], basis, difference, adjusts=label))
    return lines


# ---------------------------------------------------------------------------------------------- the chain
# 以上数据由服务部统计，财务部、人力发展部核实计算 … 提交总经理批准: the manager prepares a run (stored with its lines as
# computed then), each checking role checks it in turn, the approving role approves it; anyone whose turn it is
# may send it back to the preparer with a reason. Every step is kept (kefu_incentive_steps) and audited.

OPEN, RETURNED, APPROVED, NONE = "open", "returned", "approved", "none"


@dataclass(frozen=True)
class Step:
    step: str                        # prepare, check, approve, send_back
    role: str
    at: str
    user_id: int | None
    user_name: str
    reason: str | None
    total_fen: int


@dataclass
class Chain:
    """Where a period's run stands on its way to approval, under the rules' chain."""
    period: Period
    rules: IncentiveRules
    draft_id: int | None = None      # None: never prepared
    state: str = NONE                # none, open, returned, approved
    steps: list = field(default_factory=list)     # every step of the period, oldest first
    approved_before: bool = False    # approved in one step, before the chain

    @property
    def current(self) -> list:
        """The steps since the run was last prepared."""
        starts = [n for n, step in enumerate(self.steps) if step.step == "prepare"]
        return self.steps[starts[-1]:] if starts else []

    @property
    def checked(self) -> list:
        """The roles that checked the run as last prepared, in order."""
        return [step.role for step in self.current if step.step == "check"]

    @property
    def missing(self) -> list:
        """The checking roles that have not checked it yet, in the rules' order."""
        return [role for role in self.rules.checks if role not in self.checked]

    @property
    def next(self) -> tuple[str, frozenset] | None:
        """(step, roles) that come next: prepare, check (one role) or approve; None once approved."""
        if self.state == APPROVED or self.approved_before:
            return None
        if self.state in (NONE, RETURNED):
            return "prepare", self.rules.prepare_roles
        if self.missing:
            return "check", frozenset({self.missing[0]})
        return "approve", self.rules.approve_roles

    @property
    def returned_by(self) -> Step | None:
        return self.steps[-1] if self.state == RETURNED and self.steps else None

    def turn_of(self, actor) -> str | None:
        """The step this user may take now (prepare, check, approve), or None."""
        upcoming = self.next
        if actor is None or not actor.active or upcoming is None:
            return None
        step, roles = upcoming
        if actor.role in roles:
            return step
        if actor.role in self.rules.prepare_roles and self.state == OPEN:
            return "prepare"                          # the preparer may prepare again (new figures) until approved
        return None


def chain(store: Store, period: str | Period, *, rules: IncentiveRules | None = None) -> Chain:
    """The chain of a period's run (no permission check; chain_for checks)."""
    period = parse_period(period) if isinstance(period, str) else period
    found = Chain(period, rules or rules_for(store))
    row = store.conn.execute("SELECT id, state FROM kefu_incentive_drafts WHERE period = ?", (period.label,)).fetchone()
    if row is not None:
        found.draft_id, found.state = row
        found.steps = [Step(*values) for values in store.conn.execute(
            "SELECT step, role, at, user_id, user_name, reason, total_fen FROM kefu_incentive_steps "
            "WHERE draft_id = ? ORDER BY id", (row[0],))]
    elif approved_run(store, period.label) is not None:
        found.approved_before = True
    return found


def chain_for(store: Store, actor, period: str | Period, *, rules: IncentiveRules | None = None) -> Chain:
    """The chain as the roles of the chain see it."""
    rules = rules or rules_for(store)
    if actor is None or not actor.active or (actor.role != "system" and actor.role not in rules.chain_roles()):
        raise PermissionDenied()
    return chain(store, period, rules=rules)


def _person(actor, roles) -> None:
    """A step is a named person's of one of `roles`: not the system, not a disabled account."""
    if actor is None or not actor.active or actor.role not in roles:
        raise PermissionDenied()


def _refuse_unless_open(store: Store, found: Chain) -> None:
    label = found.period.label
    if found.state == APPROVED or found.approved_before:
        raise KefuError("ic.already_approved", period=label)
    if found.state == NONE:
        raise ChainRefused("ic.chain_not_prepared", period=label, roles=role_list(found.rules.prepare_roles))
    if found.state == RETURNED:
        back = found.returned_by
        raise ChainRefused("ic.chain_returned", period=label, who=back.user_name if back else "",
                        reason=back.reason if back else "", roles=role_list(found.rules.prepare_roles))


def role_list(roles) -> list:
    """Roles in the order of the role list, for a message (ChainRefused says them in the user's language)."""
    return [role for role in auth.ROLES if role in roles]


ROLE_PARAMS = ("role", "roles", "before", "missing", "checks")


class ChainRefused(KefuError):
    """A step of the chain out of turn or on a run not open for it; the roles it names are said in the
    user's language ("财务、人力发展部", "Finance and HR")."""

    def message(self, lang: str) -> str:
        return t(self.code, lang, **{key: say_roles(value, lang) if key in ROLE_PARAMS else value
                                     for key, value in self.params.items()})


def say_roles(roles, lang: str) -> str:
    names = [t(f"role.{role}", lang) for role in ([roles] if isinstance(roles, str) else roles)]
    if lang != "en":
        return "、".join(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _refuse_if_changed(store: Store, found: Chain, given: IncentiveRules | None) -> Run:
    """The draft as prepared; refused when the registers now give other figures (a record was changed,
    added or removed since): what is checked and approved is what the registers say."""
    draft = draft_run(store, found.period.label)
    now = _computed(store, found.period, given)
    if now.key() != draft.key():
        raise ChainRefused("ic.chain_changed", period=found.period.label, roles=role_list(found.rules.prepare_roles))
    return draft


def changed(store: Store, period: str, *, rules: IncentiveRules | None = None) -> bool:
    """Whether the registers now give other figures than the run as prepared (while it is being checked)."""
    found = chain(store, period, rules=rules)
    if found.state != OPEN:
        return False
    return _computed(store, found.period, rules).key() != draft_run(store, found.period.label).key()


def prepare(store: Store, actor, period: str, *, rules: IncentiveRules | None = None) -> Chain:
    """The preparer's step: the run computed now is stored with its lines and sent for checking (again,
    if it was prepared before: the checks start over)."""
    given, rules = rules, rules or rules_for(store)
    target = parse_period(period)
    _person(actor, rules.prepare_roles)
    with store.transaction() as conn:
        found = chain(store, target, rules=rules)
        if found.state == APPROVED or found.approved_before:
            raise KefuError("ic.already_approved", period=target.label)
        run = _computed(store, target, given)
        at, who = store.now(), actor.display_name
        if found.draft_id is None:
            draft_id = conn.execute(
                "INSERT INTO kefu_incentive_drafts(period, kind, state, prepared_at, prepared_by, prepared_by_name, "
                "pay_month, total_fen, pool_fen, line_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (target.label, target.kind, OPEN, at, actor.id, who, run.pay_month, run.total_fen, run.pool_fen,
                 len(run.lines))).lastrowid
        else:
            draft_id = found.draft_id
            conn.execute("UPDATE kefu_incentive_drafts SET state = ?, prepared_at = ?, prepared_by = ?, "
                         "prepared_by_name = ?, pay_month = ?, total_fen = ?, pool_fen = ?, line_count = ? WHERE id = ?",
                         (OPEN, at, actor.id, who, run.pay_month, run.total_fen, run.pool_fen, len(run.lines), draft_id))
            conn.execute("DELETE FROM kefu_incentive_draft_lines WHERE draft_id = ?", (draft_id,))
        conn.executemany(
            "INSERT INTO kefu_incentive_draft_lines(draft_id, seq, staff, staff_name, component, basis, amount_fen, "
            "pool_fen, adjusts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(draft_id, seq, line.staff, line.staff_name, line.component, json.dumps(line.basis, ensure_ascii=False),
              line.amount_fen, line.pool_fen, line.adjusts) for seq, line in enumerate(run.lines, start=1)])
        _record_step(store, conn, actor, draft_id, target, "prepare", run, None)
    return chain(store, target, rules=rules)


def check(store: Store, actor, period: str, *, rules: IncentiveRules | None = None) -> Chain:
    """A checking role's step (财务部、人力发展部核实计算), in the rules' order, on the run as prepared."""
    given, rules = rules, rules or rules_for(store)
    target = parse_period(period)
    _person(actor, rules.checks)
    with store.transaction() as conn:
        found = chain(store, target, rules=rules)
        _refuse_unless_open(store, found)
        if actor.role in found.checked:
            raise ChainRefused("ic.chain_checked", period=target.label, role=actor.role)
        if found.missing[0] != actor.role:
            before = list(found.rules.checks[:found.rules.checks.index(actor.role)])
            raise ChainRefused("ic.chain_check_early", role=actor.role, before=before,
                            missing=[r for r in before if r in found.missing])
        draft = _refuse_if_changed(store, found, given)
        _record_step(store, conn, actor, found.draft_id, target, "check", draft, None)
    return chain(store, target, rules=rules)


def send_back(store: Store, actor, period: str, reason: str, *, rules: IncentiveRules | None = None) -> Chain:
    """Whoever's turn it is to check or approve sends the run back to the preparer, saying why."""
    rules = rules or rules_for(store)
    target = parse_period(period)
    _person(actor, set(rules.checks) | rules.approve_roles)
    reason = (reason or "").strip()
    if not reason:
        raise KefuError("ic.reason_required")
    if len(reason) > 500:
        raise KefuError("ic.reason_long", max=500)
    with store.transaction() as conn:
        found = chain(store, target, rules=rules)
        _refuse_unless_open(store, found)
        _refuse_out_of_turn(found, actor)
        draft = draft_run(store, target.label)
        conn.execute("UPDATE kefu_incentive_drafts SET state = ? WHERE id = ?", (RETURNED, found.draft_id))
        _record_step(store, conn, actor, found.draft_id, target, "send_back", draft, reason)
    return chain(store, target, rules=rules)


def _refuse_out_of_turn(found: Chain, actor) -> None:
    step, roles = found.next
    if actor.role in roles:
        return
    if actor.role in found.rules.approve_roles:
        raise ChainRefused("ic.chain_approve_early", role=actor.role, checks=list(found.rules.checks),
                        missing=found.missing)
    if actor.role in found.checked:
        raise ChainRefused("ic.chain_checked", period=found.period.label, role=actor.role)
    before = list(found.rules.checks[:found.rules.checks.index(actor.role)])
    raise ChainRefused("ic.chain_check_early", role=actor.role, before=before,
                    missing=[r for r in before if r in found.missing])


def approve(store: Store, actor, period: str, *, rules: IncentiveRules | None = None) -> Run:
    """The approving role's step (提交总经理批准), after every check: the run is stored as approved, exactly
    as prepared and checked, and its period locked (rules [approval] lock)."""
    given, rules = rules, rules or rules_for(store)      # who approves and the lock: the rules now
    target = parse_period(period)
    _person(actor, rules.approve_roles)
    with store.transaction() as conn:                 # checked and stored with nobody writing in between
        found = chain(store, target, rules=rules)
        _refuse_unless_open(store, found)
        if found.missing:
            raise ChainRefused("ic.chain_approve_early", role=actor.role, checks=list(rules.checks),
                            missing=found.missing)
        run = _refuse_if_changed(store, found, given)
        at, who = store.now(), actor.display_name
        run_id = conn.execute(
            "INSERT INTO kefu_incentive_runs(period, kind, first_day, end_day, approved_at, approved_by, "
            "approved_by_name, lock_mode, total_fen, pool_fen, line_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (target.label, target.kind, target.first.isoformat(), target.end.isoformat(), at, actor.id, who,
             rules.lock_mode, run.total_fen, run.pool_fen, len(run.lines))).lastrowid
        conn.execute(
            "INSERT INTO kefu_incentive_lines(run_id, seq, staff, staff_name, component, basis, amount_fen, pool_fen, "
            "adjusts) SELECT ?, seq, staff, staff_name, component, basis, amount_fen, pool_fen, adjusts "
            "FROM kefu_incentive_draft_lines WHERE draft_id = ? ORDER BY seq", (run_id, found.draft_id))
        conn.executemany(
            "INSERT INTO kefu_period_locks(sheet, first_day, end_day, period, mode, locked_at, locked_by, run_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(sheet, target.first.isoformat(), target.end.isoformat(), target.label, rules.lock_mode, at, actor.id,
              run_id) for sheet in target.sheets])
        conn.execute("UPDATE kefu_incentive_drafts SET state = ? WHERE id = ?", (APPROVED, found.draft_id))
        conn.execute("INSERT INTO kefu_incentive_steps(draft_id, step, role, at, user_id, user_name, reason, total_fen) "
                     "VALUES (?, 'approve', ?, ?, ?, ?, NULL, ?)", (found.draft_id, actor.role, at, actor.id, who,
                                                                     run.total_fen))
        store.audit_event(actor, "kefu_incentive_runs", run_id, "approve", None,
                          {"period": target.label, "lines": len(run.lines), "total": format_fen(run.total_fen),
                           "pool": format_fen(run.pool_fen), "lock": rules.lock_mode})
    return approved_run(store, target.label)


def take_step(store: Store, actor, period: str, *, rules: IncentiveRules | None = None):
    """The user's own step on a period's run, whichever it is now (`incentives --approve --user NAME`):
    prepare, check or approve. Refused as that step would be when it is not their turn."""
    rules = rules or rules_for(store)
    found = chain(store, period, rules=rules)
    step = found.turn_of(actor)
    if step is None and actor is not None and actor.role in rules.checks:
        step = "check"                                # refused, naming what is missing
    elif step is None and actor is not None and actor.role in rules.approve_roles:
        step = "approve"
    elif step is None and actor is not None and actor.role in rules.prepare_roles:
        step = "prepare"
    if step == "prepare":
        return prepare(store, actor, period, rules=rules)
    if step == "check":
        return check(store, actor, period, rules=rules)
    if step == "approve":
        return approve(store, actor, period, rules=rules)
    raise PermissionDenied()


def _record_step(store: Store, conn, actor, draft_id: int, period: Period, step: str, run: Run,
                 reason: str | None) -> None:
    conn.execute("INSERT INTO kefu_incentive_steps(draft_id, step, role, at, user_id, user_name, reason, total_fen) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (draft_id, step, actor.role, store.now(), actor.id,
                                                     actor.display_name, reason, run.total_fen))
    values = {"period": period.label, "role": actor.role, "lines": len(run.lines), "total": format_fen(run.total_fen)}
    if reason:
        values["reason"] = reason
    store.audit_event(actor, "kefu_incentive_runs", draft_id, step, None, values)


def draft_run(store: Store, label: str) -> Run | None:
    """The run of a period as last prepared, with its lines as computed then; None if never prepared."""
    row = store.conn.execute("SELECT id, pay_month FROM kefu_incentive_drafts WHERE period = ?", (label,)).fetchone()
    if row is None:
        return None
    return Run(parse_period(label), _stored_lines(store, "kefu_incentive_draft_lines", "draft_id", row[0]),
               pay_month=row[1])


def _stored_lines(store: Store, table: str, parent: str, parent_id: int) -> list[Line]:
    """The lines of a prepared (kefu_incentive_draft_lines) or approved (kefu_incentive_lines) run, in order."""
    return [Line(staff, name, component, json.loads(basis), fen, pool, adjusts)
            for staff, name, component, basis, fen, pool, adjusts in store.conn.execute(
                f"SELECT staff, staff_name, component, basis, amount_fen, pool_fen, adjusts FROM {table} "
                f"WHERE {parent} = ? ORDER BY seq", (parent_id,))]


def approved_run(store: Store, label: str) -> Run | None:
    """The stored run of an approved period, exactly as approved; None if not approved."""
    row = store.conn.execute("SELECT r.id, r.approved_at, r.approved_by_name, d.pay_month, d.id IS NOT NULL "
                             "FROM kefu_incentive_runs r LEFT JOIN kefu_incentive_drafts d ON d.period = r.period "
                             "WHERE r.period = ?", (label,)).fetchone()
    if row is None:
        return None
    lines = _stored_lines(store, "kefu_incentive_lines", "run_id", row[0])
    period = parse_period(label)
    paid = row[3] if row[4] else pay_month(period, rules_on(store, period.last))   # approved before the chain
    return Run(period, lines, approved_at=row[1], approved_by=row[2], run_id=row[0], pay_month=paid)


def recent_periods(today: date, months: int = 12, quarters: int = 4) -> list[str]:
    """Periods a manager may compute: last month first, then earlier months, this and earlier quarters."""
    labels, year, month = [], today.year, today.month
    for _ in range(months):
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        labels.append(f"{year}-{month:02d}")
    year, quarter = today.year, (today.month - 1) // 3 + 1
    for _ in range(quarters):
        labels.append(f"{year}-Q{quarter}")
        year, quarter = (year - 1, 4) if quarter == 1 else (year, quarter - 1)
    return labels


def approved_periods(store: Store, actor) -> list[dict]:
    """The approved runs, newest period first, for every role of the incentives screen."""
    if actor is None or actor.role != "system":
        auth.require_view(actor, VIEW)
    cursor = store.conn.execute("SELECT period, kind, approved_at, approved_by_name, total_fen, pool_fen, line_count "
                                "FROM kefu_incentive_runs ORDER BY first_day DESC, kind")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor]


def states(store: Store) -> dict[str, str]:
    """period -> open, returned or approved, for every period that was prepared or approved."""
    found = dict(store.conn.execute("SELECT period, state FROM kefu_incentive_drafts"))
    for (label,) in store.conn.execute("SELECT period FROM kefu_incentive_runs"):
        found[label] = APPROVED
    return found


def periods_for(store: Store, actor, today: date, *, rules: IncentiveRules | None = None) -> list[str]:
    """The periods this user chooses from: a preparer the recent ones (and any older one still on its way);
    the checking and approving roles those prepared or approved; anyone else the approved ones."""
    rules = rules or rules_for(store)
    auth.require_view(actor, VIEW)
    if may_compute(actor, rules):
        recent = recent_periods(today)
        older = [label for label, state in states(store).items() if state in (OPEN, RETURNED) and label not in recent]
        return recent + sorted(older, key=_period_order, reverse=True)
    if actor.role in rules.chain_roles():
        return sorted(states(store), key=_period_order, reverse=True)
    return [row["period"] for row in approved_periods(store, actor)]


def _period_order(label: str) -> tuple:
    period = parse_period(label)
    return period.first, period.kind == "month"


def run_for(store: Store, actor, period: str, *, rules: IncentiveRules | None = None) -> Run:
    """What this user may see of a period's run: the approved run once approved; before that, for the
    preparers the run as prepared while it is being checked and else computed now, for the checking and
    approving roles the run as prepared (a draft); finance every approved run; anyone else with the
    screen their own lines of the approved run."""
    target = parse_period(period)
    given, rules = rules, rules or rules_for(store)
    if actor is None or actor.role != "system":
        auth.require_view(actor, VIEW)
    stored = approved_run(store, target.label)
    if stored is not None and (actor.role in ("finance", "system") or actor.role in rules.chain_roles()):
        return stored
    if may_compute(actor, rules):
        found = chain(store, target, rules=rules)
        return draft_run(store, target.label) if found.state == OPEN else _computed(store, target, given)
    if actor.role in rules.chain_roles():
        draft = draft_run(store, target.label)
        if draft is None:
            raise NotFound()
        return draft
    if stored is None:
        raise NotFound()
    return stored if actor.role == "finance" else stored.only(actor.id)


# ---------------------------------------------------------------------------------------------- files

def component_label(component: str, lang: str) -> str:
    return t(f"ic.c_{component}", lang)


MONEY_COLUMNS = (5, 6, 7)            # pre-tax amount, income tax (finance fills it in), to the pool
TAX_COLUMN = 6


def table(run: Run, lang: str) -> list[list]:
    """The run as finance's table: a header, one row per line, then the totals, each totals row marked in
    the first column (合计 / TOTAL): one per staff member, the department pool, and the whole run. Amounts
    are before tax (税前金额) with an empty income-tax column beside them (在发放时扣个人所得税: finance fills it
    in), the month the run is paid in (每月4、7、10、第二年1月发放 for a quarter), and the day it was approved,
    or, on every row of a run not approved, the draft mark."""
    rows = [[t("ic.col_period", lang), t("ic.col_staff_id", lang), t("ic.col_staff", lang), t("ic.col_component", lang),
             t("ic.col_basis", lang), t("ic.col_amount", lang), t("ic.col_tax", lang), t("ic.col_pool", lang),
             t("ic.col_paid_in", lang), t("ic.col_approved", lang)]]
    approved = run.approved_at[:10] if run.approved else t("ic.draft_marker", lang)
    paid = run.pay_month or ""
    for line in run.lines:
        name = line.staff_name if line.staff is not None else t("ic.department", lang)
        rows.append([run.period.label, "" if line.staff is None else line.staff, neutralise(name),
                     neutralise(component_label(line.component, lang)), neutralise(line.basis_text(lang)),
                     format_fen(line.amount_fen), "", format_fen(line.pool_fen), paid, approved])
    total = t("ic.total_marker", lang)
    for staff, name, fen in run.per_person():
        rows.append([total, staff, neutralise(name), t("ic.total_person", lang), "", format_fen(fen), "", "", paid,
                     approved])
    rows.append([total, "", t("ic.department", lang), t("ic.total_pool", lang), "", format_fen(run.pool_fen), "", "",
                 paid, approved])
    rows.append([total, "", "", t("ic.total_run", lang), "", format_fen(run.total_fen), "", "", paid, approved])
    return rows


def csv_bytes(run: Run, lang: str) -> bytes:
    """UTF-8 with BOM (Excel reads the Chinese), money with two decimals, ISO dates, text neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(table(run, lang))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def xlsx_bytes(run: Run, lang: str) -> bytes:
    """The same table as an Excel workbook; money as numbers with two decimals, totals rows in bold."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    book = Workbook()
    sheet = book.active
    sheet.title = run.period.label
    rows = table(run, lang)
    marker = t("ic.total_marker", lang)
    for number, row in enumerate(rows):
        cells = list(row)
        if number:
            for column in MONEY_COLUMNS:
                cells[column] = None if cells[column] == "" else Decimal(cells[column])
        sheet.append(cells)
        if number:
            for column in MONEY_COLUMNS:
                sheet.cell(row=number + 1, column=column + 1).number_format = "0.00"
        if number == 0 or row[0] == marker:
            for cell in sheet[number + 1]:
                cell.font = Font(bold=True)
    stamp = _approved_datetime(run)
    if stamp is None:                                  # a draft: stamped now
        return _saved(book)
    book.properties.created = book.properties.modified = stamp
    return _saved(book, stamp)


def _saved(book, stamp=None) -> bytes:
    """The workbook's bytes. With a stamp (an approved run's approval time) the file is the same byte for
    byte at every export: the document properties and every zip entry carry the stamp, not the clock."""
    from zipfile import ZIP_DEFLATED, ZipFile, ZipInfo

    from openpyxl.writer.excel import ExcelWriter
    buffer = io.BytesIO()
    if stamp is None:
        book.save(buffer)
        return buffer.getvalue()
    with ZipFile(buffer, "w", ZIP_DEFLATED) as archive:
        ExcelWriter(book, archive).save()              # book.save would set `modified` to the clock
    fixed = io.BytesIO()
    with ZipFile(io.BytesIO(buffer.getvalue())) as source, ZipFile(fixed, "w", ZIP_DEFLATED) as target:
        for entry in source.infolist():
            info = ZipInfo(entry.filename, date_time=stamp.timetuple()[:6])
            info.compress_type = ZIP_DEFLATED
            target.writestr(info, source.read(entry.filename))
    return fixed.getvalue()


def _approved_datetime(run: Run):
    from datetime import datetime
    return datetime.fromisoformat(run.approved_at).replace(tzinfo=None) if run.approved_at else None


def file_name(run: Run, extension: str) -> str:
    return f"incentives-{run.period.label}{'' if run.approved else '-draft'}.{extension}"


def export(store: Store, actor, period: str, kind: str, lang: str, *, rules: IncentiveRules | None = None) -> bytes:
    """Finance's file of an approved run (or a staff member's own statement); approvers may also take a
    draft. kind: 'csv' or 'xlsx'."""
    run = run_for(store, actor, period, rules=rules)
    return csv_bytes(run, lang) if kind == "csv" else xlsx_bytes(run, lang)
