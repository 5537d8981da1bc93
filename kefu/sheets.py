"""Load schema/*.toml into Sheet and Field objects; a bad declaration fails at start-up.

`load_sheets()` returns every sheet or raises SchemaError listing one line per problem, each naming
the file, the field and what is wrong. `Sheet.validate()` turns raw input into stored values or
raises ValidationError naming each bad field.
"""
from __future__ import annotations

import importlib
import os
import re
import sqlite3
import tomllib
from dataclasses import dataclass, field as dc_field
from pathlib import Path

from kefu import fields as ft
from kefu.config import ROOT
from kefu.i18n import label as pick_label, t

ROLES = ("staff", "supervisor", "manager", "gm", "finance", "hr", "admin", "sales_director", "engineer")
ACTIONS = ("read", "create", "update", "delete", "export", "pii")
SYSTEM_COLUMNS = ("id", "created_at", "created_by", "updated_at", "updated_by", "deleted_at", "deleted_by", "version",
                  "search_pinyin")
SHEET_KEYS = {"name", "label", "icon", "title", "order", "list", "search", "filters", "unique", "permissions",
              "fields", "description", "page_size", "row_access", "approval", "pinyin", "menu", "indexes", "period",
              "checks", "import", "import_created_at", "notices", "on_change"}
ROW_ACCESS_KEYS = {"owner", "see_all", "via", "grantors", "exporters", "max_grant_days"}
APPROVAL_KEYS = {"field", "draft", "approved", "by", "at", "roles"}
IDENTIFIER = re.compile(r"[a-z][a-z0-9_]{0,39}")
LABEL_MAX = 60              # characters of a register's, field's or choice's label in one language
HELP_MAX = 300
_LABEL_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


def _reserved_words() -> frozenset:
    """The SQL keywords SQLite will not take as a plain table or column name (select, order, table, ...):
    asked of SQLite itself, so the list is the one the file's engine keeps."""
    conn = sqlite3.connect(":memory:")
    reserved = set()
    for word in ("abort action add after all alter always analyze and as asc attach autoincrement before begin "
                 "between by cascade case cast check collate column commit conflict constraint create cross current "
                 "current_date current_time current_timestamp database default deferrable deferred delete desc "
                 "detach distinct do drop each else end escape except exclude exclusive exists explain fail filter "
                 "first following for foreign from full generated glob group groups having if ignore immediate in "
                 "index indexed initially inner insert instead intersect into is isnull join key last left like "
                 "limit match materialized natural no not nothing notnull null nulls of offset on or order others "
                 "outer over partition plan pragma preceding primary query raise range recursive references regexp "
                 "reindex release rename replace restrict returning right rollback row rows savepoint select set "
                 "table temp temporary then ties to transaction trigger unbounded union unique update using vacuum "
                 "values view virtual when where window with without").split():
        try:
            conn.execute(f"CREATE TABLE {word} ({word} TEXT)")
            conn.execute(f"SELECT {word} FROM {word} WHERE {word} = 1 ORDER BY {word}")
        except sqlite3.Error:
            reserved.add(word)
    conn.close()
    return frozenset(reserved)


SQL_RESERVED = _reserved_words()
TEXTUAL = {"text", "longtext", "phone", "email", "url"}
FILTERABLE = {"choice", "multichoice", "date", "datetime", "user", "bool", "rating"}


def schema_dir() -> Path:
    """schema/ beside the code; KEFU_SCHEMA points elsewhere (tests, a second office)."""
    return Path(os.environ.get("KEFU_SCHEMA", ROOT / "schema"))


class SchemaProblem(str):
    """One problem of a sheet file. The string is the English line `kefu check` prints, naming the file (and
    the field); `in_lang(lang)` says it in either language, for the register designer."""

    def __new__(cls, file: str, code: str, field: str | None = None, **params):
        made = super().__new__(cls, cls._say(file, field, code, params, "en"))
        made.file, made.field, made.code, made.params = file, field, code, params
        return made

    @staticmethod
    def _say(file, field, code, params, lang) -> str:
        where = file if field is None else t("sch.where_field", lang, file=file, field=field)
        return f"{where}{'：' if lang == 'zh' else ': '}{t(code, lang, **params)}"

    def in_lang(self, lang: str) -> str:
        return self._say(self.file, self.field, self.code, self.params, lang)


