"""Today: what needs this user now. Each register adds its card here."""
from datetime import datetime

import streamlit as st
from chinese_calendar import Holiday, get_holiday_detail, is_workday

from kefu import auth, customers, tickets
from kefu.errors import KefuError
from kefu.workflow import load_workflow
from kefu.store import Query
from kefu.ui import context
from kefu.ui.text import plain
from kefu.ui.ticket import superior_line
from kefu.ui.visits import presence_board



def render() -> None:
    user = context.require_view("home")
    store, tr, lang = context.store(), context.tr, context.lang()
    today = datetime.now(store.settings.tz).date()
    st.title(tr("home.greeting", name=plain(user.display_name)))
    st.caption(day_line(today, lang))
    shown = roster_card(store, user, today, lang)
    shown = escalations_card(store, user, lang) or shown
    shown = tickets_card(store, user, lang) or shown
    shown = follow_up_card(store, user, lang) or shown
    shown = approval_card(store, user, lang) or shown
    shown = survey_alert_card(store, user, lang) or shown
    shown = full_survey_card(store, user, lang) or shown
    shown = care_card(store, user, lang) or shown
    visitors = store.sheets.get("visitors")
    if visitors is not None and auth.can(user, visitors, "read"):
        presence_board(store, user, lang, key="home")
        shown = True
    if not shown:
        st.info(tr("home.nothing"), icon=":material/check_circle:")


def day_line(today, lang: str) -> str:
    """Today's date and weekday, and whether it is a public holiday or a make-up working day."""
    line = context.tr("home.today", date=f"{today.isoformat()} {context.tr(f'day.{today.weekday()}')}")
    try:
        holiday, name = get_holiday_detail(today)
        if holiday and name:
            chinese = {h.value: h.chinese for h in Holiday}
            line += f" · {chinese.get(name, name) if lang == 'zh' else name}"
        elif today.weekday() >= 5 and is_workday(today):
            line += " · " + context.tr("home.makeup_day")
    except NotImplementedError:
        pass                                   # a year the holiday calendar does not know yet
    return line


def roster_card(store, user, today, lang: str) -> bool:
    roster = store.sheets.get("roster")
    if roster is None or not auth.can(user, roster, "read"):
        return False
    tr = context.tr
    shift = roster.by_name["shift"]
    day = (today.isoformat(), today.isoformat())
    mine = store.query("roster", user, Query(filters={"duty_date": day, "staff": user.id}, page_size=5)).rows
    if user.role in ("staff", "supervisor"):
        st.markdown(tr("home.my_shift", shift=shift.choice_label(mine[0]["shift"], lang)) if mine
                    else tr("home.no_shift"))
    if user.role in ("supervisor", "manager", "gm"):
        rows = store.query("roster", user, Query(filters={"duty_date": day}, page_size=200)).rows
        names = store.user_names()
        with st.expander(tr("home.on_duty") + f" · {sum(1 for r in rows if r['shift'] != 'rest')}"):
            if not rows:
                st.caption(tr("home.nobody_on_duty"))
            for choice in shift.choices:
                people = [names.get(r["staff"], "?") for r in rows if r["shift"] == choice["value"]]
                if people:
                    st.markdown(f"**{shift.choice_label(choice['value'], lang)}**: {'、'.join(plain(p) for p in people)}")
    return True


def follow_up_card(store, user, lang: str) -> bool:
    """The archive keeper's follow-ups due in the next 7 days (and overdue ones)."""
    if "customers" not in store.sheets:
        return False
    due = customers.follow_ups_due(store, user)
    if not due:
        return False
    tr = context.tr
    today = datetime.now(store.settings.tz).date().isoformat()
    upcoming = [d for d in due if d["next_follow_up"] >= today]
    overdue = [d for d in due if d["next_follow_up"] < today]
    with st.container(border=True, key="home_follow_ups"):
        st.subheader(f":material/event_upcoming: {tr('cust.follow_ups')} · {len(upcoming)}", anchor=False)
        if not upcoming:
            st.caption(tr("cust.follow_ups_none"))
        for item in upcoming[:10]:
            st.markdown(tr("cust.follow_up_line", date=item["next_follow_up"], customer=plain(item["customer_name"]),
                           summary=plain((item["summary"] or "")[:40])))
        if overdue:
            with st.expander(f":red[{tr('cust.overdue', count=len(overdue))}]"):
                for item in overdue[:20]:
                    st.markdown(tr("cust.follow_up_line", date=item["next_follow_up"],
                                   customer=plain(item["customer_name"]), summary=plain((item["summary"] or "")[:40])))
    return True


