"""Dashboard figures and rankings (kefu.kpi) against a hand-made office with known answers: each KPI,
empty periods (nothing to divide by), the period before, working hours across a public holiday, staff
seeing only their own figures, ranking weights, ties and bonus places, the team ranking, the cache
following every write, and the rule file refused with file and key named."""
from datetime import date, datetime
from pathlib import Path

import pytest

from kefu import auth, kpi
from kefu.errors import PermissionDenied
from kefu.rules import RulesError
from kefu.tickets import backfill_hours

NOVEMBER = (date(2026, 11, 1), date(2026, 12, 1))
NOW = datetime.fromisoformat("2026-12-10T12:00:00+08:00")
RULES_TEXT = (Path(__file__).resolve().parent.parent / "rules" / "kpi.toml").read_text(encoding="utf-8")


def at(text: str) -> str:
    return f"2026-{text}+08:00"


def ticket(store, created: str, **values) -> int:
    row = {"channel": "hotline", "kind": "complaint", "category": "speed", "severity": "normal",
           "caller_name": "陈先生", "subject": "维修迟迟不上门", "state": "new", **values}
    ticket_id = store.insert("tickets", row, auth.SYSTEM)
    store.conn.execute("UPDATE tickets SET created_at = ? WHERE id = ?", (at(created), ticket_id))
    return ticket_id


def customer(store, owner, created: str) -> int:
    number = store.conn.execute("SELECT count(*) FROM customers").fetchone()[0] + 1
    customer_id = store.insert("customers", {"code": f"KH{number:04d}", "name": f"客户{number}", "kind": "company",
                                             "credit_rating": "A", "owner": owner.id}, auth.SYSTEM)
    store.conn.execute("UPDATE customers SET created_at = ? WHERE id = ?", (at(created), customer_id))
    return customer_id


@pytest.fixture
def office(store, make_user):
    """November 2026 at the desk of two staff members, A and B."""
    a, b = make_user("staff", "staff-a"), make_user("staff", "staff-b")
    manager = make_user("manager", "boss-1")
    # A: one complaint on time (2 h / 9 h, 5 stars), one late (1 h / 29 h, 2 stars)
    ticket(store, "11-20T17:00:00", assignee=a.id, state="closed", satisfaction=5,
           responded_at=at("11-23T10:00:00"), response_hours=2, resolution_due=at("11-24T17:00:00"),
           resolved_at=at("11-23T17:00:00"), resolution_hours=9, closed_at=at("11-24T10:00:00"))
    ticket(store, "11-02T10:00:00", assignee=a.id, channel="web", severity="major", state="closed", satisfaction=2,
           responded_at=at("11-02T11:00:00"), response_hours=1, resolution_due=at("11-04T10:00:00"),
           resolved_at=at("11-05T12:00:00"), resolution_hours=29, closed_at=at("11-06T10:00:00"))
    # nobody's yet: never answered, due 1 December, so overdue on 10 December
    ticket(store, "11-30T23:59:59", category="billing", severity="emergency", resolution_due=at("12-01T17:00:00"))
    # B: waiting on the customer (clock stopped: not overdue), and a closed inquiry (no due time, 4 stars)
    ticket(store, "11-10T09:30:00", assignee=b.id, channel="visit", state="waiting_customer",
           responded_at=at("11-10T09:45:00"), response_hours=0.25, resolution_due=at("11-11T09:30:00"))
    ticket(store, "11-15T10:00:00", assignee=b.id, kind="inquiry", state="closed", satisfaction=4,
           responded_at=at("11-16T10:00:00"), response_hours=8, resolved_at=at("11-16T11:00:00"),
           resolution_hours=9)
    ticket(store, "12-01T00:00:00")                                   # December
    ticket(store, "10-31T23:59:59", assignee=a.id, satisfaction=3)    # October
    gone = ticket(store, "11-12T10:00:00")
    store.delete("tickets", gone, auth.SYSTEM)
    for n in range(6):                                                # 6 archives before November, 2 in it
        customer(store, a if n % 2 else b, "10-01T10:00:00")
    customer(store, a, "11-05T10:00:00")
    customer(store, b, "11-25T10:00:00")
    customer(store, a, "12-02T10:00:00")                              # after November: not on file yet
    # (the dates are set after saving: a form refuses a date after today, and these tests outlive it)
    for day, host in (("11-03T10:00:00", a), ("11-03T15:00:00", b), ("11-28T09:00:00", a), ("10-30T09:00:00", a)):
        visit = store.insert("visitors", {"visitor_name": "访客", "phone": "13812345678", "purpose": "business",
                                          "host": host.id}, auth.SYSTEM)
        store.conn.execute("UPDATE visitors SET arrived_at = ? WHERE id = ?", (at(day), visit))
    first = store.conn.execute("SELECT min(id) FROM customers").fetchone()[0]
    for n, joined in enumerate(("2026-11-01", "2026-11-30", "2026-10-31")):
        joiner = store.insert("members", {"customer": first + n, "member_no": f"HY{n:06d}", "tier": "silver",
                                          "status": "active", "joined_on": "2026-01-01"}, auth.SYSTEM)
        store.conn.execute("UPDATE members SET joined_on = ? WHERE id = ?", (joined, joiner))
    for taken, scores, by in (("11-05T10:00:00", (5, 4, 3), a), ("11-06T10:00:00", (2, 2, 2), b),
                              ("10-06T10:00:00", (1, 1, 1), a)):
        answer = store.insert("surveys", {"taken_at": at("01-05T10:00:00"), "service": scores[0], "price": scores[1],
                                          "overall": scores[2], "channel": "call", "taken_by": by.id}, auth.SYSTEM)
        store.conn.execute("UPDATE surveys SET taken_at = ? WHERE id = ?", (at(taken), answer))
    kpi.CACHE.clear()
    return {"a": a, "b": b, "manager": manager, "store": store}


