"""The SLA clock follows the duty roster's shifts where the office turns it on (seed 002: 上班时间 白班9:00-18:00,
晚班14:00-23:00, 休息时间按照排班表轮流安排; rules/sla.toml [hours] follow_roster and [shifts]). Due times as a
ticket gets them (kefu/tickets.py imported: a ticket received at a given time, through the same rules and
calendar as an intake), the roster changed afterwards, the rules file refused or saved from the office rules
editor. Every test works on a copy of rules/ ($KEFU_RULES)."""
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from kefu import office_rules, sla, tickets
from kefu.office_rules import RulesRefused
from kefu.reports import WorkingClock
from kefu.rules import RulesError

TZ = ZoneInfo("Asia/Shanghai")
MONDAY = "2026-11-23"          # an ordinary working Monday; Tuesday the 24th has nothing rostered


@pytest.fixture(autouse=True)
def rules_dir(rules_copy):
    return rules_copy


def follow_roster(rules_dir, on: bool = True) -> None:
    path = rules_dir / "sla.toml"
    text = path.read_text(encoding="utf-8")
    assert "follow_roster = false" in text
    path.write_text(text.replace("follow_roster = false", f"follow_roster = {'true' if on else 'false'}"), encoding="utf-8")


@pytest.fixture
def people(make_user):
    return {role: make_user(role) for role in ("staff", "supervisor", "manager")}


def roster(store, people, day: str, *shifts: str) -> list[int]:
    """One roster line per shift on `day`, each for a staff member of its own."""
    ids = []
    for number, shift in enumerate(shifts):
        if number and f"staff{number}" not in people:
            people[f"staff{number}"] = _user(store, number)
        who = people["staff"] if number == 0 else people[f"staff{number}"]
        ids.append(store.insert("roster", {"duty_date": day, "staff": who.id, "shift": shift}, people["supervisor"]))
    return ids


def _user(store, number):
    from kefu import auth
    from conftest import PASSWORD
    return auth.get_user(store, auth.create_user(store, f"shift{number}", f"Shift {number}", "staff", PASSWORD,
                                                 auth.SYSTEM))


def received(store, when: str, kind: str = "complaint", severity: str = "normal") -> dict:
    """The due times a ticket received at `when` (office time) gets."""
    row = tickets.imported(store, {"created_at": f"{when}:00+08:00", "kind": kind, "severity": severity,
                                   "channel": "hotline", "subject": "宽带断线", "state": "new"})
    return {"response": row["response_due"][:16].replace("T", " "), "resolution": row["resolution_due"][:16].replace("T", " ")}


# ---------------------------------------------------------------------------------------------- due times

def test_晚班_a_complaint_logged_at_17_00_with_an_evening_shift_keeps_its_clock_running_until_23_00(store, people, rules_dir):
    follow_roster(rules_dir)
    roster(store, people, MONDAY, "day", "evening")
    due = received(store, f"{MONDAY} 17:00")
    assert due["response"] == "2026-11-23 21:00"            # 4 working hours, all on Monday evening
    assert due["resolution"] == "2026-11-25 18:00"          # 24 h: Monday 17-23 (6), Tuesday 9-18 (9), Wednesday 9-18 (9)
    start, end = datetime(2026, 11, 23, 17, tzinfo=TZ), datetime(2026, 11, 24, 10, tzinfo=TZ)
    rules = sla.rules_on(store, start.date())
    assert tickets.working_hours(rules, start, end) == 7     # a response recorded next morning: 6 + 1 working hours
    assert WorkingClock(rules.calendar).hours(start.isoformat(), end.isoformat()) == 7    # the reports count alike


def test_白班_with_only_a_day_shift_rostered_the_clock_stops_at_18_00(store, people, rules_dir):
    follow_roster(rules_dir)
    roster(store, people, MONDAY, "day", "rest")
    assert received(store, f"{MONDAY} 17:00")["response"] == "2026-11-24 12:00"      # Monday 17-18, Tuesday 9-12
    roster(store, people, "2026-11-21", "day", "rest")        # a Saturday with a day shift on duty
    assert received(store, "2026-11-21 17:00")["response"] == "2026-11-23 12:00"     # Saturday 17-18, Monday 9-12


def test_with_follow_roster_off_the_roster_is_ignored(store, people):
    roster(store, people, MONDAY, "evening")                  # the shipped rules: follow_roster = false
    roster(store, people, "2026-10-02", "day")                # a National Day holiday with someone on duty
    assert received(store, f"{MONDAY} 17:00")["response"] == "2026-11-24 12:00"
    assert received(store, "2026-09-30 17:00")["response"] == "2026-10-08 12:00"


