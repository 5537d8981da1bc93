"""A customer archive: the record itself, its transaction totals, and its transactions,
relationship log, business changes and access grants."""
from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import streamlit as st

from kefu import auth, customers
from kefu.errors import KefuError
from kefu.fields import format_fen
from kefu.i18n import t
from kefu.sheets import ValidationError
from kefu.store import Query
from kefu.ui.detail import record_detail
from kefu.ui.form import record_form
from kefu.ui.grid import sheet_grid
from kefu.ui.text import plain
from kefu.ui.widgets import error_list

ADD_LABELS = {"transactions": "cust.add_transaction", "relationship_log": "cust.add_relation",
              "business_changes": "cust.add_change"}


def archive_panel(store, actor, lang: str, customer_id: int, *, key: str) -> None:
    sheet = store.sheet(customers.SHEET)
    record_detail(store, sheet, actor, lang, customer_id, key=key)
    try:
        totals = customers.summary(store, actor, customer_id)
    except KefuError:
        return                                          # not visible: record_detail said so
    record = store.get(customers.SHEET, customer_id, actor)
    metrics = st.columns(4)
    metrics[0].metric(t("cust.tx_count", lang), totals["count"])
    metrics[1].metric(t("cust.tx_total", lang), format_fen(totals["total"]))
    metrics[2].metric(t("cust.tx_unpaid", lang), format_fen(totals["unpaid"]))
    metrics[3].metric(t("cust.tx_last", lang), totals["last"] or t("common.none", lang))
    children = [store.sheet(name) for name in customers.CHILDREN if auth.can(actor, store.sheet(name), "read")]
    access = sheet.row_access
    show_grants = actor.role in access.grantors | access.see_all
    labels = [child.label_in(lang) for child in children] + ([t("cust.grants", lang)] if show_grants else [])
    panes = st.tabs(labels)
    for pane, child in zip(panes, children):
        with pane:
            child_records(store, actor, lang, child, customer_id, key=f"{key}__{child.name}")
    if show_grants:
        with panes[-1]:
            grants_table(store, actor, lang, row_id=customer_id, key=f"{key}__grants")
            if actor.role in access.grantors:
                grant_form(store, actor, lang, customer_id, key=f"{key}__grant")
    if record["status"] != "archived" and actor.role in sheet.approval.roles:
        if st.button(t("cust.archive_button", lang), key=f"{key}__archive_{customer_id}", icon=":material/archive:"):
            try:
                customers.archive(store, actor, customer_id)
                st.toast(t("cust.archived", lang))
                st.rerun()
            except KefuError as exc:
                st.error(plain(exc.message(lang)))


def child_records(store, actor, lang: str, child, customer_id: int, *, key: str) -> None:
    """One archive's transactions (or log, or changes): a grid, the selected one's detail, a form."""
    columns = [c for c in child.columns if c != "customer"]
    selected = sheet_grid(store, child, actor, lang, key=key, columns=columns,
                          query=Query(filters={"customer": customer_id}, page_size=child.page_size))
    if selected is not None:
        record_detail(store, child, actor, lang, selected, key=key)
    if auth.can(actor, child, "create"):
        with st.expander(t(ADD_LABELS[child.name], lang), icon=":material/add:"):
            prefill = {name: actor.id for name in ("staff",) if name in child.by_name}
            row_id = record_form(store, child, actor, lang, key=f"{key}__new", hidden=("customer",), prefill=prefill,
                                 on_values=lambda values: {**values, "customer": customer_id})
            if row_id is not None:
                st.toast(t("sheet.saved", lang), icon=":material/check:")
                st.rerun()


def grants_table(store, actor, lang: str, *, row_id: int | None = None, key: str) -> None:
    rows = store.grants(customers.SHEET, actor, row_id=row_id)
    if not rows:
        st.caption(t("cust.no_grants", lang))
        return
    def covers(r) -> str:
        return t("cust.grant_book", lang, keeper=r["keeper_name"] or "?") if r["row_id"] is None else (r["title"] or "")

    frame = pd.DataFrame({
        t("log.record", lang): [covers(r) for r in rows],
        t("cust.grant_user", lang): [r["user_name"] for r in rows],
        t("cust.grant_actions", lang): [t("cust.grant_read_export" if r["export"] else "cust.grant_read", lang)
                                       for r in rows],
        t("cust.grant_until", lang): [r["until"] for r in rows],
        t("cust.grant_reason", lang): [r["reason"] or "" for r in rows],
        t("cust.grant_by", lang): [r["granted_by_name"] or "" for r in rows],
        t("cust.grant_state", lang): [t("cust.grant_active" if r["active"] else "cust.grant_over", lang) for r in rows],
    })
    st.dataframe(frame, hide_index=True, width="stretch")
    active = [r for r in rows if r["active"]]
    if active and actor.role in store.sheet(customers.SHEET).row_access.grantors:
        chosen = st.selectbox(t("cust.revoke", lang), [r["id"] for r in active], index=None, key=f"{key}__pick",
                              format_func=lambda i: next(f"{covers(r)} → {r['user_name']} ({r['until']})"
                                                         for r in active if r["id"] == i))
        if chosen and st.button(t("cust.revoke", lang), key=f"{key}__revoke", icon=":material/block:"):
            store.revoke(chosen, actor)
            st.toast(t("cust.revoked", lang))
            st.rerun()


