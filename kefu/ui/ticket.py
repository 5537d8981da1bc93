"""The ticket screens' parts: intake built for a phone call (caller found by phone, knowledge-base
suggestions as the subject is typed), the work lists, a ticket's workflow panel (state, due times, the
steps the role may take now, what each step records) with the manager's acts, and the spot check."""
from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import streamlit as st

from kefu import knowledge, tickets
from kefu.errors import KefuError
from kefu.i18n import t
from kefu.sheets import ValidationError
from kefu.store import Query
from kefu.ui.detail import record_detail
from kefu.ui.form import draft_value, record_form
from kefu.ui.grid import sheet_grid
from kefu.ui.text import plain
from kefu.ui.widgets import error_list
from kefu.workflow import load_workflow


def _clock(value: str | None) -> str:
    return value[:16].replace("T", " ") if value else "—"


def _fail(exc: Exception, lang: str) -> None:
    if isinstance(exc, ValidationError):
        error_list(t("sheet.fix_errors", lang), exc.messages(lang))
    else:
        st.error(plain(exc.message(lang)))


# ------------------------------------------------------------------------------------------- intake

def intake_panel(store, actor, lang: str, *, key: str) -> None:
    """The call form on the left; on the right what the phone number and the subject bring up."""
    sheet = store.sheet(tickets.SHEET)
    made = st.session_state.pop(f"{key}__made", None)
    if made:
        st.success(t("tk.logged", lang, number=plain(made)), icon=":material/check_circle:")
    form, aside = st.columns([3, 2], gap="large")
    with form:
        row_id = _intake_form(store, sheet, actor, lang, key)
    if row_id is not None:
        st.session_state[f"{key}__made"] = store.get(tickets.SHEET, row_id, actor)["ticket_no"]
        st.rerun()
    with aside:
        caller_card(store, actor, lang, draft_value(key, "caller_phone"))
        suggestions(store, actor, lang, draft_value(key, "subject"), draft_value(key, "category"))


def _intake_form(store, sheet, actor, lang: str, key: str):
    return record_form(                                       # the engine sets the readonly fields
        store, sheet, actor, lang, key=key, live=True, submit_label=t("tk.log_it", lang),
                       save=lambda values: tickets.intake(store, actor, values))


def caller_card(store, actor, lang: str, phone: str | None) -> None:
    with st.container(border=True):
        st.markdown(f"**:material/call: {t('tk.caller', lang)}**")
        if not phone:
            st.caption(t("tk.caller_hint", lang))
            return
        caller = tickets.lookup(store, actor, phone)
        if caller is None:
            st.caption(t("tk.caller_bad_phone", lang))
            return
        if caller.customer:
            st.markdown(t("tk.caller_customer", lang, code=plain(caller.customer["code"]), name=plain(caller.customer["name"])))
        elif caller.customer_id:
            st.markdown(t("tk.caller_hidden", lang, keeper=plain(caller.keeper)))
        else:
            st.caption(t("tk.caller_unknown", lang))
        if caller.recent:
            flow = load_workflow()
            kind = store.sheet(tickets.SHEET).by_name["kind"]
            st.caption(t("tk.caller_recent", lang, count=len(caller.recent)))
            st.dataframe(pd.DataFrame({
                t("tk.number", lang): [r["ticket_no"] for r in caller.recent],
                t("tk.when", lang): [_clock(r["created_at"]) for r in caller.recent],
                kind.label_in(lang): [kind.choice_label(r["kind"], lang) for r in caller.recent],
                t("tk.subject", lang): [r["subject"] for r in caller.recent],
                t("tk.state", lang): [flow.state_label(r["state"], lang) for r in caller.recent],
            }), hide_index=True, width="stretch")
        else:
            st.caption(t("tk.caller_no_tickets", lang))


