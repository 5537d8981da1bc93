"""Customer archives (客户档案): find an archive, open it, create one (with a duplicate check), grants."""
import streamlit as st

from kefu import auth, customers
from kefu.i18n import t
from kefu.ui import context
from kefu.ui.archive import answer_requests, archive_panel, ask_form, grant_form, grants_table
from kefu.ui.grid import sheet_grid
from kefu.ui.screen import new_record, open_screen
from kefu.ui.text import plain

KEY = "customers"
OPEN = f"{KEY}__open"
TABS = f"{KEY}__tabs"


def open_archive(archive_id: int, list_label: str) -> None:
    """From the duplicate warning: show that archive in the list tab."""
    st.session_state[OPEN] = archive_id
    st.session_state[TABS] = list_label


def render() -> None:
    actor, store, sheet, lang = open_screen(customers.SHEET)
    tr = context.tr
    can_create = auth.can(actor, sheet, "create")
    access = sheet.row_access
    show_grants = actor.role in access.grantors | access.see_all
    may_ask = customers.may_ask(store, actor)
    names = [tr("cust.list")] + ([tr("cust.new")] if can_create else []) + ([tr("cust.ask")] if may_ask else []) \
        + ([tr("cust.grants")] if show_grants else [])
    tabs = dict(zip(names, st.tabs(names, key=TABS, on_change="rerun")))
    with tabs[tr("cust.list")]:
        selected = sheet_grid(store, sheet, actor, lang, key=f"{KEY}__list")
        if selected is not None:
            st.session_state[OPEN] = selected
        if st.session_state.get(OPEN):
            archive_panel(store, actor, lang, st.session_state[OPEN], key=f"{KEY}__archive")
    if can_create:
        with tabs[tr("cust.new")]:
            new_archive(store, sheet, actor, lang)
    if may_ask:
        with tabs[tr("cust.ask")]:
            ask_form(store, actor, lang, key=f"{KEY}__ask")
    if show_grants:
        with tabs[tr("cust.grants")]:
            if actor.role in access.grantors:
                answer_requests(store, actor, lang, key=f"{KEY}__requests")
            grants_table(store, actor, lang, key=f"{KEY}__all_grants")
            if actor.role in access.grantors:                 # a keeper's whole book, for a colleague covering
                with st.expander(tr("cust.grant_book_title"), icon=":material/key:"):
                    grant_form(store, actor, lang, None, key=f"{KEY}__book_grant")


def new_archive(store, sheet, actor, lang) -> None:
    ack_key = f"{KEY}__duplicate_ack"

    def check_duplicates(values: dict) -> bool:
        found = customers.duplicates(store, actor, values)
        fingerprint = repr(sorted((k, str(values.get(k))) for k in ("name", "phone", "mobile")))
        if not found or st.session_state.get(ack_key) == fingerprint:
            st.session_state.pop(ack_key, None)
            return True
        st.session_state[ack_key] = fingerprint
        with st.container(border=True):
            st.warning(t("cust.duplicate_title", lang), icon=":material/content_copy:")
            for match in found:
                if match["visible"]:
                    line = st.columns([4, 1], vertical_alignment="center")
                    line[0].markdown(f"**{plain(match['code'])}** · {plain(match['name'])} · {plain(match['owner'])}")
                    line[1].button(t("cust.open", lang), key=f"{KEY}__dup_{match['id']}",
                                   on_click=open_archive, args=(match["id"], t("cust.list", lang)))
                else:
                    st.markdown(t("cust.duplicate_hidden", lang, owner=plain(match["owner"] or "?")))
            st.caption(t("cust.duplicate_hint", lang))
        return False

    new_record(store, sheet, actor, lang, key=f"{KEY}__new",
               prefill={"code": customers.next_code(store), "owner": actor.id, "kind": "company",
                        "credit_rating": "B"},
               before_save=check_duplicates)
