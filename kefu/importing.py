"""Bring a spreadsheet into a sheet: read the file, map its columns, check every row, then commit all
or nothing.

    table = read_file(data, "客户.xlsx")                    # CSV (UTF-8, BOM, GBK/GB18030) or XLSX
    mapping = auto_map(sheet, table.headers)               # column -> field, by name or either label
    plan = check(store, "customers", table, mapping, actor)   # every bad cell, the updates, the new rows
    outcome = commit(store, plan, actor, duplicates="update")  # one transaction, audited row by row

Nothing is written before `commit`, and `commit` writes the whole file or nothing: it runs in one
BEGIN IMMEDIATE transaction through the store's own insert and update (every row validated again and
audited), so an error, or the process being killed, leaves the database as it was.

A row matches an existing record through the sheet's unique keys (a field with unique = true, or a
`unique` group): it is offered as an update, and the user chooses to skip or update such rows. An
update changes only the cells the file fills in; a blank cell keeps what the record holds.
"""
from __future__ import annotations

import codecs
import csv
import io
import os
import re
import unicodedata
import zipfile
from itertools import groupby
from contextlib import closing, contextmanager
from dataclasses import dataclass, field as dc_field, replace
from datetime import date, datetime, time

import charset_normalizer

from kefu import auth, jobs
from kefu.errors import KefuError, PermissionDenied
from kefu.exporting import neutralise
from kefu.fields import FieldError, _blank
from kefu.i18n import t
from kefu.pinyin import search_values_many
from kefu.sheets import Field, Problem, Sheet, ValidationError
from kefu.store import Checked, Store, quote_ident

MAX_BYTES = 30 * 2**20          # a file larger than this is refused before it is read
MAX_ROWS = 200_000              # rows of a file, empty ones included (the header is row 0 of this count)
MAX_COLUMNS = 200               # the widest register has some thirty fields: a wider file is not one of its lists
MAX_CELL = 32_767               # characters in one cell: Excel's own limit
MAX_CELLS = 4_000_000           # cells held in memory for one file (each row up to its last filled cell)
# An .xlsx is a zip: what its directory says the parts unpack to is checked before any part is read
# (Python's zipfile never unpacks more than a part's declared size), so a small file that would unpack to
# gigabytes is refused at once, in a few kilobytes of memory.
XLSX_MAX_UNPACKED = 500 * 2**20  # all parts together
XLSX_MAX_STRINGS = 32 * 2**20    # the shared-strings table, which the reader holds whole in memory (~140 B a string)
XLSX_MAX_RATIO = 100             # unpacked/packed of a large part: spreadsheets reach 10-20, a zip bomb 1,000
XLSX_RATIO_FLOOR = 20 * 2**20    # a part smaller than this unpacks harmlessly, however tightly packed
MAX_LINE = MAX_COLUMNS * (2 * MAX_CELL + 3)   # the longest a CSV line of a row within those bounds can be
LINE = re.compile(r"[^\r\n]*(?:\r\n?|\n)|[^\r\n]+")   # a CSV line with its end (as newline="" reads it)
SAMPLE_BYTES = 200_000          # what the encoding is guessed from
AHEAD_CHUNKS = 10                # from this many chunks, a second process works out their search values ahead
CHUNK = 1000                    # rows per insert batch inside the one transaction; progress is told per chunk
XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary .xls (and other Office 97 files)
GB_FAMILY = {"gb18030", "gbk", "gb2312", "hz"}
IGNORED_HEADERS = {"id", "no.", "编号", "created at", "创建时间"}   # the export's own columns


class ImportRefused(KefuError):
    """A file that cannot be imported at all (empty, binary, too big, duplicated headers, ...).
    A parameter may be a label {en, zh}: it is told in the reader's language."""
    code = "im.refused"

    def message(self, lang: str) -> str:
        return t(self.code, lang, **{k: (v.get(lang) or v.get("en")) if isinstance(v, dict) else v
                                     for k, v in self.params.items()})


# ---------------------------------------------------------------------------------------------- reading

@dataclass
class Table:
    """A file's first (header) row and its data rows, cells as read; `numbers` are the rows' numbers in
    the file (the header is row `header_row`), as a spreadsheet shows them."""
    headers: list[str]
    rows: list[list]
    numbers: list[int]
    kind: str                          # "csv" or "xlsx"
    encoding: str | None = None        # a CSV's encoding as detected
    worksheets: list[str] = dc_field(default_factory=list)
    worksheet: str | None = None


