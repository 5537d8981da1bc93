"""Logins: hashed passwords, lockout, sliding sessions that survive a refresh, logout, first admin; the
administrator's changes to users (disable, role, new password, logging out everywhere, the last admin)."""
import json

import pytest

from kefu import auth
from kefu.errors import AuthError, LastAdmin, NotFound, PermissionDenied
from kefu.sheets import ValidationError

from conftest import PASSWORD


@pytest.fixture
def clock(monkeypatch):
    """Move auth's clock by hand: clock.now += seconds."""
    class Clock:
        now = 1_800_000_000.0
    monkeypatch.setattr(auth.time, "time", lambda: Clock.now)
    return Clock


def test_password_is_stored_as_an_argon2_hash(store, make_user):
    user = make_user("staff")
    stored = store.conn.execute("SELECT password_hash FROM kefu_users WHERE id = ?", (user.id,)).fetchone()[0]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_login_opens_a_session_that_a_refresh_can_restore(store, make_user):
    user = make_user("staff")
    found, token = auth.login(store, user.username, PASSWORD)
    assert found.id == user.id
    assert auth.session_user(store, token).username == user.username
    hashed = store.conn.execute("SELECT token_hash FROM kefu_sessions").fetchone()[0]
    assert token not in hashed                                 # only the token's hash is kept


@pytest.mark.parametrize("username, password", [("nobody", PASSWORD), ("staff1", "wrong-password"),
                                                ("staff1", ""), ("", "")])
def test_bad_login_says_only_wrong_name_or_password(store, make_user, username, password):
    make_user("staff", "staff1")
    with pytest.raises(AuthError) as caught:
        auth.login(store, username, password)
    assert caught.value.code == "auth.bad_login"


def test_five_failures_lock_the_account_for_fifteen_minutes(store, make_user, clock):
    user = make_user("staff")
    for _ in range(4):
        with pytest.raises(AuthError) as caught:
            auth.login(store, user.username, "nope-nope")
        assert caught.value.code == "auth.bad_login"
    with pytest.raises(AuthError) as caught:
        auth.login(store, user.username, "nope-nope")
    assert caught.value.code == "auth.locked"
    clock.now += 14 * 60
    with pytest.raises(AuthError) as caught:
        auth.login(store, user.username, PASSWORD)                # even the right password waits
    assert caught.value.code == "auth.locked"
    clock.now += 2 * 60
    assert auth.login(store, user.username, PASSWORD)[0].id == user.id


def test_session_ends_after_eight_idle_hours_but_slides_with_use(store, make_user, clock):
    user = make_user("staff")
    _, token = auth.login(store, user.username, PASSWORD)
    clock.now += 7 * 3600
    assert auth.session_user(store, token) is not None          # used: extended by another 8 hours
    clock.now += 7 * 3600
    assert auth.session_user(store, token) is not None
    clock.now += 8 * 3600 + 1
    assert auth.session_user(store, token) is None


def test_logout_ends_the_session(store, make_user):
    user = make_user("staff")
    _, token = auth.login(store, user.username, PASSWORD)
    auth.logout(store, token)
    assert auth.session_user(store, token) is None
    actions = [r[0] for r in store.conn.execute("SELECT action FROM kefu_audit WHERE sheet = 'kefu_users' ORDER BY id")]
    assert actions[-2:] == ["login", "logout"]


def test_garbage_tokens_find_nobody(store):
    for token in (None, "", "x" * 5000, "' OR 1=1 --", 12345):
        assert auth.session_user(store, token) is None


def test_first_admin_only_on_an_empty_database(store):
    assert store.is_empty()
    auth.create_first_admin(store, "admin", "管理员", "long-enough-pw")
    assert not store.is_empty()
    with pytest.raises(PermissionDenied):
        auth.create_first_admin(store, "intruder", "X", "long-enough-pw")


