"""Administration (系统管理), read-only: the audit log a page at a time, the permission matrix the sheets
declare, and the database's health. Managing users and sessions is kefu/auth.py's.

The audit log gains a row with every write, for years: millions of rows. It is read in SQL, one page at a
time, newest first, on an index for each filter (kefu_audit_at, _sheet_at, _username_at, _action_at in
the store's system tables); the count behind the pages stops at AUDIT_COUNT_LIMIT, so no query reads the
whole table, and narrower filters reach older entries. One entry's before/after is shown with the sheet's
field labels and its personal data masked: the administrator has no `pii` right, and values this code
cannot vouch for (a field since removed from the sheet) are masked too.
"""
from __future__ import annotations

import functools
import importlib
import json
import math
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from kefu import auth, pg
from kefu.errors import NotFound
from kefu.exporting import Formatter
from kefu.fields import mask
from kefu.i18n import t
from kefu.sheets import ACTIONS, ROLES, SYSTEM_COLUMNS
from kefu.store import quote_ident

AUDIT_PAGE_SIZE = 50
AUDIT_COUNT_LIMIT = 10_000
# What the engine audits besides records, each with its label (adm.table.*); a name not here is shown as is.
SYSTEM_TABLES = ("kefu_users", "kefu_grants", "kefu_access_requests", "kefu_meta", "kefu_incentive_runs",
                 "kefu_privacy", "kefu_sheet", "kefu_rules")
# Every action the engine writes into kefu_audit, each with its label (audit.* for records, adm.action.*).
RECORD_ACTIONS = ("create", "update", "delete", "restore")
OTHER_ACTIONS = ("approve", "prepare", "check", "send_back", "grant", "revoke", "access_asked", "access_declined",
                 "login", "login_failed", "logout", "password_changed", "password_reset", "disable", "enable",
                 "role_changed", "superior_changed", "sessions_ended", "kiosk_token",
                 "kiosk_disabled", "anonymise", "erase", "person_export", "person_erase", "sheet_saved", "rules_saved")
AUDIT_ACTIONS = RECORD_ACTIONS + OTHER_ACTIONS
# The columns of the system tables' audit entries, labelled with adm.col.*; others show their own name.
SYSTEM_VALUE_KEYS = ("username", "display_name", "role", "active", "sessions_ended", "locked", "sheet", "row_id",
                     "user_id", "until", "reason", "period", "lines", "total", "pool", "lock", "sheets",
                     "records", "days", "cutoff", "name", "version", "effective_from", "note", "code", "grant_days",
                     "superior", "superior_id")
# The screens that are not sheets (auth.VIEW_ROLES), in the order of the matrix, with their labels.
VIEW_LABELS = {"home": "nav.home", "account": "nav.account", "dashboard": "nav.dashboard", "reports": "nav.reports",
               "survey_results": "sv.nav", "incentives": "ic.nav", "imports": "im.nav", "access_log": "nav.access_log",
               "users": "nav.users", "permissions": "adm.nav_permissions", "audit": "adm.nav_audit",
               "health": "adm.nav_health", "backups": "bk.nav", "privacy": "pv.nav", "survey_reports": "svr.nav",
               "office_rules": "or.nav", "designer": "dz.nav"}


# -- the audit log ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class AuditFilter:
    """What the viewer asks for; period: (first day, last day) as ISO dates, either may be None."""
    username: str | None = None
    sheet: str | None = None
    action: str | None = None
    period: tuple | None = None


@dataclass
class AuditPage:
    rows: list[dict]
    total: int          # at most AUDIT_COUNT_LIMIT
    capped: bool        # more entries match than were counted
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))


@dataclass
class AuditEntry:
    id: int
    at: str
    username: str
    sheet: str
    sheet_label: str
    row_id: int | None
    record: str                              # "#12"; an account's also names the user: "王小丽 #1"
    action: str
    action_label: str
    changes: list[tuple[str, str, str]]      # (field label, before, after) as a person reads them


def audit_where(wanted: AuditFilter) -> tuple[str, list]:
    """The WHERE clause of a filter: equality on indexed columns and a range on `at`."""
    clauses, params = [], []
    for column in ("username", "sheet", "action"):
        value = getattr(wanted, column)
        if value:
            clauses.append(f"{column} = ?")
            params.append(value)
    first, last = wanted.period or (None, None)
    if first:
        clauses.append("at >= ?")
        params.append(str(first))
    if last:
        clauses.append("at < date(?, '+1 day')")
        params.append(str(last))
    return " AND ".join(clauses) or "1", params