def read_file(data: bytes, filename: str = "", *, worksheet: str | None = None, max_bytes: int = MAX_BYTES) -> Table:
    """A CSV or XLSX file as a Table, or ImportRefused saying why not (in the user's language)."""
    if not data:
        raise ImportRefused("im.empty_file")
    if len(data) > max_bytes:
        raise ImportRefused("im.too_big", size=f"{len(data) / 2**20:.1f}", max=f"{max_bytes / 2**20:.0f}")
    if data.startswith(XLSX_MAGIC):
        table = _read_xlsx(data, worksheet)
    elif data.startswith(OLE_MAGIC):
        raise ImportRefused("im.old_xls")
    else:
        table = _read_csv(data)
    if not table.headers:
        raise ImportRefused("im.no_header")
    seen: dict[str, int] = {}
    for position, header in enumerate(table.headers, 1):
        key = normal(header)
        if not key:
            continue
        if key in seen:
            raise ImportRefused("im.duplicate_header", header=header, first=seen[key], second=position)
        seen[key] = position
    if not table.rows:
        raise ImportRefused("im.no_rows")
    return table


def read_path(path, *, worksheet: str | None = None) -> Table:
    """A file named on the command line, read as read_file reads an upload: a file over MAX_BYTES is
    refused by its size before it is read, and no more than that is ever read (a pipe, a device)."""
    with open(path, "rb") as source:
        size = os.fstat(source.fileno()).st_size
        if size > MAX_BYTES:
            raise ImportRefused("im.too_big", size=f"{size / 2**20:.1f}", max=f"{MAX_BYTES / 2**20:.0f}")
        data = source.read(MAX_BYTES + 1)
    return read_file(data, str(path), worksheet=worksheet)


class _Rows:
    """The rows a reader finds, kept within bounds as they come (a bad file is refused at its first row
    past a bound, before the rest is read): at most MAX_ROWS rows counting empty ones, MAX_COLUMNS
    columns, MAX_CELL characters a cell and MAX_CELLS cells in all. The first row with a value is the
    header; empty rows are left out; a row is kept up to its last filled cell."""

    def __init__(self):
        self.headers: list[str] | None = None
        self.rows: list[list] = []
        self.numbers: list[int] = []
        self.cells = 0

    def add(self, number: int, cells: list) -> None:
        if number > MAX_ROWS + 1:
            raise ImportRefused("im.too_many_rows", max=f"{MAX_ROWS:,}")
        if len(cells) > MAX_COLUMNS:
            raise ImportRefused("im.too_many_columns", row=number, columns=f"{len(cells):,}", max=MAX_COLUMNS)
        end = len(cells)
        while end and _blank(cells[end - 1]):
            end -= 1
        if not end:
            return
        if end < len(cells):
            cells = cells[:end]
        for position, cell in enumerate(cells):
            if isinstance(cell, str) and len(cell) > MAX_CELL:
                raise ImportRefused("im.cell_too_long", row=number, column=self.column(position),
                                    max=f"{MAX_CELL:,}")
        if self.headers is None:
            self.headers = ["" if cell is None else str(cell).strip() for cell in cells]
            return
        self.cells += end
        if self.cells > MAX_CELLS:
            raise ImportRefused("im.too_many_cells", max=f"{MAX_CELLS:,}")
        self.rows.append(cells)
        self.numbers.append(number)

    def column(self, position: int) -> str:
        header = self.headers[position] if self.headers and position < len(self.headers) else ""
        return header or f"#{position + 1}"