def suggestions(store, actor, lang: str, subject: str | None, category: str | None) -> None:
    with st.container(border=True):
        st.markdown(f"**:material/menu_book: {t('kb.suggested', lang)}**")
        found = knowledge.suggest(store, actor, subject or "", category=category) if subject else []
        if not subject:
            st.caption(t("kb.hint", lang))
        elif not found:
            st.caption(t("kb.none", lang))
        for article in found:
            with st.expander(plain(article["question"])):
                st.markdown(plain(article["answer"]))


# ------------------------------------------------------------------------------------------- lists

def work_lists(store, actor, lang: str, *, key: str) -> int | None:
    """The lists that say what to do next; returns the ticket chosen in one."""
    flow = load_workflow()
    names = (["engineer"] if actor.role == tickets.ENGINEER_ROLE else ["mine"]) + [
        "open", "overdue", "due_soon", "follow_up"] + (["escalations"] if flow.may("acknowledge", actor.role) else [])
    queries = {name: tickets.queue(name, actor, flow=flow, tz=store.settings.tz, store=store) for name in names}
    counts = {name: store.query(tickets.SHEET, actor, Query(filters=q.filters, page_size=1)).total
              for name, q in queries.items()}
    chosen = st.segmented_control(t("tk.lists", lang), names, default=names[0], key=f"{key}__which", required=True,
                                  format_func=lambda n: f"{t('tk.list_' + n, lang)} · {counts[n]}")
    st.caption(t("tk.list_help_" + chosen, lang))
    return sheet_grid(store, store.sheet(tickets.SHEET), actor, lang, key=f"{key}__{chosen}", query=queries[chosen])


# ------------------------------------------------------------------------------------------- one ticket

def ticket_panel(store, actor, lang: str, ticket_id: int, *, key: str) -> None:
    """Everything about one ticket: the workflow panel, the manager's acts, the record itself."""
    sheet = store.sheet(tickets.SHEET)
    workflow_panel(store, actor, lang, ticket_id, key=key)
    record_detail(store, sheet, actor, lang, ticket_id, key=f"{key}__detail",
                  update=lambda row_id, changes, version: tickets.edit(store, actor, row_id, changes,
                                                                      expected_version=version))


def workflow_panel(store, actor, lang: str, ticket_id: int, *, key: str) -> None:
    flow = load_workflow()
    try:
        ticket = store.get(tickets.SHEET, ticket_id, actor)
    except KefuError as exc:
        st.warning(plain(exc.message(lang)))
        return
    with st.container(border=True):
        now = datetime.now(store.settings.tz).isoformat()
        badges = [f":blue-badge[{flow.state_label(ticket['state'], lang)}]"]
        if ticket["escalated"]:
            badges.append(f":red-badge[:material/priority_high: {t('tk.escalated', lang)}]")
        if ticket["state"] in flow.paused_states:
            badges.append(f":gray-badge[:material/pause: {t('tk.paused', lang)}]")
        elif ticket["state"] in flow.open_states and (ticket["resolution_due"] or "z") < now:
            badges.append(f":orange-badge[{t('tk.overdue', lang)}]")
        if ticket["satisfaction"]:
            badges.append(f":green-badge[{'★' * ticket['satisfaction']}]")
        st.markdown(f"### {plain(ticket['ticket_no'])} " + " ".join(badges))
        names = store.user_names()
        if ticket["escalated"]:
            st.caption(superior_line(store, ticket, names, lang))
        st.caption(t("tk.due", lang, response=_clock(ticket["response_due"]), resolution=_clock(ticket["resolution_due"]))
                   + (" · " + t("tk.acknowledged", lang, who=names.get(ticket["acknowledged_by"], "—"),
                                when=_clock(ticket["acknowledged_at"])) if ticket["acknowledged_at"] else ""))
        if ticket["escalated"] and not ticket["acknowledged_at"] and flow.may("acknowledge", actor.role):
            if st.button(t("tk.acknowledge", lang), key=f"{key}__ack_{ticket_id}", icon=":material/approval:"):
                _act(lambda: tickets.acknowledge(store, actor, ticket_id, flow=flow, lang=lang), lang,
                     t("tk.acknowledge", lang))
        _steps(store, actor, lang, ticket, flow, key)
        if ticket["engineer"]:
            st.caption(t("tk.engineer_line", lang, who=plain(names.get(ticket["engineer"], "—"))))
        _coordination(store, actor, lang, ticket, flow, key)
        if ticket["kind"] == "complaint" and flow.may("attribute_fault", actor.role):
            _fault(store, actor, lang, ticket, key)
        elif ticket["fault_staff"]:
            st.caption(t("tk.fault_line", lang, who=plain(names.get(ticket["fault_staff"], "—")),
                         reason=plain(ticket["fault_reason"])))
        if ticket["state"] in knowledge.RESOLVED and flow.may("knowledge", actor.role):
            _to_knowledge(store, actor, lang, ticket, key)
        _timeline(store, actor, lang, ticket_id, flow)