def grant_form(store, actor, lang: str, customer_id: int | None, *, key: str) -> None:
    """The gm's grant: of one archive (customer_id), or, with customer_id None, of a keeper's whole book."""
    users = dict(store.active_users())
    today = datetime.now(store.settings.tz).date()
    longest = store.sheet(customers.SHEET).row_access.max_grant_days
    with st.form(key, clear_on_submit=True):
        keeper = None
        if customer_id is None:
            keeper = st.selectbox(t("cust.grant_keeper", lang), list(users), index=None,
                                  format_func=lambda u: users.get(u, f"#{u}"), placeholder="")
        columns = st.columns([2, 1, 2])
        user_id = columns[0].selectbox(t("cust.grant_to", lang), list(users), index=None,
                                       format_func=lambda u: users.get(u, f"#{u}"), placeholder="")
        until = columns[1].date_input(t("cust.grant_until", lang), value=today + timedelta(days=7),
                                      min_value=today + timedelta(days=1),
                                      max_value=today + timedelta(days=longest), format="YYYY-MM-DD")
        reason = columns[2].text_input(t("cust.grant_reason", lang), max_chars=200)
        export = st.checkbox(t("cust.grant_export", lang))
        submitted = st.form_submit_button(t("cust.grant_button", lang), icon=":material/key:")
    if submitted:
        try:
            store.grant(customers.SHEET, customer_id, user_id, actor, until=until, reason=reason, keeper=keeper,
                        export=export)
            st.success(t("cust.granted", lang, until=until.isoformat()))
        except ValidationError as exc:
            labels = {"user": t("cust.grant_to", lang), "until": t("cust.grant_until", lang),
                      "reason": t("cust.grant_reason", lang), "keeper": t("cust.grant_keeper", lang)}
            error_list(t("sheet.fix_errors", lang),
                       [t(p.code, lang, field=labels.get(p.field, p.field), **p.params) for p in exc.problems])
        except KefuError as exc:
            st.error(plain(exc.message(lang)))


# -- asking the gm to read an archive, and the gm's answer ---------------------------------------------------
def _refused(exc: ValidationError, lang: str, labels: dict) -> None:
    error_list(t("sheet.fix_errors", lang),
               [t(p.code, lang, field=labels.get(p.field, p.field), **p.params) for p in exc.problems])


def _state(request: customers.AccessRequest, lang: str) -> str:
    if request.state == "granted":
        return t("cust.ask_granted", lang, until=request.until or "")
    return t(f"cust.ask_{request.state}", lang)


def ask_form(store, actor, lang: str, *, key: str) -> None:
    """Someone who may not read an archive asks the gm for it (by its number), then sees the answers."""
    longest = store.sheet(customers.SHEET).row_access.max_grant_days
    labels = {"code": t("cust.ask_code", lang), "reason": t("cust.grant_reason", lang), "days": t("cust.ask_days", lang)}
    st.caption(t("cust.ask_intro", lang))
    with st.form(key, clear_on_submit=True):
        columns = st.columns([1, 3, 1])
        code = columns[0].text_input(labels["code"], max_chars=40, placeholder="KH000123", key=f"{key}__code")
        reason = columns[1].text_input(labels["reason"], max_chars=200, key=f"{key}__reason")
        days = columns[2].number_input(labels["days"], min_value=1, max_value=longest, value=min(7, longest), step=1,
                                       key=f"{key}__days")
        submitted = st.form_submit_button(t("cust.ask_button", lang), icon=":material/send:")
    if submitted:
        try:
            customers.ask_access(store, actor, code, reason, int(days))
            st.success(t("cust.asked", lang))
        except ValidationError as exc:
            _refused(exc, lang, labels)
    mine = customers.access_requests(store, actor)
    if not mine:
        st.caption(t("cust.ask_none", lang))
        return
    st.dataframe(pd.DataFrame({
        labels["code"]: [r.code for r in mine], t("cust.ask_at", lang): [r.asked_at[:16].replace("T", " ") for r in mine],
        labels["days"]: [r.days for r in mine], labels["reason"]: [r.reason for r in mine],
        t("cust.grant_state", lang): [_state(r, lang) for r in mine],
        t("cust.ask_note", lang): [r.note or "" for r in mine]}), hide_index=True, width="stretch")


def answer_requests(store, actor, lang: str, *, key: str) -> None:
    """The gm's list of open requests, each granted (for the days asked) or refused with a reason."""
    waiting = customers.access_requests(store, actor, state="open")
    st.subheader(t("cust.ask_waiting", lang, count=len(waiting)))
    if not waiting:
        st.caption(t("cust.ask_nothing_waiting", lang))
        return
    for request in waiting:
        with st.container(border=True, key=f"{key}__request_{request.id}"):
            archive = (f"{plain(request.code)} · {plain(request.title)}" if request.archive
                       else t("cust.ask_no_archive", lang, code=plain(request.code)))
            st.markdown(t("cust.ask_line", lang, user=plain(request.user_name), archive=archive, days=request.days,
                          at=request.asked_at[:16].replace("T", " ")))
            st.caption(t("cust.ask_why", lang, reason=plain(request.reason)))
            columns = st.columns([1, 3, 1], vertical_alignment="bottom")
            grant = columns[0].button(t("cust.ask_grant", lang), key=f"{key}__grant_{request.id}", type="primary",
                                      icon=":material/key:", disabled=request.archive is None)
            note = columns[1].text_input(t("cust.ask_refuse_reason", lang), key=f"{key}__note_{request.id}",
                                         max_chars=200)
            refuse = columns[2].button(t("cust.ask_refuse", lang), key=f"{key}__refuse_{request.id}",
                                       icon=":material/block:")
            if grant or refuse:
                try:
                    customers.answer_access(store, actor, request.id, grant=grant, note=note)
                    st.rerun()
                except ValidationError as exc:
                    _refused(exc, lang, {"note": t("cust.ask_refuse_reason", lang), "code": t("cust.ask_code", lang),
                                         "until": t("cust.grant_until", lang)})