def detect_encoding(data: bytes) -> str:
    """UTF-8 (with or without BOM) and UTF-16 by their marks; otherwise charset-normalizer's guess,
    where a GB encoding among its candidates wins: it is what Chinese Excel saves a CSV in."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    if b"\x00" in data[:4096]:
        raise ImportRefused("im.binary")
    sample = data[:SAMPLE_BYTES]
    if len(data) > SAMPLE_BYTES and b"\n" in sample:
        # end the sample at a line's end: cut inside a two-byte character, a GB file no longer decodes as GB
        # and the guess falls on some Cyrillic code page (a newline byte is never part of a GB character)
        sample = sample[:sample.rfind(b"\n") + 1]
    matches = charset_normalizer.from_bytes(sample)
    names = [m.encoding for m in matches]
    if any(name in GB_FAMILY for name in names):
        return "gb18030"                 # a superset of GBK and GB2312
    best = matches.best()
    if best is None:
        raise ImportRefused("im.binary")
    return best.encoding


def _read_csv(data: bytes) -> Table:
    encoding = detect_encoding(data)
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        raise ImportRefused("im.binary") from None
    if encoding == "utf-16":
        text = text.lstrip("\ufeff")
    if "\x00" in text or _mostly_unprintable(text):
        raise ImportRefused("im.binary")
    sample = text[:20_000]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",\t;|")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(_lines(text), delimiter=delimiter)
    found = _Rows()
    number = 0
    try:
        for number, record in enumerate(reader, 1):
            found.add(number, record)
    except csv.Error as exc:
        if "field limit" in str(exc):             # a cell over csv's own limit (131,072 characters)
            raise ImportRefused("im.cell_too_long_row", row=number + 1, max=f"{MAX_CELL:,}") from None
        raise ImportRefused("im.bad_csv", detail=str(exc)) from None
    return Table(headers=found.headers or [], rows=found.rows, numbers=found.numbers, kind="csv", encoding=encoding)


def _lines(text: str):
    """The text's lines one at a time, for csv (a StringIO copy of the text would hold 4 bytes a
    character); a line longer than any row within bounds is refused before it is cut into cells."""
    for number, match in enumerate(LINE.finditer(text), 1):
        if match.end() - match.start() > MAX_LINE:
            raise ImportRefused("im.line_too_long", line=number, length=f"{match.end() - match.start():,}",
                                columns=MAX_COLUMNS, cell=f"{MAX_CELL:,}")
        yield match.group()


def _mostly_unprintable(text: str) -> bool:
    sample = text[:4096]
    if not sample:
        return False
    odd = sum(1 for ch in sample if unicodedata.category(ch) in ("Cc", "Co", "Cn") and ch not in "\r\n\t")
    return odd > len(sample) * 0.05


def _read_xlsx(data: bytes, worksheet: str | None) -> Table:
    import openpyxl
    _check_unpacked(data)
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError, EOFError) as exc:
        raise ImportRefused("im.bad_xlsx", detail=type(exc).__name__) from None
    try:
        names = book.sheetnames
        if worksheet is not None and worksheet not in names:
            raise ImportRefused("im.no_worksheet", worksheet=worksheet, names="、".join(names))
        sheet = book[worksheet or names[0]]
        # The size the sheet declares (A1:XFD1048576, say) is not trusted: read_only mode would pad every
        # row to it. Each row then ends at its last cell.
        sheet.reset_dimensions()
        found = _Rows()
        for number, record in enumerate(sheet.iter_rows(values_only=True), 1):
            if len(record) > MAX_COLUMNS and record[MAX_COLUMNS:].count(None) == len(record) - MAX_COLUMNS:
                record = record[:MAX_COLUMNS]       # a formatted but empty cell far to the right
            found.add(number, [_xlsx_cell(value) for value in record])
        return Table(headers=found.headers or [], rows=found.rows, numbers=found.numbers, kind="xlsx",
                     worksheets=names, worksheet=worksheet or names[0])
    except (zipfile.BadZipFile, EOFError, ValueError) as exc:       # a part found damaged while read
        raise ImportRefused("im.bad_xlsx", detail=type(exc).__name__) from None
    finally:
        book.close()


def _check_unpacked(data: bytes) -> None:
    """Refuse a workbook whose parts would unpack to more than a spreadsheet of its size could hold (a zip
    bomb), or whose shared-strings table is too large to hold in memory, from the zip's directory alone."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ImportRefused("im.bad_xlsx", detail=type(exc).__name__) from None
    total = sum(part.file_size for part in parts)
    bomb = [part for part in parts if part.file_size > max(XLSX_RATIO_FLOOR, XLSX_MAX_RATIO * part.compress_size)]
    if bomb or total > XLSX_MAX_UNPACKED:
        raise ImportRefused("im.xlsx_unpacks", size=f"{total / 2**20:,.0f}", ratio=f"{total / len(data):,.0f}",
                            max=f"{XLSX_MAX_UNPACKED / 2**20:,.0f}")
    strings = sum(part.file_size for part in parts if part.filename.lower().endswith("sharedstrings.xml"))
    if strings > XLSX_MAX_STRINGS:
        raise ImportRefused("im.xlsx_strings", size=f"{strings / 2**20:,.0f}", max=f"{XLSX_MAX_STRINGS / 2**20:,.0f}")


