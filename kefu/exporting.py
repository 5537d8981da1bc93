"""Export of a sheet as CSV or as an Excel workbook: what the grid shows for the same filters, for the
same role.

Both files hold the same table: one row per record with the same columns, headers in the user's
language, labels and names instead of codes, personal data masked for roles without `pii`; every
export that holds personal data is written to the access log. They differ only in how a cell is
written:

- CSV: UTF-8 with BOM so Excel opens Chinese text correctly; money with two decimals; a text cell that
  Excel would run as a formula (= + - @ ...) is neutralised with a leading apostrophe.
- XLSX: numbers, money (yuan, two decimals) and dates as real numbers and dates; every text cell is
  written as a string (never a formula, whatever it starts with, and marked "quoted" so editing it in
  Excel keeps it text); the header row is bold and frozen, the columns are as wide as their content.
"""
from __future__ import annotations

import csv
import io
import json
import unicodedata
from datetime import date, datetime
from decimal import Decimal
from itertools import islice

from kefu import auth
from kefu.errors import PermissionDenied
from kefu.i18n import t
from kefu.store import Query, Store

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMERIC_TYPES = {"int", "number", "money", "rating", "bool"}
BATCH = 2000                      # records formatted together (one look-up of their names and titles)
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSX_FORMATS = {"money": "0.00", "date": "yyyy-mm-dd", "datetime": "yyyy-mm-dd hh:mm", "created": "yyyy-mm-dd hh:mm:ss"}
WIDTH_SAMPLE = 500                # rows read to size the columns of a workbook
MIN_WIDTH, MAX_WIDTH = 8, 50


def neutralise(text: str) -> str:
    """'=1+1' -> "'=1+1": shown as typed, never run by a spreadsheet."""
    return "'" + text if text.startswith(FORMULA_START) else text


class Formatter:
    """Turns stored values into what a person reads: labels, names, two-decimal money, local times.
    actor: whose screen or file it is; a linked record that actor may not see (another keeper's archive,
    linked from a ticket) is named by its number, not its name (Store.titles)."""

    def __init__(self, store: Store, sheet, lang: str, actor=None):
        self.store, self.sheet, self.lang, self.actor = store, sheet, lang, actor
        self.users = store.user_names() if any(f.type_name == "user" for f in sheet.fields) else {}
        self.refs: dict[str, dict] = {}

    def prefetch(self, rows: list[dict]) -> None:
        for field in self.sheet.fields:
            if field.type_name == "ref":
                titles = self.refs.setdefault(field.name, {})
                titles.update(self.store.titles(field.ref_sheet, [r.get(field.name) for r in rows], self.actor))

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


def table(store: Store, sheet_name: str, actor, query: Query, lang: str, cell, created):
    """The export's rows: first the header, then one list per record, [id, one cell per field, created].
    cell(formatter, field, stored) and created(stored created_at) write a value for the file at hand.
    The right to export is checked at once; the access log is written once the last row is read."""
    sheet = store.sheet(sheet_name)
    if not store.may_export(sheet.name, actor):          # archives: the gm's role or a grant naming export
        raise PermissionDenied()
    return _rows(store, sheet, actor, query, lang, cell, created)


def _rows(store: Store, sheet, actor, query: Query, lang: str, cell, created):
    reveal = auth.can(actor, sheet, "pii")
    formatter = Formatter(store, sheet, lang, actor)
    fields = [sheet.by_name[name] for name in export_columns(sheet)]
    yield [t("common.id", lang)] + [f.label_in(lang) for f in fields] + [t("common.created_at", lang)]
    records = store.iter_rows(sheet.name, actor, query, reveal=reveal, batch=BATCH, export=True)
    count = 0
    while batch := list(islice(records, BATCH)):
        formatter.prefetch(batch)
        for row in batch:
            yield [row["id"], *(cell(formatter, f, row.get(f.name)) for f in fields), created(row.get("created_at"))]
        count += len(batch)
    if sheet.pii_fields:
        store.log_access(actor, sheet.name, None, "export", json.dumps({"rows": count, "masked": not reveal}))


# -- CSV ------------------------------------------------------------------------------------------
def csv_bytes(store: Store, sheet_name: str, actor, query: Query, lang: str) -> bytes:
    """The whole filtered sheet as CSV bytes (UTF-8 with BOM)."""
    rows = table(store, sheet_name, actor, query, lang, _csv_cell, _csv_created)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _csv_cell(formatter: Formatter, field, stored):
    value = formatter.value(field, stored)
    if isinstance(value, str) and field.type_name not in NUMERIC_TYPES:
        value = neutralise(value)
    return "" if value is None else value


