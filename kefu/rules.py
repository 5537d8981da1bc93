"""Office-tunable rule files (rules/*.toml): reading them, the error that names file and key, and the
text in force on a day.

The folder is rules/ beside the code, or $KEFU_RULES. The file on disk is the newest text: what
`python -m kefu check` reads and a person reads. Figures saved from the office rules screen (kefu/office_rules.py)
are also kept as versions in the database, each with the day it takes effect, so a reader that works on a
period (the ranking of a quarter, the incentive run of a month, a ticket's SLA due times at intake) asks
for the text in force on that period's day (text_on) and an earlier quarter keeps the weights it had.
"""
from __future__ import annotations

import copy
import os
import tomllib
from collections import OrderedDict
from datetime import date
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


def text_on(store, name: str, day: date) -> str:
    """The text of rules/<name>.toml in force on `day`: of the saved versions (kefu/versions.py), the
    newest save whose effective day is on or before `day` (the hand-written first version has none: in
    force since always); the file on disk when nothing was saved, or when the file was edited by hand since
    the last save (the edit stands where that save stands)."""
    path = file(name)
    try:
        on_disk = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        on_disk = None
    conn = store.conn
    latest = conn.execute("SELECT version, sha256 FROM kefu_versions WHERE kind = 'rules' AND name = ? "
                          "ORDER BY version DESC LIMIT 1", (name,)).fetchone()
    if latest is None:
        if on_disk is None:
            raise RulesError(f"{path}: file not found")
        return on_disk
    row = conn.execute("SELECT version, body FROM kefu_versions WHERE kind = 'rules' AND name = ? AND "
                       "(effective_from IS NULL OR effective_from <= ?) ORDER BY version DESC LIMIT 1",
                       (name, day.isoformat())).fetchone()
    if row is None:                                  # before the first save's day, and no hand-written version
        row = conn.execute("SELECT version, body FROM kefu_versions WHERE kind = 'rules' AND name = ? "
                           "ORDER BY version LIMIT 1", (name,)).fetchone()
    if row[0] == latest[0]:
        from kefu.versions import digest
        if on_disk is not None and digest(on_disk) != latest[1]:
            return on_disk                           # edited by hand after the last save
    return row[1]
