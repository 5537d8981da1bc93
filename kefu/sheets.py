"""Load schema/*.toml into Sheet and Field objects; a bad declaration fails at start-up.

`load_sheets()` returns every sheet or raises SchemaError listing one line per problem, each naming
the file, the field and what is wrong. `Sheet.validate()` turns raw input into stored values or
raises ValidationError naming each bad field.
"""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field as dc_field
from pathlib import Path

from kefu import fields as ft
from kefu.config import ROOT
from kefu.i18n import label as pick_label, t

ROLES = ("staff", "supervisor", "manager", "gm", "finance", "admin")
ACTIONS = ("read", "create", "update", "delete", "export", "pii")
SYSTEM_COLUMNS = ("id", "created_at", "created_by", "updated_at", "updated_by", "deleted_at", "deleted_by", "version")
SHEET_KEYS = {"name", "label", "icon", "title", "order", "list", "search", "filters", "unique", "permissions",
              "fields", "description", "page_size"}
IDENTIFIER = re.compile(r"[a-z][a-z0-9_]{0,39}")
TEXTUAL = {"text", "longtext", "phone", "email", "url"}
FILTERABLE = {"choice", "multichoice", "date", "datetime", "user", "bool", "rating"}


def schema_dir() -> Path:
    """schema/ beside the code; KEFU_SCHEMA points elsewhere (tests, a second office)."""
    return Path(os.environ.get("KEFU_SCHEMA", ROOT / "schema"))


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
    search: list[str] = dc_field(default_factory=list)
    filters: list[str] = dc_field(default_factory=list)
    unique: list[list[str]] = dc_field(default_factory=list)
    description: dict | None = None
    page_size: int = 50
    path: Path | None = None

    def __post_init__(self):
        self.by_name = {f.name: f for f in self.fields}

    def label_in(self, lang: str) -> str:
        return pick_label(self.label, lang)

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
    return isinstance(value, dict) and bool(value.get("en")) and bool(value.get("zh")) and set(value) <= {"en", "zh"}


def _parse_field(where: str, raw: dict, problems: list[str]) -> Field | None:
    name = raw.get("name")
    if not isinstance(name, str) or not IDENTIFIER.fullmatch(name):
        problems.append(f"{where}: field name {name!r} must be lower-case letters, digits and _ (starting with a letter)")
        return None
    where = f"{where}: field '{name}'"
    if name in SYSTEM_COLUMNS:
        problems.append(f"{where}: the name is reserved for the engine's own column")
        return None
    type_name = raw.get("type")
    if type_name not in ft.TYPES:
        problems.append(f"{where}: unknown type {type_name!r} (known: {', '.join(ft.TYPES)})")
        return None
    kind = ft.TYPES[type_name]
    unknown = set(raw) - ft.COMMON_KEYS - kind.extra_keys
    for key in sorted(unknown):
        problems.append(f"{where}: unknown key '{key}' for type {type_name}")
    if not _labels_ok(raw.get("label")):
        problems.append(f"{where}: label needs both en and zh, as label = {{ en = \"…\", zh = \"…\" }}")
    if "help" in raw and not _labels_ok(raw["help"]):
        problems.append(f"{where}: help needs both en and zh")
    for flag in ("required", "pii", "index", "unique", "readonly"):
        if flag in raw and not isinstance(raw[flag], bool):
            problems.append(f"{where}: {flag} must be true or false")
    options = {k: v for k, v in raw.items() if k in kind.extra_keys}
    field = Field(name=name, type_name=type_name, label=raw.get("label") or {}, required=raw.get("required", False),
                  pii=raw.get("pii", False), index=raw.get("index", False), unique=raw.get("unique", False),
                  readonly=raw.get("readonly", False), help=raw.get("help"), default=raw.get("default"),
                  options=options)
    for problem in kind.check_declaration(field):
        problems.append(f"{where}: {problem}")
    return field


def _names_in(where: str, key: str, names, known: dict, problems: list[str]) -> list[str]:
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        problems.append(f"{where}: {key} must be a list of field names")
        return []
    for name in names:
        if name not in known and name not in SYSTEM_COLUMNS:
            problems.append(f"{where}: {key} names unknown field '{name}'")
    return [n for n in names if n in known or n in SYSTEM_COLUMNS]


