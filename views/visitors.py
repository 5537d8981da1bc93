"""Visitor log (来访登记): the presence board, the visitor book, and registering a visitor."""
import streamlit as st

from kefu import auth, visitors
from kefu.ui import context
from kefu.ui.screen import list_and_detail, new_record, open_screen
from kefu.ui.visits import presence_board

KEY = "visitors"


def render() -> None:
    actor, store, sheet, lang = open_screen(visitors.SHEET)
    tr = context.tr
    presence_board(store, actor, lang, key=KEY)
    can_create = auth.can(actor, sheet, "create")
    tabs = st.tabs([tr("visit.all")] + ([tr("visit.register")] if can_create else []))
    with tabs[0]:
        late = {tr("visit.host_late"): lambda visit: tr("visit.host_late_by", minutes=minutes)
                if (minutes := visitors.host_minutes_late(store, visit)) else ""}
        list_and_detail(store, sheet, actor, lang, key=f"{KEY}__list", extra=late,
                        extra_reads=visitors.LATENESS_READS)
    if can_create:
        with tabs[1]:
            register(store, sheet, actor, lang)


def register(store, sheet, actor, lang) -> None:
    tr = context.tr
    form_key = f"{KEY}__new"
    lookup = st.columns([3, 1], vertical_alignment="bottom")
    phone = lookup[0].text_input(tr("visit.lookup_phone"), key=f"{KEY}__lookup_phone", max_chars=40)
    if lookup[1].button(tr("visit.lookup"), icon=":material/person_search:", key=f"{KEY}__lookup", width="stretch"):
        found = visitors.last_visit_by_phone(store, actor, phone)
        st.session_state[f"{KEY}__prefill"] = found
        st.session_state[f"{form_key}__gen"] = st.session_state.get(f"{form_key}__gen", 0) + 1
        st.session_state[f"{KEY}__lookup_done"] = True
    prefill = st.session_state.get(f"{KEY}__prefill")
    if st.session_state.get(f"{KEY}__lookup_done"):
        if prefill:
            st.info(tr("visit.found", date=prefill["_last_visit"]), icon=":material/history:")
        else:
            st.caption(tr("visit.not_found"))
    arrive_now = st.toggle(tr("visit.arrive_now"), value=True, key=f"{KEY}__arrive_now")

    def stamp_arrival(values: dict) -> dict:
        if arrive_now and not values.get("arrived_at"):
            values["arrived_at"] = store.now()
        return values

    hidden = ("arrived_at", "left_at") if arrive_now else ("left_at",)
    new_record(store, sheet, actor, lang, key=form_key, prefill={k: v for k, v in (prefill or {}).items()
                                                                 if not k.startswith("_")},
               hidden=hidden, on_values=stamp_arrival)
