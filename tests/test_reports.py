"""Reports: exact figures over a hand-made month of tickets (counts, overdue, working-hour times across a
weekend, satisfaction), period boundaries, the CSV a manager opens in Excel, who may see reports, and the
screen (AppTest)."""
import csv
import io
from datetime import date, datetime

import pytest
from streamlit.testing.v1 import AppTest

from apptest import login, open_page, texts
from kefu import auth, reports
from kefu.errors import PermissionDenied
from kefu.sla import load_rules

NOVEMBER = (date(2026, 11, 1), date(2026, 12, 1))
NOW = datetime.fromisoformat("2026-12-10T12:00:00+08:00")       # when the manager makes the report


def at(text: str) -> str:
    return f"2026-{text}+08:00"


def ticket(store, created: str, **values) -> int:
    """A ticket received at `created` (office time). The store stamps created_at with the moment of
    the insert, so the fixture moves it back to the day the call came in."""
    row = {"channel": "hotline", "kind": "complaint", "category": "speed", "severity": "normal",
           "caller_name": "陈先生", "subject": "维修迟迟不上门", "state": "new", **values}
    ticket_id = store.insert("tickets", row, auth.SYSTEM)
    store.conn.execute("UPDATE tickets SET created_at = ? WHERE id = ?", (at(created), ticket_id))
    return ticket_id


@pytest.fixture
def month(store):
    """November 2026: four complaints, an inquiry, and tickets that must not count."""
    ticket(store, "11-20T17:00:00", state="closed", satisfaction=5,               # Friday 17:00, over the weekend
           response_due=at("11-23T12:00:00"), responded_at=at("11-23T10:00:00"),   # 1 h Fri + 1 h Mon
           resolution_due=at("11-24T17:00:00"), resolved_at=at("11-23T17:00:00"),  # 1 h Fri + 8 h Mon
           closed_at=at("11-24T10:00:00"))
    ticket(store, "11-02T10:00:00", channel="web", severity="major", state="closed", satisfaction=2,
           response_due=at("11-02T14:00:00"), responded_at=at("11-02T11:00:00"),   # 1 h
           resolution_due=at("11-04T10:00:00"), resolved_at=at("11-05T12:00:00"),  # 8+9+9+3 = 29 h, late
           closed_at=at("11-06T10:00:00"))
    ticket(store, "11-30T23:59:59", category="billing", severity="emergency", escalated=True,  # last second
           response_due=at("12-01T09:30:00"), resolution_due=at("12-01T17:00:00"))  # never answered: overdue
    ticket(store, "11-10T09:30:00", channel="visit", state="waiting_customer",     # clock stopped: not overdue
           response_due=at("11-10T13:30:00"), responded_at=at("11-10T09:45:00"),
           resolution_due=at("11-11T09:30:00"))
    ticket(store, "11-15T10:00:00", kind="inquiry", channel="web", category="billing", state="closed",
           responded_at=at("11-16T10:00:00"), resolved_at=at("11-16T11:00:00"), satisfaction=4)
    ticket(store, "12-01T00:00:00", category="quality")                             # next month
    ticket(store, "10-31T23:59:59", category="quality")                             # last month
    gone = ticket(store, "11-12T10:00:00", category="quality")
    store.delete("tickets", gone, auth.SYSTEM)
    return store


@pytest.fixture
def manager(make_user):
    return make_user("manager")


def test_the_complaint_report_counts_what_came_in(month, manager):
    report = reports.ticket_report(month, manager, *NOVEMBER, name="complaint", now=NOW)
    assert report.total == 4
    assert report.by_kind == {"complaint": 4}
    assert {k: n for k, n in report.by_category.items() if n} == {"speed": 3, "billing": 1}
    assert report.top_categories() == [("speed", 3), ("billing", 1)]
    assert report.by_channel == {"hotline": 2, "visit": 1, "web": 1, "letter": 0, "email": 0}
    assert report.by_severity == {"normal": 2, "major": 1, "emergency": 1}
    assert report.by_state["closed"] == 2 and report.by_state["waiting_customer"] == 1 and report.by_state["new"] == 1
    assert (report.escalated, report.open, report.responded, report.resolved, report.closed) == (1, 2, 3, 2, 2)
    assert [n for day, n in report.trend if day in (date(2026, 11, 2), date(2026, 11, 30))] == [1, 1]
    assert len(report.trend) == 30 and report.trend_unit == "day"


