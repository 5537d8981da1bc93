"""Incentives and penalties (kefu.incentives): the rule file refused with file and key named, the worked
examples of DOMAIN.md in exact yuan, money exact over 10,000 lines, an empty period, approval (a manager's)
and the lock of an approved period, adjustments carried to the next period, what finance and staff see,
and finance's CSV and XLSX read back."""
import csv
import io
import os
import shutil
import subprocess
import time
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
    assert rules.lock_mode == "refuse" and rules.approve_roles == {"manager"}


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


# ---------------------------------------------------------------------------------------------- worked examples

@pytest.mark.parametrize("example, period, expected", [
    ("20 points and one safety incident: 1 point over the base", OCTOBER, "270.00"),
    ("17 points: the base, nothing over it", OCTOBER, "0.00"),
    ("22.5 points (a decimal coefficient): 5.5 over", OCTOBER, "1485.00"),
    ("20 points, 3 of them repeat visits from own poor work: 17", OCTOBER, "0.00"),
    ("praise letter at the 500 maximum", OCTOBER, "500.00"),
    ("praise letter at 300 and cost saving at the 200 minimum", OCTOBER, "500.00"),
    ("two projects without repeat service for half a year", OCTOBER, "60.00"),
    ("unsigned service record, and one approved", OCTOBER, "-100.00"),
    ("own-fault complaint", OCTOBER, "-200.00"),
    ("parts sold at 34.9% margin: a line saying why nothing", "2026-Q4", "0.00"),
    ("parts sold at 35% margin: 3%, 80% of it", "2026-Q4", "240.00"),
    ("parts sold at 50% margin: 5%, 80% of it", "2026-Q4", "400.00"),
    ("parts sold at 50% margin, not yet fully paid", "2026-Q4", None),
    ("parts paid in the quarter after", "2026-Q4", None),
])
def test_the_worked_examples_in_exact_yuan(store, make_user, example, period, expected):
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
    elif example.startswith("two projects"):
        record(store, person, "no_repeat_project")
        record(store, person, "no_repeat_project")
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
        path = store.path.parent / "rules.toml"
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
        record(store, person, "no_repeat_project", "50")
    assert caught.value.messages("en") == ["Amount (yuan): for this kind the rules fix 30.00 yuan; leave it empty "
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


def test_a_run_keeps_an_older_amount_within_bounds_the_rules_narrowed_since(store, make_user):
    manager, person = make_user("manager"), make_user("staff")
    record(store, person, "praise_letter", "450")
    path = store.path.parent / "rules.toml"
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
        assert rows[0][:2] == ["期间", "员工编号"] and rows[1:] == [
            ["合计", "", "部门", "部门奖金池合计", "", "0.00", "", ""], ["合计", "", "", "本期总计", "", "0.00", "", ""]]


@pytest.mark.parametrize("text", ["2026-13", "2026-Q5", "October", "", "2026-1"])
def test_a_bad_period_is_refused_naming_it(text):
    with pytest.raises(KefuError) as caught:
        parse_period(text)
    assert caught.value.message("en").startswith("Period:") and caught.value.message("zh").startswith("期间")


# ---------------------------------------------------------------------------------------------- approval and lock

@pytest.mark.parametrize("role", ["staff", "supervisor", "gm", "finance", "admin"])
def test_only_a_manager_approves(store, make_user, role):
    person = make_user("staff", "worker")
    points(store, person, 20)
    with pytest.raises(PermissionDenied):
        incentives.approve(store, make_user(role), OCTOBER)
    with pytest.raises(PermissionDenied):
        incentives.compute(store, make_user(role, f"{role}-b"), OCTOBER)
    assert store.conn.execute("SELECT count(*) FROM kefu_incentive_runs").fetchone()[0] == 0


def test_an_approved_period_is_locked(store, make_user):
    manager, person = make_user("manager"), make_user("staff")
    points(store, person, 20)
    inside = record(store, person, "praise_letter", "300", day="2026-10-31")
    outside = record(store, person, "praise_letter", "300", day="2026-11-01")
    run = incentives.approve(store, manager, OCTOBER)
    assert run.approved and run.approved_by == manager.display_name
    assert store.conn.execute("SELECT action FROM kefu_audit WHERE sheet = 'kefu_incentive_runs'").fetchone()[0] == "approve"
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
        incentives.approve(store, manager, OCTOBER)                      # approved once
    assert store.conn.execute("SELECT count(*) FROM kefu_audit").fetchone()[0] == audit_before   # nothing written
    assert store.conn.execute("SELECT count(*) FROM service_points").fetchone()[0] == 20

    store.update("rewards_penalties", outside, {"amount": "400"}, manager)   # November is open
    assert incentives.compute(store, manager, OCTOBER).lines == run.lines


def test_a_quarter_locks_the_sales_paid_in_it(store, make_user):
    manager, person = make_user("manager"), make_user("staff")
    paid = sale(store, person, "10000.00", 50)
    unpaid = sale(store, person, "5000.00", 50, paid_on=None)
    incentives.approve(store, manager, "2026-Q4")
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
    incentives.approve(store, manager, OCTOBER, rules=rules)              # 1 over the base: 270.00
    points(store, person, 2, day="2026-10-30")                            # found later: 20 points, 810.00
    november = incentives.compute(store, manager, "2026-11", rules=rules)
    [adjustment] = november.lines
    assert (adjustment.adjusts, adjustment.component, format_fen(adjustment.amount_fen)) == (OCTOBER, "performance",
                                                                                           "540.00")
    assert adjustment.basis_text("en") == "adjustment for 2026-10; approved 270.00, now 810.00: difference 540.00"
    incentives.approve(store, manager, "2026-11", rules=rules)
    assert incentives.compute(store, manager, "2026-12", rules=rules).lines == []   # carried once only
    assert incentives.approved_run(store, OCTOBER).total_fen == 27000              # the approved run never changes


def test_an_approved_run_exports_the_same_file_any_time(store, make_user, monkeypatch):
    manager, person = make_user("manager"), make_user("staff")
    points(store, person, 20)
    record(store, person, "own_fault_complaint", "200")
    incentives.approve(store, manager, OCTOBER)
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
    incentives.approve(store, manager, OCTOBER)
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
    incentives.approve(store, manager, OCTOBER)
    data = incentives.export(store, manager, OCTOBER, "csv", "zh")
    assert data.startswith("\ufeff".encode("utf-8"))
    frame = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(frame.columns) == ["期间", "员工编号", "员工", "项目", "计算依据", "金额（元）", "计入部门奖金池（元）", "审批日期"]
    lines = frame[frame["期间"] != "合计"]
    assert list(lines["项目"]) == ["月度绩效", "客户表扬信奖励", "节约成本奖励", "本人过失投诉罚款"]
    assert list(lines["金额（元）"]) == ["270.00", "300.00", "250.00", "-200.00"]
    assert set(lines["员工"]) == {"王小丽"} and lines["审批日期"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    total = frame[(frame["期间"] == "合计") & (frame["项目"] == "个人合计")]
    assert list(total["员工"]) == ["王小丽"] and list(total["金额（元）"]) == ["620.00"]
    assert frame.iloc[-1]["项目"] == "本期总计" and frame.iloc[-1]["金额（元）"] == "620.00"
    english = pd.read_csv(io.BytesIO(incentives.export(store, manager, OCTOBER, "csv", "en")), encoding="utf-8-sig",
                          dtype=str, keep_default_na=False)
    assert english.iloc[-1]["Period"] == "TOTAL" and english.iloc[-1]["Amount (yuan)"] == "620.00"


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
    incentives.approve(store, manager, OCTOBER)
    source = tmp_path / "incentives-2026-10.csv"
    source.write_bytes(incentives.export(store, manager, OCTOBER, "csv", "zh"))
    subprocess.run([SOFFICE, f"-env:UserInstallation=file://{tmp_path}/profile", "--headless",
                    "--infilter=Text - txt - csv (StarCalc):44,34,76,1", "--convert-to", "xlsx",
                    "--outdir", str(tmp_path / "out"), str(source)], check=True, capture_output=True, timeout=180)
    rows = [list(row) for row in load_workbook(tmp_path / "out" / "incentives-2026-10.xlsx").active.values]
    assert rows[0] == ["期间", "员工编号", "员工", "项目", "计算依据", "金额（元）", "计入部门奖金池（元）", "审批日期"]
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
    incentives.approve(store, manager, OCTOBER)
    book = load_workbook(io.BytesIO(incentives.export(store, manager, OCTOBER, "xlsx", "zh")))
    sheet = book[OCTOBER]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "期间" and rows[1][5] == 810 and rows[2][5] == -100
    assert rows[-1][0] == "合计" and rows[-1][5] == 710 and sheet.cell(row=len(rows), column=1).font.bold