def say(problem: str, lang: str) -> str:
    """A problem line of SchemaError in lang (lines the loader has no key for stay as they are)."""
    return problem.in_lang(lang) if isinstance(problem, SchemaProblem) else str(problem)


def label_problem(value, *, limit: int = LABEL_MAX) -> tuple[str, dict] | None:
    """What is wrong with a label { en, zh } (key, params), or None: both languages given, as text, short,
    on one line."""
    if not isinstance(value, dict) or set(value) - {"en", "zh"}:
        return "sch.label_both", {}
    for lang in ("en", "zh"):
        text = value.get(lang)
        if not isinstance(text, str) or not text.strip():
            return "sch.label_both", {}
        if len(text) > limit:
            return "sch.label_long", {"which": lang, "max": limit, "got": len(text)}
        if _LABEL_CONTROL.search(text):
            return "sch.label_control", {"which": lang}
    return None


def name_problem(name) -> tuple[str, dict] | None:
    """What is wrong with a register's or a field's name (key, params), or None."""
    if not isinstance(name, str) or not IDENTIFIER.fullmatch(name):
        return "sch.bad_name", {"name": repr(name)}
    if name in SQL_RESERVED:
        return "sch.reserved_word", {"name": name}
    return None


class SchemaError(Exception):
    """One or more sheet files are broken; `problems` holds one line each."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Problem:
    field: str
    code: str
    params: dict


@dataclass(frozen=True)
class Notice:
    """A warning a register's screen shows above its list (a sheet's `notices`): an i18n code, and params
    that may hold record values (the screen shows them as text)."""
    code: str
    params: dict


class ValidationError(Exception):
    """Input a sheet refuses; nothing was written. `messages(lang)` names each field and why."""

    def __init__(self, sheet: "Sheet | None", problems: list[Problem]):
        super().__init__("; ".join(f"{p.field}: {p.code}" for p in problems))
        self.sheet = sheet
        self.problems = problems

    def messages(self, lang: str) -> list[str]:
        return [self.message_for(p, lang) for p in self.problems]

    def message_for(self, problem: Problem, lang: str) -> str:
        params = dict(problem.params)
        if "other" in params:
            params["other"] = self._label(params["other"], lang)
        return t(problem.code, lang, field=self._label(problem.field, lang), **params)

    def by_field(self) -> dict[str, str]:
        return {p.field: p.code for p in self.problems}

    def _label(self, name: str, lang: str) -> str:
        if self.sheet is not None and name in self.sheet.by_name:
            return self.sheet.by_name[name].label_in(lang)
        if self.sheet is not None and name == "created_at" and self.sheet.import_created:
            return pick_label(self.sheet.import_created, lang)       # an import's column of when records were made
        return name


@dataclass
class Field:
    name: str
    type_name: str
    label: dict
    required: bool = False
    pii: bool = False
    index: bool = False
    unique: bool = False
    readonly: bool = False
    help: dict | None = None
    default: object = None
    options: dict = dc_field(default_factory=dict)

    @property
    def type(self) -> ft.FieldType:
        return ft.TYPES[self.type_name]

    @property
    def sql(self) -> str:
        return self.type.sql

    @property
    def choices(self) -> list[dict]:
        return self.options.get("choices", [])

    @property
    def ref_sheet(self) -> str | None:
        return self.options.get("sheet")

    def label_in(self, lang: str) -> str:
        return pick_label(self.label, lang)

    def help_in(self, lang: str) -> str | None:
        return pick_label(self.help, lang) if self.help else None

    def choice_label(self, value: str, lang: str) -> str:
        return ft.choice_label(self, value, lang)

    def parse(self, raw, ctx: ft.Context):
        """The stored value for raw input; None for blank input."""
        if ft._blank(raw) or (isinstance(raw, (list, tuple, set)) and not raw):
            return None
        return self.type.parse(self, raw, ctx)


@dataclass(frozen=True)
class RowAccess:
    """Which rows a role sees. owner: a user field; roles outside see_all see only the rows they own
    or were granted for a time. via: a ref field; the row is visible when the referenced row is."""
    owner: str | None = None
    via: str | None = None
    see_all: frozenset = frozenset()
    grantors: frozenset = frozenset()
    exporters: frozenset | None = None     # roles that export every row they see; None: no limit beyond `export`.
                                           # Others export only the rows granted to them with export.
    max_grant_days: int = 90               # a grant ends at most this many days from today


@dataclass(frozen=True)
class Approval:
    """A record is `draft` until a role in `roles` approves it; an edit after that makes it draft again."""
    field: str
    draft: str
    approved: str
    by: str
    at: str
    roles: frozenset


@dataclass
class Sheet:
    name: str
    label: dict
    fields: list[Field]
    permissions: dict[str, frozenset]
    icon: str = ":material/table:"
    title: str = ""
    order: str = "-id"
    columns: list[str] = dc_field(default_factory=list)     # the grid's columns (`list` in the file)
    search: list[str] = dc_field(default_factory=list)          # text fields, in the sheet's search index
    search_refs: list[str] = dc_field(default_factory=list)     # ref fields in `search`: the referenced sheet's search
    filters: list[str] = dc_field(default_factory=list)
    unique: list[list[str]] = dc_field(default_factory=list)
    description: dict | None = None
    page_size: int = 50
    row_access: RowAccess | None = None
    approval: Approval | None = None
    pinyin: list[str] = dc_field(default_factory=list)
    menu: bool = True
    indexes: list[list[str]] = dc_field(default_factory=list)
    period: str | None = None      # the date field placing a record in a period (locked once approved)
    checks: list = dc_field(default_factory=list)   # rule checks in kefu modules: check(store, row) -> problems
    importable: bool = True        # `import = false`: records only domain code makes (a workflow's trail)
    import_fill: object = None     # `import = "kefu.module:function"`: completes an imported row (a number)
    notices: tuple = ()            # `notices = ["kefu.module:function"]`: warnings the register's screen shows
    on_change: tuple = ()          # `on_change = ["kefu.module:function"]`: what follows a write, in its transaction
    import_created: dict | None = None   # `import_created_at = {en, zh}`: a file's column may give created_at
    path: Path | None = None

    def __post_init__(self):
        self.by_name = {f.name: f for f in self.fields}

    def label_in(self, lang: str) -> str:
        return pick_label(self.label, lang)

    @property
    def searched(self) -> list[str]:
        """The fields the search covers (text fields and refs), in the sheet's field order."""
        names = {*self.search, *self.search_refs}
        return [f.name for f in self.fields if f.name in names]

    @property
    def pii_fields(self) -> list[str]:
        return [f.name for f in self.fields if f.pii]

    def allows(self, role: str, action: str) -> bool:
        return action in self.permissions.get(role, frozenset())

    def validate(self, values: dict, ctx: ft.Context, *, partial: bool = False) -> dict:
        """Parse every given value; on create (partial=False) also demand the required fields."""
        clean, problems = {}, []
        for name, raw in values.items():
            field = self.by_name.get(name)
            if field is None:
                problems.append(Problem(name, "err.unknown_field", {}))
                continue
            try:
                clean[name] = field.parse(raw, ctx)
            except ft.FieldError as exc:
                problems.append(Problem(name, exc.code, exc.params))
                continue
            if clean[name] is None and field.required:
                problems.append(Problem(name, "err.required", {}))
        if not partial:
            for field in self.fields:
                if field.required and field.name not in values:
                    problems.append(Problem(field.name, "err.required", {}))
        if problems:
            raise ValidationError(self, problems)
        return clean

    def cross_check(self, row: dict) -> list[Problem]:
        """Rules between fields of one whole row (after a partial update is merged in)."""
        problems = []
        for field in self.fields:
            other = field.options.get("not_before")
            if other and row.get(field.name) and row.get(other) and row[field.name] < row[other]:
                problems.append(Problem(field.name, "err.before", {"other": other}))
        return problems


