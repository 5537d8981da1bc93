"""Reports (报表): the complaint and inquiry reports, the business-change report, the customer traffic
report and the engineer-service report, by week, month, quarter, year or any dates: headline figures, charts, the full table and a one-click
CSV. Every figure comes from kefu.reports."""
from __future__ import annotations

from datetime import date

import altair as alt
import pandas as pd
import streamlit as st

from kefu import reports
from kefu.ui import context

KEY = "reports"
TOP_CHART = 10
EARLIEST = date(2000, 1, 1)           # the date picker's default would stop ten years back


def render() -> None:
    actor = context.require_view(reports.VIEW)
    store, tr, lang = context.store(), context.tr, context.lang()
    st.title(tr("rp.title"))
    st.caption(tr("rp.intro"))
    today = reports.today(store)
    columns = st.columns([2, 2, 3])
    name = columns[0].selectbox(tr("rp.choose_report"), reports.REPORTS, key=f"{KEY}__name",
                                format_func=lambda n: tr(f"rp.report_{n}"))
    choice = columns[1].selectbox(tr("rp.choose_period"), [*reports.PRESETS, "custom"], index=2,
                                  key=f"{KEY}__period", format_func=lambda p: tr(f"rp.preset_{p}"))
    if choice == "custom":
        picked = columns[2].date_input(tr("rp.custom_range"), value=(today.replace(day=1), today),
                                       min_value=EARLIEST, format="YYYY-MM-DD", key=f"{KEY}__range")
        if not isinstance(picked, (tuple, list)) or not picked:
            st.info(tr("rp.pick_dates"), icon=":material/date_range:")
            return
        start, end = reports.period("custom", picked[0], picked[-1])
    else:
        start, end = reports.preset(choice, today)
    report = reports.build(store, actor, name, start, end)
    st.subheader(f"{reports.title(report, lang)} · {reports.period_text(report, lang)}")
    if not report.total:
        st.info(tr("rp.empty"), icon=":material/inbox:")
        return
    if isinstance(report, reports.TrafficReport):
        traffic_figures(report, tr, lang)
    elif isinstance(report, reports.EngineerReport):
        engineer_figures(report, tr, lang)
    elif isinstance(report, reports.ChangeReport):
        change_figures(report, tr, lang)
    else:
        ticket_figures(report, tr, lang)
    with st.expander(tr("rp.all_figures")):
        table = [(section, item, "" if value is None else str(value))
                 for section, item, value in reports.rows(report, lang)]
        st.dataframe(pd.DataFrame(table, columns=[tr("rp.csv_section"), tr("rp.csv_item"), tr("rp.csv_value")]),
                     hide_index=True, width="stretch")
    st.caption(tr("rp.as_of_note", at=report.as_of.strftime("%Y-%m-%d %H:%M")))
    st.download_button(tr("rp.download"), data=lambda: reports.report_csv(report, lang),
                       file_name=reports.file_name(report), mime="text/csv", on_click="ignore",
                       icon=":material/download:", key=f"{KEY}__csv")


def shown(value, unit: str = "") -> str:
    return "—" if value is None else f"{value}{unit}"


def ticket_figures(report: reports.TicketReport, tr, lang: str) -> None:
    figures = dict(reports.summary(report, lang))
    row = [*st.columns(3), *st.columns(3)]
    for column, key, unit in zip(row, ("rp.total", "rp.overdue", "rp.on_time_rate", "rp.response_mean",
                                       "rp.resolution_mean", "rp.satisfaction_mean"), ("", "", "%", "", "", "")):
        column.metric(tr(key), shown(figures[tr(key)], unit), border=True)
    st.caption(tr("rp.definitions"))
    ranked = sorted(((report.label("category", v, lang), n) for v, n in report.by_category.items() if n),
                    key=lambda p: -p[1])[:TOP_CHART]
    left, right = st.columns(2)
    with left:
        bar_chart(tr("rp.chart_category"), ranked, tr, sort=True)
        bar_chart(tr("rp.chart_severity"), [(report.label("severity", v, lang), n)
                                            for v, n in report.by_severity.items()], tr)
    with right:
        bar_chart(tr("rp.chart_channel"), [(report.label("channel", v, lang), n)
                                           for v, n in report.by_channel.items()], tr)
        bar_chart(tr("rp.chart_satisfaction"), [(tr("rp.score", score=s), n)
                                                for s, n in report.satisfaction.items()], tr)
    trend_chart(report, tr)


