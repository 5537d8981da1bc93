"""The satisfaction survey analysis report (顾客满意度调查分析报告, 000 6、售后服务管理 c): made from a survey
campaign's answers, drafted by a supervisor or the manager, approved by the gm, then released to the departments
(经总经理审批后发放到相关部门), with the corrective actions recorded for the campaign (d 纠正预防措施).

The figures: the answers taken from the campaign's first day to its last (to today while it runs), each
question's average and 1-5 distribution, how many answers carry a comment, and the same averages of the
previous campaign of the same scope (the latest one that began before). A draft shows them as they are now;
submitting freezes them into the report's own columns, so the gm approves, and the departments receive, the
figures the author saw.

The steps, each one store write (audited: who, when, before, after) inside one transaction with its check:
  draft --submit (its author)--> submitted --approve (report_approvers)--> approved --release--> released
                                 submitted --send back with a reason (report_approvers)--> draft
A step taken out of order (approving a draft, releasing before the approval, ...) is refused, nothing written.

Who sees which: a released report every role that reads schema/survey_reports.toml (supervisors, managers, the
gm); one not released yet only its author and the approvers (rules/club_surveys.toml report_approvers). Who
drafts: the roles that may create in that register. The screen is views/survey_reports.py; this module returns
dicts and dataclasses and never draws.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from kefu import auth, surveys
from kefu.errors import KefuError, NotFound, PermissionDenied
from kefu.i18n import t
from kefu.sheets import Problem, ValidationError
from kefu.store import Store

SHEET, CAMPAIGNS, ACTIONS = "survey_reports", surveys.CAMPAIGNS, surveys.ACTIONS
VIEW = "survey_reports"
STATES = ("draft", "submitted", "approved", "released")
STEPS = ("draft", "submit", "approve", "send_back", "release")
SCORES = (1, 2, 3, 4, 5)
# step -> (the state it starts from, the state it leads to)
MOVES = {"submit": ("draft", "submitted"), "approve": ("submitted", "approved"),
         "send_back": ("submitted", "draft"), "release": ("approved", "released")}


class OutOfOrder(KefuError):
    """A step the report's state does not allow (approving a draft, releasing before the approval)."""
    code = "svr.out_of_order"

    def message(self, lang: str) -> str:
        return t(self.code, lang, step=t(f"svr.do_{self.params['step']}", lang),
                 status=t(f"svr.status_{self.params['status']}", lang))


# ---------------------------------------------------------------------------------------------- who may

def approvers(rules: surveys.SurveyRules | None = None) -> tuple:
    return (rules or surveys.load_rules()).report_approvers


def may_open(actor) -> bool:
    """The screen: supervisors, managers and the gm (auth.VIEW_ROLES)."""
    return actor is not None and (actor.role == "system" or auth.can_view(actor, VIEW))


def may_draft(store: Store, actor) -> bool:
    return may_open(actor) and auth.can(actor, store.sheet(SHEET), "create")


def is_approver(actor, rules=None) -> bool:
    return actor is not None and actor.active and (actor.role == "system" or actor.role in approvers(rules))


def _require_screen(actor) -> None:
    if not may_open(actor):
        raise PermissionDenied()


def sees(store: Store, actor, report: dict, rules=None) -> bool:
    """A released report: every reader of the register; any other: its author and the approvers."""
    if actor.role == "system" or is_approver(actor, rules) or report["author"] == actor.id:
        return True
    return report["status"] == "released" and auth.can(actor, store.sheet(SHEET), "read")


# ---------------------------------------------------------------------------------------------- figures

@dataclass
class Figures:
    """A campaign's results, as the report shows them."""
    campaign: dict
    start: str
    end: str
    answers: int = 0
    comments: int = 0
    averages: dict = field(default_factory=dict)          # question -> average or None
    distribution: dict = field(default_factory=dict)      # question -> {score: answers}
    previous: dict | None = None                          # the previous campaign of the same scope
    previous_answers: int | None = None
    previous_averages: dict = field(default_factory=dict)
    frozen: bool = False                                  # read from the report as submitted

    def change(self, question: str) -> float | None:
        now, before = self.averages.get(question), self.previous_averages.get(question)
        return None if now is None or before is None else round(now - before, 2)


