"""A ticket's workflow panel: its state and due times, the steps the user's role may take now (with a
comment, and a handler for assignment), and the steps taken so far."""
from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from kefu import tickets
from kefu.errors import KefuError
from kefu.i18n import t
from kefu.sheets import ValidationError
from kefu.store import Query
from kefu.workflow import load_workflow


def _clock(value: str | None) -> str:
    return value[:16].replace("T", " ") if value else "—"


def workflow_panel(store, actor, lang: str, ticket_id: int, *, key: str) -> None:
    flow = load_workflow()
    try:
        ticket = store.get(tickets.SHEET, ticket_id, actor)
    except KefuError as exc:
        st.warning(exc.message(lang))
        return
    with st.container(border=True):
        now = datetime.now(store.settings.tz).isoformat()
        badges = [f":blue-badge[{flow.state_label(ticket['state'], lang)}]"]
        if ticket["escalated"]:
            badges.append(f":red-badge[:material/priority_high: {t('tk.escalated', lang)}]")
        if ticket["state"] not in ("feedback_given", "followed_up", "closed") and (ticket["resolution_due"] or "z") < now:
            badges.append(f":orange-badge[{t('tk.overdue', lang)}]")
        st.markdown(f"**{ticket['ticket_no']}** " + " ".join(badges))
        st.caption(t("tk.due", lang, response=_clock(ticket["response_due"]), resolution=_clock(ticket["resolution_due"])))
        steps = flow.available(ticket["state"], actor.role)
        if not steps:
            st.caption(t("tk.no_steps", lang))
        else:
            with st.form(f"{key}__step_{ticket_id}_{ticket['version']}"):
                chosen = st.segmented_control(t("tk.steps", lang), [s.name for s in steps], default=steps[0].name,
                                              format_func=lambda n: flow.transitions[n].label_in(lang), required=True)
                users = dict(store.active_users())
                assignee = None
                if any(s.name == "assign" for s in steps):
                    assignee = st.selectbox(t("tk.assign_to", lang), list(users), index=None,
                                            format_func=lambda u: users.get(u, f"#{u}"), placeholder="")
                comment = st.text_input(t("tk.comment", lang), max_chars=1000)
                go = st.form_submit_button(t("sheet.save", lang), type="primary")
            if go:
                try:
                    tickets.step(store, actor, ticket_id, chosen, comment=comment, assignee=assignee,
                                 expected_version=ticket["version"], flow=flow, lang=lang)
                    st.toast(t("tk.done", lang, step=flow.transitions[chosen].label_in(lang)), icon=":material/check:")
                    st.rerun()
                except ValidationError as exc:
                    st.error("\n".join(exc.messages(lang)))
                except KefuError as exc:
                    st.error(exc.message(lang))
        events = store.query(tickets.EVENTS, actor, Query(filters={"ticket": ticket_id}, page_size=200)).rows
        if events:
            names = store.user_names()
            st.markdown(f"**{t('tk.timeline', lang)}**")
            st.dataframe(pd.DataFrame({
                t("audit.when", lang): [_clock(e["created_at"]) for e in events],
                t("audit.who", lang): [names.get(e["created_by"], "—") for e in events],
                t("tk.step", lang): [flow.transitions[e["step"]].label_in(lang) if e["step"] in flow.transitions
                                     else t("tk.new", lang) for e in events],
                t("tk.state", lang): [flow.state_label(e["to_state"], lang) for e in events],
                t("tk.comment", lang): [e["comment"] or "" for e in events],
            }), hide_index=True, width="stretch")
