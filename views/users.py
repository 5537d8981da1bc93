"""Users (用户管理, administrator): who may log in, with which role; add a user, change a role, disable or
enable, set a new password, log out everywhere. A change that would leave the office without an active
administrator is not offered (and kefu.auth refuses it)."""
import time
from datetime import datetime

import pandas as pd
import streamlit as st

from kefu import auth
from kefu.errors import KefuError
from kefu.sheets import ROLES, ValidationError
from kefu.ui import context
from kefu.ui.text import plain
from kefu.ui.widgets import error_list

DONE = "adm_users_done"              # what the last change did, said once after the redraw
NEW_USER_KEYS = ("adm_new_username", "adm_new_display_name", "adm_new_role", "adm_new_password")


def render() -> None:
    admin = context.screen("users", "users.title", "adm.users_intro")
    store = context.store()
    done = st.session_state.pop(DONE, None)
    if done:
        st.success(done, icon=":material/check_circle:")
    rows = auth.list_users(store)
    st.dataframe(users_frame(store, rows), hide_index=True, width="stretch")
    manage(store, admin, {r["id"]: r for r in rows})
    add_user(store, admin)


def users_frame(store, rows: list[dict]) -> pd.DataFrame:
    tr = context.tr
    names = {r["id"]: r["display_name"] for r in rows}
    return pd.DataFrame({
        tr("app.username"): [r["username"] for r in rows],
        tr("app.display_name"): [r["display_name"] for r in rows],
        tr("users.role"): [tr("role." + r["role"]) for r in rows],
        tr("users.superior"): [names.get(r["superior"], "") for r in rows],
        tr("adm.status"): [status(store, r) for r in rows],
        tr("adm.sessions"): [r["sessions"] for r in rows],
        tr("users.last_login"): [(r["last_login_at"] or "")[:16].replace("T", " ") for r in rows],
    })


def role_labels() -> dict[str, str]:
    """Each role's name in this run's language (a widget may format its options after the run)."""
    return {role: context.tr("role." + role) for role in ROLES}


def status(store, row: dict) -> str:
    if not row["active"]:
        return context.tr("adm.status_disabled")
    locked = row["locked_until"]
    if locked and locked > time.time():
        until = datetime.fromtimestamp(locked, store.settings.tz).strftime("%H:%M")
        return context.tr("adm.status_locked", until=until)
    return context.tr("adm.status_active")


def manage(store, admin: auth.User, users: dict[int, dict]) -> None:
    tr = context.tr
    st.subheader(tr("adm.manage"))
    chosen = st.selectbox(tr("adm.pick_user"), list(users), index=None, key="adm_user",
                          placeholder=tr("adm.pick_placeholder"),
                          format_func=lambda i: f"{users[i]['display_name']} · {users[i]['username']}")
    if chosen is None:
        return
    target = users[chosen]
    last = auth.is_last_admin(store, chosen)
    if last:
        st.info(tr("adm.last_admin_note", name=plain(target["display_name"])), icon=":material/shield_person:")
    boxes = st.columns(3)
    with boxes[0].container(border=True):
        role_box(store, admin, target, offered=not last)
        superior_box(store, admin, target, users)
    with boxes[1].container(border=True):
        status_box(store, admin, target, last=last, yourself=chosen == admin.id)
    with boxes[2].container(border=True):
        if chosen == admin.id:          # this very session would end: one's own password is changed knowing it
            st.markdown(f"**{tr('adm.reset_box')}**")
            st.caption(tr("adm.yourself"))
        else:
            password_box(store, admin, target)


def role_box(store, admin: auth.User, target: dict, *, offered: bool) -> None:
    tr = context.tr
    st.markdown(f"**{tr('adm.role_box')}**")
    if not offered:
        st.text(tr("role." + target["role"]))
        return
    role = st.selectbox(tr("users.role"), ROLES, index=ROLES.index(target["role"]), key=f"adm_role_{target['id']}",
                        format_func=role_labels().get, label_visibility="collapsed")
    if st.button(tr("adm.change_role"), key=f"adm_change_role_{target['id']}", disabled=role == target["role"]):
        apply(lambda: auth.change_role(store, target["id"], role, admin),
              tr("adm.role_done", name=plain(target["display_name"]), role=tr("role." + role)))