def change_figures(report: reports.ChangeReport, tr, lang: str) -> None:
    figures = dict(reports.summary(report, lang))
    row = [*st.columns(3), *st.columns(3)]
    for column, key in zip(row, ("rp.changes_total", "rp.done", "rp.pending", "rp.checked", "rp.notified",
                                 "rp.hours_to_done_mean")):
        column.metric(tr(key), shown(figures[tr(key)]), border=True)
    left, right = st.columns(2)
    with left:
        bar_chart(tr("rp.chart_change_kind"), [(report.label("kind", v, lang), n)
                                               for v, n in report.by_kind.items()], tr)
    with right:
        bar_chart(tr("rp.chart_staff"), report.by_staff[:TOP_CHART], tr, sort=True)
    trend_chart(report, tr)


def engineer_figures(report: reports.EngineerReport, tr, lang: str) -> None:
    """Per engineer: transferred, resolved, still open, hours to resolve; coordination by department."""
    figures = dict(reports.summary(report, lang))
    for column, key in zip([*st.columns(3), *st.columns(3)], (
            "rp.transferred", "rp.engineer_resolved", "rp.engineer_open", "rp.engineer_hours_mean",
            "rp.coordination_requests", "rp.coordination_answered")):
        column.metric(tr(key), shown(figures[tr(key)]), border=True)
    st.caption(tr("rp.engineer_definitions"))
    left, right = st.columns([2, 1])
    with left:
        st.markdown(f"**{tr('rp.chart_engineers')}**")
        st.dataframe(pd.DataFrame([{
            tr("rp.engineer_col"): line.name, tr("rp.transferred"): line.transferred,
            tr("rp.engineer_resolved"): line.resolved, tr("rp.engineer_open"): line.open,
            tr("rp.engineer_hours_mean"): shown(reports.hours_shown(line.resolution_mean))}
            for line in report.engineers]), hide_index=True, width="stretch", key=f"{KEY}__engineers",
            column_config={tr("rp.engineer_hours_mean"): st.column_config.TextColumn(alignment="right")})
    with right:
        bar_chart(tr("rp.chart_departments"), [(report.department(d, lang), n)
                                               for d, n in report.coordination.items()], tr)


def bar_chart(heading: str, items: list[tuple[str, int]], tr, *, sort: bool = False) -> None:
    """A horizontal bar per label, in the given order (or most first)."""
    st.markdown(f"**{heading}**")
    frame = pd.DataFrame(items, columns=["label", "count"])
    order = "-x" if sort else [label for label, _ in items]
    chart = alt.Chart(frame).mark_bar().encode(
        x=alt.X("count:Q", title=tr("rp.count"), axis=alt.Axis(tickMinStep=1, format="d")),
        y=alt.Y("label:N", title=None, sort=order, axis=alt.Axis(labelOverlap=False, labelLimit=160)),
        tooltip=[alt.Tooltip("label:N", title=heading), alt.Tooltip("count:Q", title=tr("rp.count"))],
    ).properties(height=alt.Step(26))
    st.altair_chart(chart, width="stretch")


DAY_FORMAT = {"day": "%m-%d", "week": "%m-%d", "month": "%Y-%m"}


def trend_chart(report, tr) -> None:
    st.markdown(f"**{tr('rp.trend_' + report.trend_unit)}**")
    frame = pd.DataFrame([(day.isoformat(), n) for day, n in report.trend], columns=["day", "count"])
    chart = alt.Chart(frame).mark_bar().encode(
        x=alt.X("day:T", title=None, axis=alt.Axis(format=DAY_FORMAT[report.trend_unit])),
        y=alt.Y("count:Q", title=tr("rp.count"), axis=alt.Axis(tickMinStep=1, format="d")),
        tooltip=[alt.Tooltip("day:T", title=tr("rp.day"), format="%Y-%m-%d"),
                 alt.Tooltip("count:Q", title=tr("rp.count"))],
    ).properties(height=220)
    st.altair_chart(chart, width="stretch")