def test_each_kpi_of_november(office):
    figures = kpi.figures(office["store"], office["manager"], *NOVEMBER, now=NOW)
    assert figures.tickets == 5 and figures.complaints == 4
    assert figures.open == 2                         # the unanswered one and the one waiting on the customer
    assert figures.overdue == 2                      # resolved late, and past due unanswered; not the paused one
    assert figures.resolved == 3 and figures.resolved_with_due == 2 and figures.on_time_rate == 0.5
    assert figures.response_hours == pytest.approx((2 + 1 + 0.25 + 8) / 4)
    assert figures.resolution_hours == pytest.approx((9 + 29 + 9) / 3)
    assert figures.satisfaction == pytest.approx(11 / 3) and figures.follow_up_rate == 1.0
    assert figures.customers == 8 and figures.complaint_rate == pytest.approx(50.0)
    assert figures.visitors == 3 and figures.new_members == 2
    assert figures.survey_answers == 2 and figures.survey_score == pytest.approx((4 + 2) / 2)


def test_an_empty_period_has_zero_counts_and_no_rates(office):
    figures = kpi.figures(office["store"], office["manager"], date(2025, 3, 1), date(2025, 4, 1), now=NOW)
    assert (figures.tickets, figures.open, figures.overdue, figures.visitors, figures.new_members) == (0, 0, 0, 0, 0)
    assert figures.on_time_rate is None and figures.satisfaction is None and figures.follow_up_rate is None
    assert figures.response_hours is None and figures.survey_score is None
    assert figures.complaint_rate is None            # no customer on file: nothing to divide by


def test_the_overview_compares_with_the_month_before_and_its_lines_add_up(office):
    view = kpi.overview(office["store"], office["manager"], "month", date(2026, 11, 30), now=NOW)
    assert (view.current.start, view.current.end) == NOVEMBER
    assert (view.before.start, view.before.end) == (date(2026, 10, 1), date(2026, 11, 1))
    assert view.current.tickets == 5 and view.before.tickets == 1
    assert view.delta("tickets") == 4 and view.delta("on_time_rate") is None    # no resolved ticket in October
    assert view.unit == "day" and len(view.series["tickets"]) == 30 and sum(view.series["tickets"]) == 5
    assert view.current.on_time_rate == 0.5 and view.current.survey_score == pytest.approx(3.0)
    assert view.current.customers == 8 and view.current.new_members == 2 and view.before.new_members == 1


