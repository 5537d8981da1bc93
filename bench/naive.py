"""The way a typical Streamlit app makes the dashboard: read the tables with pandas, then group. `make bench`
times it against kefu.kpi on the same database, in a process of its own (so its memory is its own)."""
from __future__ import annotations

import resource
import sqlite3
import time
from datetime import date, timedelta

import pandas as pd

OPEN = ("new", "assigned", "in_progress", "waiting_customer", "awaiting_manager", "awaiting_approval", "approved")


def overview(db: str, month: tuple[date, date], before: tuple[date, date], weeks_from: date,
             quarter: tuple[date, date]) -> dict:
    """This month and last (the KPI cards), the weekly trend by kind since weeks_from, and the quarter's
    figures per handler; returns a few figures to compare with kefu.kpi's."""
    with sqlite3.connect(db) as conn:
        tickets = pd.read_sql("SELECT * FROM tickets", conn)
        visitors = pd.read_sql("SELECT * FROM visitors", conn)
        customers = pd.read_sql("SELECT * FROM customers", conn)
        members = pd.read_sql("SELECT * FROM members", conn)
        surveys = pd.read_sql("SELECT * FROM surveys", conn)
    tickets = tickets[tickets["deleted_at"].isna()]
    tickets["day"] = pd.to_datetime(tickets["created_at"].str[:10])

    def cards(start: date, end: date) -> dict:
        rows = tickets[(tickets["day"] >= pd.Timestamp(start)) & (tickets["day"] < pd.Timestamp(end))]
        resolved = rows[rows["resolved_at"].notna() & rows["resolution_due"].notna()]
        seen = visitors[(visitors["arrived_at"] >= start.isoformat()) & (visitors["arrived_at"] < end.isoformat())]
        on_file = customers[customers["deleted_at"].isna() & (customers["created_at"] < end.isoformat())]
        joined = members[(members["joined_on"] >= start.isoformat()) & (members["joined_on"] < end.isoformat())]
        answered = surveys[(surveys["taken_at"] >= start.isoformat()) & (surveys["taken_at"] < end.isoformat())]
        return {"tickets": len(rows), "open": int(rows["state"].isin(OPEN).sum()),
                "on_time_rate": (resolved["resolved_at"] <= resolved["resolution_due"]).mean(),
                "response_hours": rows["response_hours"].mean(), "resolution_hours": rows["resolution_hours"].mean(),
                "satisfaction": rows["satisfaction"].mean(),
                "complaint_rate": (rows["kind"] == "complaint").sum() * 100 / max(1, len(on_file)),
                "visitors": len(seen), "new_members": len(joined),
                "survey_score": answered[["service", "price", "overall"]].mean(axis=1).mean()}

    now, then = cards(*month), cards(*before)
    recent = tickets[tickets["day"] >= pd.Timestamp(weeks_from)]
    trend = recent.groupby([recent["day"].dt.to_period("W-SUN"), "kind"]).size()
    span = tickets[(tickets["day"] >= pd.Timestamp(quarter[0])) & (tickets["day"] < pd.Timestamp(quarter[1]))]
    ranking = span.groupby("assignee").agg(handled=("id", "size"), satisfaction=("satisfaction", "mean"))
    return {"tickets": now["tickets"], "before": then["tickets"], "weeks": int(trend.index.get_level_values(0).nunique()),
            "ranked": len(ranking)}


def timed(args) -> tuple[dict, float, int]:
    """overview(*args) in this (separate) process: its figures, milliseconds and peak memory in KiB."""
    start = time.perf_counter()
    figures = overview(*args)
    return figures, (time.perf_counter() - start) * 1000, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def weeks_back(today: date, months: int) -> date:
    index = today.year * 12 + today.month - 1 - months + 1
    first = date(index // 12, index % 12 + 1, 1)
    return first - timedelta(days=first.weekday())
