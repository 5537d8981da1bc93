"""Personal-data retention (个人信息保护): a visit's personal data emptied once it is old enough, and one
person's data exported or erased on their request.

Retention. The visitor book keeps who came (name, organisation, purpose, host, times) for the office's counts,
but a visitor's ID number and phone (the `pii` fields of the visitors sheet) are emptied once the visit is
more than office.toml `[privacy] visitor_days` days old (default 180): by the app each day in a thread of its
own, or by `python -m kefu anonymise` at any time (cron). A visit's day is its arrival, else its
appointment, else when it was registered. Each record changes at most once; a run remembers its cutoff, so
the next one looks only at the visits that crossed it since, and at old visits that hold a value again.

A person. Found by an ID number, a phone number or an e-mail address (any `pii` field holding exactly that;
a phone compared in its stored form), or by a name (the fields `[privacy] names` lists), in every register;
deleted records too. Records that cannot exist without a found one (a member of a found archive, its
transactions and points, a ticket's steps: required refs, two levels) come with them in an export. A name
alone may name several people: when the records it finds hold the personal data of more than one (no phone,
ID number or e-mail in common), nothing is exported or erased, and the administrator searches by phone or
ID number instead.

Every emptying goes through Store.clear_personal, which also removes the value from the search indexes and
from the records' earlier audit entries. Each record changed has an audit entry naming the fields, never the
values; a run, an export and an erasure also have one entry in `kefu_privacy` saying how many records of
which registers, never whose; an export is in the access log, one row per register. The administrator
(auth.VIEW_ROLES "privacy") searches, exports and erases; the daily job runs as the system.
"""
from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field as dc_field
from datetime import date, datetime, timedelta

from kefu import auth, config, jobs
from kefu.errors import KefuError, PermissionDenied
from kefu.exporting import Formatter, workbook, xlsx_writers
from kefu.fields import FieldError, mask
from kefu.i18n import t
from kefu.customers import SHEET as ARCHIVES
from kefu.store import Query, Store, quote_ident

AUDIT_SHEET = "kefu_privacy"          # the audit's name for retention runs, exports and erasures
VISITORS = "visitors"
LAST_RUN = "privacy_last_run"         # kefu_meta: the last completed run, as JSON
BATCH = 500                           # records emptied per transaction
LINK_DEPTH = 2                        # customer -> member -> points
MAX_RECORDS = 1000                    # more than one person could have: refused, search more precisely
VISIT_DAY = "coalesce(arrived_at, appointment_at, created_at)"
NAME_SPEC = re.compile(r"\s*([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)(?:\s+if\s+([a-z][a-z0-9_]*)\s*=\s*(\S+))?\s*")


class PrivacyRefused(KefuError):
    """A search, export or erasure that cannot go ahead, and why; nothing was changed."""
    code = "pv.nothing"


# -- who may -------------------------------------------------------------------------------------------
def require(actor) -> None:
    """The administrator (whoever auth.VIEW_ROLES lets open the privacy screen), or the system (the daily job, the CLI)."""
    if actor is None or not actor.active or not (actor.role == "system" or auth.can_view(actor, "privacy")):
        raise PermissionDenied()


def _engine(actor) -> auth.User:
    return actor if actor.role == "system" else auth.acting_for(actor)


# -- configuration -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NameField:
    """A field holding a person's name; `when` = (field, value): only in records where field holds value.
    contact: the name of a contact person in a record about someone else (a company's archive), not of the
    person the record is about."""
    sheet: str
    field: str
    when: tuple[str, str] | None = None
    contact: bool = False

    def applies(self, row: dict) -> bool:
        return self.when is None or row.get(self.when[0]) == self.when[1]