def _xlsx_cell(value):
    """A cell as the fields read it: a whole float as an int (a phone typed as a number, 13812345678.0)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, time):
        return value.isoformat(timespec="minutes")
    return value


# ---------------------------------------------------------------------------------------------- mapping

def normal(text) -> str:
    """Headers and labels compared loosely: full-width folded, case, spaces and a required mark ignored."""
    folded = unicodedata.normalize("NFKC", str(text or "")).casefold()
    return "".join(folded.split()).rstrip(":*").lstrip("*")


CREATED = "created_at"


def created_field(sheet: Sheet) -> Field | None:
    """The column that says when each record was made, for a register that keeps a file's times (a past
    year's complaints, received then): a date and time, not in the future."""
    if not sheet.import_created:
        return None
    return Field(name=CREATED, type_name="datetime", label=sheet.import_created)


def importable_fields(sheet: Sheet) -> list:
    """The fields a file may fill: all but those the approval step sets (state, by whom, when), and the
    time each record was made where the register takes it from the file."""
    engine = {sheet.approval.field, sheet.approval.by, sheet.approval.at} if sheet.approval else set()
    created = created_field(sheet)
    return [f for f in sheet.fields if f.name not in engine] + ([created] if created else [])


def auto_map(sheet: Sheet, headers: list[str]) -> list[str | None]:
    """For each column, the field it fills: a header equal to a field's name or to its English or Chinese
    label; None for a column left out (the export's own number and creation time among them)."""
    names = {}
    for f in importable_fields(sheet):
        for key in (f.name, f.label.get("en"), f.label.get("zh")):
            names.setdefault(normal(key), f.name)
    mapping, used = [], set()
    for header in headers:
        key = normal(header)
        name = None if key in IGNORED_HEADERS else names.get(key)
        if name in used:
            name = None
        used.add(name)
        mapping.append(name)
    return mapping


# ---------------------------------------------------------------------------------------------- checking

@dataclass(frozen=True)
class CellError:
    row: int             # the row's number in the file
    column: str          # the file's header (or the field's label when no column fills it)
    value: str
    code: str
    params: dict

    def reason(self, sheet: Sheet, lang: str) -> str:
        return ValidationError(sheet, []).message_for(_problem(self), lang)


def _problem(error: CellError) -> Problem:
    return Problem(error.params.get("field", ""), error.code, {k: v for k, v in error.params.items() if k != "field"})


@dataclass
class PlannedRow:
    number: int
    values: dict                     # raw values by field, refs and users resolved to ids
    existing: int | None = None      # the id of the record it matches by a unique key
    changes: dict = dc_field(default_factory=dict)   # field -> (stored, new) for an update
    checked: Checked | None = None   # a new row as the store checked it: committed as it is
    created_at: str | None = None    # when the record was made, where the file says (a new row only)


@dataclass
class Plan:
    sheet: str
    rows: list[PlannedRow]
    errors: list[CellError]
    total: int                          # data rows in the file
    problems: list[tuple[str, dict]] = dc_field(default_factory=list)   # the file as a whole: (code, params)
    bad_rows: set = dc_field(default_factory=set)
    unmapped_required: list[str] = dc_field(default_factory=list)    # new rows need these: no column fills them

    @property
    def new(self) -> list[PlannedRow]:
        return [r for r in self.rows if r.existing is None]

    @property
    def matched(self) -> list[PlannedRow]:
        return [r for r in self.rows if r.existing is not None]

    @property
    def updates(self) -> list[PlannedRow]:
        return [r for r in self.rows if r.existing is not None and r.changes]

    @property
    def ok(self) -> bool:
        return not self.problems and not self.errors


