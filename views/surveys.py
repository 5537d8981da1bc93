"""Satisfaction survey results (满意度调查结果) for supervisors, managers and the gm: a period, the count and
the average of each question, a bar chart of each question's 1-5 scores, and the period's comments.
Every figure comes from kefu.surveys."""
from __future__ import annotations

from datetime import date, timedelta

import altair as alt
import pandas as pd
import streamlit as st

from kefu import surveys
from kefu.ui import context
from kefu.ui.text import plain

KEY = "survey_results"
VIEW = "survey_results"
PERIODS = ("30", "month", "last_month", "quarter", "year", "custom")


def period(choice: str, today: date) -> tuple[date, date]:
    if choice == "month":
        return today.replace(day=1), today
    if choice == "last_month":
        end = today.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end
    days = {"30": 30, "quarter": 90, "year": 365}[choice]
    return today - timedelta(days=days - 1), today


def render() -> None:
    actor = context.require_view(VIEW)
    store, tr, lang = context.store(), context.tr, context.lang()
    sheet = store.sheet(surveys.SHEET)
    st.title(tr("sv.title"))
    today = surveys.office_today(store)
    left, right = st.columns([2, 3])
    labels = {"30": "sv.period_30", "month": "sv.period_month", "last_month": "sv.period_last_month",
              "quarter": "sv.period_quarter", "year": "sv.period_year", "custom": "sv.period_custom"}
    choice = left.selectbox(tr("sv.period"), PERIODS, key=f"{KEY}__period", format_func=lambda p: tr(labels[p]))
    if choice == "custom":
        picked = right.date_input(tr("sv.dates"), value=(today - timedelta(days=29), today), format="YYYY-MM-DD",
                                  key=f"{KEY}__range")
        if not isinstance(picked, (tuple, list)) or len(picked) < 2:
            return
        start, end = picked[0], picked[1]
    else:
        start, end = period(choice, today)
    found = surveys.results(store, actor, start, end)
    st.caption(f"{found['start']} ~ {found['end']}")
    if not found["count"]:
        st.info(tr("sv.none"), icon=":material/inbox:")
        return
    threshold = surveys.load_rules().threshold
    metrics = st.columns(1 + len(surveys.QUESTIONS))
    metrics[0].metric(tr("sv.count"), found["count"])
    for column, question in zip(metrics[1:], surveys.QUESTIONS):
        average = found["questions"][question]["average"]
        column.metric(sheet.by_name[question].label_in(lang), f"{average:.2f}",
                      delta=tr("sv.below", threshold=threshold) if average <= threshold else None,
                      delta_color="red", delta_arrow="down")         # below the mark: a red arrow down
    charts = st.columns(len(surveys.QUESTIONS))
    for column, question in zip(charts, surveys.QUESTIONS):
        spread = found["questions"][question]["distribution"]
        data = pd.DataFrame({tr("sv.score"): [str(s) for s in spread], tr("sv.answers"): list(spread.values())})
        column.markdown(f"**{sheet.by_name[question].label_in(lang)}**")
        column.altair_chart(alt.Chart(data).mark_bar().encode(
            x=alt.X(f"{tr('sv.score')}:N", sort=None, axis=alt.Axis(labelAngle=0)),
            y=alt.Y(f"{tr('sv.answers')}:Q"), tooltip=list(data.columns)), width="stretch")
    st.subheader(tr("sv.comments"), anchor=False)
    notes = surveys.comments(store, actor, start, end, limit=100)
    if not notes:
        st.caption(tr("sv.no_comments"))
    channel = sheet.by_name["channel"]
    for note in notes:
        scores = " · ".join(f"{sheet.by_name[q].label_in(lang)} {note[q]}" for q in surveys.QUESTIONS)
        st.markdown(f"**{note['taken_at'][:10]}** · {channel.choice_label(note['channel'], lang)} · {scores}  \n"
                    f"{plain(note['comments'])}")
