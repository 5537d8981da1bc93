"""The one module that writes records: open the file, migrate it from the sheets, write with audit,
query with filters, search and pages.

Every connection belongs to one thread (sqlite3 refuses to share them, and one shared connection would
mix transactions). Every write is one `BEGIN IMMEDIATE` transaction holding the record and its audit
row, so a concurrent writer waits on busy_timeout instead of failing and nothing is half-written.
"""
from __future__ import annotations

import itertools
import json
import math
import numbers
import sqlite3
import threading
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field as dc_field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

import sqlite_utils

from kefu import auth, config, dataloss, pg
from kefu.errors import (DatabaseUnavailable, KefuError, MigrationError, NotFound, PeriodLocked, PermissionDenied,
                         StaleRecord)
from kefu.fields import Context, Date, FieldError, mask
from kefu.pinyin import is_cjk, search_key, search_values, short_grams
from kefu.sheets import SYSTEM_COLUMNS, Problem, Sheet, ValidationError

BUSY_TIMEOUT_MS = 15000
FTS_BATCH = 50      # from this many rows, insert_many indexes its batch for search in one statement (_fts_in_one)
FORMAT = 1          # the layout of the system tables this code writes; a file of a higher one is refused
MAX_ROW_ID = 2**63 - 1   # SQLite's largest integer: a larger Python int cannot even be bound to a query
SYSTEM_DDL = """
CREATE TABLE IF NOT EXISTS kefu_meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS kefu_users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    language TEXT,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until REAL,
    created_at TEXT NOT NULL,
    last_login_at TEXT,
    demo INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS kefu_sessions (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES kefu_users(id),
    created_at REAL NOT NULL,
    last_seen_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    ended_at REAL,
    cookie_hash TEXT,           -- the browser's key to this session: given by kefu/web.py as an HttpOnly cookie
    handoff_hash TEXT,          -- a one-time code, valid a minute, that the browser trades for that cookie
    handoff_expires REAL
);
CREATE INDEX IF NOT EXISTS kefu_sessions_user ON kefu_sessions(user_id);
CREATE TABLE IF NOT EXISTS kefu_audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    user_id INTEGER,
    username TEXT NOT NULL,
    sheet TEXT NOT NULL,
    row_id INTEGER,
    action TEXT NOT NULL,
    before TEXT,
    after TEXT
);
CREATE INDEX IF NOT EXISTS kefu_audit_row ON kefu_audit(sheet, row_id);
CREATE INDEX IF NOT EXISTS kefu_audit_at ON kefu_audit(at);
-- the audit viewer (kefu/admin.py): one page, newest first, of one register, one user or one action
CREATE INDEX IF NOT EXISTS kefu_audit_sheet_at ON kefu_audit(sheet, at);
CREATE INDEX IF NOT EXISTS kefu_audit_username_at ON kefu_audit(username, at);
CREATE INDEX IF NOT EXISTS kefu_audit_action_at ON kefu_audit(action, at);
CREATE TABLE IF NOT EXISTS kefu_access_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    user_id INTEGER,
    username TEXT NOT NULL,
    sheet TEXT NOT NULL,
    row_id INTEGER,
    action TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS kefu_access_log_at ON kefu_access_log(at);
CREATE TABLE IF NOT EXISTS kefu_grants (
    id INTEGER PRIMARY KEY,
    sheet TEXT NOT NULL,
    row_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL REFERENCES kefu_users(id),
    granted_by INTEGER,
    granted_at TEXT NOT NULL,
    expires_at REAL NOT NULL,
    revoked_at REAL,
    revoked_by INTEGER,
    reason TEXT,
    keeper INTEGER,
    actions TEXT NOT NULL DEFAULT 'read'
);
CREATE INDEX IF NOT EXISTS kefu_grants_user ON kefu_grants(sheet, user_id, row_id);
CREATE INDEX IF NOT EXISTS kefu_grants_row ON kefu_grants(sheet, row_id);
-- a request to read an archive (kefu/customers.py ask_access): asked by someone who may not read it, answered
-- by a grantor (the gm) with a grant (grant_id) or a refusal with its reason
CREATE TABLE IF NOT EXISTS kefu_access_requests (
    id INTEGER PRIMARY KEY,
    sheet TEXT NOT NULL,
    code TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES kefu_users(id),
    asked_at TEXT NOT NULL,
    days INTEGER NOT NULL,
    reason TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'open',
    decided_by INTEGER,
    decided_at TEXT,
    grant_id INTEGER,
    note TEXT
);
CREATE INDEX IF NOT EXISTS kefu_access_requests_state ON kefu_access_requests(sheet, state, id);
CREATE TABLE IF NOT EXISTS kefu_period_locks (
    id INTEGER PRIMARY KEY,
    sheet TEXT NOT NULL,
    first_day TEXT NOT NULL,
    end_day TEXT NOT NULL,
    period TEXT NOT NULL,
    mode TEXT NOT NULL,
    locked_at TEXT NOT NULL,
    locked_by INTEGER,
    run_id INTEGER
);
CREATE INDEX IF NOT EXISTS kefu_period_locks_sheet ON kefu_period_locks(sheet, first_day);
CREATE TABLE IF NOT EXISTS kefu_incentive_runs (
    id INTEGER PRIMARY KEY,
    period TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    first_day TEXT NOT NULL,
    end_day TEXT NOT NULL,
    approved_at TEXT NOT NULL,
    approved_by INTEGER,
    approved_by_name TEXT NOT NULL,
    lock_mode TEXT NOT NULL,
    total_fen INTEGER NOT NULL,
    pool_fen INTEGER NOT NULL,
    line_count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS kefu_incentive_lines (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES kefu_incentive_runs(id),
    seq INTEGER NOT NULL,
    staff INTEGER,
    staff_name TEXT NOT NULL,
    component TEXT NOT NULL,
    basis TEXT NOT NULL,
    amount_fen INTEGER NOT NULL,
    pool_fen INTEGER NOT NULL DEFAULT 0,
    adjusts TEXT
);
CREATE INDEX IF NOT EXISTS kefu_incentive_lines_run ON kefu_incentive_lines(run_id, seq);
CREATE INDEX IF NOT EXISTS kefu_incentive_lines_staff ON kefu_incentive_lines(staff, run_id);
-- a run on its way to approval (kefu/incentives.py): prepared with its lines as computed then, checked in turn,
-- approved (then copied into kefu_incentive_runs) or sent back with a reason, every step kept in kefu_incentive_steps
CREATE TABLE IF NOT EXISTS kefu_incentive_drafts (
    id INTEGER PRIMARY KEY,
    period TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    prepared_at TEXT NOT NULL,
    prepared_by INTEGER,
    prepared_by_name TEXT NOT NULL,
    pay_month TEXT,
    total_fen INTEGER NOT NULL,
    pool_fen INTEGER NOT NULL,
    line_count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS kefu_incentive_draft_lines (
    id INTEGER PRIMARY KEY,
    draft_id INTEGER NOT NULL REFERENCES kefu_incentive_drafts(id),
    seq INTEGER NOT NULL,
    staff INTEGER,
    staff_name TEXT NOT NULL,
    component TEXT NOT NULL,
    basis TEXT NOT NULL,
    amount_fen INTEGER NOT NULL,
    pool_fen INTEGER NOT NULL DEFAULT 0,
    adjusts TEXT
);
CREATE INDEX IF NOT EXISTS kefu_incentive_draft_lines_draft ON kefu_incentive_draft_lines(draft_id, seq);
CREATE TABLE IF NOT EXISTS kefu_incentive_steps (
    id INTEGER PRIMARY KEY,
    draft_id INTEGER NOT NULL REFERENCES kefu_incentive_drafts(id),
    step TEXT NOT NULL,
    role TEXT NOT NULL,
    at TEXT NOT NULL,
    user_id INTEGER,
    user_name TEXT NOT NULL,
    reason TEXT,
    total_fen INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS kefu_incentive_steps_draft ON kefu_incentive_steps(draft_id, id);
-- every saved version of a register file (kind 'sheet') or an office rules file (kind 'rules'): kefu/versions.py
CREATE TABLE IF NOT EXISTS kefu_versions (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    saved_at TEXT NOT NULL,
    saved_by INTEGER,
    saved_by_name TEXT NOT NULL,
    effective_from TEXT,
    note TEXT NOT NULL DEFAULT '',
    UNIQUE (kind, name, version)
);
"""
# Columns added to a system table after files were made with it: a file that lacks one gets it at migration.
SYSTEM_ADDED_COLUMNS = {
    "kefu_sessions": {"cookie_hash": "TEXT", "handoff_hash": "TEXT", "handoff_expires": "REAL"},
    # a grant of a keeper's whole book (row_id 0, keeper = that keeper); what the grant allows: read, or read,export
    "kefu_grants": {"keeper": "INTEGER", "actions": "TEXT NOT NULL DEFAULT 'read'"},
    # each user's one superior (000 一个上级的原则), set by the administrator: kefu/auth.py set_superior
    "kefu_users": {"superior": "INTEGER REFERENCES kefu_users(id)"},
}
SYSTEM_LATE_DDL = """
CREATE UNIQUE INDEX IF NOT EXISTS kefu_sessions_cookie ON kefu_sessions(cookie_hash);
CREATE UNIQUE INDEX IF NOT EXISTS kefu_sessions_handoff ON kefu_sessions(handoff_hash);
"""
SYSTEM_COLUMN_DDL = {
    "created_at": "TEXT NOT NULL DEFAULT ''",
    "created_by": "INTEGER",
    "updated_at": "TEXT",
    "updated_by": "INTEGER",
    "deleted_at": "TEXT",
    "deleted_by": "INTEGER",
    "version": "INTEGER NOT NULL DEFAULT 1",
}


