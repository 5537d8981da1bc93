"""Club events: seats and the waiting list (also under concurrent sign-ups from several processes),
cancelling moves the waiting list up, signing up twice is refused, attendance, and bad capacities."""
from __future__ import annotations

import multiprocessing
from datetime import datetime, timedelta

import pytest

from kefu import auth, config, events
from kefu.errors import KefuError, PermissionDenied
from kefu.sheets import ValidationError, load_sheets
from kefu.store import Store


def make_members(store, count: int, keeper: auth.User, start: int = 1) -> list[int]:
    """Members need a customer archive each; staff sign up the members of the archives they keep."""
    ids = []
    for n in range(start, start + count):
        customer = store.insert("customers", {"code": f"KH{n:06d}", "name": f"会员客户{n}", "kind": "company",
                                              "credit_rating": "A", "owner": keeper.id}, auth.SYSTEM)
        ids.append(store.insert("members", {"customer": customer, "member_no": f"M{n:06d}",
                                            "joined_on": "2026-01-05"}, auth.SYSTEM))
    return ids


def make_event(store, capacity: int, **extra) -> int:
    starts = (datetime.now(store.settings.tz) + timedelta(days=10)).replace(microsecond=0).isoformat()
    return store.insert("events", {"title": "会员答谢会", "kind": "community", "starts_at": starts,
                                   "place": "三亚湾会所", "capacity": capacity, **extra}, auth.SYSTEM)


def statuses(store, event_id) -> dict:
    return dict(store.conn.execute("SELECT member, status FROM event_signups WHERE event = ?", (event_id,)))


@pytest.fixture
def staff(make_user):
    return make_user("staff")


def test_seats_then_waiting_list_in_order(store, staff):
    members = make_members(store, 5, staff)
    event = make_event(store, 3)
    assert [events.sign_up(store, staff, event, m) for m in members] == ["signed_up"] * 3 + ["waiting"] * 2
    positions = dict(store.conn.execute("SELECT member, position FROM event_signups WHERE status = 'waiting'"))
    assert positions == {members[3]: 1, members[4]: 2}
    assert events.seats(store, event) == {"capacity": 3, "taken": 3, "free": 0, "waiting": 2}
    rows = events.signups(store, staff, event)
    assert [r["member"] for r in rows] == members


def test_cancel_moves_the_first_on_the_waiting_list_up(store, staff):
    members = make_members(store, 5, staff)
    event = make_event(store, 2)
    for m in members:
        events.sign_up(store, staff, event, m)
    ids = dict(store.conn.execute("SELECT member, id FROM event_signups"))
    promoted = events.cancel(store, staff, ids[members[0]])
    assert promoted == ids[members[2]]
    assert statuses(store, event) == {members[0]: "cancelled", members[1]: "signed_up", members[2]: "signed_up",
                                      members[3]: "waiting", members[4]: "waiting"}
    assert events.cancel(store, staff, ids[members[3]]) is None        # leaving the waiting list frees no seat
    assert events.cancel(store, staff, ids[members[1]]) == ids[members[4]]
    assert events.seats(store, event) == {"capacity": 2, "taken": 2, "free": 0, "waiting": 0}
    with pytest.raises(KefuError) as refused:
        events.cancel(store, staff, ids[members[0]])
    assert refused.value.code == "ev.not_active"
    # every change is audited with who made it
    assert store.conn.execute("SELECT count(*) FROM kefu_audit WHERE sheet = 'event_signups' AND action = 'update' "
                              "AND username = ?", (staff.username,)).fetchone()[0] == 5


def test_signing_up_twice_is_refused_and_nothing_written(store, staff):
    member, other = make_members(store, 2, staff)
    event = make_event(store, 1)
    events.sign_up(store, staff, event, member)
    events.sign_up(store, staff, event, other)                          # waiting
    for again in (member, other):
        with pytest.raises(KefuError) as refused:
            events.sign_up(store, staff, event, again)
        assert refused.value.code == "ev.already_signed_up"
        assert "already signed up" in refused.value.message("en")
    assert store.conn.execute("SELECT count(*) FROM event_signups").fetchone()[0] == 2
    signup = store.conn.execute("SELECT id FROM event_signups WHERE member = ?", (other,)).fetchone()[0]
    events.cancel(store, staff, signup)
    assert events.sign_up(store, staff, event, other) == "waiting"      # after cancelling, again welcome


def test_attendance_only_for_a_seat(store, staff):
    member, other = make_members(store, 2, staff)
    event = make_event(store, 1)
    events.sign_up(store, staff, event, member)
    events.sign_up(store, staff, event, other)
    ids = dict(store.conn.execute("SELECT member, id FROM event_signups"))
    events.mark_attended(store, staff, ids[member])
    assert statuses(store, event)[member] == "attended"
    with pytest.raises(KefuError) as refused:
        events.mark_attended(store, staff, ids[other])
    assert refused.value.code == "ev.not_signed_up"
    assert events.seats(store, event)["taken"] == 1


@pytest.mark.parametrize("capacity, code", [(0, "err.too_small"), (-3, "err.too_small"), ("", "err.required"),
                                            ("many", "err.not_int")])