@pytest.mark.parametrize("username, role, password, code", [
    ("a", "staff", "long-enough", "auth.bad_username"),
    ("li lei", "staff", "long-enough", "auth.bad_username"),
    ("lilei", "boss", "long-enough", "auth.bad_role"),
    ("lilei", "staff", "short", "auth.short_password"),
])
def test_bad_new_users_are_refused(store, username, role, password, code):
    with pytest.raises(ValidationError) as caught:
        auth.create_user(store, username, "", role, password, auth.SYSTEM)
    assert code in caught.value.by_field().values()


def test_only_an_admin_adds_users(store, make_user):
    staff = make_user("staff")
    with pytest.raises(PermissionDenied):
        auth.create_user(store, "newbie", "", "staff", "long-enough", staff)


def test_disabled_account_cannot_log_in_and_loses_its_sessions(store, make_user):
    user = make_user("staff")
    _, token = auth.login(store, user.username, PASSWORD)
    store.conn.execute("UPDATE kefu_users SET active = 0 WHERE id = ?", (user.id,))
    assert auth.session_user(store, token) is None
    with pytest.raises(AuthError) as caught:
        auth.login(store, user.username, PASSWORD)
    assert caught.value.code == "auth.disabled"


def test_change_password(store, make_user):
    user = make_user("staff")
    with pytest.raises(ValidationError):
        auth.change_password(store, user, "wrong", "another-long-one")
    auth.change_password(store, user, PASSWORD, "another-long-one")
    assert auth.login(store, user.username, "another-long-one")[0].id == user.id


# -- administration: disable / enable, role, new password, logging out everywhere, the last administrator --
def audit_rows(store, user_id: int) -> list[tuple]:
    return store.conn.execute("SELECT action, before, after FROM kefu_audit WHERE sheet = 'kefu_users' "
                              "AND row_id = ? ORDER BY id", (user_id,)).fetchall()


def test_disabling_a_user_ends_their_sessions_for_good(store, make_user):
    admin, staff = make_user("admin"), make_user("staff")
    _, first = auth.login(store, staff.username, PASSWORD)
    _, second = auth.login(store, staff.username, PASSWORD)
    auth.set_active(store, staff.id, False, admin)
    assert auth.session_user(store, first) is None and auth.session_user(store, second) is None
    with pytest.raises(AuthError) as caught:
        auth.login(store, staff.username, PASSWORD)
    assert caught.value.code == "auth.disabled"
    auth.set_active(store, staff.id, True, admin)
    assert auth.session_user(store, first) is None                   # enabling does not bring old sessions back
    assert auth.login(store, staff.username, PASSWORD)[0].id == staff.id
    actions = [(a, json.loads(b), json.loads(c)) for a, b, c in audit_rows(store, staff.id)
               if a in ("disable", "enable")]
    assert actions == [("disable", {"active": True}, {"active": False, "sessions_ended": 2}),
                       ("enable", {"active": False}, {"active": True})]


def test_the_last_active_admin_can_neither_be_disabled_nor_lose_the_role(store, make_user):
    admin = make_user("admin")
    for change in (lambda: auth.set_active(store, admin.id, False, admin),
                   lambda: auth.change_role(store, admin.id, "manager", auth.SYSTEM)):
        with pytest.raises(LastAdmin) as caught:
            change()
        assert caught.value.message("zh").startswith(f"{admin.display_name}是最后一位启用的系统管理员")
        assert "last active system administrator" in caught.value.message("en")
    assert auth.get_user(store, admin.id).active and auth.get_user(store, admin.id).role == "admin"
    assert auth.is_last_admin(store, admin.id)


def test_an_admin_who_cannot_log_in_does_not_count_as_the_other_admin(store, make_user):
    admin, other = make_user("admin"), make_user("admin")
    no_password = auth.create_user(store, "nologin", "", "admin", None, auth.SYSTEM)
    auth.set_active(store, other.id, False, admin)                    # one admin left who can log in
    assert auth.is_last_admin(store, admin.id) and not auth.is_last_admin(store, no_password)
    with pytest.raises(LastAdmin):
        auth.change_role(store, admin.id, "staff", admin)
    auth.set_active(store, other.id, True, admin)
    auth.change_role(store, admin.id, "staff", other)                  # now there is another one
    assert auth.get_user(store, admin.id).role == "staff"