def connect(path: Path | str) -> sqlite3.Connection:
    """A connection for this thread: autocommit (we open transactions ourselves), WAL, FKs, busy wait."""
    try:
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        raise DatabaseUnavailable(detail=f"{path}: {exc}") from exc
    return conn


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def row_key(value) -> int | None:
    """A record id as the tables hold it (a whole number from 1 to 2**63 - 1), or None for what cannot be
    one: text, a bool, a float, zero or less, or beyond 64 bits. An id from a session, a widget or a file
    is passed through this first: None names no record (NotFound), where binding a 100-digit number
    raised OverflowError and the screen showed a traceback."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and 0 < value <= MAX_ROW_ID:
        return int(value)
    return None


def _keys(ids) -> list[int]:
    """The distinct record ids among `ids` (row_key: anything else names no record)."""
    return list({key for key in map(row_key, ids) if key is not None})


def _bindable(value, *, key: bool = False):
    """A filter value as a parameter: an integer SQLite cannot hold equals no stored value, so it is bound
    as NULL (which equals nothing) instead of raising OverflowError; so is, for a record id or a link
    (key), anything row_key refuses (True is not record 1)."""
    if key:
        return row_key(value)
    whole = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    return None if whole and not -MAX_ROW_ID - 1 <= value <= MAX_ROW_ID else value


@lru_cache(maxsize=512)
def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    """The INSERT of a row with these columns: written once, not for each row of a large batch."""
    return (f"INSERT INTO {quote_ident(table)} ({', '.join(quote_ident(c) for c in columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})")


@dataclass
class Query:
    """What a grid or an export asks for. filters: field -> value, list of values, or (from, to)."""
    search: str = ""
    filters: dict = dc_field(default_factory=dict)
    sort: str | None = None
    page: int = 1
    page_size: int = 50
    deleted: bool = False


class _Empty:
    """A filter value meaning "no value stored" (IS NULL)."""

    def __repr__(self) -> str:
        return "EMPTY"


EMPTY = _Empty()
# What an audit entry holds in place of a personal value that was emptied on purpose (Store.clear_personal):
# there was a value, and it is gone.
REDACTED = "***"


@dataclass
class Page:
    rows: list[dict]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))


@dataclass(frozen=True)
class Checked:
    """A new record as `Store.check_new` checked it for one sheet: `insert_many` takes it as it is (every
    field and rule check done once), and still checks in its transaction what the database decides
    (links, unique keys, locked periods). An import checks a file, then commits the checked rows."""
    sheet: str
    row: dict
    search: tuple[str | None, str] | None = None    # its pinyin key and short grams, if worked out ahead


class Store:
    """One database file described by a set of sheets."""

    def __init__(self, path: Path | str, sheets: dict[str, Sheet], settings: config.Settings | None = None):
        # a SQLite file (the default), or a PostgreSQL database named by its URL (kefu/pg.py)
        self.url = str(path) if pg.is_url(path) else None
        self.path = None if self.url else Path(path)
        self.sheets = sheets
        self.settings = settings or config.load()
        self.ctx = Context(tz=self.settings.tz, phone_region=self.settings.phone_region)
        self._local = threading.local()
        self._savepoints = itertools.count(1)

    # -- connections and transactions -------------------------------------------------------------
    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None and self.url:
            conn = self._local.conn = pg.Connection(self.url)
        elif conn is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseUnavailable(detail=f"{self.path}: {exc}") from exc
            conn = self._local.conn = connect(self.path)
        return conn

    @property
    def location(self) -> str | Path:
        """Where the records are: the SQLite file, or the PostgreSQL database's URL."""
        return self.url or self.path

    @property
    def shown_location(self) -> str:
        """Where the records are, as a message or a screen names it: the file, or the URL without its password."""
        return pg.shown(self.url) if self.url else str(self.path)

    def index_names(self, table: str | None = None) -> set[str]:
        """The indexes of a table (or of every table)."""
        if self.url:
            sql = "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = coalesce(%s, tablename)"
            return {r[0] for r in self.conn.native(sql, (table,)).fetchall()}
        return {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' "
                                                "AND tbl_name = coalesce(?, tbl_name)", (table,))}

    def has_index(self, name: str) -> bool:
        return name in self.index_names()

    def columns(self, table: str) -> dict[str, str]:
        """A table's columns and their types, as SQLite names them (TEXT, INTEGER, REAL)."""
        return self._columns(self.conn, table)

    @property
    def db(self) -> sqlite_utils.Database:
        return sqlite_utils.Database(self.conn)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextmanager
    def transaction(self):
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception. Inside another transaction of this
        thread it is a savepoint, so domain code can make several writes one all-or-nothing unit."""
        conn = self.conn
        if conn.in_transaction:
            name = f"kefu_{next(self._savepoints)}"
            conn.execute(f"SAVEPOINT {name}")
            try:
                yield conn
            except BaseException:
                conn.execute(f"ROLLBACK TO {name}")
                conn.execute(f"RELEASE {name}")
                raise
            conn.execute(f"RELEASE {name}")
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def now(self) -> str:
        return datetime.now(self.settings.tz).replace(microsecond=0).isoformat()

    def sheet(self, name: str) -> Sheet:
        try:
            return self.sheets[name]
        except KeyError:
            raise NotFound() from None

    # -- migration ---------------------------------------------------------------------------------
    def migrate(self) -> list[str]:
        """Bring the file in line with the sheets; returns what was done. A change that would lose data
        raises MigrationError naming it, and then nothing at all is changed."""
        conn = self.conn
        with self.transaction():
            for statement in pg.SUPPORT_DDL if self.url else ():
                conn.native(statement)
            for statement in SYSTEM_DDL.split(";"):
                if statement.strip():
                    conn.execute(statement)
            made_by = conn.execute("SELECT value FROM kefu_meta WHERE key = 'format'").fetchone()
            if made_by and int(made_by[0]) > FORMAT:
                raise MigrationError([f"{self.path}: made by a newer Kefu Desk (file format {made_by[0]}, this "
                                      f"version knows {FORMAT}); update the program to open it"])
            conn.execute("INSERT OR REPLACE INTO kefu_meta(key, value) VALUES ('format', ?)", (str(FORMAT),))
            for table, added in SYSTEM_ADDED_COLUMNS.items():
                have = self._columns(conn, table)
                for column, ddl in added.items():
                    if column not in have:
                        conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}")
            for statement in SYSTEM_LATE_DDL.split(";"):
                if statement.strip():
                    conn.execute(statement)
            steps, refusals = [], []
            for sheet in self._referenced_first():
                self._plan_sheet(conn, sheet, steps, refusals)
            if refusals:
                raise MigrationError(refusals)
            for description, statements in steps:
                for statement in statements:
                    conn.execute(statement)
            if self.url:
                for sheet in self.sheets.values():
                    columns = self._fts_columns(sheet)
                    if pg.sync_search(conn, sheet.name, columns, short_grams) and columns:
                        steps.append((f"{sheet.name}: search index over {','.join(columns)}", []))
            else:
                self._sync_fts(conn, steps)
                self._sync_grams(conn, steps)
        return [description for description, _ in steps if description]

    def _referenced_first(self) -> list[Sheet]:
        """The sheets, each after the sheets its links point to (PostgreSQL makes a table only once the tables
        it references exist); a ring of links keeps the order the sheets came in."""
        done: dict[str, Sheet] = {}

        def visit(sheet: Sheet, path: tuple) -> None:
            if sheet.name in done or sheet.name in path:
                return
            for field in sheet.fields:
                if field.type_name == "ref" and field.ref_sheet in self.sheets:
                    visit(self.sheets[field.ref_sheet], (*path, sheet.name))
            done[sheet.name] = sheet

        for sheet in self.sheets.values():
            visit(sheet, ())
        return list(done.values())

    def _columns(self, conn, table: str) -> dict[str, str]:
        return {row[1]: (row[2] or "").upper() for row in conn.execute(f"PRAGMA table_info({quote_ident(table)})")}

    def _column_ddl(self, field) -> str:
        ddl = f"{quote_ident(field.name)} {field.sql}"
        if field.type_name == "user":
            ddl += " REFERENCES kefu_users(id)"
        elif field.type_name == "ref":
            ddl += f" REFERENCES {quote_ident(field.ref_sheet)}(id)"
        return ddl

    @staticmethod
    def _system_columns(sheet: Sheet) -> dict[str, str]:
        columns = dict(SYSTEM_COLUMN_DDL)
        if sheet.pinyin:
            columns["search_pinyin"] = "TEXT"
        return columns

    @staticmethod
    def _fts_columns(sheet: Sheet) -> list[str]:
        return [*sheet.search, "search_pinyin"] if sheet.pinyin and sheet.search else list(sheet.search)

    def _plan_sheet(self, conn, sheet: Sheet, steps: list, refusals: list) -> None:
        table = quote_ident(sheet.name)
        existing = self._columns(conn, sheet.name)
        if not existing:
            columns = ["id INTEGER PRIMARY KEY"] + [self._column_ddl(f) for f in sheet.fields]
            columns += [f"{name} {ddl}" for name, ddl in self._system_columns(sheet).items()]
            steps.append((f"created table {sheet.name}", [f"CREATE TABLE {table} (\n    " + ",\n    ".join(columns) + "\n)"]))
        else:
            for name, ddl in self._system_columns(sheet).items():
                if name not in existing:
                    steps.append((f"{sheet.name}: added column {name}", [f"ALTER TABLE {table} ADD COLUMN {name} {ddl}"]))
            for field in sheet.fields:
                if field.name not in existing:
                    steps.append((f"{sheet.name}: added column {field.name}",
                                  [f"ALTER TABLE {table} ADD COLUMN {self._column_ddl(field)}"]))
                elif existing[field.name] != field.sql:
                    held, ids = dataloss.held(conn, sheet.name, field.name)
                    if held:
                        refusals.append(dataloss.Refusal(sheet.name, "dl.retype_column", field.name, held, ids,
                                                         type=field.type_name, sql=field.sql, was=existing[field.name]))
                    else:
                        steps.append((f"{sheet.name}: retyped empty column {field.name}",
                                      self._drop_column(conn, sheet.name, field.name)
                                      + [f"ALTER TABLE {table} ADD COLUMN {self._column_ddl(field)}"]))
            declared = set(sheet.by_name) | set(SYSTEM_COLUMNS)
            for name in existing:
                if name in declared:
                    continue
                held, ids = dataloss.held(conn, sheet.name, name)
                if held:
                    refusals.append(dataloss.Refusal(sheet.name, "dl.drop", name, held, ids))
                else:
                    steps.append((f"{sheet.name}: dropped empty column {name}", self._drop_column(conn, sheet.name, name)))
        # Stored records the new rules would refuse (a field made required, a choice removed, ...), judged
        # against the rules last migrated; the rules are then recorded for the next comparison.
        rules = dataloss.encode(dataloss.declared(sheet))
        row = conn.execute("SELECT value FROM kefu_meta WHERE key = ?", (f"decl:{sheet.name}",)).fetchone()
        current = self.sheets.get(sheet.name)
        if row is not None:
            previous = json.loads(row[0])
        elif current is not None and current is not sheet:        # checking a candidate against the current one
            previous = dataloss.declared(current)
        else:
            previous = None
        refusals.extend(dataloss.refusals(conn, sheet, previous, existing, self.ctx))
        if row is None or row[0] != rules:
            steps.append(("", ["INSERT OR REPLACE INTO kefu_meta(key, value) VALUES ('decl:" + sheet.name.replace("'", "''")
                               + "', '" + rules.replace("'", "''") + "')"]))
        for field in sheet.fields:            # a unique field is looked up on every write (and by imports)
            if field.index or field.unique or field.type_name in ("user", "ref"):
                steps.append(("", [f"CREATE INDEX IF NOT EXISTS {quote_ident(f'idx_{sheet.name}_{field.name}')} "
                                   f"ON {table}({quote_ident(field.name)})"]))
        for group in sheet.unique:
            steps.append(("", [f"CREATE INDEX IF NOT EXISTS {quote_ident('idx_' + sheet.name + '_' + '_'.join(group))} "
                               f"ON {table}({', '.join(quote_ident(c) for c in group)})"]))
        for group in sheet.indexes:
            steps.append(("", [f"CREATE INDEX IF NOT EXISTS {quote_ident('idx_' + sheet.name + '__' + '_'.join(group))} "
                               f"ON {table}({', '.join(quote_ident(c) for c in group)})"]))
        # Every list asks for live rows, and owner-limited lists for one keeper's live rows: these let
        # SQLite count and pick a page from the index alone, reading only the rows it shows.
        steps.append(("", [f"CREATE INDEX IF NOT EXISTS {quote_ident(f'idx_{sheet.name}__live')} ON {table}(deleted_at)"]))
        if sheet.row_access and sheet.row_access.owner:
            owner = sheet.row_access.owner
            steps.append(("", [f"CREATE INDEX IF NOT EXISTS {quote_ident(f'idx_{sheet.name}__{owner}_live')} "
                               f"ON {table}({quote_ident(owner)}, deleted_at)"]))

    def _values_held(self, conn, table: str, column: str) -> int:
        return conn.execute(f"SELECT count(*) FROM {quote_ident(table)} WHERE {quote_ident(column)} IS NOT NULL "
                            f"AND {quote_ident(column)} != ''").fetchone()[0]

    def _drop_column(self, conn, table: str, column: str) -> list[str]:
        if self.url:                       # PostgreSQL drops the column's indexes with it; no triggers to drop
            return [f"ALTER TABLE {quote_ident(table)} DROP COLUMN {quote_ident(column)}"]
        statements = []
        for index in conn.execute(f"PRAGMA index_list({quote_ident(table)})").fetchall():
            names = [r[2] for r in conn.execute(f"PRAGMA index_info({quote_ident(index[1])})")]
            if column in names:
                statements.append(f"DROP INDEX {quote_ident(index[1])}")
        for trigger in self._fts_triggers(table):
            statements.append(f"DROP TRIGGER IF EXISTS {quote_ident(trigger)}")
        return statements + [f"ALTER TABLE {quote_ident(table)} DROP COLUMN {quote_ident(column)}"]

    @staticmethod
    def _fts_triggers(table: str) -> list[str]:
        return [f"{table}_fts_ai", f"{table}_fts_ad", f"{table}_fts_au"]

    def _sync_fts(self, conn, steps: list) -> None:
        """One trigram FTS5 index per sheet with search fields, rebuilt when its columns change; its triggers
        made again when they are missing or differ from what this code writes (an older file's)."""
        for sheet in self.sheets.values():
            key = f"fts:{sheet.name}"
            searched = self._fts_columns(sheet)
            wanted = ",".join(searched)
            row = conn.execute("SELECT value FROM kefu_meta WHERE key = ?", (key,)).fetchone()
            have = row[0] if row else None
            fts = quote_ident(f"{sheet.name}_fts")
            triggers = self._fts_trigger_sql(sheet) if searched else {}
            names = self._fts_triggers(sheet.name)
            existing = dict(conn.execute(f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN "
                                         f"({', '.join('?' for _ in names)})", names).fetchall())
            if have == wanted and existing == triggers:
                continue
            for trigger in names:
                conn.execute(f"DROP TRIGGER IF EXISTS {quote_ident(trigger)}")
            if have != wanted:
                conn.execute(f"DROP TABLE IF EXISTS {fts}")
            if searched:
                if have != wanted:
                    conn.execute(f"CREATE VIRTUAL TABLE {fts} USING fts5({', '.join(quote_ident(c) for c in searched)}, "
                                 f"content={quote_ident(sheet.name)}, content_rowid='id', tokenize='trigram')")
                    conn.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")
                    steps.append((f"{sheet.name}: search index over {wanted}", []))
                for statement in triggers.values():
                    conn.execute(statement)
            conn.execute("INSERT OR REPLACE INTO kefu_meta(key, value) VALUES (?, ?)", (key, wanted))

    def _fts_trigger_sql(self, sheet: Sheet) -> dict[str, str]:
        """The triggers that keep a sheet's trigram index, by name. The update one fires only when a searched
        column is set: a ticket's step or a backdated stamp leaves the index alone (each firing inside a
        transaction costs FTS5 a segment, see _fts_in_one)."""
        searched = self._fts_columns(sheet)
        table, fts = quote_ident(sheet.name), quote_ident(f"{sheet.name}_fts")
        cols = ", ".join(quote_ident(c) for c in searched)
        new = ", ".join(f"new.{quote_ident(c)}" for c in searched)
        old = ", ".join(f"old.{quote_ident(c)}" for c in searched)
        ai, ad, au = self._fts_triggers(sheet.name)
        return {
            ai: f"CREATE TRIGGER {quote_ident(ai)} AFTER INSERT ON {table} BEGIN "
                f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.id, {new}); END",
            ad: f"CREATE TRIGGER {quote_ident(ad)} AFTER DELETE ON {table} BEGIN "
                f"INSERT INTO {fts}({fts}, rowid, {cols}) VALUES ('delete', old.id, {old}); END",
            au: f"CREATE TRIGGER {quote_ident(au)} AFTER UPDATE OF {cols} ON {table} BEGIN "
                f"INSERT INTO {fts}({fts}, rowid, {cols}) VALUES ('delete', old.id, {old}); "
                f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.id, {new}); END",
        }

    @contextmanager
    def _fts_in_one(self, conn, sheet: Sheet, ids: list[int]):
        """Index a batch's new rows in one statement at its end instead of by the insert trigger row by row.
        Each insert that fires the trigger inside a transaction opens a statement savepoint, and FTS5 writes
        its pending entries out as a new segment at every savepoint, then merges them: one segment per
        row, ten times the work of indexing the batch at once. The trigger is dropped and made again inside
        the caller's transaction, so a rollback restores it and no other connection ever sees it missing."""
        searched = self._fts_columns(sheet)
        if not searched or self.url:              # PostgreSQL's trigram indexes follow the rows themselves
            yield
            return
        conn.execute(f"DROP TRIGGER {quote_ident(sheet.name + '_fts_ai')}")
        yield
        cols = ", ".join(quote_ident(c) for c in searched)
        conn.execute(f"INSERT INTO {quote_ident(sheet.name + '_fts')}(rowid, {cols}) SELECT id, {cols} "
                     f"FROM {quote_ident(sheet.name)} WHERE id IN (SELECT value FROM json_each(?))", (json.dumps(ids),))
        conn.execute(self._fts_trigger_sql(sheet)[f"{sheet.name}_fts_ai"])

    def _sync_grams(self, conn, steps: list) -> None:
        """A second index per searchable sheet, for one- and two-character searches (trigram cannot
        answer them): kept by the store's own writes, rebuilt here when the searched columns change."""
        for sheet in self.sheets.values():
            key = f"grams:{sheet.name}"
            columns = self._fts_columns(sheet)
            wanted = ",".join(columns)
            row = conn.execute("SELECT value FROM kefu_meta WHERE key = ?", (key,)).fetchone()
            if row and row[0] == wanted:
                continue
            table = quote_ident(f"{sheet.name}_grams")
            conn.execute(f"DROP TABLE IF EXISTS {table}")
            if columns:
                conn.execute(f"CREATE VIRTUAL TABLE {table} USING fts5(grams, tokenize='unicode61')")
                cursor = conn.execute(f"SELECT id, {', '.join(quote_ident(c) for c in columns)} "
                                      f"FROM {quote_ident(sheet.name)}")
                conn.executemany(f"INSERT INTO {table}(rowid, grams) VALUES (?, ?)",
                                 ((r[0], short_grams(r[1:])) for r in cursor.fetchall()))
            conn.execute("INSERT OR REPLACE INTO kefu_meta(key, value) VALUES (?, ?)", (key, wanted))

    def _write_grams(self, conn, sheet: Sheet, row_id: int, row: dict, *, new: bool, grams: str | None = None) -> None:
        columns = self._fts_columns(sheet)
        if not columns:
            return
        if grams is None:
            grams = short_grams(row.get(c) for c in columns)
        table, key = quote_ident(f"{sheet.name}_grams"), "id" if self.url else "rowid"
        if not new:
            conn.execute(f"DELETE FROM {table} WHERE {key} = ?", (row_id,))
        conn.execute(f"INSERT INTO {table}({key}, grams) VALUES (?, ?)", (row_id, grams))

    # -- row access: who sees which rows -----------------------------------------------------------
    def visible_clause(self, sheet: Sheet, actor, alias: str = "", *, export: bool = False) -> tuple[str, list] | None:
        """SQL condition limiting `sheet` to the rows actor may see, or None for all rows.
        Owner sheets: own rows, rows granted until a time, and the rows of a keeper whose whole book was
        granted; via sheets: rows whose parent is visible. export=True: the rows actor may export, which
        for a role outside the sheet's exporters are only the rows granted with export."""
        access = sheet.row_access
        if access is None or actor is None or actor.role == "system":
            return None
        limited = export and access.exporters is not None and actor.role not in access.exporters
        if actor.role in access.see_all and not limited:
            return None
        prefix = f"{alias}." if alias else ""
        if access.owner:
            wanted = "AND actions LIKE '%export%' " if limited else ""
            live = f"sheet = ? AND user_id = ? AND expires_at > ? AND revoked_at IS NULL {wanted}"
            now = time.time()
            own = f"{prefix}{quote_ident(access.owner)} = ? OR " if not limited else ""
            return (f"({own}{prefix}id IN (SELECT row_id FROM kefu_grants WHERE {live}) "
                    f"OR {prefix}{quote_ident(access.owner)} IN (SELECT keeper FROM kefu_grants WHERE keeper IS NOT NULL "
                    f"AND {live}))",
                    [*([actor.id] if not limited else []), sheet.name, actor.id, now, sheet.name, actor.id, now])
        parent = self.sheets[sheet.by_name[access.via].ref_sheet]
        inner = self.visible_clause(parent, actor, export=export)
        if inner is None:
            return None
        return (f"{prefix}{quote_ident(access.via)} IN (SELECT id FROM {quote_ident(parent.name)} WHERE {inner[0]})",
                inner[1])

    def _fetch_visible(self, conn, sheet: Sheet, row_id: int, actor) -> dict | None:
        row = self._fetch(conn, sheet, row_id)
        if row is None:
            return None
        clause = self.visible_clause(sheet, actor)
        if clause is not None and not conn.execute(
                f"SELECT 1 FROM {quote_ident(sheet.name)} WHERE id = ? AND {clause[0]}", [row["id"], *clause[1]]).fetchone():
            return None
        return row

    # -- writes ------------------------------------------------------------------------------------
    def insert(self, sheet_name: str, values: dict, actor, *, created_at: str | None = None) -> int:
        """Validate, insert and audit one record; returns its id."""
        return self.insert_many(sheet_name, [values], actor, created_at=created_at)[0]

    def insert_many(self, sheet_name: str, rows: list[dict], actor, *, created_at: str | None = None) -> list[int]:
        """Insert many records in one transaction: all of them, or (on any error) none. `created_at`: when
        the records were made, earlier than now, for a register that takes it from a file (a past year's
        complaints keep their received times); the audit still says when they were written."""
        sheet = self.sheet(sheet_name)
        auth.require(actor, sheet, "create")
        if created_at is not None and (not sheet.import_created or created_at > self.now()):
            raise ValueError(f"{sheet.name}: created_at {created_at!r} is not the past of a register that takes it")
        prepared = [self._new_record(sheet, values) for values in rows]
        ids, written = [], []
        now = self.now()
        checked: set = set()                                   # links already found in this batch
        with self.transaction() as conn, (self._fts_in_one(conn, sheet, ids) if len(prepared) >= FTS_BATCH
                                          else nullcontext()):
            for clean, grams in prepared:
                self._check_period(conn, sheet, clean.get(sheet.period) if sheet.period else None)
                self._check_links(conn, sheet, clean, actor, checked)
                self._check_unique(conn, sheet, clean, None)
                record = {**clean, "created_at": created_at or now, "created_by": actor.id, "version": 1}
                row_id = conn.execute(_insert_sql(sheet.name, tuple(record)), list(record.values())).lastrowid
                self._write_grams(conn, sheet, row_id, record, new=True, grams=grams)
                record.pop("search_pinyin", None)
                self._audit(conn, actor, sheet.name, row_id, "create", None, {"id": row_id, **record}, at=now)
                ids.append(row_id)
                written.append((None, {"id": row_id, **record}))
            self._changed(sheet, actor, written)
        return ids

    def check_new(self, sheet_name: str, values: dict) -> Checked:
        """The record `insert` would store for values (defaults, draft state, every field and rule
        check), or ValidationError; nothing is written. An import checks each row of a file with it."""
        return Checked(sheet_name, self._prepare_new(self.sheet(sheet_name), values))

    def search_sources(self, sheet: Sheet, row: dict) -> tuple[tuple, tuple]:
        """What a new record's search columns are made of (kefu.pinyin.search_values): the texts of its pinyin
        fields and its searched texts."""
        return tuple(row.get(name) for name in sheet.pinyin), tuple(row.get(name) for name in sheet.search)

    def _new_record(self, sheet: Sheet, values) -> tuple[dict, str]:
        """A record to insert, with its pinyin key, and its short grams: a Checked one as it is (with the search
        values an import worked out ahead, if it did), any other validated here."""
        if isinstance(values, Checked) and values.sheet == sheet.name:
            clean, search = dict(values.row), values.search
        else:
            clean, search = self._prepare_new(sheet, values), None
        key, grams = search or search_values(*self.search_sources(sheet, clean))
        if sheet.pinyin:
            clean["search_pinyin"] = key
        return clean, grams

    def _prepare_new(self, sheet: Sheet, values: dict) -> dict:
        values = dict(values)
        for field in sheet.fields:
            if field.default is not None and (values.get(field.name) is None or values.get(field.name) == ""):
                values[field.name] = field.default
        if sheet.approval:
            for name in (sheet.approval.field, sheet.approval.by, sheet.approval.at):
                values.pop(name, None)
            values[sheet.approval.field] = sheet.approval.draft
        clean = sheet.validate(values, self.ctx)
        problems = sheet.cross_check(clean) + self.rule_checks(sheet, clean)
        if problems:
            raise ValidationError(sheet, problems)
        return clean

    def update(self, sheet_name: str, row_id: int, changes: dict, actor, *, expected_version: int | None = None,
               allow_readonly: bool = False) -> dict:
        """Validate and apply changes to one record; returns the record as stored. expected_version
        (the version the user's screen showed) turns a concurrent change into StaleRecord. Editing an
        approved record makes it a draft again: it needs a new approval."""
        sheet = self.sheet(sheet_name)
        auth.require(actor, sheet, "update")
        clean = sheet.validate(changes, self.ctx, partial=True)
        locked = [Problem(name, "err.not_editable", {}) for name in clean
                  if (sheet.by_name[name].readonly and not allow_readonly)
                  or (sheet.by_name[name].pii and not auth.can(actor, sheet, "pii"))]
        if locked:
            raise ValidationError(sheet, locked)
        with self.transaction() as conn:
            before = self._current(conn, sheet, row_id, actor, expected_version)
            changed = {k: v for k, v in clean.items() if before.get(k) != v}
            shown = (lambda row: row) if auth.can(actor, sheet, "pii") else (lambda row: self.masked(sheet, row))
            if not changed:
                return shown(before)
            approval = sheet.approval
            if approval and not allow_readonly and before.get(approval.field) == approval.approved:
                changed[approval.field] = approval.draft
            row = {**before, **changed}
            problems = sheet.cross_check(row) + self.rule_checks(sheet, row)
            if problems:
                raise ValidationError(sheet, problems)
            changed.update({k: v for k, v in row.items() if k in sheet.by_name and before.get(k) != v})
            if sheet.period:
                self._check_period(conn, sheet, before.get(sheet.period), changed.get(sheet.period))
            self._check_links(conn, sheet, changed, actor)
            self._check_unique(conn, sheet, {**before, **changed}, row_id, only=changed)
            stamp = {"updated_at": self.now(), "updated_by": actor.id}
            if sheet.pinyin and set(changed) & set(sheet.pinyin):
                stamp["search_pinyin"] = search_key({**before, **changed}.get(name) for name in sheet.pinyin)
            assignments = ", ".join(f"{quote_ident(c)} = ?" for c in {**changed, **stamp})
            conn.execute(f"UPDATE {quote_ident(sheet.name)} SET {assignments}, version = version + 1 WHERE id = ?",
                         [*changed.values(), *stamp.values(), row_id])
            if set({**changed, **stamp}) & set(self._fts_columns(sheet)):
                self._write_grams(conn, sheet, row_id, {**before, **changed, **stamp}, new=False)
            self._audit(conn, actor, sheet.name, row_id, "update", {k: before[k] for k in changed}, changed)
            self._changed(sheet, actor, [(before, {**before, **changed})])
            return shown({**before, **changed, **stamp, "version": before["version"] + 1})

    def _current(self, conn, sheet: Sheet, row_id: int, actor, expected_version: int | None) -> dict:
        """The live record to change: visible to actor, not deleted, and still the version the user's
        screen showed (else StaleRecord: saving would lose someone else's change)."""
        before = self._fetch_visible(conn, sheet, row_id, actor)
        if before is None or before["deleted_at"] is not None:
            raise NotFound()
        if expected_version is not None and before["version"] != expected_version:
            raise StaleRecord()
        return before

    def approve(self, sheet_name: str, row_id: int, actor, *, expected_version: int | None = None) -> dict:
        """Approve a draft record: only the sheet's approval roles may."""
        sheet = self.sheet(sheet_name)
        approval = sheet.approval
        if approval is None:
            raise NotFound()
        if actor.role != "system" and actor.role not in approval.roles:
            raise PermissionDenied()
        with self.transaction() as conn:
            before = self._current(conn, sheet, row_id, actor, expected_version)
            if before[approval.field] != approval.draft:
                raise KefuError("err.not_draft")
            changed = {approval.field: approval.approved, approval.by: actor.id, approval.at: self.now()}
            assignments = ", ".join(f"{quote_ident(c)} = ?" for c in changed)
            conn.execute(f"UPDATE {quote_ident(sheet.name)} SET {assignments}, version = version + 1 WHERE id = ?",
                         [*changed.values(), row_id])
            self._audit(conn, actor, sheet.name, row_id, "approve", {k: before[k] for k in changed}, changed)
            return {**before, **changed, "version": before["version"] + 1}

    def delete(self, sheet_name: str, row_id: int, actor) -> None:
        """Soft delete: the row stays, marked; `restore` brings it back."""
        self._set_deleted(sheet_name, row_id, actor, deleted=True)

    def restore(self, sheet_name: str, row_id: int, actor) -> None:
        self._set_deleted(sheet_name, row_id, actor, deleted=False)

    def _set_deleted(self, sheet_name: str, row_id: int, actor, *, deleted: bool) -> None:
        sheet = self.sheet(sheet_name)
        auth.require(actor, sheet, "delete")
        with self.transaction() as conn:
            before = self._fetch_visible(conn, sheet, row_id, actor)
            if before is None or (before["deleted_at"] is not None) == deleted:
                raise NotFound()
            locked = self._locked_period(conn, sheet, before.get(sheet.period))
            if locked:
                raise PeriodLocked(period=locked, day=before.get(sheet.period))
            if not deleted:
                self._check_unique(conn, sheet, before, row_id)
            at, by = (self.now(), actor.id) if deleted else (None, None)
            conn.execute(f"UPDATE {quote_ident(sheet.name)} SET deleted_at = ?, deleted_by = ?, "
                         f"version = version + 1 WHERE id = ?", (at, by, row_id))
            self._audit(conn, actor, sheet.name, row_id, "delete" if deleted else "restore",
                        {"deleted_at": before["deleted_at"]}, {"deleted_at": at})
            self._changed(sheet, actor, [(before, {**before, "deleted_at": at})])

    def _changed(self, sheet: Sheet, actor, changes: list) -> None:
        """The sheet's declared follow-ups of a write (schema key `on_change`), in the write's transaction."""
        for follow in sheet.on_change:
            follow(self, actor, changes)

    def rule_checks(self, sheet: Sheet, row: dict) -> list[Problem]:
        """The sheet's declared rule checks (schema key `checks`); each may complete `row`."""
        return [problem for check in sheet.checks for problem in check(self, row)]

    def _check_links(self, conn, sheet: Sheet, values: dict, actor=None, checked: set | None = None) -> None:
        """A user field names an active user; a ref names a live record the actor may see.
        `checked` remembers links found earlier in the same transaction."""
        problems = []
        for name, value in values.items():
            field = sheet.by_name.get(name)
            if value is None or field is None or field.type_name not in ("user", "ref"):
                continue
            if checked is not None and (name, value) in checked:
                continue
            if field.type_name == "user":
                found = conn.execute("SELECT 1 FROM kefu_users WHERE id = ? AND active = 1", (value,)).fetchone()
                code = "err.bad_user"
            else:
                target = self.sheets[field.ref_sheet]
                clause = self.visible_clause(target, actor) or ("1", [])
                found = conn.execute(f"SELECT 1 FROM {quote_ident(target.name)} WHERE id = ? AND deleted_at IS NULL "
                                     f"AND {clause[0]}", [value, *clause[1]]).fetchone()
                code = "err.bad_ref"
            if not found:
                problems.append(Problem(name, code, {}))
            elif checked is not None:
                checked.add((name, value))
        if problems:
            raise ValidationError(sheet, problems)

    def _locked_period(self, conn, sheet: Sheet, day) -> str | None:
        """The approved period ("2026-10") that locks records of `sheet` dated `day`, if any. A lock in
        mode next_period lets the change through: the next run carries its difference."""
        if not sheet.period or not day:
            return None
        row = conn.execute("SELECT period FROM kefu_period_locks WHERE sheet = ? AND first_day <= ? AND end_day > ? "
                           "AND mode = 'refuse' LIMIT 1", (sheet.name, day, day)).fetchone()
        return row[0] if row else None

    def locked_period(self, sheet: Sheet, day) -> str | None:
        """The approved period a record of `sheet` dated `day` lies in (it would be refused), if any."""
        return self._locked_period(self.conn, sheet, day)

    def _check_period(self, conn, sheet: Sheet, *days) -> None:
        """A record dated in an approved (locked) period is not written: the refusal names the date field."""
        for day in days:
            period = self._locked_period(conn, sheet, day)
            if period:
                raise ValidationError(sheet, [Problem(sheet.period, "ic.period_locked", {"period": period, "day": day})])

    def _check_unique(self, conn, sheet: Sheet, row: dict, row_id: int | None, only: dict | None = None) -> None:
        groups = [[f.name] for f in sheet.fields if f.unique] + sheet.unique
        for group in groups:
            if only is not None and not set(group) & set(only):
                continue
            if any(row.get(c) is None for c in group):
                continue
            where = " AND ".join(f"{quote_ident(c)} = ?" for c in group)
            params = [row[c] for c in group]
            if row_id is not None:
                where += " AND id != ?"
                params.append(row_id)
            if conn.execute(f"SELECT 1 FROM {quote_ident(sheet.name)} WHERE {where} AND +deleted_at IS NULL LIMIT 1",
                            params).fetchone():
                raise ValidationError(sheet, [Problem(group[-1], "err.unique", {})])

    def _audit(self, conn, actor, sheet: str, row_id, action: str, before, after, *, at: str | None = None) -> None:
        conn.execute("INSERT INTO kefu_audit(at, user_id, username, sheet, row_id, action, before, after) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     (at or self.now(), actor.id, actor.username, sheet, row_id, action,
                      None if before is None else json.dumps(before, ensure_ascii=False),
                      None if after is None else json.dumps(after, ensure_ascii=False)))

    def audit_event(self, actor, sheet: str, row_id, action: str, before=None, after=None) -> None:
        """Audit something that is not a record write (a login, a user change) in its own transaction."""
        with self.transaction() as conn:
            self._audit(conn, actor, sheet, row_id, action, before, after)

    def log_access(self, actor, sheet: str, row_id, action: str, detail: str = "") -> None:
        """Who saw unmasked personal data, or exported it: the trail that traces a breach to a person."""
        with self.transaction() as conn:
            conn.execute("INSERT INTO kefu_access_log(at, user_id, username, sheet, row_id, action, detail) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (self.now(), actor.id, actor.username, sheet, row_id, action, detail))

    # -- personal data emptied on purpose -----------------------------------------------------------
    def clear_personal(self, sheet_name: str, row_ids, fields, actor, *, action: str) -> int:
        """Empty `fields` of the records `row_ids`, deliberately past `required`: a retention period ran out
        or a person asked to be erased, so the value must go while the record stays (a visit is still
        counted). One transaction removes every copy the store keeps: the value, its full-text entry (the
        table's triggers), its short grams and pinyin key, and the value in the records' earlier audit
        entries (replaced by REDACTED). Each record changed gets one audit entry `action` naming the fields
        emptied, never their values, and a new version, so a form still open on the old values cannot save
        them back. Approvals and period locks are left as they are: no approval or figure rests on a phone
        number. Only the engine's own identity may call it (kefu/privacy.py checks who asked); deleted
        records are emptied too. Returns the number of records changed."""
        sheet = self.sheet(sheet_name)
        if actor is None or actor.role != "system":
            raise PermissionDenied()
        fields = list(dict.fromkeys(fields))
        bad = [name for name in fields if name not in sheet.by_name or sheet.by_name[name].type_name in ("ref", "user")]
        if bad:
            raise ValueError(f"{sheet.name}: {bad} cannot be emptied as personal data")
        ids = sorted({int(i) for i in row_ids})
        if not ids or not fields:
            return 0
        table, marks = quote_ident(sheet.name), ", ".join("?" for _ in ids)
        searched = set(self._fts_columns(sheet))
        now, changed = self.now(), 0
        with self.secure_delete(), self.transaction() as conn:
            cursor = conn.execute(f"SELECT * FROM {table} WHERE id IN ({marks})", ids)
            names = [d[0] for d in cursor.description]
            rows = {row[0]: dict(zip(names, row)) for row in cursor}
            in_trail = self._redact_audit(conn, sheet.name, ids, fields)
            for row_id in ids:
                before = rows.get(row_id)
                if before is None:
                    continue
                held = [name for name in fields if before.get(name) not in (None, "")]
                emptied = list(dict.fromkeys(held + in_trail.get(row_id, [])))
                if not emptied:
                    continue
                if held:
                    row = {**before, **{name: None for name in held}}
                    stamp = {"updated_at": now, "updated_by": actor.id}
                    if sheet.pinyin and set(held) & set(sheet.pinyin):
                        stamp["search_pinyin"] = search_key(row.get(name) for name in sheet.pinyin)
                    assignments = ", ".join(f"{quote_ident(c)} = ?" for c in [*held, *stamp])
                    conn.execute(f"UPDATE {table} SET {assignments}, version = version + 1 WHERE id = ?",
                                 [*(None for _ in held), *stamp.values(), row_id])
                    if set([*held, *stamp]) & searched:
                        self._write_grams(conn, sheet, row_id, {**row, **stamp}, new=False)
                self._audit(conn, actor, sheet.name, row_id, action, {name: REDACTED for name in emptied},
                            {name: None for name in emptied}, at=now)
                changed += 1
        return changed

    def _redact_audit(self, conn, sheet_name: str, ids: list[int], fields: list[str]) -> dict[int, list[str]]:
        """Put REDACTED in place of the values of `fields` in the audit entries of these records; returns,
        per record, the fields whose values its trail held."""
        marks = ", ".join("?" for _ in ids)
        held: dict[int, list[str]] = {}
        changes = []
        for entry_id, row_id, *texts in conn.execute(
                f"SELECT id, row_id, before, after FROM kefu_audit WHERE sheet = ? AND row_id IN ({marks})",
                [sheet_name, *ids]).fetchall():
            found, values = [], []
            for text in texts:
                value = json.loads(text) if text else None
                if isinstance(value, dict):
                    for name in fields:
                        if value.get(name) not in (None, "", REDACTED):
                            value[name] = REDACTED
                            found.append(name)
                values.append(value)
            if found:
                changes.append([None if v is None else json.dumps(v, ensure_ascii=False) for v in values] + [entry_id])
                held.setdefault(row_id, []).extend(found)
        conn.executemany("UPDATE kefu_audit SET before = ?, after = ? WHERE id = ?", changes)
        return {row_id: list(dict.fromkeys(names)) for row_id, names in held.items()}

    def compact_search(self, sheet_name: str) -> None:
        """Merge the sheet's search indexes into one segment each. FTS5 only marks an entry deleted and keeps
        its text in older segments until they merge; after personal data was emptied, this leaves no copy
        of it there (and, with secure_delete, the freed pages are zeroed)."""
        sheet = self.sheet(sheet_name)
        if not self._fts_columns(sheet):
            return
        if self.url:            # PostgreSQL: VACUUM frees the dead row versions that held the old values
            for name in (sheet.name, f"{sheet.name}_grams"):
                self.conn.native(f"VACUUM {quote_ident(name)}")
            return
        with self.secure_delete(), self.transaction() as conn:
            for name in (f"{sheet.name}_fts", f"{sheet.name}_grams"):
                conn.execute(f"INSERT INTO {quote_ident(name)}({quote_ident(name)}) VALUES ('optimize')")

    def truncate_log(self) -> bool:
        """Checkpoint the write-ahead log and cut it to nothing, so that no old page (a value since emptied)
        stays in the -wal file; waits for readers on busy_timeout. False when a reader kept it. PostgreSQL's
        write-ahead log is the server's own, recycled by its checkpoints: nothing to cut here."""
        if self.url:
            return True
        busy, _, _ = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return not busy

    @contextmanager
    def secure_delete(self):
        """SQLite overwrites what it deletes with zeros while inside: an emptied value does not stay in a
        free page of the file. (PostgreSQL has no such switch: see compact_search.)"""
        if self.url:
            yield
            return
        conn = self.conn
        was = conn.execute("PRAGMA secure_delete").fetchone()[0]
        conn.execute("PRAGMA secure_delete = 1")
        try:
            yield
        finally:
            conn.execute(f"PRAGMA secure_delete = {int(was)}")

    # -- grants: time-limited access to one row ----------------------------------------------------
    def grant(self, sheet_name: str, row_id: int | None, user_id, actor, *, until, reason: str = "",
              keeper: int | None = None, export: bool = False) -> int:
        """Let one user see one row (of an owner sheet) until a date, or, given keeper and no row, every
        row that keeper keeps (a supervisor covering a colleague's book: when the keeper has a superior, only
        someone in the keeper's line of superiors, 000 一个上级的原则); export=True lets the user export
        those rows too. Only the sheet's grantors may; the date is after today and at most the sheet's
        max_grant_days away."""
        sheet = self.sheet(sheet_name)
        access = sheet.row_access
        if access is None or not access.owner:
            raise NotFound()
        if actor.role != "system" and actor.role not in access.grantors:
            raise PermissionDenied()
        problems = []
        try:
            day = Date().parse(None, until, self.ctx) if until else None
        except FieldError:
            day = None
        today = datetime.now(self.settings.tz).date()
        if day is None:
            problems.append(Problem("until", "err.bad_date", {}))
        elif day <= today.isoformat():
            problems.append(Problem("until", "err.grant_past", {}))
        elif day > (today + timedelta(days=access.max_grant_days)).isoformat():
            problems.append(Problem("until", "err.grant_too_long", {"max": access.max_grant_days}))
        reason = (reason or "").strip()
        if len(reason) > 200:
            problems.append(Problem("reason", "err.too_long", {"max": 200, "got": len(reason)}))
        book = row_id is None
        with self.transaction() as conn:
            if not isinstance(user_id, int) or not conn.execute(
                    "SELECT 1 FROM kefu_users WHERE id = ? AND active = 1", (user_id,)).fetchone():
                problems.append(Problem("user", "err.bad_user", {}))
            if book and (not isinstance(keeper, int) or not conn.execute(
                    "SELECT 1 FROM kefu_users WHERE id = ?", (keeper,)).fetchone()):
                problems.append(Problem("keeper", "err.bad_user", {}))
            elif book and not problems:      # a colleague's whole book goes up their line (一个上级的原则)
                line = auth.line_of_superiors(self, keeper)
                if line and user_id not in [u.id for u in line]:
                    name = conn.execute("SELECT display_name FROM kefu_users WHERE id = ?", (keeper,)).fetchone()[0]
                    problems.append(Problem("user", "err.grant_not_superior", {"keeper": name,
                                                                               "superior": line[0].display_name}))
            if problems:
                raise ValidationError(None, problems)
            if not book and self._fetch(conn, sheet, row_id) is None:
                raise NotFound()
            expires = datetime.fromisoformat(day).replace(tzinfo=self.settings.tz).timestamp() + 86400
            actions = "read,export" if export else "read"
            grant_id = conn.execute(
                "INSERT INTO kefu_grants(sheet, row_id, user_id, granted_by, granted_at, expires_at, reason, keeper, "
                "actions) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (sheet.name, 0 if book else row_id, user_id, actor.id, self.now(), expires, reason or None,
                 keeper if book else None, actions)).lastrowid
            self._audit(conn, actor, "kefu_grants", grant_id, "grant", None,
                        {"sheet": sheet.name, "row_id": None if book else row_id, "keeper": keeper if book else None,
                         "user_id": user_id, "until": day, "actions": actions, "reason": reason})
        return grant_id

    def may_export(self, sheet_name: str, actor) -> bool:
        """May actor export this sheet at all: the `export` right and, on a sheet whose exports are kept to
        its exporters (archives, and the records under them), that role or a live grant naming export."""
        sheet = self.sheet(sheet_name)
        if not auth.can(actor, sheet, "export"):
            return False
        access = sheet.row_access
        while access is not None and access.via:
            sheet = self.sheets[sheet.by_name[access.via].ref_sheet]
            access = sheet.row_access
        if access is None or access.exporters is None or actor.role == "system" or actor.role in access.exporters:
            return True
        return actor.id is not None and self.conn.execute(
            "SELECT 1 FROM kefu_grants WHERE sheet = ? AND user_id = ? AND expires_at > ? AND revoked_at IS NULL "
            "AND actions LIKE '%export%'", (sheet.name, actor.id, time.time())).fetchone() is not None

    def revoke(self, grant_id: int, actor) -> None:
        with self.transaction() as conn:
            row = conn.execute("SELECT sheet, row_id, user_id FROM kefu_grants WHERE id = ? AND revoked_at IS NULL",
                               (row_key(grant_id),)).fetchone()
            if row is None:
                raise NotFound()
            access = self.sheet(row[0]).row_access
            if actor.role != "system" and actor.role not in access.grantors:
                raise PermissionDenied()
            conn.execute("UPDATE kefu_grants SET revoked_at = ?, revoked_by = ? WHERE id = ?",
                         (time.time(), actor.id, grant_id))
            self._audit(conn, actor, "kefu_grants", grant_id, "revoke", None,
                        {"sheet": row[0], "row_id": row[1], "user_id": row[2]})

    def grants(self, sheet_name: str, actor, *, row_id: int | None = None) -> list[dict]:
        """Grants of a sheet (or one row), newest first, each marked active or not; grantors and roles
        that see every row may list them."""
        sheet = self.sheet(sheet_name)
        access = sheet.row_access
        if access is None or (actor.role != "system" and actor.role not in access.grantors | access.see_all):
            raise PermissionDenied()
        where, params = "g.sheet = ?", [sheet.name]
        if row_id is not None:
            where += " AND g.row_id = ?"
            params.append(row_key(row_id))
        cursor = self.conn.execute(
            f"SELECT g.id, g.row_id, r.{quote_ident(sheet.title)} AS title, g.user_id, u.display_name AS user_name, "
            f"g.granted_by, b.display_name AS granted_by_name, g.granted_at, g.expires_at, g.revoked_at, g.reason, "
            f"g.keeper, k.display_name AS keeper_name, g.actions "
            f"FROM kefu_grants g JOIN kefu_users u ON u.id = g.user_id LEFT JOIN kefu_users b ON b.id = g.granted_by "
            f"LEFT JOIN kefu_users k ON k.id = g.keeper LEFT JOIN {quote_ident(sheet.name)} r ON r.id = g.row_id WHERE {where} ORDER BY g.id DESC LIMIT 500",
            params)
        names = [d[0] for d in cursor.description]
        now = time.time()
        rows = []
        for values in cursor:
            row = dict(zip(names, values))
            row["active"] = row["revoked_at"] is None and row["expires_at"] > now
            row["export"] = "export" in (row["actions"] or "")
            if sheet.title in sheet.pii_fields and not auth.can(actor, sheet, "pii"):
                row["title"] = mask(row["title"])
            if row["keeper"] is not None:
                row["row_id"] = None
            row["until"] = datetime.fromtimestamp(row["expires_at"] - 86400, self.settings.tz).date().isoformat()
            rows.append(row)
        return rows

    # -- reads -------------------------------------------------------------------------------------
    def _fetch(self, conn, sheet: Sheet, row_id: int) -> dict | None:
        row_id = row_key(row_id)
        if row_id is None:
            return None
        cursor = conn.execute(f"SELECT * FROM {quote_ident(sheet.name)} WHERE id = ?", (row_id,))
        row = cursor.fetchone()
        if row is None:
            return None
        return dict(zip([d[0] for d in cursor.description], row))

    def get(self, sheet_name: str, row_id: int, actor, *, reveal: bool = False, log: bool = True) -> dict:
        """One record the actor may see. Personal data is masked unless reveal=True and the role has
        `pii`; a reveal of a record holding personal data is written to the access log (log=False: a
        screen redrawing what this user already revealed)."""
        sheet = self.sheet(sheet_name)
        auth.require(actor, sheet, "read")
        row = self._fetch_visible(self.conn, sheet, row_id, actor)
        if row is None:
            raise NotFound()
        show = reveal and auth.can(actor, sheet, "pii")
        if show and log and any(row.get(name) for name in sheet.pii_fields):
            self.log_access(actor, sheet.name, row_id, "view")
        return row if show else self.masked(sheet, row)

    def masked(self, sheet: Sheet, row: dict) -> dict:
        return {k: (mask(v) if k in sheet.pii_fields else v) for k, v in row.items()}

    def _where(self, sheet: Sheet, query: Query, actor=None, *, export: bool = False) -> tuple[str, list]:
        clauses: list[str] = []
        params: list = []
        visible = self.visible_clause(sheet, actor, export=export)
        if visible is not None:
            clauses.append(visible[0])
            params.extend(visible[1])
        for name, wanted in query.filters.items():
            if name not in sheet.by_name and name not in SYSTEM_COLUMNS:
                raise ValueError(f"unknown filter field {name!r}")
            column = quote_ident(name)
            kind = sheet.by_name[name].type_name if name in sheet.by_name else "int"
            key = kind == "ref" or name == "id"
            if wanted is EMPTY:
                clauses.append(f"{column} IS NULL")
                continue
            if wanted is None or wanted == [] or wanted == ():
                continue
            if isinstance(wanted, tuple):
                low, high = wanted
                if low:
                    clauses.append(f"{column} >= ?")
                    params.append(str(low))
                if high:
                    if kind == "datetime" and len(str(high)) == 10:
                        clauses.append(f"{column} < date(?, '+1 day')")
                    else:
                        clauses.append(f"{column} <= ?")
                    params.append(str(high))
            elif isinstance(wanted, list):
                if kind == "multichoice":
                    clauses.append("(" + " OR ".join(f"EXISTS (SELECT 1 FROM json_each({column}) WHERE value = ?)"
                                                     for _ in wanted) + ")")
                else:
                    clauses.append(f"{column} IN ({', '.join('?' for _ in wanted)})")
                params.extend(_bindable(value, key=key) for value in wanted)
            else:
                clauses.append(f"{column} = ?")
                params.append(_bindable(wanted, key=key))
        text = (query.search or "").strip()[:200]
        if text:
            for clause, values in self._search_clauses(sheet, text.split(), actor):
                clauses.append(clause)
                params.extend(values)
        # Nearly every row is live, so "live" narrows nothing: beside another condition, the unary +
        # keeps SQLite from choosing the deleted_at index over a selective one (owner, search, filter).
        if query.deleted:
            live = "deleted_at IS NOT NULL"
        else:
            live = "+deleted_at IS NULL" if clauses else "deleted_at IS NULL"
        return " AND ".join([live, *clauses]), params

    def _search_clauses(self, sheet: Sheet, terms: list[str], actor) -> list[tuple[str, list]]:
        """One condition per search term (all must hold). A term matches the sheet's own search fields
        or, for each ref field named in `search`, a referenced record the actor may see that the
        referenced sheet's own search matches (a member found by its customer's name)."""
        if not sheet.search_refs:
            return self._own_search(sheet, terms)
        clauses = []
        for term in terms:
            options = self._own_search(sheet, [term]) if self._fts_columns(sheet) else []
            for name in sheet.search_refs:
                target = self.sheets[sheet.by_name[name].ref_sheet]
                inner = self._own_search(target, [term])
                visible = self.visible_clause(target, actor)
                if visible is not None:
                    inner.append(visible)
                options.append((f"{quote_ident(name)} IN (SELECT id FROM {quote_ident(target.name)} WHERE "
                                + " AND ".join(c for c, _ in inner) + ")", [v for _, p in inner for v in p]))
            clauses.append(("(" + " OR ".join(c for c, _ in options) + ")", [v for _, p in options for v in p]))
        return clauses

    def _own_search(self, sheet: Sheet, terms: list[str]) -> list[tuple[str, list]]:
        """Conditions matching the terms against the sheet's own search fields (and pinyin keys)."""
        searched = self._fts_columns(sheet)
        if not searched:
            return []
        if self.url:
            return pg.search_clauses(sheet.name, searched, terms, cjk=is_cjk)
        clauses = []
        fts, grams = quote_ident(f"{sheet.name}_fts"), quote_ident(f"{sheet.name}_grams")
        long_terms = [term for term in terms if len(term) >= 3]
        if long_terms:                                   # trigram: any substring of 3+ characters
            clauses.append((f"id IN (SELECT rowid FROM {fts} WHERE {fts} MATCH ?)",
                            [self.db.quote_fts(" ".join(long_terms))]))
        for term in (t for t in terms if len(t) < 3):
            lowered = term.lower()
            if is_cjk(lowered):                          # one or two Chinese characters
                clauses.append((f"id IN (SELECT rowid FROM {grams} WHERE {grams} MATCH ?)", [f'"{lowered}"']))
            elif lowered.isascii() and lowered.isalnum():  # a short Latin prefix: zs -> zsf, 13 -> 138...
                clauses.append((f"id IN (SELECT rowid FROM {grams} WHERE {grams} MATCH ?)", [f'"{lowered}"*']))
            else:                                        # anything else: a plain substring scan
                pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                clauses.append(("(" + " OR ".join(f"{quote_ident(c)} LIKE ? ESCAPE '\\'" for c in searched) + ")",
                                [pattern] * len(searched)))
        return clauses

    def _order(self, sheet: Sheet, sort: str | None) -> str:
        """ORDER BY for a sort key ('-name' descends); empty values last, ties by id. Written so an
        index on the column can serve it (descending already puts NULL last in SQLite)."""
        sort = sort or sheet.order
        name = sort.lstrip("-")
        if name not in sheet.by_name and name not in SYSTEM_COLUMNS:
            name, sort = "id", "-id"
        column = quote_ident(name)
        if name == "id":
            return f"id {'DESC' if sort.startswith('-') else 'ASC'}"
        if sort.startswith("-"):
            return f"{column} DESC, id DESC"
        return f"{column} ASC NULLS LAST, id ASC"

    def query(self, sheet_name: str, actor, query: Query | None = None, *, columns: list[str] | None = None) -> Page:
        """One page of the records the actor may see that match the query, masked: grids never show
        personal data in clear."""
        query = query or Query()
        sheet = self.sheet(sheet_name)
        auth.require(actor, sheet, "read")
        where, params = self._where(sheet, query, actor)
        table = quote_ident(sheet.name)
        total = self.conn.execute(f"SELECT count(*) FROM {table} WHERE {where}", params).fetchone()[0]
        size = max(1, min(query.page_size, 500))
        page = max(1, min(query.page, max(1, math.ceil(total / size))))
        rows = self._select(sheet, where, params, query.sort, columns, size, (page - 1) * size)
        return Page(rows=[self.masked(sheet, r) for r in rows], total=total, page=page, page_size=size)

    def _select(self, sheet, where, params, sort, columns, limit, offset) -> list[dict]:
        """One page of rows. The page's ids are chosen first (from indexes where they serve), then only
        those rows are read whole."""
        wanted = "*" if not columns else ", ".join(quote_ident(c) for c in ["id", *columns] if c == "id" or c in sheet.by_name or c in SYSTEM_COLUMNS)
        table, order = quote_ident(sheet.name), self._order(sheet, sort)
        cursor = self.conn.execute(f"SELECT {wanted} FROM {table} WHERE id IN (SELECT id FROM {table} WHERE {where} "
                                   f"ORDER BY {order} LIMIT ? OFFSET ?) ORDER BY {order}", [*params, limit, offset])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor]

    def iter_rows(self, sheet_name: str, actor, query: Query, *, reveal: bool, batch: int = 2000,
                  export: bool = False):
        """Every matching record the actor may see, in order, in batches (for exports); masked unless
        reveal and `pii`. export=True: only the rows the actor may export (visible_clause)."""
        sheet = self.sheet(sheet_name)
        auth.require(actor, sheet, "read")
        show = reveal and auth.can(actor, sheet, "pii")
        where, params = self._where(sheet, query, actor, export=export)
        offset = 0
        while True:
            rows = self._select(sheet, where, params, query.sort, None, batch, offset)
            for row in rows:
                yield row if show else self.masked(sheet, row)
            if len(rows) < batch:
                return
            offset += batch

    def history(self, sheet_name: str, row_id: int, actor) -> list[dict]:
        """The record's audit trail, oldest first; personal values masked for roles without `pii`."""
        sheet = self.sheet(sheet_name)
        auth.require(actor, sheet, "read")
        if self._fetch_visible(self.conn, sheet, row_id, actor) is None:
            raise NotFound()
        cursor = self.conn.execute("SELECT at, username, action, before, after FROM kefu_audit "
                                   "WHERE sheet = ? AND row_id = ? ORDER BY id", (sheet.name, row_id))
        show = auth.can(actor, sheet, "pii")
        entries = []
        for at, username, action, before, after in cursor:
            before, after = json.loads(before) if before else {}, json.loads(after) if after else {}
            if not show:
                before, after = self.masked(sheet, before), self.masked(sheet, after)
            entries.append({"at": at, "username": username, "action": action, "before": before, "after": after})
        return entries

    def access_log(self, actor, *, username: str | None = None, sheet: str | None = None,
                   period: tuple | None = None, page: int = 1, page_size: int = 50) -> Page:
        """Who saw or exported personal data: for the roles that may audit it."""
        auth.require_view(actor, "access_log")
        clauses, params = ["1"], []
        if username:
            clauses.append("username = ?")
            params.append(username)
        if sheet:
            clauses.append("sheet = ?")
            params.append(sheet)
        if period and period[0]:
            clauses.append("at >= ?")
            params.append(str(period[0]))
        if period and period[1]:
            clauses.append("at < date(?, '+1 day')")
            params.append(str(period[1]))
        where = " AND ".join(clauses)
        total = self.conn.execute(f"SELECT count(*) FROM kefu_access_log WHERE {where}", params).fetchone()[0]
        page = max(1, min(page, max(1, math.ceil(total / page_size))))
        cursor = self.conn.execute(f"SELECT id, at, username, sheet, row_id, action, detail FROM kefu_access_log "
                                   f"WHERE {where} ORDER BY id DESC LIMIT ? OFFSET ?",
                                   [*params, page_size, (page - 1) * page_size])
        names = [d[0] for d in cursor.description]
        return Page(rows=[dict(zip(names, r)) for r in cursor], total=total, page=page, page_size=page_size)

    def user_names(self) -> dict[int, str]:
        return dict(self.conn.execute("SELECT id, display_name FROM kefu_users"))

    def active_users(self) -> list[tuple[int, str]]:
        return list(self.conn.execute("SELECT id, display_name FROM kefu_users WHERE active = 1 ORDER BY display_name"))

    def titles(self, sheet_name: str, ids, actor=None) -> dict[int, str]:
        """Title of each referenced record, for showing a ref field. Given the actor, a record this actor
        may not see (another keeper's archive) is left out (_named_only): the screen names it by its id
        only, never by its name (a ticket or a sale of that customer shows "#14")."""
        sheet = self.sheet(sheet_name)
        ids = _keys(ids)
        if not ids:
            return {}
        where, params = self._named_only(sheet, ids, actor)
        shown = self.title_shown(sheet, actor)
        return {row_id: shown(title) for row_id, title in self.conn.execute(
            f"SELECT id, {quote_ident(sheet.title)} FROM {quote_ident(sheet.name)} WHERE {where}", params)}

    @staticmethod
    def title_shown(sheet: Sheet, actor):
        """How a record's title is shown where another record names it (a list on the home screen, a picker):
        masked when the title is personal data (a customer's name, 003 保密范围: 姓名) and the actor's role has
        no `pii` on its sheet."""
        if actor is not None and sheet.title in sheet.pii_fields and not auth.can(actor, sheet, "pii"):
            return mask
        return lambda title: title

    def _named_only(self, sheet: Sheet, ids: list[int], actor) -> tuple[str, list]:
        """The condition for the records among `ids` whose title the actor may read where another record
        points to them: a record the actor may not see is named only when it sits under another record
        (a `via` sheet) and its title is its own unique number (a member's HY000123, which the club's event
        lists show); an archive, or the text of a record under one, is not."""
        where, params = f"id IN ({', '.join('?' for _ in ids)})", list(ids)
        access = sheet.row_access
        numbered = access is not None and access.via and getattr(sheet.by_name.get(sheet.title), "unique", False)
        clause = self.visible_clause(sheet, actor) if access is not None and not numbered else None
        if clause is not None:
            where, params = f"{where} AND {clause[0]}", [*params, *clause[1]]
        return where, params

    def ref_options(self, sheet_name: str, actor=None, limit: int = 500, *, query: str = "") -> list[tuple[int, str]]:
        """Records a ref field may point to: (id, label) of the newest live records the actor may see,
        only those the sheet's search finds for `query` when one is given (an old record of a big
        sheet is found by its name, code, phone, pinyin...). The label is ref_labels'."""
        sheet = self.sheet(sheet_name)
        where, params = self._where(sheet, Query(search=query or ""), actor)
        return self._labelled(sheet, f"WHERE {where} ORDER BY id DESC LIMIT ?", [*params, limit], actor)

    def ref_labels(self, sheet_name: str, ids, actor=None) -> dict[int, str]:
        """How each record is named where another record points to it: its title, then the title of
        each record it points to through a ref field of its search, when the actor may see that one
        ("HY000123 · 海棠湾酒店"; a member of an archive the actor may not see: "HY000123"; that archive
        itself: left out, the caller shows "#14")."""
        ids = _keys(ids)
        if not ids:
            return {}
        sheet = self.sheet(sheet_name)
        where, params = self._named_only(sheet, ids, actor)
        return dict(self._labelled(sheet, f"WHERE {where}", params, actor))

    def _labelled(self, sheet: Sheet, rest: str, params: list, actor) -> list[tuple[int, str]]:
        columns = ", ".join(quote_ident(c) for c in [sheet.title, *sheet.search_refs])
        rows = self.conn.execute(f"SELECT id, {columns} FROM {quote_ident(sheet.name)} {rest}", params).fetchall()
        referenced = [self._visible_titles(self.sheets[sheet.by_name[name].ref_sheet], [row[2 + n] for row in rows],
                                           actor) for n, name in enumerate(sheet.search_refs)]
        labelled = []
        shown = self.title_shown(sheet, actor)
        for row_id, title, *refs in rows:
            parts = [shown(title) if title not in (None, "") else f"#{row_id}"]
            parts += [titles.get(value) for titles, value in zip(referenced, refs)]
            labelled.append((row_id, " · ".join(str(part) for part in parts if part not in (None, ""))))
        return labelled

    def _visible_titles(self, sheet: Sheet, ids, actor) -> dict[int, str]:
        ids = _keys(ids)
        if not ids:
            return {}
        clause = self.visible_clause(sheet, actor) or ("1", [])
        marks = ", ".join("?" for _ in ids)
        shown = self.title_shown(sheet, actor)
        return {row_id: shown(title) for row_id, title in self.conn.execute(
            f"SELECT id, {quote_ident(sheet.title)} FROM {quote_ident(sheet.name)} "
            f"WHERE id IN ({marks}) AND {clause[0]}", [*ids, *clause[1]])}

    def is_empty(self) -> bool:
        """True when no user exists yet: the app then asks for the first administrator."""
        return self.conn.execute("SELECT count(*) FROM kefu_users").fetchone()[0] == 0