def test_the_overview_of_the_current_month_stops_its_line_at_today(office):
    view = kpi.overview(office["store"], office["manager"], "month", date(2026, 11, 12), now=NOW)
    assert len(view.series["tickets"]) == 12 and sum(view.series["tickets"]) == view.current.tickets


@pytest.mark.parametrize("kind, today, expected, before", [
    ("today", date(2026, 11, 23), (date(2026, 11, 23), date(2026, 11, 24)), (date(2026, 11, 22), date(2026, 11, 23))),
    ("week", date(2026, 11, 25), (date(2026, 11, 23), date(2026, 11, 30)), (date(2026, 11, 16), date(2026, 11, 23))),
    ("month", date(2026, 3, 31), (date(2026, 3, 1), date(2026, 4, 1)), (date(2026, 2, 1), date(2026, 3, 1))),
    ("quarter", date(2026, 1, 15), (date(2026, 1, 1), date(2026, 4, 1)), (date(2025, 10, 1), date(2026, 1, 1))),
    ("year", date(2024, 2, 29), (date(2024, 1, 1), date(2025, 1, 1)), (date(2023, 1, 1), date(2024, 1, 1))),
])
def test_periods_and_the_one_before(kind, today, expected, before):
    assert kpi.period(kind, today) == expected
    assert kpi.previous(kind, *expected) == before


def test_a_custom_period_is_compared_with_as_many_days_before():
    span = kpi.period("custom", date(2026, 11, 1), first=date(2026, 11, 10), last=date(2026, 11, 1))
    assert span == (date(2026, 11, 1), date(2026, 11, 11))
    assert kpi.previous("custom", *span) == (date(2026, 10, 22), date(2026, 11, 1))


def test_resolution_hours_leave_out_a_public_holiday(store, make_user):
    """30 September 17:00 to 8 October 10:00 spans the National Day week: 1 working hour before it and
    1 after, not 185 hours on the clock."""
    manager = make_user("manager")
    ticket(store, "09-30T17:00:00", state="awaiting_approval", responded_at=at("09-30T17:30:00"),
           resolved_at=at("10-08T10:00:00"))
    store.conn.execute("DELETE FROM kefu_meta WHERE key = 'backfill:ticket_hours'")
    assert backfill_hours(store) == 1
    figures = kpi.figures(store, manager, date(2026, 9, 1), date(2026, 10, 1), now=NOW)
    assert figures.response_hours == pytest.approx(0.5) and figures.resolution_hours == pytest.approx(2.0)


def test_staff_see_only_their_own_figures(office):
    a = office["a"]
    figures = kpi.figures(office["store"], a, *NOVEMBER, now=NOW)
    assert figures.tickets == 2 and figures.on_time_rate == 0.5 and figures.satisfaction == pytest.approx(3.5)
    assert figures.visitors == 2                     # the visits A hosted
    assert figures.customers == 4                    # the archives A keeps, on file at the end of November
    assert figures.survey_answers == 1 and figures.new_members is None
    assert [row.key for row in kpi.staff_ranking(office["store"], a, 2026, 4)] == [a.id]
    with pytest.raises(PermissionDenied):
        kpi.team_ranking(office["store"], a, 2026, 11)


@pytest.mark.parametrize("role", ["finance", "admin"])
def test_finance_and_the_administrator_have_no_dashboard(office, make_user, role):
    with pytest.raises(PermissionDenied):
        kpi.figures(office["store"], make_user(role), *NOVEMBER)
    with pytest.raises(PermissionDenied):
        kpi.staff_ranking(office["store"], make_user(role, f"{role}-2"), 2026, 4)


