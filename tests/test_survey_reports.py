"""The yearly full satisfaction survey and its analysis report (000 6、售后服务管理): a) 每年至少进行一次全面的顾客
满意度调查 — the reminder when none ran in the last months; c) 编制"顾客满意度调查分析报告"，经总经理审批后发放到
相关部门 — the report's figures from a campaign's answers against hand-built ones, who sees a draft, the steps in
order (each refused out of order, nothing written), frozen figures; d) 纠正预防措施 listed in the report; the
screens (AppTest)."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest

import apptest
from apptest import texts
from kefu import auth, surveys, survey_reports
from kefu.errors import NotFound, PermissionDenied
from kefu.rules import RulesError
from kefu.sheets import ValidationError

TODAY = date(2026, 12, 10)


def campaign(store, title: str, start: str, end: str | None, scope: str = "full") -> int:
    return store.insert("survey_campaigns", {"title": title, "scope": scope, "started_on": start, "ended_on": end},
                        auth.SYSTEM)


def answer(store, day: str, service: int, price: int, overall: int, comments: str | None = None) -> int:
    taken = datetime.fromisoformat(f"{day}T10:00").replace(tzinfo=store.settings.tz).isoformat()
    return surveys.submit(store, auth.SYSTEM, {"taken_at": taken, "service": service, "price": price,
                                               "overall": overall, "comments": comments})


def audit_rows(store) -> int:
    return store.conn.execute("SELECT count(*) FROM kefu_audit WHERE sheet = 'survey_reports'").fetchone()[0]


# ---------------------------------------------------------------------------------------------- the reminder

def test_每年至少进行一次全面的顾客满意度调查_reminds_when_none_in_12_months(store, make_user):
    manager = make_user("manager")
    due = surveys.full_survey_due(store, manager, today=TODAY)
    assert due is not None and due.months == 12 and due.since == date(2025, 12, 10) and due.last is None
    campaign(store, "2025 全面满意度调查", "2025-11-01", "2025-12-09")          # ended the day before the 12 months
    campaign(store, "会员价格专项调查", "2026-10-01", "2026-10-31", scope="special")   # not a full one
    due = surveys.full_survey_due(store, manager, today=TODAY)
    assert due is not None and due.last["title"] == "2025 全面满意度调查" and due.last["ended_on"] == "2025-12-09"
    campaign(store, "2026 全面满意度调查", "2026-12-20", None)                  # planned, not run yet
    due = surveys.full_survey_due(store, manager, today=TODAY)
    assert due is not None and due.planned["started_on"] == "2026-12-20"
    assert surveys.full_survey_due(store, manager, today=date(2026, 12, 20)) is None    # running from its first day


def test_a_full_survey_ending_on_the_first_day_of_the_12_months_counts(store, make_user):
    manager = make_user("manager")
    campaign(store, "2025 全面满意度调查", "2025-11-01", "2025-12-10")
    assert surveys.full_survey_due(store, manager, today=TODAY) is None
    assert surveys.full_survey_due(store, manager, today=TODAY + timedelta(days=1)) is not None


def test_the_months_are_the_offices_and_only_those_who_record_campaigns_are_reminded(store, make_user):
    campaign(store, "上半年全面调查", "2026-03-01", "2026-03-31")
    manager = make_user("manager")
    assert surveys.full_survey_due(store, manager, today=TODAY) is None
    six = surveys.SurveyRules(full_survey_months=6)
    assert surveys.full_survey_due(store, manager, today=TODAY, rules=six).since == date(2026, 6, 10)
    store.conn.execute("DELETE FROM survey_campaigns")
    assert surveys.full_survey_due(store, make_user("supervisor"), today=TODAY) is not None
    for role in ("staff", "gm", "finance", "admin"):
        assert surveys.full_survey_due(store, make_user(role), today=TODAY) is None


@pytest.mark.parametrize("line, key", [("full_survey_months = 0", "full_survey_months"),
                                       ("full_survey_months = 1.5", "full_survey_months"),
                                       ('report_approvers = ["boss"]', "report_approvers"),
                                       ("report_approvers = []", "report_approvers")])
def test_the_rules_file_is_checked(line, key):
    with pytest.raises(RulesError) as refused:
        surveys.load_rules(text=f"threshold = 3.5\n{line}\n")
    assert refused.value.key == key


def test_the_shipped_rules_and_the_office_rules_screen_offers_them():
    from kefu import office_rules, rules as rule_files
    rules = surveys.load_rules()
    assert (rules.full_survey_months, rules.report_approvers) == (12, ("gm",))
    text = rule_files.file("club_surveys").read_text(encoding="utf-8")
    offered = {f.key: f.value for f in office_rules.figures("club_surveys", text)}
    assert offered["full_survey_months"] == 12 and offered["report_approvers"] == ["gm"]


# ---------------------------------------------------------------------------------------------- the figures

@pytest.fixture
def office(store):
    """Two full campaigns a year apart, their answers, and answers outside both."""
    store.before = campaign(store, "2025 全面满意度调查", "2025-03-01", "2025-03-31")
    store.now_ = campaign(store, "2026 全面满意度调查", "2026-03-01", "2026-03-31")
    answer(store, "2025-03-05", 4, 2, 4)
    answer(store, "2025-03-31", 2, 2, 3)
    answer(store, "2026-02-28", 1, 1, 1, "活动前一天")                           # before: not counted
    answer(store, "2026-03-01", 5, 3, 4, "服务很好")
    answer(store, "2026-03-15", 4, 2, 4, "   ")                                # blank: no comment
    answer(store, "2026-03-20", 3, 2, 5, "价格偏高")
    answer(store, "2026-03-31", 4, 1, 3)
    answer(store, "2026-04-01", 1, 1, 1)                                     # after: not counted
    return store


def test_the_report_is_made_from_the_campaigns_answers(office, make_user):
    figures = survey_reports.campaign_figures(office, make_user("supervisor"), office.now_)
    assert (figures.start, figures.end, figures.answers, figures.comments) == ("2026-03-01", "2026-03-31", 4, 2)
    assert figures.averages == {"service": 4.0, "price": 2.0, "overall": 4.0}
    assert figures.distribution["price"] == {1: 1, 2: 2, 3: 1, 4: 0, 5: 0}
    assert figures.distribution["overall"] == {1: 0, 2: 0, 3: 1, 4: 2, 5: 1}
    assert figures.previous["id"] == office.before and figures.previous_answers == 2
    assert figures.previous_averages == {"service": 3.0, "price": 2.0, "overall": 3.5}
    assert (figures.change("service"), figures.change("price"), figures.change("overall")) == (1.0, 0.0, 0.5)
    first = survey_reports.campaign_figures(office, make_user("manager"), office.before)
    assert first.previous is None and first.change("service") is None


def test_纠正预防措施_recorded_for_the_campaign_are_in_its_report(office, make_user):
    manager = make_user("manager")
    survey_reports.plan_action(office, manager, office.now_, question="price", action="价格公示，会员折扣说明",
                               owner=manager.id, due="2026-05-01")
    surveys.plan_action(office, manager, surveys.Alert("service", 3.0, 10, "2026-11", 3.5), action="另一期间的措施",
                        owner=manager.id, due="2026-12-01")
    listed = survey_reports.actions(office, manager, office.now_)
    assert [(a["question"], a["average"], a["action"]) for a in listed] == [("price", 2.0, "价格公示，会员折扣说明")]
    with pytest.raises(PermissionDenied):                        # supervisors read the actions, the manager plans
        survey_reports.plan_action(office, make_user("supervisor"), office.now_, question="price", action="x",
                                   owner=manager.id, due="2026-05-01")


# ---------------------------------------------------------------------------------------------- the steps

@pytest.fixture
def people(make_user):
    return {role: make_user(role) for role in ("supervisor", "manager", "gm", "staff")}


def test_经总经理审批后发放_a_draft_report_is_not_released_before_the_gm_approves(office, people):
    author, manager, gm = people["supervisor"], people["manager"], people["gm"]
    report = survey_reports.draft(office, author, office.now_, title="2026 年度顾客满意度调查分析报告",
                                  analysis="价格满意度偏低。")
    assert [r["id"] for r in survey_reports.visible(office, manager)] == []          # a draft: not the manager's
    with pytest.raises(NotFound):
        survey_reports.get(office, manager, report)
    assert [r["id"] for r in survey_reports.visible(office, gm)] == [report]
    written = audit_rows(office)
    for step, who in ((survey_reports.release, author), (survey_reports.approve, gm)):
        with pytest.raises(survey_reports.OutOfOrder):
            step(office, who, report, **({"released_to": "销售部"} if step is survey_reports.release else {}))
    assert audit_rows(office) == written and survey_reports.get(office, gm, report)["status"] == "draft"
    with pytest.raises(NotFound):
        survey_reports.submit(office, manager, report)                           # not theirs to see
    with pytest.raises(PermissionDenied):
        survey_reports.submit(office, gm, report)                                # sees it, not the author
    survey_reports.submit(office, author, report)
    with pytest.raises(PermissionDenied):
        survey_reports.approve(office, manager, report)                          # only the gm approves
    with pytest.raises(survey_reports.OutOfOrder):
        survey_reports.release(office, author, report, released_to="销售部")       # submitted, not approved
    assert survey_reports.visible(office, manager) == []
    survey_reports.approve(office, gm, report)
    assert survey_reports.visible(office, manager) == []                         # approved, not released yet
    with pytest.raises(ValidationError) as refused:
        survey_reports.release(office, author, report, released_to=" ")
    assert [p.field for p in refused.value.problems] == ["released_to"]
    survey_reports.release(office, author, report, released_to="销售部、工程部")
    row = survey_reports.get(office, manager, report)
    assert (row["status"], row["approved_by"], row["released_by"], row["released_to"]) == (
        "released", gm.id, author.id, "销售部、工程部")
    assert row["approved_at"] and row["released_at"] >= row["approved_at"]
    steps = [(s.step, s.user_id) for s in survey_reports.history(office, manager, report)]
    assert steps == [("draft", author.id), ("submit", author.id), ("approve", gm.id), ("release", author.id)]
    with pytest.raises(survey_reports.OutOfOrder):
        survey_reports.approve(office, gm, report)                               # released: nothing to approve
    with pytest.raises(PermissionDenied):
        survey_reports.get(office, people["staff"], report)                      # staff: not the screen


def test_the_gm_sends_it_back_with_a_reason_and_the_figures_are_frozen_when_submitted(office, people):
    author, gm = people["manager"], people["gm"]
    report = survey_reports.draft(office, author, office.now_, title="分析报告")
    survey_reports.submit(office, author, report)
    answer(office, "2026-03-10", 1, 1, 1)                                    # an answer added after submitting
    row = survey_reports.get(office, gm, report)
    frozen = survey_reports.figures_of(office, gm, row)
    assert frozen.frozen and frozen.answers == 4 and frozen.averages["service"] == 4.0
    assert frozen.previous_averages["overall"] == 3.5 and frozen.distribution["price"][2] == 2
    with pytest.raises(ValidationError) as refused:
        survey_reports.send_back(office, gm, report, reason="")
    assert [p.field for p in refused.value.problems] == ["return_reason"]
    survey_reports.send_back(office, gm, report, reason="请补充价格方面的原因分析")
    row = survey_reports.get(office, author, report)
    assert (row["status"], row["returned_by"], row["return_reason"]) == ("draft", gm.id, "请补充价格方面的原因分析")
    assert survey_reports.figures_of(office, author, row).answers == 5           # a draft again: live
    survey_reports.edit(office, author, report, title="分析报告（修订）", analysis="价格原因：配件报价。")
    survey_reports.submit(office, author, report)
    assert survey_reports.get(office, gm, report)["answers"] == 5
    assert [s.step for s in survey_reports.history(office, gm, report)] == [
        "draft", "submit", "send_back", "edit", "submit"]


def test_one_report_per_campaign_and_none_without_answers(office, people):
    author = people["supervisor"]
    survey_reports.draft(office, author, office.now_, title="分析报告")
    with pytest.raises(ValidationError) as refused:
        survey_reports.draft(office, people["manager"], office.now_, title="另一份")
    assert [p.field for p in refused.value.problems] == ["campaign"]
    assert "already has its analysis report" in refused.value.messages("en")[0]
    empty = campaign(office, "无人答卷的专项调查", "2026-06-01", "2026-06-30", scope="special")
    report = survey_reports.draft(office, author, empty, title="空的")
    with pytest.raises(ValidationError) as refused:
        survey_reports.submit(office, author, report)
    assert [p.field for p in refused.value.problems] == ["campaign"]
    assert survey_reports.get(office, author, report)["status"] == "draft"
    with pytest.raises(ValidationError) as refused:
        survey_reports.draft(office, author, None, title="")
    assert {p.field for p in refused.value.problems} == {"campaign", "title"}
    with pytest.raises(PermissionDenied):
        survey_reports.draft(office, people["gm"], empty, title="总经理不起草")


# ---------------------------------------------------------------------------------------------- the screens

def reports_screen(user, state: dict | None = None) -> AppTest:
    def script():
        from views import survey_reports as screen
        screen.render()
    at = AppTest.from_function(script, default_timeout=60)
    at.session_state["user"] = user
    at.session_state["lang"] = "en"
    for key, value in (state or {}).items():
        at.session_state[key] = value
    return at.run()


def test_the_screen_drafts_approves_and_prints(office, people, monkeypatch):
    monkeypatch.setenv("KEFU_DB", str(office.location))
    author, gm = people["supervisor"], people["gm"]
    at = reports_screen(author)
    assert not at.exception and "No analysis report you may see yet." in texts(at)
    at.text_input(key="svr__title").input("2026 年度顾客满意度调查分析报告")
    at.text_area(key="svr__analysis").input("价格满意度 **偏低**")
    next(b for b in at.button if b.label == "Create the draft").click().run()
    assert not at.exception and not at.error
    assert [apptest.shown(h.value) for h in at.header] == ["2026 年度顾客满意度调查分析报告"]
    assert "价格满意度 **偏低**" in texts(at)                                      # as typed, not bold
    assert {m.label: m.value for m in at.metric}["Answers"] == "4"
    assert len(at.get("arrow_vega_lite_chart")) + len(at.get("vega_lite_chart")) == 1
    next(b for b in at.button if b.label == "Submit for approval").click().run()
    assert not at.exception and not at.error
    assert "Approve" not in [b.label for b in at.button]                     # the author does not approve
    at = reports_screen(gm)
    next(b for b in at.button if b.label == "Approve").click().run()
    assert not at.exception and not at.error
    report = office.conn.execute("SELECT status, approved_by FROM survey_reports").fetchone()
    assert tuple(report) == ("approved", gm.id)
    at = reports_screen(gm, {"svr__print": True})
    assert not at.exception
    assert not [b for b in at.button if b.label in ("Release", "Approve")]      # the page as it prints
    assert len(at.get("arrow_vega_lite_chart")) + len(at.get("vega_lite_chart")) == 1
    assert "**Approved** by" in "\n".join(str(m.value) for m in at.markdown)


def test_the_manager_is_reminded_on_the_home_screen(store, make_user, monkeypatch):
    monkeypatch.setenv("KEFU_DB", str(store.location))

    def script():
        from views import home
        home.render()

    for role, shown in (("manager", True), ("staff", False)):
        at = AppTest.from_function(script, default_timeout=60)
        at.session_state["user"] = make_user(role)
        at.session_state["lang"] = "en"
        at.run()
        assert not at.exception
        assert ("The yearly full satisfaction survey is due" in texts(at)) == shown
    campaign(store, "全面调查", (date.today() - timedelta(days=40)).isoformat(), None)
    at = AppTest.from_function(script, default_timeout=60)
    at.session_state["user"] = make_user("manager")
    at.session_state["lang"] = "en"
    assert "The yearly full satisfaction survey is due" not in texts(at.run())


@pytest.mark.parametrize("role", ["staff", "finance", "admin"])
def test_the_screen_forced_open_by_other_roles_shows_nothing(store, make_user, monkeypatch, role):
    monkeypatch.setenv("KEFU_DB", str(store.location))
    at = reports_screen(make_user(role))
    assert not at.exception
    assert [w.value for w in at.warning] == ["This screen is not available to your role."] and not at.title