def test_a_holiday_with_a_shift_rostered_counts_and_an_evening_shift_alone_opens_at_14_00(store, people, rules_dir):
    follow_roster(rules_dir)
    roster(store, people, "2026-10-02", "day")                # National Day holiday: someone is on duty
    roster(store, people, "2026-10-03", "evening")
    due = received(store, "2026-09-30 17:00")
    assert due["response"] == "2026-10-02 12:00"              # 30 Sept 17-18, then the rostered 2 October 9-12
    assert due["resolution"] == "2026-10-08 14:00"            # 1 + 9 (2 Oct) + 9 (3 Oct 14-23), the last 5 on 8 Oct
    assert received(store, "2026-10-03 09:00")["response"] == "2026-10-03 18:00"     # the evening shift starts at 14:00


def test_a_rest_day_or_a_deleted_line_does_not_open_a_holiday(store, people, rules_dir):
    follow_roster(rules_dir)
    roster(store, people, "2026-10-02", "rest")
    line = roster(store, people, "2026-10-05", "day")[0]
    store.delete("roster", line, people["supervisor"])
    assert received(store, "2026-09-30 17:00")["response"] == "2026-10-08 12:00"


def test_shifts_with_a_break_between_them_stop_the_clock_in_the_break(store, people, rules_dir):
    follow_roster(rules_dir)
    path = rules_dir / "sla.toml"
    path.write_text(path.read_text(encoding="utf-8").replace('day     = { start = "09:00", end = "18:00" }',
                                                             'day     = { start = "08:00", end = "12:00" }').replace(
        'evening = { start = "14:00", end = "23:00" }', 'evening = { start = "14:00", end = "18:00" }'), encoding="utf-8")
    roster(store, people, MONDAY, "day", "evening")
    assert received(store, f"{MONDAY} 11:00")["response"] == "2026-11-23 17:00"     # 11-12, then 14-17
    start, end = datetime(2026, 11, 23, 11, tzinfo=TZ), datetime(2026, 11, 23, 15, tzinfo=TZ)
    rules = sla.rules_on(store, start.date())
    assert tickets.working_hours(rules, start, end) == 2
    assert WorkingClock(rules.calendar).hours(start.isoformat(), end.isoformat()) == 2


# ---------------------------------------------------------------------------------------------- the roster changes

def open_ticket(store, people, when: str) -> int:
    ticket_id = tickets.intake(store, people["staff"], {"channel": "hotline", "kind": "complaint", "severity": "normal",
                                                        "caller_name": "陈先生", "subject": "宽带断线",
                                                        "category": "speed"})
    due = received(store, when)
    store.conn.execute("UPDATE tickets SET created_at = ?, response_due = ?, resolution_due = ? WHERE id = ?",
                       (f"{when}:00+08:00", due["response"].replace(" ", "T") + ":00+08:00",
                        due["resolution"].replace(" ", "T") + ":00+08:00", ticket_id))
    return ticket_id


def dues(store, ticket_id: int) -> tuple[str, str]:
    response, resolution = store.conn.execute("SELECT response_due, resolution_due FROM tickets WHERE id = ?",
                                              (ticket_id,)).fetchone()
    return response[:16].replace("T", " "), resolution[:16].replace("T", " ")


def test_an_evening_shift_rostered_later_moves_the_open_tickets_due_times_and_a_closed_one_keeps_its(store, people,
                                                                                                      rules_dir):
    follow_roster(rules_dir)
    waiting, answered, closed = (open_ticket(store, people, f"{MONDAY} 17:00") for _ in range(3))
    store.conn.execute("UPDATE tickets SET state = 'in_progress', responded_at = ? WHERE id = ?",
                       (f"{MONDAY}T17:30:00+08:00", answered))
    store.conn.execute("UPDATE tickets SET state = 'closed', closed_at = ? WHERE id = ?", (f"{MONDAY}T17:30:00+08:00", closed))
    before = ("2026-11-24 12:00", "2026-11-26 14:00")
    assert dues(store, waiting) == before
    line = roster(store, people, MONDAY, "evening")[0]
    assert dues(store, waiting) == ("2026-11-23 21:00", "2026-11-25 18:00")
    assert dues(store, answered) == ("2026-11-24 12:00", "2026-11-25 18:00")   # answered: its response due stands
    assert dues(store, closed) == before
    moved = store.conn.execute("SELECT username, after FROM kefu_audit WHERE sheet = 'tickets' AND action = 'update' "
                               "AND row_id = ?", (waiting,)).fetchall()
    assert [(who, "2026-11-23T21:00:00+08:00" in after) for who, after in moved] == [(people["supervisor"].username, True)]
    store.delete("roster", line, people["supervisor"])         # the shift is called off
    assert dues(store, waiting) == before


def test_with_follow_roster_off_a_roster_change_moves_nothing(store, people):
    ticket = open_ticket(store, people, f"{MONDAY} 17:00")
    roster(store, people, MONDAY, "evening")
    assert dues(store, ticket) == ("2026-11-24 12:00", "2026-11-26 14:00")


# ---------------------------------------------------------------------------------------------- the rules file

