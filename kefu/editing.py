"""Spreadsheet-style editing: the changes a user made to a page of a sheet as a table, saved on the server.

The browser's column rules (choices, bounds, lengths) are only a help: every value is validated again
here, by the sheet, through store.update and store.insert_many, and audited by the store.

What is saved when some rows are wrong: each row is all or nothing (a row with one bad value keeps every
value of it out of the database), and all the valid rows are saved together in one transaction (an
unexpected failure saves none of them). The invalid rows come back with the reason per field, in the
user's language, so the screen keeps them for correction; saving them again later is a new change.
A row that someone else changed meanwhile (its version is not the one the page showed) or deleted is
refused as a whole (StaleRecord / NotFound): saving it would lose that other change.

Personal data and read-only fields are refused by the store for roles without the right. A value equal
to what the page showed of a personal field (its masked form) is not a change and is dropped, so a
mask is never written back over the real value.
"""
from __future__ import annotations

from dataclasses import dataclass, field as dc_field

from kefu import auth
from kefu.errors import KefuError
from kefu.i18n import t
from kefu.sheets import ValidationError
from kefu.store import Store

ROW = ""          # the key of a reason that concerns the whole row, not one field


@dataclass
class EditResult:
    updated: list[int] = dc_field(default_factory=list)               # ids of the records changed
    unchanged: list[int] = dc_field(default_factory=list)             # edits that change nothing stored
    created: list[int] = dc_field(default_factory=list)               # ids of the records added
    refused: dict[int, dict[str, str]] = dc_field(default_factory=dict)       # record id -> {field: reason}
    refused_new: dict[int, dict[str, str]] = dc_field(default_factory=dict)   # position in `added` -> {field: reason}

    @property
    def ok(self) -> bool:
        return not self.refused and not self.refused_new

    def messages(self, lang: str) -> list[str]:
        """Every reason, one line each, naming the record (its number) or the new row (its position)."""
        lines = [t("ed.row_problem", lang, row=row_id, reason=reason)
                 for row_id, reasons in self.refused.items() for reason in reasons.values()]
        lines += [t("ed.new_row_problem", lang, row=position + 1, reason=reason)
                  for position, reasons in self.refused_new.items() for reason in reasons.values()]
        return lines


def apply(store: Store, sheet_name: str, actor, edited: dict[int, dict], added: list[dict], lang: str, *,
          versions: dict[int, int] | None = None) -> EditResult:
    """Save the edits (record id -> {field: raw value}) and the added rows ({field: raw value} each).
    versions: record id -> the version the page showed (a record changed since then is refused)."""
    sheet = store.sheet(sheet_name)
    edited = {row_id: dict(changes) for row_id, changes in edited.items() if changes}
    new = {position: values for position, values in enumerate(added)        # blank rows are no records
           if any(not _blank(v) for v in values.values())}
    if edited:
        auth.require(actor, sheet, "update")
    if new:
        auth.require(actor, sheet, "create")
    versions = versions or {}
    result = EditResult()
    with store.transaction():
        for row_id, changes in edited.items():
            try:
                changes = _without_masks(store, sheet, row_id, changes, actor)
                saved = store.update(sheet.name, row_id, changes, actor, expected_version=versions.get(row_id)) \
                    if changes else None
                moved = saved is not None and (row_id not in versions or saved["version"] != versions[row_id])
                (result.updated if moved else result.unchanged).append(row_id)
            except ValidationError as exc:
                result.refused[row_id] = _reasons(exc, lang)
            except KefuError as exc:
                result.refused[row_id] = {ROW: exc.message(lang)}
        for position, values in new.items():
            try:
                result.created += store.insert_many(sheet.name, [values], actor)
            except ValidationError as exc:
                result.refused_new[position] = _reasons(exc, lang)
            except KefuError as exc:
                result.refused_new[position] = {ROW: exc.message(lang)}
    return result


def _without_masks(store: Store, sheet, row_id: int, changes: dict, actor) -> dict:
    """changes less any personal value equal to what the grid showed of it (the mask): not a change."""
    personal = [name for name in changes if name in sheet.pii_fields]
    if not personal:
        return changes
    shown = store.get(sheet.name, row_id, actor)           # masked, whatever the role: as the grid shows it
    return {name: value for name, value in changes.items()
            if not (name in personal and shown.get(name) not in (None, "") and value == shown.get(name))}


def _reasons(exc: ValidationError, lang: str) -> dict[str, str]:
    reasons: dict[str, list[str]] = {}
    for problem in exc.problems:
        reasons.setdefault(problem.field, []).append(exc.message_for(problem, lang))
    return {name: ("; " if lang == "en" else "；").join(messages) for name, messages in reasons.items()}


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []
