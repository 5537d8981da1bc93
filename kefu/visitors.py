"""The visitor book's own behaviour: check-in, reception by the host and check-out, who is in the building,
who is expected today, a returning visitor found by phone, and the host's lateness: the host keeps the
agreed reception time (003 接待制度: 信守约定的接待时间，不迟到), so lateness is the host's, measured from the
appointment (or from the visitor's arrival, when the visitor came after it) to the reception.

A visitor who arrives is asked who they are (003 接待制度: 询问清楚来访者的身份、姓名、性别、工作单位、联系电话、
来访事由): the sheet's check `arrival_asked` refuses an arrival without identity, gender or organisation (name,
phone and purpose are required fields of every entry). An appointment booked ahead may lack them; they are
asked when the visitor comes, and a visit already arrived before this rule keeps loading and changing."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from kefu import auth
from kefu.errors import KefuError
from kefu.fields import FieldError
from kefu.sheets import Problem
from kefu.store import Store, quote_ident

SHEET = "visitors"
# What a returning visitor's last visit fills in: who they are, not what this visit is about.
IDENTITY_FIELDS = ("visitor_name", "gender", "organisation", "identity", "phone", "id_number")
# What the receptionist asks an arriving visitor besides the sheet's required name, phone and purpose.
ASKED_ON_ARRIVAL = ("identity", "gender", "organisation")


class VisitError(KefuError):
    """A check-in or check-out that does not fit the visit's state."""


def arrival_asked(store: Store, row: dict) -> list[Problem]:
    """The entry check of the visitor book (schema key `checks`): a visit that arrives (a new entry with its
    arrival, or an appointment checked in) has identity, gender and organisation filled in. A visit whose
    arrival was stored before is not checked again, so its check-out and edits keep working."""
    if not row.get("arrived_at"):
        return []
    if row.get("id") is not None:
        stored = store.conn.execute(f"SELECT arrived_at FROM {quote_ident(SHEET)} WHERE id = ?",
                                    (row["id"],)).fetchone()
        if stored is not None and stored[0]:
            return []
    known = store.sheet(SHEET).by_name
    return [Problem(name, "visit.ask_on_arrival", {}) for name in ASKED_ON_ARRIVAL
            if name in known and (row.get(name) is None or str(row.get(name)).strip() == "")]


def register(store: Store, actor, values: dict, *, arrive_now: bool = False) -> int:
    values = dict(values)
    if arrive_now:
        values["arrived_at"] = store.now()
    return store.insert(SHEET, values, actor)


def check_in(store: Store, actor, visit_id: int) -> dict:
    visit = store.get(SHEET, visit_id, actor)
    if visit["arrived_at"]:
        raise VisitError("visit.already_in", name=visit["visitor_name"])
    return store.update(SHEET, visit_id, {"arrived_at": store.now()}, actor, expected_version=visit["version"])


def receive(store: Store, actor, visit_id: int) -> dict:
    """The host meets the visitor now (接待)."""
    visit = store.get(SHEET, visit_id, actor)
    if not visit["arrived_at"]:
        raise VisitError("visit.not_in", name=visit["visitor_name"])
    if visit["received_at"]:
        raise VisitError("visit.already_received", name=visit["visitor_name"])
    if visit["left_at"]:
        raise VisitError("visit.already_out", name=visit["visitor_name"])
    return store.update(SHEET, visit_id, {"received_at": store.now()}, actor, expected_version=visit["version"])


def check_out(store: Store, actor, visit_id: int) -> dict:
    visit = store.get(SHEET, visit_id, actor)
    if not visit["arrived_at"]:
        raise VisitError("visit.not_in", name=visit["visitor_name"])
    if visit["left_at"]:
        raise VisitError("visit.already_out", name=visit["visitor_name"])
    return store.update(SHEET, visit_id, {"left_at": store.now()}, actor, expected_version=visit["version"])


def _rows(store: Store, actor, where: str, params: list, order: str) -> list[dict]:
    sheet = store.sheet(SHEET)
    auth.require(actor, sheet, "read")
    cursor = store.conn.execute(f"SELECT * FROM {quote_ident(SHEET)} WHERE deleted_at IS NULL AND {where} "
                                f"ORDER BY {order}", params)
    names = [d[0] for d in cursor.description]
    return [store.masked(sheet, dict(zip(names, row))) for row in cursor]


def in_building(store: Store, actor) -> list[dict]:
    """Everyone checked in and not yet out, earliest arrival first."""
    return _rows(store, actor, "arrived_at IS NOT NULL AND left_at IS NULL", [], "arrived_at")


def expected(store: Store, actor, day: date | None = None) -> list[dict]:
    """Appointments on the day that have not arrived yet, soonest first."""
    day = day or datetime.now(store.settings.tz).date()
    return _rows(store, actor, "arrived_at IS NULL AND appointment_at >= ? AND appointment_at < ?",
                 [day.isoformat(), (day + timedelta(days=1)).isoformat()], "appointment_at")


def last_visit_by_phone(store: Store, actor, phone: str) -> dict | None:
    """The identity fields of the latest visit with this phone, to fill in a returning visitor."""
    sheet = store.sheet(SHEET)
    auth.require(actor, sheet, "create")
    try:
        number = sheet.by_name["phone"].parse(phone, store.ctx)
    except FieldError:
        return None
    if number is None:
        return None
    rows = _rows(store, actor, "phone = ?", [number], "id DESC LIMIT 1")
    if not rows:
        return None
    found = {name: rows[0][name] for name in IDENTITY_FIELDS if rows[0].get(name) is not None}
    found["phone"] = number                                # the number the user typed, not the mask
    if not auth.can(actor, sheet, "pii"):
        found.pop("id_number", None)
    found["_last_visit"] = (rows[0].get("arrived_at") or rows[0]["created_at"])[:10]
    return found


LATENESS_READS = ("appointment_at", "arrived_at", "received_at", "left_at")     # what host_minutes_late reads


def host_minutes_late(store: Store, visit: dict, *, now: datetime | None = None) -> int | None:
    """How late the host received the visitor, in minutes, beyond the office's grace minutes: from the
    appointment, or from the arrival when the visitor came after it, to the reception (or to now, while an
    arrived visitor still waits). None when on time, without an appointment, or not arrived."""
    if not visit.get("appointment_at") or not visit.get("arrived_at"):
        return None
    due = max(datetime.fromisoformat(visit["appointment_at"]), datetime.fromisoformat(visit["arrived_at"]))
    if visit.get("received_at"):
        met = datetime.fromisoformat(visit["received_at"])
    elif not visit.get("left_at"):
        met = now or datetime.now(store.settings.tz)
    else:
        return None                                   # left without a recorded reception: nothing to measure
    minutes = int((met - due).total_seconds() // 60)
    return minutes if minutes > store.settings.late_grace_minutes else None
