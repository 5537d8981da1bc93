"""The import screen's parts: choose a register and a file, map its columns, check, then import.

Nothing is written until the user presses the import button after a check; the check and the import
are kefu.importing's (every row validated, one transaction). What the screen holds between reruns (the
file read, the plan) lives in session_state under the screen's key.
"""
from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from kefu import auth, importing
from kefu.errors import KefuError
from kefu.exporting import Formatter
from kefu.i18n import t
from kefu.store import Store
from kefu.ui.text import plain

LEAVE_OUT = "im.leave_out"   # the mapping's choice for a column that fills no field
PREVIEW_ROWS = 5


def choose_sheet(store: Store, actor, lang: str, key: str):
    sheets = importing.importable_sheets(store, actor)
    if not sheets:
        st.info(t("im.no_sheets", lang), icon=":material/inbox:")
        return None
    names = [s.name for s in sorted(sheets, key=lambda s: not s.menu)]      # registers with a screen first
    chosen = st.selectbox(t("im.target", lang), names, key=f"{key}__sheet", index=None,
                          placeholder=t("im.target_placeholder", lang), format_func=lambda n: store.sheet(n).label_in(lang))
    return store.sheet(chosen) if chosen else None


def read_upload(lang: str, key: str, sheet) -> importing.Table | None:
    """The uploaded file as a Table (read once per file and worksheet), or None with the reason shown."""
    upload = st.file_uploader(t("im.file", lang), type=["csv", "txt", "xlsx"], key=f"{key}__file",
                              help=t("im.file_help", lang, max=f"{importing.MAX_BYTES / 2**20:.0f}"))
    if upload is None:
        st.caption(t("im.start_hint", lang, sheet=sheet.label_in(lang)))
        return None
    state = f"{key}__table"
    worksheet = st.session_state.get(f"{key}__worksheet_{upload.file_id}")
    held = st.session_state.get(state)
    if held and held[0] == (upload.file_id, worksheet):
        table = held[1]
    else:
        try:
            with st.spinner(t("im.reading", lang)):
                table = importing.read_file(upload.getvalue(), upload.name, worksheet=worksheet)
        except KefuError as exc:
            st.error(plain(exc.message(lang)), icon=":material/error:")
            return None
        st.session_state[state] = ((upload.file_id, worksheet), table)
        st.session_state.pop(f"{key}__plan", None)
    if len(table.worksheets) > 1:
        st.selectbox(t("im.worksheet", lang), table.worksheets, key=f"{key}__worksheet_{upload.file_id}",
                     index=table.worksheets.index(table.worksheet))
    kind = "Excel" if table.kind == "xlsx" else f"CSV · {table.encoding.upper().replace('-SIG', ' (BOM)')}"
    st.caption(t("im.file_facts", lang, kind=kind, rows=f"{len(table.rows):,}", columns=len(table.headers)))
    return table


def map_columns(sheet, table: importing.Table, lang: str, key: str) -> list[str | None]:
    """A table of the file's columns with the field each fills, chosen automatically and changeable."""
    fields = importing.importable_fields(sheet)
    label_of = {f.name: f.label_in(lang) + (" *" if f.required else "") for f in fields}
    name_of = {label: name for name, label in label_of.items()}
    leave_out = t(LEAVE_OUT, lang)
    automatic = importing.auto_map(sheet, table.headers)
    frame = pd.DataFrame({
        t("im.col_file_column", lang): [h or f"#{i + 1}" for i, h in enumerate(table.headers)],
        t("im.col_sample", lang): [_sample(table, i) for i in range(len(table.headers))],
        t("im.col_field", lang): [label_of[n] if n else leave_out for n in automatic],
    })
    shape = hashlib.sha1(repr((sheet.name, table.headers)).encode()).hexdigest()[:10]
    edited = st.data_editor(
        frame, hide_index=True, width="stretch", key=f"{key}__mapping_{shape}",
        disabled=[t("im.col_file_column", lang), t("im.col_sample", lang)],
        column_config={t("im.col_field", lang): st.column_config.SelectboxColumn(
            t("im.col_field", lang), options=[leave_out, *label_of.values()], required=True,
            help=t("im.mapping_help", lang))})
    return [name_of.get(value) for value in edited[t("im.col_field", lang)]]


def _sample(table: importing.Table, position: int) -> str:
    for row in table.rows[:50]:
        if position < len(row) and row[position] not in (None, ""):
            text = str(row[position])
            return text if len(text) <= 40 else text[:40] + "…"
    return ""


def show_plan(store: Store, sheet, plan: importing.Plan, actor, lang: str, key: str) -> None:
    """What the check found, and the import button once the file can go in."""
    if plan.problems:
        st.error("\n".join(f"- {plain(m)}" for m in importing.problem_messages(store, plan, lang)), icon=":material/error:")
        return
    cards = st.columns(4)
    cards[0].metric(t("im.count_new", lang), f"{len(plan.new):,}")
    cards[1].metric(t("im.count_update", lang), f"{len(plan.updates):,}")
    cards[2].metric(t("im.count_same", lang), f"{len(plan.matched) - len(plan.updates):,}")
    cards[3].metric(t("im.count_bad", lang), f"{len(plan.bad_rows):,}")
    if plan.unmapped_required and plan.new:
        st.warning(t("im.unmapped_required", lang, fields="、".join(
            sheet.by_name[n].label_in(lang) for n in plan.unmapped_required)), icon=":material/warning:")
    if plan.errors:
        st.subheader(t("im.errors_title", lang, count=f"{len(plan.errors):,}", rows=f"{len(plan.bad_rows):,}"))
        st.dataframe(pd.DataFrame(importing.error_rows(store, plan, lang)[:1000]), hide_index=True, width="stretch")
        st.download_button(t("im.errors_download", lang), icon=":material/download:",
                           data=lambda: importing.errors_csv(store, plan, lang),
                           file_name=f"{sheet.name}-errors.csv", mime="text/csv", on_click="ignore", key=f"{key}__errors")
    if plan.updates:
        st.subheader(t("im.updates_title", lang, count=f"{len(plan.updates):,}"))
        st.dataframe(_updates_frame(store, sheet, plan, actor, lang), hide_index=True, width="stretch")
    _commit_controls(store, sheet, plan, actor, lang, key)