def test_a_role_change_applies_to_the_running_session(store, make_user):
    admin, staff = make_user("admin"), make_user("staff")
    _, token = auth.login(store, staff.username, PASSWORD)
    auth.change_role(store, staff.id, "supervisor", admin)
    assert auth.session_user(store, token).role == "supervisor"
    with pytest.raises(ValidationError) as caught:
        auth.change_role(store, staff.id, "boss", admin)
    assert caught.value.by_field() == {"role": "auth.bad_role"}
    assert [(a, json.loads(b), json.loads(c)) for a, b, c in audit_rows(store, staff.id) if a == "role_changed"] == [
        ("role_changed", {"role": "staff"}, {"role": "supervisor"})]


def test_a_new_password_set_by_the_admin_lifts_a_lockout_and_logs_out(store, make_user):
    admin, staff = make_user("admin"), make_user("staff")
    _, token = auth.login(store, staff.username, PASSWORD)
    for _ in range(5):
        with pytest.raises(AuthError):
            auth.login(store, staff.username, "nope-nope")
    with pytest.raises(ValidationError) as caught:
        auth.reset_password(store, staff.id, "short", admin)
    assert caught.value.by_field() == {"password": "auth.short_password"}
    assert auth.session_user(store, token) is not None                 # a refused password changes nothing
    assert auth.reset_password(store, staff.id, "brand-new-secret", admin) == 1
    assert auth.session_user(store, token) is None
    assert auth.login(store, staff.username, "brand-new-secret")[0].id == staff.id      # no longer locked
    with pytest.raises(AuthError):
        auth.login(store, staff.username, PASSWORD)


def test_ending_all_sessions_of_a_user(store, make_user):
    admin, staff = make_user("admin"), make_user("staff")
    tokens = [auth.login(store, staff.username, PASSWORD)[1] for _ in range(3)]
    auth.logout(store, tokens[0])
    assert {u["username"]: u["sessions"] for u in auth.list_users(store)}[staff.username] == 2
    assert auth.end_sessions(store, staff.id, admin) == 2
    assert all(auth.session_user(store, t) is None for t in tokens)
    assert {u["username"]: u["sessions"] for u in auth.list_users(store)}[staff.username] == 0
    assert auth.login(store, staff.username, PASSWORD)                 # they may log in again
    assert json.loads(audit_rows(store, staff.id)[-2][2]) == {"sessions_ended": 2}


def test_no_password_or_hash_ever_reaches_the_audit(store, make_user):
    admin, staff = make_user("admin"), make_user("staff")
    auth.reset_password(store, staff.id, "brand-new-secret", admin)
    auth.set_active(store, staff.id, False, admin)
    auth.set_active(store, staff.id, True, admin)
    auth.change_role(store, staff.id, "finance", admin)
    auth.end_sessions(store, staff.id, admin)
    digest = store.conn.execute("SELECT password_hash FROM kefu_users WHERE id = ?", (staff.id,)).fetchone()[0]
    written = " ".join(str(v) for row in store.conn.execute("SELECT * FROM kefu_audit") for v in row)
    assert "brand-new-secret" not in written and PASSWORD not in written
    assert digest not in written and "$argon2" not in written
    assert [a for a, _, _ in audit_rows(store, staff.id)] == ["create", "password_reset", "disable", "enable",
                                                               "role_changed", "sessions_ended"]
    assert {r[0] for r in store.conn.execute("SELECT username FROM kefu_audit WHERE action != 'create'")} == {
        admin.username}


