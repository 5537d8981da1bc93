"""The paginated, filtered, searchable grid of a sheet, with its CSV and Excel downloads, and (where the
screen allows it) the switch to editing the page as a table (kefu.ui.editor).

Filtering, search, sorting and paging happen in SQL (kefu.store.query); only one page reaches pandas.
"""
from __future__ import annotations

import hashlib
from datetime import date

import pandas as pd
import streamlit as st

from kefu import auth
from kefu.exporting import XLSX_MIME, Formatter, csv_bytes, xlsx_bytes
from kefu.i18n import t
from kefu.sheets import Sheet
from kefu.store import Query, Store
from kefu.ui.editor import edit_toggle, editor_columns, table_editor


def filter_bar(store: Store, sheet: Sheet, lang: str, key: str) -> Query:
    """Search box and one filter per declared filter field; returns the query they describe."""
    query = Query(page_size=sheet.page_size)
    searchable = [sheet.by_name[n].label_in(lang) for n in sheet.searched]
    shown = [n for n in sheet.filters if n in sheet.by_name]
    if not shown:
        search_column, filter_columns = st.container(), []
    elif searchable:
        search_column, *filter_columns = st.columns([2] + [1] * len(shown))
    else:                             # no search box: the filters start at the left, the same width as beside one
        *filter_columns, search_column = st.columns([1] * len(shown) + [2])
    if searchable:
        with search_column:
            query.search = st.text_input(t("sheet.search", lang), key=f"{key}__search", icon=":material/search:",
                                         placeholder="、".join(searchable) if lang == "zh" else ", ".join(searchable),
                                         help=t("sheet.search_help", lang, fields=", ".join(searchable)),
                                         max_chars=200)
    for column, name in zip(filter_columns, shown):
        field = sheet.by_name[name]
        with column:
            value = _filter_input(store, field, lang, f"{key}__f_{name}")
        if value not in (None, [], ()):
            query.filters[name] = value
    return query


def _filter_input(store: Store, field, lang: str, key: str):
    label = field.label_in(lang)
    kind = field.type_name
    if kind in ("choice", "multichoice"):
        return st.multiselect(label, [c["value"] for c in field.choices], key=key, placeholder=t("sheet.any", lang),
                              format_func=lambda v: field.choice_label(v, lang))
    if kind == "user":
        names = dict(store.active_users())
        return st.multiselect(label, list(names), key=key, format_func=lambda v: names.get(v, f"#{v}"),
                              placeholder=t("sheet.any", lang))
    if kind == "rating":
        return st.multiselect(label, [1, 2, 3, 4, 5], key=key, format_func=lambda v: "★" * v,
                              placeholder=t("sheet.any", lang))
    if kind == "bool":
        choice = st.selectbox(label, [None, 1, 0], key=key, format_func=lambda v: t("sheet.any", lang) if v is None
                              else t("common.yes" if v else "common.no", lang))
        return choice
    if kind in ("date", "datetime"):
        picked = st.date_input(label, value=(), key=key, format="YYYY-MM-DD")
        if isinstance(picked, (tuple, list)) and picked:
            low = picked[0].isoformat()
            high = picked[1].isoformat() if len(picked) > 1 else low
            return (low, high)
        if isinstance(picked, date):
            return (picked.isoformat(), picked.isoformat())
        return None
    return None


def display_frame(store: Store, sheet: Sheet, rows: list[dict], lang: str, columns: list[str],
                  extra: dict | None = None, actor=None) -> pd.DataFrame:
    """Rows as a person reads them: labels, names, money with two decimals; columns titled in lang.
    extra: {column title: row -> value} for figures a register derives (e.g. a late arrival)."""
    formatter = Formatter(store, sheet, lang, actor)
    formatter.prefetch(rows)
    data = {t("common.id", lang): [r["id"] for r in rows]}
    for name in columns:
        field = sheet.by_name[name]
        values = [formatter.value(field, r.get(name)) for r in rows]
        if field.type_name == "bool":
            values = [None if r.get(name) is None else bool(r.get(name)) for r in rows]
        else:
            values = ["" if v is None else v for v in values]   # an empty cell, not the word "None"
        data[field.label_in(lang)] = values
    for title, derive in (extra or {}).items():
        data[title] = [derive(r) for r in rows]
    return pd.DataFrame(data)


