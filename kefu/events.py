"""Club events (推广活动 / 社区活动): sign-ups within the event's seats, the waiting list, cancelling (the first
on the waiting list moves up) and attendance.

Seats are counted and the sign-up written in one `BEGIN IMMEDIATE` transaction: concurrent sign-ups
(two desks, two processes) queue on the write lock, so each one counts the seats the one before it took
and an event never has more sign-ups than seats.
"""
from __future__ import annotations

from kefu import auth
from kefu.errors import KefuError, NotFound
from kefu.store import Query, Store

EVENTS, SIGNUPS = "events", "event_signups"
SEATED = ("signed_up", "attended")          # statuses holding a seat
ACTIVE = ("signed_up", "waiting", "attended")


def _event(conn, event_id) -> dict:
    row = conn.execute("SELECT id, capacity, title FROM events WHERE id = ? AND deleted_at IS NULL",
                       (event_id,)).fetchone()
    if row is None:
        raise NotFound()
    return {"id": row[0], "capacity": row[1], "title": row[2]}


def seats(store: Store, event_id: int) -> dict:
    """How the event stands: capacity, seats taken, free seats, waiting list length."""
    conn = store.conn
    event = _event(conn, event_id)
    counts = dict(conn.execute("SELECT status, count(*) FROM event_signups WHERE event = ? AND deleted_at IS NULL "
                               "GROUP BY status", (event_id,)).fetchall())
    taken = sum(counts.get(s, 0) for s in SEATED)
    return {"capacity": event["capacity"], "taken": taken, "free": max(0, event["capacity"] - taken),
            "waiting": counts.get("waiting", 0)}


def sign_up(store: Store, actor, event_id: int, member_id: int) -> str:
    """Sign a member up: "signed_up" while seats are free, else "waiting" at the end of the waiting list.
    A member already signed up (or waiting) is refused."""
    sheet = store.sheet(SIGNUPS)
    auth.require(actor, sheet, "create")
    with store.transaction() as conn:
        event = _event(conn, event_id)
        if conn.execute("SELECT 1 FROM event_signups WHERE event = ? AND member = ? AND status IN (?, ?, ?) "
                        "AND deleted_at IS NULL", (event_id, member_id, *ACTIVE)).fetchone():
            raise KefuError("ev.already_signed_up")
        taken, last = conn.execute(
            "SELECT sum(status IN ('signed_up', 'attended')), max(CASE WHEN status = 'waiting' THEN position END) "
            "FROM event_signups WHERE event = ? AND deleted_at IS NULL", (event_id,)).fetchone()
        if (taken or 0) < event["capacity"]:
            values = {"event": event_id, "member": member_id, "status": "signed_up"}
        else:
            values = {"event": event_id, "member": member_id, "status": "waiting", "position": (last or 0) + 1}
        store.insert(SIGNUPS, values, actor)
        return values["status"]


def _signup(conn, signup_id) -> dict:
    row = conn.execute("SELECT id, event, member, status, position, version FROM event_signups "
                       "WHERE id = ? AND deleted_at IS NULL", (signup_id,)).fetchone()
    if row is None:
        raise NotFound()
    return dict(zip(("id", "event", "member", "status", "position", "version"), row))


def cancel(store: Store, actor, signup_id: int) -> int | None:
    """Cancel a sign-up. A freed seat goes to the first on the waiting list (whose id is returned)."""
    sheet = store.sheet(SIGNUPS)
    auth.require(actor, sheet, "update")
    with store.transaction() as conn:
        signup = _signup(conn, signup_id)
        if signup["status"] not in ("signed_up", "waiting"):
            raise KefuError("ev.not_active")
        store.update(SIGNUPS, signup_id, {"status": "cancelled", "position": None}, actor)
        if signup["status"] != "signed_up":
            return None
        event = _event(conn, signup["event"])
        taken = conn.execute("SELECT count(*) FROM event_signups WHERE event = ? "
                             "AND status IN ('signed_up', 'attended') AND deleted_at IS NULL", (event["id"],)).fetchone()[0]
        if taken >= event["capacity"]:
            return None
        first = conn.execute("SELECT id FROM event_signups WHERE event = ? AND status = 'waiting' "
                             "AND deleted_at IS NULL ORDER BY position, id LIMIT 1", (event["id"],)).fetchone()
        if first is None:
            return None
        store.update(SIGNUPS, first[0], {"status": "signed_up", "position": None}, actor)
        return first[0]


def mark_attended(store: Store, actor, signup_id: int) -> None:
    """A member who held a seat came."""
    sheet = store.sheet(SIGNUPS)
    auth.require(actor, sheet, "update")
    with store.transaction() as conn:
        signup = _signup(conn, signup_id)
        if signup["status"] != "signed_up":
            raise KefuError("ev.not_signed_up")
        store.update(SIGNUPS, signup_id, {"status": "attended"}, actor)


def signups(store: Store, actor, event_id: int) -> list[dict]:
    """The event's sign-ups as the actor may see them: seats first, then the waiting list in order."""
    page = store.query(SIGNUPS, actor, Query(filters={"event": event_id}, page_size=500, sort="id"))
    order = {"signed_up": 0, "attended": 0, "waiting": 1, "cancelled": 2}
    return sorted(page.rows, key=lambda r: (order.get(r["status"], 3), r.get("position") or 0, r["id"]))