def name_fields(sheets: dict, settings: config.Settings) -> list[NameField]:
    """office.toml [privacy] names and contacts, checked against the sheets (ConfigError naming the entry)."""
    problems, found = [], []
    entries = [("names", n, spec, False) for n, spec in enumerate(settings.privacy_names)]
    entries += [("contacts", n, spec, True) for n, spec in enumerate(settings.privacy_contacts)]
    for key, number, spec, contact in entries:
        where = f"{config.config_path()}: privacy.{key}[{number}] {spec!r}"
        match = NAME_SPEC.fullmatch(spec)
        if not match:
            problems.append(f"{where}: write \"register.field\" or \"register.field if field = value\"")
            continue
        sheet_name, name, when_field, when_value = match.groups()
        sheet = sheets.get(sheet_name)
        if sheet is None:
            problems.append(f"{where}: there is no register {sheet_name!r}")
        elif name not in sheet.by_name or sheet.by_name[name].type_name not in ("text", "longtext"):
            problems.append(f"{where}: register {sheet_name} has no text field {name!r}")
        elif when_field and (when_field not in sheet.by_name or sheet.by_name[when_field].type_name != "choice"
                             or when_value not in [c["value"] for c in sheet.by_name[when_field].choices]):
            problems.append(f"{where}: {when_field!r} is not a choice field of {sheet_name} with the value "
                            f"{when_value!r}")
        else:
            found.append(NameField(sheet_name, name, (when_field, when_value) if when_field else None, contact))
    if problems:
        raise config.ConfigError("\n".join(problems))
    return found


def problems(sheets: dict, settings: config.Settings) -> list[str]:
    """What is wrong in [privacy] for these sheets (python -m kefu check), one line each."""
    try:
        name_fields(sheets, settings)
    except config.ConfigError as exc:
        return str(exc).splitlines()
    return []


def check(store: Store) -> None:
    """At start-up: a wrong [privacy] entry stops the app, named."""
    name_fields(store.sheets, store.settings)


# -- retention -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Run:
    """A retention run of the office's day `day`: visits before `cutoff` (a day) were emptied, `records`
    of them changed."""
    at: str
    cutoff: str
    days: int
    records: int
    dry_run: bool = False
    day: str = ""


def cutoff_day(store: Store, today: date | None = None) -> str:
    today = today or datetime.now(store.settings.tz).date()
    return (today - timedelta(days=store.settings.privacy_visitor_days)).isoformat()


def last_run(store: Store) -> Run | None:
    row = store.conn.execute("SELECT value FROM kefu_meta WHERE key = ?", (LAST_RUN,)).fetchone()
    if not row:
        return None
    try:
        facts = json.loads(row[0])
        return Run(at=facts["at"], cutoff=facts["cutoff"], days=int(facts["days"]), records=int(facts["records"]),
                   day=facts.get("day") or facts["at"][:10])
    except (ValueError, KeyError, TypeError):
        return None


def _due_ids(store: Store, cutoff: str, previous: str | None, after: int, limit: int | None) -> list[int]:
    """Visits before the cutoff day that hold a personal value, or crossed the cutoff since the last run
    (their audit trail may hold one), by id from `after`."""
    holding = " OR ".join(f"coalesce({quote_ident(name)}, '') != ''" for name in store.sheet(VISITORS).pii_fields)
    crossed, params = (f" OR {VISIT_DAY} >= ?", [previous]) if previous and previous < cutoff else ("", [])
    sql = (f"SELECT id FROM {quote_ident(VISITORS)} WHERE id > ? AND {VISIT_DAY} < ? AND ({holding}{crossed}) "
           f"ORDER BY id" + (" LIMIT ?" if limit else ""))
    return [row[0] for row in store.conn.execute(sql, [after, cutoff, *params, *([limit] if limit else [])])]


def due(store: Store, actor, *, today: date | None = None) -> int:
    """How many visits hold personal data past the retention period (what a run would empty at most)."""
    require(actor)
    holding = " OR ".join(f"coalesce({quote_ident(name)}, '') != ''" for name in store.sheet(VISITORS).pii_fields)
    return store.conn.execute(f"SELECT count(*) FROM {quote_ident(VISITORS)} WHERE {VISIT_DAY} < ? AND ({holding})",
                              (cutoff_day(store, today),)).fetchone()[0]


