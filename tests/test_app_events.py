"""The club events screen (AppTest): choose an event, sign a member up, cancel the sign-up."""
from apptest import db_value as one, login, open_page, select_row, texts

ACTIVE = "status IN ('signed_up', 'waiting')"


def sign_up_button(at, event_id):
    return next(b for b in at.button if b.proto.form_id == f"events__signup_{event_id}" and b.label == "报名")


def offered(at, demo_db, event_id) -> list[int]:
    """The members the sign-up picker offers (those of the archives the user keeps or is granted), newest first."""
    numbers = [option.split(" · ")[0] for option in at.selectbox(key=f"events__member_{event_id}").options]
    return [one(demo_db, "SELECT id FROM members WHERE member_no = ?", number) for number in numbers]


def test_a_supervisor_signs_a_member_up_and_cancels(demo_db):
    at = open_page(login("demo-supervisor"), "events")
    assert not at.exception
    at = select_row(at)                                     # the grid's first row: the latest event
    event_id = one(demo_db, "SELECT id FROM events WHERE deleted_at IS NULL ORDER BY starts_at DESC, id DESC LIMIT 1")
    signed = {m for m in offered(at, demo_db, event_id)
              if one(demo_db, "SELECT count(*) FROM event_signups WHERE event = ? AND member = ?", event_id, m)}
    member = next(m for m in offered(at, demo_db, event_id) if m not in signed)
    before = one(demo_db, f"SELECT count(*) FROM event_signups WHERE event = ? AND {ACTIVE}", event_id)
    at.selectbox(key=f"events__member_{event_id}").set_value(member)
    at = sign_up_button(at, event_id).click().run()
    assert not at.exception
    assert one(demo_db, f"SELECT count(*) FROM event_signups WHERE event = ? AND {ACTIVE}", event_id) == before + 1
    signup = one(demo_db, "SELECT id FROM event_signups WHERE event = ? AND member = ?", event_id, member)
    at = at.button(key=f"events__cancel_{signup}").click().run()
    assert not at.exception
    assert one(demo_db, "SELECT status FROM event_signups WHERE id = ?", signup) == "cancelled"
    assert "已报名" in texts(at)


def test_signing_up_twice_is_refused_on_screen(demo_db):
    at = select_row(open_page(login("demo-supervisor"), "events"))
    event_id = one(demo_db, "SELECT id FROM events WHERE deleted_at IS NULL ORDER BY starts_at DESC, id DESC LIMIT 1")
    member = next((m for m in offered(at, demo_db, event_id)
                   if one(demo_db, f"SELECT count(*) FROM event_signups WHERE event = ? AND member = ? AND {ACTIVE}",
                          event_id, m)), None)
    if member is None:                                      # nobody yet: sign one up first
        member = offered(at, demo_db, event_id)[0]
        at.selectbox(key=f"events__member_{event_id}").set_value(member)
        at = sign_up_button(at, event_id).click().run()
    count = one(demo_db, "SELECT count(*) FROM event_signups")
    at.selectbox(key=f"events__member_{event_id}").set_value(member)
    at = sign_up_button(at, event_id).click().run()
    assert "该会员已报名此活动（或已在候补名单中）。" in texts(at)
    assert one(demo_db, "SELECT count(*) FROM event_signups") == count
