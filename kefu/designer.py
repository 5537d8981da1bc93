"""The register designer's engine (screen 表单设计, `python -m kefu sheet ...`): a register's declaration as
data, written back as its schema/<name>.toml, checked by the sheet loader and against the stored records,
applied live with its migration, versioned and restorable.

- `to_toml(data, base_text)`: the file's text for a declaration. An existing file is edited in place
  (tomlkit: its comments and layout kept, only what changed rewritten); unchanged, it is the same bytes.
- `check` / `apply`: the text goes through kefu/sheets.py's own loader with every other register (one
  parser, one set of errors), the fields the engine's code relies on are kept (LOCKED), the stored records
  are checked by the migration planner (kefu/store.py, kefu/dataloss.py). `apply` then writes the file
  (temporary file + rename), migrates the table and records the version in one transaction; if anything
  fails the file is put back. A file changed on disk since the designer read it is not overwritten: the
  refusal carries the difference.
- `refresh(store)`: each run of every session asks one small question (kefu_meta `schema_version`) and
  reloads the registers when another session or process applied a change: no restart.
"""
from __future__ import annotations

import difflib
import json
import os
import tempfile
import threading
import tomllib
from dataclasses import dataclass, field as dc_field
from pathlib import Path

import tomlkit

from kefu import auth, dataloss, versions
from kefu.errors import PermissionDenied
from kefu.i18n import t
from kefu.sheets import ROLES, SchemaError, SchemaProblem, Sheet, load_sheets, name_problem, say, schema_dir

SCHEMA_VERSION_KEY = "schema_version"

# Registers whose Python code reads or writes these fields: they may get new fields and new labels, but these
# fields cannot be removed or change type, nor lose a choice (the code names choice values). Found by reading
# the modules named; a field the code does not name can be changed freely.
LOCKED: dict[str, tuple[str, tuple[str, ...]]] = {
    "tickets": ("kefu/tickets.py, kefu/workflow.py, kefu/sla.py, kefu/kpi.py, kefu/reports.py",
                ("ticket_no", "caller_phone", "caller_name", "channel", "kind", "category", "severity",
                 "group_complaint", "customer", "claim_amount", "subject", "description", "state", "first_responder",
                 "assignee", "escalated", "response_due", "resolution_due", "responded_at", "resolved_at",
                 "response_hours", "resolution_hours", "closed_at", "acknowledged_by", "acknowledged_at",
                 "satisfaction", "follow_up_note", "fault_staff", "fault_reason")),
    "ticket_events": ("kefu/tickets.py, kefu/workflow.py", ("ticket", "step", "from_state", "to_state", "comment")),
    "customers": ("kefu/customers.py, kefu/tickets.py, kefu/kpi.py",
                  ("code", "name", "kind", "contact", "phone", "mobile", "email", "address", "region", "owner",
                   "status", "approved_by", "approved_at")),
    "transactions": ("kefu/customers.py", ("customer", "traded_on", "amount")),
    "relationship_log": ("kefu/customers.py, kefu/club.py", ("customer", "contact_on", "kind", "staff", "summary",
                                                              "next_follow_up")),
    "business_changes": ("kefu/customers.py, kefu/reports.py", ("customer", "kind", "requested_at", "done_at",
                                                                 "staff")),
    "visitors": ("kefu/visitors.py, kefu/privacy.py, kefu/kpi.py",
                 ("visitor_name", "phone", "id_number", "purpose", "host", "appointment_at", "arrived_at", "left_at",
                  "party_size")),
    "members": ("kefu/club.py, kefu/kpi.py", ("member_no", "customer", "tier", "status", "joined_on", "birthday",
                                              "renewal_on")),
    "points": ("kefu/club.py", ("member", "booked_on", "kind", "points", "reason")),
    "partners": ("kefu/club.py", ("name", "benefit", "tiers", "valid_from", "valid_to")),
    "events": ("kefu/events.py", ("title", "starts_at", "capacity")),
    "event_signups": ("kefu/events.py", ("event", "member", "status", "position")),
    "surveys": ("kefu/surveys.py, kefu/kpi.py", ("taken_at", "member", "service", "price", "overall", "channel",
                                                 "taken_by")),
    "corrective_actions": ("kefu/surveys.py", ("period", "question", "average", "action")),
    "knowledge": ("kefu/knowledge.py", ("question", "answer", "category", "kind", "ticket")),
    "spot_checks": ("kefu/tickets.py, kefu/kpi.py", ("week", "ticket", "staff", "result")),
    "kpi_reviews": ("kefu/kpi.py", ("staff", "year", "quarter", "skill_pass_rate", "process_improvement",
                                    "internal_satisfaction", "report_timeliness", "mbo")),
    "department_reviews": ("kefu/kpi.py", ("year", "quarter", "process_improvement", "internal_satisfaction",
                                           "report_timeliness")),
    "staff_teams": ("kefu/kpi.py", ("staff", "team")),
    "service_points": ("kefu/incentives.py", ("staff", "done_on", "project_type", "own_fault_repeat")),
    "safety_incidents": ("kefu/incentives.py", ("staff", "happened_on")),
    "rewards_penalties": ("kefu/incentives.py, kefu/tickets.py", ("staff", "happened_on", "kind", "amount", "approved",
                                                                  "ticket")),
    "parts_sales": ("kefu/incentives.py", ("staff", "sold_on", "margin", "amount", "paid_on")),
    "roster": ("views/home.py", ("duty_date", "staff", "shift")),
}