def _labels_ok(value) -> bool:
    return label_problem(value) is None


def _parse_field(file: str, raw: dict, problems: list[str]) -> Field | None:
    name = raw.get("name") if isinstance(raw, dict) else None
    if not isinstance(name, str) or not IDENTIFIER.fullmatch(name):
        problems.append(SchemaProblem(file, "sch.bad_field_name", name=repr(name)))
        return None
    where = f"{file}: field '{name}'"
    if name in SYSTEM_COLUMNS:
        problems.append(SchemaProblem(file, "sch.system_name", name))
        return None
    if name in SQL_RESERVED:
        problems.append(SchemaProblem(file, "sch.reserved_word", name, name=name))
        return None
    type_name = raw.get("type")
    if type_name not in ft.TYPES:
        problems.append(SchemaProblem(file, "sch.unknown_type", name, type=repr(type_name), known=", ".join(ft.TYPES)))
        return None
    kind = ft.TYPES[type_name]
    unknown = set(raw) - ft.COMMON_KEYS - kind.extra_keys
    for key in sorted(unknown):
        problems.append(f"{where}: unknown key '{key}' for type {type_name}")
    wrong = label_problem(raw.get("label"))
    if wrong:
        problems.append(SchemaProblem(file, wrong[0], name, **wrong[1]))
    wrong = label_problem(raw["help"], limit=HELP_MAX) if "help" in raw else None
    if wrong:
        problems.append(SchemaProblem(file, "sch.help_both" if wrong[0] == "sch.label_both" else wrong[0], name,
                                      **wrong[1]))
    for flag in ("required", "pii", "index", "unique", "readonly"):
        if flag in raw and not isinstance(raw[flag], bool):
            problems.append(f"{where}: {flag} must be true or false")
    options = {k: v for k, v in raw.items() if k in kind.extra_keys}
    field = Field(name=name, type_name=type_name, label=raw.get("label") or {}, required=raw.get("required", False),
                  pii=raw.get("pii", False), index=raw.get("index", False), unique=raw.get("unique", False),
                  readonly=raw.get("readonly", False), help=raw.get("help"), default=raw.get("default"),
                  options=options)
    for problem in kind.check_declaration(field):
        problems.append(SchemaProblem(file, problem.code, name, **problem.params) if isinstance(problem, ft.Declared)
                        else f"{where}: {problem}")
    for choice in field.choices if isinstance(field.options.get("choices"), list) else []:
        wrong = label_problem(choice if not isinstance(choice, dict) else
                              {k: v for k, v in choice.items() if k in ("en", "zh")})
        if isinstance(choice, dict) and wrong and wrong[0] != "sch.label_both":
            problems.append(SchemaProblem(file, "sch.choice_label", name, value=choice.get("value"), max=LABEL_MAX))
    return field


