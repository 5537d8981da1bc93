"""Every saved version of a file the office shapes from the screen: a register (kind "sheet",
schema/<name>.toml) or an office rules file (kind "rules", rules/<name>.toml).

A version holds the file's whole text, who saved it and when, and for rules the day it takes effect.
The first save of a file that was written by hand also keeps the hand-written text as version 1, so
the state before any change made on the screen can be compared with and restored. Each saved version is
one audit row (sheet "kefu_sheet" or "kefu_rules"), written in the caller's transaction.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

KINDS = ("sheet", "rules")


@dataclass(frozen=True)
class Version:
    id: int
    kind: str
    name: str
    version: int
    body: str
    sha256: str
    saved_at: str
    saved_by: int | None
    saved_by_name: str
    effective_from: str | None
    note: str


_COLUMNS = "id, kind, name, version, body, sha256, saved_at, saved_by, saved_by_name, effective_from, note"


def digest(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown version kind {kind!r}")


def record(store, conn, actor, kind: str, name: str, body: str, *, effective_from: str | None = None,
           note: str = "", previous: str | None = None, audit_before: dict | None = None,
           audit_after: dict | None = None) -> Version:
    """Keep `body` as the next version of (kind, name), inside the caller's transaction `conn`, and audit it.
    previous: the file's text before this save (the hand-written file on the first save), kept as version 1
    when no version exists yet and it differs from body. audit_before / audit_after: what the caller
    wants the audit row to show changed (the figures before and after), beside the version's own entry."""
    _check_kind(kind)
    last = conn.execute("SELECT max(version) FROM kefu_versions WHERE kind = ? AND name = ?",
                        (kind, name)).fetchone()[0] or 0
    if last == 0 and previous is not None and previous != body:
        _insert(store, conn, None, kind, name, 1, previous, None, "hand-written file")
        last = 1
    saved = _insert(store, conn, actor, kind, name, last + 1, body, effective_from, note)
    store._audit(conn, actor, f"kefu_{kind}", saved.id, f"{kind}_saved", audit_before,
                 {"name": name, "version": saved.version, "sha256": saved.sha256,
                  "effective_from": effective_from, "note": note, **(audit_after or {})})
    return saved


def _insert(store, conn, actor, kind, name, number, body, effective_from, note) -> Version:
    at = store.now()
    who = (actor.id, actor.username) if actor is not None else (None, "system")
    cursor = conn.execute(
        "INSERT INTO kefu_versions(kind, name, version, body, sha256, saved_at, saved_by, saved_by_name, "
        "effective_from, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (kind, name, number, body, digest(body), at, who[0], who[1], effective_from, note))
    return Version(cursor.lastrowid, kind, name, number, body, digest(body), at, who[0], who[1], effective_from, note)


def history(store, kind: str, name: str) -> list[Version]:
    """The versions of one file, newest first."""
    _check_kind(kind)
    rows = store.conn.execute(f"SELECT {_COLUMNS} FROM kefu_versions WHERE kind = ? AND name = ? "
                              "ORDER BY version DESC", (kind, name)).fetchall()
    return [Version(*row) for row in rows]


def get(store, kind: str, name: str, version: int) -> Version | None:
    _check_kind(kind)
    row = store.conn.execute(f"SELECT {_COLUMNS} FROM kefu_versions WHERE kind = ? AND name = ? AND version = ?",
                             (kind, name, version)).fetchone()
    return Version(*row) if row else None


def latest(store, kind: str, name: str) -> Version | None:
    found = history(store, kind, name)
    return found[0] if found else None


def names(store, kind: str) -> list[str]:
    """The files of this kind that have saved versions."""
    _check_kind(kind)
    return [r[0] for r in store.conn.execute("SELECT DISTINCT name FROM kefu_versions WHERE kind = ? ORDER BY name",
                                             (kind,))]