TOP_KEYS = ("name", "label", "description", "icon", "title", "order", "list", "search", "pinyin", "filters", "unique",
            "indexes", "page_size", "menu", "period", "checks", "import", "import_created_at")
FIELD_KEYS = ("name", "type", "label", "help", "required", "pii", "unique", "index", "readonly", "max_length",
              "pattern", "placeholder", "min", "max", "step", "choices", "sheet", "not_before", "not_after", "default")


def locked(name: str) -> tuple[str, tuple[str, ...]] | None:
    """(the modules relying on it, its locked fields) for a register the engine's code depends on."""
    return LOCKED.get(name)


# -- the file's text ------------------------------------------------------------------------------------
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _string(value: str) -> str:
    """A TOML basic string on one line: quotes, backslashes and control characters escaped."""
    return '"' + "".join(_ESCAPES.get(c) or (f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7f else c)
                         for c in value) + '"'


def _plain(item):
    return item.unwrap() if hasattr(item, "unwrap") else item


def _text(value) -> str:
    """One value in the hand-written files' style: inline tables with spaces, lists on one line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (int, float)):
        return tomlkit.item(value).as_string()
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_text(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r}")


def _choices_text(choices: list[dict]) -> str:
    """choices = [ one choice a line, aligned, like the hand-written files ]."""
    rows = [[f"value = {_string(c['value'])},", f"en = {_string(c.get('en', ''))},", f"zh = {_string(c.get('zh', ''))}"]
            for c in choices]
    widths = [max(len(r[i]) for r in rows) for i in range(2)] if rows else [0, 0]
    lines = ["  { " + rows[i][0].ljust(widths[0]) + " " + rows[i][1].ljust(widths[1]) + " " + rows[i][2] + " },"
             for i in range(len(rows))]
    return "[\n" + "\n".join(lines) + "\n]"


def _value_text(key: str, value) -> str:
    if key == "choices" and isinstance(value, list) and all(isinstance(c, dict) for c in value):
        return _choices_text(value)
    return _text(value)


def _ordered(data: dict, keys: tuple) -> list:
    return [k for k in keys if k in data] + [k for k in data if k not in keys]


def _permissions_text(permissions: dict) -> str:
    width = max((len(r) for r in permissions), default=0)
    ordered = [r for r in ROLES if r in permissions] + [r for r in permissions if r not in ROLES]
    return "\n".join(f"{role.ljust(width)} = {_text(list(permissions[role]))}" for role in ordered)


def _fresh(data: dict) -> str:
    """A new register's file, laid out and commented like the hand-written ones."""
    label = data.get("label") or {}
    said = {k: " ".join(str(v).split()) for k, v in label.items()} if isinstance(label, dict) else {}
    lines = [f"# {said.get('zh', '')} — {said.get('en', '')}. Designed on the screen 表单设计 (Register designer);",
             "# every saved version is kept in the database (python -m kefu sheet history " + str(data.get("name")) + ").",
             ]
    for key in _ordered(data, TOP_KEYS):
        if key in ("fields", "permissions", "row_access", "approval"):
            continue
        lines.append(f"{key} = {_value_text(key, data[key])}")
    if "permissions" in data:
        lines += ["", "[permissions]                # role -> read, create, update, delete, export, pii",
                  _permissions_text(data["permissions"])]
    for section in ("row_access", "approval"):
        if section in data:
            lines += ["", f"[{section}]"] + [f"{k} = {_text(v)}" for k, v in data[section].items()]
    for raw in data.get("fields", []):
        lines += ["", "[[fields]]"] + [f"{k} = {_value_text(k, raw[k])}" for k in _ordered(raw, FIELD_KEYS)]
    return "\n".join(lines) + "\n"