@pytest.mark.parametrize("old, new, key, zh, en", [
    ('evening = { start = "14:00", end = "23:00" }', 'evening = { start = "14:00", end = "13:00" }', "shifts.evening.end",
     "晚班：下班 (shifts.evening.end)：须高于晚班：上班 (shifts.evening.start)", "Evening shift: ends (shifts.evening.end)"),
    ('day     = { start = "09:00", end = "18:00" }', 'day     = { start = "9 点", end = "18:00" }', "shifts.day.start",
     "白班：上班 (shifts.day.start)：须为时间，如 09:00", "Day shift: starts (shifts.day.start): must be a time like 09:00"),
    ('evening = { start = "14:00", end = "23:00" }', 'evening = { start = "14:00", end = "24:00" }', "shifts.evening.end",
     "晚班：下班 (shifts.evening.end)：须为时间", "Evening shift: ends (shifts.evening.end): must be a time"),
    ("follow_roster = false", 'follow_roster = "yes"', "hours.follow_roster", "按排班表计时 (hours.follow_roster)：须为是或否",
     "Follow the duty roster (hours.follow_roster): must be yes or no"),
    ('day     = { start = "09:00", end = "18:00" }', 'day     = { start = "09:00", end = "18:00" }\n'
     'night = { start = "23:00", end = "23:30" }', "shifts.night", "排班班次时间 · night (shifts.night)：不是已知的项（可用：day, evening）",
     "Shifts of the duty roster · night (shifts.night): not a known key (known: day, evening)"),
])
def test_bad_shift_hours_are_refused_naming_the_key_in_both_languages(store, people, rules_dir, old, new, key, zh, en):
    path = rules_dir / "sla.toml"
    before = path.read_text(encoding="utf-8")
    assert old in before
    text = before.replace(old, new).replace("follow_roster = false", "follow_roster = true")
    with pytest.raises(RulesRefused) as caught:
        office_rules.check(store, "sla", text)
    assert caught.value.key == key
    assert zh in caught.value.message("zh") and en in caught.value.message("en")
    with pytest.raises(RulesError) as raw:                     # the loader the engine reads the file with
        sla.load_rules(path, tz=TZ, text=text, store=store)
    assert raw.value.key == key
    assert path.read_text(encoding="utf-8") == before


def test_following_the_roster_needs_the_hours_of_each_rostered_shift(store, rules_dir):
    path = rules_dir / "sla.toml"
    text = path.read_text(encoding="utf-8").replace("follow_roster = false", "follow_roster = true").replace(
        'evening = { start = "14:00", end = "23:00" }', "")
    with pytest.raises(RulesRefused) as caught:
        office_rules.check(store, "sla", text)
    assert caught.value.key == "shifts.evening"
    assert "缺少此项" in caught.value.message("zh") and "missing" in caught.value.message("en")


def test_the_office_rules_editor_turns_it_on_and_sets_the_shift_hours(store, people, rules_dir):
    path = rules_dir / "sla.toml"
    text = path.read_text(encoding="utf-8")
    shown = {f.key: (f.value, f.label["zh"]) for f in office_rules.figures("sla", text, store.sheets)}
    assert shown["hours.follow_roster"] == (False, "按排班表计时")
    assert shown["shifts.evening.end"] == ("23:00", "晚班：下班")
    roster(store, people, MONDAY, "evening")
    office_rules.save_figures(store, people["manager"], "sla", {"hours.follow_roster": True, "shifts.evening.end": "20:00"},
                              effective_from="2026-11-01")
    saved = path.read_text(encoding="utf-8")
    assert "follow_roster = true        # true: the clock follows the duty roster" in saved       # comments kept
    assert 'evening = { start = "14:00", end = "20:00" }   # 晚班' in saved
    assert {f.key: f.value for f in office_rules.figures("sla", saved, store.sheets)}["shifts.evening.end"] == "20:00"
    assert received(store, f"{MONDAY} 17:00")["response"] == "2026-11-24 10:00"     # Monday 17-20, Tuesday 9-10


def test_the_editors_preview_shows_the_due_times_the_roster_clock_would_give_before_anything_is_saved(store, people,
                                                                                                     rules_dir):
    roster(store, people, MONDAY, "evening")
    ticket = open_ticket(store, people, f"{MONDAY} 17:00")
    assert dues(store, ticket)[0] == "2026-11-24 12:00"               # [hours]: 17-18 Monday, 9-12 Tuesday
    text = (rules_dir / "sla.toml").read_text(encoding="utf-8").replace("follow_roster = false", "follow_roster = true")
    shown = office_rules.preview(store, people["manager"], "sla", text, effective_from=MONDAY)
    due, = [d for d in shown.dues if d.ticket_id == ticket]
    assert due.response_before[:16].replace("T", " ") == "2026-11-24 12:00"
    assert due.response_after[:16].replace("T", " ") == "2026-11-23 21:00"   # the evening shift runs to 23:00
    assert dues(store, ticket)[0] == "2026-11-24 12:00"               # nothing saved by the preview
