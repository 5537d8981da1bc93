"""Satisfaction surveys (满意度调查): answers taken on the phone or on the kiosk, results per period (averages
and 1-5 distributions of service quality, price and the company overall), the corrective action
(纠正预防措施) asked for when an average of the watched period is at or below rules/club_surveys.toml's
threshold, and the reminder when no full survey campaign (全面的顾客满意度调查, schema/survey_campaigns.toml)
ran in the last full_survey_months months (000: 每年至少进行一次)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from kefu import auth
from kefu.config import ROOT
from kefu.errors import PermissionDenied
from kefu import rules as rule_files
from kefu.rules import RulesError, read_rules
from kefu.sheets import ROLES
from kefu.store import Store

SHEET, ACTIONS, CAMPAIGNS = "surveys", "corrective_actions", "survey_campaigns"
QUESTIONS = ("service", "price", "overall")
RULES_FILE = ROOT / "rules" / "club_surveys.toml"
WINDOWS = ("last_30_days", "month")


@dataclass(frozen=True)
class SurveyRules:
    threshold: float = 3.5
    window: str = "last_30_days"
    min_answers: int = 10
    full_survey_months: int = 12
    report_approvers: tuple = ("gm",)


def load_rules(path: Path | None = None, *, text: str | None = None) -> SurveyRules:
    """rules/club_surveys.toml; text: these rules instead of the file's (a text checked before saving)."""
    file = path or rule_files.file("club_surveys")
    data = read_rules(file, text)
    threshold = data.get("threshold", 3.5)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 1 <= threshold <= 5:
        raise RulesError(f"{file}: threshold must be a number from 1 to 5, not {threshold!r}", key="threshold",
                         code="rl.number_range", low=1, high=5, value=threshold)
    window = data.get("window", "last_30_days")
    if window not in WINDOWS:
        raise RulesError(f"{file}: window must be one of {', '.join(WINDOWS)}, not {window!r}", key="window",
                         code="rl.one_of", choices=", ".join(WINDOWS), value=window)
    minimum = data.get("min_answers", 10)
    if isinstance(minimum, bool) or not isinstance(minimum, int) or minimum < 1:
        raise RulesError(f"{file}: min_answers must be a whole number of at least 1, not {minimum!r}",
                         key="min_answers", code="rl.whole_min", low=1, value=minimum)
    months = data.get("full_survey_months", 12)
    if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= 120:
        raise RulesError(f"{file}: full_survey_months must be a whole number from 1 to 120, not {months!r}",
                         key="full_survey_months", code="rl.number_range", low=1, high=120, value=months)
    approvers = data.get("report_approvers", ["gm"])
    if not isinstance(approvers, list) or not approvers or not all(isinstance(r, str) and r in ROLES for r in approvers):
        raise RulesError(f"{file}: report_approvers must be a list of roles ({', '.join(ROLES)}), not {approvers!r}",
                         key="report_approvers", code="rl.roles", roles=", ".join(ROLES))
    return SurveyRules(float(threshold), window, minimum, months, tuple(approvers))


def office_today(store: Store) -> date:
    return datetime.now(store.settings.tz).date()


# ---------------------------------------------------------------------------------------------- answers

def submit(store: Store, actor, values: dict) -> int:
    """Record one survey answer. Staff taking it on the phone are its `taken_by`; the kiosk identity
    may give only the three ratings and a comment, always channel "kiosk", anonymous."""
    sheet = store.sheet(SHEET)
    auth.require(actor, sheet, "create")
    now = store.now()
    if actor.role == auth.KIOSK_ROLE:
        values = {k: v for k, v in values.items() if k in (*QUESTIONS, "comments")}
        values.update(channel="kiosk", taken_at=now)
    elif actor.role == "system":                       # seeding, imports: as given
        values = {"channel": "call", "taken_at": now, **values}
    else:                                               # staff on the phone: now, by them
        values = {**values, "channel": "call", "taken_at": now, "taken_by": actor.id}
    return store.insert(SHEET, values, actor)


# ---------------------------------------------------------------------------------------------- results

def _span(start, end) -> tuple[str, str]:
    return str(start)[:10], str(end)[:10]


def results(store: Store, actor, start, end) -> dict:
    """The answers taken from start to end (dates, inclusive): count, and per question the average
    (None without answers) and how many gave each score 1-5."""
    auth.require(actor, store.sheet(SHEET), "read")
    first, last = _span(start, end)
    where = "deleted_at IS NULL AND taken_at >= ? AND taken_at < date(?, '+1 day')"
    conn = store.conn
    row = conn.execute(f"SELECT count(*), {', '.join(f'avg({q})' for q in QUESTIONS)} FROM surveys WHERE {where}",
                       (first, last)).fetchone()
    out = {"count": row[0], "start": first, "end": last, "questions": {}}
    for index, question in enumerate(QUESTIONS, start=1):
        spread = dict(conn.execute(f"SELECT {question}, count(*) FROM surveys WHERE {where} GROUP BY {question}",
                                   (first, last)).fetchall())
        average = row[index]
        out["questions"][question] = {"average": None if average is None else round(average, 2),
                                      "distribution": {score: spread.get(score, 0) for score in range(1, 6)}}
    return out


