"""Office-tunable rule files (rules/*.toml): reading them, the error that names file and key, and the
text in force on a day.

The folder is rules/ beside the code, or $KEFU_RULES. The file on disk holds the text in force today: what
`python -m kefu check` reads, what a person reads, and what every reader without a period reads (escalation,
the workflow, fines, club, surveys, the dashboard's settings). Figures saved from the office rules screen
(kefu/office_rules.py) are kept as versions in the database, each with the day it takes effect; a version
for a later day waits there and is written to the file on its day (bring_in_force: at the app's first
page and the first `python -m kefu` command of that day). A reader that works on a period (the ranking of
a quarter, the incentive run of a month, a ticket's SLA due times at intake) asks for the text in force on
that period's day (text_on), so an earlier quarter keeps the weights it had.

In force on a day: the newest saved version whose day is on or before it (the hand-written first version has
no day: in force since always). A save from a day replaces what was in force from that day on; versions
saved earlier for a later day still waiting are saved again after it (kefu/office_rules.py), so they still
take effect on their day.
"""
from __future__ import annotations

import copy
import os
import time
import tomllib
from collections import OrderedDict
from datetime import date, datetime
from pathlib import Path

from kefu.config import ROOT

_PARSED: OrderedDict[str, dict] = OrderedDict()      # a file's text -> its rules, the latest few texts
_PARSED_SIZE = 64


class RulesError(Exception):
    """A rule file is missing a key or holds a value that cannot be used; names file and key.
    key: the key at fault as the file spells it ("ranking.weights", "tiers[2].points"), when known;
    code and params: the reason as an i18n key (kefu/i18n.py), so a screen can say it in the user's language."""

    def __init__(self, message: str, *, key: str | None = None, code: str | None = None, **params):
        super().__init__(message)
        self.key, self.code, self.params = key, code, params


def folder() -> Path:
    """The folder of rule files: $KEFU_RULES, else rules/ beside the code."""
    return Path(os.environ.get("KEFU_RULES") or ROOT / "rules")


def file(name: str) -> Path:
    """rules/<name>.toml in the rules folder."""
    return folder() / f"{name}.toml"


def read_rules(path: Path, text: str | None = None) -> dict:
    """The file's rules as they are on disk now: an edit takes effect at the next call, without a restart.
    text: read these rules instead (a saved version, or a text being checked before it is saved); errors
    still name `path`. The same text is not parsed again (an import of a year's tickets asks for the SLA
    rules at every row); each caller gets its own copy to change."""
    path = Path(path)
    try:
        if text is None:
            text = path.read_text(encoding="utf-8")
        parsed = _PARSED.get(text)
        if parsed is None:
            parsed = _PARSED[text] = tomllib.loads(text)
            while len(_PARSED) > _PARSED_SIZE:
                _PARSED.popitem(last=False)
    except FileNotFoundError:
        raise RulesError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{path}: {exc}", code="rl.syntax", detail=str(exc)) from None
    return copy.deepcopy(parsed)


def today(store) -> date:
    """Today in the office's time zone: the day whose rules the file holds."""
    return datetime.fromtimestamp(time.time(), store.settings.tz).date()


_COLUMNS = "version, body, sha256, effective_from, id"
_ORDER = "ORDER BY version DESC"


def in_force(conn, name: str, day: date):
    """(version, body, sha256, effective_from, id) of the kept version of rules/<name>.toml in force on `day`,
    or None (no version, or `day` before the first saved one's day and no hand-written version)."""
    return conn.execute(f"SELECT {_COLUMNS} FROM kefu_versions WHERE kind = 'rules' AND name = ? AND "
                        f"(effective_from IS NULL OR effective_from <= ?) {_ORDER} LIMIT 1",
                        (name, day.isoformat())).fetchone()


def later(conn, name: str, after: str | None) -> list:
    """The versions that will be in force on a day of their own after `after` (an ISO day; None: after
    the start), first day first: (version, body, sha256, effective_from, id) each."""
    days = [r[0] for r in conn.execute("SELECT DISTINCT effective_from FROM kefu_versions WHERE kind = 'rules' AND "
                                       "name = ? AND effective_from > ? ORDER BY effective_from", (name, after or ""))]
    found = [in_force(conn, name, date.fromisoformat(day)) for day in days]
    return [row for row, day in zip(found, days) if row is not None and row[3] == day]


