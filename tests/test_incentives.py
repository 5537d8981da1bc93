"""Incentives and penalties (kefu.incentives): the rule file refused with file and key named, the worked
examples of DOMAIN.md in exact yuan, money exact over 10,000 lines, an empty period, the approval chain
(seed 000 第十条: 以上数据由服务部统计，财务部、人力发展部核实计算; 第八条: 提交总经理批准) and the lock of an
approved period, adjustments carried to the next period, what finance and staff see, finance's CSV and XLSX
read back (税前金额, an empty 个人所得税 column, the payment month, a draft marked), and the half-year
no-repeat reward counted from the service points (每半年由客服管理部统计核算)."""
import csv
import io
import os
import shutil
import subprocess
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from kefu import auth, incentives
from kefu.errors import NotFound, PermissionDenied, KefuError
from kefu.fields import format_fen
from kefu.incentives import Line, Run, parse_period
from kefu.rules import RulesError
from kefu.sheets import ValidationError

HEADER = ["期间", "员工编号", "员工", "项目", "计算依据", "税前金额（元）", "个人所得税（元）", "计入部门奖金池（元）", "发放月份",
          "审批日期"]
RULES_TEXT = (Path(__file__).resolve().parent.parent / "rules" / "incentives.toml").read_text(encoding="utf-8")
OCTOBER = "2026-10"


# ---------------------------------------------------------------------------------------------- rules

def test_the_shipped_rules_are_the_domain_defaults():
    rules = incentives.load_rules()
    assert (rules.base_points, rules.point_fen, rules.incident_points) == (17, 27000, 2)
    assert rules.bonus_fen == {"top": 150000, "next": 100000}
    assert [(b.margin_from, b.margin_below, b.rate) for b in rules.bands] == [(35, 50, 3), (50, None, 5)]
    assert (rules.person_share, rules.pool_share) == (80, 20)
    assert rules.reward_bounds == {"praise_letter": (20000, 50000), "cost_saving": (20000, 50000)}
    assert rules.fixed_fen == {"no_repeat_project": 3000}
    assert rules.fines_fen == {"unsigned_record": 10000, "own_fault_complaint": 20000, "unsigned_record_approved": 0}
    assert rules.lock_mode == "refuse"
    assert (rules.prepare_roles, rules.checks, rules.approve_roles) == ({"manager"}, ("finance", "hr"), {"gm"})
    assert (rules.no_repeat_types, rules.no_repeat_months, rules.pay_after) == (("installation",), 6, {"quarter": 1})


@pytest.mark.parametrize("change, named", [
    (lambda s: s.replace("rate = 3 ", "rate = -3 ", 1), "commission.bands[1].rate must be 0 or more, not -3"),
    (lambda s: s.replace("yuan_per_point = 270", "yuan_per_point = -270"),
     "performance.yuan_per_point must be 0 or more, not -270"),
    (lambda s: s.replace("margin_below = 50", "margin_below = 60"),
     "commission.bands[2] (margin from 50%) overlaps the band from 35% below 60%"),
    (lambda s: s.replace("margin_below = 50\n", ""), "commission.bands[2] (margin from 50%) overlaps the band from 35%"),
    (lambda s: s.replace("base_points = 17", "base = 17"), "missing key performance.base_points"),
    (lambda s: s.replace("[ranking_bonus]\ntop = 1500", "[ranking_bonus]\nfirst = 1500"), "missing key ranking_bonus.top"),
    (lambda s: s.replace("unsigned_record = 100 ", "unsigned = 100 "), "missing key fines.unsigned_record"),
    (lambda s: s.replace("pool_share = 20", "pool_share = 25"), "must add up to 100"),
    (lambda s: s.replace('lock = "refuse"', 'lock = "never"'), "approval.lock must be one of refuse, next_period"),
    (lambda s: s.replace("praise_letter = { min = 200, max = 500 }", "praise_letter = { min = 500, max = 200 }"),
     "rewards.praise_letter.max must not be below its min"),
    (lambda s: s.replace("overhaul = 4 ", "rebuild = 4 "), "coefficients (", ),
    (lambda s: s.replace('checks = ["finance", "hr"]', 'checks = ["finance", "gm"]'),
     "approval.checks names gm, who also prepares or approves"),
    (lambda s: s.replace('approve = ["gm"]', 'approve = ["boss"]'), "approval.approve must be a list of roles"),
    (lambda s: s.replace('prepare = ["manager"]', 'prepare = []'), "approval.prepare must be a list of roles"),
    (lambda s: s.replace("months = 6 ", "months = 5 "), "no_repeat.months must be 1, 2, 3, 4, 6 or 12"),
    (lambda s: s.replace('project_types = ["installation"]', 'project_types = ["commissioning"]'),
     "no_repeat.project_types must be a list of project types"),
    (lambda s: s.replace("after_quarter = 1", "after_quarter = -1"),
     "payment.after_quarter must be a whole number of months from 0 to 12"),
])
def test_a_wrong_rule_file_is_refused_naming_file_and_key(tmp_path, store, change, named):
    path = tmp_path / "incentives.toml"
    path.write_text(change(RULES_TEXT), encoding="utf-8")
    assert change(RULES_TEXT) != RULES_TEXT
    with pytest.raises(RulesError) as caught:
        incentives.rules_for(store, path)
    assert str(caught.value).startswith(f"{path}: ") and named in str(caught.value)


# ---------------------------------------------------------------------------------------------- helpers

def points(store, staff, count: int, day: str = "2026-10-15", kind: str = "maintenance", **values) -> None:
    """`count` one-point projects (maintenance is 1 point in the shipped table)."""
    store.insert_many("service_points", [{"staff": staff.id, "done_on": day, "project_type": kind,
                                          "project": f"FW-{n:04d}", **values} for n in range(count)], auth.SYSTEM)


def incident(store, staff, day: str = "2026-10-20") -> int:
    return store.insert("safety_incidents", {"staff": staff.id, "happened_on": day, "description": "高空作业未系安全带"},
                        auth.SYSTEM)