def anonymise(store: Store, actor, *, today: date | None = None, dry_run: bool = False, batch: int = BATCH) -> Run:
    """Empty the personal fields of every visit more than visitor_days days old, a batch of records per
    transaction (a large first run never holds the writers up for long; cut off, the next run goes on).
    dry_run: count them, change nothing."""
    require(actor)
    today = today or datetime.now(store.settings.tz).date()
    cutoff, previous = cutoff_day(store, today), last_run(store)
    days = store.settings.privacy_visitor_days
    if dry_run:
        return Run(at=store.now(), cutoff=cutoff, days=days, records=due(store, actor, today=today), dry_run=True,
                   day=today.isoformat())
    fields, engine = store.sheet(VISITORS).pii_fields, _engine(actor)
    done, after = 0, 0
    while ids := _due_ids(store, cutoff, previous.cutoff if previous else None, after, batch):
        done += store.clear_personal(VISITORS, ids, fields, engine, action="anonymise")
        after = ids[-1]
    run = Run(at=store.now(), cutoff=cutoff, days=days, records=done, day=today.isoformat())
    with store.transaction() as conn:
        conn.execute("INSERT OR REPLACE INTO kefu_meta(key, value) VALUES (?, ?)",
                     (LAST_RUN, json.dumps({"at": run.at, "day": run.day, "cutoff": cutoff, "days": days,
                                            "records": done})))
        if done:
            store._audit(conn, actor, AUDIT_SHEET, None, "anonymise", None,
                         {"sheets": [VISITORS], "records": done, "days": days, "cutoff": cutoff})
    if done:
        _leave_no_copy(store, [VISITORS])
    return run


def _leave_no_copy(store: Store, sheets) -> None:
    for name in sheets:
        store.compact_search(name)
    store.free_old_versions(["kefu_audit"])            # PostgreSQL: the audit entries' versions before REDACTED
    store.truncate_log()


def daily(store: Store, *, today: date | None = None) -> Run | None:
    """Today's run unless one ran today; returns it, or None."""
    today = today or datetime.now(store.settings.tz).date()
    last = last_run(store)
    if last is not None and last.day >= today.isoformat():
        return None
    return anonymise(store, auth.SYSTEM, today=today)


def keep_daily(store: Store, *, every_seconds: float = 3600) -> threading.Thread:
    """A background thread of the app's process running the day's retention (checked every hour) with its
    own connection; an error is retried at the next check, never shown to a user."""
    return jobs.every("privacy", store, daily, every_seconds)


# -- one person ----------------------------------------------------------------------------------------
@dataclass
class Match:
    """One record of the person. `row` is as stored, in clear: the engine's, never drawn as it is."""
    sheet: str
    row_id: int
    row: dict
    matched: tuple[str, ...]             # the fields holding what was searched; () for a linked record
    via: tuple[str, int] | None = None   # a linked record: the record it belongs to
    personal: tuple[str, ...] = ()       # the personal fields of this record (what an erasure empties)

    @property
    def held(self) -> list[str]:
        return [name for name in self.personal if self.row.get(name) not in (None, "")]


@dataclass
class Person:
    matches: list[Match] = dc_field(default_factory=list)
    people: int = 0                      # how many different people the records found by a name hold

    @property
    def found(self) -> list[Match]:
        return [m for m in self.matches if m.matched]

    @property
    def ambiguous(self) -> bool:
        return self.people > 1

    def key(self) -> list[list]:
        """What the administrator saw: an erasure or export of other records is refused (pv.changed)."""
        return sorted([m.sheet, m.row_id] for m in self.matches)

    def counts(self) -> dict[str, int]:
        counted: dict[str, int] = {}
        for m in self.matches:
            counted[m.sheet] = counted.get(m.sheet, 0) + 1
        return counted


