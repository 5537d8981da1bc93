"""The office rules screen (办公规则): a form per rules file with each figure's label and meaning, the "what
changes" preview, an effective date, save, and the history with its diffs and restore. Every check, figure
and permission comes from kefu.office_rules; this module only draws."""
from __future__ import annotations

from decimal import Decimal

import pandas as pd
import streamlit as st

from kefu import office_rules
from kefu.errors import KefuError
from kefu.fields import format_fen
from kefu.i18n import label as pick
from kefu.ui import context
from kefu.ui.text import plain

KEY = "office_rules"
COLUMNS = 3


def office_rules_screen(store, actor, lang: str) -> None:
    tr = context.tr
    editor = office_rules.may_save(actor)
    if not editor:
        st.info(tr("or.read_only"), icon=":material/visibility:")
    name = st.selectbox(tr("or.file"), office_rules.NAMES, key=f"{KEY}__file",
                        format_func=lambda n: f"{pick(office_rules.FILE_LABELS[n], lang)} · rules/{n}.toml")
    base_key = f"{KEY}__base_{name}"
    if base_key not in st.session_state:              # the text this form was made from (a later change is detected)
        st.session_state[base_key] = office_rules.current_text(store, actor, name)
    base = st.session_state[base_key]
    done = st.session_state.pop(f"{KEY}__done", None)
    if done:
        st.success(done, icon=":material/check_circle:")
    for waiting in office_rules.pending(store, actor, name):       # saved for a later day: not in the file yet
        st.info(tr("or.pending", version=waiting.version, by=plain(waiting.saved_by_name), day=waiting.effective_from),
                icon=":material/event:")
    figures_tab, history_tab = st.tabs([pick(office_rules.FILE_LABELS[name], lang), tr("or.history")])
    with figures_tab:
        rules_form(store, actor, name, base, editor, lang)
    with history_tab:
        history_section(store, actor, name, editor, lang)


def _widget(name: str, figure) -> str:
    return f"{KEY}__{name}__{figure.key}"


def _help(figure, lang: str) -> str:
    other = "en" if lang == "zh" else "zh"
    parts = [figure.meaning_in(lang), f"{pick(figure.label, other)}{' — ' + pick(figure.meaning, other) if pick(figure.meaning, other) else ''}"]
    if figure.comment:
        parts.append(context.tr("or.in_file", comment=figure.comment))
    parts.append(f"`{figure.key}`")
    return "\n\n".join(plain(p) if not p.startswith("`") else p for p in parts if p)


def _shown_money(value) -> str:
    return format(Decimal(str(value)).normalize(), "f") if isinstance(value, (int, float)) else str(value)


def figure_input(column, name: str, figure, lang: str, disabled: bool):
    """One figure's input, labelled; the widget's state keeps what was typed across reruns."""
    key, label, help_text = _widget(name, figure), plain(figure.label_in(lang)), _help(figure, lang)
    value = figure.value
    if figure.kind in ("roles", "choices"):
        options = [v for v, _ in figure.choices] + [v for v in (value or []) if v not in {c for c, _ in figure.choices}]
        labels = dict(figure.choices)
        return column.multiselect(label, options, default=list(value or []), key=key, help=help_text, disabled=disabled,
                                  format_func=lambda v: pick(labels.get(v, {"en": v, "zh": v}), lang))
    if figure.kind == "choice":
        options = [v for v, _ in figure.choices]
        labels = dict(figure.choices)
        return column.selectbox(label, options, index=options.index(value) if value in options else 0, key=key,
                                help=help_text, disabled=disabled,
                                format_func=lambda v: pick(labels.get(v, {"en": v, "zh": v}), lang))
    if figure.kind == "bool":
        return column.checkbox(label, value=bool(value), key=key, help=help_text, disabled=disabled)
    if figure.kind in ("money", "time"):
        return column.text_input(label, value=_shown_money(value) if figure.kind == "money" else str(value), key=key,
                                 help=help_text, disabled=disabled)
    if isinstance(value, int) and figure.kind in ("weight", "count", "points"):
        return column.number_input(label, value=value, step=1, key=key, help=help_text, disabled=disabled)
    step = {"hours": 0.5, "score": 0.1}.get(figure.kind, 0.5)
    return column.number_input(label, value=float(value), step=step, format="%g", key=key, help=help_text,
                               disabled=disabled)


