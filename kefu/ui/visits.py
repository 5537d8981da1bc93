"""The reception desk's board: who is in the building now and who is still expected today, with
one-click check-in and check-out. Used by the visitor screen and the home screen."""
from __future__ import annotations

from datetime import datetime

import streamlit as st

from kefu import auth, visitors
from kefu.errors import KefuError
from kefu.i18n import t
from kefu.sheets import ValidationError
from kefu.ui.text import plain


def _clock(value: str | None) -> str:
    return datetime.fromisoformat(value).strftime("%H:%M") if value else ""


def _who(visit: dict, names: dict) -> str:
    parts = [f"**{plain(visit['visitor_name'])}**"]
    if visit.get("organisation"):
        parts.append(plain(visit["organisation"]))
    host = names.get(visit.get("host"))
    if host:
        parts.append(f"→ {plain(host)}")
    return " · ".join(parts)


def _act(action, store, actor, visit_id: int, done_key: str, lang: str) -> None:
    try:
        visit = action(store, actor, visit_id)
        st.toast(t(done_key, lang, name=plain(visit["visitor_name"])), icon=":material/check:")
    except KefuError as exc:
        st.toast(plain(exc.message(lang)), icon=":material/error:")
    except ValidationError as exc:                  # an appointment checked in without what is asked on arrival
        st.toast(plain(" ".join(exc.messages(lang))), icon=":material/error:")


def presence_board(store, actor, lang: str, *, key: str) -> None:
    sheet = store.sheet(visitors.SHEET)
    if not auth.can(actor, sheet, "read"):
        return
    can_act = auth.can(actor, sheet, "update")
    names = store.user_names()
    present, expected = visitors.in_building(store, actor), visitors.expected(store, actor)
    left, right = st.columns(2)
    height = 330 if max(len(present), len(expected)) > 4 else "content"
    with left.container(border=True, height=height, key=f"{key}_present"):
        st.subheader(f":material/meeting_room: {t('visit.in_building', lang)} · {len(present)}", anchor=False)
        if not present:
            st.caption(t("visit.nobody_in", lang))
        for visit in present:
            row = st.columns([2, 1, 1], vertical_alignment="center")
            late = visitors.host_minutes_late(store, visit)
            line = _who(visit, names) + "  \n" + t("visit.since", lang, time=_clock(visit["arrived_at"]))
            if visit.get("received_at"):
                line += " · " + t("visit.received_at", lang, time=_clock(visit["received_at"]))
            if late:
                line += f" · :orange-badge[{t('visit.host_late_by', lang, minutes=late)}]"
            row[0].markdown(line)
            if can_act and not visit.get("received_at"):
                row[1].button(t("visit.receive", lang), key=f"{key}__receive_{visit['id']}", icon=":material/handshake:",
                              on_click=_act, args=(visitors.receive, store, actor, visit["id"], "visit.received", lang),
                              type="primary", width="stretch")
            if can_act:
                row[2].button(t("visit.check_out", lang), key=f"{key}__out_{visit['id']}", icon=":material/logout:",
                              on_click=_act, args=(visitors.check_out, store, actor, visit["id"], "visit.checked_out", lang),
                              width="stretch")
    with right.container(border=True, height=height, key=f"{key}_expected"):
        st.subheader(f":material/schedule: {t('visit.expected', lang)} · {len(expected)}", anchor=False)
        if not expected:
            st.caption(t("visit.nobody_expected", lang))
        now = datetime.now(store.settings.tz)
        for visit in expected:
            row = st.columns([4, 1], vertical_alignment="center")
            line = _who(visit, names) + "  \n" + t("visit.at", lang, time=_clock(visit["appointment_at"]))
            if datetime.fromisoformat(visit["appointment_at"]) < now:
                line += f" · :gray-badge[{t('visit.past_appointment', lang)}]"
            row[0].markdown(line)
            if can_act:
                row[1].button(t("visit.check_in", lang), key=f"{key}__in_{visit['id']}", icon=":material/login:",
                              type="primary", width="stretch",
                              on_click=_act, args=(visitors.check_in, store, actor, visit["id"], "visit.checked_in", lang))