def test_overdue_late_resolution_and_open_past_due_but_not_while_waiting_on_the_customer(month, manager):
    report = reports.ticket_report(month, manager, *NOVEMBER, now=NOW)
    assert report.overdue == 2                     # resolved late on 11-05, and the unanswered emergency
    assert report.overdue_open == 1
    assert report.response_late == 1               # the emergency nobody answered
    assert report.on_time_rate == 0.5              # of two resolved, one by its due time
    before_due = reports.ticket_report(month, manager, *NOVEMBER, now=datetime.fromisoformat(at("12-01T08:00:00")))
    assert before_due.overdue == 1 and before_due.overdue_open == 0 and before_due.response_late == 0


def test_response_and_resolution_in_working_hours_across_a_weekend(month, manager):
    report = reports.ticket_report(month, manager, *NOVEMBER, now=NOW)
    assert report.response_hours.count == 3
    assert report.response_hours.mean == pytest.approx((2 + 1 + 0.25) / 3)   # Fri 17:00 -> Mon 10:00 is 2 h
    assert report.response_hours.median == 1
    assert report.resolution_hours.mean == 19 and report.resolution_hours.median == 19    # 9 h and 29 h


def test_satisfaction_of_the_follow_up_calls(month, manager):
    report = reports.ticket_report(month, manager, *NOVEMBER, now=NOW)
    assert report.satisfaction == {1: 0, 2: 1, 3: 0, 4: 0, 5: 1}
    assert report.followed_up == 2 and report.satisfaction_mean == 3.5 and report.satisfied_rate == 0.5


def test_the_inquiry_report_holds_only_inquiries(month, manager):
    report = reports.ticket_report(month, manager, *NOVEMBER, name="inquiry", now=NOW)
    assert report.total == 1 and report.by_channel["web"] == 1 and report.satisfaction_mean == 4
    assert report.resolution_hours.mean == 2                    # Sunday 10:00 -> Monday 11:00: Monday 9-11


def test_the_last_second_of_the_period_counts_and_the_next_midnight_does_not(month, manager):
    november = reports.ticket_report(month, manager, *NOVEMBER, now=NOW)
    december = reports.ticket_report(month, manager, *reports.period("month", date(2026, 12, 25)), now=NOW)
    october = reports.ticket_report(month, manager, *reports.period("month", date(2026, 10, 31)), now=NOW)
    assert november.by_category["billing"] == 1 and november.by_category["quality"] == 0
    assert december.total == 1 and december.by_category["quality"] == 1
    assert october.total == 1 and october.by_category["quality"] == 1
    last_day = reports.ticket_report(month, manager, *reports.period("custom", date(2026, 11, 30)), now=NOW)
    assert last_day.total == 1 and last_day.by_severity["emergency"] == 1   # 23:59:59, not the 00:00 after
    one_day = reports.ticket_report(month, manager, *reports.period("custom", date(2026, 11, 20)), now=NOW)
    assert one_day.total == 1 and one_day.response_hours.mean == 2


def test_a_long_period_is_charted_week_by_week(month, manager):
    report = reports.ticket_report(month, manager, *reports.period("custom", date(2026, 10, 1), date(2026, 12, 31)),
                                   now=NOW)
    assert report.trend_unit == "week" and report.total == 6
    assert report.trend[0][0] == date(2026, 9, 28) and all(day.weekday() == 0 for day, _ in report.trend)
    assert dict(report.trend)[date(2026, 11, 30)] == 2 and sum(n for _, n in report.trend) == 6


@pytest.mark.parametrize("kind, day, last, expected", [
    ("week", date(2026, 11, 25), None, (date(2026, 11, 23), date(2026, 11, 30))),   # Wednesday -> Mon..Sun
    ("week", date(2026, 11, 29), None, (date(2026, 11, 23), date(2026, 11, 30))),   # Sunday is the week's end
    ("month", date(2026, 12, 31), None, (date(2026, 12, 1), date(2027, 1, 1))),
    ("month", date(2028, 2, 10), None, (date(2028, 2, 1), date(2028, 3, 1))),
    ("custom", date(2026, 11, 30), date(2026, 11, 1), (date(2026, 11, 1), date(2026, 12, 1))),
])
def test_periods(kind, day, last, expected):
    assert reports.period(kind, day, last) == expected