def rules_form(store, actor, name: str, base: str, editor: bool, lang: str) -> None:
    tr = context.tr
    groups = office_rules.groups(name, base, store.sheets)

    def fields(disabled: bool) -> None:
        for group in groups:
            st.markdown(f"#### {plain(group.label_in(lang))}")
            caption = " ".join(plain(p) for p in (group.meaning_in(lang), group.comment and tr("or.in_file",
                                                                                                  comment=group.comment)) if p)
            if caption:
                st.caption(caption)
            columns = st.columns(COLUMNS)
            for number, figure in enumerate(group.figures):
                figure_input(columns[number % COLUMNS], name, figure, lang, disabled)

    if not editor:
        fields(disabled=True)
        return
    with st.form(f"{KEY}__form_{name}", enter_to_submit=False):
        fields(disabled=False)
        st.divider()
        left, middle, right = st.columns([2, 1, 1], vertical_alignment="bottom")
        effective = left.date_input(tr("or.effective"), value=office_rules.today_in(store), format="YYYY-MM-DD",
                                    key=f"{KEY}__effective_{name}", help=tr("or.effective_help"))
        show = middle.form_submit_button(tr("or.preview"), icon=":material/preview:", width="stretch")
        save = right.form_submit_button(tr("or.save"), type="primary", icon=":material/save:", width="stretch")
    values = {figure.key: st.session_state.get(_widget(name, figure), figure.value)
              for group in groups for figure in group.figures}
    if not (show or save):
        return
    try:
        if save:
            saved = office_rules.save_figures(store, actor, name, values, effective_from=effective, expected=base)
        else:
            shown = office_rules.preview_figures(store, actor, name, values, effective_from=effective, expected=base)
    except KefuError as exc:
        st.error(exc.message(lang), icon=":material/error:")
        if isinstance(exc, office_rules.ChangedOnDisk):
            changed_on_disk(store, exc, lang)
        return
    if save:
        message = tr("or.saved", version=saved.version.version, day=saved.effective_from.isoformat())
        if saved.retimed:
            message += " " + tr("or.retimed", count=saved.retimed, day=saved.effective_from.isoformat())
        reset(name)
        st.session_state[f"{KEY}__done"] = message
        st.rerun()
    preview_section(shown, lang)


def changed_on_disk(store, exc, lang: str) -> None:
    """What changed in the file since the form was made from it: the figures and the file's diff, and a
    button that takes the new text while keeping the figures the user changed (the form keeps them anyway)."""
    tr = context.tr
    st.subheader(tr("or.changed_title"))
    if exc.changes:
        st.dataframe(pd.DataFrame([{tr("or.col_figure"): pick(c.label, lang), tr("or.col_key"): c.key,
                                    tr("or.col_opened"): _cell(c.before), tr("or.col_on_disk"): _cell(c.after)}
                                   for c in exc.changes]), hide_index=True, width="stretch",
                     key=f"{KEY}__changed_{exc.name}")
    st.code("\n".join(exc.diff) or " ", language="diff")
    st.button(tr("or.rebase"), icon=":material/sync:", help=tr("or.rebase_help"), key=f"{KEY}__rebase_{exc.name}",
              on_click=rebase, args=(exc.name, exc.opened, exc.now, store.sheets))


def rebase(name: str, opened: str, now: str, sheets) -> None:
    """The form made from `now` instead of `opened`: a figure whose input still holds the value it opened
    with takes the new value; one the user changed keeps what was typed."""
    before = {figure.key: figure for figure in office_rules.figures(name, opened, sheets)}
    for figure in office_rules.figures(name, now, sheets):
        widget, old = _widget(name, figure), before.get(figure.key)
        if widget in st.session_state and old is not None and not _untouched(st.session_state[widget], old, name):
            continue
        st.session_state.pop(widget, None)            # drawn again from the file's new value
    st.session_state[f"{KEY}__base_{name}"] = now


def _untouched(typed, figure, name: str) -> bool:
    try:
        return office_rules.same_value(figure, typed, name)
    except KefuError:
        return False


def reset(name: str) -> None:
    """After a save or a restore: the form starts again from the file as it is now."""
    st.session_state.pop(f"{KEY}__base_{name}", None)
    for key in [k for k in st.session_state if str(k).startswith(f"{KEY}__{name}__")]:
        st.session_state.pop(key, None)