def _campaign(store: Store, campaign_id) -> dict:
    row = store.conn.execute("SELECT id, title, scope, started_on, ended_on FROM survey_campaigns "
                             "WHERE id = ? AND deleted_at IS NULL", (campaign_id,)).fetchone()
    if row is None:
        raise NotFound()
    return dict(zip(("id", "title", "scope", "started_on", "ended_on"), row))


def span(campaign: dict, today) -> tuple[str, str]:
    """The campaign's first and last day (today while it has no last day)."""
    return campaign["started_on"], campaign["ended_on"] or today.isoformat()


def _previous(store: Store, campaign: dict) -> dict | None:
    row = store.conn.execute(
        "SELECT id, title, scope, started_on, ended_on FROM survey_campaigns WHERE scope = ? AND deleted_at IS NULL "
        "AND (started_on < ? OR (started_on = ? AND id < ?)) ORDER BY started_on DESC, id DESC LIMIT 1",
        (campaign["scope"], campaign["started_on"], campaign["started_on"], campaign["id"])).fetchone()
    return None if row is None else dict(zip(("id", "title", "scope", "started_on", "ended_on"), row))


def campaign_figures(store: Store, actor, campaign_id: int) -> Figures:
    """The campaign's results now, with the previous campaign's averages."""
    _require_screen(actor)
    reader = auth.acting_for(actor)
    campaign = _campaign(store, campaign_id)
    today = surveys.office_today(store)
    start, end = span(campaign, today)
    found = surveys.results(store, reader, start, end)
    figures = Figures(campaign=campaign, start=start, end=end, answers=found["count"],
                      averages={q: v["average"] for q, v in found["questions"].items()},
                      distribution={q: v["distribution"] for q, v in found["questions"].items()})
    figures.comments = store.conn.execute(
        "SELECT count(*) FROM surveys WHERE deleted_at IS NULL AND taken_at >= ? AND taken_at < date(?, '+1 day') "
        "AND comments IS NOT NULL AND trim(comments) != ''", (start, end)).fetchone()[0]
    figures.previous = _previous(store, campaign)
    if figures.previous:
        before = surveys.results(store, reader, *span(figures.previous, today))
        figures.previous_answers = before["count"]
        figures.previous_averages = {q: v["average"] for q, v in before["questions"].items()}
    return figures


def frozen_figures(store: Store, report: dict) -> Figures:
    """The figures a submitted report holds."""
    campaign = _campaign(store, report["campaign"])
    today = surveys.office_today(store)
    start, end = span(campaign, today)
    previous = _campaign(store, report["previous_campaign"]) if report["previous_campaign"] else None
    return Figures(
        campaign=campaign, start=start, end=end, answers=report["answers"] or 0,
        comments=report["comments_count"] or 0, frozen=True,
        averages={q: report[f"{q}_avg"] for q in surveys.QUESTIONS},
        distribution={q: {s: report[f"{q}_{s}"] or 0 for s in SCORES} for q in surveys.QUESTIONS},
        previous=previous, previous_answers=report["previous_answers"] if previous else None,
        previous_averages={q: report[f"previous_{q}_avg"] for q in surveys.QUESTIONS} if previous else {})


def figures_of(store: Store, actor, report: dict) -> Figures:
    """What the report shows: frozen once submitted, live while a draft."""
    if report["status"] == "draft":
        return campaign_figures(store, actor, report["campaign"])
    return frozen_figures(store, report)


def _frozen_columns(figures: Figures) -> dict:
    columns = {"answers": figures.answers, "comments_count": figures.comments,
               "previous_campaign": figures.previous["id"] if figures.previous else None,
               "previous_answers": figures.previous_answers}
    for q in surveys.QUESTIONS:
        columns[f"{q}_avg"] = figures.averages[q]
        columns[f"previous_{q}_avg"] = figures.previous_averages.get(q)
        columns.update({f"{q}_{s}": figures.distribution[q][s] for s in SCORES})
    return columns


def actions(store: Store, actor, campaign_id: int) -> list[dict]:
    """The corrective actions recorded for the campaign, oldest first."""
    _require_screen(actor)
    cursor = store.conn.execute(
        "SELECT id, question, average, action, owner, due, done FROM corrective_actions WHERE campaign = ? "
        "AND deleted_at IS NULL ORDER BY id", (campaign_id,))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor]