def test_the_cache_follows_every_write(office):
    store, manager = office["store"], office["manager"]
    assert kpi.figures(store, manager, *NOVEMBER, now=NOW).tickets == 5
    hits = kpi.CACHE.hits
    assert kpi.figures(store, manager, *NOVEMBER, now=NOW).tickets == 5
    assert kpi.CACHE.hits > hits                     # an idle refresh asks nothing again
    store.insert("tickets", {"channel": "hotline", "kind": "complaint", "category": "speed", "severity": "normal",
                             "caller_name": "王女士", "subject": "又来电", "state": "new"}, manager)
    store.conn.execute("UPDATE tickets SET created_at = ? WHERE id = (SELECT max(id) FROM tickets)",
                       (at("11-29T10:00:00"),))
    assert kpi.figures(store, manager, *NOVEMBER, now=NOW).tickets == 6


# ---------------------------------------------------------------------------------------------- rankings

def review(store, manager, staff, year=2026, quarter=4, scores=(100, 100, 100, 100)):
    store.insert("kpi_reviews", {"staff": staff.id, "year": year, "quarter": str(quarter),
                                 **dict(zip(kpi.HAND_PARTS, scores))}, manager)


def closed(store, staff, created: str, satisfaction: int, on_time: bool = True, fault=None) -> None:
    ticket(store, created, assignee=staff.id, state="closed", satisfaction=satisfaction,
           resolution_due=at("12-31T18:00:00") if on_time else at("10-01T10:00:00"),
           resolved_at=at("11-30T10:00:00"), fault_staff=fault.id if fault else None)


def test_the_ranking_weighs_computed_and_hand_scores(store, make_user):
    manager = make_user("manager")
    a, b = make_user("staff", "staff-a"), make_user("staff", "staff-b")
    closed(store, a, "11-02T10:00:00", 5)                         # A: 5 stars, on time: computed 100
    closed(store, b, "11-02T10:00:00", 3, on_time=False)          # B: 3 stars (50), late (0): 60*50+20*0 / 80
    review(store, manager, a, scores=(80, 70, 60, 50))
    rows = kpi.staff_ranking(store, manager, 2026, 4)
    first, second = rows[0], rows[1]
    assert (first.key, second.key) == (a.id, b.id)
    assert first.computed == pytest.approx(100) and second.computed == pytest.approx(37.5)
    assert first.score == pytest.approx(50 + 0.2 * 80 + 0.1 * 70 + 0.1 * 60 + 0.1 * 50)
    assert second.score == pytest.approx(0.5 * 37.5) and second.review is None   # no review entered: 0 for those


def test_a_fault_costs_points_when_the_office_sets_a_deduction(store, make_user):
    """[ranking.deductions] per_fault is an office option (off at 0 as shipped): set to 5 here."""
    manager = make_user("manager")
    a, b = make_user("staff", "staff-a"), make_user("staff", "staff-b")
    closed(store, a, "11-02T10:00:00", 5, fault=a)
    closed(store, b, "11-02T10:00:00", 5)
    five = kpi.load_rules(text=RULES_TEXT.replace("per_fault = 0 ", "per_fault = 5 ", 1))
    assert five.per_fault == 5
    rows = kpi.staff_ranking(store, manager, 2026, 4, rules=five)
    assert [r.key for r in rows] == [b.id, a.id]
    assert rows[1].faults == 1 and rows[0].score - rows[1].score == pytest.approx(5)


