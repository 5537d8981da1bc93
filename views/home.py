"""Today: what needs this user now. Each register adds its card here."""
from datetime import datetime

import streamlit as st
from chinese_calendar import get_holiday_detail, is_workday

from kefu import auth
from kefu.store import Query
from kefu.ui import context
from kefu.ui.visits import presence_board

WEEKDAYS = {"zh": "一二三四五六日", "en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]}


def render() -> None:
    user = context.require_view("home")
    store, tr, lang = context.store(), context.tr, context.lang()
    today = datetime.now(store.settings.tz).date()
    st.title(tr("home.greeting", name=user.display_name))
    st.caption(day_line(today, lang))
    shown = roster_card(store, user, today, lang)
    visitors = store.sheets.get("visitors")
    if visitors is not None and auth.can(user, visitors, "read"):
        presence_board(store, user, lang, key="home")
        shown = True
    if not shown:
        st.info(tr("home.nothing"), icon=":material/check_circle:")


def day_line(today, lang: str) -> str:
    weekday = WEEKDAYS[lang][today.weekday()]
    line = context.tr("home.today", date=f"{today.isoformat()} " + (f"星期{weekday}" if lang == "zh" else weekday))
    try:
        holiday, name = get_holiday_detail(today)
        if holiday and name:
            line += f" · {name}"
        elif today.weekday() >= 5 and is_workday(today):
            line += " · " + ("调休上班" if lang == "zh" else "make-up working day")
    except NotImplementedError:
        pass                                   # a year the holiday calendar does not know yet
    return line


def roster_card(store, user, today, lang: str) -> bool:
    roster = store.sheets.get("roster")
    if roster is None or not auth.can(user, roster, "read"):
        return False
    tr = context.tr
    shift = roster.by_name["shift"]
    day = (today.isoformat(), today.isoformat())
    mine = store.query("roster", user, Query(filters={"duty_date": day, "staff": user.id}, page_size=5)).rows
    if user.role in ("staff", "supervisor"):
        st.markdown(tr("home.my_shift", shift=shift.choice_label(mine[0]["shift"], lang)) if mine
                    else tr("home.no_shift"))
    if user.role in ("supervisor", "manager", "gm"):
        rows = store.query("roster", user, Query(filters={"duty_date": day}, page_size=200)).rows
        names = store.user_names()
        with st.expander(tr("home.on_duty") + f" · {sum(1 for r in rows if r['shift'] != 'rest')}"):
            if not rows:
                st.caption(tr("home.nobody_on_duty"))
            for choice in shift.choices:
                people = [names.get(r["staff"], "?") for r in rows if r["shift"] == choice["value"]]
                if people:
                    st.markdown(f"**{shift.choice_label(choice['value'], lang)}**: {'、'.join(people)}")
    return True
