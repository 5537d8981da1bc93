"""Customer archives' own behaviour: the next customer code, duplicate warnings, an archive's
transaction totals, follow-ups due for the archive keeper, archiving, the order of a business change, and
the requests to read an archive that the gm answers with a grant or a refusal."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from kefu import auth
from kefu.errors import NotFound, PermissionDenied
from kefu.fields import FieldError
from kefu.sheets import Problem, ValidationError
from kefu.store import Store

SHEET = "customers"
CHILDREN = ("transactions", "relationship_log", "business_changes")
CODE_PREFIX = "KH"


def next_code(store: Store) -> str:
    """KH000001, KH000002, ...: one more than the highest code of that form."""
    row = store.conn.execute("SELECT max(CAST(substr(code, 3) AS INTEGER)) FROM customers "
                             "WHERE code GLOB 'KH[0-9]*'").fetchone()
    return f"{CODE_PREFIX}{(row[0] or 0) + 1:06d}"


def duplicates(store: Store, actor, values: dict, *, exclude: int | None = None) -> list[dict]:
    """Archives with the same phone or mobile (either way round) or the same name, for a warning
    before saving. An archive the user may not open is named only by its keeper, not its details."""
    sheet = store.sheet(SHEET)
    auth.require(actor, sheet, "read")
    phones = []
    for name in ("phone", "mobile"):
        try:
            number = sheet.by_name[name].parse(values.get(name), store.ctx)
        except FieldError:
            number = None
        if number:
            phones.append(number)
    name = (values.get("name") or "").strip()
    clauses, params = [], []
    if phones:
        marks = ", ".join("?" for _ in phones)
        clauses += [f"c.phone IN ({marks})", f"c.mobile IN ({marks})"]
        params += phones * 2
    if name:
        clauses.append("c.name = ?")
        params.append(name)
    if not clauses:
        return []
    where = f"c.deleted_at IS NULL AND ({' OR '.join(clauses)})"
    if exclude is not None:
        where += " AND c.id != ?"
        params.append(exclude)
    found = store.conn.execute(f"SELECT c.id, c.code, c.name, u.display_name FROM customers c "
                               f"LEFT JOIN kefu_users u ON u.id = c.owner WHERE {where} LIMIT 5", params).fetchall()
    visible = store.visible_clause(sheet, actor)
    if visible is None:
        allowed = {row[0] for row in found}
    else:
        ids = [row[0] for row in found] or [0]
        allowed = {row[0] for row in store.conn.execute(
            f"SELECT id FROM customers WHERE id IN ({', '.join('?' for _ in ids)}) AND {visible[0]}",
            [*ids, *visible[1]])}
    return [{"id": i, "code": code if i in allowed else None, "name": nm if i in allowed else None,
             "owner": keeper, "visible": i in allowed} for i, code, nm, keeper in found]


def summary(store: Store, actor, customer_id: int) -> dict:
    """Transactions of one archive: how many, total, unpaid, last purchase (amounts in fen)."""
    store.get(SHEET, customer_id, actor)                     # raises unless the actor may see it
    count, total, unpaid, last = store.conn.execute(
        "SELECT count(*), coalesce(sum(amount), 0), coalesce(sum(CASE WHEN paid = 0 THEN amount END), 0), "
        "max(traded_on) FROM transactions WHERE customer = ? AND deleted_at IS NULL", (customer_id,)).fetchone()
    return {"count": count, "total": total, "unpaid": unpaid, "last": last}


def follow_ups_due(store: Store, actor, days: int = 7) -> list[dict]:
    """Follow-ups in the next `days` days (and overdue ones from the last month) on the archives this
    user keeps: the keeper's home screen lists them."""
    sheet = store.sheet("relationship_log")
    if not auth.can(actor, sheet, "read") or actor.id is None:
        return []
    today = datetime.now(store.settings.tz).date()
    cursor = store.conn.execute(
        "SELECT r.id, r.customer, c.name AS customer_name, r.kind, r.summary, r.next_follow_up "
        "FROM relationship_log r JOIN customers c ON c.id = r.customer "
        "WHERE r.deleted_at IS NULL AND c.deleted_at IS NULL AND c.owner = ? "
        "AND r.next_follow_up BETWEEN ? AND ? "
        "AND NOT EXISTS (SELECT 1 FROM relationship_log later WHERE later.customer = r.customer "
        "                AND later.deleted_at IS NULL AND later.contact_on >= r.next_follow_up AND later.id != r.id) "
        "ORDER BY r.next_follow_up, r.id LIMIT 50",
        (actor.id, (today - timedelta(days=30)).isoformat(), (today + timedelta(days=days)).isoformat()))
    names, shown = [d[0] for d in cursor.description], store.title_shown(store.sheet(SHEET), actor)
    return [{**row, "customer_name": shown(row["customer_name"])} for row in (dict(zip(names, r)) for r in cursor)]