def _names_in(where: str, key: str, names, known: dict, problems: list[str]) -> list[str]:
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        problems.append(f"{where}: {key} must be a list of field names")
        return []
    for name in names:
        if name not in known and name not in SYSTEM_COLUMNS:
            problems.append(SchemaProblem(where, "sch.names_unknown", what=key, name=name))
    return [n for n in names if n in known or n in SYSTEM_COLUMNS]


def parse_sheet(path: Path, problems: list[str], text: str | None = None) -> Sheet | None:
    """The sheet of one file (or of `text`, what the file would hold), or None with its problems added."""
    where = f"{path.parent.name}/{path.name}"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8") if text is None else text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        problems.append(SchemaProblem(where, "sch.not_toml", error=str(exc)))
        return None
    start = len(problems)
    for key in sorted(set(data) - SHEET_KEYS):
        problems.append(f"{where}: unknown key '{key}'")
    name = data.get("name")
    if name != path.stem:
        problems.append(f"{where}: name = {name!r} must equal the file name '{path.stem}'")
    elif not IDENTIFIER.fullmatch(name) or name.startswith("kefu"):
        problems.append(SchemaProblem(where, "sch.sheet_name", name=name))
    elif name in SQL_RESERVED:
        problems.append(SchemaProblem(where, "sch.reserved_word", name=name))
    wrong = label_problem(data.get("label"))
    if wrong:
        problems.append(SchemaProblem(where, wrong[0], **wrong[1]))
    raw_fields = data.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        problems.append(SchemaProblem(where, "sch.no_fields"))
        raw_fields = []
    fields, seen = [], set()
    for raw in raw_fields:
        field = _parse_field(where, raw, problems)
        if field is None:
            continue
        if field.name in seen:
            problems.append(SchemaProblem(where, "sch.field_twice", name=field.name))
            continue
        seen.add(field.name)
        fields.append(field)
    known = {f.name: f for f in fields}
    for field in fields:
        other = field.options.get("not_before")
        if other is not None and (other not in known or known[other].type_name != field.type_name):
            problems.append(SchemaProblem(where, "sch.not_before", field.name, type=field.type_name))

    permissions = {}
    raw_permissions = data.get("permissions")
    if not isinstance(raw_permissions, dict) or not raw_permissions:
        problems.append(f"{where}: [permissions] must give at least one role its actions")
        raw_permissions = {}
    for role, actions in raw_permissions.items():
        if role not in ROLES:
            problems.append(f"{where}: permissions names unknown role '{role}' (roles: {', '.join(ROLES)})")
            continue
        if not isinstance(actions, list) or not actions:
            problems.append(f"{where}: role '{role}' has no actions")
            continue
        for action in actions:
            if action not in ACTIONS:
                problems.append(f"{where}: role '{role}' has unknown action {action!r} (actions: {', '.join(ACTIONS)})")
        if "read" not in actions:
            problems.append(SchemaProblem(where, "sch.no_read", role=role))
        permissions[role] = frozenset(a for a in actions if a in ACTIONS)

    title = data.get("title") or (fields[0].name if fields else "")
    if fields and title not in known:
        problems.append(SchemaProblem(where, "sch.names_unknown", what="title", name=title))
    order = data.get("order", "-id")
    if not isinstance(order, str) or (order.lstrip("-") not in known and order.lstrip("-") not in SYSTEM_COLUMNS):
        problems.append(SchemaProblem(where, "sch.order_unknown", name=repr(order)))
    listed = _names_in(where, "list", data.get("list", [f.name for f in fields[:6]]), known, problems)
    searched = _names_in(where, "search", data.get("search", []), known, problems)
    for searched_name in searched:
        if searched_name in known and known[searched_name].type_name not in TEXTUAL | {"ref"}:
            problems.append(SchemaProblem(where, "sch.search_not_text", name=searched_name))
    search_refs = [n for n in searched if n in known and known[n].type_name == "ref"]
    searched = [n for n in searched if n not in search_refs]
    default_filters = [f.name for f in fields if f.type_name in FILTERABLE]
    filters = _names_in(where, "filters", data.get("filters", default_filters), known, problems)
    unique = []
    for group in data.get("unique", []):
        unique.append(_names_in(where, "unique", group, known, problems))
    indexes = []                      # more column groups to index, system columns included (reports by period)
    for group in data.get("indexes", []):
        indexes.append(_names_in(where, "indexes", group, known, problems))
    page_size = data.get("page_size", 50)
    if not isinstance(page_size, int) or not 5 <= page_size <= 500:
        problems.append(f"{where}: page_size must be a whole number from 5 to 500")
    row_access = _parse_row_access(where, data.get("row_access"), known, problems)
    approval = _parse_approval(where, data.get("approval"), known, problems)
    pinyin = _names_in(where, "pinyin", data.get("pinyin", []), known, problems)
    for pinyin_name in pinyin:
        if pinyin_name in known and known[pinyin_name].type_name not in ("text", "longtext"):
            problems.append(SchemaProblem(where, "sch.pinyin_not_text", name=pinyin_name))
    if not isinstance(data.get("menu", True), bool):
        problems.append(f"{where}: menu must be true or false")
    period = data.get("period")
    if period is not None and (period not in known or known[period].type_name != "date"):
        problems.append(f"{where}: period must name a date field (the date placing a record in a period)")
    checks = _parse_checks(where, data.get("checks", []), problems)
    importable, import_fill = _parse_import(where, data.get("import", True), problems)
    import_created = data.get("import_created_at")
    if import_created is not None and not (isinstance(import_created, dict) and {"en", "zh"} <= set(import_created)):
        problems.append(f"{where}: import_created_at must be a label {{ en = \"…\", zh = \"…\" }} (the column "
                        f"of a file that gives when each record was made)")
    if len(problems) > start:
        return None
    return Sheet(name=name, label=data["label"], fields=fields, permissions=permissions,
                 icon=data.get("icon", ":material/table:"), title=title, order=order, columns=listed,
                 search=searched, search_refs=search_refs, filters=filters, unique=unique,
                 description=data.get("description"), page_size=page_size, row_access=row_access,
                 approval=approval, pinyin=pinyin, menu=data.get("menu", True), indexes=indexes,
                 period=period, checks=checks, importable=importable, import_fill=import_fill,
                 import_created=import_created, notices=tuple(_parse_checks(where, data.get("notices", []), problems, "notices")),
                 on_change=tuple(_parse_checks(where, data.get("on_change", []), problems, "on_change")),
                 path=path)


