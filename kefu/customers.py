"""Customer archives' own behaviour: the next customer code, duplicate warnings, an archive's
transaction totals, follow-ups due for the archive keeper, archiving, and the order of a business change."""
from __future__ import annotations

from datetime import datetime, timedelta

from kefu import auth
from kefu.errors import PermissionDenied
from kefu.fields import FieldError
from kefu.sheets import Problem
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