def _set(table, key: str, value) -> None:
    table[key] = tomlkit.value(_value_text(key, value))


def _edited(data: dict, base_text: str) -> str:
    """The hand-written file with only what changed rewritten: comments, alignment and order kept."""
    doc = tomlkit.parse(base_text)
    for key in [k for k in doc if k not in data]:
        del doc[key]
    for key in _ordered(data, TOP_KEYS):
        if key == "fields":
            continue
        if key in doc and _plain(doc[key]) == data[key]:
            continue
        if key == "permissions":
            doc[key] = tomlkit.parse("[permissions]\n" + _permissions_text(data[key]) + "\n")["permissions"]
        elif isinstance(data[key], dict) and key in ("row_access", "approval"):
            section = tomlkit.table()
            for k, v in data[key].items():
                _set(section, k, v)
            doc[key] = section
        else:
            _set(doc, key, data[key])
    old_tables = {t.get("name"): t for t in doc.get("fields", [])}
    new_fields = data.get("fields", [])
    if [t.unwrap() for t in doc.get("fields", [])] != new_fields:
        tables = []
        for raw in new_fields:
            table = old_tables.get(raw.get("name"))
            if table is None:
                table = tomlkit.table()
            elif table.unwrap() == raw:
                tables.append(table)
                continue
            for key in [k for k in table if k not in raw]:
                del table[key]
            for key in _ordered(raw, FIELD_KEYS):
                if key not in table or _plain(table[key]) != raw[key]:
                    _set(table, key, raw[key])
            tables.append(table)
        if "fields" in doc:
            del doc["fields"]
        array = tomlkit.aot()
        for table in tables:
            array.append(table)
        doc.append("fields", array)
    text = tomlkit.dumps(doc)
    while "\n\n\n" in text:                   # tables moved about bring their blank line with them
        text = text.replace("\n\n\n", "\n\n")
    return text


def to_toml(data: dict, base_text: str | None = None) -> str:
    """The sheet file's text for `data` (a declaration as tomllib reads it). base_text: the file as it is
    (kept byte for byte when data is what it already says; otherwise edited in place)."""
    if base_text is not None:
        try:
            if tomllib.loads(base_text) == data:
                return base_text
            text = _edited(data, base_text)
            if tomllib.loads(text) == data:
                return text
        except (tomllib.TOMLDecodeError, tomlkit.exceptions.TOMLKitError, ValueError):
            pass                                # a broken file on disk: written anew
    text = _fresh(data)
    if tomllib.loads(text) != data:             # a value our writer cannot say: never write a different register
        raise ValueError("the register cannot be written as TOML as it is")
    return text


def declaration(sheet_or_text) -> dict:
    """The declaration as data, from a file's text."""
    return tomllib.loads(sheet_or_text)


# -- reading what is on disk ----------------------------------------------------------------------------
def path_of(name: str, directory: Path | None = None) -> Path:
    return (directory or schema_dir()) / f"{name}.toml"


def current_text(name: str, directory: Path | None = None) -> str | None:
    path = path_of(name, directory)
    return path.read_text(encoding="utf-8") if path.exists() else None