def record(store, staff, kind: str, amount=None, day: str = "2026-10-10", **values) -> int:
    """A reward or fine; with no amount, the rules' figure of a fixed kind is filled in."""
    given = {} if amount is None else {"amount": amount}
    return store.insert("rewards_penalties", {"staff": staff.id, "happened_on": day, "kind": kind, "reason": "核实",
                                              **given, **values}, auth.SYSTEM)


def customer(store, owner) -> int:
    number = store.conn.execute("SELECT count(*) FROM customers").fetchone()[0] + 1
    return store.insert("customers", {"code": f"KH{number:04d}", "name": f"客户{number}", "kind": "company",
                                      "credit_rating": "A", "owner": owner.id}, auth.SYSTEM)


def sale(store, staff, amount: str, margin, paid_on: str | None = "2026-11-05", sold_on: str = "2026-10-08") -> int:
    return store.insert("parts_sales", {"staff": staff.id, "sold_on": sold_on, "customer": customer(store, staff),
                                        "quote_no": f"BJ-{amount}-{margin}", "margin": margin, "amount": amount,
                                        "paid_on": paid_on}, auth.SYSTEM)


def totals(run: Run) -> dict[int, str]:
    return {staff: format_fen(fen) for staff, _, fen in run.per_person()}


CHAIN = (("manager", "刘芳"), ("finance", "孙会计"), ("hr", "郑秀兰"), ("gm", "赵志强"))


def chain_people(store) -> tuple:
    """The manager who prepares, finance and HR who check, the general manager who approves (accounts without
    a password: no time spent hashing one)."""
    people = []
    for role, name in CHAIN:
        row = store.conn.execute("SELECT id FROM kefu_users WHERE username = ?", (f"chain-{role}",)).fetchone()
        people.append(auth.get_user(store, row[0] if row else auth.create_user(store, f"chain-{role}", name, role,
                                                                               None, auth.SYSTEM)))
    return tuple(people)


def approved(store, period: str, *, rules=None) -> Run:
    """A run through the whole chain: prepared, checked by finance then HR, approved by the gm."""
    manager, finance, hr, gm = chain_people(store)
    incentives.prepare(store, manager, period, rules=rules)
    incentives.check(store, finance, period, rules=rules)
    incentives.check(store, hr, period, rules=rules)
    return incentives.approve(store, gm, period, rules=rules)


# ---------------------------------------------------------------------------------------------- worked examples

@pytest.mark.parametrize("example, period, expected", [
    ("20 points and one safety incident: 1 point over the base", OCTOBER, "270.00"),
    ("17 points: the base, nothing over it", OCTOBER, "0.00"),
    ("22.5 points (a decimal coefficient): 5.5 over", OCTOBER, "1485.00"),
    ("20 points, 3 of them repeat visits from own poor work: 17", OCTOBER, "0.00"),
    ("praise letter at the 500 maximum", OCTOBER, "500.00"),
    ("praise letter at 300 and cost saving at the 200 minimum", OCTOBER, "500.00"),
    ("unsigned service record, and one approved", OCTOBER, "-100.00"),
    ("own-fault complaint", OCTOBER, "-200.00"),
    ("parts sold at 34.9% margin: a line saying why nothing", "2026-Q4", "0.00"),
    ("parts sold at 35% margin: 3%, 80% of it", "2026-Q4", "240.00"),
    ("parts sold at 50% margin: 5%, 80% of it", "2026-Q4", "400.00"),
    ("parts sold at 50% margin, not yet fully paid", "2026-Q4", None),
    ("parts paid in the quarter after", "2026-Q4", None),
])
def test_the_worked_examples_in_exact_yuan(store, make_user, tmp_path, example, period, expected):
    manager, person = make_user("manager"), make_user("staff")
    if example.startswith("20 points and"):
        points(store, person, 20)
        incident(store, person)
    elif example.startswith("17 points"):
        points(store, person, 17)
    elif example.startswith("22.5"):
        rules_text = RULES_TEXT.replace("inspection = 1 ", "inspection = 1.5 ")
        points(store, person, 21)
        points(store, person, 1, kind="inspection")
    elif example.startswith("20 points, 3"):
        points(store, person, 17)
        points(store, person, 3, own_fault_repeat=True)
    elif example.startswith("praise letter at the 500"):
        record(store, person, "praise_letter", "500")
    elif example.startswith("praise letter at 300"):
        record(store, person, "praise_letter", "300")
        record(store, person, "cost_saving", "200")
    elif example.startswith("unsigned"):
        record(store, person, "unsigned_record")
        record(store, person, "unsigned_record", approved=True)
    elif example.startswith("own-fault"):
        record(store, person, "own_fault_complaint")
    elif "34.9%" in example:
        sale(store, person, "10000.00", 34.9)
    elif "35% margin" in example:
        sale(store, person, "10000.00", 35)
    elif "not yet fully paid" in example:
        sale(store, person, "10000.00", 50, paid_on=None)
    elif "50% margin" in example:
        sale(store, person, "10000.00", 50)
    elif "quarter after" in example:
        sale(store, person, "10000.00", 50, sold_on="2026-11-20", paid_on="2027-01-05")
    rules = None
    if example.startswith("22.5"):
        path = tmp_path / "rules.toml"
        path.write_text(rules_text, encoding="utf-8")
        rules = incentives.rules_for(store, path)
    run = incentives.compute(store, manager, period, rules=rules)
    assert totals(run).get(person.id) == expected