def check(store: Store, sheet_name: str, table: Table, mapping: list[str | None], actor) -> Plan:
    """Check every row of `table` as `mapping` places it in the sheet, writing nothing. Returns the plan:
    the rows that would be created, those that match a record (with what would change), and every bad
    cell with its row, column, value and reason."""
    sheet = store.sheet(sheet_name)
    require_import(sheet, actor)
    plan = Plan(sheet=sheet.name, rows=[], errors=[], total=len(table.rows))
    columns = {name: position for position, name in enumerate(mapping) if name}
    allowed = {f.name for f in importable_fields(sheet)}
    for position, name in enumerate(mapping):
        if name is not None and name not in allowed:
            plan.problems.append(("im.not_importable", {"header": _header(table, position), "field": name}))
        elif name is not None and mapping.index(name) != position:
            label = (sheet.by_name.get(name) or created_field(sheet)).label
            plan.problems.append(("im.mapped_twice", {"field": label, "first": _header(
                table, mapping.index(name)), "second": _header(table, position)}))
    key_fields = {f.name for f in sheet.fields if f.unique} | {c for group in sheet.unique for c in group}
    if not {f.name for f in sheet.fields if f.required or f.name in key_fields} & set(columns):
        plan.problems.append(("im.nothing_mapped", {"sheet": sheet.label}))     # can neither create nor match
    plan.unmapped_required = [f.name for f in sheet.fields
                              if f.required and f.default is None and f.name not in columns and f.name in allowed]
    if plan.problems:
        return plan
    created, created_column = created_field(sheet), columns.pop(CREATED, None)
    now = store.now()
    links = _Links(store, sheet, actor, table, columns)
    keys = _Keys(store, sheet, actor)
    lang = store.settings.default_language

    def fail(number: int, name: str, code: str, params: dict, value) -> None:
        position = columns.get(name)
        if name == CREATED:
            position = created_column
        column = _header(table, position) if position is not None else (
            sheet.by_name[name].label_in(lang) if name in sheet.by_name else name)
        plan.errors.append(CellError(number, column, _shown(value), code, {"field": name, **params}))
        plan.bad_rows.add(number)

    for cells, number in zip(table.rows, table.numbers):
        values = {name: (cells[position] if position < len(cells) else None) for name, position in columns.items()}
        raw = dict(values)
        reported = set()
        for name, cell in raw.items():
            if isinstance(cell, str) and cell.lstrip().startswith("="):
                fail(number, name, "im.formula", {}, cell)
                values[name] = None
                reported.add(name)
        for name, code in links.resolve(values):
            if name not in reported:
                fail(number, name, code, {}, raw[name])
                reported.add(name)
        found = keys.match(keys.parse(values))
        if isinstance(found, tuple):
            code, name, params = found
            if name not in reported:
                fail(number, name, code, params, raw.get(name))
            continue
        received = None
        if created_column is not None:
            cell = cells[created_column] if created_column < len(cells) else None
            try:
                received = created.parse(cell, store.ctx)
            except FieldError as exc:
                fail(number, CREATED, exc.code, exc.params, cell)
                continue
            if received is not None and received > now:
                fail(number, CREATED, "im.created_future", {}, cell)
                continue
        filled = {k: v for k, v in values.items() if not _blank(raw.get(k))}
        try:
            if found is None:
                checked = store.check_new(sheet.name, values)
                clean = checked.row
            else:
                before = keys.stored(found)           # read once: the check, the lock and the changes
                checked, clean = None, keys.check_update(before, filled)
        except ValidationError as exc:
            for problem in exc.problems:
                if problem.field not in reported:
                    fail(number, problem.field, problem.code, problem.params, raw.get(problem.field))
            continue
        if reported:
            continue
        day = clean.get(sheet.period) if sheet.period else None
        locked = sheet.period and (store.locked_period(sheet, day) or (
            found is not None and store.locked_period(sheet, before.get(sheet.period))))
        if locked:
            fail(number, sheet.period, "ic.period_locked", {"period": locked, "day": day}, raw.get(sheet.period))
            continue
        keys.remember(number, clean)
        row = PlannedRow(number, values, checked=checked, created_at=received)
        if found is not None:
            row.existing = found
            row.changes = keys.changes(before, clean, set(filled))
            row.values = {k: values[k] for k in row.changes}
        plan.rows.append(row)
    plan.errors.sort(key=lambda e: e.row)
    return plan


def require_import(sheet: Sheet, actor) -> None:
    if not sheet.importable:
        raise ImportRefused("im.sheet_not_importable", sheet=sheet.label)
    auth.require(actor, sheet, "create")


def _header(table: Table, position: int | None) -> str:
    if position is None:
        return ""
    header = table.headers[position] if position < len(table.headers) else ""
    return header or f"#{position + 1}"


def _shown(value) -> str:
    if value is None:
        return ""
    text = value.isoformat(" ") if isinstance(value, datetime) else value.isoformat() if isinstance(value, date) \
        else str(value)
    return text if len(text) <= 80 else text[:80] + "…"


