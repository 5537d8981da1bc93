"""Incentives (奖惩核算): the manager computes a month's or a quarter's run and sends it for checking; finance
and HR check it in turn (财务部、人力发展部核实计算), the general manager approves it (提交总经理批准), and anyone
whose turn it is may send it back with a reason. Finance downloads runs in one click (a draft marked as one);
staff see their own statement. Every figure, every step and every permission comes from kefu.incentives."""
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
    in_chain = actor.role in rules.chain_roles()
    preparer = incentives.may_compute(actor, rules)
    if preparer:
        st.caption(tr("ic.intro_manager", checks=incentives.say_roles(list(rules.checks), lang) or "—",
                      approver=incentives.say_roles(incentives.role_list(rules.approve_roles), lang)))
    else:
        st.caption(tr("ic.intro_finance" if actor.role == "finance" else
                      "ic.intro_checker" if in_chain else "ic.intro_staff"))
    periods = incentives.periods_for(store, actor, reports.today(store), rules=rules)
    if not periods:
        st.info(tr("ic.none_prepared" if in_chain else "ic.none_approved"), icon=":material/inbox:")
        return
    states = incentives.states(store) if in_chain else {}
    period = st.selectbox(tr("ic.choose_period"), periods, key=f"{KEY}__period",
                          format_func=lambda label: label if label not in states
                          else f"{label} · {tr('ic.state_' + states[label])}")
    try:
        run = incentives.run_for(store, actor, period)      # the figures in force for the period
        chain = incentives.chain_for(store, actor, period, rules=rules) if in_chain else None
    except KefuError as exc:
        st.error(plain(exc.message(lang)))
        return
    done = st.session_state.pop(f"{KEY}__done", None)
    if done:
        st.success(done, icon=":material/task_alt:")
    status(run, chain, tr, lang)
    columns = st.columns(3)
    columns[0].metric(tr("ic.metric_total"), format_fen(run.total_fen), border=True)
    columns[1].metric(tr("ic.metric_pool"), format_fen(run.pool_fen), border=True)
    columns[2].metric(tr("ic.metric_people"), len(run.per_person()), border=True)
    if run.pay_month:
        st.caption(tr("ic.paid_in", month=run.pay_month))
    if not run.lines:
        st.info(tr("ic.empty"), icon=":material/inbox:")
    else:
        lines_table(run, lang)
    if chain is not None:
        steps_table(chain, tr, lang)
        step = chain.turn_of(actor)
        if step is not None:
            act(store, actor, run, chain, step, tr, lang)
    if run.approved or in_chain:
        downloads(run, lang, tr)


def status(run, chain, tr, lang: str) -> None:
    """Where the run stands: approved (by whom, when), waiting for whose check or approval, sent back (by
    whom, why), or not prepared yet (computed now)."""
    if run.approved:
        st.info(tr("ic.status_approved", who=plain(run.approved_by), at=run.approved_at[:16].replace("T", " ")),
                icon=":material/verified:")
        return
    if chain is None or chain.state == incentives.NONE:
        st.warning(tr("ic.status_draft"), icon=":material/edit_note:")
        return
    if chain.state == incentives.RETURNED:
        back = chain.returned_by
        st.error(tr("ic.stage_returned", who=plain(back.user_name), role=incentives.say_roles(back.role, lang),
                    at=back.at[:16].replace("T", " "), reason=plain(back.reason or "")), icon=":material/undo:")
        return
    prepared = chain.current[0]
    step, roles = chain.next
    st.warning(tr("ic.stage_check" if step == "check" else "ic.stage_approve", who=plain(prepared.user_name),
                  at=prepared.at[:16].replace("T", " "),
                  role=incentives.say_roles(incentives.role_list(roles), lang)), icon=":material/pending_actions:")