def test_an_amount_is_checked_against_the_rules_at_entry(store, make_user):
    manager, person = make_user("manager"), make_user("staff")
    with pytest.raises(ValidationError) as caught:
        record(store, person, "praise_letter", "800")
    assert caught.value.messages("zh") == ["金额（元）：此类别应在 200.00 至 500.00 元之间（见奖惩标准）"]
    with pytest.raises(ValidationError) as caught:
        record(store, person, "cost_saving")
    assert caught.value.messages("en") == ["Amount (yuan): this field is required"]
    with pytest.raises(ValidationError) as caught:
        record(store, person, "unsigned_record", "50")
    assert caught.value.messages("en") == ["Amount (yuan): for this kind the rules fix 100.00 yuan; leave it empty "
                                           "to fill it in"]
    assert store.conn.execute("SELECT count(*) FROM rewards_penalties").fetchone()[0] == 0
    fine = record(store, person, "unsigned_record")
    assert store.get("rewards_penalties", fine, manager)["amount"] == 10000          # the rules' 100 yuan
    with pytest.raises(ValidationError):                                 # approved: the rules say 0, not 100
        store.update("rewards_penalties", fine, {"approved": True}, manager)
    store.update("rewards_penalties", fine, {"approved": True, "amount": None}, manager)
    assert store.get("rewards_penalties", fine, manager)["amount"] == 0
    audit = store.conn.execute("SELECT after FROM kefu_audit WHERE sheet = 'rewards_penalties' AND action = 'update'"
                               ).fetchone()[0]
    assert '"amount": 0' in audit


def test_a_run_keeps_an_older_amount_within_bounds_the_rules_narrowed_since(store, make_user, tmp_path):
    manager, person = make_user("manager"), make_user("staff")
    record(store, person, "praise_letter", "450")
    path = tmp_path / "rules.toml"
    path.write_text(RULES_TEXT.replace("praise_letter = { min = 200, max = 500 }",
                                       "praise_letter = { min = 200, max = 400 }"), encoding="utf-8")
    run = incentives.compute(store, manager, OCTOBER, rules=incentives.rules_for(store, path))
    assert totals(run)[person.id] == "400.00"
    assert "450.00" in run.lines[0].basis_text("en")


def test_the_lines_say_where_each_figure_came_from(store, make_user):
    manager, person = make_user("manager"), make_user("staff")
    points(store, person, 20)
    incident(store, person)
    sale(store, person, "10000.00", 35)
    sale(store, person, "10000.00", 20)
    month = incentives.compute(store, manager, OCTOBER)
    [line] = month.lines
    assert line.basis_text("en") == "20 points − 2×1 incident(s) = 18; 1 over base 17 × 270.00 = 270.00"
    assert line.basis_text("zh").startswith("20 分 − 2×1 起安全事故 = 18 分")
    quarter = incentives.compute(store, manager, "2026-Q4")
    commission, pool = [l for l in quarter.lines if l.component in ("commission", "department_pool")]
    assert commission.basis_text("en") == ("1 sale(s) of 10000.00 at 3% = 300.00; 1 sale(s) below 35% margin: no "
                                           "commission; commission 300.00 × 80% = 240.00 to the person, 60.00 to the pool")
    assert (commission.amount_fen, commission.pool_fen, pool.staff, pool.amount_fen) == (24000, 6000, None, 6000)
    assert (quarter.pool_fen, quarter.total_fen) == (6000, 30000)


def test_ranking_places_1_to_3_and_4_to_8_get_the_bonus(store, make_user):
    from kefu import kpi
    manager = make_user("manager")
    people = [make_user("staff", f"staff-{n:02d}") for n in range(10)]
    for n, person in enumerate(people):                            # staff-00 first ... staff-09 last
        ticket = store.insert("tickets", {"channel": "hotline", "kind": "complaint", "category": "speed",
                                          "severity": "normal", "caller_name": "陈先生", "subject": "维修迟迟不上门",
                                          "state": "closed", "assignee": person.id, "satisfaction": 5,
                                          "resolution_due": "2026-12-31T18:00:00+08:00",
                                          "resolved_at": "2026-11-30T10:00:00+08:00"}, auth.SYSTEM)
        store.conn.execute("UPDATE tickets SET created_at = '2026-11-02T10:00:00+08:00' WHERE id = ?", (ticket,))
        store.insert("kpi_reviews", {"staff": person.id, "year": 2026, "quarter": "4",
                                     **dict(zip(kpi.HAND_PARTS, (100 - n, 100, 100, 100)))}, manager)
    run = incentives.compute(store, manager, "2026-Q4")
    paid = totals(run)
    assert [paid.get(p.id) for p in people] == ["1500.00"] * 3 + ["1000.00"] * 5 + [None, None]   # rank 9: nothing
    third = next(l for l in run.lines if l.staff == people[2].id)
    assert third.basis_text("en") == "place 3 (places 1-3) = 1500.00"


def test_money_is_exact_over_ten_thousand_lines():
    """0.10 + 0.20 - 0.30 ... in floats drifts; in fen it never does, in the run and in its CSV."""
    lines = [Line(n % 97, f"员工{n % 97}", "praise_letter", [], (10, 20, -30, 1, 99)[n % 5]) for n in range(10000)]
    run = Run(parse_period(OCTOBER), lines)
    assert run.total_fen == 2000 * (10 + 20 - 30 + 1 + 99) and format_fen(run.total_fen) == "2000.00"
    assert sum(fen for _, _, fen in run.per_person()) == run.total_fen
    assert sum(float(format_fen(l.amount_fen)) for l in lines) != 2000.0       # the drift floats would have
    rows = list(csv.reader(io.StringIO(incentives.csv_bytes(run, "zh").decode("utf-8-sig"))))
    body = [r for r in rows[1:] if r[0] != "合计"]
    assert len(body) == 10000 and sum(Decimal(r[5]) for r in body) == Decimal("2000.00")
    assert rows[-1][0] == "合计" and rows[-1][5] == "2000.00"


def test_a_period_without_data_is_an_empty_well_formed_run(store, make_user):
    manager = make_user("manager")
    for period in (OCTOBER, "2026-Q4"):
        run = incentives.compute(store, manager, period)
        assert run.lines == [] and run.total_fen == 0
        rows = list(csv.reader(io.StringIO(incentives.csv_bytes(run, "zh").decode("utf-8-sig"))))
        paid, draft = ("2027-01" if period == "2026-Q4" else ""), "草稿（未批准）"
        assert rows[0] == HEADER and rows[1:] == [
            ["合计", "", "部门", "部门奖金池合计", "", "0.00", "", "", paid, draft],
            ["合计", "", "", "本期总计", "", "0.00", "", "", paid, draft]]