def traffic_figures(report: reports.TrafficReport, tr, lang: str) -> None:
    """Customer traffic: the headline figures, then contacts by channel beside visits, by hour, by weekday
    and over the period, the weekday x hour heatmap, and the channels with the visitor book."""
    figures = dict(reports.summary(report, lang))
    keys = ["rp.contacts", "rp.contacts_per_day", "rp.busiest_hour", "rp.busiest_weekday"]
    if report.visits is not None:
        keys[3:3] = ["rp.visits", "rp.visits_per_day"]
    for column, key in zip([*st.columns(3), *st.columns(3)], keys):
        change = {"rp.contacts": "rp.contacts_change", "rp.visits": "rp.visits_change"}.get(key)
        delta = figures.get(tr(change)) if change else None
        column.metric(tr(key), shown(figures[tr(key)]), border=True,
                      delta=None if delta is None else f"{delta:+}% · {tr('rp.previous_period')}",
                      delta_color="off")
    st.caption(tr("rp.traffic_definitions"))
    channels = list(report.by_channel)
    hours = [f"{h:02d}" for h in range(24)]
    weekdays = [tr(f"day.{d}") for d in range(7)]
    left, right = st.columns([3, 2]) if report.visits is not None else (st.container(), None)
    with left:
        stacked_chart(tr("rp.chart_hour_contacts"), [(hours[h], report.label(c, lang), report.by_hour[c][h])
                                                   for c in channels for h in range(24)], hours, tr)
    if right is not None:
        with right:
            column_chart(tr("rp.chart_hour_visits"), list(zip(hours, report.by_hour[reports.VISITS])), tr,
                         x_title=tr("rp.hour"))
    left, right = st.columns([3, 2]) if report.visits is not None else (st.container(), None)
    with left:
        stacked_chart(tr("rp.chart_weekday_contacts"), [(weekdays[d], report.label(c, lang), report.by_weekday[c][d])
                                                      for c in channels for d in range(7)], weekdays, tr)
    if right is not None:
        with right:
            column_chart(tr("rp.chart_weekday_visits"), list(zip(weekdays, report.by_weekday[reports.VISITS])), tr,
                         x_title=tr("rp.weekday"))
    days = [day.isoformat() if report.trend_unit != "month" else day.isoformat()[:7] for day, _ in report.trend]
    left, right = st.columns([3, 2]) if report.visits is not None else (st.container(), None)
    with left:
        stacked_chart(tr("rp.chart_trend_contacts_" + report.trend_unit),
                      [(label, report.label(c, lang), counts[c]) for label, (_, counts) in zip(days, report.trend)
                       for c in channels], days, tr)
    if right is not None:
        with right:
            column_chart(tr("rp.chart_trend_visits_" + report.trend_unit),
                         [(label, counts[reports.VISITS]) for label, (_, counts) in zip(days, report.trend)], tr)
    left, right = st.columns([3, 2])
    with left:
        heatmap(report, hours, weekdays, tr)
    with right:
        bar_chart(tr("rp.chart_by_channel"), [(report.label(s, lang), report.visits if s == reports.VISITS
                                               else report.by_channel[s]) for s in report.series], tr)


def stacked_chart(heading: str, items: list[tuple[str, str, int]], order: list[str], tr) -> None:
    """Columns in the given order, each stacked by channel (the sheet's order, legend below)."""
    st.markdown(f"**{heading}**")
    frame = pd.DataFrame(items, columns=["x", "channel", "count"])
    channels = list(dict.fromkeys(frame["channel"]))
    chart = alt.Chart(frame).mark_bar().encode(
        x=alt.X("x:N", title=None, sort=order, axis=alt.Axis(labelAngle=0 if len(order) <= 24 else -60)),
        y=alt.Y("sum(count):Q", title=tr("rp.count"), axis=alt.Axis(tickMinStep=1, format="d")),
        color=alt.Color("channel:N", title=tr("rp.channel"), sort=channels, legend=alt.Legend(orient="bottom")),
        tooltip=[alt.Tooltip("x:N", title=" "), alt.Tooltip("channel:N", title=tr("rp.channel")),
                 alt.Tooltip("count:Q", title=tr("rp.count"))],
    ).properties(height=240)
    st.altair_chart(chart, width="stretch")


def column_chart(heading: str, items: list[tuple[str, int]], tr, *, x_title: str | None = None) -> None:
    st.markdown(f"**{heading}**")
    frame = pd.DataFrame(items, columns=["x", "count"])
    chart = alt.Chart(frame).mark_bar(color="#2e7d32").encode(
        x=alt.X("x:N", title=x_title, sort=[x for x, _ in items],
                axis=alt.Axis(labelAngle=0 if len(items) <= 24 else -60)),
        y=alt.Y("count:Q", title=tr("rp.count"), axis=alt.Axis(tickMinStep=1, format="d")),
        tooltip=[alt.Tooltip("x:N", title=" "), alt.Tooltip("count:Q", title=tr("rp.count"))],
    ).properties(height=240)
    st.altair_chart(chart, width="stretch")


def heatmap(report: reports.TrafficReport, hours: list[str], weekdays: list[str], tr) -> None:
    st.markdown(f"**{tr('rp.chart_heatmap')}**")
    frame = pd.DataFrame([(hours[h], weekdays[d], report.by_weekday_hour.get((d, h), 0))
                          for d in range(7) for h in range(24)], columns=["hour", "weekday", "count"])
    chart = alt.Chart(frame).mark_rect().encode(
        x=alt.X("hour:O", title=tr("rp.hour"), sort=hours, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("weekday:O", title=None, sort=weekdays),
        color=alt.Color("count:Q", title=tr("rp.count"), scale=alt.Scale(scheme="blues")),
        tooltip=[alt.Tooltip("weekday:O", title=tr("rp.weekday")), alt.Tooltip("hour:O", title=tr("rp.hour")),
                 alt.Tooltip("count:Q", title=tr("rp.count"))],
    ).properties(height=220)
    st.altair_chart(chart, width="stretch")