class _Links:
    """Turns what a file says of a user or a ref (a name, a code, a number) into the id it means, among
    the records the actor may see. Looked up once per distinct value, in batches."""

    def __init__(self, store: Store, sheet: Sheet, actor, table: Table, columns: dict[str, int]):
        self.store, self.sheet, self.actor = store, sheet, actor
        self.found: dict[str, dict[str, set[int]]] = {}
        for name, position in columns.items():
            field = sheet.by_name[name]
            if field.type_name not in ("user", "ref"):
                continue
            wanted = {_text(row[position]) for row in table.rows if position < len(row) and not _blank(row[position])}
            self.found[name] = self._users({_key(w) for w in wanted}) if field.type_name == "user" \
                else self._records(field, wanted)

    def _users(self, wanted: set[str]) -> dict[str, set[int]]:
        found: dict[str, set[int]] = {}
        for user_id, username, display_name in self.store.conn.execute(
                "SELECT id, username, display_name FROM kefu_users WHERE active = 1"):
            for key in (_key(username), _key(display_name)):
                if key in wanted:
                    found.setdefault(key, set()).add(user_id)
        return found

    def _records(self, field, wanted: set[str]) -> dict[str, set[int]]:
        target = self.store.sheet(field.ref_sheet)
        names = [target.title] + [f.name for f in target.fields if f.unique and f.name != target.title]
        clause, params = self.store.visible_clause(target, self.actor) or ("1", [])
        found: dict[str, set[int]] = {}
        unique_hits: dict[str, set[int]] = {}
        values = sorted(wanted)
        for start in range(0, len(values), 500):
            part = values[start:start + 500]
            marks = ", ".join("?" for _ in part)
            for name in names:
                rows = self.store.conn.execute(
                    f"SELECT id, {quote_ident(name)} FROM {quote_ident(target.name)} WHERE {quote_ident(name)} IN ({marks}) "
                    f"AND deleted_at IS NULL AND {clause}", [*part, *params])
                for row_id, value in rows:
                    (unique_hits if name != target.title else found).setdefault(_key(value), set()).add(row_id)
            for text in part:                      # "#12" or "12": the record's number, as the grid shows it
                digits = text.lstrip("#")
                if digits.isdigit() and _key(text) not in found and _key(text) not in unique_hits:
                    row = self.store.conn.execute(
                        f"SELECT id FROM {quote_ident(target.name)} WHERE id = ? AND deleted_at IS NULL AND {clause}",
                        [int(digits), *params]).fetchone()
                    if row:
                        unique_hits[_key(text)] = {row[0]}
        for key, ids in unique_hits.items():          # a code names one record even where names repeat
            found[key] = ids
        return found

    def resolve(self, values: dict) -> list[tuple[str, str]]:
        """Replace each link's text by its id in `values`; returns (field, problem) for those that fail."""
        problems = []
        for name, found in self.found.items():
            raw = values.get(name)
            if _blank(raw):
                continue
            ids = found.get(_key(raw), set())
            if len(ids) == 1:
                values[name] = next(iter(ids))
            else:
                kind = self.sheet.by_name[name].type_name
                problems.append((name, ("im.ambiguous" if ids else "err.bad_user" if kind == "user" else "im.no_such_record")))
                values[name] = None
        return problems


def _text(value) -> str:
    return unicodedata.normalize("NFKC", str(value)).strip()


def _key(value) -> str:
    return _text(value).casefold()


