"""Would a register's new declaration lose or invalidate stored data? Asked by the migration planner
(kefu/store.py `_plan_sheet`) before it changes a table, so a file edited by hand and a register saved from
the designer meet the same refusals: a dropped or retyped column that holds data, a field made required or
unique where rows break it, a removed choice still in use, a max_length below the longest stored value, a
min, max or pattern that stored values break.

Each refusal names the field, how many records block it and the first few record ids. The stored values are
checked with the new field's own parser (kefu/fields.py), so "breaks the declaration" means exactly what a
form would refuse. Only a field whose rules changed is read: the declaration last migrated is kept in
kefu_meta (`decl:<sheet>`).
"""
from __future__ import annotations

import json

from kefu.fields import FieldError, format_fen
from kefu.i18n import t

FIRST_IDS = 5
RULE_KEYS = ("type", "required", "unique", "options")     # what a stored value is checked against (not labels)


class Refusal(str):
    """One change refused because stored records break it. The string is the English line (what the
    command line prints); `in_lang(lang, label)` says it in either language with the field's label."""

    def __new__(cls, sheet: str, code: str, field: str, count: int, ids: list[int], **params):
        made = super().__new__(cls, cls._say(sheet, code, field, count, ids, params, "en", field))
        made.sheet, made.code, made.field, made.count, made.ids, made.params = sheet, code, field, count, ids, params
        return made

    @staticmethod
    def _say(sheet, code, field, count, ids, params, lang, label) -> str:
        shown = ", ".join(f"#{i}" for i in ids) + (" …" if count > len(ids) else "")
        params = dict(params)
        if "why" in params:                          # the field parser's own reason for the first value
            why_code, why_params = params["why"]
            params["why"] = t(why_code, lang, field=label, **why_params)
        return (f"schema/{sheet}.toml{'：' if lang == 'zh' else ': '}"
                + t(code, lang, field=label, count=count, ids=shown, **params))

    def in_lang(self, lang: str, label: str | None = None) -> str:
        return self._say(self.sheet, self.code, self.field, self.count, self.ids, self.params, lang,
                         label or self.field)


def declared(sheet) -> dict:
    """The rules each field's stored values are held to: field name -> {type, required, unique, options}."""
    return {f.name: declared_field(f) for f in sheet.fields}


def encode(rules: dict) -> str:
    return json.dumps(rules, sort_keys=True, ensure_ascii=False, default=str)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _ids(conn, sql: str, params=()) -> tuple[int, list[int]]:
    rows = conn.execute(f"SELECT count(*) OVER (), id FROM ({sql}) ORDER BY id LIMIT {FIRST_IDS}", params).fetchall()
    return (rows[0][0] if rows else 0), [r[1] for r in rows]


def held(conn, table: str, column: str) -> tuple[int, list[int]]:
    """Records holding a value in the column: their count and first ids."""
    return _ids(conn, f"SELECT id FROM {_q(table)} WHERE {_q(column)} IS NOT NULL AND {_q(column)} != ''")


def refusals(conn, sheet, previous: dict | None, existing: dict, ctx) -> list[Refusal]:
    """Every field whose new rules stored records break. previous: the rules last migrated (None: unknown,
    nothing is compared; a new table has no records). existing: the table's columns now."""
    if previous is None or not existing:
        return []
    found = []
    table = _q(sheet.name)
    for field in sheet.fields:
        now = declared_field(field)
        before = previous.get(field.name)
        column = _q(field.name)
        if field.name not in existing:
            if field.required and field.default is None:
                count, ids = _ids(conn, f"SELECT id FROM {table}")
                if count:
                    found.append(Refusal(sheet.name, "dl.required_new", field.name, count, ids))
            continue
        if before == now or existing[field.name] != field.sql:     # a column of another kind: the store refuses it
            continue
        before = before or {}
        if field.required and not before.get("required"):
            count, ids = _ids(conn, f"SELECT id FROM {table} WHERE {column} IS NULL OR {column} = ''")
            if count:
                found.append(Refusal(sheet.name, "dl.required", field.name, count, ids))
        if field.unique and not before.get("unique"):
            count, ids = _ids(conn, f"SELECT id FROM {table} WHERE {column} IS NOT NULL AND {column} != '' AND "
                                    f"{column} IN (SELECT {column} FROM {table} GROUP BY {column} HAVING count(*) > 1)")
            if count:
                found.append(Refusal(sheet.name, "dl.unique", field.name, count, ids))
        if {k: before.get(k) for k in ("type", "options")} != {k: now[k] for k in ("type", "options")}:
            found += _invalid(conn, sheet, field, before, ctx)
    return found


def declared_field(field) -> dict:
    return {"type": field.type_name, "required": field.required, "unique": field.unique,
            "options": {k: v for k, v in sorted(field.options.items()) if k not in ("placeholder", "step")}}


def _as_input(field, value):
    """A stored value as a form would have given it, for the field's parser."""
    if field.type_name == "money" and isinstance(value, int):
        return format_fen(value)
    if field.type_name == "bool" and isinstance(value, int):
        return str(value)
    return value


def _invalid(conn, sheet, field, before: dict, ctx) -> list[Refusal]:
    """Stored values the field's new type or options refuse, by the field's own parser: the removed choices
    still in use, the values longer than a lowered max_length, or any other value refused (the first's reason)."""
    column = _q(field.name)
    bad, reasons = [], {}
    cursor = conn.execute(f"SELECT id, {column} FROM {_q(sheet.name)} WHERE {column} IS NOT NULL AND {column} != '' "
                          f"ORDER BY id")
    for row_id, value in cursor:
        try:
            field.parse(_as_input(field, value), ctx)
        except FieldError as exc:
            bad.append(row_id)
            reasons.setdefault(exc.code, (exc.params, value))
        except (TypeError, ValueError):
            bad.append(row_id)
            reasons.setdefault("err.unknown_field", ({}, value))
    if not bad:
        return []
    count, ids = len(bad), bad[:FIRST_IDS]
    old_options = before.get("options") or {}
    if field.type_name in ("choice", "multichoice") and before.get("type") == field.type_name:
        kept = {c["value"] for c in field.choices}
        gone = [c["value"] for c in old_options.get("choices", []) if c.get("value") not in kept]
        if gone:
            return [Refusal(sheet.name, "dl.choice_in_use", field.name, count, ids, values=", ".join(gone))]
    if "err.too_long" in reasons and before.get("type") == field.type_name:
        longest = conn.execute(f"SELECT max(length({column})) FROM {_q(sheet.name)}").fetchone()[0]
        return [Refusal(sheet.name, "dl.too_long", field.name, count, ids, max=field.options.get("max_length"),
                        longest=longest)]
    if before.get("type") not in (None, field.type_name):
        return [Refusal(sheet.name, "dl.retype", field.name, count, ids, type=field.type_name,
                        was=before.get("type"))]
    code, (params, value) = next(iter(reasons.items()))
    return [Refusal(sheet.name, "dl.invalid", field.name, count, ids, why=(code, params))]