def sheet_grid(store: Store, sheet: Sheet, actor, lang: str, *, key: str, query: Query | None = None,
               columns: list[str] | None = None, extra: dict | None = None, extra_reads: tuple = (),
               editable: bool = False) -> int | None:
    """Draw filters, one page of the grid and the downloads; returns the selected record's id.
    extra_reads: fields the `extra` figures read that the grid does not show (fetched, not drawn).
    editable: offer roles with `update` the switch to editing the page as a table (only where the
    screen saves edits with the plain store.update, not through domain code of its own)."""
    query = query or filter_bar(store, sheet, lang, key)
    query.page = st.session_state.get(f"{key}__page", 1)
    editing = editable and edit_toggle(sheet, actor, lang, key=key)
    wanted = editor_columns(sheet, actor, columns or sheet.columns) if editing else columns or sheet.columns
    fetched = wanted + [name for name in extra_reads if name not in wanted and not editing]
    page = store.query(sheet.name, actor, query, columns=fetched + (["version"] if editing else []))
    if editing and (page.total or auth.can(actor, sheet, "create")):
        table_editor(store, sheet, actor, lang, page, query, wanted, key=key)
        selected = None
    elif page.total == 0:
        filtered = bool(query.search or query.filters)
        st.info(t("sheet.no_match" if filtered else "sheet.empty", lang), icon=":material/inbox:")
        selected = None
    else:
        frame = display_frame(store, sheet, page.rows, lang, columns or sheet.columns, extra, actor)
        # A selection is a row position: when the rows shown change (a filter, a page, a save that moves a
        # record out of the filter), a new key starts with no selection instead of pointing at another record.
        shown = hashlib.sha1(",".join(str(r["id"]) for r in page.rows).encode()).hexdigest()[:10]
        event = st.dataframe(frame, hide_index=True, on_select="rerun", selection_mode="single-row",
                             key=f"{key}__grid_{shown}", width="stretch",
                             column_config={t("common.id", lang): st.column_config.NumberColumn(width="small")})
        # a position the browser sends is a row of this page or nothing (a crafted one is no IndexError, and
        # -1 is not "the last row")
        chosen = [r for r in (event.selection.rows if event is not None else [])
                  if isinstance(r, int) and 0 <= r < len(frame)]
        selected = int(frame.iloc[chosen[0]][t("common.id", lang)]) if chosen else None
    footer = st.columns([4, 1, 1])
    with footer[0]:
        if page.pages > 1:
            st.pagination(page.pages, default=page.page, key=f"{key}__page", max_visible_pages=7)
        st.caption(t("sheet.rows", lang, total=page.total) + ("" if page.total == 0 or selected or editing
                                                              else " · " + t("sheet.select_hint", lang)))
    if store.may_export(sheet.name, actor) and page.total:
        footer[1].download_button(t("sheet.download_csv", lang), icon=":material/download:",
                                  data=lambda: csv_bytes(store, sheet.name, actor, query, lang),
                                  file_name=f"{sheet.name}.csv", mime="text/csv", on_click="ignore",
                                  key=f"{key}__csv", width="stretch")
        footer[2].download_button(t("sheet.download_xlsx", lang), icon=":material/table_view:",
                                  data=lambda: xlsx_bytes(store, sheet.name, actor, query, lang),
                                  file_name=f"{sheet.name}.xlsx", mime=XLSX_MIME, on_click="ignore",
                                  key=f"{key}__xlsx", width="stretch")
    return selected
