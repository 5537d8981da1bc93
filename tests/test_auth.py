"""Logins: hashed passwords, lockout, sliding sessions that survive a refresh, logout, first admin."""
import pytest

from kefu import auth
from kefu.errors import AuthError, PermissionDenied
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