def test_presets_count_from_today():
    today = date(2027, 1, 6)                                  # a Wednesday
    assert reports.preset("this_week", today) == (date(2027, 1, 4), date(2027, 1, 11))
    assert reports.preset("last_week", today) == (date(2026, 12, 28), date(2027, 1, 4))
    assert reports.preset("this_month", today) == (date(2027, 1, 1), date(2027, 2, 1))
    assert reports.preset("last_month", today) == (date(2026, 12, 1), date(2027, 1, 1))


@pytest.mark.parametrize("name, expected", [
    ("this_quarter", (date(2027, 4, 1), date(2027, 7, 1))),
    ("last_quarter", (date(2027, 1, 1), date(2027, 4, 1))),
    ("this_year", (date(2027, 1, 1), date(2028, 1, 1))),
    ("last_year", (date(2026, 1, 1), date(2027, 1, 1))),
])
def test_每季度_每年_presets_for_the_managers_service_analysis_reports(name, expected):
    assert reports.preset(name, date(2027, 5, 31)) == expected


def test_last_quarter_in_january_is_the_previous_years_fourth():
    assert reports.preset("last_quarter", date(2027, 1, 1)) == (date(2026, 10, 1), date(2027, 1, 1))


@pytest.mark.parametrize("name", reports.REPORTS)
def test_every_report_kind_takes_a_quarter_and_a_year(month, manager, name):
    quarter = reports.build(month, manager, name, *reports.preset("this_quarter", date(2026, 11, 5)), now=NOW)
    year = reports.build(month, manager, name, *reports.preset("last_year", date(2027, 2, 1)), now=NOW)
    assert quarter.trend_unit == "week" and year.trend_unit == "month" and len(year.trend) == 12
    if name == "complaint":                   # the four of November, the one of October and the one of December
        assert (quarter.total, year.total) == (6, 6)
        assert [n for _, n in year.trend][9:] == [1, 4, 1] and len(quarter.trend) == 14


@pytest.mark.parametrize("start, end", [
    ("2026-11-20T17:00:00+08:00", "2026-11-23T10:00:00+08:00"),     # over a weekend
    ("2026-09-30T16:00:00+08:00", "2026-10-09T10:30:00+08:00"),     # over National Day
    ("2026-09-27T08:00:00+08:00", "2026-09-28T20:00:00+08:00"),     # a make-up Sunday, before and after hours
    ("2026-11-20T02:00:00+00:00", "2026-11-20T09:15:30+00:00"),     # stored in another offset
    ("2026-11-23T10:00:00+08:00", "2026-11-20T17:00:00+08:00"),     # end before start: zero
])
def test_the_report_clock_counts_working_hours_as_the_sla_calendar_does(start, end):
    calendar = load_rules().calendar
    clock = reports.WorkingClock(calendar)
    expected = calendar.between(datetime.fromisoformat(start), datetime.fromisoformat(end)).total_seconds() / 3600
    assert clock.hours(start, end) == pytest.approx(expected)
    assert clock.hours(datetime.fromisoformat(start), datetime.fromisoformat(end)) == pytest.approx(expected)


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_the_csv_opens_in_excel_with_chinese_labels(month, manager):
    report = reports.ticket_report(month, manager, *NOVEMBER, now=NOW)
    rows = read_csv(reports.report_csv(report, "zh"))
    assert rows[0] == ["栏目", "项目", "数值"]
    assert ["报表", "报表名称", "投诉报表"] in rows
    assert ["报表", "统计期间", "2026-11-01 至 2026-11-30"] in rows
    assert ["概况", "受理总数", "4"] in rows and ["概况", "超时", "2"] in rows
    assert ["概况", "平均满意度（1-5）", "3.5"] in rows and ["概况", "按时办结率（%）", "50.0"] in rows
    assert ["按分类", "响应速度", "3"] in rows and ["主要分类", "收费账单", "1"] in rows
    assert ["按渠道", "400 来电", "2"] in rows and ["按紧急程度", "突发", "1"] in rows
    assert ["按状态", "等待客户", "1"] in rows and ["回访满意度", "5 分", "1"] in rows
    assert ["每日受理量", "2026-11-30", "1"] in rows
    english = read_csv(reports.report_csv(report, "en"))
    assert ["By Category", "Response speed", "3"] in english and english[0] == ["Section", "Item", "Value"]