def plan_action(store: Store, actor, campaign_id: int, *, question: str, action: str, owner, due) -> int:
    """Record a corrective action answering the campaign's results (000 d 纠正预防措施)."""
    sheet = store.sheet(ACTIONS)
    if not auth.can(actor, sheet, "create"):
        raise PermissionDenied()
    figures = campaign_figures(store, actor, campaign_id)
    period = f"{figures.start}~{figures.end}"
    return store.insert(ACTIONS, {"campaign": campaign_id, "period": period, "question": question,
                                  "average": figures.averages.get(question), "action": action, "owner": owner,
                                  "due": due, "done": False}, actor)


# ---------------------------------------------------------------------------------------------- reading

def get(store: Store, actor, report_id: int, *, rules=None) -> dict:
    """One report the actor may see, else NotFound (a draft of someone else's is not there for them)."""
    _require_screen(actor)
    row = store.get(SHEET, report_id, auth.acting_for(actor))
    if row is None or row.get("deleted_at") or not sees(store, actor, row, rules):
        raise NotFound()
    return row


def visible(store: Store, actor, *, rules=None) -> list[dict]:
    """The reports the actor may see, newest first: id, title, campaign, status, author."""
    _require_screen(actor)
    rules = rules or surveys.load_rules()
    if is_approver(actor, rules):
        where, params = "", []
    elif not auth.can(actor, store.sheet(SHEET), "read"):
        where, params = "AND author = ?", [actor.id]
    else:
        where, params = "AND (status = 'released' OR author = ?)", [actor.id]
    cursor = store.conn.execute(
        f"SELECT r.id, r.title, r.campaign, c.title, r.status, r.author FROM survey_reports r "
        f"LEFT JOIN survey_campaigns c ON c.id = r.campaign WHERE r.deleted_at IS NULL {where} ORDER BY r.id DESC",
        params)
    return [dict(zip(("id", "title", "campaign", "campaign_title", "status", "author"), row)) for row in cursor]


def open_campaigns(store: Store, actor) -> list[dict]:
    """The campaigns that have no report yet, newest first: what a new report may be made from."""
    _require_screen(actor)
    cursor = store.conn.execute(
        "SELECT id, title, scope, started_on, ended_on FROM survey_campaigns c WHERE deleted_at IS NULL AND NOT EXISTS "
        "(SELECT 1 FROM survey_reports r WHERE r.campaign = c.id AND r.deleted_at IS NULL) "
        "ORDER BY started_on DESC, id DESC")
    return [dict(zip(("id", "title", "scope", "started_on", "ended_on"), row)) for row in cursor]


@dataclass(frozen=True)
class Step:
    at: str
    user_id: int | None
    username: str
    step: str                   # one of STEPS, or "edit"
    status: str | None
    note: str | None = None


def history(store: Store, actor, report_id: int) -> list[Step]:
    """Every step the report went through, from the audit log: who, when, what, and the reason of a send-back."""
    get(store, actor, report_id)
    out = []
    for at, user_id, username, action, after in store.conn.execute(
            "SELECT at, user_id, username, action, after FROM kefu_audit WHERE sheet = ? AND row_id = ? ORDER BY id",
            (SHEET, report_id)):
        changed = json.loads(after) if after else {}
        if action == "create":
            out.append(Step(at, user_id, username, "draft", "draft"))
            continue
        status = changed.get("status")
        step = {"submitted": "submit", "approved": "approve", "released": "release",
                "draft": "send_back"}.get(status, "edit")
        out.append(Step(at, user_id, username, step, status, changed.get("return_reason") if step == "send_back"
                        else changed.get("released_to") if step == "release" else None))
    return out


# ---------------------------------------------------------------------------------------------- steps

def draft(store: Store, actor, campaign_id, *, title: str, analysis: str = "") -> int:
    """A new report of a campaign, as a draft by the actor. One report per campaign."""
    if not may_draft(store, actor):
        raise PermissionDenied()
    sheet = store.sheet(SHEET)
    with store.transaction() as conn:
        if campaign_id is not None and conn.execute(
                "SELECT 1 FROM survey_reports WHERE campaign = ? AND deleted_at IS NULL", (campaign_id,)).fetchone():
            raise ValidationError(sheet, [Problem("campaign", "svr.campaign_taken", {})])
        return store.insert(SHEET, {"campaign": campaign_id, "title": title, "analysis": analysis,
                                    "author": actor.id, "status": "draft"}, actor)


