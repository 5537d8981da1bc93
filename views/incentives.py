"""Incentives (奖惩核算): managers compute a month's or a quarter's run, check it line by line and approve
it; finance sees approved runs only and downloads them in one click; staff see their own statement.
Every figure and every permission comes from kefu.incentives."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from kefu import incentives, reports
from kefu.errors import KefuError
from kefu.fields import format_fen
from kefu.ui import context
from kefu.ui.text import plain

KEY = "incentives"


def render() -> None:
    actor = context.require_view(incentives.VIEW)
    store, tr, lang = context.store(), context.tr, context.lang()
    rules = incentives.rules_for(store)
    st.title(tr("ic.title"))
    approver = incentives.may_compute(actor, rules)
    if approver:
        st.caption(tr("ic.intro_manager"))
        periods = incentives.recent_periods(reports.today(store))
    else:
        st.caption(tr("ic.intro_finance" if actor.role == "finance" else "ic.intro_staff"))
        periods = [row["period"] for row in incentives.approved_periods(store, actor)]
        if not periods:
            st.info(tr("ic.none_approved"), icon=":material/inbox:")
            return
    period = st.selectbox(tr("ic.choose_period"), periods, key=f"{KEY}__period")
    try:
        run = incentives.run_for(store, actor, period)      # the figures in force for the period
    except KefuError as exc:
        st.error(plain(exc.message(lang)))
        return
    done = st.session_state.pop(f"{KEY}__done", None)
    if done:
        st.success(done, icon=":material/lock:")
    if run.approved:
        st.info(tr("ic.status_approved", who=plain(run.approved_by), at=run.approved_at[:16].replace("T", " ")),
                icon=":material/verified:")
    else:
        st.warning(tr("ic.status_draft"), icon=":material/edit_note:")
    columns = st.columns(3)
    columns[0].metric(tr("ic.metric_total"), format_fen(run.total_fen), border=True)
    columns[1].metric(tr("ic.metric_pool"), format_fen(run.pool_fen), border=True)
    columns[2].metric(tr("ic.metric_people"), len(run.per_person()), border=True)
    if not run.lines:
        st.info(tr("ic.empty"), icon=":material/inbox:")
    else:
        lines_table(run, lang)
    if approver and not run.approved:
        approve_form(store, actor, run, rules, tr)
    if run.approved or approver:
        downloads(run, lang, tr)


def lines_table(run, lang: str) -> None:
    """The run as finance's file has it (totals rows marked 合计 in the first column, and in bold): the
    basis wide enough to read, money right-aligned with two decimals."""
    header, *rows = incentives.table(run, lang)
    frame = pd.DataFrame(rows, columns=header).astype(str)
    money = [header[5], header[6]]
    for column in money:
        frame[column] = pd.to_numeric(frame[column].replace("", None))
    marker = [row[0] == context.tr("ic.total_marker") for row in rows]
    styled = frame.style.apply(lambda row: ["font-weight: bold" if marker[row.name] else "" for _ in row], axis=1)
    config = {header[4]: st.column_config.TextColumn(width="large"),
              **{column: st.column_config.NumberColumn(format="%.2f", width="small") for column in money}}
    st.dataframe(styled, hide_index=True, width="stretch", column_config=config)


def approve_form(store, actor, run, rules, tr) -> None:
    with st.form(f"{KEY}__approve"):
        checked = st.checkbox(tr("ic.confirm"), key=f"{KEY}__confirm")
        if st.form_submit_button(tr("ic.approve"), type="primary", icon=":material/verified:"):
            if not checked:
                st.warning(tr("ic.confirm"))
                return
            try:
                incentives.approve(store, actor, run.period.label)
            except KefuError as exc:
                st.error(plain(exc.message(context.lang())))
                return
            st.session_state[f"{KEY}__done"] = tr("ic.approved_now", period=run.period.label)
            st.rerun()


def downloads(run, lang: str, tr) -> None:
    left, right = st.columns(2)
    left.download_button(tr("ic.download_csv"), data=lambda: incentives.csv_bytes(run, lang),
                         file_name=incentives.file_name(run, "csv"), mime="text/csv", on_click="ignore",
                         icon=":material/download:", key=f"{KEY}__csv")
    right.download_button(tr("ic.download_xlsx"), data=lambda: incentives.xlsx_bytes(run, lang),
                          file_name=incentives.file_name(run, "xlsx"), on_click="ignore",
                          mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                          icon=":material/table_view:", key=f"{KEY}__xlsx")
