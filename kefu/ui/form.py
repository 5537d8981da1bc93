"""The record form generated from a sheet: create or edit, server-validated, errors named per field.

The form keeps what was typed when the store refuses it (nothing is saved then); after a successful
create it starts empty again (a new form key). Only fields the user actually changed are sent on edit,
so a masked personal value or an untouched time is never written back.
"""
from __future__ import annotations

import streamlit as st

from kefu import auth
from kefu.errors import KefuError
from kefu.sheets import Sheet, ValidationError
from kefu.store import Store
from kefu.ui.text import plain
from kefu.ui.widgets import error_list, field_input, widget_value
from kefu.i18n import t


def _form_generation(key: str) -> int:
    return st.session_state.setdefault(f"{key}__gen", 0)


def editable(sheet: Sheet, actor, field, creating: bool) -> bool:
    if field.readonly:
        return False
    if not creating and field.pii and not auth.can(actor, sheet, "pii"):
        return False
    return True


def record_form(store: Store, sheet: Sheet, actor, lang: str, *, key: str, record: dict | None = None,
                prefill: dict | None = None, hidden: tuple = (), submit_label: str | None = None,
                on_values=None, before_save=None, save=None, update=None, live: bool = False):
    """Draw the form; returns the saved record id (create) or updated record (edit), else None.
    on_values(values) may adjust the values before they are saved (e.g. 'arriving now');
    before_save(values) -> False stops the save (e.g. to warn of a duplicate first);
    save(values) -> id replaces the plain insert (a register whose records are made by domain code);
    update(row_id, changes, expected_version) -> record replaces the plain update likewise.
    live=True draws it without st.form, so each field reruns the screen as it is left and the screen
    can react to what is being typed (draft_value)."""
    creating = record is None
    generation = _form_generation(key)
    form_key = f"{key}__{generation}"
    initial = {}
    frame = st.container(border=True, key=form_key) if live else st.form(form_key, clear_on_submit=False,
                                                                           enter_to_submit=False)
    with frame:
        slots, entered = {}, {}
        columns = st.columns(2)
        position = 0
        for field in sheet.fields:
            if field.name in hidden or (creating and field.readonly):
                continue
            if creating and prefill and field.name in prefill:
                initial[field.name] = widget_value(field, prefill[field.name], store)
            elif creating:
                initial[field.name] = [] if field.type_name == "multichoice" else field.default
            else:
                initial[field.name] = widget_value(field, record.get(field.name), store)
            wide = field.type_name in ("longtext",)
            target = st.container() if wide else columns[position % 2]
            if not wide:
                position += 1
            with target:
                entered[field.name] = field_input(field, initial[field.name], key=f"{form_key}__{field.name}",
                                                  lang=lang, store=store, actor=actor, in_form=not live,
                                                  disabled=not editable(sheet, actor, field, creating))
                slots[field.name] = st.empty()
        label = submit_label or t("sheet.save", lang)
        submitted = (st.button(label, type="primary", key=f"{form_key}__submit") if live
                     else st.form_submit_button(label, type="primary"))
        message = st.empty()
    if not submitted:
        return None
    if creating:
        values = {k: v for k, v in entered.items() if editable(sheet, actor, sheet.by_name[k], True)}
    else:
        values = {k: v for k, v in entered.items()
                  if editable(sheet, actor, sheet.by_name[k], False) and _differs(v, initial.get(k))}
    if on_values is not None:
        values = on_values(values)
    if before_save is not None and not before_save(values):
        return None
    try:
        if creating:
            result = save(values) if save else store.insert(sheet.name, values, actor)
            st.session_state[f"{key}__gen"] = generation + 1
        elif update is not None:
            result = update(record["id"], values, record["version"])
        else:
            result = store.update(sheet.name, record["id"], values, actor, expected_version=record["version"])
        return result
    except ValidationError as exc:
        for problem in exc.problems:
            if problem.field in slots:
                slots[problem.field].caption(f":red[{plain(exc.message_for(problem, lang))}]")
        with message.container():
            error_list(t("sheet.fix_errors", lang), exc.messages(lang))
    except KefuError as exc:
        message.error(plain(exc.message(lang)))
    return None


def draft_value(key: str, field_name: str):
    """What is typed so far in a live form's field (None before it is drawn)."""
    return st.session_state.get(f"{key}__{_form_generation(key)}__{field_name}")


def _differs(value, start) -> bool:
    if value in ("", None) and start in ("", None):
        return False
    if isinstance(value, list) and isinstance(start, list):
        return sorted(value) != sorted(start)
    return value != start
