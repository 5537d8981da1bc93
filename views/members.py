"""Member club (客户会): find a member, open the member's card (tier, points, earn/redeem, upgrade,
benefits and partner offers, points history, details), enrol a customer."""
import pandas as pd
import streamlit as st

from kefu import auth, club
from kefu.errors import KefuError
from kefu.i18n import t
from kefu.sheets import ValidationError
from kefu.ui import context
from kefu.ui.detail import record_detail
from kefu.ui.grid import sheet_grid
from kefu.ui.screen import new_record, open_screen
from kefu.ui.text import plain
from kefu.ui.widgets import error_list

KEY = "members"
OPEN = f"{KEY}__open"


def render() -> None:
    actor, store, sheet, lang = open_screen(club.MEMBERS)
    tr = context.tr
    rules = club.rules_for(store)
    can_create = auth.can(actor, sheet, "create")
    names = [tr("club.list")] + ([tr("club.new")] if can_create else [])
    tabs = dict(zip(names, st.tabs(names)))
    with tabs[tr("club.list")]:
        selected = sheet_grid(store, sheet, actor, lang, key=f"{KEY}__list")
        if selected is not None:
            st.session_state[OPEN] = selected
        if st.session_state.get(OPEN):
            member_card(store, actor, lang, st.session_state[OPEN], rules)
    if can_create:
        with tabs[tr("club.new")]:
            new_record(store, sheet, actor, lang, key=f"{KEY}__new",
                       prefill={"joined_on": club.today_in(store).isoformat(), "status": "active"},
                       save=lambda values: club.enrol(store, actor, values, rules=rules))


def member_card(store, actor, lang: str, member_id: int, rules) -> None:
    tr = context.tr
    try:
        member = store.get(club.MEMBERS, member_id, actor)
        points = club.balance(store, actor, member_id)
    except KefuError as exc:
        st.warning(plain(exc.message(lang)))
        return
    sheet = store.sheet(club.MEMBERS)
    tier = rules.tier(member["tier"])
    customer = store.titles("customers", [member["customer"]], actor).get(member["customer"], "")
    with st.container(border=True, key=f"{KEY}__card"):
        st.subheader(tr("club.card", number=plain(member["member_no"]), customer=plain(customer)), anchor=False)
        st.caption(tr("club.status_line", tier=tier.label_in(lang) if tier else member["tier"],
                      status=sheet.by_name["status"].choice_label(member["status"], lang), joined=member["joined_on"]))
        figures = st.columns(4)
        figures[0].metric(tr("club.balance"), points["balance"])
        figures[1].metric(tr("club.earned"), points["earned"])
        figures[2].metric(tr("club.redeemed"), points["redeemed"])
        figures[3].metric(tr("club.tier"), tier.label_in(lang) if tier else member["tier"])
        upgrade_line(store, actor, lang, member, rules, points["earned"])
        left, right = st.columns(2)
        with left:
            points_form(store, actor, lang, member)
        with right:
            benefits_list(store, actor, lang, member_id, rules)
        st.markdown(f"**{tr('club.ledger')}**")
        ledger_table(store, actor, lang, member_id)
    with st.expander(tr("club.details")):
        record_detail(store, sheet, actor, lang, member_id, key=f"{KEY}__detail")


def upgrade_line(store, actor, lang: str, member: dict, rules, earned: int) -> None:
    tr = context.tr
    suggestion = club.suggested_tier(store, actor, member["id"], rules)
    if suggestion is None:
        return
    st.info(tr("club.upgrade_due", tier=suggestion.label_in(lang), earned=earned, threshold=suggestion.points),
            icon=":material/upgrade:")
    if actor.role not in rules.upgrade_roles:
        st.caption(tr("club.upgrade_who"))
        return
    if st.button(tr("club.upgrade_apply", tier=suggestion.label_in(lang)), key=f"{KEY}__upgrade_{member['id']}",
                 type="primary"):
        try:
            club.apply_upgrade(store, actor, member["id"], rules, expected_version=member["version"])
            st.toast(tr("club.upgraded", tier=suggestion.label_in(lang)), icon=":material/upgrade:")
            st.rerun()
        except KefuError as exc:
            st.error(plain(exc.message(lang)))


def points_form(store, actor, lang: str, member: dict) -> None:
    tr = context.tr
    if not auth.can(actor, store.sheet(club.POINTS), "create"):
        return
    key = f"{KEY}__points_{member['id']}"
    done = st.session_state.pop(f"{key}__done", None)
    if done:
        st.success(done, icon=":material/check_circle:")
    with st.form(key, clear_on_submit=False, enter_to_submit=False):
        st.markdown(f"**{tr('club.points_form')}**")
        kind = st.radio(tr("club.kind"), ["earn", "redeem"], key=f"{key}__kind", horizontal=True,
                        format_func=lambda v: tr(f"club.kind_{v}"))
        amount = st.number_input(tr("club.points"), min_value=0, step=1, value=None, key=f"{key}__amount")
        reason = st.text_input(tr("club.reason"), max_chars=200, key=f"{key}__reason")
        submitted = st.form_submit_button(tr("club.book"), type="primary")
    if not submitted:
        return
    book = club.earn if kind == "earn" else club.redeem
    try:
        book(store, actor, member["id"], amount, reason)
    except ValidationError as exc:
        error_list(t("sheet.fix_errors", lang), exc.messages(lang))
        return
    except KefuError as exc:
        st.error(plain(exc.message(lang)), icon=":material/error:")
        return
    st.session_state[f"{key}__done"] = tr(f"club.booked_{kind}", points=int(amount))
    st.rerun()


def benefits_list(store, actor, lang: str, member_id: int, rules) -> None:
    tr = context.tr
    found = club.benefits(store, actor, member_id, club.today_in(store), rules)
    st.markdown(f"**{tr('club.benefits')}**")
    for benefit in found["benefits"]:
        st.markdown(f"- {benefit.get(lang) or benefit['en']}")
    st.markdown(f"**{tr('club.partner_offers')}**")
    if not found["partners"]:
        st.caption(tr("club.no_partners"))
    for partner in found["partners"]:
        st.markdown(tr("club.partner_line", name=plain(partner["name"]), benefit=plain(partner["benefit"]),
                       until=partner["valid_to"]))


def ledger_table(store, actor, lang: str, member_id: int) -> None:
    tr = context.tr
    page = club.ledger(store, actor, member_id, page_size=100)
    if not page.total:
        st.caption(tr("club.no_ledger"))
        return
    names = store.user_names()
    kind = store.sheet(club.POINTS).by_name["kind"]
    frame = pd.DataFrame({
        tr("club.col_date"): [r["booked_on"] for r in page.rows],
        tr("club.col_kind"): [kind.choice_label(r["kind"], lang) for r in page.rows],
        tr("club.col_points"): [r["points"] if r["kind"] == "earn" else -r["points"] for r in page.rows],
        tr("club.col_reason"): [r["reason"] for r in page.rows],
        tr("club.col_staff"): [names.get(r["created_by"], t("common.system", lang)) for r in page.rows],
    })
    st.dataframe(frame, hide_index=True, width="stretch", key=f"{KEY}__ledger_{member_id}")
