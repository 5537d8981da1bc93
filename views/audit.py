"""Audit log (审计日志, administrator): every record change and account event, filtered by user, register,
action and period, one page at a time from SQL; the selected entry's before and after, personal data masked."""
import hashlib

import pandas as pd
import streamlit as st

from kefu import admin
from kefu.errors import KefuError
from kefu.ui import context
from kefu.ui.text import plain

KEY = "adm_audit"


def render() -> None:
    actor = context.screen("audit", "adm.audit_title", "adm.audit_intro")
    store, tr, lang = context.store(), context.tr, context.lang()
    wanted = filters(store)
    page = admin.audit_page(store, actor, wanted, lang, page=st.session_state.get(f"{KEY}__page", 1))
    if not page.rows:
        st.info(tr("sheet.no_match" if wanted != admin.AuditFilter() else "sheet.empty"), icon=":material/inbox:")
        return
    frame = pd.DataFrame({
        tr("common.id"): [r["id"] for r in page.rows],
        tr("audit.when"): [r["at"][:19].replace("T", " ") for r in page.rows],
        tr("adm.audit_user"): [r["username"] for r in page.rows],
        tr("adm.audit_sheet"): [r["sheet_label"] for r in page.rows],
        tr("adm.audit_record"): [r["record"] for r in page.rows],
        tr("adm.audit_action"): [r["action_label"] for r in page.rows],
        tr("adm.audit_fields"): [r["fields"] for r in page.rows],
    })
    # A selection is a row position: other rows shown (a filter, a page) get a new key, so no stale selection.
    shown = hashlib.sha1(",".join(str(r["id"]) for r in page.rows).encode()).hexdigest()[:10]
    event = st.dataframe(frame, hide_index=True, on_select="rerun", selection_mode="single-row", width="stretch",
                         key=f"{KEY}__grid_{shown}",
                         column_config={tr("common.id"): st.column_config.NumberColumn(width="small", format="%d")})
    if page.pages > 1:
        st.pagination(page.pages, default=page.page, key=f"{KEY}__page", max_visible_pages=7)
    st.caption(tr("sheet.rows", total=f"{page.total:,}") + " · " + tr("sheet.select_hint"))
    if page.capped:
        st.info(tr("adm.audit_capped", count=f"{admin.AUDIT_COUNT_LIMIT:,}"), icon=":material/filter_alt:")
    chosen = event.selection.rows if event is not None else []
    if chosen:
        entry_detail(store, actor, page.rows[chosen[0]]["id"])


def filters(store) -> admin.AuditFilter:
    """The filter bar; changing a filter goes back to the first page (the newest entries)."""
    tr, lang = context.tr, context.lang()
    any_label = tr("sheet.any")
    first_page = dict(on_change=lambda: st.session_state.pop(f"{KEY}__page", None))
    columns = st.columns(4)
    who = columns[0].selectbox(tr("adm.audit_user"), [None, *admin.audit_usernames(store)], key=f"{KEY}__user",
                               format_func=lambda u: any_label if u is None else u, **first_page)
    sheet = columns[1].selectbox(tr("adm.audit_sheet"), [None, *admin.audit_sheets(store)], key=f"{KEY}__sheet",
                                 format_func=lambda n: any_label if n is None else admin.sheet_label(store, n, lang),
                                 **first_page)
    action = columns[2].selectbox(tr("adm.audit_action"), [None, *admin.AUDIT_ACTIONS], key=f"{KEY}__action",
                                  format_func=lambda a: any_label if a is None else admin.action_label(a, lang),
                                  **first_page)
    period = columns[3].date_input(tr("adm.audit_period"), value=(), format="YYYY-MM-DD", key=f"{KEY}__period",
                                   **first_page)
    span = (period[0].isoformat(), (period[1] if len(period) > 1 else period[0]).isoformat()) if period else None
    return admin.AuditFilter(username=who, sheet=sheet, action=action, period=span)


def entry_detail(store, actor, entry_id: int) -> None:
    tr, lang = context.tr, context.lang()
    try:
        entry = admin.audit_entry(store, actor, entry_id, lang)
    except KefuError as exc:
        st.warning(plain(exc.message(lang)))
        return
    with st.container(border=True):
        st.subheader(tr("adm.entry_title", id=entry.id), anchor=False)
        st.caption(" · ".join([entry.at[:19].replace("T", " "), plain(entry.username),
                               f"{entry.sheet_label} {plain(entry.record)}".strip(), entry.action_label]))
        if not entry.changes:
            st.caption(tr("adm.no_changes"))
            return
        st.dataframe(pd.DataFrame({tr("adm.field"): [c[0] for c in entry.changes],
                                   tr("adm.before"): [c[1] for c in entry.changes],
                                   tr("adm.after"): [c[2] for c in entry.changes]}),
                     hide_index=True, width="stretch", key=f"{KEY}__entry_{entry.id}")
        st.caption(tr("adm.entry_masked"))