def diff(old: str | None, new: str | None, name: str, *, old_label: str = "before", new_label: str = "after") -> str:
    """The unified difference between two texts of schema/<name>.toml."""
    return "".join(difflib.unified_diff((old or "").splitlines(keepends=True), (new or "").splitlines(keepends=True),
                                        fromfile=f"{name}.toml ({old_label})", tofile=f"{name}.toml ({new_label})"))


# -- checking and applying --------------------------------------------------------------------------------
class DesignRefused(Exception):
    """The register was not saved. kind: "invalid" (the loader's problems), "exists" (the name is taken),
    "locked" (a field the code relies on), "data" (stored records break it), "conflict" (the file changed on
    disk since it was read; `diff` shows how). problems: lines with in_lang(lang)."""

    def __init__(self, kind: str, problems: list, *, diff: str = ""):
        super().__init__("\n".join(str(p) for p in problems))
        self.kind, self.problems, self.diff = kind, problems, diff

    def messages(self, lang: str, labels: dict | None = None) -> list[str]:
        labels = labels or {}
        out = []
        for problem in self.problems:
            field = getattr(problem, "field", None)
            if hasattr(problem, "ids"):                     # a data refusal: say the field by its label
                out.append(problem.in_lang(lang, labels.get(field)))
            else:
                out.append(say(problem, lang))
        return out


@dataclass
class Plan:
    """What saving a register does (or did): the file's new text and its difference from the file on disk,
    the migration's steps, and the version recorded."""
    name: str
    text: str
    diff: str
    steps: list[str] = dc_field(default_factory=list)
    sheet: Sheet | None = None
    version: versions.Version | None = None
    applied: bool = False
    unchanged: bool = False


def _may_design(actor) -> None:
    if actor is None or not (actor.role == "system" or auth.can_view(actor, "designer")):
        raise PermissionDenied()


def _name_of(text: str, fallback: str) -> str:
    try:
        name = tomllib.loads(text).get("name")
    except tomllib.TOMLDecodeError:
        return fallback
    return name if isinstance(name, str) and name else fallback


def _locked_problems(where: str, name: str, current: dict | None, text: str) -> list:
    """current: the register's fields as last migrated (kefu/dataloss.py `declared`); text: the new file.
    Asked before the loader, so removing a field the code relies on is refused for that reason first."""
    found = locked(name)
    if found is None or not current:
        return []
    try:
        raw = tomllib.loads(text).get("fields")
    except tomllib.TOMLDecodeError:
        return []                               # the loader says what is wrong with the file
    fields = {f.get("name"): f for f in raw if isinstance(f, dict)} if isinstance(raw, list) else {}
    modules, names = found
    problems = []
    for locked_name in names:
        before = current.get(locked_name)
        if before is None:
            continue
        after = fields.get(locked_name)
        if after is None:
            problems.append(SchemaProblem(where, "dz.locked_removed", locked_name, modules=modules))
        elif after.get("type") != before["type"] or after.get("sheet") != before["options"].get("sheet"):
            problems.append(SchemaProblem(where, "dz.locked_retyped", locked_name, modules=modules))
        else:
            kept = {c.get("value") for c in after.get("choices") or [] if isinstance(c, dict)}
            gone = [c["value"] for c in before["options"].get("choices", []) if c["value"] not in kept]
            if gone:
                problems.append(SchemaProblem(where, "dz.locked_choice", locked_name, modules=modules,
                                              values=", ".join(gone)))
    for field_name, field in fields.items():
        if field_name not in current and field.get("required") and field.get("default") is None:
            problems.append(SchemaProblem(where, "dz.locked_required", field_name, modules=modules))
    return problems


def _last_migrated(store, name: str) -> dict | None:
    """The register's fields as the database was last migrated to (or as the store has them)."""
    raw = _meta(store.conn, f"decl:{name}")
    if raw is not None:
        return json.loads(raw)
    return dataloss.declared(store.sheets[name]) if name in store.sheets else None


