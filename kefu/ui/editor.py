"""Spreadsheet-style editing of one page of a sheet (st.data_editor), saved through kefu.editing.

The column rules given to the browser (choices, bounds, lengths) are a help only; kefu.editing.apply
validates every value again on the server. The page is taken as it was when editing began (a snapshot,
with each record's version): the editor keeps its edits across reruns, and a record someone else
changed meanwhile is refused instead of overwritten. Rows the server refuses stay in the table with the
reason beside them, for correction; the rest is saved.

Only cells the user touched are sent. Personal data is shown masked, so its columns are locked for every
role (it is changed in the record's form, with the data revealed); read-only columns are locked too.
"""
from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
import streamlit as st

from kefu import auth, editing
from kefu.i18n import t
from kefu.sheets import Sheet
from kefu.store import Page, Query, Store
from kefu.ui.text import plain as as_text
from kefu.ui.widgets import REF_PICK_LIMIT, error_list, widget_value

ID, PROBLEMS = "id", "_problems"       # the record number column and the refusal reasons column
NUMBER_TYPES = {"int": "Int64", "rating": "Int64", "user": "Int64", "ref": "Int64", "number": "Float64",
                "money": "Float64"}


def edit_toggle(sheet: Sheet, actor, lang: str, *, key: str) -> bool:
    """The switch to spreadsheet-style editing, for roles that may change the sheet's records."""
    if not auth.can(actor, sheet, "update"):
        return False
    return st.toggle(t("ed.toggle", lang), key=f"{key}__editing", help=t("ed.toggle_help", lang),
                     on_change=_reset, args=(key,))


def editor_columns(sheet: Sheet, actor, shown: list[str]) -> list[str]:
    """The grid's columns, and (for a role that may add records) the required fields it leaves out, so
    that a row added in the table can be complete."""
    columns = list(shown)
    if auth.can(actor, sheet, "create"):
        columns += [f.name for f in sheet.fields if f.required and f.name not in columns and not f.readonly]
    return columns


def table_editor(store: Store, sheet: Sheet, actor, lang: str, page: Page, query: Query, columns: list[str], *,
                 key: str) -> None:
    """The page as an editable table with Save and Discard; saves through kefu.editing.apply."""
    state = _state(key)
    signature = repr((query.search, sorted(query.filters.items(), key=str), query.sort, page.page, state["gen"]))
    if state.get("signature") != signature:          # a new page, filter or save: take the page as it is now
        state.update(signature=signature, rows=page.rows)
        _keep_shown(state["pending"], {row["id"] for row in page.rows})
    rows = state["rows"]
    fields = [sheet.by_name[name] for name in columns]
    why = {f.name: reason for f in fields if (reason := _locked(store, actor, f, rows))}
    locked = set(why)
    can_add = auth.can(actor, sheet, "create") and not any(
        f.required and f.default is None and (f.name in locked or f.name not in columns) for f in sheet.fields
        if not f.readonly)
    _flash(key, lang)
    pending = state["pending"]
    if pending["reasons"] or pending["new_reasons"]:
        messages = editing.EditResult(refused=pending["reasons"], refused_new=pending["new_reasons"]).messages(lang)
        error_list(t("ed.refused", lang, count=len(messages)), messages)
    frame = _frame(store, sheet, rows, fields, pending)
    config = _column_config(store, actor, lang, fields, rows, why, problems=PROBLEMS in frame)
    editor_key = f"{key}__editor_{state['gen']}"
    result = st.data_editor(frame, key=editor_key, hide_index=True, width="stretch", column_config=config,
                            column_order=list(frame.columns), num_rows="add" if can_add else "fixed",
                            disabled=[name for name in (ID, PROBLEMS, *locked) if name in frame], placeholder="")
    hint = t("ed.hint", lang)
    if auth.can(actor, sheet, "create"):
        hint += ("" if lang == "zh" else " ") + t("ed.add_hint" if can_add else "ed.no_add", lang)
    st.caption(hint)
    buttons = st.columns([1, 1, 4])
    if buttons[0].button(t("ed.save", lang), type="primary", icon=":material/save:", key=f"{key}__ed_save",
                         width="stretch"):
        edits, added = _changes(st.session_state.get(editor_key) or {}, result, rows, fields, locked, pending)
        if not edits and not added:
            st.session_state[f"{key}__ed_flash"] = ("info", t("ed.nothing", lang))
        else:
            _save(store, sheet, actor, lang, key, edits, added, {r["id"]: r["version"] for r in rows})
        st.rerun()
    if buttons[1].button(t("ed.discard", lang), icon=":material/undo:", key=f"{key}__ed_discard", width="stretch"):
        _reset(key)
        st.rerun()


def _state(key: str) -> dict:
    return st.session_state.setdefault(f"{key}__ed", {"gen": 0, "pending": _no_pending()})


def _no_pending() -> dict:
    return {"edits": {}, "added": [], "reasons": {}, "new_reasons": {}}


