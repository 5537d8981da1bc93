"""Satisfaction surveys: answers (who, when, channel), scores out of range refused with nothing written,
results of a period against hand-built answers, and the corrective-action prompt at or below the
threshold (and not above), in the engine and on the manager's home screen."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from kefu import auth, surveys
from kefu.errors import PermissionDenied
from kefu.rules import RulesError
from kefu.sheets import ValidationError

RULES = surveys.SurveyRules(threshold=3.5, window="last_30_days", min_answers=2)


def answer(store, day, service, price, overall, comments=None, channel="call"):
    taken = datetime.fromisoformat(f"{day}T10:00").replace(tzinfo=store.settings.tz).isoformat()
    return surveys.submit(store, auth.SYSTEM, {"taken_at": taken, "service": service, "price": price,
                                               "overall": overall, "comments": comments, "channel": channel})


def count(store) -> int:
    return store.conn.execute("SELECT count(*) FROM surveys").fetchone()[0]


def test_staff_take_a_survey_on_the_phone(store, make_user):
    staff = make_user("staff")
    row_id = surveys.submit(store, staff, {"service": 5, "price": "4", "overall": 4, "comments": "很满意",
                                           "taken_by": 999, "channel": "kiosk", "taken_at": "2020-01-01T10:00"})
    row = store.get("surveys", row_id, staff)
    assert (row["service"], row["price"], row["overall"]) == (5, 4, 4)
    assert (row["channel"], row["taken_by"]) == ("call", staff.id)
    assert row["taken_at"][:10] == surveys.office_today(store).isoformat()
    with pytest.raises(PermissionDenied):
        surveys.submit(store, make_user("finance"), {"service": 5, "price": 5, "overall": 5})


@pytest.mark.parametrize("values, field", [({"service": 0}, "service"), ({"price": 6}, "price"),
                                           ({"overall": "很好"}, "overall"), ({"service": 3.5}, "service"),
                                           ({"price": None}, "price"), ({"overall": -1}, "overall")])
def test_a_score_out_of_range_is_refused_and_nothing_written(store, make_user, values, field):
    staff = make_user("staff")
    with pytest.raises(ValidationError) as refused:
        surveys.submit(store, staff, {"service": 4, "price": 4, "overall": 4, **values})
    assert [p.field for p in refused.value.problems] == [field]
    label = store.sheet("surveys").by_name[field].label_in("en")
    assert refused.value.messages("en")[0].startswith(label + ":")
    assert count(store) == 0
    assert store.conn.execute("SELECT count(*) FROM kefu_audit WHERE sheet = 'surveys'").fetchone()[0] == 0


def test_results_against_hand_built_answers(store, make_user):
    manager = make_user("manager")
    answer(store, "2026-10-31", 1, 1, 1)                              # the day before: not counted
    answer(store, "2026-11-01", 5, 3, 4, "服务很好")
    answer(store, "2026-11-10", 4, 2, 4)
    answer(store, "2026-11-30", 3, 2, 5, "价格偏高", channel="kiosk")
    answer(store, "2026-12-01", 1, 1, 1)                              # the day after
    gone = answer(store, "2026-11-15", 1, 1, 1)
    store.delete("surveys", gone, manager)                            # deleted answers are not counted
    found = surveys.results(store, manager, date(2026, 11, 1), date(2026, 11, 30))
    assert found["count"] == 3
    assert found["questions"]["service"] == {"average": 4.0, "distribution": {1: 0, 2: 0, 3: 1, 4: 1, 5: 1}}
    assert found["questions"]["price"] == {"average": 2.33, "distribution": {1: 0, 2: 2, 3: 1, 4: 0, 5: 0}}
    assert found["questions"]["overall"] == {"average": 4.33, "distribution": {1: 0, 2: 0, 3: 0, 4: 2, 5: 1}}
    assert [c["comments"] for c in surveys.comments(store, manager, "2026-11-01", "2026-11-30")] == ["价格偏高", "服务很好"]
    empty = surveys.results(store, manager, "2025-01-01", "2025-01-31")
    assert empty["count"] == 0 and empty["questions"]["price"]["average"] is None
    with pytest.raises(PermissionDenied):
        surveys.results(store, make_user("finance"), "2026-11-01", "2026-11-30")


def days_ago(store, n: int) -> str:
    return (surveys.office_today(store) - timedelta(days=n)).isoformat()


@pytest.mark.parametrize("prices, alerted", [((3, 4), True), ((3, 3), True), ((4, 3, 4), False), ((5, 3), False)])
def test_the_corrective_action_prompt_at_or_below_the_threshold_not_above(store, make_user, prices, alerted):
    manager = make_user("manager")
    for n, price in enumerate(prices):
        answer(store, days_ago(store, n * 5), 5, price, 5)
    answer(store, days_ago(store, 40), 1, 1, 1)                       # outside the last 30 days
    found = surveys.alerts(store, manager, rules=RULES)
    assert [(a.question, a.average) for a in found] == ([("price", round(sum(prices) / len(prices), 2))]
                                                        if alerted else [])


def test_an_action_answers_the_prompt_and_only_planners_are_asked(store, make_user):
    manager, supervisor = make_user("manager"), make_user("supervisor")
    for n in range(3):
        answer(store, days_ago(store, n), 2, 4, 3)
    found = surveys.alerts(store, manager, rules=RULES)
    assert [(a.question, a.average) for a in found] == [("service", 2.0), ("overall", 3.0)]
    assert surveys.alerts(store, supervisor, rules=RULES) == []
    with pytest.raises(ValidationError) as refused:
        surveys.plan_action(store, manager, found[0], action="", owner=supervisor.id, due=days_ago(store, -14))
    assert refused.value.problems[0].field == "action"
    surveys.plan_action(store, manager, found[0], action="服务话术培训", owner=supervisor.id, due=days_ago(store, -14))
    assert [a.question for a in surveys.alerts(store, manager, rules=RULES)] == ["overall"]
    row = store.conn.execute("SELECT period, question, average, owner, done FROM corrective_actions").fetchone()
    assert row == (f"{days_ago(store, 29)}~{days_ago(store, 0)}", "service", 2.0, supervisor.id, 0)
    month = surveys.SurveyRules(threshold=3.5, window="month", min_answers=1)
    today = surveys.office_today(store)
    assert surveys.watched_period(today, month) == (today.replace(day=1), today, f"{today:%Y-%m}")
    assert surveys.alerts(store, manager, rules=surveys.SurveyRules(3.5, "last_30_days", 4)) == []  # too few


def test_rules_file_is_checked(tmp_path):
    assert surveys.load_rules() == surveys.SurveyRules(3.5, "last_30_days", 10)
    bad = tmp_path / "club_surveys.toml"
    bad.write_text('threshold = 7\n', encoding="utf-8")
    with pytest.raises(RulesError, match="threshold"):
        surveys.load_rules(bad)
    bad.write_text('window = "week"\n', encoding="utf-8")
    with pytest.raises(RulesError, match="window"):
        surveys.load_rules(bad)


# -------------------------------------------------------------------------------- the manager's home screen

def home_as(user) -> AppTest:
    def script():
        from views import home
        home.render()
    at = AppTest.from_function(script, default_timeout=60)
    at.session_state["user"] = user
    at.session_state["lang"] = "en"
    return at.run()


@pytest.mark.parametrize("price, shown", [(3, True), (4, False)])
def test_home_asks_the_manager_for_a_corrective_action(store, make_user, monkeypatch, price, shown):
    monkeypatch.setenv("KEFU_DB", str(store.location))
    manager = make_user("manager")
    for n in range(10):                                               # rules/club_surveys.toml: 10 answers, 3.5
        answer(store, days_ago(store, n), 4, price if n % 2 else 4, 4)  # price averages 3.5 or 4.0
    at = home_as(manager)
    assert not at.exception
    text = "\n".join(str(e.value) for e in [*at.subheader, *at.markdown])
    assert ("plan a corrective action" in text) == shown
    if not shown:
        return
    assert "Price: average 3.5 over 10 answers" in text
    at.text_area(key="home_sv_action_price").input("价格公示，会员折扣说明")
    at.date_input(key="home_sv_due_price").set_value(surveys.office_today(store) + timedelta(days=14))
    next(b for b in at.button if b.label == "Record the corrective action").click().run()
    assert not at.exception and not at.error
    assert store.conn.execute("SELECT question, action, owner FROM corrective_actions").fetchall() == [
        ("price", "价格公示，会员折扣说明", manager.id)]
    assert "plan a corrective action" not in "\n".join(str(e.value) for e in at.subheader)


# -------------------------------------------------------------------------------- the results screen

def results_as(user, choice: str | None = None) -> AppTest:
    def script():
        from views import surveys as screen
        screen.render()
    at = AppTest.from_function(script, default_timeout=60)
    at.session_state["user"] = user
    at.session_state["lang"] = "en"
    if choice:
        at.session_state["survey_results__period"] = choice
    return at.run()


def test_results_screen_shows_averages_charts_and_comments(store, make_user, monkeypatch):
    monkeypatch.setenv("KEFU_DB", str(store.location))
    answer(store, days_ago(store, 1), 5, 2, 4, "配件价格 *偏高* [链接](http://x)")
    answer(store, days_ago(store, 2), 3, 3, 4)
    answer(store, days_ago(store, 100), 1, 1, 1, "旧的意见")
    at = results_as(make_user("supervisor"))
    assert not at.exception
    assert [(m.label, m.value) for m in at.metric] == [("Answers", "2"), ("Service quality", "4.00"),
                                                       ("Price", "2.50"), ("The company overall", "4.00")]
    assert len(at.get("vega_lite_chart")) == 3
    text = "\n".join(str(m.value) for m in at.markdown)
    assert "配件价格" in text and "旧的意见" not in text
    assert "\\[链接\\]" in text                                                 # shown as typed, not a link
    at = results_as(make_user("manager"), "year")
    assert [m.value for m in at.metric][:1] == ["3"] and "旧的意见" in "\n".join(str(m.value) for m in at.markdown)


@pytest.mark.parametrize("role", ["staff", "finance", "admin"])
def test_results_screen_forced_open_by_other_roles_shows_nothing(store, make_user, monkeypatch, role):
    monkeypatch.setenv("KEFU_DB", str(store.location))
    at = results_as(make_user(role))
    assert not at.exception
    assert [w.value for w in at.warning] == ["This screen is not available to your role."]
    assert not at.metric and not at.title