def _rows(store: Store, engine, sheet_name: str, filters: dict):
    """Live and deleted records matching every filter, in clear."""
    for deleted in (False, True):
        yield from store.iter_rows(sheet_name, engine, Query(filters=filters, sort="id", deleted=deleted), reveal=True)


def _searches(store: Store, sheet, term: str, names: list[NameField]) -> list[tuple[str, dict]]:
    """(field, filters) finding the term in one sheet: each personal field in its stored form, each name field."""
    found = []
    for name in sheet.pii_fields:
        field = sheet.by_name[name]
        if field.type_name in ("phone", "email"):
            try:
                value = field.parse(term, store.ctx)
            except FieldError:
                continue
            if value is not None:
                found.append((name, {name: value}))
        else:
            found.append((name, {name: list(dict.fromkeys([term, term.upper(), term.lower()]))}))
    for spec in names:
        if spec.sheet == sheet.name:
            found.append((spec.field, {spec.field: term, **({spec.when[0]: spec.when[1]} if spec.when else {})}))
    return found


def about_the_person(sheet, row: dict, names: list[NameField]) -> list[str]:
    """The name fields saying whom the record is about (a visitor, a caller, a person's own archive)."""
    return [n.field for n in names if n.sheet == sheet.name and not n.contact and n.applies(row)]


def personal_fields(sheet, row: dict, names: list[NameField], matched) -> tuple[str, ...]:
    """The fields of a found record that an erasure empties, in the sheet's order. A record about the person:
    all its personal (`pii`) fields and that name. A record about someone else (a company's archive naming
    them as its contact): only the fields that matched and the contact's name."""
    subject = about_the_person(sheet, row, names)
    if subject:
        wanted = {*sheet.pii_fields, *subject}
    else:
        wanted = {*matched, *[n.field for n in names if n.sheet == sheet.name and n.contact and n.applies(row)]}
    return tuple(f.name for f in sheet.fields if f.name in wanted)


def find(store: Store, actor, term: str) -> Person:
    """Every record of the one person that `term` (ID number, phone, e-mail or name) names, with the records
    that belong to them. PrivacyRefused when the term is too short or more records match than one person has."""
    require(actor)
    term = (term or "").strip()
    if len(term) < 2 or len(term) > 100:
        raise PrivacyRefused("pv.term_short")
    engine, names = _engine(actor), name_fields(store.sheets, store.settings)
    by_name, by_key = True, {}
    for sheet in store.sheets.values():
        for name, filters in _searches(store, sheet, term, names):
            for row in _rows(store, engine, sheet.name, filters):
                key = (sheet.name, row["id"])
                if key not in by_key:
                    by_key[key] = Match(sheet.name, row["id"], row, ())
                by_key[key].matched = tuple(dict.fromkeys([*by_key[key].matched, name]))
                by_name = by_name and any(n.sheet == sheet.name and n.field == name for n in names)
                if len(by_key) > MAX_RECORDS:
                    raise PrivacyRefused("pv.too_many", count=MAX_RECORDS)
    found = list(by_key.values())
    for match in found:
        match.personal = personal_fields(store.sheet(match.sheet), match.row, names, match.matched)
    person = Person(matches=found + _linked(store, engine, found), people=1 if found else 0)
    if found and by_name:
        person.people = _people(store, found, names)
    return person


