"""Club events (会员活动): the list, a new event, and a chosen event with its sign-ups and waiting list."""
import streamlit as st

from kefu import auth
from kefu.ui.detail import record_detail
from kefu.ui.events import signups_panel
from kefu.ui.grid import sheet_grid
from kefu.ui.screen import new_record, open_screen
from kefu.i18n import t

KEY = "events"


def render() -> None:
    actor, store, sheet, lang = open_screen("events")
    creating = auth.can(actor, sheet, "create")
    tabs = st.tabs([t("sheet.list", lang)] + ([t("sheet.new", lang)] if creating else []))
    with tabs[0]:
        chosen = sheet_grid(store, sheet, actor, lang, key=f"{KEY}__list")
        if chosen is not None:
            signups_panel(store, actor, lang, chosen, key=KEY)
            record_detail(store, sheet, actor, lang, chosen, key=f"{KEY}__detail")
    if creating:
        with tabs[1]:
            new_record(store, sheet, actor, lang, key=f"{KEY}__new")