def _act(action, lang: str, done_label: str) -> None:
    try:
        action()
    except (ValidationError, KefuError) as exc:
        _fail(exc, lang)
        return
    st.toast(t("tk.done", lang, step=done_label), icon=":material/check:")
    st.rerun()


def _steps(store, actor, lang: str, ticket: dict, flow, key: str) -> None:
    steps = flow.available(ticket["state"], actor.role, ticket)
    if not steps:
        st.caption(t("tk.no_steps", lang))
        return
    ticket_id, version = ticket["id"], ticket["version"]
    base = f"{key}__step_{ticket_id}_{version}"
    chosen = st.segmented_control(t("tk.steps", lang), [s.name for s in steps], default=steps[0].name,
                                  format_func=lambda n: flow.transitions[n].label_in(lang), required=True,
                                  key=f"{base}__which")
    transition = flow.transitions[chosen]
    values = {}
    if "assignee" in transition.needs:
        users = dict(store.active_users())
        values["assignee"] = st.selectbox(t("tk.assign_to", lang), list(users), index=None,
                                          format_func=lambda u: users.get(u, f"#{u}"), placeholder="",
                                          key=f"{base}__assignee")
    if "engineer" in transition.needs:
        found = dict(tickets.engineers(store))
        if not found:
            st.info(t("tk.no_engineers", lang), icon=":material/engineering:")
        values["engineer"] = st.selectbox(t("tk.transfer_to", lang), list(found), index=None,
                                          format_func=lambda u: found.get(u, f"#{u}"), placeholder="",
                                          key=f"{base}__engineer")
    if "satisfaction" in transition.needs:
        st.caption(t("tk.satisfaction_ask", lang))
        score = st.feedback("stars", key=f"{base}__stars")
        values["satisfaction"] = None if score is None else score + 1
    comment = st.text_input(t("tk.call_notes" if "satisfaction" in transition.needs else "tk.comment", lang),
                            max_chars=1000, key=f"{base}__comment")
    if st.button(transition.label_in(lang), type="primary", key=f"{base}__go"):
        _act(lambda: tickets.step(store, actor, ticket_id, chosen, comment=comment, values=values,
                                  expected_version=version, flow=flow, lang=lang), lang, transition.label_in(lang))


def superior_line(store, ticket: dict, names: dict, lang: str) -> str:
    """An escalated ticket's handler and their one superior (000 一个上级的原则), as text."""
    handler = plain(names.get(ticket.get("assignee") or ticket.get("first_responder"), "—"))
    superior = tickets.handler_superior(store, ticket)
    if superior is None:
        return t("tk.escalated_no_superior", lang, handler=handler)
    return t("tk.escalated_superior", lang, handler=handler, superior=plain(superior.display_name))


