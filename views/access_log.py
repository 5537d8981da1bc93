"""Access log (访问日志): who revealed personal data or exported it, when; for managers and the gm."""
import json

import pandas as pd
import streamlit as st

from kefu import auth
from kefu.ui import context


def render() -> None:
    actor = context.require_view("access_log")
    store, tr, lang = context.store(), context.tr, context.lang()
    st.title(tr("log.title"))
    st.caption(tr("log.intro"))
    names = dict(store.active_users())
    usernames = {u["id"]: u["username"] for u in auth.list_users(store)}
    columns = st.columns([2, 2, 2])
    who = columns[0].selectbox(tr("log.user"), [None, *names], format_func=lambda u: tr("sheet.any") if u is None
                               else names[u], key="log_user")
    sheets = [s for s in store.sheets.values() if s.pii_fields]
    where = columns[1].selectbox(tr("log.sheet"), [None, *[s.name for s in sheets]], key="log_sheet",
                                 format_func=lambda n: tr("sheet.any") if n is None else store.sheet(n).label_in(lang))
    period = columns[2].date_input(tr("log.period"), value=(), format="YYYY-MM-DD", key="log_period")
    span = (period[0].isoformat(), (period[1] if len(period) > 1 else period[0]).isoformat()) if period else None
    page = store.access_log(actor, username=usernames.get(who) if who else None, sheet=where, period=span,
                            page=st.session_state.get("log_page", 1))
    if not page.rows:
        st.info(tr("sheet.no_match" if (who or where or span) else "sheet.empty"), icon=":material/inbox:")
        return
    st.dataframe(pd.DataFrame({
        tr("audit.when"): [r["at"][:19].replace("T", " ") for r in page.rows],
        tr("log.user"): [r["username"] for r in page.rows],
        tr("audit.action"): [tr(f"log.{r['action']}") for r in page.rows],
        tr("log.sheet"): [store.sheet(r["sheet"]).label_in(lang) if r["sheet"] in store.sheets else r["sheet"]
                          for r in page.rows],
        tr("log.record"): [r["row_id"] or "" for r in page.rows],
        tr("log.detail"): [detail_text(r["detail"], tr) for r in page.rows],
    }), hide_index=True, width="stretch")
    if page.pages > 1:
        st.pagination(page.pages, default=page.page, key="log_page")
    st.caption(tr("sheet.rows", total=page.total))


def detail_text(detail: str | None, tr) -> str:
    """An export's detail ({"rows": n, "masked": bool}) in the user's language."""
    if not detail:
        return ""
    try:
        facts = json.loads(detail)
    except ValueError:
        return detail
    return tr("log.export_masked" if facts.get("masked") else "log.export_clear", rows=facts.get("rows", 0))
