"""顾客满意度调查分析报告: a survey campaign's analysis report, drafted by a supervisor or the manager, approved
by the gm, released to the departments, and printed (000 6、售后服务管理 c, d). The report is laid out as one
document; the print layout shows that document alone (no sidebar, no buttons), charts included, for the
browser's print (A4). Every figure and every step comes from kefu.survey_reports."""
from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st
import streamlit.components.v1 as components

from kefu import surveys, survey_reports
from kefu.errors import KefuError
from kefu.sheets import ValidationError
from kefu.ui import context
from kefu.ui.text import plain
from kefu.ui.widgets import error_list

KEY = "svr"
# Printed: the document alone. The keyed containers around the controls are named svr_noprint_*.
PRINT_STYLE = """<style>
@media print {
  [data-testid="stSidebar"], [data-testid="stHeader"], [data-testid="stToolbar"], [data-testid="stDecoration"],
  [data-testid="stSidebarCollapsedControl"], [class*="st-key-svr_noprint"], iframe { display: none !important; }
  [data-testid="stMain"] { margin-left: 0 !important; }
  html, body, [data-testid="stApp"], [data-testid="stAppViewContainer"], [data-testid="stMain"] {
    height: auto !important; min-height: 0 !important; overflow: visible !important; }
  [data-testid="stMainBlockContainer"] { padding: 0 !important; max-width: 100% !important; }
  [data-testid="stVegaLiteChart"], [data-testid="stMetric"], [data-testid="stTable"] { break-inside: avoid; }
  @page { size: A4; margin: 1.5cm; }
}
</style>"""
# The print layout on the screen: what the paper will hold, as wide as A4.
PREVIEW_STYLE = """<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [class*="st-key-svr_noprint_steps"] {
  display: none !important; }
[data-testid="stMainBlockContainer"] { max-width: 21cm !important; }
</style>"""
PRINT_BUTTON = """<button onclick="window.parent.print()" style="font: 15px sans-serif; padding: 6px 16px;
 border-radius: 8px; border: 1px solid #bbb; background: #fff; cursor: pointer">{label}</button>"""


def render() -> None:
    actor = context.require_view(survey_reports.VIEW)
    store, tr, lang = context.store(), context.tr, context.lang()
    st.html(PRINT_STYLE)
    if f"{KEY}__open" in st.session_state:                    # a report just drafted: open it
        st.session_state[f"{KEY}__report"] = st.session_state.pop(f"{KEY}__open")
    printing = bool(st.session_state.get(f"{KEY}__print"))
    with st.container(key="svr_noprint_top"):
        if not printing:
            st.title(tr("svr.title"))
            st.caption(tr("svr.intro"))
            if survey_reports.may_draft(store, actor):
                new_report(store, actor, tr)
        listed = survey_reports.visible(store, actor)
        if not listed:
            st.info(tr("svr.none"), icon=":material/inbox:")
            return
        names = {r["id"]: f"{r['title']} · {tr('svr.status_' + r['status'])}" for r in listed}
        if st.session_state.get(f"{KEY}__report") not in names:
            st.session_state.pop(f"{KEY}__report", None)
        left, right = st.columns([3, 1], vertical_alignment="bottom")
        chosen = left.selectbox(tr("svr.choose"), list(names), format_func=names.get, key=f"{KEY}__report")
        right.toggle(tr("svr.print_layout"), key=f"{KEY}__print")
        if printing:
            st.html(PREVIEW_STYLE)
            st.caption(tr("svr.print_hint"))
            components.html(PRINT_BUTTON.replace("{label}", tr("svr.print")), height=48)
    try:
        report = survey_reports.get(store, actor, chosen)
    except KefuError as exc:
        st.error(plain(exc.message(lang)))
        return
    figures = survey_reports.figures_of(store, actor, report)
    document(store, actor, report, figures, tr, lang)
    if not printing:
        with st.container(key="svr_noprint_steps"):
            steps(store, actor, report, figures, tr, lang)
            history(store, actor, report, tr)


# ---------------------------------------------------------------------------------------------- the document

