"""One input widget per field type, and the conversion of a stored value into that widget's value."""
from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime

import streamlit as st

from kefu.i18n import t
from kefu.sheets import Field
from kefu.store import Store
from kefu.ui.text import plain

REF_PICK_LIMIT = 200     # a referenced sheet with more records than this (that the user may see) gets a search
REF_MATCHES = 50         # the matches of a search offered at once, newest first


def widget_value(field: Field, stored, store: Store):
    """What the widget shows for a stored value."""
    if stored is None:
        return [] if field.type_name == "multichoice" else None
    kind = field.type_name
    if kind == "money":
        return stored / 100
    if kind == "date":
        return date.fromisoformat(stored)
    if kind == "datetime":
        return datetime.fromisoformat(stored).astimezone(store.settings.tz).replace(tzinfo=None)
    if kind == "multichoice":
        return json.loads(stored)
    if kind == "bool":
        return bool(stored)
    return stored


def field_input(field: Field, value, *, key: str, lang: str, store: Store, disabled: bool = False, actor=None,
                in_form: bool = True):
    """Draw the input for field, prefilled with value (a widget value); returns what the user entered.
    in_form: drawn inside an st.form (a ref field's search then has its own submit button)."""
    label = field.label_in(lang) + (" *" if field.required else "")
    help_text = field.help_in(lang)
    kind = field.type_name
    common = dict(key=key, help=help_text, disabled=disabled)
    if kind in ("text", "phone", "email", "url"):
        return st.text_input(label, value=value or "", max_chars=field.options.get("max_length"), **common)
    if kind == "longtext":
        return st.text_area(label, value=value or "", max_chars=field.options.get("max_length", 5000), **common)
    if kind == "int":
        return st.number_input(label, value=value, step=1, format="%d", placeholder="", **common)
    if kind == "number":
        return st.number_input(label, value=value, step=1.0, placeholder="", **common)
    if kind == "money":
        return st.number_input(label, value=value, step=0.01, format="%.2f", placeholder="0.00", **common)
    if kind == "date":            # any date from 1900 (a birthday), up to today where the field says so
        latest = datetime.now(store.settings.tz).date() if field.options.get("not_after") == "today" else None
        return st.date_input(label, value=value, min_value=date(1900, 1, 1), max_value=latest, **common)
    if kind == "datetime":
        return st.datetime_input(label, value=value, step=300, format="YYYY-MM-DD", **common)
    if kind == "bool":
        return st.checkbox(label, value=bool(value), **common)
    if kind in ("choice", "multichoice"):
        options = [c["value"] for c in field.choices]
        fmt = lambda v: field.choice_label(v, lang)  # noqa: E731
        if kind == "multichoice":
            return st.multiselect(label, options, default=[v for v in value or [] if v in options], format_func=fmt,
                                  placeholder="", **common)
        index = options.index(value) if value in options else None
        return st.selectbox(label, options, index=index, format_func=fmt, placeholder="", **common)
    if kind == "rating":
        options = [1, 2, 3, 4, 5]
        index = options.index(value) if value in options else None
        return st.selectbox(label, options, index=index, format_func=lambda v: "★" * v, placeholder="", **common)
    if kind == "ref":
        return ref_input(field, value, label=label, key=key, lang=lang, store=store, actor=actor, in_form=in_form,
                         **{k: v for k, v in common.items() if k != "key"})
    if kind == "user":
        names = dict(store.active_users())
        if value is not None and value not in names:
            names[value] = f"#{value}"
        options = list(names)
        index = options.index(value) if value in options else None
        return st.selectbox(label, options, index=index, format_func=lambda v: names.get(v, f"#{v}"),
                            placeholder="", **common)
    raise ValueError(f"no widget for field type {kind}")  # sheets.py refuses unknown types at start-up


def ref_input(field: Field, value, *, label: str, key: str, lang: str, store: Store, actor, in_form: bool,
              help=None, disabled: bool = False):
    """The choice of a referenced record. A small sheet: every record the actor may see. A big one (more
    than REF_PICK_LIMIT): a search field above the list, which then offers the records the referenced
    sheet's own search finds among those the actor may see; the value chosen stays offered."""
    newest = store.ref_options(field.ref_sheet, actor, limit=REF_PICK_LIMIT + 1)
    query, pairs, big = "", newest[:REF_PICK_LIMIT], len(newest) > REF_PICK_LIMIT
    if big and not disabled:
        query = _ref_search(store.sheet(field.ref_sheet), key=key, lang=lang, in_form=in_form)
        if query:
            pairs = store.ref_options(field.ref_sheet, actor, limit=REF_MATCHES, query=query)
    names = dict(pairs)
    kept = [v for v in (value, st.session_state.get(key)) if v is not None and v not in names]
    labels = store.ref_labels(field.ref_sheet, kept, actor)
    for chosen in kept:
        names[chosen] = labels.get(chosen, f"#{chosen}")
    # Namesakes are told apart by their number (the grid's 编号). Over a big sheet whose titles may repeat,
    # every option carries it: the browser keeps a choice by its text, which must not change when another
    # search brings a namesake.
    target = store.sheet(field.ref_sheet)
    numbered = big and not target.by_name[target.title].unique
    seen = Counter(names.values())
    names = {v: f"{label} · #{v}" if numbered or seen[label] > 1 else label for v, label in names.items()}
    options = list(names)
    index = options.index(value) if value in options else None
    picked = st.selectbox(label, options, index=index, format_func=lambda v: names.get(v, f"#{v}"), placeholder="",
                          key=key, help=help, disabled=disabled)
    if query and not pairs:
        st.caption(t("ref.no_match", lang, query=plain(query)))
    elif query and len(pairs) >= REF_MATCHES:
        st.caption(t("ref.more_matches", lang, count=REF_MATCHES))
    return picked


def _ref_search(target, *, key: str, lang: str, in_form: bool) -> str:
    """The search field of a big referenced sheet (in a form, with its own Find button: a form sends
    what is typed only when one of its buttons is pressed)."""
    fields = ("、" if lang == "zh" else ", ").join(target.by_name[n].label_in(lang) for n in target.searched)
    help_text = t("ref.search_help", lang, fields=fields) + (t("ref.search_pinyin", lang) if target.pinyin else "")
    options = dict(key=f"{key}__find", max_chars=200, icon=":material/search:", placeholder=fields, help=help_text)
    label = t("ref.search", lang, sheet=target.label_in(lang))
    if not in_form:
        return st.text_input(label, **options).strip()
    box, go = st.columns([4, 1], vertical_alignment="bottom")
    query = box.text_input(label, **options)
    go.form_submit_button(t("ref.find", lang), key=f"{key}__go", width="stretch")
    return query.strip()


def error_list(title: str, messages: list[str]) -> None:
    st.error(f"**{title}**\n\n" + "\n".join(f"- {plain(m)}" for m in messages), icon=":material/error:")


def yes_no(value: bool, lang: str) -> str:
    return t("common.yes" if value else "common.no", lang)