def archive(store: Store, actor, customer_id: int) -> dict:
    """Mark an archive as archived (no longer in business): the approval roles may."""
    sheet = store.sheet(SHEET)
    if actor.role != "system" and actor.role not in sheet.approval.roles:
        raise PermissionDenied()
    record = store.get(SHEET, customer_id, actor)
    # the sales director approves and archives without the right to edit an archive's fields
    return store.update(SHEET, customer_id, {"status": "archived"}, auth.acting_for(actor),
                        expected_version=record["version"], allow_readonly=True)


def business_change_order(store: Store, row: dict) -> list[Problem]:                 # noqa: ARG001
    """The entry check of business_changes (schema key `checks`): a change is checked with the customer
    before it is done (与客户核对), and the customer is told once it is done (开通后及时通知客户)."""
    problems = []
    if row.get("done_at") and not row.get("checked_with_customer"):
        problems.append(Problem("checked_with_customer", "bc.check_before_done", {}))
    if row.get("customer_notified_at") and not row.get("done_at"):
        problems.append(Problem("done_at", "bc.done_before_told", {}))
    return problems


# -- asking the gm to read an archive (未经公司总经理授权，任何人不得查阅) ---------------------------------------
@dataclass(frozen=True)
class AccessRequest:
    id: int
    code: str                      # the archive's number as the asker typed it
    user_id: int
    user_name: str
    asked_at: str
    days: int
    reason: str
    state: str                     # open, granted, declined
    decided_by: str | None = None
    decided_at: str | None = None
    note: str | None = None
    until: str | None = None       # a granted request: the grant's last day
    archive: int | None = None     # the archive of that number, for a grantor (None: no such archive)
    title: str | None = None       # its name, for a grantor


def may_ask(store: Store, actor) -> bool:
    """Who asks for an archive: a role that reads archives but not every one of them (the gm and the
    sales director read all; a grantor grants itself nothing)."""
    sheet = store.sheet(SHEET)
    access = sheet.row_access
    return (actor.id is not None and auth.can(actor, sheet, "read") and actor.role not in access.see_all
            and actor.role not in access.grantors)


def ask_access(store: Store, actor, code: str, reason: str, days: int = 7) -> int:
    """Ask the gm to read the archive of this number for `days` days, saying why. The number is taken as
    typed: whether such an archive exists is not told to the asker (nor whose it is)."""
    if not may_ask(store, actor):
        raise PermissionDenied()
    longest = store.sheet(SHEET).row_access.max_grant_days
    code, reason = (code or "").strip().upper(), (reason or "").strip()
    problems = []
    if not code:
        problems.append(Problem("code", "err.required", {}))
    elif len(code) > 40:
        problems.append(Problem("code", "err.too_long", {"max": 40, "got": len(code)}))
    if not reason:
        problems.append(Problem("reason", "err.required", {}))
    elif len(reason) > 200:
        problems.append(Problem("reason", "err.too_long", {"max": 200, "got": len(reason)}))
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= longest:
        problems.append(Problem("days", "err.grant_days", {"max": longest}))
    if problems:
        raise ValidationError(None, problems)
    with store.transaction() as conn:
        if conn.execute("SELECT 1 FROM kefu_access_requests WHERE sheet = ? AND code = ? AND user_id = ? "
                        "AND state = 'open'", (SHEET, code, actor.id)).fetchone():
            raise ValidationError(None, [Problem("code", "err.asked_already", {})])
        request_id = conn.execute(
            "INSERT INTO kefu_access_requests(sheet, code, user_id, asked_at, days, reason) VALUES (?, ?, ?, ?, ?, ?)",
            (SHEET, code, actor.id, store.now(), days, reason)).lastrowid
        store._audit(conn, actor, "kefu_access_requests", request_id, "access_asked", None,
                     {"code": code, "grant_days": days, "reason": reason})
    return request_id