def lines_table(run, lang: str) -> None:
    """The run as finance's file has it (totals rows marked 合计 in the first column, and in bold): the
    basis wide enough to read, money right-aligned with two decimals."""
    header, *rows = incentives.table(run, lang)
    frame = pd.DataFrame(rows, columns=header).astype(str)
    money = [header[column] for column in incentives.MONEY_COLUMNS if column != incentives.TAX_COLUMN]
    for column in money:                       # the tax column stays text: empty, finance fills it in their file
        frame[column] = pd.to_numeric(frame[column].replace("", None))
    marker = [row[0] == context.tr("ic.total_marker") for row in rows]
    styled = frame.style.apply(lambda row: ["font-weight: bold" if marker[row.name] else "" for _ in row], axis=1)
    config = {header[4]: st.column_config.TextColumn(width="large"),
              **{column: st.column_config.NumberColumn(format="%.2f", width="small") for column in money}}
    st.dataframe(styled, hide_index=True, width="stretch", column_config=config)


def steps_table(chain, tr, lang: str) -> None:
    """Every step of the run's chain, oldest first: who, as what role, when, the total they saw, why."""
    if not chain.steps:
        return
    st.subheader(tr("ic.steps_title"))
    frame = pd.DataFrame([[tr(f"ic.step_{step.step}"), incentives.say_roles(step.role, lang), step.user_name,
                           step.at[:16].replace("T", " "), format_fen(step.total_fen), step.reason or ""]
                          for step in chain.steps],
                         columns=[tr("ic.col_step"), tr("ic.col_role"), tr("ic.col_who"), tr("ic.col_at"),
                                  tr("ic.col_run_total"), tr("ic.col_reason")])
    st.dataframe(frame, hide_index=True, width="stretch")


def act(store, actor, run, chain, step: str, tr, lang: str) -> None:
    """The user's own step: prepare (again), check, or approve; a checker or the approver may send it back."""
    label = run.period.label
    if step == "prepare":
        again = chain.state == incentives.OPEN
        if again and incentives.changed(store, label):
            st.warning(tr("ic.stage_changed", roles=incentives.say_roles(
                incentives.role_list(chain.rules.prepare_roles), lang)), icon=":material/sync_problem:")
        with st.form(f"{KEY}__prepare"):
            if st.form_submit_button(tr("ic.prepare_again" if again else "ic.prepare"), type="secondary" if again
                                     else "primary", icon=":material/send:"):
                _do(lambda: incentives.prepare(store, actor, label), tr("ic.prepared_now", period=label), lang)
        return
    if incentives.changed(store, label):
        st.warning(tr("ic.stage_changed", roles=incentives.say_roles(
            incentives.role_list(chain.rules.prepare_roles), lang)), icon=":material/sync_problem:")
    left, right = st.columns(2)
    with left.form(f"{KEY}__{step}"):
        if step == "approve":
            checked = st.checkbox(tr("ic.confirm"), key=f"{KEY}__confirm")
            if st.form_submit_button(tr("ic.approve"), type="primary", icon=":material/verified:"):
                if not checked:
                    st.warning(tr("ic.confirm"))
                else:
                    _do(lambda: incentives.approve(store, actor, label), tr("ic.approved_now", period=label), lang)
        elif st.form_submit_button(tr("ic.check"), type="primary", icon=":material/fact_check:"):
            _do(lambda: incentives.check(store, actor, label), tr("ic.checked_now", period=label), lang)
    with right.form(f"{KEY}__send_back"):
        reason = st.text_input(tr("ic.send_back_reason"), max_chars=500, key=f"{KEY}__reason")
        if st.form_submit_button(tr("ic.send_back"), icon=":material/undo:"):
            _do(lambda: incentives.send_back(store, actor, label, reason), tr("ic.sent_back_now", period=label), lang)


def _do(step, done: str, lang: str) -> None:
    """Take the step; a refusal is shown where the button is (what was typed stays), success after a rerun."""
    try:
        step()
    except KefuError as exc:
        st.error(plain(exc.message(lang)))
        return
    st.session_state[f"{KEY}__done"] = done
    st.session_state.pop(f"{KEY}__reason", None)
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
