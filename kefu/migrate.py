"""Moving an office from its SQLite file into PostgreSQL (`python -m kefu migrate-to postgresql://...`).

The whole move is ONE PostgreSQL transaction: the target is migrated with the same sheets, checked to hold no
office records, filled table by table (ids kept, references first, foreign keys checked once at the end), its id
sequences set past the copied ids, its short-grams search table filled, and then every table is compared with
the file: its row count and a checksum worked out the same way on both sides (`checksum`). Only when all of them
match is the transaction committed. A refusal, a difference, an error, Ctrl-C, a killed process or a lost
connection before that moment leaves the target exactly as it was: PostgreSQL never keeps a transaction that
was not committed, so there is no half-copied office to find or clean up on the next run.

The file is read in one read transaction (a snapshot), so the copy and its checksums are of one moment even if
the app is still writing; what is written after that moment is not in the copy (stop the app first).

What is not copied: the login sessions (kefu_sessions: everyone logs in again on the new database) and SQLite's
own search indexes (FTS5 tables, rebuilt by PostgreSQL's trigram indexes and the short-grams tables).
"""
from __future__ import annotations

import hashlib
import re
import sqlite3
from dataclasses import dataclass, field
from typing import Callable

import psycopg

from kefu import kpi, pg
from kefu.errors import KefuError
from kefu.pinyin import short_grams
from kefu.store import SYSTEM_DDL, Store, quote_ident

SKIPPED = ("kefu_sessions",)              # logins of the old database: everyone logs in again on the new one
META = "kefu_meta"
# what only the SQLite file keeps about its own search indexes (PostgreSQL's migration writes its own `fts:` keys)
SQLITE_ONLY_META = "grams:"
# SQLite's search indexes (FTS5 virtual tables and their shadow tables): rebuilt, not copied
SEARCH_INDEX = re.compile(r".+_(fts|grams)(_(data|idx|docsize|config|content))?")
BATCH = 2000


class MigrateRefused(KefuError):
    """migrate-to stopped before committing: the target is as it was (nothing was written)."""
    code = "mg.failed"


@dataclass
class TableCopy:
    table: str
    rows: int = 0
    source_sum: str = ""
    target_rows: int = 0
    target_sum: str = ""

    @property
    def matches(self) -> bool:
        return self.rows == self.target_rows and self.source_sum == self.target_sum


@dataclass
class Outcome:
    target: str
    tables: list[TableCopy] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)      # table -> rows left out on purpose (sessions)

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)


# -- the checksum, the same on both sides ----------------------------------------------------------------
def _value(value) -> bytes:
    """One value, typed: 1, 1.0 and '1' differ, NULL differs from '' and from 0; floats by repr (exact)."""
    if value is None:
        return b"N"
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        return b"i" + str(value).encode()
    if isinstance(value, float):
        return b"f" + repr(value).encode()
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        return b"b" + str(len(data)).encode() + b":" + data
    text = str(value).encode("utf-8", "surrogatepass")
    return b"s" + str(len(text)).encode() + b":" + text


class Checksum:
    """sha256 over rows given in order (by id; tables without one are sorted first), each value typed."""

    def __init__(self):
        self._hash = hashlib.sha256()
        self.rows = 0

    def add(self, row) -> None:
        self._hash.update(b"\x1e".join(_value(v) for v in row) + b"\x1d")
        self.rows += 1

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def checksum(rows) -> tuple[int, str]:
    """(row count, checksum) of rows in the order given."""
    total = Checksum()
    for row in rows:
        total.add(row)
    return total.rows, total.hexdigest()


def differing(tables: list[TableCopy]) -> list[TableCopy]:
    return [t for t in tables if not t.matches]


# -- what is copied ------------------------------------------------------------------------------------
def system_tables() -> list[str]:
    """The engine's own tables, in the order SYSTEM_DDL makes them (each after the tables it references)."""
    return re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", SYSTEM_DDL)


def tables_to_copy(store: Store) -> list[str]:
    """Every table the engine keeps, referenced tables first: the system tables, then the sheets'."""
    return [t for t in system_tables() if t not in SKIPPED] + [s.name for s in store._referenced_first()]


def _source_tables(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                       "AND name NOT LIKE 'sqlite%' ORDER BY name")]


def _source_columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info({quote_ident(table)})")]


def _order(columns: list[str]) -> str:
    return "ORDER BY id" if "id" in columns else ""


