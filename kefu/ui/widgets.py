"""One input widget per field type, and the conversion of a stored value into that widget's value."""
from __future__ import annotations

import json
from datetime import date, datetime

import streamlit as st

from kefu.i18n import t
from kefu.sheets import Field
from kefu.store import Store


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


def field_input(field: Field, value, *, key: str, lang: str, store: Store, disabled: bool = False, actor=None):
    """Draw the input for field, prefilled with value (a widget value); returns what the user entered."""
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
    if kind in ("user", "ref"):
        pairs = store.active_users() if kind == "user" else store.ref_options(field.ref_sheet, actor)
        names = dict(pairs)
        if value is not None and value not in names:
            names[value] = f"#{value}"
        options = list(names)
        index = options.index(value) if value in options else None
        return st.selectbox(label, options, index=index, format_func=lambda v: names.get(v, f"#{v}"),
                            placeholder="", **common)
    raise ValueError(f"no widget for field type {kind}")  # sheets.py refuses unknown types at start-up


def error_list(title: str, messages: list[str]) -> None:
    st.error(f"**{title}**\n\n" + "\n".join(f"- {m}" for m in messages), icon=":material/error:")


def yes_no(value: bool, lang: str) -> str:
    return t("common.yes" if value else "common.no", lang)