def approval_card(store, user, lang: str) -> bool:
    """For the approvers: how many archives wait for approval."""
    sheet = store.sheets.get("customers")
    if sheet is None or sheet.approval is None or user.role not in sheet.approval.roles:
        return False
    waiting = store.query("customers", user, Query(filters={"status": "draft"}, page_size=5))
    with st.container(border=True, key="home_approvals"):
        st.subheader(f":material/pending_actions: {context.tr('cust.pending')} · {waiting.total}", anchor=False)
        if not waiting.total:
            st.caption(context.tr("cust.pending_none"))
        for row in waiting.rows:
            st.markdown(f"{plain(row['code'])} · {plain(row['name'])}")
    return True


def tickets_card(store, user, lang: str) -> bool:
    """What waits in the ticket log: the user's own open tickets (an engineer's: those transferred to them),
    the office's overdue and due-soon ones, the follow-up calls to make."""
    sheet = store.sheets.get("tickets")
    if sheet is None or not auth.can(user, sheet, "read"):
        return False
    engineer = user.role == tickets.ENGINEER_ROLE          # their own list: the tickets transferred to them
    counts = {name: store.query("tickets", user, tickets.queue(name, user, tz=store.settings.tz, store=store)).total
              for name in ("engineer" if engineer else "mine", "overdue", "due_soon", "follow_up")}
    counts["mine"] = counts.pop("engineer", counts.get("mine"))
    with st.container(border=True, key="home_tickets"):
        st.subheader(f":material/support_agent: {context.tr('tk.home_title')}", anchor=False)
        st.markdown(context.tr("tk.home_line_engineer" if engineer else "tk.home_line", **counts))
    return True


def escalations_card(store, user, lang: str) -> bool:
    """For the department manager: escalated tickets (big claims, group complaints, emergencies) stay
    here until signed for."""
    flow = load_workflow()
    if "tickets" not in store.sheets or not flow.may("acknowledge", user.role) or user.role == "system":
        return False
    waiting = store.query("tickets", user, tickets.queue("escalations", user, flow=flow))
    if not waiting.total:
        return False
    tr, names = context.tr, store.user_names()
    kind = store.sheet("tickets").by_name["kind"]
    with st.container(border=True, key="home_escalations"):
        st.subheader(f":red[:material/priority_high:] {tr('tk.home_escalations')} · {waiting.total}", anchor=False)
        for row in waiting.rows[:20]:
            line, button = st.columns([5, 1], vertical_alignment="center")
            line.markdown(tr("tk.home_escalation_line", number=plain(row["ticket_no"]), kind=kind.choice_label(row["kind"], lang),
                             subject=plain(row["subject"]), when=(row["created_at"] or "")[:16].replace("T", " "),
                             who=plain(names.get(row["first_responder"], "—")))
                          + "  \n" + superior_line(store, row, names, lang))
            if button.button(tr("tk.acknowledge"), key=f"home_ack_{row['id']}"):
                try:
                    tickets.acknowledge(store, user, row["id"], flow=flow, lang=lang)
                    st.rerun()
                except KefuError as exc:
                    st.error(plain(exc.message(lang)))
    return True


def care_card(store, user, lang: str) -> bool:
    """Customer care (客户关怀): the members' birthdays, membership anniversaries and renewals, and the
    public holidays, in the next days; "greeted" records it in the relationship log and the line goes."""
    from kefu import club
    members = store.sheets.get("members")
    if members is None or not auth.can(user, members, "read"):
        return False
    rules = club.rules_for(store)
    items = club.care_list(store, user, lang=lang, rules=rules)
    may_greet = auth.can(user, store.sheet("relationship_log"), "create")
    tr = context.tr
    with st.container(border=True, key="home_care"):
        st.subheader(f":material/cake: {tr('club.care_title', days=rules.care_days)} · "
                     f"{sum(1 for i in items if i['occasion'] != 'holiday')}", anchor=False)
        if not any(i["occasion"] != "holiday" for i in items):
            st.caption(tr("club.care_none"))
        for item in items[:8]:
            _care_line(store, user, lang, item, may_greet)
        if len(items) > 8:                                    # a long week: the rest folded away
            with st.expander(tr("club.care_more", count=len(items[8:60]))):
                for item in items[8:60]:
                    _care_line(store, user, lang, item, may_greet)
    return True


