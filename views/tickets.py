"""Tickets (投诉咨询建议): log a call, the work lists, all tickets, the weekly spot check; a chosen
ticket opens below with its workflow and record."""
import streamlit as st

from kefu import auth, tickets
from kefu.ui import context
from kefu.ui.grid import sheet_grid
from kefu.ui.screen import open_screen
from kefu.ui.ticket import intake_panel, spot_check_panel, ticket_panel, work_lists
from kefu.workflow import load_workflow

KEY = "tickets"


def render() -> None:
    actor, store, sheet, lang = open_screen(tickets.SHEET)
    tr = context.tr
    panes = (["new"] if auth.can(actor, sheet, "create") else []) + ["lists", "all"] + (
        ["spot"] if load_workflow().may("spot_check", actor.role) else [])
    tabs = dict(zip(panes, st.tabs([tr("tk.tab_" + p) for p in panes])))
    if "new" in tabs:
        with tabs["new"]:
            intake_panel(store, actor, lang, key=f"{KEY}__new")
    with tabs["lists"]:
        opened(store, actor, lang, work_lists(store, actor, lang, key=f"{KEY}__lists"), key=f"{KEY}__lists")
    with tabs["all"]:
        opened(store, actor, lang, sheet_grid(store, sheet, actor, lang, key=f"{KEY}__list"), key=f"{KEY}__all")
    if "spot" in tabs:
        with tabs["spot"]:
            spot_check_panel(store, actor, lang, key=f"{KEY}__spot")


def opened(store, actor, lang: str, chosen: int | None, *, key: str) -> None:
    """The ticket chosen in a list stays open below it while the user works on it (a step moves it
    out of the list it was chosen in)."""
    if chosen is not None:
        st.session_state[f"{key}__open"] = chosen
    if st.session_state.get(f"{key}__open"):
        ticket_panel(store, actor, lang, st.session_state[f"{key}__open"], key=key)