@pytest.mark.parametrize("text", ["2026-13", "2026-Q5", "October", "", "2026-1"])
def test_a_bad_period_is_refused_naming_it(text):
    with pytest.raises(KefuError) as caught:
        parse_period(text)
    assert caught.value.message("en").startswith("Period:") and caught.value.message("zh").startswith("期间")


# ---------------------------------------------------------------------------------------------- approval and lock

def test_财务部人力发展部核实计算_提交总经理批准_the_chain_in_order(store, make_user):
    """The manager prepares the run (stored with its lines as computed then), finance checks it, then HR, then
    the general manager approves it: only that makes it approved and locks the period. Each step says who and
    when, and is audited."""
    manager, finance, hr, gm = chain_people(store)
    person = make_user("staff")
    points(store, person, 20)
    found = incentives.prepare(store, manager, OCTOBER)
    assert found.state == "open" and found.next == ("check", {"finance"})
    assert totals(incentives.draft_run(store, OCTOBER)) == {person.id: "810.00"}
    found = incentives.check(store, finance, OCTOBER)
    assert found.next == ("check", {"hr"}) and found.checked == ["finance"]
    found = incentives.check(store, hr, OCTOBER)
    assert found.next == ("approve", {"gm"}) and found.missing == []
    assert incentives.approved_run(store, OCTOBER) is None                 # checked twice: still a draft
    assert store.conn.execute("SELECT count(*) FROM kefu_period_locks").fetchone()[0] == 0
    points(store, person, 1, day="2026-11-02")                            # November's record: the draft stands
    run = incentives.approve(store, gm, OCTOBER)
    assert run.approved and run.approved_by == gm.display_name and totals(run) == {person.id: "810.00"}
    steps = incentives.chain(store, OCTOBER).steps
    assert [(step.step, step.role, step.user_name, step.total_fen) for step in steps] == [
        ("prepare", "manager", manager.display_name, 81000), ("check", "finance", finance.display_name, 81000),
        ("check", "hr", hr.display_name, 81000), ("approve", "gm", gm.display_name, 81000)]
    assert all(step.at[:10] == run.approved_at[:10] for step in steps)
    assert store.conn.execute("SELECT action, username FROM kefu_audit WHERE sheet = 'kefu_incentive_runs' "
                              "ORDER BY id").fetchall() == [("prepare", manager.username), ("check", finance.username),
                                                            ("check", hr.username), ("approve", gm.username)]
    with pytest.raises(ValidationError):                                 # approved: October is locked
        points(store, person, 1, day="2026-10-02")


def refused(store, step, actor, *args) -> KefuError:
    """A step that must be refused with nothing written: the error, for its message."""
    def written():
        return [store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in (
            "kefu_audit", "kefu_incentive_steps", "kefu_incentive_drafts", "kefu_incentive_runs", "kefu_period_locks")]
    before = written()
    with pytest.raises(KefuError) as caught:
        step(store, actor, OCTOBER, *args)
    assert written() == before
    return caught.value


def test_总经理批准_comes_after_finance_and_hr_have_checked(store, make_user):
    """Steps out of order are refused, naming what is missing, in the user's language."""
    manager, finance, hr, gm = chain_people(store)
    points(store, make_user("staff"), 20)
    assert refused(store, incentives.approve, gm).message("en") == (
        "The run of 2026-10 has not been prepared: Department manager prepares it first.")
    assert refused(store, incentives.check, finance).message("zh") == "2026-10 的核算尚未提交：须先由部门经理提交核实。"
    incentives.prepare(store, manager, OCTOBER)
    early = refused(store, incentives.approve, gm)
    assert early.message("en") == ("General manager approves after Finance and HR have checked; not checked yet: "
                                   "Finance and HR.")
    assert early.message("zh") == "总经理须在财务、人力发展部核实之后批准；尚未核实：财务、人力发展部。"
    assert refused(store, incentives.check, hr).message("en") == "HR checks after Finance; not checked yet: Finance."
    assert refused(store, incentives.send_back, gm, "看不懂").message("en").endswith("not checked yet: Finance and HR.")
    incentives.check(store, finance, OCTOBER)
    assert refused(store, incentives.check, finance).message("zh") == "财务已核实 2026-10 的核算。"
    assert refused(store, incentives.approve, gm).message("en").endswith("; not checked yet: HR.")
    incentives.check(store, hr, OCTOBER)
    incentives.approve(store, gm, OCTOBER)
    for step, actor in ((incentives.approve, gm), (incentives.prepare, manager), (incentives.check, finance)):
        assert refused(store, step, actor).message("en") == "The run of 2026-10 is already approved."


def test_a_rejection_sends_the_run_back_to_the_manager_with_its_reason(store, make_user):
    manager, finance, hr, gm = chain_people(store)
    points(store, make_user("staff"), 20)
    incentives.prepare(store, manager, OCTOBER)
    for blank in ("", "   "):
        assert refused(store, incentives.send_back, finance, blank).message("zh") == "退回原因：必须填写"
    assert refused(store, incentives.send_back, finance, "长" * 501).message("en") == (
        "Reason for sending back: at most 500 characters")
    found = incentives.send_back(store, finance, OCTOBER, "服务积分与派工单不符")
    assert found.state == "returned" and found.next == ("prepare", {"manager"})
    assert (found.returned_by.role, found.returned_by.user_name, found.returned_by.reason) == (
        "finance", finance.display_name, "服务积分与派工单不符")
    audit = store.conn.execute("SELECT action, after FROM kefu_audit WHERE sheet = 'kefu_incentive_runs' ORDER BY id "
                               "DESC").fetchone()
    assert audit[0] == "send_back" and "服务积分与派工单不符" in audit[1]
    assert refused(store, incentives.check, finance).message("zh") == (
        "2026-10 的核算已被孙会计退回（服务积分与派工单不符）：须先由部门经理重新提交。")
    refused(store, incentives.approve, gm)
    found = incentives.prepare(store, manager, OCTOBER)                   # prepared again: the checks start over
    assert found.state == "open" and found.checked == [] and found.next == ("check", {"finance"})
    incentives.check(store, finance, OCTOBER)
    incentives.check(store, hr, OCTOBER)
    found = incentives.send_back(store, gm, OCTOBER, "排名奖励待季度考核确认")   # the gm may send it back too
    assert found.state == "returned" and found.returned_by.role == "gm"
    assert [step.step for step in found.steps] == ["prepare", "send_back", "prepare", "check", "check", "send_back"]