def audit_queries(wanted: AuditFilter) -> tuple[str, str, list]:
    """(count SQL, page SQL, their params; the page SQL takes LIMIT and OFFSET after them)."""
    where, params = audit_where(wanted)
    count = f"SELECT count(*) FROM (SELECT 1 FROM kefu_audit WHERE {where} LIMIT {AUDIT_COUNT_LIMIT + 1})"
    page = (f"SELECT id, at, username, sheet, row_id, action, before, after FROM kefu_audit WHERE {where} "
            "ORDER BY at DESC, id DESC LIMIT ? OFFSET ?")
    return count, page, params


def audit_page(store, actor, wanted: AuditFilter, lang: str, *, page: int = 1,
               page_size: int = AUDIT_PAGE_SIZE) -> AuditPage:
    """One page of audit entries, newest first: who, when, which register and record, what was done and
    which fields changed (their labels, never their values)."""
    auth.require_view(actor, "audit")
    count_sql, page_sql, params = audit_queries(wanted)
    counted = store.conn.execute(count_sql, params).fetchone()[0]
    total = min(counted, AUDIT_COUNT_LIMIT)
    page = max(1, min(page, max(1, math.ceil(total / page_size))))
    rows, shown, names = [], {}, functools.cache(store.user_names)
    for entry_id, at, username, sheet, row_id, action, before, after in store.conn.execute(
            page_sql, [*params, page_size, (page - 1) * page_size]):
        show = shown.setdefault(sheet, _Shown(store, sheet, lang))
        rows.append({"id": entry_id, "at": at, "username": username, "sheet": sheet,
                     "sheet_label": sheet_label(store, sheet, lang), "row_id": row_id,
                     "record": _record(sheet, row_id, names),
                     "action": action, "action_label": action_label(action, lang),
                     "fields": show.changed_fields(action, before, after)})
    return AuditPage(rows=rows, total=total, capped=counted > AUDIT_COUNT_LIMIT, page=page, page_size=page_size)


def audit_entry(store, actor, entry_id: int, lang: str) -> AuditEntry:
    """One entry with its before and after, field by field, personal data masked."""
    auth.require_view(actor, "audit")
    row = store.conn.execute("SELECT id, at, username, sheet, row_id, action, before, after FROM kefu_audit "
                             "WHERE id = ?", (entry_id,)).fetchone()
    if row is None:
        raise NotFound()
    entry_id, at, username, sheet, row_id, action, before, after = row
    before, after = _loaded(before), _loaded(after)
    show = _Shown(store, sheet, lang)
    changes = [(show.label(key), show.value(key, before.get(key)), show.value(key, after.get(key)))
               for key in show.order([*before, *after])]
    return AuditEntry(id=entry_id, at=at, username=username, sheet=sheet, sheet_label=sheet_label(store, sheet, lang),
                      row_id=row_id, record=_record(sheet, row_id, store.user_names), action=action,
                      action_label=action_label(action, lang), changes=changes)


def _record(sheet: str, row_id: int | None, names) -> str:
    """How an entry's record is named: its number; an account event also whose account (names() -> {id: name})."""
    if row_id is None:
        return ""
    return f"{names().get(row_id, '')} #{row_id}".strip() if sheet == "kefu_users" else f"#{row_id}"


def audit_sheets(store) -> list[str]:
    """The registers and system tables the viewer's filter offers."""
    return [*store.sheets, *SYSTEM_TABLES]


def audit_usernames(store) -> list[str]:
    """Who the user filter offers: every account, then the engine's own identities (no scan of the log)."""
    return [u["username"] for u in sorted(auth.list_users(store), key=lambda u: u["username"])] + [
        auth.SYSTEM.username, auth.KIOSK.username]


def sheet_label(store, name: str, lang: str) -> str:
    if name in store.sheets:
        return store.sheets[name].label_in(lang)
    return t(f"adm.table.{name}", lang) if name in SYSTEM_TABLES else name


def action_label(action: str, lang: str) -> str:
    if action in RECORD_ACTIONS:
        return t(f"audit.{action}", lang)
    return t(f"adm.action.{action}", lang) if action in OTHER_ACTIONS else action