def parse_sheet(path: Path, problems: list[str]) -> Sheet | None:
    where = f"{path.parent.name}/{path.name}"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        problems.append(f"{where}: not valid TOML ({exc})")
        return None
    start = len(problems)
    for key in sorted(set(data) - SHEET_KEYS):
        problems.append(f"{where}: unknown key '{key}'")
    name = data.get("name")
    if name != path.stem:
        problems.append(f"{where}: name = {name!r} must equal the file name '{path.stem}'")
    elif not IDENTIFIER.fullmatch(name) or name.startswith("kefu"):
        problems.append(f"{where}: name '{name}' must be lower-case letters, digits and _, not starting with 'kefu'")
    if not _labels_ok(data.get("label")):
        problems.append(f"{where}: label needs both en and zh")
    raw_fields = data.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        problems.append(f"{where}: no [[fields]] declared")
        raw_fields = []
    fields, seen = [], set()
    for raw in raw_fields:
        field = _parse_field(where, raw, problems)
        if field is None:
            continue
        if field.name in seen:
            problems.append(f"{where}: field '{field.name}' is declared twice")
            continue
        seen.add(field.name)
        fields.append(field)
    known = {f.name: f for f in fields}
    for field in fields:
        other = field.options.get("not_before")
        if other is not None and (other not in known or known[other].type_name != field.type_name):
            problems.append(f"{where}: field '{field.name}': not_before must name another {field.type_name} field")

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
            problems.append(f"{where}: role '{role}' has actions but not 'read'")
        permissions[role] = frozenset(a for a in actions if a in ACTIONS)

    title = data.get("title") or (fields[0].name if fields else "")
    if fields and title not in known:
        problems.append(f"{where}: title names unknown field '{title}'")
    order = data.get("order", "-id")
    if not isinstance(order, str) or (order.lstrip("-") not in known and order.lstrip("-") not in SYSTEM_COLUMNS):
        problems.append(f"{where}: order names unknown field {order!r}")
    listed = _names_in(where, "list", data.get("list", [f.name for f in fields[:6]]), known, problems)
    searched = _names_in(where, "search", data.get("search", []), known, problems)
    for searched_name in searched:
        if searched_name in known and known[searched_name].type_name not in TEXTUAL:
            problems.append(f"{where}: search field '{searched_name}' is not text")
    default_filters = [f.name for f in fields if f.type_name in FILTERABLE]
    filters = _names_in(where, "filters", data.get("filters", default_filters), known, problems)
    unique = []
    for group in data.get("unique", []):
        unique.append(_names_in(where, "unique", group, known, problems))
    page_size = data.get("page_size", 50)
    if not isinstance(page_size, int) or not 5 <= page_size <= 500:
        problems.append(f"{where}: page_size must be a whole number from 5 to 500")
    if len(problems) > start:
        return None
    return Sheet(name=name, label=data["label"], fields=fields, permissions=permissions,
                 icon=data.get("icon", ":material/table:"), title=title, order=order, columns=listed,
                 search=searched, filters=filters, unique=unique, description=data.get("description"),
                 page_size=page_size, path=path)


def load_sheets(directory: Path | None = None) -> dict[str, Sheet]:
    """Every schema/*.toml as a Sheet, in file-name order; SchemaError lists all problems at once."""
    directory = directory or schema_dir()
    problems: list[str] = []
    sheets: dict[str, Sheet] = {}
    for path in sorted(directory.glob("*.toml")):
        sheet = parse_sheet(path, problems)
        if sheet is not None:
            sheets[sheet.name] = sheet
    for sheet in sheets.values():
        for field in sheet.fields:
            if field.type_name == "ref" and field.ref_sheet not in sheets:
                problems.append(f"{directory.name}/{sheet.path.name}: field '{field.name}': "
                                f"ref to missing sheet '{field.ref_sheet}'")
    if not sheets and not problems:
        problems.append(f"{directory}: no sheet files (*.toml)")
    if problems:
        raise SchemaError(problems)
    return sheets
