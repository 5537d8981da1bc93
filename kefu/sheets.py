"""Load schema/*.toml into Sheet and Field objects; a bad declaration fails at start-up.

`load_sheets()` returns every sheet or raises SchemaError listing one line per problem, each naming
the file, the field and what is wrong. `Sheet.validate()` turns raw input into stored values or
raises ValidationError naming each bad field.
"""
from __future__ import annotations

import importlib
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
SYSTEM_COLUMNS = ("id", "created_at", "created_by", "updated_at", "updated_by", "deleted_at", "deleted_by", "version",
                  "search_pinyin")
SHEET_KEYS = {"name", "label", "icon", "title", "order", "list", "search", "filters", "unique", "permissions",
              "fields", "description", "page_size", "row_access", "approval", "pinyin", "menu", "indexes", "period",
              "checks", "import", "import_created_at"}
ROW_ACCESS_KEYS = {"owner", "see_all", "via", "grantors"}
APPROVAL_KEYS = {"field", "draft", "approved", "by", "at", "roles"}
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
        if searched_name in known and known[searched_name].type_name not in TEXTUAL | {"ref"}:
            problems.append(f"{where}: search field '{searched_name}' is not text (or a ref: the referenced "
                            f"record's search)")
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
            problems.append(f"{where}: pinyin field '{pinyin_name}' is not text")
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
                 import_created=import_created, path=path)


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


def _parse_checks(where: str, names, problems: list[str]) -> list:
    """`checks = ["kefu.incentives:reward_amount"]`: functions of the engine's own modules that check a
    whole row against rules a field cannot express (an amount whose bounds depend on the kind, from a rules
    file). Each is called as check(store, row) and returns Problems; it may complete the row with a value
    the rules fix."""
    if not isinstance(names, list):
        problems.append(f"{where}: checks must be a list of \"kefu.module:function\"")
        return []
    found = []
    for name in names:
        module, _, function = name.partition(":") if isinstance(name, str) else ("", "", "")
        if not module.startswith("kefu.") or not function:
            problems.append(f"{where}: check {name!r} must be \"kefu.module:function\"")
            continue
        try:
            check = getattr(importlib.import_module(module), function)
        except (ImportError, AttributeError):
            problems.append(f"{where}: check {name!r} is not a function of the engine")
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
    return RowAccess(owner=owner, via=via, see_all=_roles(where, "see_all", raw.get("see_all", []), problems),
                     grantors=_roles(where, "grantors", raw.get("grantors", []), problems))


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