def _coordination(store, actor, lang: str, ticket: dict, flow, key: str) -> None:
    """The ticket's requests to departments with their answers; a role that may coordinate sends a request
    or records an answer (000: 报请公司生产处协同处理)."""
    asked = tickets.coordinations(store, actor, ticket["id"])
    names = store.user_names()
    for item in asked:
        department = flow.department_label(item.department, lang)
        if item.answered_at:
            st.caption(":material/forum: " + plain(t("tk.coord_answered", lang, department=department,
                                                      when=_clock(item.answered_at), answer=item.answer or "")))
        else:
            st.caption(":material/hourglass_top: " + plain(t("tk.coord_waiting", lang, department=department,
                                                               when=_clock(item.asked_at))))
    if not flow.may("coordinate", actor.role) or not flow.departments:
        return
    waiting = [c.department for c in asked if not c.answered_at]
    with st.expander(t("tk.coordination", lang), icon=":material/groups:"):
        st.caption(t("tk.coordination_help", lang))
        values = [d["value"] for d in flow.departments]
        with st.form(f"{key}__coord_{ticket['id']}"):
            department = st.selectbox(t("tk.coord_department", lang), values, index=None, placeholder="",
                                      format_func=lambda v: flow.department_label(v, lang))
            question = st.text_area(t("tk.coord_question", lang), max_chars=1000, height=80)
            ask = st.form_submit_button(t("tk.coord_ask", lang), icon=":material/send:")
        if ask:
            _act(lambda: tickets.coordinate(store, actor, ticket["id"], department, question, flow=flow, lang=lang),
                 lang, t("tk.coord_ask", lang))
        if waiting:
            with st.form(f"{key}__coord_answer_{ticket['id']}"):
                which = st.selectbox(t("tk.coord_department", lang), list(dict.fromkeys(waiting)),
                                     format_func=lambda v: flow.department_label(v, lang))
                answer = st.text_area(t("tk.coord_answer", lang), max_chars=1000, height=80)
                record = st.form_submit_button(t("tk.coord_record", lang), icon=":material/check:")
            if record:
                _act(lambda: tickets.coordination_answer(store, actor, ticket["id"], which, answer, flow=flow,
                                                         lang=lang), lang, t("tk.coord_record", lang))


def _fault(store, actor, lang: str, ticket: dict, key: str) -> None:
    names = store.user_names()
    if ticket["fault_staff"]:
        st.caption(t("tk.fault_line", lang, who=plain(names.get(ticket["fault_staff"], "—")),
                     reason=plain(ticket["fault_reason"])))
        return
    with st.expander(t("tk.fault", lang), icon=":material/gavel:"):
        st.caption(t("tk.fault_help", lang, fine=f"{tickets.fault_fine_fen() / 100:,.0f}"))
        with st.form(f"{key}__fault_{ticket['id']}_{ticket['version']}"):
            users = dict(store.active_users())
            staff = st.selectbox(t("tk.fault_who", lang), list(users), index=None,
                                 format_func=lambda u: users.get(u, f"#{u}"), placeholder="")
            reason = st.text_area(t("tk.fault_reason", lang), max_chars=500, height=80)
            go = st.form_submit_button(t("tk.fault_save", lang))
        if go:
            _act(lambda: tickets.attribute_fault(store, actor, ticket["id"], staff, reason,
                                                 expected_version=ticket["version"], lang=lang), lang, t("tk.fault", lang))


def _to_knowledge(store, actor, lang: str, ticket: dict, key: str) -> None:
    with st.expander(t("kb.from_ticket", lang), icon=":material/menu_book:"):
        kind = store.sheet(knowledge.SHEET).by_name["kind"]
        with st.form(f"{key}__kb_{ticket['id']}"):
            question = st.text_input(t("kb.question", lang), value=ticket["subject"], max_chars=200)
            answer = st.text_area(t("kb.answer", lang), max_chars=5000)
            which = st.radio(kind.label_in(lang), [c["value"] for c in kind.choices], horizontal=True, index=1,
                             format_func=lambda v: kind.choice_label(v, lang))
            go = st.form_submit_button(t("kb.save", lang))
        if go:
            _act(lambda: knowledge.from_ticket(store, actor, ticket["id"], question=question, answer=answer,
                                               kind=which, lang=lang), lang, t("kb.from_ticket", lang))