def preview_section(shown, lang: str) -> None:
    tr = context.tr
    st.subheader(tr("or.changes_title"))
    if not shown.changes:
        st.info(tr("or.nothing_changed"), icon=":material/info:")
    else:
        st.dataframe(pd.DataFrame([{tr("or.col_figure"): pick(c.label, lang), tr("or.col_key"): c.key,
                                    tr("or.col_before"): _cell(c.before), tr("or.col_after"): _cell(c.after)}
                                   for c in shown.changes]), hide_index=True, width="stretch")
    if shown.ranking is not None:
        ranking = shown.ranking
        st.subheader(tr("or.ranking_title", year=ranking.year, quarter=ranking.quarter))
        if not ranking.applies:
            st.info(tr("or.ranking_not_applies"), icon=":material/event:")
        st.dataframe(pd.DataFrame([{
            tr("or.col_name"): row.name, tr("or.col_place_now"): row.place_before, tr("or.col_score_now"): row.score_before,
            tr("or.col_place_new"): row.place_after, tr("or.col_score_new"): row.score_after,
            tr("or.col_bonus_new"): _place(row.bonus_after, ranking.places_after)}
            for row in ranking.rows]), hide_index=True, width="stretch", key=f"{KEY}__ranking_preview",
            column_config={tr("or.col_score_now"): st.column_config.NumberColumn(format="%.2f"),
                           tr("or.col_score_new"): st.column_config.NumberColumn(format="%.2f")})
        bonus_section(ranking, lang)
    if shown.name == "incentives" and not shown.runs:
        st.info(tr("or.no_runs"), icon=":material/lock:")
    for run in shown.runs:
        st.subheader(tr("or.runs_title", period=run.period))
        if not run.applies:
            st.info(tr("or.run_not_applies"), icon=":material/event:")
        st.caption(tr("or.run_total", before=format_fen(run.total_before), after=format_fen(run.total_after)))
        if run.people:
            st.dataframe(pd.DataFrame([{tr("or.col_name"): person, tr("or.col_now"): format_fen(before),
                                        tr("or.col_new"): format_fen(after)} for person, before, after in run.people]),
                         hide_index=True, width="stretch")
    if shown.name == "sla":
        day = shown.effective_from.isoformat()
        st.subheader(tr("or.dues_title", day=day))
        if shown.dues:
            st.dataframe(pd.DataFrame([{
                tr("or.col_ticket"): due.ticket_no, tr("or.col_received"): _moment(due.received),
                tr("or.col_response_now"): _moment(due.response_before), tr("or.col_response_new"): _moment(due.response_after),
                tr("or.col_resolution_now"): _moment(due.resolution_before),
                tr("or.col_resolution_new"): _moment(due.resolution_after)} for due in shown.dues]),
                hide_index=True, width="stretch")
        else:
            st.info(tr("or.no_dues", day=day), icon=":material/inbox:")
        st.caption(tr("or.dues_kept", count=shown.dues_kept, day=day))
    if shown.diff:
        with st.expander(f"rules/{shown.name}.toml"):
            st.code("\n".join(shown.diff), language="diff")


def _place(mark: str | None, places: dict) -> str:
    return context.tr(f"db.bonus_{mark}", **places[mark]) if mark else ""


def bonus_section(ranking, lang: str) -> None:
    """Who gains or loses a quarterly bonus place under the new KPI rules, and what that place pays."""
    tr = context.tr
    st.markdown(f"**{tr('or.bonus_title')}**")
    if ranking.bonus_approved:
        st.info(tr("or.bonus_approved"), icon=":material/lock:")
    if not ranking.bonus:
        st.caption(tr("or.bonus_same"))
        return

    def place(mark, places, fen) -> str:
        return f"{_place(mark, places)} · {format_fen(fen)}" if mark else tr("or.no_bonus")
    st.dataframe(pd.DataFrame([{
        tr("or.col_name"): change.name, tr("or.col_bonus_now"): place(change.before, ranking.places_before, change.fen_before),
        tr("or.col_bonus_after"): place(change.after, ranking.places_after, change.fen_after),
        tr("or.col_bonus_change"): ("+" if change.gains else "") + format_fen(change.fen_after - change.fen_before)}
        for change in ranking.bonus]), hide_index=True, width="stretch", key=f"{KEY}__bonus_preview")
    st.caption(tr("or.bonus_money"))


def _cell(value) -> str:
    if isinstance(value, bool):                    # a switch (follow the roster, group complaints escalated)
        return context.tr("common.yes" if value else "common.no")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def _moment(value) -> str:
    return (value or "")[:16].replace("T", " ")


def history_section(store, actor, name: str, editor: bool, lang: str) -> None:
    tr = context.tr
    found = office_rules.history(store, actor, name)
    if not found:
        st.info(tr("or.no_history"), icon=":material/history:")
        return
    st.dataframe(pd.DataFrame([{tr("or.col_version"): v.version, tr("or.col_saved_at"): _moment(v.saved_at),
                                tr("or.col_by"): v.saved_by_name, tr("or.col_from"): v.effective_from or tr("or.always"),
                                tr("or.col_note"): v.note} for v in found]), hide_index=True, width="stretch")
    picked = st.selectbox(tr("or.pick_version"), [v.version for v in found], key=f"{KEY}__version_{name}",
                          format_func=lambda n: f"v{n}")
    st.markdown(f"**{tr('or.diff_title')}**")
    st.code("\n".join(office_rules.compare(store, actor, name, picked)) or " ", language="diff")
    if not editor or picked == found[0].version:
        return
    with st.form(f"{KEY}__restore_{name}", enter_to_submit=False):
        left, right = st.columns([2, 1], vertical_alignment="bottom")
        effective = left.date_input(tr("or.restore_from"), value=office_rules.today_in(store), format="YYYY-MM-DD",
                                    key=f"{KEY}__restore_from_{name}")
        if right.form_submit_button(tr("or.restore"), icon=":material/restore:", width="stretch"):
            try:
                saved = office_rules.restore(store, actor, name, picked, effective_from=effective)
            except KefuError as exc:
                st.error(exc.message(lang), icon=":material/error:")
                return
            reset(name)
            st.session_state.pop(f"{KEY}__version_{name}", None)
            st.session_state[f"{KEY}__done"] = tr("or.restored", old=picked, version=saved.version.version,
                                                  day=saved.effective_from.isoformat())
            st.rerun()