class _Keys:
    """Finds the existing record a row matches through the sheet's unique keys, and rows of the file
    that repeat another row's key."""

    def __init__(self, store: Store, sheet: Sheet, actor):
        self.store, self.sheet, self.actor = store, sheet, actor
        self.groups = [[f.name] for f in sheet.fields if f.unique] + [g for g in sheet.unique if g]
        self.seen: dict[tuple, int] = {}
        self.visible = store.visible_clause(sheet, actor)
        self.table = quote_ident(sheet.name)

    def parse(self, values: dict) -> dict:
        """The key fields of a row, as stored (a key cell that does not parse is left out: its error
        is told by the row's own check)."""
        out = {}
        for name in {c for group in self.groups for c in group}:
            if name in values:
                try:
                    out[name] = self.sheet.by_name[name].parse(values[name], self.store.ctx)
                except Exception:
                    continue
        return out

    def stored(self, row_id: int) -> dict:
        cursor = self.store.conn.execute(f"SELECT * FROM {self.table} WHERE id = ?", (row_id,))
        return dict(zip([d[0] for d in cursor.description], cursor.fetchone()))

    def check_update(self, before: dict, filled: dict) -> dict:
        """The cells a row fills in, checked as an update of the record it matches would check them
        (each field, then the whole record as it would become)."""
        clean = self.sheet.validate(filled, self.store.ctx, partial=True)
        merged = {**before, **clean}
        problems = self.sheet.cross_check(merged) + self.store.rule_checks(self.sheet, merged)
        if problems:
            raise ValidationError(self.sheet, problems)
        return clean

    def _keys(self, clean: dict):
        for group in self.groups:
            key = tuple(clean.get(c) for c in group)
            if all(v is not None for v in key):
                yield group, key

    def match(self, clean: dict):
        """The id of the record `clean` matches, None for a new one, or (problem, field, params)."""
        matched = None
        for group, key in self._keys(clean):
            field = group[-1]
            earlier = self.seen.get((tuple(group), key))
            if earlier is not None:
                return "im.repeats_row", field, {"row": earlier}
            where = " AND ".join(f"{quote_ident(c)} = ?" for c in group)
            row = self.store.conn.execute(f"SELECT id FROM {self.table} WHERE {where} AND +deleted_at IS NULL LIMIT 1",
                                          list(key)).fetchone()
            if row is None:
                continue
            if self.visible is not None and not self.store.conn.execute(
                    f"SELECT 1 FROM {self.table} WHERE id = ? AND {self.visible[0]}", [row[0], *self.visible[1]]).fetchone():
                return "im.exists_unseen", field, {}
            if matched is not None and matched != row[0]:
                return "im.matches_two", field, {}
            matched = row[0]
        return matched

    def remember(self, number: int, clean: dict) -> None:
        for group, key in self._keys(clean):
            self.seen[(tuple(group), key)] = number

    def changes(self, before: dict, clean: dict, filled: set[str]) -> dict:
        """field -> (stored, new) for the cells the file fills in that differ from the record. Fields an
        update may not touch (read-only; personal data for a role that may not see it) are left out."""
        may_pii = auth.can(self.actor, self.sheet, "pii")
        out = {}
        for name in filled:
            field = self.sheet.by_name[name]
            if field.readonly or (field.pii and not may_pii):
                continue
            if clean.get(name) != before.get(name):
                out[name] = (before.get(name), clean.get(name))
        return out


# ---------------------------------------------------------------------------------------------- commit

@dataclass(frozen=True)
class Outcome:
    created: int
    updated: int
    skipped: int          # rows matching a record, left as they are (duplicates = "skip")
    unchanged: int        # rows matching a record that already holds what the file says
    left_out: int         # rows with errors, left out because the user chose so


def commit(store: Store, plan: Plan, actor, *, duplicates: str = "skip", skip_invalid: bool = False,
           progress=None) -> Outcome:
    """Write the plan in one transaction: the new rows, and the matched rows as updates when duplicates
    is "update". Every row goes through the store's insert or update, validated again and audited; any
    error rolls the whole file back and is raised naming the file's row."""
    sheet = store.sheet(plan.sheet)
    require_import(sheet, actor)
    if duplicates not in ("skip", "update"):
        raise ValueError(f"duplicates must be 'skip' or 'update', not {duplicates!r}")
    if plan.problems:
        raise ImportRefused(plan.problems[0][0], **plan.problems[0][1])
    if plan.errors and not skip_invalid:
        raise ImportRefused("im.has_errors", count=len(plan.errors), rows=len(plan.bad_rows))
    updates = plan.updates if duplicates == "update" else []
    if updates and not auth.can(actor, sheet, "update"):
        raise PermissionDenied()
    new = plan.new
    total, done = len(new) + len(updates), 0
    chunks = [new[start:start + CHUNK] for start in range(0, len(new), CHUNK)]
    with _big_cache(store), store.transaction(), closing(_search_ahead(store, sheet, chunks)) as searches:
        for chunk, search in zip(chunks, searches):       # a row refused midway ends the second process at once
            if search is not None:
                for row, values in zip(chunk, search):
                    row.checked = replace(row.checked, search=values)
            _insert(store, sheet, chunk, actor)
            done += len(chunk)
            if progress:
                progress(done, total)
        for row in updates:
            try:
                store.update(sheet.name, row.existing, row.values, actor)
            except ValidationError as exc:
                raise RowFailed(row.number, exc) from None
            done += 1
            if progress and (done % CHUNK == 0 or done == total):
                progress(done, total)
    waiting = len(plan.updates)
    return Outcome(created=len(new), updated=len(updates), skipped=waiting - len(updates),
                   unchanged=len(plan.matched) - waiting, left_out=len(plan.bad_rows))