def _updates_frame(store: Store, sheet, plan: importing.Plan, actor, lang: str) -> pd.DataFrame:
    """The records a file would update, named and shown as this user may see them (an archive's name is
    personal data: masked for a role without pii)."""
    formatter = Formatter(store, sheet, lang, actor)
    shown = plan.updates[:500]
    titles = store.titles(sheet.name, [r.existing for r in shown], actor)
    lines = {t("im.col_row", lang): [], t("im.col_record", lang): [], t("im.col_change", lang): []}
    order = {f.name: position for position, f in enumerate(sheet.fields)}
    for row in shown:
        changes = []
        for name, (before, after) in sorted(row.changes.items(), key=lambda item: order[item[0]]):
            field = sheet.by_name[name]
            formatter.prefetch([{name: before}, {name: after}])
            old, new = formatter.value(field, before), formatter.value(field, after)
            changes.append(f"{field.label_in(lang)}: {'' if old is None else old} → {'' if new is None else new}")
        lines[t("im.col_row", lang)].append(row.number)
        lines[t("im.col_record", lang)].append(titles.get(row.existing, f"#{row.existing}"))
        lines[t("im.col_change", lang)].append(t("im.change_separator", lang).join(changes))
    return pd.DataFrame(lines)


def _commit_controls(store: Store, sheet, plan: importing.Plan, actor, lang: str, key: str) -> None:
    duplicates = "skip"
    if plan.updates:
        if auth.can(actor, sheet, "update"):
            duplicates = st.radio(t("im.duplicates", lang), ["skip", "update"], key=f"{key}__duplicates",
                                  horizontal=True, format_func=lambda v: t(f"im.duplicates_{v}", lang))
        else:
            st.caption(t("im.no_update_right", lang))
    skip_invalid = False
    if plan.errors:
        skip_invalid = st.checkbox(t("im.skip_invalid", lang, rows=f"{len(plan.bad_rows):,}"), key=f"{key}__skip")
    writes = len(plan.new) + (len(plan.updates) if duplicates == "update" else 0)
    blocked = (plan.errors and not skip_invalid) or writes == 0
    if plan.errors and not skip_invalid:
        st.caption(t("im.fix_first", lang))
    if st.button(t("im.commit", lang, count=f"{writes:,}"), type="primary", disabled=bool(blocked),
                 key=f"{key}__commit", icon=":material/upload:"):
        bar = st.progress(0.0, text=t("im.progress", lang, done=0, total=f"{writes:,}"))
        try:
            outcome = importing.commit(store, plan, actor, duplicates=duplicates, skip_invalid=skip_invalid,
                                       progress=lambda done, total: bar.progress(
                                           done / max(total, 1), text=t("im.progress", lang, done=f"{done:,}",
                                                                        total=f"{total:,}")))
        except KefuError as exc:
            bar.empty()
            st.error(plain(exc.message(lang)), icon=":material/error:")
            return
        bar.empty()
        for name in [k for k in st.session_state if str(k).startswith(f"{key}__")
                     and not str(k).startswith(f"{key}__sheet")]:
            del st.session_state[name]
        st.session_state[f"{key}__done"] = t("im.done", lang, sheet=sheet.label_in(lang), created=f"{outcome.created:,}",
                                             updated=f"{outcome.updated:,}", skipped=f"{outcome.skipped:,}",
                                             left_out=f"{outcome.left_out:,}")
        st.rerun()


def import_screen(store: Store, actor, lang: str, key: str = "import") -> None:
    done = st.session_state.pop(f"{key}__done", None)
    if done:
        st.success(done, icon=":material/check_circle:")
    sheet = choose_sheet(store, actor, lang, key)
    if sheet is None:
        return
    table = read_upload(lang, key, sheet)
    if table is None:
        return
    st.subheader(t("im.mapping_title", lang))
    mapping = map_columns(sheet, table, lang, key)
    marker = (sheet.name, tuple(mapping), id(table))
    if st.button(t("im.check", lang), key=f"{key}__check", icon=":material/fact_check:"):
        with st.spinner(t("im.checking", lang, rows=f"{len(table.rows):,}")):
            try:
                st.session_state[f"{key}__plan"] = (marker, importing.check(store, sheet.name, table, mapping, actor))
            except KefuError as exc:
                st.error(plain(exc.message(lang)), icon=":material/error:")
                return
    held = st.session_state.get(f"{key}__plan")
    if held and held[0] == marker:
        show_plan(store, sheet, held[1], actor, lang, key)
    elif held:
        st.caption(t("im.check_again", lang))
