"""Tickets (投诉咨询建议): log a call, the list with filters, and a ticket's workflow and record."""
import streamlit as st

from kefu import auth, tickets
from kefu.ui import context
from kefu.ui.detail import record_detail
from kefu.ui.grid import sheet_grid
from kefu.ui.screen import new_record, open_screen
from kefu.ui.ticket import workflow_panel

KEY = "tickets"
OPEN = f"{KEY}__open"


def render() -> None:
    actor, store, sheet, lang = open_screen(tickets.SHEET)
    tr = context.tr
    can_create = auth.can(actor, sheet, "create")
    names = ([tr("tk.new")] if can_create else []) + [tr("tk.list")]
    tabs = dict(zip(names, st.tabs(names)))
    if can_create:
        with tabs[tr("tk.new")]:
            new_record(store, sheet, actor, lang, key=f"{KEY}__new",       # the engine sets the readonly fields
                       save=lambda values: tickets.intake(store, actor, values))
    with tabs[tr("tk.list")]:
        selected = sheet_grid(store, sheet, actor, lang, key=f"{KEY}__list")
        if selected is not None:
            st.session_state[OPEN] = selected
        if st.session_state.get(OPEN):
            workflow_panel(store, actor, lang, st.session_state[OPEN], key=KEY)
            record_detail(store, sheet, actor, lang, st.session_state[OPEN], key=f"{KEY}__detail")