def comments(store: Store, actor, start, end, *, limit: int = 100) -> list[dict]:
    """The newest comments of the period, with their scores."""
    auth.require(actor, store.sheet(SHEET), "read")
    first, last = _span(start, end)
    cursor = store.conn.execute(
        "SELECT taken_at, channel, service, price, overall, comments FROM surveys WHERE deleted_at IS NULL "
        "AND taken_at >= ? AND taken_at < date(?, '+1 day') AND comments IS NOT NULL AND comments != '' "
        "ORDER BY taken_at DESC, id DESC LIMIT ?", (first, last, limit))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r)) for r in cursor]


def watched_period(today: date, rules: SurveyRules) -> tuple[date, date, str]:
    """(start, end, label) of the period the threshold applies to."""
    if rules.window == "month":
        start = today.replace(day=1)
        return start, today, f"{today:%Y-%m}"
    start = today - timedelta(days=29)
    return start, today, f"{start.isoformat()}~{today.isoformat()}"


@dataclass(frozen=True)
class Alert:
    question: str
    average: float
    count: int
    period: str
    threshold: float


def alerts(store: Store, actor, *, today: date | None = None, rules: SurveyRules | None = None) -> list[Alert]:
    """For those who plan corrective actions: each question whose average in the watched period is at
    or below the threshold and has no corrective action for that period yet."""
    actions = store.sheets.get(ACTIONS)
    if actions is None or SHEET not in store.sheets or not auth.can(actor, actions, "create"):
        return []
    rules = rules or load_rules()
    start, end, label = watched_period(today or office_today(store), rules)
    found = results(store, auth.acting_for(actor), start, end)
    if found["count"] < rules.min_answers:
        return []
    planned = {r[0] for r in store.conn.execute(
        "SELECT question FROM corrective_actions WHERE period = ? AND deleted_at IS NULL", (label,))}
    return [Alert(q, found["questions"][q]["average"], found["count"], label, rules.threshold) for q in QUESTIONS
            if q not in planned and found["questions"][q]["average"] is not None
            and found["questions"][q]["average"] <= rules.threshold]


def plan_action(store: Store, actor, alert: Alert, *, action: str, owner, due) -> int:
    """Record the corrective action asked for by an alert."""
    sheet = store.sheet(ACTIONS)
    if not auth.can(actor, sheet, "create"):
        raise PermissionDenied()
    return store.insert(ACTIONS, {"period": alert.period, "question": alert.question, "average": alert.average,
                                  "action": action, "owner": owner, "due": due, "done": False}, actor)


# ---------------------------------------------------------------------------------------------- campaigns

def months_before(day: date, months: int) -> date:
    """The same day `months` calendar months earlier (the month's last day where it is shorter)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    following = date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
    return date(year, month + 1, min(day.day, (following - timedelta(days=1)).day))


@dataclass(frozen=True)
class FullSurveyDue:
    """No full survey ran from `since` to today: the last one before (or None) and any planned after today."""
    months: int
    since: date
    last: dict | None
    planned: dict | None


def _campaign(row) -> dict | None:
    return None if row is None else dict(zip(("id", "title", "started_on", "ended_on"), row))


def full_survey_due(store: Store, actor, *, today: date | None = None,
                    rules: SurveyRules | None = None) -> FullSurveyDue | None:
    """For those who record campaigns: a reminder when no full campaign ran in the last full_survey_months
    months, i.e. none began on or before today and lasted (to its last day, or to today while it runs) into
    that span. None when one did, or for anyone else."""
    sheet = store.sheets.get(CAMPAIGNS)
    if sheet is None or not auth.can(actor, sheet, "create"):
        return None
    rules = rules or load_rules()
    today = today or office_today(store)
    since = months_before(today, rules.full_survey_months)
    first, now = since.isoformat(), today.isoformat()
    ran = store.conn.execute(
        "SELECT 1 FROM survey_campaigns WHERE scope = 'full' AND started_on <= ? AND deleted_at IS NULL "
        "AND coalesce(ended_on, ?) >= ? LIMIT 1", (now, now, first)).fetchone()
    if ran:
        return None
    last = store.conn.execute(
        "SELECT id, title, started_on, ended_on FROM survey_campaigns WHERE scope = 'full' AND started_on <= ? "
        "AND deleted_at IS NULL ORDER BY started_on DESC, id DESC LIMIT 1", (now,)).fetchone()
    planned = store.conn.execute(
        "SELECT id, title, started_on, ended_on FROM survey_campaigns WHERE scope = 'full' AND started_on > ? "
        "AND deleted_at IS NULL ORDER BY started_on, id LIMIT 1", (now,)).fetchone()
    return FullSurveyDue(rules.full_survey_months, since, _campaign(last), _campaign(planned))
