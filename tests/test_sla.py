"""Working-hours deadlines across weekends, public holidays and make-up working days, with pauses."""
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kefu.rules import RulesError
from kefu.sla import WorkCalendar, is_working_day, load_rules

TZ = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar(TZ)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


@pytest.mark.parametrize("start, hours, due", [
    ("2026-11-23 10:00", 4, "2026-11-23 14:00"),     # Monday, inside one day
    ("2026-11-23 16:00", 4, "2026-11-24 11:00"),     # runs over the evening
    ("2026-11-20 16:00", 4, "2026-11-23 11:00"),     # Friday to Monday over the weekend
    ("2026-11-21 12:00", 1, "2026-11-23 10:00"),     # logged on a Saturday: the clock starts Monday
    ("2026-11-23 07:30", 0.5, "2026-11-23 09:30"),   # before opening
    ("2026-11-23 19:00", 2, "2026-11-24 11:00"),     # after closing
    ("2026-09-30 17:00", 2, "2026-10-08 10:00"),     # National Day: 1-7 October off
    ("2026-10-09 17:00", 2, "2026-10-10 10:00"),     # Saturday 10 October is a make-up working day
    ("2026-09-24 17:00", 2, "2026-09-28 10:00"),     # Mid-Autumn: 25-27 September off
    ("2026-11-23 10:00", 24, "2026-11-25 16:00"),    # 24 working hours are close to three days
])
def test_due_time_in_working_hours(start, hours, due):
    assert CAL.add(at(start), hours) == at(due)


def test_working_days_follow_the_official_calendar():
    assert not is_working_day(at("2026-10-01").date())
    assert is_working_day(at("2026-10-10").date())                 # a Saturday, 调休
    assert not is_working_day(at("2026-11-22").date())             # an ordinary Sunday
    assert is_working_day(at("2099-06-01").date())                  # unknown year: Monday to Friday


@pytest.mark.parametrize("start, end, hours", [
    ("2026-11-23 10:00", "2026-11-23 12:30", 2.5),
    ("2026-11-20 17:00", "2026-11-23 10:00", 2),
    ("2026-09-30 17:00", "2026-10-08 10:00", 2),
    ("2026-11-23 12:00", "2026-11-23 11:00", 0),
])
def test_working_time_between(start, end, hours):
    assert CAL.between(at(start), at(end)) == timedelta(hours=hours)


def test_the_clock_pauses_while_waiting_on_the_customer():
    start = at("2026-11-23 09:00")
    assert CAL.due(start, 8) == at("2026-11-23 17:00")
    paused = [(at("2026-11-23 10:00"), at("2026-11-23 13:00"))]          # 3 working hours on hold
    assert CAL.due(start, 8, paused) == at("2026-11-24 11:00")
    assert CAL.due(start, 8, [(at("2026-11-23 10:00"), None)]) is None   # still waiting: no due time
    later = [(at("2026-11-24 10:00"), at("2026-11-24 12:00"))]           # after the deadline: no effect
    assert CAL.due(start, 8, later) == at("2026-11-23 17:00")


def test_shipped_rules_load_with_every_kind_and_severity():
    rules = load_rules(tz=TZ)
    assert rules.target("complaint", "emergency").response == 0.5
    assert rules.calendar.opens.hour == 9 and rules.calendar.closes.hour == 18


@pytest.mark.parametrize("change, message", [
    (('response = 4,   resolution = 24', 'response = -4,  resolution = 24'), "targets.complaint.normal.response must be a positive number"),
    (('major     = { response = 2,   resolution = 16 }\\nemergency', 'emergency'), "missing key targets.complaint.major"),
    (('start = "09:00"', 'start = "nine"'), 'hours.start must be a time like "09:00"'),
    (('response = 4,   resolution = 24', 'response = 40,  resolution = 24'), "targets.complaint.normal.resolution is shorter"),
])
def test_a_bad_rule_file_names_file_and_key(tmp_path, change, message):
    text = (Path(__file__).parent.parent / "rules" / "sla.toml").read_text(encoding="utf-8")
    old, new = change[0].replace("\\n", "\n"), change[1].replace("\\n", "\n")
    assert old in text
    path = tmp_path / "sla.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        load_rules(path, TZ)
    assert str(caught.value).startswith(str(path)) and message in str(caught.value)


def test_an_edited_rule_file_takes_effect_at_the_next_read_and_a_caller_s_change_stays_its_own(tmp_path):
    from kefu.rules import read_rules
    path = tmp_path / "sla.toml"
    path.write_text("[lists]\ndue_soon_hours = 4\n", encoding="utf-8")
    first = read_rules(path)
    first["lists"]["due_soon_hours"] = 99                         # a caller changing its copy
    assert read_rules(path) == {"lists": {"due_soon_hours": 4}}
    path.write_text("[lists]\ndue_soon_hours = 6\n", encoding="utf-8")   # same size, at once: read as it is now
    assert read_rules(path) == {"lists": {"due_soon_hours": 6}}
    path.write_text("[lists\n", encoding="utf-8")
    with pytest.raises(RulesError):
        read_rules(path)