def access_requests(store: Store, actor, *, state: str | None = None) -> list[AccessRequest]:
    """A grantor: every request (or those in `state`), open ones first then newest first, each with the
    archive its number names. Anyone else: their own requests, newest first."""
    access = store.sheet(SHEET).row_access
    grantor = actor.role in access.grantors or actor.role == "system"
    if not grantor and not may_ask(store, actor):
        raise PermissionDenied()
    where, params = ["r.sheet = ?"], [SHEET]
    if not grantor:
        where.append("r.user_id = ?")
        params.append(actor.id)
    if state:
        where.append("r.state = ?")
        params.append(state)
    rows = store.conn.execute(
        "SELECT r.id, r.code, r.user_id, u.display_name, r.asked_at, r.days, r.reason, r.state, d.display_name, "
        "r.decided_at, r.note, g.expires_at, c.id, c.name FROM kefu_access_requests r "
        "JOIN kefu_users u ON u.id = r.user_id LEFT JOIN kefu_users d ON d.id = r.decided_by "
        "LEFT JOIN kefu_grants g ON g.id = r.grant_id "
        "LEFT JOIN customers c ON c.code = r.code AND c.deleted_at IS NULL "
        f"WHERE {' AND '.join(where)} ORDER BY r.state != 'open', r.id DESC LIMIT 200", params).fetchall()
    tz = store.settings.tz
    return [AccessRequest(*row[:11], until=None if row[11] is None else
                          (datetime.fromtimestamp(row[11], tz) - timedelta(days=1)).date().isoformat(),
                          archive=row[12] if grantor else None, title=row[13] if grantor else None)
            for row in rows]


def answer_access(store: Store, actor, request_id: int, *, grant: bool, until=None, note: str = "") -> int | None:
    """The gm answers a request: with a grant of that archive to the asker until `until` (default: the days
    asked), or a refusal with its reason. Returns the grant's id, or None when refused."""
    access = store.sheet(SHEET).row_access
    if actor.role != "system" and actor.role not in access.grantors:
        raise PermissionDenied()
    note = (note or "").strip()
    with store.transaction() as conn:
        row = conn.execute("SELECT code, user_id, days, reason FROM kefu_access_requests WHERE id = ? AND sheet = ? "
                           "AND state = 'open'", (request_id, SHEET)).fetchone()
        if row is None:
            raise NotFound()
        code, user_id, days, reason = row
        if grant:
            archive = conn.execute("SELECT id FROM customers WHERE code = ? AND deleted_at IS NULL",
                                   (code,)).fetchone()
            if archive is None:
                raise ValidationError(None, [Problem("code", "err.no_archive", {"code": code})])
            today = datetime.now(store.settings.tz).date()
            grant_id = store.grant(SHEET, archive[0], user_id, actor, until=until or today + timedelta(days=days),
                                   reason=reason)
            conn.execute("UPDATE kefu_access_requests SET state = 'granted', decided_by = ?, decided_at = ?, "
                         "grant_id = ?, note = ? WHERE id = ?", (actor.id, store.now(), grant_id, note or None,
                                                                 request_id))
            return grant_id
        if not note:
            raise ValidationError(None, [Problem("note", "err.required", {})])
        if len(note) > 200:
            raise ValidationError(None, [Problem("note", "err.too_long", {"max": 200, "got": len(note)})])
        conn.execute("UPDATE kefu_access_requests SET state = 'declined', decided_by = ?, decided_at = ?, note = ? "
                     "WHERE id = ?", (actor.id, store.now(), note, request_id))
        store._audit(conn, actor, "kefu_access_requests", request_id, "access_declined", None,
                     {"code": code, "user_id": user_id, "note": note})
    return None