@pytest.mark.parametrize("role", ["staff", "supervisor", "admin"])
def test_a_role_outside_the_chain_takes_no_step(store, make_user, role):
    manager, finance, hr, gm = chain_people(store)
    points(store, make_user("staff", "worker"), 20)
    outsider = make_user(role, f"{role}-x")
    for step in (incentives.prepare, incentives.check, incentives.approve):
        assert isinstance(refused(store, step, outsider), PermissionDenied)
    incentives.prepare(store, manager, OCTOBER)
    for step in (incentives.prepare, incentives.check, incentives.approve):
        assert isinstance(refused(store, step, outsider), PermissionDenied)
    assert isinstance(refused(store, incentives.send_back, outsider, "不对"), PermissionDenied)
    with pytest.raises(PermissionDenied):
        incentives.compute(store, outsider, OCTOBER)
    with pytest.raises(PermissionDenied):
        incentives.chain_for(store, outsider, OCTOBER)


def test_each_step_is_its_own_roles_and_a_named_persons(store, make_user):
    """The manager does not check or approve, finance does not approve, the gm does not check; the system
    (a script without --user) and a disabled account take no step."""
    from dataclasses import replace
    manager, finance, hr, gm = chain_people(store)
    points(store, make_user("staff"), 20)
    incentives.prepare(store, manager, OCTOBER)
    for step, actor in ((incentives.check, manager), (incentives.approve, manager), (incentives.approve, finance),
                        (incentives.check, gm), (incentives.prepare, finance), (incentives.prepare, hr),
                        (incentives.approve, auth.SYSTEM), (incentives.check, auth.SYSTEM),
                        (incentives.check, replace(finance, active=False))):
        assert isinstance(refused(store, step, actor), PermissionDenied), (step.__name__, actor.role)


def test_a_chain_without_checks_and_the_one_step_file_of_before(store, make_user, tmp_path):
    """checks = []: the approver approves right after the preparer; a file of the one-step approval
    (`roles = ["manager"]`) is read as the manager preparing and approving, with no checks."""
    manager, person = make_user("manager"), make_user("staff")
    points(store, person, 20)
    old = RULES_TEXT[:RULES_TEXT.index("[approval]")] + '[approval]\nroles = ["manager"]\nlock = "refuse"\n'
    path = tmp_path / "incentives.toml"
    path.write_text(old, encoding="utf-8")
    rules = incentives.rules_for(store, path)
    assert (rules.prepare_roles, rules.checks, rules.approve_roles) == ({"manager"}, (), {"manager"})
    assert incentives.prepare(store, manager, OCTOBER, rules=rules).next == ("approve", {"manager"})
    assert incentives.approve(store, manager, OCTOBER, rules=rules).approved


def test_a_record_changed_after_preparing_is_checked_only_once_prepared_again(store, make_user):
    """What finance and HR check and the gm approves is what the registers say."""
    manager, finance, hr, gm = chain_people(store)
    person = make_user("staff")
    points(store, person, 20)
    incentives.prepare(store, manager, OCTOBER)
    incentives.check(store, finance, OCTOBER)
    points(store, person, 1, day="2026-10-20")                            # one more point in October
    assert incentives.changed(store, OCTOBER)
    assert refused(store, incentives.check, hr).message("en") == (
        "The records of 2026-10 changed after its run was prepared: Department manager prepares it again, and it is "
        "checked anew.")
    incentives.prepare(store, manager, OCTOBER)
    assert not incentives.changed(store, OCTOBER)
    incentives.check(store, finance, OCTOBER)
    incentives.check(store, hr, OCTOBER)
    assert totals(incentives.approve(store, gm, OCTOBER)) == {person.id: "1080.00"}


def test_the_cli_step_is_the_users_own(store, make_user):
    """take_step (python -m kefu incentives --approve --user NAME): the manager prepares, finance and HR check,
    the gm approves; out of turn it is refused as the step itself would be."""
    manager, finance, hr, gm = chain_people(store)
    points(store, make_user("staff"), 20)
    assert "has not been prepared" in refused(store, incentives.take_step, gm).message("en")
    incentives.take_step(store, manager, OCTOBER)
    assert "not checked yet: Finance and HR" in refused(store, incentives.take_step, gm).message("en")
    assert "HR checks after Finance" in refused(store, incentives.take_step, hr).message("en")
    incentives.take_step(store, finance, OCTOBER)
    incentives.take_step(store, hr, OCTOBER)
    assert incentives.take_step(store, gm, OCTOBER).approved