def _loaded(text: str | None) -> dict:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class _Shown:
    """How an audit entry's keys and values read: a sheet's field labels and display values (personal
    data masked, a referenced record by its number only: its title may be what the admin may not read),
    a system table's labels; the search key the store derives from names is left out."""
    HIDDEN = {"search_pinyin"}
    SYSTEM_LABELS = {"id": "common.id", "created_at": "common.created_at", "updated_at": "common.updated_at"}

    def __init__(self, store, sheet_name: str, lang: str):
        self.store, self.lang = store, lang
        self.sheet = store.sheets.get(sheet_name)
        self.formatter = None
        self.users = None

    def changed_fields(self, action: str, before: str | None, after: str | None) -> str:
        """The labels of the fields an entry names (none for a create or delete: that is every field)."""
        if action in ("create", "delete", "restore"):
            return ""
        keys = self.order([*_loaded(before), *_loaded(after)])
        return ("、" if self.lang == "zh" else ", ").join(self.label(key) for key in keys)

    def order(self, keys) -> list[str]:
        """Each key once, in the sheet's field order, then the rest as written."""
        unique = [k for k in dict.fromkeys(keys) if k not in self.HIDDEN]
        if self.sheet is None:
            return unique
        position = {f.name: n for n, f in enumerate(self.sheet.fields)}
        return sorted(unique, key=lambda k: position.get(k, len(position)))

    def label(self, key: str) -> str:
        if self.sheet is not None and key in self.sheet.by_name:
            return self.sheet.by_name[key].label_in(self.lang)
        if key in self.SYSTEM_LABELS:
            return t(self.SYSTEM_LABELS[key], self.lang)
        if key in SYSTEM_COLUMNS or key in SYSTEM_VALUE_KEYS:
            return t(f"adm.col.{key}", self.lang)
        return key

    def value(self, key: str, value) -> str:
        if value is None or value == "":
            return ""
        if self.sheet is not None:
            field = self.sheet.by_name.get(key)
            if field is None and key not in SYSTEM_COLUMNS:
                return str(mask(_text(value)))        # a field no longer declared: it may have been personal
            if field is not None:
                return self._field_value(field, value)
        return self._system_value(key, value)

    def _field_value(self, field, value) -> str:
        if field.pii:
            return str(mask(_text(value)))
        if self.formatter is None:
            self.formatter = Formatter(self.store, self.sheet, self.lang)
        try:
            shown = self.formatter.value(field, value)
        except (TypeError, ValueError, AttributeError):
            shown = value                           # an old entry in a shape the field type no longer reads
        return _text(shown)

    def _system_value(self, key: str, value) -> str:
        if isinstance(value, bool) or key == "active":
            return t("common.yes" if value else "common.no", self.lang)
        if key == "role" and value in ROLES:
            return t(f"role.{value}", self.lang)
        if key in ("user_id", "created_by", "updated_by", "deleted_by"):
            if self.users is None:
                self.users = self.store.user_names()
            return self.users.get(value, f"#{value}")
        if key == "sheet":
            return sheet_label(self.store, str(value), self.lang)
        if key == "sheets" and isinstance(value, list):
            return ("、" if self.lang == "zh" else ", ").join(sheet_label(self.store, str(v), self.lang) for v in value)
        if key.endswith("_at") and isinstance(value, str):
            return value[:19].replace("T", " ")
        return _text(value)


def _text(value) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


# -- the permission matrix ---------------------------------------------------------------------------
def permission_matrix(store, actor, lang: str) -> list[dict]:
    """What each role may do in each register, as the sheets declare it: one row per sheet, {"sheet": its
    label, role: "read, create, ..." in lang}; a role that sees only its own records (row access) says so."""
    auth.require_view(actor, "permissions")
    joiner = "、" if lang == "zh" else ", "
    rows = []
    for sheet in store.sheets.values():
        row = {"sheet": sheet.label_in(lang)}
        for role in ROLES:
            actions = [t(f"adm.act.{a}", lang) for a in ACTIONS if sheet.allows(role, a)]
            text = joiner.join(actions)
            if actions and _own_rows_only(store, sheet, role):
                text += t("adm.own_only", lang)
            row[role] = text
        rows.append(row)
    return rows


def _own_rows_only(store, sheet, role: str) -> bool:
    """Does the role see only some records of the sheet (its own, granted ones, or those of visible parents)?"""
    someone = auth.User(id=0, username="", display_name="", role=role)
    return store.visible_clause(sheet, someone) is not None


def view_matrix(actor, lang: str) -> list[dict]:
    """Which role opens each screen that is not a register (auth.VIEW_ROLES): {"view": label, role: bool}."""
    auth.require_view(actor, "permissions")
    names = [*[v for v in VIEW_LABELS if v in auth.VIEW_ROLES], *[v for v in auth.VIEW_ROLES if v not in VIEW_LABELS]]
    return [{"view": t(VIEW_LABELS[name], lang) if name in VIEW_LABELS else name,
             **{role: role in auth.VIEW_ROLES[name] for role in ROLES}} for name in names]