@pytest.mark.parametrize("role", ["staff", "supervisor", "manager", "gm", "finance"])
def test_only_an_active_admin_manages_users(store, make_user, role):
    actor, target = make_user(role), make_user("staff")
    changes = [lambda who: auth.set_active(store, target.id, False, who),
               lambda who: auth.change_role(store, target.id, "gm", who),
               lambda who: auth.reset_password(store, target.id, "brand-new-secret", who),
               lambda who: auth.end_sessions(store, target.id, who)]
    disabled_admin = make_user("admin")
    make_user("admin")
    auth.set_active(store, disabled_admin.id, False, auth.SYSTEM)
    for change in changes:
        for who in (actor, auth.get_user(store, disabled_admin.id), None):
            with pytest.raises(PermissionDenied):
                change(who)
    assert auth.get_user(store, target.id) == target
    assert [a for a, _, _ in audit_rows(store, target.id)] == ["create"]


def test_managing_a_user_who_does_not_exist(store, make_user):
    admin = make_user("admin")
    with pytest.raises(NotFound):
        auth.set_active(store, 999, False, admin)
    with pytest.raises(NotFound):
        auth.reset_password(store, 999, "brand-new-secret", admin)


def test_the_browser_trades_a_one_time_code_for_its_own_cookie_key(store, make_user, clock):
    user = make_user("staff")
    _, token = auth.login(store, user.username, PASSWORD)
    code = auth.handoff(store, token)
    cookie = auth.redeem_handoff(store, code)
    assert cookie and cookie not in (token, code)
    assert auth.session_user(store, cookie).id == user.id                   # a refresh restores from the cookie
    assert auth.redeem_handoff(store, code) is None                         # once only
    kept = store.conn.execute("SELECT token_hash, cookie_hash, handoff_hash FROM kefu_sessions").fetchone()
    assert cookie not in kept and token not in kept and kept[2] is None     # only hashes are kept
    auth.logout(store, token)                                               # the sidebar's logout
    assert auth.session_user(store, cookie) is None                         # ends the browser's key too


def test_a_one_time_code_is_refused_late_after_logout_or_for_a_disabled_user(store, make_user, clock):
    user = make_user("staff")
    _, token = auth.login(store, user.username, PASSWORD)
    late = auth.handoff(store, token)
    clock.now += auth.HANDOFF_SECONDS + 1
    assert auth.redeem_handoff(store, late) is None
    after_logout = auth.handoff(store, token)
    auth.logout(store, token)
    assert auth.redeem_handoff(store, after_logout) is None
    assert auth.handoff(store, token) is None                               # no code for an ended session
    _, token = auth.login(store, user.username, PASSWORD)
    code = auth.handoff(store, token)
    admin = make_user("admin")
    auth.set_active(store, user.id, False, admin)
    assert auth.redeem_handoff(store, code) is None
    for junk in (None, "", "x" * 500, 42):
        assert auth.redeem_handoff(store, junk) is None


def test_logging_out_with_the_cookie_key_ends_the_session(store, make_user):
    user = make_user("staff")
    _, token = auth.login(store, user.username, PASSWORD)
    cookie = auth.redeem_handoff(store, auth.handoff(store, token))
    auth.logout(store, cookie)                                              # kefu/web.py: a stale tab's logout
    assert auth.session_user(store, token) is None and auth.session_user(store, cookie) is None


def test_a_file_from_before_the_cookie_keys_gets_them_and_keeps_its_sessions(tmp_path):
    import sqlite3
    from kefu import config
    from kefu.sheets import load_sheets
    from kefu.store import Store
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE kefu_sessions (token_hash TEXT PRIMARY KEY, user_id INTEGER NOT NULL, "
                     "created_at REAL NOT NULL, last_seen_at REAL NOT NULL, expires_at REAL NOT NULL, ended_at REAL)")
        conn.execute("INSERT INTO kefu_sessions VALUES ('abc', 1, 0, 0, 0, NULL)")
    old = Store(path, load_sheets(), config.load())
    old.migrate()
    columns = {r[1] for r in old.conn.execute("PRAGMA table_info(kefu_sessions)")}
    assert {"cookie_hash", "handoff_hash", "handoff_expires"} <= columns
    assert old.conn.execute("SELECT token_hash FROM kefu_sessions").fetchall() == [("abc",)]
    old.close()