def superior_box(store, admin: auth.User, target: dict, users: dict[int, dict]) -> None:
    """The user's one superior (000 一个上级的原则), chosen among the other active users."""
    tr = context.tr
    st.markdown(f"**{tr('adm.superior_box')}**", help=tr("adm.superior_help"))
    options = [None] + [i for i, u in users.items() if u["active"] and i != target["id"]]
    current = target["superior"] if target["superior"] in options else None
    chosen = st.selectbox(tr("users.superior"), options, index=options.index(current),
                          key=f"adm_superior_{target['id']}", label_visibility="collapsed",
                          format_func=lambda i: tr("adm.superior_none") if i is None
                          else f"{users[i]['display_name']} · {tr('role.' + users[i]['role'])}")
    if st.button(tr("adm.set_superior"), key=f"adm_set_superior_{target['id']}",
                 disabled=chosen == target["superior"]):
        shown = tr("adm.superior_none") if chosen is None else users[chosen]["display_name"]
        apply(lambda: auth.set_superior(store, target["id"], chosen, admin),
              tr("adm.superior_done", name=plain(target["display_name"]), superior=plain(shown)))


def status_box(store, admin: auth.User, target: dict, *, last: bool, yourself: bool) -> None:
    tr = context.tr
    st.markdown(f"**{tr('adm.status_box')}**")
    name = plain(target["display_name"])
    if target["active"] and not last:
        if st.button(tr("adm.disable"), key=f"adm_disable_{target['id']}", icon=":material/person_off:",
                     help=tr("adm.disable_help")):
            apply(lambda: auth.set_active(store, target["id"], False, admin), tr("adm.disabled_done", name=name))
    elif not target["active"]:
        if st.button(tr("adm.enable"), key=f"adm_enable_{target['id']}", icon=":material/person_check:"):
            apply(lambda: auth.set_active(store, target["id"], True, admin), tr("adm.enabled_done", name=name))
    st.caption(tr("adm.live_sessions", count=target["sessions"]))
    if yourself:                        # would end this very session: the sidebar's logout does that
        return
    if st.button(tr("adm.end_sessions"), key=f"adm_end_sessions_{target['id']}", icon=":material/logout:",
                 help=tr("adm.end_sessions_help"), disabled=not target["sessions"]):
        apply(lambda: tr("adm.sessions_done", name=name, count=auth.end_sessions(store, target["id"], admin)))


def password_box(store, admin: auth.User, target: dict) -> None:
    tr = context.tr
    st.markdown(f"**{tr('adm.reset_box')}**")
    keys = (f"adm_reset_new_{target['id']}", f"adm_reset_again_{target['id']}")
    with st.form(f"adm_reset_{target['id']}", clear_on_submit=True, border=False):    # typed once, never shown again
        new = st.text_input(tr("account.new_password"), type="password", autocomplete="new-password", key=keys[0])
        again = st.text_input(tr("app.password_again"), type="password", autocomplete="new-password", key=keys[1])
        submitted = st.form_submit_button(tr("adm.reset_button"), help=tr("adm.reset_help"))
    if submitted:
        if new != again:
            st.error(tr("auth.password_mismatch"))
            return
        apply(lambda: auth.reset_password(store, target["id"], new, admin),
              tr("adm.reset_done", name=plain(target["display_name"])), forget=keys)


def apply(change, done: str | None = None, *, forget: tuple = ()) -> None:
    """Make one change; on success empty the `forget` widgets and redraw with `done` (or what the change
    returns) said above the list; else say why not, here (what was typed stays)."""
    try:
        result = change()
    except ValidationError as exc:
        error_list(context.tr("sheet.fix_errors"), exc.messages(context.lang()))
        return
    except KefuError as exc:
        st.error(plain(exc.message(context.lang())), icon=":material/block:")
        return
    for key in forget:
        st.session_state.pop(key, None)
    st.session_state[DONE] = done or result
    st.rerun()


def add_user(store, admin: auth.User) -> None:
    tr = context.tr
    st.subheader(tr("users.add"))
    with st.form("add_user"):
        columns = st.columns(2)
        username = columns[0].text_input(tr("app.username"), key=NEW_USER_KEYS[0])
        display_name = columns[1].text_input(tr("app.display_name"), key=NEW_USER_KEYS[1])
        role = columns[0].selectbox(tr("users.role"), ROLES, format_func=role_labels().get, key=NEW_USER_KEYS[2])
        password = columns[1].text_input(tr("app.password"), type="password", autocomplete="new-password",
                                         key=NEW_USER_KEYS[3])
        submitted = st.form_submit_button(tr("users.add"), type="primary")
    if submitted:
        apply(lambda: auth.create_user(store, username, display_name, role, password, admin),
              tr("users.added", name=plain(username.strip())), forget=NEW_USER_KEYS)
