"""The duty roster's six days on, one off (做六休一): more working days in a row than office.toml allows is
flagged on the roster's screen, as text, for whoever reads the roster."""
import dataclasses
from datetime import date, datetime, timedelta

import pytest

from kefu import roster
from apptest import login, open_page

TODAY = date(2026, 12, 3)


@pytest.fixture
def people(make_user):
    return {role: make_user(role) for role in ("staff", "supervisor", "finance")}


def schedule(store, who, supervisor, first: date, shifts: str) -> None:
    """One roster line a day from `first`: d = day shift, e = evening, r = rest, . = nothing scheduled."""
    kinds = {"d": "day", "e": "evening", "r": "rest"}
    for offset, shift in enumerate(shifts):
        if shift != ".":
            store.insert("roster", {"duty_date": (first + timedelta(days=offset)).isoformat(), "staff": who.id,
                                    "shift": kinds[shift]}, supervisor)


@pytest.mark.parametrize("shifts, flagged", [
    ("dddddd", None),                     # six days on: allowed
    ("ddddddr", None),                    # then the rest day
    ("ddddeed", (1, 7)),                  # seven in a row, evening shifts count too
    ("dddrdddddd", None),                 # a rest day breaks the run
    ("ddd.ddddd", None),                  # so does a day with nothing scheduled
    ("dddddddddd", (1, 10)),
])
def test_做六休一_more_than_six_working_days_in_a_row_is_flagged(store, people, shifts, flagged):
    first = TODAY - timedelta(days=1)
    schedule(store, people["staff"], people["supervisor"], first, shifts)
    runs = roster.too_long(store, today=TODAY)
    if flagged is None:
        assert runs == []
    else:
        assert [(r.staff, r.days, r.first) for r in runs] == [(people["staff"].id, flagged[1], first)]


def test_a_run_that_ended_before_today_is_not_flagged_and_a_deleted_line_does_not_count(store, people):
    schedule(store, people["staff"], people["supervisor"], TODAY - timedelta(days=10), "ddddddd")
    assert roster.too_long(store, today=TODAY) == []                   # over: nothing to change any more
    schedule(store, people["staff"], people["supervisor"], TODAY, "ddddddd")
    assert [r.days for r in roster.too_long(store, today=TODAY)] == [7]
    line = store.conn.execute("SELECT id FROM roster WHERE duty_date = ? AND staff = ?",
                              ((TODAY + timedelta(days=3)).isoformat(), people["staff"].id)).fetchone()[0]
    store.delete("roster", line, people["supervisor"])
    assert roster.too_long(store, today=TODAY) == []


def test_the_office_sets_how_many_days_in_a_row(store, people):
    schedule(store, people["staff"], people["supervisor"], TODAY, "ddddd")
    assert roster.too_long(store, today=TODAY) == []
    store.settings = dataclasses.replace(store.settings, roster_days_in_a_row=4)
    assert [r.days for r in roster.too_long(store, today=TODAY)] == [5]


def test_the_warning_names_the_person_for_roster_readers_only(store, people):
    schedule(store, people["staff"], people["supervisor"], TODAY, "ddddddd")
    found = roster.notices(store, people["staff"], today=TODAY)
    assert [(n.code, n.params["name"], n.params["days"]) for n in found] == [
        ("roster.too_long", people["staff"].display_name, 7)]
    assert roster.notices(store, people["finance"], today=TODAY) == []     # finance does not read the roster


def test_the_roster_screen_warns_with_the_name_as_text(demo_store, demo_db):
    supervisor = demo_store.conn.execute("SELECT id FROM kefu_users WHERE username = 'demo-supervisor'").fetchone()[0]
    staff_id, name = demo_store.conn.execute(
        "SELECT id, display_name FROM kefu_users WHERE username = 'demo-staff'").fetchone()
    demo_store.conn.execute("UPDATE kefu_users SET display_name = ? WHERE id = ?", (f"**{name}**", staff_id))
    from kefu import auth
    actor = auth.get_user(demo_store, supervisor)
    today = datetime.now(demo_store.settings.tz).date()          # the office's today
    taken = {r[0] for r in demo_store.conn.execute("SELECT duty_date FROM roster WHERE staff = ?", (staff_id,))}
    for offset in range(8):
        day = (today + timedelta(days=offset)).isoformat()
        if day in taken:
            demo_store.conn.execute("UPDATE roster SET shift = 'day' WHERE staff = ? AND duty_date = ?", (staff_id, day))
        else:
            demo_store.insert("roster", {"duty_date": day, "staff": staff_id, "shift": "day"}, actor)
    at = open_page(login("demo-supervisor"), "roster")
    warnings = [w.value for w in at.warning]
    assert any("连续排班" in w and "\\*\\*" in w and "做六休一" in w for w in warnings), warnings
