"""The KPI tables of seed 001 (kefu.kpi department_score, supervisor_scores, pass_rates) against a hand-made
office with known answers: 客服部经理考核指标表 scores the department for a quarter (50/20/10/10/10),
受理组主管考核指标表 scores each supervisor (40/20/10/10/10/10), the 合格率 targets (85/90/95) beside the
actual figures, a table whose weights do not add up to 100 refused naming it, and the fault deduction
(no seed gives it) off by default."""
from pathlib import Path

import pytest

from kefu import auth, kpi, office_rules
from kefu.errors import PermissionDenied
from kefu.rules import RulesError

RULES_TEXT = (Path(__file__).resolve().parent.parent / "rules" / "kpi.toml").read_text(encoding="utf-8")


def at(text: str) -> str:
    return f"2026-{text}+08:00"


def ticket(store, staff, created: str, satisfaction: int | None, kind: str = "complaint", fault=None) -> int:
    ticket_id = store.insert("tickets", {
        "channel": "hotline", "kind": kind, "category": "speed", "severity": "normal", "caller_name": "陈先生",
        "subject": "维修迟迟不上门", "state": "closed", "assignee": staff.id, "satisfaction": satisfaction,
        "resolution_due": at("12-31T18:00:00"), "resolved_at": at("11-30T10:00:00"),
        "fault_staff": fault.id if fault else None}, auth.SYSTEM)
    store.conn.execute("UPDATE tickets SET created_at = ? WHERE id = ?", (at(created), ticket_id))
    return ticket_id


def review(store, manager, staff, skill: int, *, internal=100, report=100, mbo=None, year=2026, quarter=4):
    store.insert("kpi_reviews", {"staff": staff.id, "year": year, "quarter": str(quarter), "skill_pass_rate": skill,
                                 "process_improvement": 100, "internal_satisfaction": internal,
                                 "report_timeliness": report, "mbo": mbo}, manager)


def spot(store, manager, staff, week: str, result: str) -> None:
    checked = ticket(store, staff, "11-02T09:00:00", None, kind="inquiry")
    store.insert("spot_checks", {"week": week, "ticket": checked, "staff": staff.id, "result": result}, manager)


def rules_with(old: str, new: str) -> kpi.KpiRules:
    assert old in RULES_TEXT
    return kpi.load_rules(text=RULES_TEXT.replace(old, new, 1))


# ---------------------------------------------------------------------------------------------- 客服部经理考核指标表

def test_客服部经理考核指标表_scores_the_department_for_a_quarter(store, make_user):
    manager, gm = make_user("manager"), make_user("gm")
    a, b = make_user("staff", "staff-a"), make_user("staff", "staff-b")
    ticket(store, a, "11-02T10:00:00", 5)
    ticket(store, b, "12-01T10:00:00", 3, kind="inquiry")           # follow-ups 5 and 3: 4 stars, 75 on 0-100
    ticket(store, a, "09-30T10:00:00", 1)                           # the quarter before: not counted
    review(store, manager, a, 80)
    review(store, manager, b, 90)                                   # skill pass rate: mean 85
    review(store, manager, b, 10, quarter=3)                        # another quarter's review: not counted
    store.insert("department_reviews", {"year": 2026, "quarter": "4", "process_improvement": 70,
                                        "internal_satisfaction": 60, "report_timeliness": 90}, gm)
    score = kpi.department_score(store, gm, 2026, 4)
    assert score.parts == {"satisfaction": pytest.approx(75), "skill_pass_rate": pytest.approx(85),
                           "process_improvement": 70, "internal_satisfaction": 60, "report_timeliness": 90}
    # 部门人员总体服务质量 50% + 岗位技能合格率 20% + 流程标准化 10% + 内部客户满意度 10% + 服务分析报表 10%
    assert score.score == pytest.approx(0.5 * 75 + 0.2 * 85 + 0.1 * 70 + 0.1 * 60 + 0.1 * 90)    # 76.5
    assert score.entered and score.missing == []
    assert kpi.department_score(store, manager, 2026, 4).score == pytest.approx(76.5)   # the manager sees it too


