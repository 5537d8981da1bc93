"""The customer traffic report (001 客户流量监测，每周和每月流量分析报表): contacts (tickets by channel) and visits
(the visitor book) by hour, weekday, day and channel, counted exactly over a hand-built office; the period
before; the CSV; the screen (AppTest)."""
import csv
import io
from datetime import date, datetime

import pytest

from apptest import login, open_page, texts
from kefu import auth, reports

WEEK = (date(2026, 11, 23), date(2026, 11, 30))                  # Monday 23 to Sunday 29 November 2026
NOVEMBER = (date(2026, 11, 1), date(2026, 12, 1))
NOW = datetime.fromisoformat("2026-12-10T12:00:00+08:00")


def at(text: str) -> str:
    return f"2026-{text}+08:00"


def contact(store, received: str, channel: str = "hotline") -> int:
    """A ticket received at `received` by `channel` (the store stamps created_at now; moved back here)."""
    ticket_id = store.insert("tickets", {"channel": channel, "kind": "inquiry", "category": "billing",
                                         "severity": "normal", "caller_name": "陈先生", "subject": "账单查询",
                                         "state": "new"}, auth.SYSTEM)
    store.conn.execute("UPDATE tickets SET created_at = ? WHERE id = ?", (at(received), ticket_id))
    return ticket_id


def visit(store, host: int, arrived: str | None, appointment: str | None = None) -> int:
    return store.insert("visitors", {"visitor_name": "王女士", "gender": "female", "organisation": "华东物业",
                                     "identity": "行政主管", "phone": "13800138000", "purpose": "business",
                                     "host": host, "arrived_at": arrived and at(arrived),
                                     "appointment_at": appointment and at(appointment)}, auth.SYSTEM)


@pytest.fixture
def manager(make_user):
    return make_user("manager")


@pytest.fixture
def office(store, manager):
    """A week of contacts and visits, with what must not count around it."""
    host = manager.id
    contact(store, "11-23T09:15:00")                       # Monday, 09h, hotline
    contact(store, "11-23T09:40:00")                       # Monday, 09h, hotline
    contact(store, "11-23T14:05:00", "web")                # Monday, 14h
    contact(store, "11-25T09:59:59", "letter")             # Wednesday, 09h
    contact(store, "11-29T23:59:59")                       # Sunday, the week's last second
    contact(store, "11-30T00:00:00")                       # next Monday: November, not the week
    contact(store, "11-22T10:00:00", "visit")              # the Sunday before: the week before
    contact(store, "11-16T11:00:00")                       # the Monday before
    contact(store, "10-31T23:59:59", "visit")              # October
    store.delete("tickets", contact(store, "11-24T10:00:00"), auth.SYSTEM)
    visit(store, host, "11-23T09:30:00")                   # Monday, 09h
    visit(store, host, "11-23T09:50:00")                   # Monday, 09h
    visit(store, host, "11-24T15:00:00")                   # Tuesday, 15h
    visit(store, host, None, appointment="11-26T10:00:00")  # expected, never came: no traffic
    visit(store, host, "11-20T10:00:00")                   # the week before
    store.delete("visitors", visit(store, host, "11-25T10:00:00"), auth.SYSTEM)
    return store


def test_客户流量监测_counts_a_weeks_contacts_and_visits_by_hour_weekday_day_and_channel(office, manager):
    report = reports.traffic_report(office, manager, *WEEK, now=NOW)
    assert (report.contacts, report.visits) == (5, 3)
    assert report.by_channel == {"hotline": 3, "visit": 0, "web": 1, "letter": 1, "email": 0}
    assert {h: n for h, n in enumerate(report.hours_of()) if n} == {9: 3, 14: 1, 23: 1}
    assert {h: n for h, n in enumerate(report.by_hour["hotline"]) if n} == {9: 2, 23: 1}
    assert {h: n for h, n in enumerate(report.by_hour[reports.VISITS]) if n} == {9: 2, 15: 1}
    assert report.weekdays_of() == [3, 0, 1, 0, 0, 0, 1]
    assert report.by_weekday[reports.VISITS] == [2, 1, 0, 0, 0, 0, 0]
    assert report.by_weekday_hour == {(0, 9): 2, (0, 14): 1, (2, 9): 1, (6, 23): 1}
    assert report.trend_unit == "day" and [day for day, _ in report.trend] == [date(2026, 11, d) for d in range(23, 30)]
    monday = report.trend[0][1]
    assert (monday["hotline"], monday["web"], monday[reports.VISITS]) == (2, 1, 2)
    assert report.trend[6][1]["hotline"] == 1
    assert (report.busiest_hour(), report.busiest_weekday(), report.busiest_hour(reports.VISITS)) == (9, 0, 9)