# -- the move ------------------------------------------------------------------------------------------
def migrate_to(source: Store, target_url: str, *, progress: Callable[[str, int], None] | None = None,
               copy_row: Callable[[str, tuple], tuple] | None = None) -> Outcome:
    """Copy the office of `source` (a SQLite store, migrated) into the PostgreSQL database at `target_url`, in
    one transaction, committed only when every table's count and checksum match. Raises MigrateRefused (the
    target unchanged) otherwise. progress(table, rows) is called as each table starts; copy_row(table, row)
    may change a row on its way to the target (the tests make a copy differ with it)."""
    if source.url:
        raise MigrateRefused("mg.source_not_file")
    if not pg.is_url(target_url):
        raise MigrateRefused("mg.target_not_url", target=target_url)
    target = Store(target_url, source.sheets, source.settings)
    outcome = Outcome(target=pg.masked(target_url, target_url))
    files = source.conn
    conn = target.conn
    committing = False
    try:
        files.execute("BEGIN")                                  # one read snapshot of the file
        conn.execute("BEGIN IMMEDIATE")                         # the target's write lock, as every writer takes
        target.migrate()                                        # a savepoint of this transaction
        names = tables_to_copy(source)
        _refuse_records(conn, [*names, *SKIPPED])
        _refuse_strays(files, set(names) | set(SKIPPED))
        for table in SKIPPED:
            outcome.skipped[table] = files.execute(f"SELECT count(*) FROM {quote_ident(table)}").fetchone()[0]
        keys = _drop_foreign_keys(conn)
        for table in names:
            columns = _source_columns(files, table)
            _refuse_other_columns(table, columns, target.columns(table))
            if progress:
                progress(table, files.execute(f"SELECT count(*) FROM {quote_ident(table)}"
                                              + (f" WHERE key NOT LIKE '{SQLITE_ONLY_META}%'" if table == META else "")
                                              ).fetchone()[0])
            outcome.tables.append(_copy(files, conn, table, columns, copy_row))
        for name, table, definition in keys:                    # every reference checked here, at once
            conn.native(f"ALTER TABLE {table} ADD CONSTRAINT {quote_ident(name)} {definition}")
        _set_sequences(conn, names)
        _fill_grams(target, conn)
        kpi.make_indexes(target)                                # the figures' indexes; the rows stay the file's
        for copied in outcome.tables:
            columns = _source_columns(files, copied.table)
            copied.target_rows, copied.target_sum = _target_checksum(conn, copied.table, columns)
        if differing(outcome.tables):
            raise Mismatch(outcome)
        committing = True
        conn.execute("COMMIT")
    except BaseException as exc:
        if committing and isinstance(exc, (psycopg.OperationalError, KeyboardInterrupt)):
            _close(target)              # the answer to COMMIT never came: committed, or not at all
            raise MigrateRefused("mg.commit_unknown", target=outcome.target, detail=str(exc).strip()) from exc
        _roll_back(target)
        if isinstance(exc, pg.Error) and not isinstance(exc, MigrateRefused):
            raise MigrateRefused("mg.failed", detail=str(exc).strip().splitlines()[0] if str(exc).strip() else
                                 type(exc).__name__) from exc
        raise
    finally:
        if files.in_transaction:
            files.execute("ROLLBACK")
    _close(target)
    return outcome


class Mismatch(MigrateRefused):
    """A table of the copy differs from the file: rolled back."""
    code = "mg.mismatch"

    def __init__(self, outcome: Outcome):
        bad = differing(outcome.tables)
        super().__init__("mg.mismatch", tables=", ".join(
            f"{t.table} ({t.rows} -> {t.target_rows} rows{', checksum differs' if t.rows == t.target_rows else ''})"
            for t in bad))
        self.outcome = outcome


def _roll_back(target: Store) -> None:
    """Roll the transaction back; a connection that cannot even do that is closed, which rolls back too."""
    conn = getattr(target._local, "conn", None)          # None: never connected, so nothing to roll back
    try:
        if conn is not None and conn.in_transaction:
            conn.execute("ROLLBACK")
    except pg.Error:
        pass
    _close(target)


def _close(target: Store) -> None:
    try:
        target.close()
    except pg.Error:
        pass


def _refuse_records(conn: pg.Connection, tables: list[str]) -> None:
    """The target must hold no office records: migrate-to fills a new database, it never merges two."""
    for table in tables:
        if table == META:                        # what the target's own migration wrote, replaced by the file's
            continue
        held = conn.native(f"SELECT count(*) FROM {quote_ident(table)}").fetchone()[0]
        if held:
            raise MigrateRefused("mg.not_empty", table=table, rows=held)