def _parse_import(where: str, value, problems: list[str]) -> tuple[bool, object]:
    """`import = false`: no file import into this sheet. `import = "kefu.module:function"`: the sheet's
    own completion of an imported row, fill(store, row) -> row, run inside the import's transaction
    (a member number the engine gives, say)."""
    if isinstance(value, bool):
        return value, None
    if isinstance(value, str):
        found = _parse_checks(where, [value], problems)
        return True, (found[0] if found else None)
    problems.append(f"{where}: import must be true, false or \"kefu.module:function\"")
    return True, None


def _parse_checks(where: str, names, problems: list[str], key: str = "checks") -> list:
    """`checks = ["kefu.incentives:reward_amount"]`: functions of the engine's own modules that check a
    whole row against rules a field cannot express (an amount whose bounds depend on the kind, from a rules
    file). Each is called as check(store, row) and returns Problems; it may complete the row with a value
    the rules fix. `notices = [...]` (key "notices"): functions called as notices(store, actor) that return
    the Notices the register's screen shows above its list (six working days in a row on the roster).
    `on_change = [...]`: functions called as on_change(store, actor, changes) after each write of the sheet,
    inside its transaction, with (before, after) of each record written (before None for a new one; after
    with deleted_at set for a deletion): what the engine keeps in step with the register (the open tickets'
    due times when the SLA clock follows the roster)."""
    if not isinstance(names, list):
        problems.append(f"{where}: {key} must be a list of \"kefu.module:function\"")
        return []
    found = []
    for name in names:
        module, _, function = name.partition(":") if isinstance(name, str) else ("", "", "")
        if not module.startswith("kefu.") or not function:
            problems.append(f"{where}: {key.removesuffix('s')} {name!r} must be \"kefu.module:function\"")
            continue
        try:
            check = getattr(importlib.import_module(module), function)
        except (ImportError, AttributeError):
            problems.append(f"{where}: {key.removesuffix('s')} {name!r} is not a function of the engine")
            continue
        found.append(check)
    return found


