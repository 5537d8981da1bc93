"""Users, password hashing (argon2id), server-side sessions, lockout, roles and permission checks.

A session has two random keys, stored here only as their SHA-256, so a copy of the database does not
let anyone log in: the token the Streamlit session holds on the server, and the browser's cookie. The
cookie never passes through page script: after a login the page gets a one-time code, valid a minute, and
trades it with the server (kefu/web.py), whose answer sets the cookie HttpOnly. Sessions slide: each use
extends them by the idle limit; a session unused for longer is over.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from kefu.errors import AuthError, LastAdmin, NotFound, PermissionDenied
from kefu.sheets import ROLES, ValidationError, Problem

USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,31}")
SESSION_TOUCH_SECONDS = 60          # write last_seen at most once a minute, not on every rerun
HANDOFF_SECONDS = 60                # a login's one-time code for the cookie is good for a minute, once
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password of anyone's")

# Screens that are not sheets, and the roles that may open them.
VIEW_ROLES = {
    "home": set(ROLES),
    "account": set(ROLES),
    "users": {"admin"},
    "permissions": {"admin"},
    "audit": {"admin"},
    "health": {"admin"},
    "access_log": {"manager", "gm", "admin"},      # who revealed or exported personal data, never the data
    "reports": {"supervisor", "manager", "gm"},
    "dashboard": {"staff", "supervisor", "manager", "gm"},
    "survey_results": {"supervisor", "manager", "gm"},
    "survey_reports": {"supervisor", "manager", "gm"},   # which report each sees: kefu/survey_reports.py
    "incentives": {"staff", "manager", "gm", "finance", "hr"},   # the run's chain (rules/incentives.toml [approval])
    "imports": {"supervisor", "manager", "gm"},     # and only into the registers the role may add records to
    "backups": {"admin"},
    "privacy": {"admin"},                            # retention runs; one person's data exported or erased
    "designer": {"admin"},                           # registers designed on the screen (kefu/designer.py)
    "office_rules": {"manager", "gm", "admin"},      # manager and gm change the rules files; admin reads (kefu/office_rules.py)
}


@dataclass(frozen=True)
class User:
    id: int | None
    username: str
    display_name: str
    role: str
    language: str | None = None
    active: bool = True


SYSTEM = User(id=None, username="system", display_name="System", role="system")

# The survey kiosk: no login, no session, one right. Its role is not a staff role (sheets cannot grant it
# anything); can() allows it exactly KIOSK_RIGHTS, so every other read or write in the store is refused.
KIOSK_ROLE = "kiosk"
KIOSK_RIGHTS = frozenset({("surveys", "create")})
KIOSK = User(id=None, username="kiosk", display_name="Kiosk", role=KIOSK_ROLE)
KIOSK_META = "kiosk_token_sha256"


def acting_for(user: User) -> User:
    """The engine's own identity for a write that domain code makes on a user's behalf after its own
    checks (a workflow step's record, say): every right, but the user's name in the audit."""
    return User(id=user.id, username=user.username, display_name=user.display_name, role="system")


def can(user: User | None, sheet, action: str) -> bool:
    """May this user do action on sheet? The system actor (CLI, seeding) may do anything."""
    if user is None or not user.active:
        return False
    if user.role == "system":
        return True
    if user.role == KIOSK_ROLE:
        return (sheet.name, action) in KIOSK_RIGHTS
    return sheet.allows(user.role, action)


def require(user: User | None, sheet, action: str) -> None:
    if not can(user, sheet, action):
        raise PermissionDenied()


def can_view(user: User | None, view: str) -> bool:
    return user is not None and user.active and user.role in VIEW_ROLES.get(view, set())


def require_view(user: User | None, view: str) -> None:
    if not can_view(user, view):
        raise PermissionDenied()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _row_to_user(row) -> User:
    return User(id=row[0], username=row[1], display_name=row[2], role=row[3], language=row[4], active=bool(row[5]))


USER_COLUMNS = "id, username, display_name, role, language, active"


def get_user(store, user_id: int) -> User | None:
    row = store.conn.execute(f"SELECT {USER_COLUMNS} FROM kefu_users WHERE id = ?", (user_id,)).fetchone()
    return _row_to_user(row) if row else None


def list_users(store) -> list[dict]:
    """Every user with their live sessions (`sessions`: logged in and not idle too long)."""
    cursor = store.conn.execute(
        "SELECT u.id, u.username, u.display_name, u.role, u.active, u.language, u.last_login_at, u.locked_until, "
        "u.superior, "
        "(SELECT count(*) FROM kefu_sessions s WHERE s.user_id = u.id AND s.ended_at IS NULL AND s.expires_at > ?) "
        "AS sessions FROM kefu_users u ORDER BY u.role, u.username", (time.time(),))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor]


def has_demo_accounts(store) -> bool:
    """The login screen then points to the README's demo accounts."""
    return store.conn.execute("SELECT 1 FROM kefu_users WHERE demo = 1 AND active = 1 LIMIT 1").fetchone() is not None


def check_password_rules(store, password: str) -> list[Problem]:
    minimum = store.settings.min_password_length
    if len(password or "") < minimum:
        return [Problem("password", "auth.short_password", {"min": minimum})]
    return []


def create_user(store, username: str, display_name: str, role: str, password: str | None, actor: User,
                *, language: str | None = None, demo: bool = False) -> int:
    """Add a user (admin, CLI or first-run only). password None makes an account that cannot log in."""
    require_admin(actor)
    problems = []
    username = (username or "").strip()
    if not USERNAME.fullmatch(username):
        problems.append(Problem("username", "auth.bad_username", {}))
    if role not in ROLES:
        problems.append(Problem("role", "auth.bad_role", {"role": role}))
    display_name = (display_name or "").strip() or username
    if len(display_name) > 50:
        problems.append(Problem("display_name", "err.too_long", {"max": 50, "got": len(display_name)}))
    if password is not None:
        problems += check_password_rules(store, password)
    if problems:
        raise ValidationError(None, problems)
    digest = hash_password(password) if password is not None else None
    with store.transaction() as conn:
        if conn.execute("SELECT 1 FROM kefu_users WHERE username = ?", (username,)).fetchone():
            raise ValidationError(None, [Problem("username", "auth.username_taken", {"name": username})])
        user_id = conn.execute(
            "INSERT INTO kefu_users(username, display_name, role, password_hash, language, created_at, demo) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (username, display_name, role, digest, language, store.now(), int(demo))).lastrowid
        store._audit(conn, actor, "kefu_users", user_id, "create", None,
                     {"username": username, "display_name": display_name, "role": role})
    return user_id


def require_admin(actor: User | None) -> None:
    """Users are managed by an active administrator (or the system: CLI, first run, seeding)."""
    if actor is None or not actor.active or actor.role not in ("admin", "system"):
        raise PermissionDenied()


def _admins_left(conn, but: int) -> int:
    """Active administrators who can log in (an account without a password cannot), other than `but`."""
    return conn.execute("SELECT count(*) FROM kefu_users WHERE role = 'admin' AND active = 1 "
                        "AND password_hash IS NOT NULL AND id != ?", (but,)).fetchone()[0]


def is_last_admin(store, user_id: int) -> bool:
    """Would disabling this user, or giving them another role, leave the office without an administrator?"""
    target = get_user(store, user_id)
    return (target is not None and target.role == "admin" and target.active
            and _admins_left(store.conn, user_id) == 0)


def _target(conn, user_id) -> User:
    row = conn.execute(f"SELECT {USER_COLUMNS} FROM kefu_users WHERE id = ?", (user_id,)).fetchone()
    if row is None:
        raise NotFound()
    return _row_to_user(row)


def _keep_an_admin(conn, target: User) -> None:
    """Checked in the write's own transaction: two administrators disabling each other at the same moment
    cannot both succeed."""
    if target.role == "admin" and target.active and _admins_left(conn, target.id) == 0:
        raise LastAdmin(name=target.display_name)


def _end_sessions(conn, user_id: int) -> int:
    now = time.time()
    return conn.execute("UPDATE kefu_sessions SET ended_at = ? WHERE user_id = ? AND ended_at IS NULL "
                        "AND expires_at > ?", (now, user_id, now)).rowcount


def set_active(store, user_id: int, active: bool, actor: User) -> None:
    """Enable or disable a user. Disabling ends their sessions at once (an old session stays over after a
    later enable); the last administrator cannot be disabled."""
    require_admin(actor)
    with store.transaction() as conn:
        target = _target(conn, user_id)
        if target.active == bool(active):
            return
        if not active:
            _keep_an_admin(conn, target)
        conn.execute("UPDATE kefu_users SET active = ? WHERE id = ?", (int(bool(active)), user_id))
        after = {"active": bool(active)}
        if not active:
            after["sessions_ended"] = _end_sessions(conn, user_id)
        store._audit(conn, actor, "kefu_users", user_id, "enable" if active else "disable",
                     {"active": target.active}, after)


def change_role(store, user_id: int, role: str, actor: User) -> None:
    """Give a user another role (it applies from their next click); the last administrator keeps theirs."""
    require_admin(actor)
    if role not in ROLES:
        raise ValidationError(None, [Problem("role", "auth.bad_role", {"role": role})])
    with store.transaction() as conn:
        target = _target(conn, user_id)
        if target.role == role:
            return
        _keep_an_admin(conn, target)
        conn.execute("UPDATE kefu_users SET role = ? WHERE id = ?", (role, user_id))
        store._audit(conn, actor, "kefu_users", user_id, "role_changed", {"role": target.role}, {"role": role})


def superior_of(store, user_id: int | None) -> User | None:
    """The user's one superior (000 一个上级的原则：每个岗位、每个人只有一个上级), or None when none is set."""
    if user_id is None:
        return None
    row = store.conn.execute("SELECT superior FROM kefu_users WHERE id = ?", (user_id,)).fetchone()
    return get_user(store, row[0]) if row and row[0] is not None else None


def line_of_superiors(store, user_id: int | None) -> list[User]:
    """The user's superior, that superior's superior, and so on up the line (set_superior keeps it free of
    circles; the walk stops anyway at a user met twice)."""
    line, seen = [], {user_id}
    above = superior_of(store, user_id)
    while above is not None and above.id not in seen:
        line.append(above)
        seen.add(above.id)
        above = superior_of(store, above.id)
    return line


def set_superior(store, user_id: int, superior: int | None, actor: User) -> None:
    """The administrator names a user's one superior (None: none). The superior is another active user, and
    not someone who already reports to this user, directly or further down: the line of superiors never
    comes back to where it started. Audited with the names before and after."""
    require_admin(actor)
    with store.transaction() as conn:
        target = _target(conn, user_id)
        before = conn.execute("SELECT superior FROM kefu_users WHERE id = ?", (user_id,)).fetchone()[0]
        if superior == before:
            return
        chosen = None
        if superior is not None:
            row = conn.execute(f"SELECT {USER_COLUMNS} FROM kefu_users WHERE id = ?",
                               (superior if isinstance(superior, int) else -1,)).fetchone()
            chosen = _row_to_user(row) if row else None
            if superior == user_id:
                raise ValidationError(None, [Problem("superior", "auth.superior_self", {})])
            if chosen is None or not chosen.active:
                raise ValidationError(None, [Problem("superior", "auth.superior_inactive", {})])
            line, above = [chosen.display_name], chosen.id
            while above is not None:                     # walk up from the chosen superior
                above = conn.execute("SELECT superior FROM kefu_users WHERE id = ?", (above,)).fetchone()[0]
                if above == user_id:
                    raise ValidationError(None, [Problem("superior", "auth.superior_cycle",
                                                         {"name": chosen.display_name, "user": target.display_name,
                                                          "line": " → ".join(line + [target.display_name])})])
                if above is None or len(line) > 500:
                    break
                line.append(_target(conn, above).display_name)
        conn.execute("UPDATE kefu_users SET superior = ? WHERE id = ?", (superior, user_id))
        old = _target(conn, before) if before is not None else None
        store._audit(conn, actor, "kefu_users", user_id, "superior_changed",
                     {"superior": old.display_name if old else None, "superior_id": before},
                     {"superior": chosen.display_name if chosen else None, "superior_id": superior})


def reset_password(store, user_id: int, password: str, actor: User) -> int:
    """The administrator sets a new password for a user (who forgot theirs, or whose password leaked): it
    also lifts a lockout and ends the user's sessions. Returns the number of sessions ended. Neither the
    password nor its hash goes into the audit."""
    require_admin(actor)
    problems = check_password_rules(store, password)
    if problems:
        raise ValidationError(None, problems)
    digest = hash_password(password)
    with store.transaction() as conn:
        _target(conn, user_id)
        conn.execute("UPDATE kefu_users SET password_hash = ?, failed_logins = 0, locked_until = NULL WHERE id = ?",
                     (digest, user_id))
        ended = _end_sessions(conn, user_id)
        store._audit(conn, actor, "kefu_users", user_id, "password_reset", None, {"sessions_ended": ended})
    return ended


def end_sessions(store, user_id: int, actor: User) -> int:
    """Log a user out everywhere (a lost phone, a shared computer); they may log in again. Returns the
    number of sessions ended."""
    require_admin(actor)
    with store.transaction() as conn:
        _target(conn, user_id)
        ended = _end_sessions(conn, user_id)
        store._audit(conn, actor, "kefu_users", user_id, "sessions_ended", None, {"sessions_ended": ended})
    return ended


def create_first_admin(store, username: str, display_name: str, password: str) -> int:
    """Only while the database has no user at all: the first-run screen's one action."""
    if not store.is_empty():
        raise PermissionDenied()
    return create_user(store, username, display_name, "admin", password, SYSTEM)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def login(store, username: str, password: str) -> tuple[User, str]:
    """Check the password; on success open a session and return (user, token).
    Failures say only 'wrong user name or password', except for a locked or disabled account."""
    settings = store.settings
    now = time.time()
    row = store.conn.execute(f"SELECT {USER_COLUMNS}, password_hash, failed_logins, locked_until FROM kefu_users "
                             "WHERE username = ?", ((username or "").strip(),)).fetchone()
    if row is None or row[6] is None:
        _verify(_DUMMY_HASH, password or "")      # same work as a real check: no user enumeration by timing
        raise AuthError("auth.bad_login")
    user = _row_to_user(row)
    password_hash, failed, locked_until = row[6], row[7], row[8]
    if locked_until and locked_until > now:
        raise AuthError("auth.locked", until=_clock(store, locked_until))
    if not _verify(password_hash, password or ""):
        failed += 1
        lock = now + settings.lockout_minutes * 60 if failed >= settings.lockout_attempts else None
        with store.transaction() as conn:
            conn.execute("UPDATE kefu_users SET failed_logins = ?, locked_until = ? WHERE id = ?",
                         (0 if lock else failed, lock, user.id))
            store._audit(conn, user, "kefu_users", user.id, "login_failed", None, {"locked": bool(lock)})
        if lock:
            raise AuthError("auth.locked", until=_clock(store, lock))
        raise AuthError("auth.bad_login")
    if not user.active:
        raise AuthError("auth.disabled")
    token = secrets.token_urlsafe(32)
    expires = now + settings.session_idle_hours * 3600
    with store.transaction() as conn:
        conn.execute("UPDATE kefu_users SET failed_logins = 0, locked_until = NULL, last_login_at = ? WHERE id = ?",
                     (store.now(), user.id))
        conn.execute("INSERT INTO kefu_sessions(token_hash, user_id, created_at, last_seen_at, expires_at) "
                     "VALUES (?, ?, ?, ?, ?)", (_token_hash(token), user.id, now, now, expires))
        store._audit(conn, user, "kefu_users", user.id, "login", None, None)
    if _hasher.check_needs_rehash(password_hash):
        with store.transaction() as conn:
            conn.execute("UPDATE kefu_users SET password_hash = ? WHERE id = ?", (hash_password(password), user.id))
    return user, token


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _clock(store, epoch: float) -> str:
    return datetime.fromtimestamp(epoch, store.settings.tz).strftime("%H:%M")


def session_user(store, token: str | None) -> User | None:
    """The user behind a live session token, extending the session; None if it is over."""
    if not isinstance(token, str) or not token or len(token) > 200:
        return None
    now = time.time()
    key = _token_hash(token)
    row = store.conn.execute(
        f"SELECT s.token_hash, s.last_seen_at, s.expires_at, s.ended_at, "
        f"{', '.join('u.' + c for c in USER_COLUMNS.split(', '))} "
        "FROM kefu_sessions s JOIN kefu_users u ON u.id = s.user_id WHERE s.token_hash = ? OR s.cookie_hash = ?",
        (key, key)).fetchone()
    if row is None:
        return None
    session_id, last_seen, expires, ended = row[0], row[1], row[2], row[3]
    user = _row_to_user(row[4:])
    if ended is not None or expires <= now or not user.active:
        return None
    if now - last_seen >= SESSION_TOUCH_SECONDS:
        with store.transaction() as conn:
            conn.execute("UPDATE kefu_sessions SET last_seen_at = ?, expires_at = ? WHERE token_hash = ?",
                         (now, now + store.settings.session_idle_hours * 3600, session_id))
    return user


def handoff(store, token: str | None) -> str | None:
    """A one-time code for the browser of the live session `token`, which it trades for its HttpOnly
    cookie (redeem_handoff); a new code replaces an unused one. None if the session is over."""
    if session_user(store, token) is None:
        return None
    code = secrets.token_urlsafe(32)
    with store.transaction() as conn:
        conn.execute("UPDATE kefu_sessions SET handoff_hash = ?, handoff_expires = ? WHERE token_hash = ? "
                     "OR cookie_hash = ?", (_token_hash(code), time.time() + HANDOFF_SECONDS,
                                            _token_hash(token), _token_hash(token)))
    return code


def redeem_handoff(store, code: str | None) -> str | None:
    """The browser's cookie value for a one-time code (used up here), or None if the code is unknown, used,
    older than a minute, or its session over. Only this value's SHA-256 is kept."""
    if not isinstance(code, str) or not code or len(code) > 200:
        return None
    cookie = secrets.token_urlsafe(32)
    now = time.time()
    with store.transaction() as conn:
        row = conn.execute("SELECT s.token_hash, s.handoff_expires, s.ended_at, s.expires_at, u.active "
                           "FROM kefu_sessions s JOIN kefu_users u ON u.id = s.user_id WHERE s.handoff_hash = ?",
                           (_token_hash(code),)).fetchone()
        if row is None:
            return None
        conn.execute("UPDATE kefu_sessions SET handoff_hash = NULL, handoff_expires = NULL WHERE token_hash = ?", (row[0],))
        session_id, handoff_expires, ended, expires, active = row
        if handoff_expires <= now or ended is not None or expires <= now or not active:
            return None
        conn.execute("UPDATE kefu_sessions SET cookie_hash = ? WHERE token_hash = ?", (_token_hash(cookie), session_id))
    return cookie


def logout(store, token: str | None) -> None:
    if not token:
        return
    key = _token_hash(token)
    with store.transaction() as conn:
        row = conn.execute("SELECT user_id, token_hash FROM kefu_sessions WHERE (token_hash = ? OR cookie_hash = ?) "
                           "AND ended_at IS NULL", (key, key)).fetchone()
        if row:
            conn.execute("UPDATE kefu_sessions SET ended_at = ?, handoff_hash = NULL WHERE token_hash = ?",
                         (time.time(), row[1]))
            user = get_user(store, row[0])
            store._audit(conn, user, "kefu_users", row[0], "logout", None, None)


def set_language(store, user: User, language: str) -> None:
    with store.transaction() as conn:
        conn.execute("UPDATE kefu_users SET language = ? WHERE id = ?", (language, user.id))


def change_password(store, user: User, current: str, new: str) -> None:
    row = store.conn.execute("SELECT password_hash FROM kefu_users WHERE id = ?", (user.id,)).fetchone()
    if row is None or not row[0] or not _verify(row[0], current or ""):
        raise ValidationError(None, [Problem("current", "auth.wrong_current", {})])
    problems = check_password_rules(store, new)
    if problems:
        raise ValidationError(None, problems)
    with store.transaction() as conn:
        conn.execute("UPDATE kefu_users SET password_hash = ? WHERE id = ?", (hash_password(new), user.id))
        store._audit(conn, user, "kefu_users", user.id, "password_changed", None, None)


def create_kiosk_token(store, actor: User) -> str:
    """A new kiosk token (the old one stops working); the database keeps only its SHA-256."""
    require_admin(actor)
    token = secrets.token_urlsafe(24)
    with store.transaction() as conn:
        conn.execute("INSERT INTO kefu_meta(key, value) VALUES (?, ?) "
                     "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (KIOSK_META, _token_hash(token)))
        store._audit(conn, actor, "kefu_meta", None, "kiosk_token", None, None)
    return token


def disable_kiosk(store, actor: User) -> None:
    require_admin(actor)
    with store.transaction() as conn:
        conn.execute("DELETE FROM kefu_meta WHERE key = ?", (KIOSK_META,))
        store._audit(conn, actor, "kefu_meta", None, "kiosk_disabled", None, None)


def kiosk_identity(store, token: str | None) -> User | None:
    """The kiosk identity for the right kiosk token, else None (then the login applies)."""
    if not isinstance(token, str) or not token or len(token) > 200:
        return None
    row = store.conn.execute("SELECT value FROM kefu_meta WHERE key = ?", (KIOSK_META,)).fetchone()
    if row is None or not hmac.compare_digest(row[0], _token_hash(token)):
        return None
    return KIOSK