def _refuse_strays(files: sqlite3.Connection, known: set[str]) -> None:
    """A table of the file that no register declares (its sheet file removed) is not copied: refused while it
    holds rows, so nothing is lost unseen."""
    for table in _source_tables(files):
        if table in known or SEARCH_INDEX.fullmatch(table):
            continue
        held = files.execute(f"SELECT count(*) FROM {quote_ident(table)}").fetchone()[0]
        if held:
            raise MigrateRefused("mg.stray_table", table=table, rows=held)


def _refuse_other_columns(table: str, columns: list[str], target_columns: dict) -> None:
    if set(columns) != set(target_columns):
        only_file = sorted(set(columns) - set(target_columns))
        only_target = sorted(set(target_columns) - set(columns))
        raise MigrateRefused("mg.columns", table=table,
                             detail=", ".join([*(f"+{c}" for c in only_file), *(f"-{c}" for c in only_target)]))


def _drop_foreign_keys(conn: pg.Connection) -> list[tuple[str, str, str]]:
    """The target's foreign keys, dropped for the copy (a user's superior, a record pointing to a later one of
    its own register) and added again, as they were, once every row is in: then each is checked over all rows."""
    keys = conn.native(
        "SELECT c.conname, c.conrelid::regclass::text, pg_get_constraintdef(c.oid) FROM pg_constraint c "
        "JOIN pg_namespace n ON n.oid = c.connamespace WHERE c.contype = 'f' AND n.nspname = current_schema() "
        "ORDER BY c.conname").fetchall()
    for name, table, _ in keys:
        conn.native(f"ALTER TABLE {table} DROP CONSTRAINT {quote_ident(name)}")
    return keys


def _copy(files: sqlite3.Connection, conn: pg.Connection, table: str, columns: list[str], copy_row) -> TableCopy:
    """One table, by COPY, in the file's order; the file's checksum worked out from the rows as they are read."""
    copied = TableCopy(table)
    total = Checksum()
    if table == META:                            # the target's migration state, replaced by the office's
        conn.native(f"DELETE FROM {META}")
    names = ", ".join(quote_ident(c) for c in columns)
    rows = files.execute(f"SELECT {names} FROM {quote_ident(table)} {_order(columns)}")
    if not _order(columns):
        rows = sorted(rows, key=lambda row: tuple(_value(v) for v in row))
    with conn.raw.cursor() as cursor, cursor.copy(f"COPY {quote_ident(table)} ({names}) FROM STDIN") as copy:
        for row in rows:
            if table == META and row[0].startswith(SQLITE_ONLY_META):
                continue
            total.add(row)
            copy.write_row(copy_row(table, row) if copy_row else row)
    copied.rows, copied.source_sum = total.rows, total.hexdigest()
    return copied


def _target_checksum(conn: pg.Connection, table: str, columns: list[str]) -> tuple[int, str]:
    names = ", ".join(quote_ident(c) for c in columns)
    if not _order(columns):
        rows = conn.native(f"SELECT {names} FROM {quote_ident(table)}").fetchall()
        return checksum(sorted(rows, key=lambda row: tuple(_value(v) for v in row)))
    total = Checksum()
    with conn.raw.cursor(name=f"kefu_check_{table}") as cursor:        # read in batches, not all at once
        cursor.itersize = BATCH
        cursor.execute(f"SELECT {names} FROM {quote_ident(table)} ORDER BY id")
        for row in cursor:
            total.add(row)
    return total.rows, total.hexdigest()


def _set_sequences(conn: pg.Connection, tables: list[str]) -> None:
    """Each id sequence past the largest copied id: the next record gets a new id."""
    for table in tables:
        found = conn.native("SELECT pg_get_serial_sequence(%s, 'id') FROM information_schema.columns WHERE "
                            "table_schema = current_schema() AND table_name = %s AND column_name = 'id'",
                            (quote_ident(table), table)).fetchone()
        if found is None or found[0] is None:
            continue
        sequence = found[0]
        largest = conn.native(f"SELECT max(id) FROM {quote_ident(table)}").fetchone()[0]
        conn.native("SELECT setval(%s, %s, %s)", (sequence, largest or 1, largest is not None))


def _fill_grams(target: Store, conn: pg.Connection) -> None:
    """The short-grams table of each searchable sheet (one- and two-character searches), from the copied rows;
    the trigram indexes follow the rows themselves."""
    for sheet in target.sheets.values():
        columns = target._fts_columns(sheet)
        if not columns:
            continue
        pg.fill_grams(conn, sheet.name, columns, short_grams)