def test_the_business_change_report(store, manager, make_user):
    keeper = make_user("staff")
    customer = store.insert("customers", {"code": "C-001", "name": "华东物业", "kind": "company",
                                          "credit_rating": "A", "owner": keeper.id}, auth.SYSTEM)
    change = {"customer": customer, "staff": keeper.id}
    store.insert("business_changes", {**change, "kind": "add_line", "requested_at": at("11-20T17:00:00"),
                                      "checked_with_customer": True, "done_at": at("11-23T11:00:00"),
                                      "customer_notified_at": at("11-23T15:00:00")}, auth.SYSTEM)
    store.insert("business_changes", {**change, "kind": "password", "requested_at": at("11-30T23:59:00"),
                                      "checked_with_customer": True, "done_at": at("12-01T10:00:00")}, auth.SYSTEM)
    store.insert("business_changes", {**change, "kind": "password", "requested_at": at("11-25T10:00:00")},
                 auth.SYSTEM)
    store.insert("business_changes", {**change, "kind": "permission", "requested_at": at("12-01T00:00:00")},
                 auth.SYSTEM)
    report = reports.business_change_report(store, manager, *NOVEMBER, now=NOW)
    assert report.total == 3
    assert report.by_kind == {"add_line": 1, "remove_line": 0, "password": 2, "permission": 0, "basic_info": 0}
    assert (report.done, report.pending, report.checked_with_customer, report.customer_notified) == (2, 1, 2, 1)
    assert report.done_not_notified == 1
    assert report.hours_to_done.mean == 2          # Fri 17:00 -> Mon 11:00 is 3 h; Mon 23:59 -> Tue 10:00 is 1 h
    assert report.by_staff == [(keeper.display_name, 3)]
    rows = read_csv(reports.report_csv(report, "zh"))
    assert ["报表", "报表名称", "业务变更报表"] in rows and ["按变更类型", "密码重置", "2"] in rows


@pytest.mark.parametrize("role", ["staff", "finance", "admin"])
def test_roles_without_the_reports_screen_are_refused(store, make_user, role):
    user = make_user(role)
    with pytest.raises(PermissionDenied):
        reports.ticket_report(store, user, *NOVEMBER)
    with pytest.raises(PermissionDenied):
        reports.business_change_report(store, user, *NOVEMBER)


@pytest.mark.parametrize("role", ["supervisor", "manager", "gm"])
def test_supervisors_managers_and_the_gm_may(month, make_user, role):
    assert reports.ticket_report(month, make_user(role), *NOVEMBER, now=NOW).total == 4


def test_a_manager_opens_the_reports_and_sees_this_month(demo_db, demo_store):
    demo_store.insert("tickets", {"channel": "hotline", "kind": "complaint", "category": "billing",
                                  "severity": "normal", "caller_name": "陈先生", "subject": "账单有误",
                                  "state": "new"}, auth.SYSTEM)
    demo_store.close()
    at_ = open_page(login("demo-manager"), "reports")
    assert not at_.exception
    assert "统计报表" in [t.value for t in at_.title]
    received = [m for m in at_.metric if m.label == "受理总数"]
    assert received and int(received[0].value) >= 1
    assert "投诉报表 · " in texts(at_)
    at_.selectbox(key="reports__name").set_value("business_change")
    at_.selectbox(key="reports__period").set_value("custom")
    at_.run()
    at_.date_input(key="reports__range").set_value((date(2012, 1, 1), date(2012, 1, 31)))
    at_.run()
    assert not at_.exception
    assert "该期间内没有受理记录。" in texts(at_)


def test_staff_typing_the_address_sees_the_notice(demo_db):
    at_ = open_page(login("demo-staff"), "reports")
    assert not at_.exception
    assert [w.value for w in at_.warning] == ["您的角色无权打开此页面。"]
    assert not at_.title and not at_.metric


def test_the_screen_itself_refuses_staff(demo_db):
    def script():
        from views import reports as screen
        screen.render()

    at_ = AppTest.from_function(script, default_timeout=30)
    at_.session_state["user"] = auth.User(id=1, username="x", display_name="X", role="staff")
    at_.run()
    assert [w.value for w in at_.warning] == ["您的角色无权打开此页面。"] and not at_.title