def test_an_approved_period_is_locked(store, make_user):
    manager, person = make_user("manager"), make_user("staff")
    points(store, person, 20)
    inside = record(store, person, "praise_letter", "300", day="2026-10-31")
    outside = record(store, person, "praise_letter", "300", day="2026-11-01")
    run = approved(store, OCTOBER)
    assert run.approved
    audit_before = store.conn.execute("SELECT count(*) FROM kefu_audit").fetchone()[0]

    with pytest.raises(ValidationError) as caught:                     # a new record dated in October
        points(store, person, 1, day="2026-10-02")
    assert caught.value.messages("zh") == ["日期：2026-10-02 属于 2026-10，该期奖惩已审批，本期记录不能再修改"]
    assert caught.value.messages("en")[0].startswith("Date: 2026-10-02 lies in 2026-10, whose incentive run is approved")
    with pytest.raises(ValidationError):                                 # changing one
        store.update("rewards_penalties", inside, {"amount": "500"}, manager)
    with pytest.raises(ValidationError):                                 # moving one into October
        store.update("rewards_penalties", outside, {"happened_on": "2026-10-30"}, manager)
    with pytest.raises(KefuError) as deleted:                            # deleting one
        store.delete("rewards_penalties", inside, manager)
    assert "2026-10" in deleted.value.message("zh")
    with pytest.raises(KefuError):
        incentives.approve(store, chain_people(store)[3], OCTOBER)       # approved once
    assert store.conn.execute("SELECT count(*) FROM kefu_audit").fetchone()[0] == audit_before   # nothing written
    assert store.conn.execute("SELECT count(*) FROM service_points").fetchone()[0] == 20

    store.update("rewards_penalties", outside, {"amount": "400"}, manager)   # November is open
    assert incentives.compute(store, manager, OCTOBER).lines == run.lines


def test_a_quarter_locks_the_sales_paid_in_it(store, make_user):
    manager, person = make_user("manager"), make_user("staff")
    paid = sale(store, person, "10000.00", 50)
    unpaid = sale(store, person, "5000.00", 50, paid_on=None)
    approved(store, "2026-Q4")
    with pytest.raises(ValidationError):
        store.update("parts_sales", paid, {"amount": "20000"}, manager)
    with pytest.raises(ValidationError):                                 # paid "in" a locked quarter afterwards
        store.update("parts_sales", unpaid, {"paid_on": "2026-11-20"}, manager)
    store.update("parts_sales", unpaid, {"paid_on": "2027-01-10"}, manager)    # paid in the next quarter: counted then
    assert totals(incentives.compute(store, manager, "2027-Q1")) == {person.id: "200.00"}


def test_with_lock_next_period_a_late_change_is_carried_to_the_next_run(store, make_user, tmp_path):
    path = tmp_path / "incentives.toml"
    path.write_text(RULES_TEXT.replace('lock = "refuse"', 'lock = "next_period"'), encoding="utf-8")
    rules = incentives.rules_for(store, path)
    manager, person = make_user("manager"), make_user("staff")
    points(store, person, 18)
    approved(store, OCTOBER, rules=rules)                      # 1 over the base: 270.00
    points(store, person, 2, day="2026-10-30")                            # found later: 20 points, 810.00
    november = incentives.compute(store, manager, "2026-11", rules=rules)
    [adjustment] = november.lines
    assert (adjustment.adjusts, adjustment.component, format_fen(adjustment.amount_fen)) == (OCTOBER, "performance",
                                                                                           "540.00")
    assert adjustment.basis_text("en") == "adjustment for 2026-10; approved 270.00, now 810.00: difference 540.00"
    approved(store, "2026-11", rules=rules)
    assert incentives.compute(store, manager, "2026-12", rules=rules).lines == []   # carried once only
    assert incentives.approved_run(store, OCTOBER).total_fen == 27000              # the approved run never changes


def test_an_approved_run_exports_the_same_file_any_time(store, make_user, monkeypatch):
    manager, person = make_user("manager"), make_user("staff")
    points(store, person, 20)
    record(store, person, "own_fault_complaint", "200")
    approved(store, OCTOBER)
    finance = make_user("finance")
    first_csv = incentives.export(store, finance, OCTOBER, "csv", "zh")
    first_xlsx = incentives.export(store, finance, OCTOBER, "xlsx", "zh")
    store.conn.execute("UPDATE kefu_users SET display_name = '改名了' WHERE id = ?", (person.id,))
    points(store, person, 5, day="2026-11-03")
    assert incentives.export(store, finance, OCTOBER, "csv", "zh") == first_csv
    assert incentives.export(store, manager, OCTOBER, "csv", "zh") == first_csv
    later = time.time() + 86400                                     # a day later by the clock
    monkeypatch.setattr(time, "time", lambda: later)
    assert incentives.export(store, finance, OCTOBER, "xlsx", "zh") == first_xlsx
    names = set(pd.read_excel(io.BytesIO(first_xlsx)).astype(str).stack())
    assert person.display_name in names and "改名了" not in names       # the names as approved


# ---------------------------------------------------------------------------------------------- who sees what

def test_finance_sees_approved_runs_only_and_staff_their_own_lines(store, make_user):
    manager, finance = make_user("manager"), make_user("finance")
    alice, bob = make_user("staff", "alice"), make_user("staff", "bob")
    points(store, alice, 20)
    points(store, bob, 19)
    with pytest.raises(NotFound):
        incentives.run_for(store, finance, OCTOBER)                        # not approved yet
    with pytest.raises(PermissionDenied):
        incentives.run_for(store, make_user("supervisor"), OCTOBER)        # no incentives screen
    approved(store, OCTOBER)
    assert totals(incentives.run_for(store, finance, OCTOBER)) == {alice.id: "810.00", bob.id: "540.00"}
    assert totals(incentives.run_for(store, alice, OCTOBER)) == {alice.id: "810.00"}
    assert [r["period"] for r in incentives.approved_periods(store, finance)] == [OCTOBER]


# ---------------------------------------------------------------------------------------------- files