# -- the database's health -----------------------------------------------------------------------------
@dataclass
class Health:
    location: str                       # the SQLite file, or the PostgreSQL database's URL without its password
    engine: str                         # "SQLite 3.40.1", "PostgreSQL 15.18"
    size_bytes: int                     # the file, or the whole database (pg_database_size)
    wal_bytes: int | None               # SQLite's -wal file; None on PostgreSQL, whose log is the server's own
    free_bytes: int | None              # SQLite: free pages inside the file that a VACUUM would give back
    dead_rows: int | None               # PostgreSQL: old row versions (VACUUM) not yet freed, approximately
    journal_mode: str | None            # SQLite's ("wal"); None on PostgreSQL
    registers: list[dict]               # {"sheet", "label", "live", "deleted", "indexes", "bytes"}
    system: list[dict]                  # {"table", "label", "rows", "indexes", "bytes"}; bytes: PostgreSQL only
    newest_audit: str | None
    last_backup: object = None          # kefu.backup.last_backup's answer; None when that module is absent
    has_backup_module: bool = False

    @property
    def postgres(self) -> bool:
        return self.engine.startswith("PostgreSQL")


SYSTEM_HEALTH_TABLES = ("kefu_users", "kefu_sessions", "kefu_audit", "kefu_access_log", "kefu_grants")


def health(store, actor, lang: str) -> Health:
    """Sizes and counts that are quick to read, even on a large database (counts on indexes): of SQLite's file,
    its log and free pages; of a PostgreSQL database, its size, each table's size and the old row versions
    waiting for VACUUM. Both: records per register, rows and indexes per table, the newest audit entry."""
    auth.require_view(actor, "health")
    conn = store.conn
    registers = []
    for name, sheet in store.sheets.items():
        table = quote_ident(name)
        total = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        deleted = conn.execute(f"SELECT count(*) FROM {table} WHERE deleted_at IS NOT NULL").fetchone()[0]
        registers.append({"sheet": name, "label": sheet.label_in(lang), "live": total - deleted, "deleted": deleted,
                          "indexes": len(store.index_names(name))})
    system = [{"table": name, "label": t(f"adm.table.{name}", lang),
               "rows": conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0],
               "indexes": len(store.index_names(name))} for name in SYSTEM_HEALTH_TABLES]
    available, backup = last_backup(store)
    common = dict(registers=registers, system=system, last_backup=backup, has_backup_module=available,
                  newest_audit=conn.execute("SELECT max(at) FROM kefu_audit").fetchone()[0])
    if store.url:
        server = pg.health(conn, store.url, [*store.sheets, *SYSTEM_HEALTH_TABLES])
        for row in registers:
            row["bytes"] = server["tables"].get(row["sheet"], 0)
        for row in system:
            row["bytes"] = server["tables"].get(row["table"], 0)
        return Health(location=server["location"], engine=f"PostgreSQL {server['version']}", size_bytes=server["size"],
                      wal_bytes=None, free_bytes=None, dead_rows=server["dead_rows"], journal_mode=None, **common)
    for row in (*registers, *system):
        row["bytes"] = None
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    return Health(
        location=str(store.path), engine="SQLite " + conn.execute("SELECT sqlite_version()").fetchone()[0],
        size_bytes=_size(store.path), wal_bytes=_size(Path(f"{store.path}-wal")),
        free_bytes=conn.execute("PRAGMA freelist_count").fetchone()[0] * page_size, dead_rows=None,
        journal_mode=conn.execute("PRAGMA journal_mode").fetchone()[0], **common)


def file_size(size: int) -> str:
    """Bytes as a person reads them: 0 B, 812 KB, 1.4 GB (powers of 1024)."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            break
        value /= 1024
    return f"{value:.0f} {unit}" if unit in ("B", "KB") else f"{value:.1f} {unit}"


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def check_integrity(store, actor) -> list[str]:
    """SQLite's quick check of every page and index (minutes on a very large file); on PostgreSQL, every index
    valid and ready and, with the amcheck extension, each B-tree index's pages (kefu.pg.index_problems). []
    when sound, else the problems found."""
    auth.require_view(actor, "health")
    if store.url:
        return pg.index_problems(store.conn)
    try:
        found = [row[0] for row in store.conn.execute("PRAGMA quick_check")]
    except sqlite3.DatabaseError as exc:         # too damaged to be checked at all ("malformed")
        return [str(exc)]
    return [] if found == ["ok"] else found


def last_backup(store) -> tuple[bool, object]:
    """(whether kefu.backup exists, its last_backup(store)): backups are another module's, which an
    installation may not have; then there is nothing to show."""
    try:
        backup = importlib.import_module("kefu.backup")
    except ModuleNotFoundError as exc:
        if exc.name != "kefu.backup":
            raise
        return False, None
    return True, backup.last_backup(store)
