"""The visitor book's behaviour: check-in, reception, check-out, who is in, who is expected, returning
visitors, the host's lateness."""
from datetime import datetime, timedelta

import pytest

from conftest import ASKED
from kefu import visitors
from kefu.errors import KefuError
from kefu.sheets import ValidationError


def now(store) -> datetime:
    return datetime.now(store.settings.tz).replace(microsecond=0)


@pytest.fixture
def staff(make_user):
    return make_user("staff")


def test_check_in_then_out_moves_a_visitor_through_the_building(store, staff):
    later = now(store) + timedelta(hours=1)
    visit_id = visitors.register(store, staff, {"visitor_name": "张三", "phone": "13812345678",
                                                "purpose": "business", "host": staff.id, "appointment_at": later,
                                                **ASKED})
    assert [v["id"] for v in visitors.expected(store, staff, later.date())] == [visit_id]
    assert visitors.in_building(store, staff) == []
    visitors.check_in(store, staff, visit_id)
    assert [v["id"] for v in visitors.in_building(store, staff)] == [visit_id]
    assert visitors.expected(store, staff, later.date()) == []
    visitors.check_out(store, staff, visit_id)
    assert visitors.in_building(store, staff) == []
    actions = [r[0] for r in store.conn.execute("SELECT action FROM kefu_audit WHERE sheet = 'visitors'")]
    assert actions == ["create", "update", "update"]


def test_walk_in_is_checked_in_at_once(store, staff):
    visit_id = visitors.register(store, staff, {"visitor_name": "李四", "phone": "13900001111",
                                                "purpose": "inquiry", "host": staff.id, **ASKED}, arrive_now=True)
    assert [v["id"] for v in visitors.in_building(store, staff)] == [visit_id]


@pytest.mark.parametrize("steps, code", [
    (["in", "in"], "visit.already_in"),
    (["out"], "visit.not_in"),
    (["in", "out", "out"], "visit.already_out"),
])
def test_impossible_checks_are_refused(store, staff, steps, code):
    visit_id = visitors.register(store, staff, {"visitor_name": "王五", "phone": "13700002222",
                                                "purpose": "other", "host": staff.id, **ASKED})
    actions = {"in": visitors.check_in, "out": visitors.check_out}
    for step in steps[:-1]:
        actions[step](store, staff, visit_id)
    with pytest.raises(KefuError) as caught:
        actions[steps[-1]](store, staff, visit_id)
    assert caught.value.code == code
    assert "王五" in caught.value.message("zh")


def test_returning_visitor_is_found_by_phone(store, make_user, staff):
    visitors.register(store, staff, {"visitor_name": "赵六", "phone": "13612345678", "purpose": "business",
                                     "host": staff.id, "organisation": "旧单位", "gender": "female",
                                     "id_number": "11010119900307001X"})
    visitors.register(store, staff, {"visitor_name": "赵六", "phone": "13612345678", "purpose": "inquiry",
                                     "host": staff.id, "organisation": "新单位", "record": "谈话内容"})
    found = visitors.last_visit_by_phone(store, staff, "136 1234 5678")
    assert found["visitor_name"] == "赵六" and found["organisation"] == "新单位"
    assert found["phone"] == "13612345678"
    assert "record" not in found and "purpose" not in found          # this visit's business is new
    assert "id_number" not in found                                    # staff may not see it
    assert visitors.last_visit_by_phone(store, staff, "13000000000") is None
    assert visitors.last_visit_by_phone(store, staff, "not a phone") is None


@pytest.mark.parametrize("arrived, received, late", [
    (-10, 0, None),          # the visitor came early, the host met them at the agreed time
    (-10, 5, None),          # within the grace minutes
    (-10, 6, 6),             # the host kept them waiting past the appointment
    (0, 45, 45),
    (30, 33, None),          # the visitor came 30 minutes late: not the host's lateness
    (30, 40, 10),            # but the host is late from the visitor's arrival on
])
def test_信守约定的接待时间_the_host_is_late_not_the_visitor(store, staff, arrived, received, late):
    appointment = datetime(2026, 11, 23, 10, 0, tzinfo=store.settings.tz)
    visit = {"appointment_at": appointment.isoformat(),
             "arrived_at": (appointment + timedelta(minutes=arrived)).isoformat(),
             "received_at": (appointment + timedelta(minutes=received)).isoformat()}
    assert visitors.host_minutes_late(store, visit) == late
    assert visitors.host_minutes_late(store, {**visit, "appointment_at": None}) is None     # a walk-in