def _linked(store: Store, engine, found: list[Match]) -> list[Match]:
    """Records that cannot exist without a found one (a required ref to it), then those of them in turn."""
    seen = {(m.sheet, m.row_id) for m in found}
    linked, frontier = [], list(found)
    for _ in range(LINK_DEPTH):
        parents: dict[str, list[int]] = {}
        for match in frontier:
            parents.setdefault(match.sheet, []).append(match.row_id)
        frontier = []
        for child in store.sheets.values():
            for field in child.fields:
                if field.type_name != "ref" or not field.required or field.ref_sheet not in parents:
                    continue
                for row in _rows(store, engine, child.name, {field.name: parents[field.ref_sheet]}):
                    if (child.name, row["id"]) in seen:
                        continue
                    seen.add((child.name, row["id"]))
                    match = Match(child.name, row["id"], row, (), via=(field.ref_sheet, row[field.name]))
                    linked.append(match)
                    frontier.append(match)
        if len(seen) > MAX_RECORDS:
            raise PrivacyRefused("pv.too_many", count=MAX_RECORDS)
    return linked


def _people(store: Store, found: list[Match], names: list[NameField]) -> int:
    """How many people the records found by a name belong to: records about a person that share a personal
    value (phone, ID number, e-mail...) are one person's; records holding none, and records about someone
    else (a company's phone is not its contact's), are not counted as anyone else."""
    owner: dict = {}

    def root(item):
        while owner.setdefault(item, item) != item:
            item = owner[item]
        return item

    holders = []
    for match in found:
        sheet = store.sheet(match.sheet)
        if not about_the_person(sheet, match.row, names):
            continue
        values = [("value", str(match.row[n]).strip().upper()) for n in sheet.pii_fields
                  if match.row.get(n) not in (None, "")]
        if values:
            me = ("record", match.sheet, match.row_id)
            holders.append(me)
            for value in values:
                owner[root(value)] = root(me)
    return max(1, len({root(h) for h in holders}))


def _ready(person: Person, expected) -> None:
    if not person.found:
        raise PrivacyRefused("pv.nothing")
    if person.ambiguous:
        raise PrivacyRefused("pv.ambiguous", people=person.people)
    if expected is not None and [list(k) for k in expected] != person.key():
        raise PrivacyRefused("pv.changed")


def preview(store: Store, person: Person, lang: str) -> list[dict]:
    """The person's records as the screen lists them, every value masked: register, number, what the record
    is (masked), how it was found, the fields an erasure empties, when it was made, deleted or not."""
    rows, names = [], name_fields(store.sheets, store.settings)
    for match in person.matches:
        sheet = store.sheet(match.sheet)
        personal = {*sheet.pii_fields, *[n.field for n in names if n.sheet == sheet.name]}
        title = match.row.get(sheet.title) if sheet.by_name.get(sheet.title) and sheet.by_name[sheet.title].type_name in (
            "text", "phone", "email") else None
        shown = [str(mask(str(title))) if sheet.title in personal else title,
                 *[str(mask(str(match.row[n]))) for n in match.held if n != sheet.title]]
        rows.append({"sheet": sheet.label_in(lang), "id": match.row_id,
                     "record": " · ".join(str(v) for v in shown if v not in (None, "")) or f"#{match.row_id}",
                     "found_by": _found_by(store, match, lang),
                     "emptied": _joined([sheet.by_name[n].label_in(lang) for n in match.held], lang) if match.matched else "",
                     "created": (match.row.get("created_at") or "")[:10],
                     "deleted": match.row.get("deleted_at") is not None})
    return rows


def _found_by(store: Store, match: Match, lang: str) -> str:
    sheet = store.sheet(match.sheet)
    if match.matched:
        return t("pv.found_in", lang, fields=_joined([sheet.by_name[n].label_in(lang) for n in match.matched], lang))
    parent, parent_id = match.via
    return t("pv.belongs_to", lang, sheet=store.sheet(parent).label_in(lang), id=parent_id)


def _joined(items, lang: str) -> str:
    return ("、" if lang == "zh" else ", ").join(items)