def _care_line(store, user, lang: str, item: dict, may_greet: bool) -> None:
    from kefu import club
    tr = context.tr
    if item["occasion"] == "holiday":
        st.markdown(tr("club.care_holiday", date=item["date"], name=item["name"]))
        return
    line, button = st.columns([5, 1], vertical_alignment="center")
    line.markdown(tr(f"club.care_{item['occasion']}", date=item["date"], member=plain(item["member_no"]),
                     customer=plain(item["customer_name"]), years=item["years"]))
    if may_greet and button.button(tr("club.greet"), icon=":material/check:",
                                   key=f"home_greet_{item['occasion']}_{item['member_id']}"):
        try:
            club.greet(store, user, item["member_id"], item["occasion"], lang=lang)
            st.toast(tr("club.greeted"), icon=":material/check:")
            st.rerun()
        except KefuError as exc:
            st.error(plain(exc.message(lang)))


def survey_alert_card(store, user, lang: str) -> bool:
    """For those who plan corrective actions (纠正预防措施): each survey question whose average in the
    watched period (rules/club_surveys.toml) is at or below the threshold, with a form to record the action."""
    from kefu import surveys
    from kefu.sheets import ValidationError
    from kefu.ui.widgets import error_list
    found = surveys.alerts(store, user)
    if not found:
        return False
    tr, sheet = context.tr, store.sheet(surveys.SHEET)
    users = dict(store.active_users())
    with st.container(border=True, key="home_survey_alerts"):
        st.subheader(f":orange[:material/sentiment_dissatisfied:] {tr('sv.alert_title')}", anchor=False)
        for alert in found:
            st.markdown(tr("sv.alert_line", question=sheet.by_name[alert.question].label_in(lang),
                           average=alert.average, count=alert.count, period=alert.period, threshold=alert.threshold))
            with st.form(f"home_survey_action_{alert.question}", enter_to_submit=False):
                action = st.text_area(tr("sv.action"), max_chars=2000, key=f"home_sv_action_{alert.question}")
                left, right = st.columns(2)
                owner = left.selectbox(tr("sv.owner"), list(users), format_func=users.get,
                                       index=list(users).index(user.id) if user.id in users else None,
                                       key=f"home_sv_owner_{alert.question}")
                due = right.date_input(tr("sv.due"), value=None, format="YYYY-MM-DD",
                                       key=f"home_sv_due_{alert.question}")
                if st.form_submit_button(tr("sv.plan"), type="primary"):
                    try:
                        surveys.plan_action(store, user, alert, action=action, owner=owner, due=due)
                    except ValidationError as exc:
                        error_list(tr("sheet.fix_errors"), exc.messages(lang))
                    else:
                        st.toast(tr("sv.planned"), icon=":material/check_circle:")
                        st.rerun()
    return True


def full_survey_card(store, user, lang: str) -> bool:
    """For those who record survey campaigns: no full satisfaction survey in the last months (000 每年至少
    进行一次全面的顾客满意度调查; rules/club_surveys.toml full_survey_months)."""
    from kefu import surveys
    due = surveys.full_survey_due(store, user)
    if due is None:
        return False
    tr = context.tr
    with st.container(border=True, key="home_full_survey"):
        st.subheader(f":orange[:material/campaign:] {tr('sv.full_due_title')}", anchor=False)
        st.markdown(tr("sv.full_due_line", months=due.months, since=due.since.isoformat()))
        if due.last:
            st.caption(tr("sv.full_due_last", title=plain(due.last["title"]), start=due.last["started_on"],
                          last=due.last["ended_on"] or "—"))
        else:
            st.caption(tr("sv.full_due_never"))
        if due.planned:
            st.caption(tr("sv.full_due_planned", title=plain(due.planned["title"]), start=due.planned["started_on"]))
        st.caption(tr("sv.full_due_hint", register=store.sheet(surveys.CAMPAIGNS).label_in(lang)))
    return True