def test_the_csv_opens_with_pandas_with_chinese_text_and_totals(store, make_user):
    manager, person = make_user("manager", "mgr"), make_user("staff", "wangxl")
    store.conn.execute("UPDATE kefu_users SET display_name = '王小丽' WHERE id = ?", (person.id,))
    points(store, person, 20)
    incident(store, person)
    record(store, person, "praise_letter", "300")
    record(store, person, "own_fault_complaint", "200")
    store.insert("rewards_penalties", {"staff": person.id, "happened_on": "2026-10-11", "kind": "cost_saving",
                                       "amount": "250", "reason": "=HYPERLINK(\"x\")"}, auth.SYSTEM)
    approved(store, OCTOBER)
    data = incentives.export(store, manager, OCTOBER, "csv", "zh")
    assert data.startswith("\ufeff".encode("utf-8"))
    frame = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(frame.columns) == HEADER
    lines = frame[frame["期间"] != "合计"]
    assert list(lines["项目"]) == ["月度绩效", "客户表扬信奖励", "节约成本奖励", "本人过失投诉罚款"]
    assert list(lines["税前金额（元）"]) == ["270.00", "300.00", "250.00", "-200.00"]
    assert set(lines["员工"]) == {"王小丽"} and lines["审批日期"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    total = frame[(frame["期间"] == "合计") & (frame["项目"] == "个人合计")]
    assert list(total["员工"]) == ["王小丽"] and list(total["税前金额（元）"]) == ["620.00"]
    assert frame.iloc[-1]["项目"] == "本期总计" and frame.iloc[-1]["税前金额（元）"] == "620.00"
    english = pd.read_csv(io.BytesIO(incentives.export(store, manager, OCTOBER, "csv", "en")), encoding="utf-8-sig",
                          dtype=str, keep_default_na=False)
    assert english.iloc[-1]["Period"] == "TOTAL" and english.iloc[-1]["Pre-tax amount (yuan)"] == "620.00"


SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


def test_the_csv_opens_in_libreoffice_with_chinese_text_numbers_and_totals(store, make_user, tmp_path):
    """What finance sees opening the file in a spreadsheet: LibreOffice Calc, headless, opens the CSV as its
    import dialog does on a UTF-8 desktop (comma, double quote, UTF-8; the byte-order mark is dropped, not
    shown) and saves a workbook, which is read back: Chinese text, numbers, totals, and a name that looks
    like a formula stays text."""
    if SOFFICE is None:
        message = "LibreOffice is missing: apt-get install libreoffice-calc-nogui (.ci/run does this)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from openpyxl import load_workbook
    manager, person = make_user("manager", "mgr"), make_user("staff", "wangxl")
    store.conn.execute("UPDATE kefu_users SET display_name = '王小丽' WHERE id = ?", (person.id,))
    points(store, person, 20)
    incident(store, person)
    record(store, person, "own_fault_complaint")
    record(store, person, "cost_saving", "250.5")
    tricky = make_user("staff", "tricky")
    store.conn.execute("UPDATE kefu_users SET display_name = '=1+1' WHERE id = ?", (tricky.id,))
    points(store, tricky, 18)
    approved(store, OCTOBER)
    source = tmp_path / "incentives-2026-10.csv"
    source.write_bytes(incentives.export(store, manager, OCTOBER, "csv", "zh"))
    subprocess.run([SOFFICE, f"-env:UserInstallation=file://{tmp_path}/profile", "--headless",
                    "--infilter=Text - txt - csv (StarCalc):44,34,76,1", "--convert-to", "xlsx",
                    "--outdir", str(tmp_path / "out"), str(source)], check=True, capture_output=True, timeout=180)
    rows = [list(row) for row in load_workbook(tmp_path / "out" / "incentives-2026-10.xlsx").active.values]
    assert rows[0] == HEADER
    lines = [(row[2], row[3], row[5]) for row in rows[1:] if row[0] != "合计"]
    assert sorted(lines, key=str) == sorted([("王小丽", "月度绩效", 270), ("王小丽", "节约成本奖励", 250.5),
                                             ("王小丽", "本人过失投诉罚款", -200), ("'=1+1", "月度绩效", 270)], key=str)
    totals_rows = {(row[2], row[3]): row[5] for row in rows[1:] if row[0] == "合计"}
    assert totals_rows[("王小丽", "个人合计")] == 320.5 and rows[-1][3] == "本期总计" and rows[-1][5] == 590.5
    assert 2 not in [row[2] for row in rows]                             # =1+1 was not calculated


def test_a_name_like_a_formula_is_neutralised(store, make_user):
    manager, person = make_user("manager"), make_user("staff")
    store.conn.execute("UPDATE kefu_users SET display_name = '=1+1' WHERE id = ?", (person.id,))
    points(store, person, 18)
    text = incentives.csv_bytes(incentives.compute(store, manager, OCTOBER), "en").decode("utf-8-sig")
    assert "'=1+1" in text and ",=1+1" not in text


def test_the_xlsx_has_numbers_and_a_bold_totals_row(store, make_user):
    from openpyxl import load_workbook
    manager, person = make_user("manager"), make_user("staff")
    points(store, person, 20)
    record(store, person, "unsigned_record", "100")
    approved(store, OCTOBER)
    book = load_workbook(io.BytesIO(incentives.export(store, manager, OCTOBER, "xlsx", "zh")))
    sheet = book[OCTOBER]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "期间" and rows[1][5] == 810 and rows[2][5] == -100
    assert rows[0][6] == "个人所得税（元）" and {row[6] for row in rows[1:]} == {None}     # for finance to fill in
    assert rows[-1][0] == "合计" and rows[-1][5] == 710 and sheet.cell(row=len(rows), column=1).font.bold


# ---------------------------------------------------------------------------------------------- finance's file before approval

def test_what_finance_exports_before_approval_is_marked_as_a_draft(store, make_user):
    manager, finance, hr, gm = chain_people(store)
    person = make_user("staff")
    points(store, person, 20)
    with pytest.raises(NotFound):
        incentives.run_for(store, finance, OCTOBER)                       # not prepared: nothing to see
    incentives.prepare(store, manager, OCTOBER)

    def read(lang: str = "zh"):
        return pd.read_csv(io.BytesIO(incentives.export(store, finance, OCTOBER, "csv", lang)), encoding="utf-8-sig",
                           dtype=str, keep_default_na=False)
    assert set(read()["审批日期"]) == {"草稿（未批准）"} and set(read("en")["Approved on"]) == {"DRAFT, not approved"}
    assert incentives.file_name(incentives.run_for(store, finance, OCTOBER), "xlsx") == "incentives-2026-10-draft.xlsx"
    rows = list(pd.read_excel(io.BytesIO(incentives.export(store, hr, OCTOBER, "xlsx", "zh")), dtype=str)["审批日期"])
    assert set(rows) == {"草稿（未批准）"}
    incentives.check(store, finance, OCTOBER)
    incentives.check(store, hr, OCTOBER)
    run = incentives.approve(store, gm, OCTOBER)
    assert set(read()["审批日期"]) == {run.approved_at[:10]}
    assert incentives.file_name(incentives.run_for(store, finance, OCTOBER), "csv") == "incentives-2026-10.csv"


def test_每月4_7_10_第二年1月发放_a_quarter_is_paid_in_the_month_after_it(store, make_user, tmp_path):
    rules = incentives.load_rules()
    assert [incentives.pay_month(parse_period(f"2026-Q{q}"), rules) for q in (1, 2, 3, 4)] == [
        "2026-04", "2026-07", "2026-10", "2027-01"]
    assert incentives.pay_month(parse_period(OCTOBER), rules) is None          # a month: the rulebooks do not say
    person = make_user("staff")
    sale(store, person, "10000.00", 50)
    run = approved(store, "2026-Q4")
    assert run.pay_month == "2027-01"
    frame = pd.read_csv(io.BytesIO(incentives.export(store, chain_people(store)[1], "2026-Q4", "csv", "zh")),
                        encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(frame.columns) == HEADER and set(frame["发放月份"]) == {"2027-01"}
    assert set(frame["个人所得税（元）"]) == {""}
    later = RULES_TEXT.replace("after_quarter = 1", "after_quarter = 2")
    path = tmp_path / "later.toml"
    path.write_text(later, encoding="utf-8")
    assert incentives.pay_month(parse_period("2026-Q4"), incentives.load_rules(path)) == "2027-02"
    assert incentives.approved_run(store, "2026-Q4").pay_month == "2027-01"   # as it was prepared and approved


# ---------------------------------------------------------------------------------------------- the half-year count

def project(store, staff, day: str, kind: str = "installation", **values) -> int:
    return store.insert("service_points", {"staff": staff.id, "done_on": day, "project_type": kind,
                                           "project": f"{kind}-{day}", **values}, auth.SYSTEM)


def no_repeat(run: Run) -> dict:
    return {line.staff: line for line in run.lines if line.component == "no_repeat_project"}


def test_每半年由客服管理部统计核算_the_no_repeat_reward_is_counted_from_the_service_points(store, make_user, tmp_path):
    """December pays 30 yuan for each project commissioned January to June with no repeat service of its
    installer's own making within six months; June pays for July to December of the year before; other
    months and the quarters pay none of it."""
    manager, alice, bob = make_user("manager"), make_user("staff", "alice"), make_user("staff", "bob")
    for day in ("2026-01-10", "2026-06-30", "2026-03-01"):
        project(store, alice, day)
    project(store, alice, "2025-12-31")                                   # the half-year before: paid in June
    project(store, alice, "2026-07-01")                                   # the next half-year
    project(store, alice, "2026-02-01", "repair")                         # not a commissioning
    project(store, alice, "2026-04-01", "repair", repeat_of=3)            # a repeat, not of her own making
    first = project(store, bob, "2026-02-10")
    second = project(store, bob, "2026-04-01")
    project(store, bob, "2026-08-09", "repair", own_fault_repeat=True, repeat_of=first)    # within six months
    project(store, bob, "2026-10-01", "repair", own_fault_repeat=True, repeat_of=second)   # six months on: after
    december = no_repeat(incentives.compute(store, manager, "2026-12"))
    assert {staff: format_fen(line.amount_fen) for staff, line in december.items()} == {alice.id: "90.00",
                                                                                         bob.id: "30.00"}
    assert december[bob.id].basis_text("zh") == ("2026-01 至 2026-06 调试完成 1 个项目，6 个月内无返修 × 30.00 元 = "
                                                 "30.00 元；1 个项目有本人原因返修：不计")
    assert december[alice.id].basis_text("en") == ("3 project(s) commissioned 2026-01 to 2026-06, no repeat service "
                                                   "within 6 months × 30.00 = 90.00")
    june = no_repeat(incentives.compute(store, manager, "2026-06"))
    assert {staff: line.amount_fen for staff, line in june.items()} == {alice.id: 3000}
    for period in ("2026-07", "2026-11", "2026-Q2", "2026-Q4"):
        assert no_repeat(incentives.compute(store, manager, period)) == {}
    quarterly = RULES_TEXT.replace("months = 6 ", "months = 3 ")
    path = tmp_path / "quarterly.toml"
    path.write_text(quarterly, encoding="utf-8")
    rules = incentives.rules_for(store, path)
    assert incentives.no_repeat_span(parse_period("2026-09"), rules) == (date(2026, 4, 1), date(2026, 7, 1))


def test_the_no_repeat_reward_is_no_longer_entered_and_old_records_stay_readable(store, make_user):
    manager, person = make_user("manager"), make_user("staff")
    with pytest.raises(ValidationError) as caught:
        record(store, person, "no_repeat_project")
    assert caught.value.messages("zh") == ["类别：不再逐条录入；项目半年无返修奖励每半年按服务积分统计"]
    letter = record(store, person, "praise_letter", "300")
    with pytest.raises(ValidationError):                                 # nor by changing a record's kind
        store.update("rewards_penalties", letter, {"kind": "no_repeat_project", "amount": None}, manager)
    old = record(store, person, "praise_letter", "300", day="2026-10-12")
    store.conn.execute("UPDATE rewards_penalties SET kind = 'no_repeat_project', amount = 3000 WHERE id = ?", (old,))
    assert store.get("rewards_penalties", old, manager)["kind"] == "no_repeat_project"    # entered before: read
    store.update("rewards_penalties", old, {"reason": "FW-0012 回访确认"}, manager)          # and kept up
    line = no_repeat(incentives.compute(store, manager, OCTOBER))[person.id]
    assert line.amount_fen == 3000 and line.basis_text("en") == "1 × 30.00 = 30.00"       # paid in its month