# -- export and erasure --------------------------------------------------------------------------------
def under_archive(store: Store, sheet) -> bool:
    """The customer archives and the records kept under them (members, transactions, relationship upkeep):
    confidential, nobody passes them on without the general manager's authorisation (DOMAIN: 未经总经理授权，
    任何人不得查阅及外传). Their personal data leaves in a person's export masked; the GM exports archives."""
    seen = set()
    while sheet is not None and sheet.name not in seen:
        seen.add(sheet.name)
        if sheet.name == ARCHIVES:
            return True
        access = sheet.row_access
        if access is None or not access.via:
            return False
        sheet = store.sheets.get(sheet.by_name[access.via].ref_sheet)
    return False


def export(store: Store, actor, term: str, lang: str, *, expected=None) -> bytes:
    """Every record of the person as an Excel workbook, in clear but for the customer archives (under_archive): a
    summary, then one worksheet per register
    (the columns of that register's export, and how each record was found). Written to the access log (one
    row per register) and the audit (how many records of which registers)."""
    person = find(store, actor, term)
    _ready(person, expected)
    cell, created = xlsx_writers(store.settings.tz)
    counts = person.counts()
    parts = [(t("pv.xlsx_summary", lang), ["text", "int"],
              [[t("adm.col.sheet", lang), t("adm.col.records", lang)],
               *[[store.sheet(name).label_in(lang), n] for name, n in counts.items()]])]
    masked = {name for name in counts if under_archive(store, store.sheet(name))}
    if masked:
        parts[0][2].extend([[None, None], [t("pv.xlsx_archive_masked", lang), None]])
    names = name_fields(store.sheets, store.settings)
    for name in counts:
        sheet = store.sheet(name)
        matches = [m for m in person.matches if m.sheet == name]
        formatter = Formatter(store, sheet, lang)
        formatter.prefetch([m.row for m in matches])
        header = [t("common.id", lang), *[f.label_in(lang) for f in sheet.fields], t("common.created_at", lang),
                  t("pv.col_found_by", lang)]

        def value(m, f):
            stored = m.row.get(f.name)
            if name in masked and stored is not None and (f.pii or f.name in about_the_person(sheet, m.row, names)):
                return mask(str(stored))              # an archive is not passed on without the GM's authorisation
            return stored
        rows = [header] + [[m.row_id, *(cell(formatter, f, value(m, f)) for f in sheet.fields),
                            created(m.row.get("created_at")), _found_by(store, m, lang)] for m in matches]
        kinds = ["int", *[f.type_name for f in sheet.fields], "created", "text"]
        parts.append((sheet.label_in(lang), kinds, rows))
    data = workbook(parts)
    for name, n in counts.items():
        store.log_access(actor, name, None, "export", json.dumps({"rows": n, "masked": name in masked}))
    store.audit_event(actor, AUDIT_SHEET, None, "person_export", None,
                      {"sheets": list(counts), "records": sum(counts.values())})
    return data


@dataclass(frozen=True)
class Erased:
    records: int                          # records whose personal data was emptied
    sheets: dict                          # register -> records changed


def erase(store: Store, actor, term: str, *, expected=None) -> Erased:
    """Empty the person's personal fields (and name) in every record found, in one transaction, keeping the
    records (counts and statistics stay); the audit names the fields of each record and, once, who erased
    how many records of which registers. Records only linked to the person keep theirs (they hold none)."""
    person = find(store, actor, term)
    _ready(person, expected)
    engine, changed = _engine(actor), {}
    with store.secure_delete(), store.transaction() as conn:
        groups: dict[tuple, list[int]] = {}
        for match in person.found:
            groups.setdefault((match.sheet, match.personal), []).append(match.row_id)
        for (name, fields), ids in groups.items():
            done = store.clear_personal(name, ids, fields, engine, action="erase")
            if done:
                changed[name] = changed.get(name, 0) + done
        store._audit(conn, actor, AUDIT_SHEET, None, "person_erase", None,
                     {"sheets": list(changed), "records": sum(changed.values())})
    _leave_no_copy(store, changed)
    return Erased(records=sum(changed.values()), sheets=changed)