def test_capacity_below_one_is_refused_naming_the_field(store, capacity, code):
    with pytest.raises(ValidationError) as refused:
        make_event(store, capacity)
    assert [(p.field, p.code) for p in refused.value.problems] == [("capacity", code)]
    assert refused.value.messages("en")[0].startswith("Seats:")
    assert refused.value.messages("zh")[0].startswith("名额")
    assert store.conn.execute("SELECT count(*) FROM events").fetchone()[0] == 0


def test_permissions(store, make_user, staff):
    member, = make_members(store, 1, staff)
    stranger = make_user("staff")
    with pytest.raises(ValidationError) as refused:                    # a member of an archive not theirs
        events.sign_up(store, stranger, make_event(store, 5), member)
    assert refused.value.problems[0].field == "member"
    event = make_event(store, 5)
    with pytest.raises(PermissionDenied):
        events.sign_up(store, make_user("finance"), event, member)
    with pytest.raises(PermissionDenied):
        store.insert("events", {"title": "x", "kind": "promotion", "starts_at": "2026-12-01T10:00",
                                "capacity": 3}, make_user("staff"))


# -------------------------------------------------------------------------------- concurrent sign-ups

def _sign_up_in_another_process(db_path, actor, event_id, member_id, barrier, results):
    store = Store(db_path, load_sheets(), config.load())
    store.conn                                              # open before the start line, not after
    barrier.wait(timeout=120)
    try:
        results.put((member_id, events.sign_up(store, actor, event_id, member_id)))
    except Exception as exc:                                # reported, so the test fails with the reason
        results.put((member_id, f"error: {exc!r}"))
    finally:
        store.close()


def test_concurrent_sign_ups_from_several_processes_never_exceed_the_seats(store, staff):
    """Eight processes, each with its own connection to the same database, sign up eight members for the
    last two seats at the same moment: exactly two get a seat, six wait, in distinct places."""
    members = make_members(store, 10, staff)
    event = make_event(store, 4)
    for m in members[:2]:
        events.sign_up(store, staff, event, m)
    racers = members[2:]
    spawn = multiprocessing.get_context("spawn")
    barrier, results = spawn.Barrier(len(racers)), spawn.Queue()
    processes = [spawn.Process(target=_sign_up_in_another_process,
                               args=(str(store.location), staff, event, m, barrier, results)) for m in racers]
    for process in processes:
        process.start()
    outcome = dict(results.get(timeout=180) for _ in racers)
    for process in processes:
        process.join(timeout=60)
    assert sorted(outcome.values()) == ["signed_up"] * 2 + ["waiting"] * 6, outcome
    assert events.seats(store, event) == {"capacity": 4, "taken": 4, "free": 0, "waiting": 6}
    positions = [r[0] for r in store.conn.execute("SELECT position FROM event_signups WHERE status = 'waiting' "
                                                   "ORDER BY position")]
    assert positions == [1, 2, 3, 4, 5, 6]


# -------------------------------------------------------------------------------- demo data

def test_demo_events_and_surveys_are_deterministic_and_keep_the_rules(store, staff, database):
    import random

    from faker import Faker

    from kefu import surveys
    from seed.events import seed_events

    make_members(store, 60, staff)
    now = datetime(2026, 11, 20, 10, 0, tzinfo=store.settings.tz)
    counts = seed_events(store, random.Random(7), Faker("zh_CN"), [staff.id], now)
    assert counts["events"] == 20 and counts["surveys"] == 2000 and 1 <= counts["corrective_actions"] <= 3
    assert counts["event_signups"] == store.conn.execute("SELECT count(*) FROM event_signups").fetchone()[0] > 100
    over = store.conn.execute(
        "SELECT count(*) FROM events e WHERE capacity < (SELECT count(*) FROM event_signups s WHERE s.event = e.id "
        "AND s.status IN ('signed_up', 'attended'))").fetchone()[0]
    assert over == 0
    assert store.conn.execute("SELECT count(*) FROM surveys WHERE channel = 'kiosk' AND taken_by IS NOT NULL"
                              ).fetchone()[0] == 0
    year = surveys.results(store, auth.SYSTEM, "2025-11-20", "2026-11-20")
    assert year["count"] == 2000 and all(3 < year["questions"][q]["average"] < 4.5 for q in surveys.QUESTIONS)
    manager = auth.get_user(store, auth.create_user(store, "mgr", "经理", "manager", None, auth.SYSTEM))
    assert "price" in [a.question for a in surveys.alerts(store, manager, today=now.date())]

    again = Store(database("again"), store.sheets, store.settings)           # a second one of the same kind
    again.migrate()
    keeper = auth.get_user(again, auth.create_user(again, "keeper", "Keeper", "staff", None, auth.SYSTEM))
    make_members(again, 60, keeper)
    assert seed_events(again, random.Random(7), Faker("zh_CN"), [keeper.id], now) == counts
    sql = "SELECT taken_at, service, price, overall, comments, channel FROM surveys ORDER BY id"
    assert again.conn.execute(sql).fetchall() == store.conn.execute(sql).fetchall()
    again.close()