def test_a_visitor_still_waiting_makes_the_host_late_by_now(store, staff):
    appointment = datetime(2026, 11, 23, 10, 0, tzinfo=store.settings.tz)
    waiting = {"appointment_at": appointment.isoformat(), "arrived_at": appointment.isoformat(), "received_at": None}
    assert visitors.host_minutes_late(store, waiting, now=appointment + timedelta(minutes=20)) == 20
    assert visitors.host_minutes_late(store, waiting, now=appointment + timedelta(minutes=3)) is None
    gone = {**waiting, "left_at": (appointment + timedelta(minutes=30)).isoformat()}
    assert visitors.host_minutes_late(store, gone, now=appointment + timedelta(hours=2)) is None


def test_the_host_receives_an_arrived_visitor_once(store, staff):
    visit_id = visitors.register(store, staff, {"visitor_name": "钱七", "phone": "13700003333",
                                                "purpose": "business", "host": staff.id, **ASKED})
    with pytest.raises(KefuError) as caught:
        visitors.receive(store, staff, visit_id)                     # not arrived yet
    assert caught.value.code == "visit.not_in"
    visitors.check_in(store, staff, visit_id)
    received = visitors.receive(store, staff, visit_id)
    assert received["received_at"] >= received["arrived_at"]
    with pytest.raises(KefuError) as caught:
        visitors.receive(store, staff, visit_id)
    assert caught.value.code == "visit.already_received" and "钱七" in caught.value.message("zh")


def test_询问清楚来访者的身份_性别_工作单位_an_arrival_without_them_is_refused_naming_each(store, staff):
    walk_in = {"visitor_name": "孙八", "phone": "13700004444", "purpose": "inquiry", "host": staff.id,
               "identity": "业主"}
    with pytest.raises(ValidationError) as caught:
        visitors.register(store, staff, walk_in, arrive_now=True)
    assert caught.value.by_field() == {"gender": "visit.ask_on_arrival", "organisation": "visit.ask_on_arrival"}
    assert "性别：来访者到访时须询问清楚并填写（到访登记须填身份、性别、工作单位）" in caught.value.messages("zh")
    assert any(m.startswith("Organisation: ask the arriving visitor") for m in caught.value.messages("en"))
    assert store.conn.execute("SELECT count(*) FROM visitors").fetchone()[0] == 0
    assert store.conn.execute("SELECT count(*) FROM kefu_audit WHERE sheet = 'visitors'").fetchone()[0] == 0
    visit_id = visitors.register(store, staff, {**walk_in, "gender": "male", "organisation": "个人"}, arrive_now=True)
    assert [v["id"] for v in visitors.in_building(store, staff)] == [visit_id]


def test_接到接待通知_an_appointment_is_booked_without_them_and_asked_at_check_in(store, staff):
    later = now(store) + timedelta(hours=1)
    visit_id = visitors.register(store, staff, {"visitor_name": "周九", "phone": "13700005555", "purpose": "business",
                                                "host": staff.id, "appointment_at": later})
    assert [v["id"] for v in visitors.expected(store, staff, later.date())] == [visit_id]
    with pytest.raises(ValidationError) as caught:
        visitors.check_in(store, staff, visit_id)
    assert set(caught.value.by_field()) == {"identity", "gender", "organisation"}
    assert store.get("visitors", visit_id, staff)["arrived_at"] is None          # still expected, nothing written
    assert [v["id"] for v in visitors.expected(store, staff, later.date())] == [visit_id]
    store.update("visitors", visit_id, ASKED, staff)
    assert visitors.check_in(store, staff, visit_id)["gender"] == "female"


def test_a_visit_that_arrived_before_the_rule_still_loads_and_checks_out(store, staff):
    store.conn.execute("INSERT INTO visitors (visitor_name, phone, purpose, host, arrived_at, created_at, version) "
                       "VALUES ('吴十', '13700006666', 'other', ?, ?, ?, 1)",
                       (staff.id, now(store).isoformat(), now(store).isoformat()))
    old = store.conn.execute("SELECT id FROM visitors").fetchone()[0]
    assert store.get("visitors", old, staff)["gender"] is None
    store.update("visitors", old, {"record": "补记"}, staff)
    assert visitors.check_out(store, staff, old)["left_at"]