def _roles(where: str, key: str, value, problems: list[str]) -> frozenset:
    if not isinstance(value, list) or any(r not in ROLES for r in value):
        problems.append(f"{where}: {key} must be a list of roles ({', '.join(ROLES)})")
        return frozenset()
    return frozenset(value)


def _section(where: str, raw, keys: set, problems: list[str]) -> bool:
    """A [table] of the sheet file: a table, with known keys only (each unknown one reported)."""
    if not isinstance(raw, dict):
        problems.append(f"{where} must be a table")
        return False
    for key in sorted(set(raw) - keys):
        problems.append(f"{where} unknown key '{key}'")
    return True


def _parse_row_access(where: str, raw, known: dict, problems: list[str]) -> RowAccess | None:
    where = f"{where}: [row_access]"
    if raw is None or not _section(where, raw, ROW_ACCESS_KEYS, problems):
        return None
    owner, via = raw.get("owner"), raw.get("via")
    if (owner is None) == (via is None):
        problems.append(f"{where} needs exactly one of owner (a user field) or via (a ref field)")
    if owner is not None and (owner not in known or known[owner].type_name != "user"):
        problems.append(f"{where} owner must name a user field")
    if via is not None and (via not in known or known[via].type_name != "ref"):
        problems.append(f"{where} via must name a ref field")
    days = raw.get("max_grant_days", 90)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3660:
        problems.append(f"{where} max_grant_days must be a whole number of days from 1 to 3660")
        days = 90
    exporters = raw.get("exporters")
    return RowAccess(owner=owner, via=via, see_all=_roles(where, "see_all", raw.get("see_all", []), problems),
                     grantors=_roles(where, "grantors", raw.get("grantors", []), problems),
                     exporters=None if exporters is None else _roles(where, "exporters", exporters, problems),
                     max_grant_days=days)