def document(store, actor, report: dict, figures: survey_reports.Figures, tr, lang: str) -> None:
    sheet, campaigns = store.sheet(surveys.SHEET), store.sheet(surveys.CAMPAIGNS)
    names = store.user_names()
    campaign = figures.campaign
    with st.container(border=True, key="svr_document"):
        st.header(plain(report["title"]), anchor=False)
        st.markdown(tr("svr.doc_line", campaign=plain(campaign["title"]),
                       scope=campaigns.by_name["scope"].choice_label(campaign["scope"], lang),
                       start=figures.start, last=figures.end, author=plain(names.get(report["author"], "—")),
                       status=tr("svr.status_" + report["status"])))
        if report["status"] == "draft":
            st.warning(tr("svr.draft_note"), icon=":material/edit_note:")
        elif report["status"] in ("submitted", "approved"):
            st.info(tr("svr.not_released_note"), icon=":material/lock:")
        if not figures.answers:
            st.info(tr("svr.no_answers_yet"), icon=":material/inbox:")
        st.subheader(tr("svr.results"), anchor=False)
        counts = st.columns(len(surveys.QUESTIONS))
        counts[0].metric(tr("svr.answers"), figures.answers, border=True)
        counts[1].metric(tr("svr.comments"), figures.comments, border=True)
        for column, question in zip(st.columns(len(surveys.QUESTIONS)), surveys.QUESTIONS):
            average, change = figures.averages.get(question), figures.change(question)
            column.metric(sheet.by_name[question].label_in(lang), "—" if average is None else f"{average:.2f}",
                          delta=None if change is None else f"{change:+.2f}", border=True)
        comparison(figures, sheet, tr, lang)
        distribution_chart({sheet.by_name[q].label_in(lang): figures.distribution.get(q, {}) for q in surveys.QUESTIONS},
                           tr)
        st.subheader(tr("svr.actions"), anchor=False)
        recorded = survey_reports.actions(store, actor, campaign["id"])
        if recorded:
            action_sheet = store.sheet(surveys.ACTIONS)
            st.table(pd.DataFrame([{
                action_sheet.by_name["question"].label_in(lang): action_sheet.by_name["question"].choice_label(a["question"], lang),
                action_sheet.by_name["average"].label_in(lang): "—" if a["average"] is None else f"{a['average']:.2f}",
                action_sheet.by_name["action"].label_in(lang): a["action"],
                action_sheet.by_name["owner"].label_in(lang): names.get(a["owner"], "—"),
                action_sheet.by_name["due"].label_in(lang): a["due"] or "—",
                action_sheet.by_name["done"].label_in(lang): tr("common.yes" if a["done"] else "common.no"),
            } for a in recorded]))
        else:
            st.caption(tr("svr.no_actions"))
        st.subheader(store.sheet(survey_reports.SHEET).by_name["analysis"].label_in(lang), anchor=False)
        st.markdown(plain(report["analysis"]) if report["analysis"] else tr("svr.no_analysis"))
        signatures(report, names, tr)


def comparison(figures: survey_reports.Figures, sheet, tr, lang: str) -> None:
    if figures.previous is None:
        st.caption(tr("svr.no_previous"))
        return
    st.markdown(tr("svr.compared_with", title=plain(figures.previous["title"]), start=figures.previous["started_on"],
                   answers=figures.previous_answers))
    rows = []
    for question in surveys.QUESTIONS:
        now, before, change = (figures.averages.get(question), figures.previous_averages.get(question),
                               figures.change(question))
        rows.append({tr("svr.question"): sheet.by_name[question].label_in(lang),
                     tr("svr.this_campaign"): "—" if now is None else f"{now:.2f}",
                     tr("svr.previous_campaign"): "—" if before is None else f"{before:.2f}",
                     tr("svr.change"): "—" if change is None else f"{change:+.2f}"})
    st.table(pd.DataFrame(rows).set_index(tr("svr.question")))