def _keep_shown(pending: dict, shown: set) -> None:
    """Refused edits stay pending only for the records the table shows."""
    for part in ("edits", "reasons"):
        pending[part] = {row_id: value for row_id, value in pending[part].items() if row_id in shown}


def _reset(key: str) -> None:
    """Forget the snapshot and every unsaved or refused change (leaving edit mode, Discard)."""
    state = _state(key)
    state.update(gen=state["gen"] + 1, pending=_no_pending(), signature=None)


def _save(store: Store, sheet: Sheet, actor, lang: str, key: str, edits: dict, added: list, versions: dict) -> None:
    outcome = editing.apply(store, sheet.name, actor, edits, added, lang, versions=versions)
    state = _state(key)
    # A refused row stays in the table as the user typed it, unless the record itself moved on (changed
    # by someone else, deleted): then the table shows it as it is now, and the message says why.
    kept = {row_id: edits[row_id] for row_id, reasons in outcome.refused.items() if editing.ROW not in reasons}
    gone = {row_id: reasons for row_id, reasons in outcome.refused.items() if editing.ROW in reasons}
    state.update(gen=state["gen"] + 1, pending={
        "edits": kept, "reasons": {row_id: outcome.refused[row_id] for row_id in kept},
        "added": [added[position] for position in outcome.refused_new],
        "new_reasons": {n: reasons for n, reasons in enumerate(outcome.refused_new.values())}})
    notes = []
    if outcome.updated or outcome.created:
        notes.append(("success", t("ed.saved", lang, updated=len(outcome.updated), created=len(outcome.created))))
    if gone:
        notes.append(("warning", "\n".join(editing.EditResult(refused=gone).messages(lang))))
    st.session_state[f"{key}__ed_flash"] = notes


def _flash(key: str, lang: str) -> None:
    notes = st.session_state.pop(f"{key}__ed_flash", None)
    if isinstance(notes, tuple):
        notes = [notes]
    for kind, text in notes or []:
        getattr(st, kind)(as_text(text), icon={"success": ":material/check_circle:", "info": ":material/info:",
                                      "warning": ":material/warning:"}[kind])


# -- the table -------------------------------------------------------------------------------------
def _frame(store: Store, sheet: Sheet, rows: list[dict], fields: list, pending: dict) -> pd.DataFrame:
    """Snapshot rows as editor values (money in yuan, dates as dates...), refused edits laid over them
    and refused new rows after them, with their reasons in a last column."""
    records = []
    for row in rows:
        values = {f.name: row.get(f.name) if f.pii else widget_value(f, row.get(f.name), store) for f in fields}
        values.update(pending["edits"].get(row["id"], {}))
        records.append({ID: row["id"], **values})
    for values in pending["added"]:
        records.append({ID: None, **{f.name: values.get(f.name) for f in fields}})
    data = {ID: pd.array([r[ID] for r in records], dtype="Int64")}
    for f in fields:
        data[f.name] = _column([r[f.name] for r in records], f)
    frame = pd.DataFrame(data)
    reasons = [" ".join(pending["reasons"].get(r["id"], {}).values()) for r in rows]
    reasons += [" ".join(pending["new_reasons"].get(n, {}).values()) for n in range(len(pending["added"]))]
    if any(reasons):
        frame[PROBLEMS] = reasons
    return frame


def _column(values: list, field) -> pd.Series | pd.api.extensions.ExtensionArray:
    kind = field.type_name
    if field.pii:                                       # shown masked: text, whatever the type
        return pd.Series([None if v is None else str(v) for v in values], dtype="object")
    if kind in NUMBER_TYPES:
        return pd.array(values, dtype=NUMBER_TYPES[kind])
    if kind == "bool":
        return pd.array(values, dtype="boolean")
    if kind == "datetime":
        return pd.to_datetime(pd.Series(values, dtype="object"))
    if kind == "multichoice":
        return pd.Series([v if v is not None else [] for v in values], dtype="object")
    if kind == "date":
        return pd.Series(values, dtype="object")
    return pd.Series([None if v is None else str(v) for v in values], dtype="object")


def _locked(store: Store, actor, field, rows: list[dict]) -> str | None:
    """Why a column cannot be changed in the table (the help text's key), or None: read-only, personal
    (shown masked), a reference to a sheet too big to offer as a list, or one whose records on the page
    the user may not read (a sale of an archive kept by someone else: shown by its number)."""
    if field.pii:
        return "ed.pii_help"
    if field.readonly:
        return "ed.readonly_help"
    if field.type_name != "ref":
        return None
    offered = {row_id for row_id, _ in store.ref_options(field.ref_sheet, actor, limit=REF_PICK_LIMIT + 1)}
    if len(offered) > REF_PICK_LIMIT:
        return "ed.ref_help"
    if not offered or any(r.get(field.name) is not None and r[field.name] not in offered for r in rows):
        return "ed.ref_hidden_help"
    return None