def _parse_approval(where: str, raw, known: dict, problems: list[str]) -> Approval | None:
    where = f"{where}: [approval]"
    if raw is None or not _section(where, raw, APPROVAL_KEYS, problems):
        return None
    for key in sorted(APPROVAL_KEYS - set(raw)):
        problems.append(f"{where} missing key '{key}'")
    if set(APPROVAL_KEYS) - set(raw):
        return None
    state = known.get(raw["field"])
    if state is None or state.type_name != "choice":
        problems.append(f"{where} field must name a choice field")
    elif not {raw["draft"], raw["approved"]} <= {c["value"] for c in state.choices}:
        problems.append(f"{where} draft and approved must be values of the choice field '{raw['field']}'")
    if raw["by"] not in known or known[raw["by"]].type_name != "user":
        problems.append(f"{where} by must name a user field")
    if raw["at"] not in known or known[raw["at"]].type_name != "datetime":
        problems.append(f"{where} at must name a datetime field")
    for name in (raw["field"], raw["by"], raw["at"]):
        if name in known and not known[name].readonly:
            problems.append(f"{where} field '{name}' must be readonly: only approval sets it")
    return Approval(field=raw["field"], draft=raw["draft"], approved=raw["approved"], by=raw["by"], at=raw["at"],
                    roles=_roles(where, "roles", raw["roles"], problems))


def load_sheets(directory: Path | None = None, texts: dict[str, str] | None = None) -> dict[str, Sheet]:
    """Every schema/*.toml as a Sheet, in file-name order; SchemaError lists all problems at once.
    texts: file name (without .toml) -> the text that file would hold, read in place of the file on disk
    (or as a new file): a register checked with all the others before it is written."""
    directory = directory or schema_dir()
    texts = texts or {}
    problems: list[str] = []
    sheets: dict[str, Sheet] = {}
    paths = {path.stem: path for path in directory.glob("*.toml")}
    paths.update({name: directory / f"{name}.toml" for name in texts})
    for stem in sorted(paths):
        sheet = parse_sheet(paths[stem], problems, texts.get(stem))
        if sheet is not None:
            sheets[sheet.name] = sheet
    for sheet in sheets.values():
        for field in sheet.fields:
            if field.type_name == "ref" and field.ref_sheet not in sheets:
                problems.append(SchemaProblem(f"{directory.name}/{sheet.path.name}", "sch.ref_missing", field.name,
                                              sheet=field.ref_sheet))
    for sheet in sheets.values():
        for name in sheet.search_refs:
            target = sheets.get(sheet.by_name[name].ref_sheet)
            if target is not None and not target.search:
                problems.append(f"{directory.name}/{sheet.path.name}: search names ref field '{name}' but sheet "
                                f"'{target.name}' has no search of its own")
    for sheet in sheets.values():
        via = sheet.row_access.via if sheet.row_access else None
        if via and sheet.by_name[via].ref_sheet in sheets and sheets[sheet.by_name[via].ref_sheet].row_access is None:
            problems.append(f"{directory.name}/{sheet.path.name}: [row_access] via '{via}' points to a sheet "
                            f"without [row_access]")
    if not sheets and not problems:
        problems.append(f"{directory}: no sheet files (*.toml)")
    if problems:
        raise SchemaError(problems)
    return sheets