def distribution_chart(spreads: dict, tr) -> None:
    """The 1-5 scores of each question, side by side in one chart of fixed width (it prints as it shows)."""
    st.markdown(f"**{tr('svr.distribution')}**")
    frame = pd.DataFrame([(question, str(score), spread.get(score, 0)) for question, spread in spreads.items()
                          for score in survey_reports.SCORES], columns=["question", "score", "answers"])
    chart = alt.Chart(frame).mark_bar().encode(
        x=alt.X("score:N", title=tr("sv.score"), sort=None, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("answers:Q", title=tr("sv.answers"), axis=alt.Axis(tickMinStep=1, format="d")),
        tooltip=[alt.Tooltip("question:N", title=tr("svr.question")), alt.Tooltip("score:N", title=tr("sv.score")),
                 alt.Tooltip("answers:Q", title=tr("sv.answers"))],
    ).properties(width=180, height=170).facet(
        column=alt.Column("question:N", sort=list(spreads), title=None,
                          header=alt.Header(labelFontSize=14, labelFontWeight="bold", labelOrient="top")))
    st.altair_chart(chart, width="content")


def signatures(report: dict, names: dict, tr) -> None:
    """Who drafted, approved and released it, and when: the lines a printed report is signed by."""
    def who(user_id) -> str:
        return plain(names.get(user_id, "—"))

    def when(stamp) -> str:
        return stamp[:16].replace("T", " ")

    status = report["status"]
    drafted = (tr("svr.sign_drafted", who=who(report["author"]), at=when(report["submitted_at"]))
               if status != "draft" and report["submitted_at"] else tr("svr.sign_drafting", who=who(report["author"])))
    approved = (tr("svr.sign_approved", who=who(report["approved_by"]), at=when(report["approved_at"]))
                if status in ("approved", "released") else tr("svr.sign_not_approved"))
    released = (tr("svr.sign_released", who=who(report["released_by"]), at=when(report["released_at"]),
                   to=plain(report["released_to"])) if status == "released" else tr("svr.sign_not_released"))
    lines = [drafted, approved, released]
    st.divider()
    for column, line in zip(st.columns(3), lines):
        column.markdown(line)


# ---------------------------------------------------------------------------------------------- the steps

def new_report(store, actor, tr) -> None:
    campaigns = survey_reports.open_campaigns(store, actor)
    with st.expander(tr("svr.new"), icon=":material/add:"):
        if not campaigns:
            st.caption(tr("svr.no_open_campaigns", register=store.sheet(surveys.CAMPAIGNS).label_in(context.lang())))
            return
        labels = {c["id"]: f"{c['title']} ({c['started_on']} ~ {c['ended_on'] or '…'})" for c in campaigns}
        with st.form(f"{KEY}_new", enter_to_submit=False):
            campaign = st.selectbox(tr("svr.campaign"), list(labels), format_func=labels.get, key=f"{KEY}__campaign")
            title = st.text_input(tr("svr.report_title"), max_chars=80, key=f"{KEY}__title",
                                  placeholder=tr("svr.title_placeholder"))
            analysis = st.text_area(tr("svr.analysis"), max_chars=4000, key=f"{KEY}__analysis", height=160)
            if st.form_submit_button(tr("svr.create"), type="primary"):
                try:
                    made = survey_reports.draft(store, actor, campaign, title=title, analysis=analysis)
                except ValidationError as exc:
                    error_list(tr("sheet.fix_errors"), exc.messages(context.lang()))
                except KefuError as exc:
                    st.error(plain(exc.message(context.lang())))
                else:
                    st.session_state[f"{KEY}__open"] = made
                    for name in ("title", "analysis"):
                        st.session_state.pop(f"{KEY}__{name}", None)
                    st.toast(tr("svr.created"), icon=":material/check_circle:")
                    st.rerun()


def _attempt(step, tr, lang: str, done: str) -> None:
    try:
        step()
    except ValidationError as exc:
        error_list(tr("sheet.fix_errors"), exc.messages(lang))
    except KefuError as exc:
        st.error(plain(exc.message(lang)))
    else:
        st.toast(tr(done), icon=":material/check_circle:")
        st.rerun()


def steps(store, actor, report: dict, figures, tr, lang: str) -> None:
    allowed = survey_reports.next_steps(store, actor, report)
    version = report["version"]
    if report["status"] == "draft" and report["return_reason"] and report["returned_at"]:
        st.warning(tr("svr.was_returned", at=report["returned_at"][:16].replace("T", " "),
                      reason=plain(report["return_reason"])), icon=":material/undo:")
    if "edit" in allowed:
        with st.form(f"{KEY}_edit_{report['id']}", enter_to_submit=False):
            st.markdown(f"**{tr('svr.edit')}**")
            title = st.text_input(tr("svr.report_title"), value=report["title"], max_chars=80)
            analysis = st.text_area(tr("svr.analysis"), value=report["analysis"] or "", max_chars=4000, height=200)
            if st.form_submit_button(tr("svr.save")):
                _attempt(lambda: survey_reports.edit(store, actor, report["id"], title=title, analysis=analysis,
                                                     expected_version=version), tr, lang, "svr.saved")
    buttons = st.columns(4)
    if "submit" in allowed and buttons[0].button(tr("svr.submit"), type="primary", key=f"{KEY}_submit",
                                                 icon=":material/send:"):
        _attempt(lambda: survey_reports.submit(store, actor, report["id"], expected_version=version), tr, lang,
                 "svr.submitted")
    if "approve" in allowed and buttons[0].button(tr("svr.approve"), type="primary", key=f"{KEY}_approve",
                                                  icon=":material/verified:"):
        _attempt(lambda: survey_reports.approve(store, actor, report["id"], expected_version=version), tr, lang,
                 "svr.approved")
    if "send_back" in allowed:
        with st.form(f"{KEY}_send_back_{report['id']}", enter_to_submit=False):
            reason = st.text_area(tr("svr.return_reason"), max_chars=500, key=f"{KEY}__reason")
            if st.form_submit_button(tr("svr.send_back"), icon=":material/undo:"):
                _attempt(lambda: survey_reports.send_back(store, actor, report["id"], reason=reason,
                                                          expected_version=version), tr, lang, "svr.sent_back")
    if "release" in allowed:
        with st.form(f"{KEY}_release_{report['id']}", enter_to_submit=False):
            to = st.text_input(tr("svr.released_to"), max_chars=200, key=f"{KEY}__to",
                               placeholder=tr("svr.released_to_placeholder"))
            if st.form_submit_button(tr("svr.release"), type="primary", icon=":material/outgoing_mail:"):
                _attempt(lambda: survey_reports.release(store, actor, report["id"], released_to=to,
                                                        expected_version=version), tr, lang, "svr.released")
    plan_action(store, actor, report, figures, tr, lang)


def plan_action(store, actor, report: dict, figures, tr, lang: str) -> None:
    """Record a corrective action for the campaign (000 d: 针对顾客满意度较低方面提出纠正预防措施)."""
    from kefu import auth
    if report["status"] == "released" or not auth.can(actor, store.sheet(surveys.ACTIONS), "create"):
        return
    sheet = store.sheet(surveys.SHEET)
    threshold = surveys.load_rules().threshold
    low = [q for q in surveys.QUESTIONS if figures.averages.get(q) is not None and figures.averages[q] <= threshold]
    users = dict(store.active_users())
    with st.expander(tr("svr.plan_action"), icon=":material/build_circle:", expanded=bool(low)):
        if low:
            st.caption(tr("svr.below_threshold", threshold=threshold,
                          questions="、".join(sheet.by_name[q].label_in(lang) for q in low)))
        with st.form(f"{KEY}_action_{report['id']}", enter_to_submit=False):
            question = st.selectbox(tr("svr.question"), surveys.QUESTIONS, index=surveys.QUESTIONS.index(low[0])
                                    if low else 0, format_func=lambda q: sheet.by_name[q].label_in(lang),
                                    key=f"{KEY}__action_question")
            action = st.text_area(tr("sv.action"), max_chars=2000, key=f"{KEY}__action_text")
            left, right = st.columns(2)
            owner = left.selectbox(tr("sv.owner"), list(users), format_func=users.get,
                                   index=list(users).index(actor.id) if actor.id in users else None,
                                   key=f"{KEY}__action_owner")
            due = right.date_input(tr("sv.due"), value=None, format="YYYY-MM-DD", key=f"{KEY}__action_due")
            if st.form_submit_button(tr("sv.plan")):
                _attempt(lambda: survey_reports.plan_action(store, actor, report["campaign"], question=question,
                                                            action=action, owner=owner, due=due),
                         tr, lang, "sv.planned")


def history(store, actor, report: dict, tr) -> None:
    with st.expander(tr("svr.history")):
        names = store.user_names()
        for step in survey_reports.history(store, actor, report["id"]):
            line = tr("svr.history_line", at=step.at[:16].replace("T", " "),
                      who=plain(names.get(step.user_id, step.username)), step=tr("svr.step_" + step.step))
            st.markdown(line + (f" · {plain(step.note)}" if step.note else ""))