def written(conn, name: str) -> int | None:
    """The version last written to the file by a save or on its day (kefu_meta); a database from before
    versions waited for their day wrote each save at once: its newest version."""
    row = conn.execute("SELECT value FROM kefu_meta WHERE key = ?", (f"rules_written:{name}",)).fetchone()
    if row is not None:
        return int(row[0])
    return conn.execute("SELECT max(version) FROM kefu_versions WHERE kind = 'rules' AND name = ?",
                        (name,)).fetchone()[0]


def mark_written(conn, name: str, version: int) -> None:
    conn.execute("INSERT OR REPLACE INTO kefu_meta(key, value) VALUES (?, ?)", (f"rules_written:{name}", str(version)))


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def text_on(store, name: str, day: date) -> str:
    """The text of rules/<name>.toml in force on `day`: the kept version in force then; the file on disk
    when nothing was saved, or when the file was edited by hand since the version it was written from
    (the edit stands where that version stands). Right also before a version due today is written."""
    from kefu.versions import digest
    path = file(name)
    on_disk = _read(path)
    conn = store.conn
    row = in_force(conn, name, day)
    if row is None:
        row = conn.execute(f"SELECT {_COLUMNS} FROM kefu_versions WHERE kind = 'rules' AND name = ? "
                           "ORDER BY version LIMIT 1", (name,)).fetchone()
    if row is None:                                  # nothing saved: the file is the rules
        if on_disk is None:
            raise RulesError(f"{path}: file not found")
        return on_disk
    if row[0] == written(conn, name) and on_disk is not None and digest(on_disk) != row[2]:
        return on_disk                               # edited by hand since it was written
    return row[1]


def bring_in_force(store, *, day: date | None = None) -> list[str]:
    """Write to each rules file the version in force today when it is not the one last written (a version
    saved for a later day whose day has come), audited; a hand edit of the file since is first kept as a
    version of its own. Cheap when nothing is due (one query per saved file): the app calls it on every
    page, the command line on every command. Returns the names written."""
    from kefu import auth, versions
    day = day or today(store)
    names = [r[0] for r in store.conn.execute("SELECT DISTINCT name FROM kefu_versions WHERE kind = 'rules'")]
    done = []
    for name in names:
        due = in_force(store.conn, name, day)
        if due is None or due[0] == written(store.conn, name):
            continue
        path, disk, replaced = file(name), None, False
        try:
            with store.transaction() as conn:        # BEGIN IMMEDIATE: one process writes it
                due, last = in_force(conn, name, day), written(conn, name)
                if due is None or due[0] == last:
                    continue
                disk = _read(path)
                before = conn.execute("SELECT version, sha256, effective_from FROM kefu_versions WHERE kind = 'rules' "
                                      "AND name = ? AND version = ?", (name, last)).fetchone()
                if disk is not None and before is not None and versions.digest(disk) not in (before[1], due[2]):
                    waiting = later(conn, name, before[2])
                    versions.record(store, conn, auth.SYSTEM, "rules", name, disk, effective_from=before[2],
                                    note="edited by hand")
                    for again in waiting:            # still in force on their days, after the hand edit
                        versions.record(store, conn, auth.SYSTEM, "rules", name, again[1], effective_from=again[3],
                                        note=f"version {again[0]} again, after the hand edit")
                    due = in_force(conn, name, day)
                mark_written(conn, name, due[0])
                store._audit(conn, auth.SYSTEM, "kefu_rules", due[4], "rules_in_force",
                             {"name": name, "version": last}, {"name": name, "version": due[0], "effective_from": due[3]})
                if disk != due[1]:
                    write_file(path, due[1])
                    replaced = True
        except BaseException:
            if replaced and disk is not None:
                write_file(path, disk)               # the commit failed: the file goes back too
            raise
        done.append(name)
    if done:
        from kefu import incentives
        incentives._RULES_CACHE.clear()
    return done


def write_file(path: Path, text: str) -> None:
    """Replace the file at once (a reader sees the old text or the new, never half)."""
    import tempfile
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".toml")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o777)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
