"""CSV export of a sheet: what the grid shows for the same filters, for the same role.

UTF-8 with BOM so Excel opens Chinese text correctly; headers in the user's language; money with two
decimals; a text cell that Excel would run as a formula (= + - @ ...) is neutralised with a leading
apostrophe; personal data masked for roles without `pii`, and every export that holds it in clear
is written to the access log.
"""
from __future__ import annotations

import csv
import io
import json

from kefu import auth
from kefu.i18n import t
from kefu.store import Query, Store

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMERIC_TYPES = {"int", "number", "money", "rating", "bool"}


def neutralise(text: str) -> str:
    """'=1+1' -> "'=1+1": shown as typed, never run by a spreadsheet."""
    return "'" + text if text.startswith(FORMULA_START) else text


class Formatter:
    """Turns stored values into what a person reads: labels, names, two-decimal money, local times."""

    def __init__(self, store: Store, sheet, lang: str):
        self.store, self.sheet, self.lang = store, sheet, lang
        self.users = store.user_names() if any(f.type_name == "user" for f in sheet.fields) else {}
        self.refs: dict[str, dict] = {}

    def prefetch(self, rows: list[dict]) -> None:
        for field in self.sheet.fields:
            if field.type_name == "ref":
                titles = self.refs.setdefault(field.name, {})
                titles.update(self.store.titles(field.ref_sheet, [r.get(field.name) for r in rows]))

    def value(self, field, value):
        if value is None:
            return None
        if field.type_name == "user":
            return self.users.get(value, f"#{value}")
        if field.type_name == "ref":
            return self.refs.get(field.name, {}).get(value, f"#{value}")
        if field.type_name == "bool":
            return t("common.yes" if value else "common.no", self.lang)
        if field.type_name == "rating":
            return value
        if field.pii and isinstance(value, str) and "*" in value:
            return value
        return field.type.display(field, value, self.lang)


def export_columns(sheet) -> list[str]:
    return [f.name for f in sheet.fields]


def csv_bytes(store: Store, sheet_name: str, actor, query: Query, lang: str) -> bytes:
    """The whole filtered sheet as CSV bytes (UTF-8 with BOM)."""
    sheet = store.sheet(sheet_name)
    auth.require(actor, sheet, "export")
    reveal = auth.can(actor, sheet, "pii")
    formatter = Formatter(store, sheet, lang)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    columns = export_columns(sheet)
    writer.writerow([t("common.id", lang)] + [sheet.by_name[c].label_in(lang) for c in columns]
                    + [t("common.created_at", lang)])
    count, batch = 0, []
    for row in store.iter_rows(sheet_name, actor, query, reveal=reveal):
        batch.append(row)
        if len(batch) >= 2000:
            count += _write(writer, formatter, sheet, columns, batch)
            batch = []
    count += _write(writer, formatter, sheet, columns, batch)
    if sheet.pii_fields:
        store.log_access(actor, sheet.name, None, "export", json.dumps({"rows": count, "masked": not reveal}))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _write(writer, formatter: Formatter, sheet, columns: list[str], rows: list[dict]) -> int:
    formatter.prefetch(rows)
    for row in rows:
        cells = [row["id"]]
        for name in columns:
            field = sheet.by_name[name]
            value = formatter.value(field, row.get(name))
            if isinstance(value, str) and field.type_name not in NUMERIC_TYPES:
                value = neutralise(value)
            cells.append("" if value is None else value)
        cells.append(neutralise((row.get("created_at") or "")[:19].replace("T", " ")))
        writer.writerow(cells)
    return len(rows)