def test_ties_follow_the_declared_rule_not_chance(store, make_user):
    """Same score: more tickets handled wins (tie_break after satisfaction and on-time rate, both equal);
    still equal: by name."""
    manager = make_user("manager")
    few, many = make_user("staff", "staff-zhang"), make_user("staff", "staff-li")
    same_a, same_b = make_user("staff", "staff-wu"), make_user("staff", "staff-an")
    closed(store, few, "11-02T10:00:00", 5)
    for _ in range(3):
        closed(store, many, "11-03T10:00:00", 5)
    closed(store, same_a, "11-04T10:00:00", 5)
    closed(store, same_b, "11-04T10:00:00", 5)
    rows = kpi.staff_ranking(store, manager, 2026, 4)
    assert len({r.score for r in rows}) == 1
    assert rows[0].key == many.id
    names = {r.key: r.name for r in rows}
    assert [names[r.key] for r in rows[1:]] == sorted(names[k] for k in (few.id, same_a.id, same_b.id))
    assert [r.place for r in rows] == [1, 2, 3, 4]


def test_bonus_places_and_who_is_not_ranked(store, make_user):
    manager = make_user("manager")
    people = [make_user("staff", f"staff-{n:02d}") for n in range(10)]
    idle = make_user("staff", "staff-idle")
    for n, person in enumerate(people):                            # s00 best ... s09 worst
        closed(store, person, "11-02T10:00:00", 5)
        review(store, manager, person, scores=(100 - n, 100, 100, 100))
    rows = kpi.staff_ranking(store, manager, 2026, 4)
    assert [r.key for r in rows[:10]] == [p.id for p in people]
    assert [r.bonus for r in rows[:10]] == ["top"] * 3 + ["next"] * 5 + [None] * 2
    assert rows[-1].key == idle.id and not rows[-1].ranked and rows[-1].bonus is None


def test_the_team_ranking_of_a_month(store, make_user):
    manager = make_user("manager")
    a, b, c = make_user("staff", "staff-a"), make_user("staff", "staff-b"), make_user("staff", "staff-c")
    for person, team in ((a, "intake"), (b, "intake"), (c, "complaints")):
        store.insert("staff_teams", {"staff": person.id, "team": team}, manager)
    closed(store, a, "11-02T10:00:00", 5)
    closed(store, b, "11-02T10:00:00", 1)
    closed(store, c, "11-02T10:00:00", 4)
    rows = kpi.team_ranking(store, manager, 2026, 11)
    by_team = {r.key: r for r in rows}
    assert by_team["intake"].handled == 2 and by_team["intake"].members == 2
    assert by_team["intake"].satisfaction == pytest.approx(3.0)
    assert [r.key for r in rows[:2]] == ["complaints", "intake"]     # 4 stars (75) above 3 stars (50)
    assert not by_team["relations"].ranked


# ---------------------------------------------------------------------------------------------- rules

@pytest.mark.parametrize("change, named", [
    (("satisfaction = 50 ", "satisfaction = -50 "), "[ranking.weights] satisfaction"),
    (("skill_pass_rate = 20", "skill_pass_rate = 30"), "[ranking.weights] must add up to 100"),
    (("report_timeliness = 10 ", ""), "[ranking.weights] missing key report_timeliness"),
    (("follow_up = 60", "follow_up = 61"), "[ranking.satisfaction] must add up to 100"),
    (('tie_break = ["satisfaction"', 'tie_break = ["luck"'), "[ranking] tie_break"),
    (("next = 8", "next = 2"), "[ranking.bonus] next"),
    (("refresh_seconds = 30", "refresh_seconds = 0"), "[dashboard] refresh_seconds"),
])
def test_a_wrong_rule_file_is_refused_naming_file_and_key(tmp_path, change, named):
    old, new = change
    assert old in RULES_TEXT
    path = tmp_path / "kpi.toml"
    path.write_text(RULES_TEXT.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(RulesError) as refused:
        kpi.load_rules(path)
    assert str(path) in str(refused.value) and named in str(refused.value)


def test_the_shipped_rules_are_the_domain_defaults():
    rules = kpi.load_rules()
    assert rules.weights == {"satisfaction": 50, "skill_pass_rate": 20, "process_improvement": 10,
                             "internal_satisfaction": 10, "report_timeliness": 10}
    assert (rules.bonus_top, rules.bonus_next, rules.refresh_seconds) == (3, 8, 30)