def _csv_created(stored: str | None) -> str:
    return neutralise((stored or "")[:19].replace("T", " "))


# -- XLSX -----------------------------------------------------------------------------------------
def xlsx_bytes(store: Store, sheet_name: str, actor, query: Query, lang: str) -> bytes:
    """The whole filtered sheet as an Excel workbook (.xlsx), the same table as csv_bytes."""
    cell, created = xlsx_writers(store.settings.tz)
    sheet = store.sheet(sheet_name)
    return workbook([(sheet.label_in(lang), xlsx_kinds(sheet),
                      table(store, sheet_name, actor, query, lang, cell, created))])


def xlsx_kinds(sheet) -> list[str]:
    """The kind of each column of a sheet's export table (id, one per field, created), for workbook()."""
    return ["int"] + [sheet.by_name[name].type_name for name in export_columns(sheet)] + ["created"]


def xlsx_writers(tz):
    """(cell, created) for a workbook: cell(formatter, field, stored) and created(stored created_at) give
    numbers, money and dates as real numbers and dates, everything else as the text a person reads."""
    def cell(formatter: Formatter, field, stored):
        if stored is None:
            return None
        kind = field.type_name
        if isinstance(stored, str) and field.pii and "*" in stored:
            return stored                                  # masked personal data: text, whatever the type
        if kind in ("int", "number", "rating"):
            return stored
        if kind == "money":
            return Decimal(stored) / 100
        if kind == "date":
            return date.fromisoformat(stored)
        if kind == "datetime":
            return datetime.fromisoformat(stored).astimezone(tz).replace(tzinfo=None)
        return formatter.value(field, stored)

    def created(stored: str | None):
        return datetime.fromisoformat(stored).astimezone(tz).replace(tzinfo=None) if stored else None

    return cell, created


def workbook(parts) -> bytes:
    """A workbook of one worksheet per (title, kinds, rows), each rows the header first, streamed (an
    export may be large)."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    for title, kinds, rows in parts:
        _worksheet(book, title, kinds, iter(rows))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _worksheet(book, title: str, kinds: list[str], rows) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    sheet = book.create_sheet(_sheet_title(title))
    header = next(rows)
    sample = list(islice(rows, WIDTH_SAMPLE))           # column widths must be known before any row
    for number, width in enumerate(_widths(header, sample), 1):
        sheet.column_dimensions[get_column_letter(number)].width = width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    cells = []
    for text in header:
        cell = WriteOnlyCell(sheet, value=text)
        cell.data_type, cell.font = "s", bold
        cells.append(cell)
    sheet.append(cells)
    count = 0
    for row in _chain(sample, rows):
        sheet.append([_xlsx_cell(sheet, kind, value) for kind, value in zip(kinds, row)])
        count += 1
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(header))}{count + 1}"


def _xlsx_cell(sheet, kind: str, value):
    from openpyxl.cell import WriteOnlyCell
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        # openpyxl writes a str starting with "=" as a formula: force a string, and mark it quoted so
        # that Excel keeps it text when someone edits the cell
        cell.data_type = "s"
        cell.quotePrefix = value.startswith(FORMULA_START)
    elif kind in XLSX_FORMATS and value is not None:
        cell.number_format = XLSX_FORMATS[kind]
    return cell


def _chain(first: list, rest):
    yield from first
    yield from rest


def _sheet_title(title: str) -> str:
    """A worksheet name Excel accepts: at most 31 characters, none of []:*?/\\."""
    cleaned = "".join("_" if ch in "[]:*?/\\" else ch for ch in title).strip("'")
    return cleaned[:31] or "Sheet1"


def _widths(header: list, rows: list[list]) -> list[float]:
    """Each column as wide as its header and its widest value among the rows (Chinese characters count
    double), within MIN_WIDTH and MAX_WIDTH."""
    widths = []
    for column, title in enumerate(header):
        longest = max([_text_width(title)] + [_text_width(row[column]) for row in rows])
        widths.append(min(MAX_WIDTH, max(MIN_WIDTH, longest + 2)))
    return widths


def _text_width(value) -> int:
    if value is None:
        return 0
    if isinstance(value, datetime):
        return 16
    if isinstance(value, date):
        return 10
    if isinstance(value, Decimal):
        value = f"{value:.2f}"
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in str(value))
