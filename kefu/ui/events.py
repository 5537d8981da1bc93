"""A club event's sign-ups: seats and waiting list, sign a member up, cancel (the waiting list moves up),
mark who came."""
from __future__ import annotations

import streamlit as st

from kefu import auth, events
from kefu.errors import KefuError
from kefu.i18n import t
from kefu.ui.text import plain
from kefu.ui.widgets import field_input


def signups_panel(store, actor, lang: str, event_id: int, *, key: str) -> None:
    sheet = store.sheet(events.SIGNUPS)
    if not auth.can(actor, sheet, "read"):
        return
    try:
        standing = events.seats(store, event_id)
    except KefuError as exc:
        st.warning(plain(exc.message(lang)))
        return
    with st.container(border=True):
        st.markdown(f"**:material/how_to_reg: {sheet.label_in(lang)}** · " + t("ev.seats", lang, **standing))
        if auth.can(actor, sheet, "create"):
            _sign_up_form(store, actor, lang, event_id, sheet, key)
        rows = events.signups(store, actor, event_id)
        if not rows:
            st.caption(t("ev.none", lang))
            return
        status = sheet.by_name["status"]
        titles = store.ref_labels("members", {r["member"] for r in rows}, actor)   # HY000123 · 海棠湾酒店
        may_update = auth.can(actor, sheet, "update")
        for row in rows:
            line, first, second = st.columns([4, 1, 1], vertical_alignment="center")
            place = f" · {t('ev.place', lang, position=row['position'])}" if row["status"] == "waiting" else ""
            line.markdown(f"{plain(titles.get(row['member'], '#' + str(row['member'])))} · "
                          f"{status.choice_label(row['status'], lang)}{place}")
            if not may_update:
                continue
            if row["status"] == "signed_up" and first.button(t("ev.attended", lang), key=f"{key}__came_{row['id']}"):
                _act(lambda r=row: events.mark_attended(store, actor, r["id"]), lang)
            if row["status"] in ("signed_up", "waiting") and second.button(t("ev.cancel", lang),
                                                                         key=f"{key}__cancel_{row['id']}"):
                _act(lambda r=row: events.cancel(store, actor, r["id"]), lang)


def _sign_up_form(store, actor, lang: str, event_id: int, sheet, key: str) -> None:
    # enter_to_submit=False as in every form of the app: else the member search shows Streamlit's own
    # English "Press Enter to submit form"
    with st.form(f"{key}__signup_{event_id}", border=False, enter_to_submit=False):
        chosen = field_input(sheet.by_name["member"], None, key=f"{key}__member_{event_id}", lang=lang,
                             store=store, actor=actor)
        go = st.form_submit_button(t("ev.sign_up", lang), type="primary")
    if go:
        if not chosen:
            st.error(t("err.required", lang, field=sheet.by_name["member"].label_in(lang)))
            return
        try:
            result = events.sign_up(store, actor, event_id, chosen)
        except KefuError as exc:
            st.error(plain(exc.message(lang)))
            return
        waiting = events.seats(store, event_id)["waiting"]
        st.toast(t("ev.signed_up", lang) if result == "signed_up" else t("ev.waiting", lang, position=waiting),
                 icon=":material/check:")
        st.rerun()


def _act(action, lang: str) -> None:
    try:
        action()
    except KefuError as exc:
        st.error(plain(exc.message(lang)))
        return
    st.rerun()