def edit(store: Store, actor, report_id: int, *, title: str, analysis: str, expected_version: int | None = None) -> dict:
    """Change a draft's title and analysis: its author only, and only while it is a draft."""
    with store.transaction():
        report = get(store, actor, report_id)
        if report["author"] != actor.id:
            raise PermissionDenied()
        _expect(report, "edit")
        return store.update(SHEET, report_id, {"title": title, "analysis": analysis}, auth.acting_for(actor),
                            expected_version=expected_version)


def _expect(report: dict, step: str) -> None:
    wanted = MOVES[step][0] if step in MOVES else "draft"
    if report["status"] != wanted:
        raise OutOfOrder(step=step, status=report["status"])


def submit(store: Store, actor, report_id: int, *, expected_version: int | None = None) -> dict:
    """The author sends the draft to the approvers; its figures are frozen now. A campaign without answers
    has nothing to report."""
    with store.transaction():
        report = get(store, actor, report_id)
        if report["author"] != actor.id:
            raise PermissionDenied()
        _expect(report, "submit")
        figures = campaign_figures(store, actor, report["campaign"])
        if not figures.answers:
            raise ValidationError(store.sheet(SHEET), [Problem("campaign", "svr.no_answers", {})])
        changes = {**_frozen_columns(figures), "status": "submitted", "submitted_at": store.now()}
        return store.update(SHEET, report_id, changes, auth.acting_for(actor), expected_version=expected_version,
                            allow_readonly=True)


def approve(store: Store, actor, report_id: int, *, expected_version: int | None = None) -> dict:
    """An approver approves a submitted report (经总经理审批)."""
    if not is_approver(actor):
        raise PermissionDenied()
    with store.transaction():
        report = get(store, actor, report_id)
        _expect(report, "approve")
        return store.update(SHEET, report_id, {"status": "approved", "approved_by": actor.id,
                                               "approved_at": store.now()}, auth.acting_for(actor),
                            expected_version=expected_version, allow_readonly=True)


def send_back(store: Store, actor, report_id: int, *, reason: str, expected_version: int | None = None) -> dict:
    """An approver returns a submitted report to its author with a reason; it is a draft again."""
    if not is_approver(actor):
        raise PermissionDenied()
    sheet = store.sheet(SHEET)
    if not (reason or "").strip():
        raise ValidationError(sheet, [Problem("return_reason", "err.required", {})])
    with store.transaction():
        report = get(store, actor, report_id)
        _expect(report, "send_back")
        return store.update(SHEET, report_id, {"status": "draft", "returned_by": actor.id,
                                               "returned_at": store.now(), "return_reason": reason.strip()},
                            auth.acting_for(actor),
                            expected_version=expected_version, allow_readonly=True)


def release(store: Store, actor, report_id: int, *, released_to: str, expected_version: int | None = None) -> dict:
    """Release an approved report to the departments named (发放到相关部门): its author or an approver."""
    sheet = store.sheet(SHEET)
    with store.transaction():
        report = get(store, actor, report_id)
        if report["author"] != actor.id and not is_approver(actor):
            raise PermissionDenied()
        _expect(report, "release")
        if not (released_to or "").strip():
            raise ValidationError(sheet, [Problem("released_to", "err.required", {})])
        return store.update(SHEET, report_id, {"status": "released", "released_by": actor.id,
                                               "released_at": store.now(), "released_to": released_to.strip()},
                            auth.acting_for(actor), expected_version=expected_version, allow_readonly=True)


def next_steps(store: Store, actor, report: dict) -> list[str]:
    """The steps the actor may take on the report now (for the screen's buttons)."""
    author, approver = report["author"] == actor.id, is_approver(actor)
    status = report["status"]
    steps = []
    if status == "draft" and author:
        steps += ["edit", "submit"]
    if status == "submitted" and approver:
        steps += ["approve", "send_back"]
    if status == "approved" and (author or approver):
        steps.append("release")
    return steps
