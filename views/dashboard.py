"""Dashboard (看板): KPI cards for a period against the one before, charts that open the matching list
when clicked, and the quarterly staff ranking and monthly team ranking. It refreshes itself (a fragment
with run_every) so a ticket saved at another desk appears without a reload. Every figure comes from
kefu.kpi; staff see their own figures only."""
from __future__ import annotations

from datetime import date, timedelta

import altair as alt
import pandas as pd
import streamlit as st

from kefu import kpi
from kefu.store import Query
from kefu.ui import context
from kefu.ui.grid import sheet_grid
from kefu.ui.text import plain

KEY = "dashboard"
SECTIONS = ("overview", "charts", "rankings", "tables")   # tables: the manager's and the gm's (kpi.may_see_tables)
CARDS = ("tickets", "open", "overdue", "on_time_rate", "response_hours", "resolution_hours", "satisfaction",
         "follow_up_rate", "complaint_rate", "visitors", "new_members", "survey_score")
RATES = {"on_time_rate", "follow_up_rate"}
HOURS = {"response_hours", "resolution_hours"}
EARLIEST = date(2000, 1, 1)
DRILL_ROWS = 20
WEEKDAYS = {"en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], "zh": ["周一", "周二", "周三", "周四", "周五", "周六", "周日"]}


def render() -> None:
    actor = context.require_view(kpi.VIEW)
    store, tr, lang = context.store(), context.tr, context.lang()
    rules = kpi.load_rules()
    st.title(tr("db.title"))
    st.caption(tr("db.intro_all" if kpi.sees_all(actor) else "db.intro_own"))
    today = kpi.now_in(store).date()
    top = st.columns([3, 2, 1.2, 1.2], vertical_alignment="bottom")
    sections = [s for s in SECTIONS if s != "tables" or kpi.may_see_tables(actor)]
    section = top[0].segmented_control(tr("db.section"), sections, default="overview", key=f"{KEY}__section",
                                       format_func=lambda s: tr(f"db.section_{s}"), label_visibility="collapsed")
    section = section if section in sections else "overview"
    live = top[2].toggle(tr("db.live"), value=True, key=f"{KEY}__live", help=tr("db.live_help"))
    every = top[3].number_input(tr("db.every"), min_value=5, max_value=3600, step=5, value=rules.refresh_seconds,
                                key=f"{KEY}__every", disabled=not live)
    span = None
    if section not in ("rankings", "tables"):
        span = period_picker(top[1], today, tr)
        if span is None:
            return

    def board() -> None:
        now = kpi.now_in(store)
        today = now.date()                       # a board left open overnight moves on to the new day
        if section == "overview":
            overview(store, actor, span, today, rules, tr, lang)
        elif section == "charts":
            charts(store, actor, span, today, rules, tr, lang)
        elif section == "tables":
            tables(store, actor, today, tr, lang)
        else:
            rankings(store, actor, today, rules, tr, lang)
        st.caption(tr("db.as_of", at=now.strftime("%Y-%m-%d %H:%M:%S")) + " · "
                   + (tr("db.refreshing", seconds=int(every)) if live else tr("db.paused")))

    st.fragment(context.unless_gone(board), run_every=timedelta(seconds=int(every)) if live else None)()


def period_picker(column, today: date, tr):
    """The chosen period as (kind, first day, day after the last); None while a custom range is half picked."""
    kind = column.selectbox(tr("db.period"), kpi.PERIODS, index=2, key=f"{KEY}__period",
                            format_func=lambda p: tr(f"db.period_{p}"))
    if kind != "custom":
        return (kind, None, None)
    picked = st.date_input(tr("db.dates"), value=(today.replace(day=1), today), min_value=EARLIEST,
                           max_value=today, format="YYYY-MM-DD", key=f"{KEY}__range")
    if not isinstance(picked, (tuple, list)) or len(picked) < 2:
        st.info(tr("db.pick_dates"), icon=":material/date_range:")
        return None
    return ("custom", picked[0], picked[1])


# ---------------------------------------------------------------------------------------------- overview

def shown(name: str, value, tr) -> str:
    if value is None:
        return "—"
    if name in RATES:
        return f"{value * 100:.1f}%"
    if name in HOURS:
        return tr("db.hours", hours=f"{value:.1f}")
    if name in ("satisfaction", "survey_score"):
        return f"{value:.2f}"
    if name == "complaint_rate":
        return f"{value:.2f}"
    return f"{value:,}"


def delta_text(name: str, delta, tr) -> str | None:
    if delta is None:
        return None
    if name in RATES:
        return tr("db.points", points=f"{delta * 100:+.1f}")
    if name in HOURS:
        return tr("db.hours", hours=f"{delta:+.1f}")
    if name in ("satisfaction", "survey_score", "complaint_rate"):
        return f"{delta:+.2f}"
    return f"{delta:+,}"


def overview(store, actor, span, today: date, rules, tr, lang: str) -> None:
    kind, first, last = span
    view = kpi.overview(store, actor, kind, today, first, last, rules=rules)
    cur, before = view.current, view.before
    st.caption(tr("db.compared", now=period_text(cur.start, cur.end), then=period_text(before.start, before.end)))
    cards = [c for c in CARDS if not (c == "new_members" and cur.new_members is None)]
    for row in range(0, len(cards), 4):
        columns = st.columns(4)
        for column, name in zip(columns, cards[row:row + 4]):
            line = [v * 100 if name in RATES else v for v in view.series[name] if v is not None]  # no data: no point
            column.metric(tr(f"db.kpi_{name}"), shown(name, getattr(cur, name), tr),
                          delta_text(name, view.delta(name), tr),
                          delta_color="inverse" if name in kpi.LOWER_IS_BETTER else "normal",
                          help=tr(f"db.help_{name}"), border=True, chart_data=line if len(line) > 1 else None,
                          chart_type="area" if name in ("tickets", "visitors") else "line")
    st.caption(tr(f"db.sparkline_{view.unit}"))
    trend_chart(store, actor, today, rules, tr, lang)


def period_text(start: date, end: date) -> str:
    last = end - timedelta(days=1)
    return start.isoformat() if start == last else f"{start.isoformat()} ~ {last.isoformat()}"


def kind_labels(store, lang: str) -> dict:
    return {c["value"]: store.sheet("tickets").by_name["kind"].choice_label(c["value"], lang)
            for c in store.sheet("tickets").by_name["kind"].choices}


def trend_chart(store, actor, today: date, rules, tr, lang: str) -> None:
    st.subheader(tr("db.trend", months=rules.trend_months))
    trend = kpi.trend(store, actor, today, rules=rules)
    labels = kind_labels(store, lang)
    frame = pd.DataFrame([{"week": w.isoformat(), "kind": labels.get(k, k), "value": k, "count": n}
                          for k, counts in trend.counts.items() for w, n in zip(trend.weeks, counts)])
    if not frame["count"].sum():
        st.info(tr("db.no_tickets"), icon=":material/inbox:")
        return
    pick = alt.selection_point(fields=["week", "value"], name="pick")
    chart = alt.Chart(frame).mark_bar().encode(
        x=alt.X("week:T", title=None, axis=alt.Axis(format="%Y-%m-%d", labelAngle=0)),
        y=alt.Y("count:Q", title=tr("db.count"), stack=True),
        color=alt.Color("kind:N", title=tr("db.kind"), sort=list(labels.values())),
        opacity=alt.condition(pick, alt.value(1), alt.value(0.45)),
        tooltip=[alt.Tooltip("week:T", title=tr("db.week_of"), format="%Y-%m-%d"),
                 alt.Tooltip("kind:N", title=tr("db.kind")), alt.Tooltip("count:Q", title=tr("db.count"))],
    ).add_params(pick).properties(height=280)
    event = st.altair_chart(chart, on_select="rerun", selection_mode="pick", key=f"{KEY}__trend", width="stretch")
    picked = _picked(event, "pick")
    st.caption(tr("db.click_hint"))
    if picked:
        week = date.fromisoformat(str(picked["week"])[:10]) if isinstance(picked.get("week"), str) \
            else _from_epoch(picked.get("week"))
        if week is not None:
            filters = {"kind": [picked["value"]], "created_at": (week.isoformat(), (week + timedelta(days=7)).isoformat())}
            drill(store, actor, tr("db.drill_trend", kind=labels.get(picked["value"], ""), week=week.isoformat()),
                  filters, tr, lang, key="trend")


def _picked(event, name: str) -> dict | None:
    try:
        points = event.selection[name]
    except (AttributeError, KeyError, TypeError):
        return None
    return points[0] if points else None


def _from_epoch(value) -> date | None:
    if value is None:
        return None
    try:
        return pd.Timestamp(int(value), unit="ms").date()
    except (TypeError, ValueError):
        return None


def drill(store, actor, heading: str, filters: dict, tr, lang: str, *, key: str) -> None:
    """The filtered list behind a bar or a cell: the tickets it counts (a staff member's own only)."""
    sheet = store.sheet("tickets")
    if not kpi.sees_all(actor):
        filters = {**filters, "assignee": [actor.id]}
    st.markdown(f"**{heading}**")
    sheet_grid(store, sheet, actor, lang, key=f"{KEY}__drill_{key}", query=Query(filters=filters, page_size=DRILL_ROWS))


# ---------------------------------------------------------------------------------------------- charts

def bars(frame: pd.DataFrame, heading: str, tr, *, key: str, sort=None, color: str | None = None):
    """A horizontal bar chart whose bars can be clicked; returns the picked row's value, if any."""
    st.markdown(f"**{heading}**")
    if frame.empty or not frame["count"].sum():
        st.caption(tr("db.nothing"))
        return None
    pick = alt.selection_point(fields=["value"], name="pick")
    chart = alt.Chart(frame).mark_bar(**({"color": color} if color else {})).encode(
        x=alt.X("count:Q", title=tr("db.count"), axis=alt.Axis(tickMinStep=1, format="d")),
        y=alt.Y("label:N", title=None, sort=sort if sort is not None else "-x",
                axis=alt.Axis(labelOverlap=False, labelLimit=160)),
        opacity=alt.condition(pick, alt.value(1), alt.value(0.45)),
        tooltip=[alt.Tooltip("label:N", title=heading), alt.Tooltip("count:Q", title=tr("db.count"))],
    ).add_params(pick).properties(height=alt.Step(24))
    event = st.altair_chart(chart, on_select="rerun", selection_mode="pick", key=f"{KEY}__{key}", width="stretch")
    picked = _picked(event, "pick")
    return None if picked is None else picked.get("value")


def charts(store, actor, span, today: date, rules, tr, lang: str) -> None:
    kind, first, last = span
    start, end = kpi.period(kind, today, first, last)
    st.caption(period_text(start, end))
    data = kpi.breakdown(store, actor, start, end)
    sheet = store.sheet("tickets")
    label = lambda name, v: sheet.by_name[name].choice_label(v, lang)  # noqa: E731
    frame = lambda name, counts: pd.DataFrame(  # noqa: E731
        [{"value": v, "label": label(name, v), "count": n} for v, n in counts], columns=["value", "label", "count"])
    within = (start.isoformat(), end.isoformat())
    picks = []
    left, right = st.columns(2)
    with left:
        value = bars(frame("kind", data.by_kind.items()), tr("db.chart_kind"), tr, key="kind",
                     sort=[label("kind", v) for v in data.by_kind])
        picks.append(("kind", value))
        value = bars(frame("category", data.top_categories(10)), tr("db.chart_category"), tr, key="category")
        picks.append(("category", value))
    with right:
        value = bars(frame("channel", data.by_channel.items()), tr("db.chart_channel"), tr, key="channel")
        picks.append(("channel", value))
        value = bars(frame("severity", data.by_severity.items()), tr("db.chart_severity"), tr, key="severity",
                     sort=[label("severity", v) for v in data.by_severity])
        picks.append(("severity", value))
    scores = pd.DataFrame([{"value": s, "label": "★" * s, "count": n} for s, n in data.by_satisfaction.items()])
    with left:
        value = bars(scores, tr("db.chart_satisfaction"), tr, key="satisfaction", sort=["★" * s for s in range(5, 0, -1)],
                     color="#f4b400")
        picks.append(("satisfaction", value))
    with right:
        cell = heatmap(data, tr, lang)
    for name, value in picks:
        if value is not None:
            shown_value = "★" * int(value) if name == "satisfaction" else label(name, value)
            drill(store, actor, tr("db.drill_field", field=sheet.by_name[name].label_in(lang), value=shown_value),
                  {name: [value], "created_at": within}, tr, lang, key=name)
    if cell is not None:
        weekday, hour = cell
        ids = kpi.drill_ids(store, actor, start, end, weekday, hour)
        drill(store, actor, tr("db.drill_cell", day=WEEKDAYS[lang if lang in WEEKDAYS else "en"][weekday], hour=hour),
              {"id": ids or [0]}, tr, lang, key="cell")
    visits(store, actor, data, tr, lang, within)
    if kpi.sees_all(actor):
        club(store, actor, today, rules, tr, lang)


def heatmap(data: kpi.Breakdown, tr, lang: str):
    """Tickets received by weekday and hour, for the roster; a clicked cell is returned."""
    st.markdown(f"**{tr('db.chart_heatmap')}**")
    if not data.heatmap:
        st.caption(tr("db.nothing"))
        return None
    days = WEEKDAYS[lang if lang in WEEKDAYS else "en"]
    frame = pd.DataFrame([{"weekday": w, "day": days[w], "hour": h, "count": n} for (w, h), n in data.heatmap.items()])
    pick = alt.selection_point(fields=["weekday", "hour"], name="pick")
    chart = alt.Chart(frame).mark_rect().encode(
        x=alt.X("hour:O", title=tr("db.hour")),
        y=alt.Y("day:N", title=None, sort=days),
        color=alt.Color("count:Q", title=tr("db.count"), scale=alt.Scale(scheme="blues")),
        opacity=alt.condition(pick, alt.value(1), alt.value(0.5)),
        tooltip=[alt.Tooltip("day:N", title=tr("db.weekday")), alt.Tooltip("hour:O", title=tr("db.hour")),
                 alt.Tooltip("count:Q", title=tr("db.count"))],
    ).add_params(pick).properties(height=230)
    event = st.altair_chart(chart, on_select="rerun", selection_mode="pick", key=f"{KEY}__heat", width="stretch")
    picked = _picked(event, "pick")
    if picked is None or picked.get("weekday") is None or picked.get("hour") is None:
        return None
    return int(picked["weekday"]), int(picked["hour"])


def visits(store, actor, data: kpi.Breakdown, tr, lang: str, within: tuple) -> None:
    sheet = store.sheet("visitors")
    left, right = st.columns(2)
    with left:
        frame = pd.DataFrame([{"value": v, "label": sheet.by_name["purpose"].choice_label(v, lang), "count": n}
                              for v, n in data.visits_by_purpose.items()], columns=["value", "label", "count"])
        value = bars(frame, tr("db.chart_visits_purpose"), tr, key="purpose", color="#34a853")
    hour = None
    with right:
        st.markdown(f"**{tr('db.chart_visits_hour')}**")
        if data.visits_by_hour:
            hours = pd.DataFrame([{"hour": h, "count": n} for h, n in data.visits_by_hour.items()])
            pick = alt.selection_point(fields=["hour"], name="pick")
            event = st.altair_chart(alt.Chart(hours).mark_bar(color="#34a853").encode(
                x=alt.X("hour:O", title=tr("db.hour"), axis=alt.Axis(labelAngle=0)),
                y=alt.Y("count:Q", title=tr("db.count"), axis=alt.Axis(tickMinStep=1, format="d")),
                opacity=alt.condition(pick, alt.value(1), alt.value(0.45)),
                tooltip=[alt.Tooltip("hour:O", title=tr("db.hour")), alt.Tooltip("count:Q", title=tr("db.count"))],
            ).add_params(pick).properties(height=200), on_select="rerun", selection_mode="pick",
                key=f"{KEY}__visit_hour", width="stretch")
            picked = _picked(event, "pick")
            hour = None if picked is None or picked.get("hour") is None else int(picked["hour"])
        else:
            st.caption(tr("db.nothing"))
    mine = {} if kpi.sees_all(actor) else {"host": [actor.id]}
    if value is not None:
        purpose = sheet.by_name["purpose"]
        visit_list(store, actor, tr("db.drill_field", field=purpose.label_in(lang), value=purpose.choice_label(value, lang)),
                   {"purpose": [value], "arrived_at": within, **mine}, lang, key="purpose")
    if hour is not None:
        start, end = (date.fromisoformat(d) for d in within)
        ids = kpi.drill_visit_ids(store, actor, start, end, hour)
        visit_list(store, actor, tr("db.drill_visit_hour", hour=hour), {"id": ids or [0], **mine}, lang, key="hour")


def visit_list(store, actor, heading: str, filters: dict, lang: str, *, key: str) -> None:
    st.markdown(f"**{heading}**")
    sheet_grid(store, store.sheet("visitors"), actor, lang, key=f"{KEY}__drill_visits_{key}",
               query=Query(filters=filters, page_size=DRILL_ROWS))


def club(store, actor, today: date, rules, tr, lang: str) -> None:
    data = kpi.club_trend(store, actor, today, rules=rules)
    tiers = store.sheet("members").by_name["tier"]
    left, right = st.columns(2)
    with left:
        st.markdown(f"**{tr('db.chart_tiers', months=rules.trend_months)}**")
        frame = pd.DataFrame([{"month": m.isoformat(), "key": m.isoformat()[:7], "value": t,
                               "tier": tiers.choice_label(t, lang), "members": n}
                              for t, counts in data.members_by_tier.items() for m, n in zip(data.months, counts)])
        member_pick = None
        if frame.empty or not frame["members"].sum():
            st.caption(tr("db.nothing"))
        else:
            pick = alt.selection_point(fields=["key", "value"], name="pick")
            event = st.altair_chart(alt.Chart(frame).mark_bar().encode(
                x=alt.X("month:T", title=None, axis=alt.Axis(format="%Y-%m"), timeUnit="yearmonth"),
                y=alt.Y("members:Q", title=tr("db.members"), stack=True),
                color=alt.Color("tier:N", title=tiers.label_in(lang),
                                sort=[tiers.choice_label(c["value"], lang) for c in tiers.choices]),
                opacity=alt.condition(pick, alt.value(1), alt.value(0.45)),
                tooltip=[alt.Tooltip("key:N", title=tr("db.month")),
                         alt.Tooltip("tier:N", title=tiers.label_in(lang)), alt.Tooltip("members:Q", title=tr("db.members"))],
            ).add_params(pick).properties(height=240), on_select="rerun", selection_mode="pick",
                key=f"{KEY}__tiers", width="stretch")
            member_pick = _picked(event, "pick")
    with right:
        st.markdown(f"**{tr('db.chart_surveys', months=rules.trend_months)}**")
        questions = store.sheet("surveys")
        frame = pd.DataFrame([{"month": m.isoformat(), "question": questions.by_name[q].label_in(lang), "score": v}
                              for q, values in data.survey_scores.items() for m, v in zip(data.months, values)
                              if v is not None])
        survey_pick = None
        if frame.empty:
            st.caption(tr("db.nothing"))
        else:
            frame["key"] = frame["month"].str[:7]
            pick = alt.selection_point(fields=["key"], name="pick")
            event = st.altair_chart(alt.Chart(frame).mark_line(point=alt.OverlayMarkDef(size=80)).encode(
                x=alt.X("month:T", title=None, axis=alt.Axis(format="%Y-%m")),
                y=alt.Y("score:Q", title=tr("db.score"), scale=alt.Scale(domain=[1, 5])),
                color=alt.Color("question:N", title=None),
                tooltip=[alt.Tooltip("key:N", title=tr("db.month")),
                         alt.Tooltip("question:N"), alt.Tooltip("score:Q", format=".2f", title=tr("db.score"))],
            ).add_params(pick).properties(height=240), on_select="rerun", selection_mode="pick",
                key=f"{KEY}__surveys", width="stretch")
            survey_pick = _picked(event, "pick")
    if member_pick and member_pick.get("key") and member_pick.get("value"):
        month = date.fromisoformat(f"{member_pick['key']}-01")
        last = (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        st.markdown(f"**{tr('db.drill_tier', tier=tiers.choice_label(member_pick['value'], lang), month=member_pick['key'])}**")
        sheet_grid(store, store.sheet("members"), actor, lang, key=f"{KEY}__drill_members",
                   query=Query(filters={"tier": [member_pick["value"]], "joined_on": (None, last.isoformat())},
                               page_size=DRILL_ROWS))
    if survey_pick and survey_pick.get("key"):
        month = date.fromisoformat(f"{survey_pick['key']}-01")
        last = (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        st.markdown(f"**{tr('db.drill_surveys', month=survey_pick['key'])}**")
        sheet_grid(store, store.sheet("surveys"), actor, lang, key=f"{KEY}__drill_surveys",
                   query=Query(filters={"taken_at": (month.isoformat(), last.isoformat())}, page_size=DRILL_ROWS))


# ---------------------------------------------------------------------------------------------- rankings

def quarter_picker(today: date, tr, *, key: str) -> tuple[int, int]:
    """This quarter or one of the seven before it."""
    year, quarter = kpi.quarter_of(today)
    choices = []
    for back in range(8):
        q = (year * 4 + quarter - 1) - back
        choices.append((q // 4, q % 4 + 1))
    return st.selectbox(tr("db.quarter"), choices, key=key,
                        format_func=lambda yq: tr("db.quarter_name", year=yq[0], quarter=yq[1]))


def rankings(store, actor, today: date, rules, tr, lang: str) -> None:
    picked = quarter_picker(today, tr, key=f"{KEY}__quarter")
    rules = kpi.rules_on(store, kpi.ranking_day(*kpi.quarter_bounds(*picked), today))   # the weights in force then
    rows = kpi.staff_ranking(store, actor, *picked, rules=rules)
    st.subheader(tr("db.ranking_title", name=tr("db.quarter_name", year=picked[0], quarter=picked[1])))
    st.caption(tr("db.ranking_rule", **rules.weights, top=rules.bonus_top, next=rules.bonus_next) + fault_rule(rules, tr))
    if not rows:
        st.info(tr("db.no_staff"), icon=":material/inbox:")
        return
    frame = standing_frame(rows, tr, people=True, rules=rules)
    event = st.dataframe(frame, hide_index=True, on_select="rerun", selection_mode="single-row",
                         key=f"{KEY}__ranking_{picked[0]}_{picked[1]}", width="stretch",
                         column_config=column_config(tr))
    chosen = event.selection.rows if event is not None else []
    if chosen:
        row = rows[chosen[0]]
        start, end = kpi.quarter_bounds(*picked)
        figures_of(row, rules, tr)
        drill(store, actor, tr("db.drill_person", name=plain(row.name)), {"assignee": [row.key],
              "created_at": (start.isoformat(), end.isoformat())}, tr, lang, key="person")
    else:
        st.caption(tr("db.ranking_hint"))
    if kpi.sees_all(actor):
        team_section(store, actor, today, rules, tr, lang)


def standing_frame(rows: list[kpi.Standing], tr, *, people: bool, rules=None) -> pd.DataFrame:
    def pct(value):
        return None if value is None else round(value * 100, 1)
    data = []
    for row in rows:
        line = {tr("db.col_place"): row.place, tr("db.col_name" if people else "db.col_team"): row.name,
                tr("db.col_score"): row.score if row.ranked else None}
        if people:
            line[tr("db.col_bonus")] = tr(f"db.bonus_{row.bonus}", **kpi.bonus_places(row.bonus, rules)) if row.bonus else ""
        else:
            line[tr("db.col_members")] = row.members
        line.update({
            tr("db.col_handled"): row.handled, tr("db.col_on_time"): pct(row.on_time_rate),
            tr("db.col_satisfaction"): None if row.satisfaction is None else round(row.satisfaction, 2),
            tr("db.col_spot"): pct(row.spot_check_rate), tr("db.col_faults"): row.faults,
        })
        if people:
            for part in kpi.HAND_PARTS:          # not reviewed yet: an empty cell, not the word None
                value = (row.review or {}).get(part)
                line[tr(f"db.col_{part}")] = "" if value is None else str(value)
        data.append(line)
    return pd.DataFrame(data)


def column_config(tr) -> dict:
    return {tr("db.col_place"): st.column_config.NumberColumn(width="small"),
            tr("db.col_score"): st.column_config.NumberColumn(format="%.2f"),
            tr("db.col_on_time"): st.column_config.NumberColumn(format="%.1f%%"),
            tr("db.col_spot"): st.column_config.NumberColumn(format="%.1f%%"),
            tr("db.col_satisfaction"): st.column_config.NumberColumn(format="%.2f")}


def figures_of(row: kpi.Standing, rules, tr) -> None:
    """How one line's score was made: each part, its weight, and the fault deduction."""
    parts = []
    for name, weight in rules.weights.items():
        value = row.parts.get(name)
        parts.append({tr("db.col_part"): tr(f"db.part_{name}"), tr("db.col_weight"): f"{weight}%",
                      tr("db.col_value"): None if value is None else round(value, 1),
                      tr("db.col_points"): round((value or 0) * weight / 100, 2)})
    if rules.per_fault:                          # the office's own deduction, off at 0
        parts.append({tr("db.col_part"): tr("db.part_faults", count=row.faults), tr("db.col_weight"): "",
                      tr("db.col_value"): row.faults, tr("db.col_points"): -round(rules.per_fault * row.faults, 2)})
    st.markdown(f"**{tr('db.how_scored', name=plain(row.name), score=row.score)}**")
    st.dataframe(pd.DataFrame(parts), hide_index=True, width="stretch")
    if row.review is None:
        st.caption(tr("db.no_review"))


def team_section(store, actor, today: date, rules, tr, lang: str) -> None:
    months = []
    first = today.replace(day=1)
    for back in range(12):
        index = first.year * 12 + first.month - 1 - back
        months.append((index // 12, index % 12 + 1))
    picked = st.selectbox(tr("db.month"), months, key=f"{KEY}__team_month",
                          format_func=lambda ym: f"{ym[0]}-{ym[1]:02d}")
    st.subheader(tr("db.team_title", month=f"{picked[0]}-{picked[1]:02d}"))
    start = date(picked[0], picked[1], 1)
    rules = kpi.rules_on(store, kpi.ranking_day(start, kpi.period("month", start)[1], today))
    rows = kpi.team_ranking(store, actor, *picked, rules=rules)
    if not rows or not any(r.members for r in rows):
        st.info(tr("db.no_teams"), icon=":material/groups:")
        return
    teams = store.sheet(kpi.TEAMS).by_name["team"]
    for row in rows:
        row.name = teams.choice_label(row.key, lang)
    st.dataframe(standing_frame(rows, tr, people=False), hide_index=True, width="stretch",
                 column_config=column_config(tr))
    st.caption(tr("db.team_rule") + fault_rule(rules, tr))


def fault_rule(rules, tr) -> str:
    """The fault deduction's sentence, when the office has turned it on."""
    return " " + tr("db.fault_rule", per_fault=f"{rules.per_fault:g}") if rules.per_fault else ""


# ---------------------------------------------------------------------------------------------- KPI tables

def tables(store, actor, today: date, tr, lang: str) -> None:
    """The KPI tables of seed 001 for a quarter: the pass-rate targets beside the actual figures, the
    department manager's table (the department's score) and the intake supervisor's MBO table."""
    if not kpi.may_see_tables(actor):
        st.warning(tr("app.not_allowed"))
        return
    with st.columns([1, 2])[0]:
        picked = quarter_picker(today, tr, key=f"{KEY}__table_quarter")
    name = tr("db.quarter_name", year=picked[0], quarter=picked[1])
    rules = kpi.rules_on(store, kpi.ranking_day(*kpi.quarter_bounds(*picked), today))   # the weights in force then
    st.subheader(tr("db.targets_title", name=name))
    rates = kpi.pass_rates(store, actor, *picked, rules=rules)
    for column, rate in zip(st.columns(len(rates)), rates):
        column.metric(tr(f"db.target_{rate.key}", target=rate.target),
                      "—" if rate.actual is None else f"{rate.actual:.1f}%",
                      None if rate.actual is None else tr("db.target_vs", points=f"{rate.actual - rate.target:+.1f}"),
                      help=tr(f"db.target_help_{rate.key}", basis=rate.basis), border=True)
    st.caption(tr("db.targets_rule"))

    st.subheader(tr("db.department_title", name=name))
    department = kpi.department_score(store, actor, *picked, rules=rules)
    if department.score is None:
        st.info(tr("db.no_department"), icon=":material/inbox:")
    else:
        left, right = st.columns([1, 3])
        left.metric(tr("db.department_score"), f"{department.score:.2f}", border=True)
        with right:
            st.dataframe(part_frame(department, rules.department, kpi.DEPARTMENT_HAND, "dpart", tr), hide_index=True,
                         width="stretch")
        if not department.entered:
            st.caption(tr("db.no_department_review"))

    st.subheader(tr("db.supervisor_title", name=name))
    supervisors = kpi.supervisor_scores(store, actor, *picked, rules=rules)
    if not supervisors:
        st.info(tr("db.no_supervisors"), icon=":material/inbox:")
    else:
        teams = store.sheet(kpi.TEAMS).by_name["team"] if kpi.TEAMS in store.sheets else None
        lines, config = [], {tr("db.col_score"): st.column_config.NumberColumn(format="%.2f")}
        heading = {part: tr(f"db.scol_{part}", weight=weight) for part, weight in rules.supervisor.items()}
        for part in rules.supervisor:                # the short heading; the table's own wording on hover
            config[heading[part]] = st.column_config.TextColumn(help=tr(f"db.spart_{part}"))
        for row in supervisors:
            line = {tr("db.col_supervisor"): row.name,
                    tr("db.col_team"): teams.choice_label(row.team, lang) if row.team and teams else tr("db.whole_department"),
                    tr("db.col_score"): row.score}
            for part in rules.supervisor:
                value = row.parts.get(part)
                line[heading[part]] = "" if value is None else f"{value:.1f}"
            lines.append(line)
        st.dataframe(pd.DataFrame(lines), hide_index=True, width="stretch", column_config=config)
    st.caption(tr("db.tables_rule"))


def part_frame(row: kpi.TableScore, weights: dict, hand: tuple, prefix: str, tr) -> pd.DataFrame:
    """How a table's score was made: each part, its weight, where it comes from, its figure and points."""
    lines = []
    for part, weight in weights.items():
        value = row.parts.get(part)
        lines.append({tr("db.col_part"): tr(f"db.{prefix}_{part}"), tr("db.col_weight"): f"{weight}%",
                      tr("db.col_source"): tr("db.source_entered" if part in hand else "db.source_data"),
                      tr("db.col_value"): (tr("db.not_entered" if part in hand else "db.no_data") if value is None
                                           else f"{value:.1f}"),
                      tr("db.col_points"): f"{(value or 0) * weight / 100:.2f}"})
    return pd.DataFrame(lines)
