"""Backups of the office's database file, and restoring one.

A backup is a copy made with SQLite's online backup API from a read snapshot, so it is consistent while
others keep writing. It is written beside its final name and renamed into place only once it is
complete and checked, so a backup interrupted (even by kill -9) leaves no file under the final name:
a backup is either complete or absent.

Daily backups go into a folder (office.toml [backup]) and the oldest beyond `keep` are removed.

Restoring checks the file first: an SQLite database, intact (integrity_check), a Kefu Desk file (its
system tables), of a format this version knows, that the current sheets can open without losing data.
Only then is the current database copied aside (kept, never deleted) and the backup copied in through
the backup API, so connections open elsewhere see the restored data, not a file swapped under them.
Nothing of the current data is touched when a check fails.

An office kept in PostgreSQL is backed up and restored with PostgreSQL's own tools instead (kefu/pgbackup.py:
pg_dump archives named kefu-<time>.dump, the same checks, a restore in one transaction); the functions below
choose by the store.
"""
from __future__ import annotations

import os
import re
import shutil
import sqlite3
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from kefu import config, jobs, pgbackup
from kefu.errors import KefuError, MigrationError
from kefu.store import FORMAT, Store

SQLITE_HEADER = b"SQLite format 3\x00"
SYSTEM_TABLES = ("kefu_meta", "kefu_users", "kefu_audit")
NAME = re.compile(r"kefu-(\d{8}-\d{6})\.(db|dump)")
LAST_BACKUP = "last_backup"


class BackupRefused(KefuError):
    """A file that will not be restored, and why; the current database is as it was."""
    code = "bk.refused"


@dataclass(frozen=True)
class Backup:
    path: Path
    at: datetime
    size: int


def suffix(store: Store) -> str:
    """How a backup file of this store ends: .db (a SQLite file) or .dump (a pg_dump archive)."""
    return pgbackup.SUFFIX if store.url else ".db"