def _timeline(store, actor, lang: str, ticket_id: int, flow) -> None:
    events = store.query(tickets.EVENTS, actor, Query(filters={"ticket": ticket_id}, page_size=200)).rows
    if not events:
        return
    names = store.user_names()
    st.markdown(f"**{t('tk.timeline', lang)}**")
    st.dataframe(pd.DataFrame({
        t("audit.when", lang): [_clock(e["created_at"]) for e in events],
        t("audit.who", lang): [names.get(e["created_by"], "—") for e in events],
        t("tk.step", lang): [flow.transitions[e["step"]].label_in(lang) if e["step"] in flow.transitions
                             else t("tk.step_coordinate" if e["step"] == tickets.COORDINATE else "act." + e["step"], lang)
                             for e in events],
        t("tk.state", lang): [flow.state_label(e["to_state"], lang) for e in events],
        t("tk.comment", lang): [" · ".join(x for x in (
            names.get(e["engineer"], "—") if e.get("engineer") else "",
            flow.department_label(e["department"], lang) if e.get("department") else "",
            e["comment"] or "") if x) for e in events],
    }), hide_index=True, width="stretch")


# ------------------------------------------------------------------------------------------- spot check

def spot_check_panel(store, actor, lang: str, *, key: str) -> None:
    """The supervisor's weekly sample of closed tickets per staff member, passed or failed in a table."""
    today = datetime.now(store.settings.tz).date()
    picked = st.columns([1, 3])[0].date_input(t("sc.week", lang), value=tickets.week_of(today) - timedelta(days=7),
                                              max_value=today, key=f"{key}__week")
    week = tickets.week_of(picked)
    st.caption(t("sc.help", lang, start=week.isoformat(), end=(week + timedelta(days=6)).isoformat(),
                 count=load_workflow().spot_check_per_staff))
    sample = tickets.spot_sample(store, actor, week)
    if not sample:
        st.info(t("sc.empty", lang), icon=":material/inbox:")
        return
    names = store.user_names()
    result = store.sheet(tickets.CHECKS).by_name["result"]
    labels = {c["value"]: result.choice_label(c["value"], lang) for c in result.choices}
    cols = {"staff": t("sc.staff", lang), "no": t("tk.number", lang), "subject": t("tk.subject", lang),
            "stars": t("sc.satisfaction", lang), "result": t("sc.result", lang), "note": t("sc.note", lang)}
    frame = pd.DataFrame({
        cols["staff"]: [names.get(r["assignee"], "—") for r in sample],
        cols["no"]: [r["ticket_no"] for r in sample],
        cols["subject"]: [r["subject"] for r in sample],
        cols["stars"]: ["★" * (r["satisfaction"] or 0) for r in sample],
        cols["result"]: [labels[r["check"]["result"]] if r["check"] else None for r in sample],
        cols["note"]: [(r["check"] or {}).get("note") or "" for r in sample],
    })
    edited = st.data_editor(frame, hide_index=True, width="stretch", key=f"{key}__editor_{week}",
                            disabled=[cols["staff"], cols["no"], cols["subject"], cols["stars"]],
                            column_config={cols["result"]: st.column_config.SelectboxColumn(options=list(labels.values())),
                                           cols["note"]: st.column_config.TextColumn(max_chars=500)})
    done = sum(1 for r in sample if r["check"])
    st.caption(t("sc.progress", lang, done=done, total=len(sample)))
    if st.button(t("sc.save", lang), type="primary", key=f"{key}__save"):
        value_of = {v: k for k, v in labels.items()}
        saved = 0
        for row, (_, line) in zip(sample, edited.iterrows()):
            result, note = _cell(line[cols["result"]]), _cell(line[cols["note"]])
            if row["check"] or result not in value_of:       # already checked, or left blank
                continue
            try:
                tickets.record_check(store, actor, row["id"], value_of[result], note)
                saved += 1
            except (ValidationError, KefuError) as exc:
                _fail(exc, lang)
                return
        st.toast(t("sc.saved", lang, count=saved), icon=":material/check:")
        st.rerun()


def _cell(value) -> str:
    """An edited grid cell as text: a blank cell comes back as None or NaN, depending on its column."""
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