def test_the_week_before_and_the_change(office, manager):
    report = reports.traffic_report(office, manager, *WEEK, now=NOW)
    assert (report.previous_start, report.previous_end) == (date(2026, 11, 16), date(2026, 11, 23))
    assert (report.previous_contacts, report.previous_visits) == (2, 1)
    figures = dict(reports.summary(report, "en"))
    assert figures["Contacts, change from the period before (%)"] == 150.0
    assert figures["Visits, change from the period before (%)"] == 200.0
    assert figures["Busiest hour (contacts)"] == "09:00-10:00" and figures["Busiest weekday (contacts)"] == "Monday"


def test_每月流量分析报表_a_month_against_the_month_before(office, manager):
    report = reports.traffic_report(office, manager, *NOVEMBER, now=NOW)
    assert (report.contacts, report.visits) == (8, 4)
    assert report.by_channel["visit"] == 1 and report.by_channel["hotline"] == 5
    assert (report.previous_start, report.previous_end) == (date(2026, 10, 1), date(2026, 11, 1))
    assert (report.previous_contacts, report.previous_visits) == (1, 0)
    assert report.change(report.visits, report.previous_visits) is None       # nothing to compare with
    assert len(report.trend) == 30


def test_a_year_is_charted_month_by_month(office, manager):
    report = reports.traffic_report(office, manager, *reports.preset("this_year", date(2026, 12, 10)), now=NOW)
    assert report.trend_unit == "month" and [day.month for day, _ in report.trend] == list(range(1, 13))
    by_month = {day.month: counts for day, counts in report.trend}
    assert sum(by_month[11][c] for c in report.by_channel) == 8 and by_month[11][reports.VISITS] == 4
    assert sum(by_month[10].values()) == 1
    assert report.previous_start == date(2025, 1, 1)


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith("\ufeff".encode("utf-8"))
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_the_csv_holds_every_series(office, manager):
    rows = read_csv(reports.report_csv(reports.traffic_report(office, manager, *WEEK, now=NOW), "zh"))
    assert ["报表", "报表名称", "客户流量分析报表"] in rows
    assert ["按渠道", "400 来电", "3"] in rows and ["按渠道", "来访登记", "3"] in rows
    assert ["按时段：全部受理", "09:00-10:00", "3"] in rows and ["按时段：来访登记", "15:00-16:00", "1"] in rows
    assert ["按星期：全部受理", "星期日", "1"] in rows
    assert ["每日：400 来电", "2026-11-23", "2"] in rows and ["每日：来访登记", "2026-11-24", "1"] in rows
    assert ["概况", "受理量环比（%）", "150.0"] in rows
    assert reports.file_name(reports.traffic_report(office, manager, *WEEK)) == "traffic-report-2026-11-23-2026-11-29.csv"


@pytest.mark.parametrize("role", ["staff", "finance", "admin"])
def test_roles_without_the_reports_screen_are_refused(store, make_user, role):
    from kefu.errors import PermissionDenied
    with pytest.raises(PermissionDenied):
        reports.traffic_report(store, make_user(role), *WEEK)


def test_a_manager_opens_the_traffic_report(demo_db):
    at_ = open_page(login("demo-manager"), "reports")
    at_.selectbox(key="reports__name").set_value("traffic")
    at_.selectbox(key="reports__period").set_value("last_month")
    at_.run()
    assert not at_.exception
    shown = texts(at_)
    assert "客户流量分析报表 · " in shown and "各时段受理量（按渠道）" in shown and "各时段来访人次" in shown
    labels = {m.label: m.value for m in at_.metric}
    assert int(labels["受理量（全部渠道）"]) > 0 and int(labels["来访人次（来访登记）"]) > 0
    assert len(at_.get("arrow_vega_lite_chart")) + len(at_.get("vega_lite_chart")) == 8