def backup_to(store: Store, target: Path | str) -> Path:
    """A consistent copy of the database at `target` (written as target.partial, checked, then renamed)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    if store.url:
        _dump_checked(store, partial)
    else:
        _copy_checked(store, partial)
    with open(partial, "rb") as handle:       # on disk before the name says it is complete
        os.fsync(handle.fileno())
    os.replace(partial, target)
    with store.transaction() as conn:
        conn.execute("INSERT OR REPLACE INTO kefu_meta(key, value) VALUES (?, ?)", (LAST_BACKUP, store.now()))
    return target


def _dump_checked(store: Store, partial: Path) -> None:
    """pg_dump from one snapshot, then read back to its end (pg_restore) before it may take its name."""
    try:
        pgbackup.dump(store.url, partial)
        with tempfile.TemporaryDirectory(dir=partial.parent) as folder:
            pgbackup.script(partial, Path(folder) / "check.sql")
    except pgbackup.ToolError as exc:
        partial.unlink(missing_ok=True)
        raise BackupRefused("bk.tool_failed", detail=str(exc)) from None


def _copy_checked(store: Store, partial: Path) -> None:
    copy = sqlite3.connect(partial)
    try:
        store.conn.backup(copy)              # one step: from one read snapshot, while others write
        copy.execute("PRAGMA journal_mode = DELETE")
        if copy.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise BackupRefused("bk.copy_damaged")
    finally:
        copy.close()


def backup_bytes(store: Store) -> bytes:
    """A backup as bytes, for a download."""
    with tempfile.TemporaryDirectory(dir=store.path.parent if store.path else None) as folder:
        return backup_to(store, Path(folder) / f"download{suffix(store)}").read_bytes()


def last_backup(store: Store) -> str | None:
    """When the newest backup was made (ISO time), or None."""
    row = store.conn.execute("SELECT value FROM kefu_meta WHERE key = ?", (LAST_BACKUP,)).fetchone()
    return row[0] if row else None


def backups(folder: Path | str) -> list[Backup]:
    """The backups in a folder, newest first (files named kefu-YYYYMMDD-HHMMSS.db, or .dump on PostgreSQL)."""
    found = []
    for path in Path(folder).glob("kefu-*.d*"):
        match = NAME.fullmatch(path.name)
        if match:
            found.append(Backup(path, datetime.strptime(match.group(1), "%Y%m%d-%H%M%S"), path.stat().st_size))
    return sorted(found, key=lambda b: b.at, reverse=True)


def folder_of(store: Store) -> Path:
    """Where the daily backups go: office.toml [backup] folder, beside the database file unless absolute (for a
    PostgreSQL database, in the data folder beside office.toml, where the embedded default keeps its file)."""
    folder = Path(store.settings.backup_folder)
    if folder.is_absolute():
        return folder
    return (store.path.parent if store.path else config.config_path().resolve().parent / "data") / folder


def keep_daily(store: Store, *, every_seconds: float = 3600) -> threading.Thread:
    """A background thread of the app's process that makes the day's backup (once a day, checked every
    hour) with its own connection; an error is retried at the next check, never shown to a user."""
    return jobs.every("backup", store, lambda s: daily(s, folder_of(s), s.settings.backup_keep), every_seconds)


def daily(store: Store, folder: Path | str, keep: int, *, now: datetime | None = None) -> Path | None:
    """Today's backup into `folder` unless one was made today; then only the newest `keep` stay.
    Returns the new backup's path, or None when today's exists."""
    now = now or datetime.now(store.settings.tz).replace(tzinfo=None)
    existing = backups(folder)
    made = None
    if not existing or existing[0].at.date() < now.date():
        made = backup_to(store, Path(folder) / f"kefu-{now:%Y%m%d-%H%M%S}{suffix(store)}")
    for old in backups(folder)[keep:]:
        old.path.unlink(missing_ok=True)
    for stale in Path(folder).glob("kefu-*.d*.partial"):     # left by a backup that was cut off
        stale.unlink(missing_ok=True)
    return made


def check(path: Path | str, store: Store) -> None:
    """Refuse (BackupRefused) a file that is not a sound Kefu Desk database this version can open."""
    path = Path(path)
    if store.url:
        with tempfile.TemporaryDirectory() as folder:
            _checked_script(path, Path(folder) / "restore.sql")
        return
    with open(path, "rb") as handle:
        header = handle.read(len(SQLITE_HEADER))
    if header != SQLITE_HEADER:
        raise BackupRefused("bk.not_sqlite")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupRefused("bk.damaged")
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not set(SYSTEM_TABLES) <= tables:
                raise BackupRefused("bk.not_kefu")
            made_by = conn.execute("SELECT value FROM kefu_meta WHERE key = 'format'").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        raise BackupRefused("bk.damaged") from None
    if made_by and int(made_by[0]) > FORMAT:
        raise BackupRefused("bk.newer", format=made_by[0], known=FORMAT)
    with tempfile.TemporaryDirectory(dir=store.path.parent) as folder:   # would the sheets open it, losing nothing?
        copy = Path(folder) / "trial.db"
        shutil.copy(path, copy)
        trial = Store(copy, store.sheets, store.settings)
        try:
            trial.migrate()
        except MigrationError as exc:
            raise BackupRefused("bk.schema", detail="; ".join(exc.problems)) from None
        finally:
            trial.close()


def _checked_script(path: Path, sql: Path) -> None:
    """check() of a pg_dump archive, leaving the SQL that restores it in `sql`."""
    with open(path, "rb") as handle:
        header = handle.read(len(pgbackup.DUMP_HEADER))
    if header != pgbackup.DUMP_HEADER:
        raise BackupRefused("bk.not_pgdump")
    try:
        pgbackup.script(path, sql)
    except pgbackup.ToolError:
        raise BackupRefused("bk.damaged_dump") from None
    if not set(SYSTEM_TABLES) <= pgbackup.tables_in(sql):
        raise BackupRefused("bk.not_kefu")
    made_by = pgbackup.meta_value(sql, "format")
    if made_by and made_by.isdigit() and int(made_by) > FORMAT:
        raise BackupRefused("bk.newer", format=made_by, known=FORMAT)


def _restore_dump(store: Store, source: Path) -> Path:
    """restore() on PostgreSQL: checked, the current data dumped aside into the backup folder, then every table
    replaced in one transaction; a backup whose registers the sheets cannot open is undone from that dump."""
    folder = folder_of(store)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        sql = Path(scratch) / "restore.sql"
        _checked_script(source, sql)
        aside = backup_to(store, folder / f"kefu-before-restore-{datetime.now():%Y%m%d-%H%M%S}{pgbackup.SUFFIX}")
        _replace(store, sql)
        try:
            store.migrate()                    # an older backup gets this version's columns and indexes
        except MigrationError as exc:
            kept = Path(scratch) / "aside.sql"
            pgbackup.script(aside, kept)
            _replace(store, kept)
            raise BackupRefused("bk.schema", detail="; ".join(exc.problems)) from None
    return aside


def _replace(store: Store, sql: Path) -> None:
    tables = [r[0] for r in store.conn.native("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")]
    store.close()                              # no transaction of ours holds a table the restore drops
    try:
        pgbackup.replace_with(store.url, sql, tables)
    except pgbackup.ToolError as exc:
        raise BackupRefused("bk.restore_failed", detail=str(exc)) from None


def restore(store: Store, source: Path | str) -> Path:
    """Replace the database's content by the backup at `source`, after check(); the current content is
    first kept as kefu-before-restore-<time>.db beside the database. Returns that file's path."""
    source = Path(source)
    if store.url:
        return _restore_dump(store, source)
    check(source, store)
    aside = backup_to(store, store.path.with_name(f"kefu-before-restore-{datetime.now():%Y%m%d-%H%M%S}.db"))
    backup = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        backup.backup(store.conn)              # page by page into the live file, under SQLite's own lock
    finally:
        backup.close()
    store.migrate()                            # an older backup gets this version's columns and indexes
    return aside