def _write_atomically(path: Path, text: str) -> None:
    """The whole new text or the old file, never half of one: a temporary file beside it, then a rename."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".toml.tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _put_back(path: Path, old: str | None) -> None:
    if old is None:
        path.unlink(missing_ok=True)
    else:
        _write_atomically(path, old)


def apply(store, actor, text: str, *, name: str | None = None, base_text: str | None = None, new: bool = False,
          dry_run: bool = False, note: str = "", check_base: bool = True, directory: Path | None = None) -> Plan:
    """Check the register file `text` and, unless dry_run, save it and migrate its table, all or nothing.

    base_text: the file's text the designer started from (None with new=True: a new register). With
    check_base, a file on disk that differs from it is a conflict (DesignRefused "conflict" with the diff)."""
    _may_design(actor)
    directory = directory or schema_dir()
    name = name if name is not None else _name_of(text, "")
    where = f"{directory.name}/{name or '?'}.toml"
    wrong = name_problem(name)
    if wrong:
        raise DesignRefused("invalid", [SchemaProblem(where, wrong[0], **wrong[1])])
    if name.startswith("kefu"):
        raise DesignRefused("invalid", [SchemaProblem(where, "sch.sheet_name", name=name)])
    on_disk = current_text(name, directory) if name else None
    if new and on_disk is not None:
        raise DesignRefused("exists", [SchemaProblem(where, "dz.exists", name=name)],
                            diff=diff(None, on_disk, name, old_label="—", new_label="on disk"))
    if check_base and not new and on_disk != base_text:
        raise DesignRefused("conflict", [SchemaProblem(where, "dz.conflict")],
                            diff=diff(base_text, on_disk, name, old_label="opened", new_label="on disk now"))
    problems = _locked_problems(where, name, _last_migrated(store, name), text)
    if problems:
        raise DesignRefused("locked", problems)
    try:
        candidate = load_sheets(directory, texts={name: text})
    except SchemaError as exc:
        mine = [p for p in exc.problems if str(p).startswith(where)]
        raise DesignRefused("invalid", mine or exc.problems) from None
    sheet = candidate[name]
    plan = Plan(name=name, text=text, diff=diff(on_disk, text, name, old_label="saved", new_label="new"), sheet=sheet,
                unchanged=on_disk == text)
    path = path_of(name, directory)
    with _apply_lock, store.transaction() as conn:
        now_on_disk = current_text(name, directory)            # read again inside the write lock: a save between
        if now_on_disk != on_disk:                             # the first look and now is a conflict too
            raise DesignRefused("conflict", [SchemaProblem(where, "dz.conflict")],
                                diff=diff(on_disk, now_on_disk, name, old_label="opened", new_label="on disk now"))
        steps, refusals = [], []
        store._plan_sheet(conn, sheet, steps, refusals)
        if refusals:
            raise DesignRefused("data", refusals)
        plan.steps = [d for d, _ in steps if d]
        if dry_run:
            return plan
        shadow = _shadow(store, candidate, conn)
        _write_atomically(path, text)
        try:
            plan.steps = shadow.migrate()
            last = versions.latest(store, "sheet", name)
            if last is None or last.body != text:          # a file edited in place and applied: kept once
                plan.version = versions.record(store, conn, actor, "sheet", name, text, previous=on_disk, note=note)
            bumped = (int(_meta(conn, SCHEMA_VERSION_KEY) or 0) + 1)
            conn.execute("INSERT OR REPLACE INTO kefu_meta(key, value) VALUES (?, ?)", (SCHEMA_VERSION_KEY, str(bumped)))
        except BaseException:
            _put_back(path, on_disk)
            raise
        finally:
            shadow._local.conn = None                            # the connection is the store's: not closed here
    with _reload_lock:
        store.sheets = candidate
        store.schema_version = str(bumped)
    plan.applied = True
    return plan


def _shadow(store, sheets: dict, conn):
    """The store over the candidate registers, on the caller's connection (so inside its transaction)."""
    shadow = type(store)(store.location, sheets, store.settings)
    shadow._local.conn = conn
    return shadow