def _search_ahead(store: Store, sheet: Sheet, chunks: list[list[PlannedRow]]):
    """Each chunk's search values (pinyin keys and short grams, half the work of inserting an archive), worked out
    by a second process while this one inserts the chunks before. None for every chunk of a short file, of a
    sheet whose rows are completed at commit (import_fill), or of one with a row not checked as new: those rows'
    values are worked out as they are inserted."""
    if not sheet.search or sheet.import_fill or len(chunks) < AHEAD_CHUNKS or any(
            r.checked is None for chunk in chunks for r in chunk):
        return (None for _ in chunks)
    return jobs.ahead(search_values_many, [[store.search_sources(sheet, r.checked.row) for r in chunk]
                                           for chunk in chunks])


@contextmanager
def _big_cache(store: Store, kib: int = 131072):
    """A large file's transaction touches many pages of the table and its search indexes: a bigger page
    cache for its length keeps them in memory instead of spilling them to the WAL file midway. (PostgreSQL's
    cache is the server's: nothing to set.)"""
    if store.url:
        yield
        return
    before = store.conn.execute("PRAGMA cache_size").fetchone()[0]
    store.conn.execute(f"PRAGMA cache_size = -{kib}")
    try:
        yield
    finally:
        store.conn.execute(f"PRAGMA cache_size = {before}")


class RowFailed(KefuError):
    """A row the checks let through was refused at commit (a record saved meanwhile): nothing was written."""
    code = "im.row_failed"

    def __init__(self, row: int, error: ValidationError):
        self.error = error
        super().__init__("im.row_failed", row=row)

    def message(self, lang: str) -> str:
        return t(self.code, lang, row=self.params["row"]) + " " + "; ".join(self.error.messages(lang))


def _insert(store: Store, sheet: Sheet, rows: list[PlannedRow], actor) -> None:
    if sheet.import_fill:                    # what the fill gives (a number) depends on the rows before it
        for row in rows:
            values = dict(row.values)
            if sheet.import_created:
                values[CREATED] = row.created_at
            filled = sheet.import_fill(store, values)
            created_at = filled.pop(CREATED, None)
            try:
                store.insert(sheet.name, filled, actor, created_at=created_at)
            except ValidationError as exc:
                raise RowFailed(row.number, exc) from None
        return
    for created_at, run in groupby(rows, key=lambda r: r.created_at):    # rows made at one time go in together
        group = list(run)
        try:
            store.insert_many(sheet.name, [r.checked or r.values for r in group], actor, created_at=created_at)
        except ValidationError:
            for row in group:                # name the row (the batch's savepoint is rolled back; the file will be)
                try:
                    store.insert_many(sheet.name, [row.checked or row.values], actor, created_at=created_at)
                except ValidationError as exc:
                    raise RowFailed(row.number, exc) from None
            raise


# ---------------------------------------------------------------------------------------------- reporting

def problem_messages(store: Store, plan: Plan, lang: str) -> list[str]:
    """The file-level problems in the user's language."""
    out = []
    for code, params in plan.problems:
        shown = {k: (v.get(lang) or v.get("en")) if isinstance(v, dict) else v for k, v in params.items()}
        if code == "im.not_importable":
            shown["field"] = store.sheet(plan.sheet).by_name[params["field"]].label_in(lang) \
                if params["field"] in store.sheet(plan.sheet).by_name else params["field"]
        out.append(t(code, lang, **shown))
    return out


def error_rows(store: Store, plan: Plan, lang: str) -> list[dict]:
    """Every bad cell as a row for a table or a file: row, column, value, reason."""
    sheet = store.sheet(plan.sheet)
    return [{t("im.col_row", lang): e.row, t("im.col_column", lang): e.column, t("im.col_value", lang): e.value,
             t("im.col_reason", lang): e.reason(sheet, lang)} for e in plan.errors]


def errors_csv(store: Store, plan: Plan, lang: str) -> bytes:
    """The list of bad cells as a CSV Excel opens (UTF-8 with BOM, formula-like values neutralised)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    rows = error_rows(store, plan, lang)
    headers = [t(k, lang) for k in ("im.col_row", "im.col_column", "im.col_value", "im.col_reason")]
    writer.writerow(headers)
    for row in rows:
        writer.writerow([row[headers[0]], neutralise(str(row[headers[1]])), neutralise(str(row[headers[2]])),
                         row[headers[3]]])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def importable_sheets(store: Store, actor) -> list[Sheet]:
    """The sheets this user may import into."""
    return [s for s in store.sheets.values() if s.importable and auth.can(actor, s, "create")]