def test_客服部经理考核指标表_without_the_department_review_counts_its_parts_as_0(store, make_user):
    manager, gm = make_user("manager"), make_user("gm")
    a = make_user("staff", "staff-a")
    ticket(store, a, "11-02T10:00:00", 5)                           # 100
    score = kpi.department_score(store, gm, 2026, 4)
    assert not score.entered
    assert score.missing == ["skill_pass_rate", "process_improvement", "internal_satisfaction", "report_timeliness"]
    assert score.score == pytest.approx(50)
    assert kpi.department_score(store, gm, 2026, 2).score is None   # a quarter with nothing: no score at all


def test_the_kpi_tables_are_the_managers_and_the_gms(store, make_user):
    for role in ("staff", "supervisor"):
        someone = make_user(role)
        for table in (kpi.department_score, kpi.supervisor_scores, kpi.pass_rates):
            with pytest.raises(PermissionDenied):
                table(store, someone, 2026, 4)


# ---------------------------------------------------------------------------------------------- 受理组主管考核指标表

def test_受理组主管考核指标表_scores_a_supervisor_on_his_team(store, make_user):
    manager = make_user("manager")
    chief = make_user("supervisor", "chief")
    a, c = make_user("staff", "staff-a"), make_user("staff", "staff-c")
    for person, team in ((chief, "intake"), (a, "intake"), (c, "complaints")):
        store.insert("staff_teams", {"staff": person.id, "team": team}, manager)
    ticket(store, a, "11-02T10:00:00", 5)                           # his team's complaint: 5 stars, 100
    ticket(store, a, "11-03T10:00:00", 1, kind="inquiry")           # an inquiry: not a complaint
    ticket(store, c, "11-04T10:00:00", 1)                           # another team's complaint
    review(store, manager, chief, 95, internal=80, report=70, mbo=60)   # his own: reports, internal, MBO
    review(store, manager, a, 75)                                   # his staff's skill pass rate: 75
    review(store, manager, c, 10)                                   # another team's
    for result in ("pass", "pass", "fail"):                         # his staff's spot checks: 2 of 3
        spot(store, manager, a, "2026-11-02", result)
    spot(store, manager, c, "2026-11-02", "fail")
    [line] = kpi.supervisor_scores(store, manager, 2026, 4)
    assert (line.key, line.team, line.entered) == (chief.id, "intake", True)
    assert line.parts == {"complaint_satisfaction": pytest.approx(100), "report_timeliness": 70,
                          "internal_satisfaction": 80, "skill_improvement": pytest.approx(75),
                          "service_quality": pytest.approx(200 / 3), "mbo": 60}
    # 投诉处理总体客户满意度 40 + 报表 20 + 内部客户满意度 10 + 本组人员技能提升效果 10 + 服务质量 10 + MBO管理 10
    assert line.score == pytest.approx(round(40 + 0.2 * 70 + 0.1 * 80 + 0.1 * 75 + 0.1 * 200 / 3 + 0.1 * 60, 2))


def test_受理组主管考核指标表_a_supervisor_in_no_team_answers_for_the_department(store, make_user):
    manager = make_user("manager")
    high, low = make_user("supervisor", "sup-high"), make_user("supervisor", "sup-low")
    a = make_user("staff", "staff-a")
    ticket(store, a, "11-02T10:00:00", 3)                           # the department's complaints: 50
    review(store, manager, high, 90, internal=90, report=90, mbo=90)
    rows = kpi.supervisor_scores(store, manager, 2026, 4)
    assert [r.key for r in rows] == [high.id, low.id] and rows[0].team is None
    assert rows[0].score == pytest.approx(0.4 * 50 + 0.2 * 90 + 0.1 * 90 + 0.1 * 90 + 0.1 * 90)
    assert rows[1].score == pytest.approx(0.4 * 50 + 0.1 * 90) and not rows[1].entered   # no review: 0 for those


# ---------------------------------------------------------------------------------------------- 合格率

