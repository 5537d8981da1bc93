"""The generic screen of a sheet: list with filters and detail, and a form for a new record."""
from __future__ import annotations

import streamlit as st

from kefu import auth
from kefu.i18n import t
from kefu.ui import context
from kefu.ui.detail import record_detail, undo_banner
from kefu.ui.form import record_form
from kefu.ui.grid import sheet_grid
from kefu.ui.text import plain


def header(sheet, lang: str) -> None:
    st.title(sheet.label_in(lang))
    if sheet.description:
        st.caption(sheet.description.get(lang) or sheet.description.get("en"))


def list_and_detail(store, sheet, actor, lang: str, *, key: str, extra: dict | None = None,
                    extra_reads: tuple = ()) -> None:
    selected = sheet_grid(store, sheet, actor, lang, key=key, extra=extra, extra_reads=extra_reads, editable=True)
    if selected is not None:
        record_detail(store, sheet, actor, lang, selected, key=key)


def new_record(store, sheet, actor, lang: str, *, key: str, **form_options) -> None:
    """The new-record form; after a save it says what was created and starts empty again."""
    created = st.session_state.pop(f"{key}__created", None)
    if created:
        st.success(t("sheet.created", lang, title=plain(created)), icon=":material/check_circle:")
    row_id = record_form(store, sheet, actor, lang, key=key, **form_options)
    if row_id is not None:
        record = store.get(sheet.name, row_id, actor)
        st.session_state[f"{key}__created"] = record.get(sheet.title) or f"#{row_id}"
        st.rerun()


def open_screen(sheet_name: str):
    """The top of every register screen: check the role, title the page, offer undo of a delete.
    Returns (actor, store, sheet, lang)."""
    actor = context.require_sheet(sheet_name)
    store, lang = context.store(), context.lang()
    sheet = store.sheet(sheet_name)
    header(sheet, lang)
    undo_banner(store, actor, lang)
    sheet_notices(store, sheet, actor, lang)
    return actor, store, sheet, lang


def sheet_notices(store, sheet, actor, lang: str) -> None:
    """The register's own warnings (its sheet's `notices`), record values shown as text."""
    for hook in sheet.notices:
        for notice in hook(store, actor):
            st.warning(t(notice.code, lang, **{k: plain(v) for k, v in notice.params.items()}),
                       icon=":material/warning:")


def sheet_screen(sheet_name: str) -> None:
    actor, store, sheet, lang = open_screen(sheet_name)
    can_create = auth.can(actor, sheet, "create")
    tabs = st.tabs([t("sheet.list", lang)] + ([t("sheet.new", lang)] if can_create else []))
    with tabs[0]:
        list_and_detail(store, sheet, actor, lang, key=f"{sheet_name}__list")
    if can_create:
        with tabs[1]:
            new_record(store, sheet, actor, lang, key=f"{sheet_name}__new")