def _column_config(store: Store, actor, lang: str, fields: list, rows: list[dict], why: dict, *,
                   problems: bool) -> dict:
    config = {ID: st.column_config.NumberColumn(t("common.id", lang), width="small", format="%d")}
    for field in fields:
        config[field.name] = _field_column(store, actor, lang, field, rows, why.get(field.name))
    if problems:
        config[PROBLEMS] = st.column_config.TextColumn(t("ed.problems", lang), width="large")
    return config


def _field_column(store: Store, actor, lang: str, field, rows: list[dict], why: str | None):
    """The column type, choices and bounds of one field, as the browser enforces them; `why` is the
    reason (a help text key) the column is locked, if it is."""
    locked = why is not None
    label = field.label_in(lang) + (" *" if field.required else "")
    help_text = t(why, lang) if locked else field.help_in(lang)
    common = dict(label=label, help=help_text, required=field.required and not locked, disabled=locked or None)
    kind, options = field.type_name, field.options
    bounds = dict(min_value=options.get("min"), max_value=options.get("max"))
    if field.pii:
        return st.column_config.TextColumn(**common)
    if kind in ("text", "longtext", "phone", "email", "url"):
        limit = options.get("max_length", field.type.default_max if kind in ("text", "longtext") else None)
        pattern = options.get("pattern")
        width = "large" if kind == "longtext" else "medium" if kind == "text" and limit > 50 else None
        return st.column_config.TextColumn(max_chars=limit, validate=f"^(?:{pattern})$" if pattern else None,
                                           width=width, **common)
    if kind == "int":
        return st.column_config.NumberColumn(step=1, format="%d", **bounds, **common)
    if kind == "number":
        return st.column_config.NumberColumn(step=options.get("step"), **bounds, **common)
    if kind == "money":
        return st.column_config.NumberColumn(step=0.01, format="%.2f", **bounds, **common)
    if kind == "date":
        latest = datetime.now(store.settings.tz).date() if options.get("not_after") == "today" else None
        return st.column_config.DateColumn(format="YYYY-MM-DD", min_value=date(1900, 1, 1), max_value=latest, **common)
    if kind == "datetime":
        return st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm", step=60, **common)
    if kind == "bool":
        return st.column_config.CheckboxColumn(**common)
    if kind == "choice":
        return st.column_config.SelectboxColumn(options=[c["value"] for c in field.choices], width="medium",
                                                format_func=lambda v: field.choice_label(v, lang), **common)
    if kind == "multichoice":
        return st.column_config.MultiselectColumn(options=[c["value"] for c in field.choices],
                                                  format_func=lambda v: field.choice_label(v, lang), **common)
    if kind == "rating":
        return st.column_config.SelectboxColumn(options=[1, 2, 3, 4, 5], format_func=lambda v: "★" * v, **common)
    names = _names(store, actor, field, rows, locked)
    return st.column_config.SelectboxColumn(options=list(names), format_func=lambda v: names.get(v, f"#{v}"),
                                            **common)


def _names(store: Store, actor, field, rows: list[dict], locked: bool) -> dict:
    """What a user or ref cell may hold, by id -> name: the active users, or the records the user may
    choose (only those on the page when the column is locked); values on the page stay named."""
    on_page = [r.get(field.name) for r in rows if r.get(field.name) is not None]
    if field.type_name == "user":
        everyone = store.user_names()
        names = dict(store.active_users())
        names.update({v: everyone.get(v, f"#{v}") for v in on_page if v not in names})
        return names
    names = {} if locked else dict(store.ref_options(field.ref_sheet, actor, limit=REF_PICK_LIMIT))
    missing = [v for v in on_page if v not in names]
    names.update(store.ref_labels(field.ref_sheet, missing, actor))
    names.update({v: f"#{v}" for v in missing if v not in names})   # a record the user may not read: its number
    return names


# -- what the user changed -------------------------------------------------------------------------
def _changes(editor_state: dict, result: pd.DataFrame, rows: list[dict], fields: list, locked: set,
             pending: dict) -> tuple[dict, list]:
    """From the editor's state (cells touched, rows added) and its result (their typed values): the edits
    by record id and the added rows, with the refused changes still pending."""
    names = {f.name for f in fields} - locked
    edits = {row_id: dict(values) for row_id, values in pending["edits"].items()}
    for position, cells in (editor_state.get("edited_rows") or {}).items():
        position = int(position)
        if position >= len(rows):                       # a refused new row, corrected: read below
            continue
        touched = {name: plain(result[name].iloc[position]) for name in cells if name in names}
        if touched:
            edits.setdefault(rows[position]["id"], {}).update(touched)
    added = []
    for position in range(len(rows), len(result)):
        values = {name: plain(result[name].iloc[position]) for name in names}
        if any(v not in (None, "", []) for v in values.values()):
            added.append(values)
    return edits, added


def plain(value):
    """An editor cell as a plain Python value: None for an empty cell, int/float/bool/date/datetime/list."""
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, np.ndarray):                   # a multichoice cell
        return value.tolist()
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item"):                          # numpy scalars
        return value.item()
    return value