def test_合格率_targets_85_90_95_beside_the_actual_figures(store, make_user):
    manager, gm = make_user("manager"), make_user("gm")
    a = make_user("staff", "staff-a")
    for result in ("pass", "pass", "pass", "fail"):                 # the quarter: 3 of 4, 75%
        spot(store, manager, a, "2026-11-02", result)
    for result in ("pass",) * 6:                                    # earlier in the year: the year 9 of 10, 90%
        spot(store, manager, a, "2026-08-03", result)
    spot(store, manager, a, "2025-12-01", "fail")                   # last year: not counted
    review(store, manager, a, 96)
    rates = {r.key: r for r in kpi.pass_rates(store, gm, 2026, 4)}
    assert {k: (r.target, r.actual, r.basis, r.met) for k, r in rates.items()} == {
        "quarterly_pass_rate": (85, pytest.approx(75), 4, False),   # 平均季度合格率为85%
        "yearly_pass_rate": (90, pytest.approx(90), 10, True),      # 年度总体合格率为90%
        "overall_pass_rate": (95, pytest.approx(96), 1, True)}      # 总体合格率达到95%
    changed = rules_with("quarterly_pass_rate = 85", "quarterly_pass_rate = 70")
    assert kpi.pass_rates(store, gm, 2026, 4, rules=changed)[0].met is True
    empty = kpi.pass_rates(store, gm, 2026, 2)
    assert [(r.actual, r.met) for r in empty] == [(None, None)] * 3


# ---------------------------------------------------------------------------------------------- the rules file

def test_the_shipped_tables_are_the_seeds():
    rules = kpi.load_rules()
    assert list(rules.department.values()) == [50, 20, 10, 10, 10]
    assert list(rules.supervisor.values()) == [40, 20, 10, 10, 10, 10]
    assert rules.targets == {"quarterly_pass_rate": 85, "yearly_pass_rate": 90, "overall_pass_rate": 95}
    assert rules.per_fault == 0                                     # no seed gives a fault deduction


def test_rules_from_before_the_tables_read_the_seeds_tables():
    start = RULES_TEXT.index("# The department manager's KPI table")
    older = RULES_TEXT[:start]
    assert "[department" not in older and "[targets]" not in older
    rules = kpi.load_rules(text=older)
    assert rules.department == kpi.KpiRules().department and rules.targets["overall_pass_rate"] == 95


@pytest.mark.parametrize("change, table, label", [
    (("satisfaction = 50             # 部门", "satisfaction = 40             # 部门"), "department.weights",
     "客服部经理考核指标表（百分比，合计 100）"),
    (("complaint_satisfaction = 40", "complaint_satisfaction = 45"), "supervisor.weights",
     "受理组主管考核指标表（百分比，合计 100）"),
])
def test_a_kpi_table_whose_weights_do_not_add_up_to_100_is_refused_naming_it(store, make_user, change, table, label):
    text = RULES_TEXT.replace(*change, 1)
    assert text != RULES_TEXT
    with pytest.raises(RulesError) as refused:
        kpi.load_rules(text=text)
    assert refused.value.key == table and f"[{table}] must add up to 100" in str(refused.value)
    with pytest.raises(office_rules.RulesRefused) as screen:      # the office rules screen's check, same loader
        office_rules.check(store, "kpi", text)
    total = 90 if table == "department.weights" else 105
    assert screen.value.message("zh") == f"绩效权重与排名 — {label} ({table})：合计须为 100，现为 {total}。未保存。"
    assert f"({table})" in screen.value.message("en") and "must add up to 100" in screen.value.message("en")


def test_the_tables_and_targets_are_figures_of_the_office_rules_form(store):
    found = {f.key: f for f in office_rules.figures("kpi", RULES_TEXT, store.sheets)}
    assert found["department.weights.satisfaction"].label["zh"] == "部门人员总体服务质量（外部客户满意度）"
    assert found["supervisor.weights.mbo"].label["zh"] == "MBO管理"
    assert found["targets.overall_pass_rate"].value == 95
    assert all(f"department.weights.{k}" in found for k in kpi.DEPARTMENT_PARTS)
    assert all(f"supervisor.weights.{k}" in found for k in kpi.SUPERVISOR_PARTS)


# ---------------------------------------------------------------------------------------------- per_fault

def test_the_fault_deduction_is_off_by_default_and_5_takes_5_points(store, make_user):
    manager = make_user("manager")
    a, b = make_user("staff", "staff-a"), make_user("staff", "staff-b")
    ticket(store, a, "11-02T10:00:00", 5, fault=a)                  # a complaint found to be A's own fault
    ticket(store, b, "11-02T10:00:00", 5)
    rows = {r.key: r for r in kpi.staff_ranking(store, manager, 2026, 4)}
    assert rows[a.id].faults == 1 and rows[a.id].score == rows[b.id].score
    five = rules_with("per_fault = 0 ", "per_fault = 5 ")
    rows = {r.key: r for r in kpi.staff_ranking(store, manager, 2026, 4, rules=five)}
    assert rows[b.id].score - rows[a.id].score == pytest.approx(5)