def _meta(conn, key: str) -> str | None:
    row = conn.execute("SELECT value FROM kefu_meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


_apply_lock = threading.Lock()            # one save at a time in this process (the transaction: across processes)
_reload_lock = threading.Lock()


def mark_current(store) -> None:
    """The store's registers are those of the files now: remember the schema version they match."""
    store.schema_version = _meta(store.conn, SCHEMA_VERSION_KEY)


def refresh(store, directory: Path | None = None) -> bool:
    """Reload the registers when a register was saved since they were read (in any process); True if so.
    One small read a run; the reload itself happens once per change, under a lock, and swaps the whole
    dict of sheets, so a session running meanwhile sees either the old registers or the new ones."""
    seen = getattr(store, "schema_version", None)
    now = _meta(store.conn, SCHEMA_VERSION_KEY)
    if now == seen:
        return False
    with _reload_lock:
        if getattr(store, "schema_version", None) == now:
            return False
        try:
            sheets = load_sheets(directory)
        except SchemaError:
            store.schema_version = now        # a file broken by hand: keep the registers in use, say so at restart
            return False
        store.sheets = sheets
        store.schema_version = now
    return True


# -- history and restore -------------------------------------------------------------------------------------
def history(store, name: str) -> list[versions.Version]:
    return versions.history(store, "sheet", name)


def compare(store, name: str, version: int) -> str:
    """The difference between a saved version and the one before it (the hand-written file for version 1)."""
    this = versions.get(store, "sheet", name, version)
    if this is None:
        raise DesignRefused("invalid", [SchemaProblem(f"{name}.toml", "dz.no_version", version=version)])
    before = versions.get(store, "sheet", name, version - 1)
    return diff(before.body if before else None, this.body, name, old_label=f"v{version - 1}" if before else "—",
                new_label=f"v{version}")


def restore(store, actor, name: str, version: int, *, dry_run: bool = False, directory: Path | None = None) -> Plan:
    """Save an earlier version again, as a new version: checked against the stored records like any change."""
    _may_design(actor)
    saved = versions.get(store, "sheet", name, version)
    if saved is None:
        raise DesignRefused("invalid", [SchemaProblem(f"{name}.toml", "dz.no_version", version=version)])
    on_disk = current_text(name, directory)
    return apply(store, actor, saved.body, name=name, base_text=on_disk, dry_run=dry_run, note=t("dz.restored_note", "en", version=version), check_base=False,
                 directory=directory)


def sha(text: str | None) -> str | None:
    return None if text is None else versions.digest(text)


# -- the screen's table of fields -----------------------------------------------------------------------------
# One row per field, in order, as the designer's table shows it; choices as "value|English|中文" separated by
# semicolons (full-width ｜ and ； too, as typed with a Chinese keyboard; a backslash keeps any of them, or
# itself, inside a label). These functions are the whole translation between that table and the file's [[fields]].
ROW_KEYS = ("name", "type", "label_en", "label_zh", "help_en", "help_zh", "required", "pii", "unique", "index",
            "readonly", "max_length", "pattern", "min", "max", "choices", "sheet", "default", "not_before")
_FLAGS = ("required", "pii", "unique", "index", "readonly")


_CHOICE_SEPARATORS = (";", "；")
_PART_SEPARATORS = ("|", "｜")


def _escaped(text) -> str:
    return "".join("\\" + c if c == "\\" or c in _CHOICE_SEPARATORS or c in _PART_SEPARATORS else c
                   for c in str(text or ""))


def choices_text(choices: list[dict]) -> str:
    return "; ".join("|".join(_escaped(c.get(k, "")) for k in ("value", "en", "zh")) for c in choices)


def parse_choices(text: str) -> list[dict]:
    """'day|Day|白班; evening|Evening|晚班' -> [{value, en, zh}, ...] (a missing part is left empty, which
    the loader then names). A separator after a backslash is part of the label: 'a|A \\; B|甲'."""
    choices, parts, piece, escaped = [], [], [], False

    def end_part():
        parts.append("".join(piece).strip())
        piece.clear()

    def end_choice():
        end_part()
        if any(parts):
            value, en, zh = (parts[:2] + ["|".join(parts[2:])] if len(parts) > 3 else parts + ["", ""])[:3]
            choices.append({"value": value, "en": en, "zh": zh})
        parts.clear()

    for char in text or "":
        if escaped:
            piece.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in _CHOICE_SEPARATORS:
            end_choice()
        elif char in _PART_SEPARATORS:
            end_part()
        else:
            piece.append(char)
    end_choice()
    return choices


def rows_from_fields(fields: list[dict]) -> list[dict]:
    rows = []
    for raw in fields:
        label, help_ = raw.get("label") or {}, raw.get("help") or {}
        row = {key: None for key in ROW_KEYS}
        row.update(name=raw.get("name"), type=raw.get("type"), label_en=label.get("en"), label_zh=label.get("zh"),
                   help_en=help_.get("en"), help_zh=help_.get("zh"),
                   **{flag: bool(raw.get(flag, False)) for flag in _FLAGS},
                   max_length=raw.get("max_length"), pattern=raw.get("pattern"), min=raw.get("min"),
                   max=raw.get("max"), choices=choices_text(raw.get("choices", [])) or None, sheet=raw.get("sheet"),
                   default=None if raw.get("default") is None else str(raw.get("default")).lower()
                   if isinstance(raw.get("default"), bool) else str(raw.get("default")),
                   not_before=raw.get("not_before"))
        rows.append(row)
    return rows


def _blank(value) -> bool:
    return value is None or (isinstance(value, float) and value != value) or (isinstance(value, str) and not value.strip())


def _number(value):
    if _blank(value):
        return None
    number = float(value)
    return int(number) if number.is_integer() else number


def fields_from_rows(rows: list[dict], previous: list[dict] | None = None) -> list[dict]:
    """The [[fields]] for the designer's table. Keys the table does not show (not_after, placeholder, step)
    are kept from the field of the same name as it was."""
    before = {f.get("name"): f for f in previous or []}
    fields = []
    for row in rows:
        if all(_blank(row.get(k)) or row.get(k) is False for k in ROW_KEYS):
            continue                                        # an empty row added and left
        name = "" if _blank(row.get("name")) else str(row["name"]).strip()
        kind = "" if _blank(row.get("type")) else str(row["type"])
        field = {"name": name, "type": kind,
                 "label": {"en": "" if _blank(row.get("label_en")) else str(row["label_en"]).strip(),
                           "zh": "" if _blank(row.get("label_zh")) else str(row["label_zh"]).strip()}}
        if not _blank(row.get("help_en")) or not _blank(row.get("help_zh")):
            field["help"] = {"en": "" if _blank(row.get("help_en")) else str(row["help_en"]).strip(),
                             "zh": "" if _blank(row.get("help_zh")) else str(row["help_zh"]).strip()}
        for flag in _FLAGS:
            if row.get(flag) is True:
                field[flag] = True
        kept = before.get(name, {})
        for key in ("not_after", "placeholder", "step"):
            if key in kept:
                field[key] = kept[key]
        if kind in ("text", "longtext") and not _blank(row.get("max_length")):
            field["max_length"] = int(_number(row["max_length"]))
        if kind in ("text", "longtext") and not _blank(row.get("pattern")):
            field["pattern"] = str(row["pattern"])
        for key in ("min", "max"):
            if kind in ("int", "number", "money") and not _blank(row.get(key)):
                field[key] = _number(row[key])
        if kind in ("choice", "multichoice"):
            field["choices"] = parse_choices(row.get("choices") or "")
        if kind == "ref":
            field["sheet"] = "" if _blank(row.get("sheet")) else str(row["sheet"])
        if kind in ("date", "datetime") and not _blank(row.get("not_before")):
            field["not_before"] = str(row["not_before"])
        if not _blank(row.get("default")):
            field["default"] = _default(kind, str(row["default"]).strip())
        fields.append(field)
    return fields


def _default(kind: str, text: str):
    if kind == "bool":
        return text.lower() in ("true", "1", "yes", "是")
    if kind in ("int", "rating"):
        try:
            return int(text)
        except ValueError:
            return text
    if kind in ("number", "money"):
        try:
            return _number(text)
        except ValueError:
            return text
    return text


def blank_register() -> dict:
    """A new register as the designer starts it: one text field, the administrator's rights."""
    return {"name": "", "label": {"en": "", "zh": ""}, "icon": ":material/table:",
            "permissions": {"admin": ["read", "create", "update", "delete", "export"]},
            "fields": [{"name": "title", "type": "text", "label": {"en": "Title", "zh": "标题"}}]}
