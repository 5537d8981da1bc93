"""PostgreSQL that cannot be used, or goes away (KEFU_TEST_PG only: `make test-pg`).

At start (`kefu init`, `kefu check`, the app's first run) a wrong URL, a server that does not answer, a database
that does not exist, a login refused and a database without pg_trgm that its user may not create each give one
message naming what is wrong and what to do, never the password, and nothing is written. During work, the server
stopped (fast or as a crash) or the connection cut: the write in progress is rolled back whole (the record and
its audit row, or neither), the engine raises DatabaseGone, nothing is retried on its own, and the next call
works once the server is back. These tests stop and start a cluster of their own (tests/pgcluster.py), with a
password and durable commits, never the shared one.
"""
from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest

from conftest import PG
from kefu import auth, config
from kefu.errors import DatabaseGone, DatabaseUnavailable
from kefu.sheets import load_sheets
from kefu.store import Store
from pgcluster import _free_port, running_cluster

pytestmark = pytest.mark.skipif(not PG, reason="PostgreSQL only (make test-pg)")

ROOT = Path(__file__).resolve().parent.parent
SECRET = "s3cret-Pw-4711"                  # the cluster's password: no message may show it
CLERK_SECRET = "clerk-Pw-0815"
STAFF_PASSWORD = "correct-horse-1"


@pytest.fixture(scope="module")
def server():
    with running_cluster(durable=True, password=SECRET) as made:
        yield made


def on(server, database: str, user: str = "kefu", password: str = SECRET) -> str:
    return f"postgresql://{user}:{password}@127.0.0.1:{server.port}/{database}"


def admin(server, database: str = "postgres"):
    return psycopg.connect(on(server, database), autocommit=True)


def new_database(server, name: str) -> str:
    with admin(server) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return on(server, name)


def tables(server, database: str) -> list[str]:
    with admin(server, database) as conn:
        return [r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables "
                                           "WHERE table_schema = 'public'").fetchall()]


def databases(server) -> set[str]:
    with admin(server) as conn:
        return {r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()}


def kefu(*args: str, db: str) -> subprocess.CompletedProcess:
    """`python -m kefu ARGS` with KEFU_DB=db, as `make run` starts it."""
    return subprocess.run([sys.executable, "-m", "kefu", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "KEFU_DB": db}, timeout=120)


def check(db: str, monkeypatch, capsys) -> tuple[int, str]:
    """`kefu check` with KEFU_DB=db, in this process (the same code as `python -m kefu check`, without the
    seconds a new interpreter takes): its exit code and what it printed."""
    from kefu import cli
    monkeypatch.setenv("KEFU_DB", db)
    capsys.readouterr()
    code = cli.main(["check"])
    out = capsys.readouterr()
    return code, out.out + out.err


def staffed(url: str) -> tuple[Store, auth.User]:
    """A migrated store on `url` and a staff member who writes to it."""
    store = Store(url, load_sheets(), config.load())
    store.migrate()
    user_id = auth.create_user(store, "loop-staff", "王小丽", "staff", STAFF_PASSWORD, auth.SYSTEM)
    return store, auth.get_user(store, user_id)


def visit(host: int, name: str) -> dict:
    return {"visitor_name": name, "phone": "13812345678", "purpose": "business", "host": host}


# -- at start ---------------------------------------------------------------------------------------------
WRONG = {
    "not a URL": (lambda s: f"postgresql://kefu:{SECRET}@127.0.0.1:notaport/postgres",
                  "KEFU_DB is not a PostgreSQL URL that can be used"),
    "a URL the driver quotes": (lambda s: f"postgresql://kefu:{SECRET}@[::1/postgres",     # its message quotes the URL
                                "KEFU_DB is not a PostgreSQL URL that can be used"),
    "unknown host": (lambda s: f"postgresql://kefu:{SECRET}@no-such-host.invalid/postgres",
                     "The database server 'no-such-host.invalid' named in KEFU_DB"),
    "nothing listening": (lambda s: f"postgresql://kefu:{SECRET}@127.0.0.1:{_free_port()}/postgres",
                          "No PostgreSQL server answers at 127.0.0.1 port"),
    "no such database": (lambda s: on(s, "no_such_office"), "The database 'no_such_office' does not exist"),
    "wrong password": (lambda s: on(s, "postgres", password="not-" + SECRET),
                       "refused the login of user 'kefu'"),
    "unknown user": (lambda s: on(s, "postgres", user="nobody"), "refused the login of user 'nobody'"),
}


@pytest.mark.parametrize("case", list(WRONG))
def test_a_database_that_cannot_be_reached_is_named_at_start_and_nothing_is_written(server, case, monkeypatch, capsys):
    url_of, says = WRONG[case]
    url = url_of(server)
    before = databases(server)
    init = kefu("init", db=url)
    checked, said = check(url, monkeypatch, capsys)
    assert init.returncode != 0 and checked != 0
    assert says in init.stderr and says in said and "Traceback" not in init.stderr
    assert SECRET not in init.stdout + init.stderr + said
    assert "kefu:***@" in init.stderr or "nobody:***@" in init.stderr      # the URL named, its password masked
    assert databases(server) == before and tables(server, "postgres") == []


def test_the_messages_at_start_are_in_chinese_too(server):
    for url, says in ((on(server, "no_such_office"), "上没有名为“no_such_office”的数据库"),
                      (on(server, "postgres", password="wrong"), "拒绝了用户“kefu”登录"),
                      (f"postgresql://kefu:{SECRET}@127.0.0.1:{_free_port()}/x", "端口上没有 PostgreSQL 服务器应答")):
        with pytest.raises(DatabaseUnavailable) as caught:
            Store(url, load_sheets(), config.load()).migrate()
        assert not isinstance(caught.value, DatabaseGone)     # a setting to correct, not "try again"
        assert says in caught.value.message("zh") and SECRET not in caught.value.message("zh")


@pytest.fixture
def without_trgm(server):
    """A database without pg_trgm and a role `clerk` who may make tables in it but not create extensions (no
    CREATE on the database): the only thing missing is the extension."""
    new_database(server, "no_trgm")
    with admin(server) as conn:
        conn.execute("DROP ROLE IF EXISTS clerk")
        conn.execute(f"CREATE ROLE clerk LOGIN PASSWORD '{CLERK_SECRET}'")
    with admin(server, "no_trgm") as conn:
        conn.execute("GRANT USAGE, CREATE ON SCHEMA public TO clerk")
        assert not conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").fetchone()
    yield on(server, "no_trgm", user="clerk", password=CLERK_SECRET)
    with admin(server) as conn:
        conn.execute('DROP DATABASE IF EXISTS "no_trgm" WITH (FORCE)')
        conn.execute("DROP ROLE IF EXISTS clerk")


def test_a_database_without_pg_trgm_its_user_may_not_create_is_named_and_nothing_is_written(server, without_trgm,
                                                                                          monkeypatch, capsys):
    init = kefu("init", db=without_trgm)
    checked, said = check(without_trgm, monkeypatch, capsys)
    for out in (init.stderr, said):
        assert ("The database 'no_trgm' lacks the pg_trgm extension (search needs it) and user 'clerk' may not "
                "create it: ask the database administrator to run CREATE EXTENSION pg_trgm;") in out
    assert init.returncode != 0 and checked != 0 and CLERK_SECRET not in init.stderr + said
    with pytest.raises(DatabaseUnavailable) as caught:
        Store(without_trgm, load_sheets(), config.load()).migrate()
    assert "缺少 pg_trgm 扩展" in caught.value.message("zh") and "CREATE EXTENSION pg_trgm" in caught.value.message("zh")
    assert tables(server, "no_trgm") == []
    with admin(server, "no_trgm") as conn:
        assert not conn.execute("SELECT 1 FROM pg_collation WHERE collname = 'nocase'").fetchone()
        assert not conn.execute("SELECT 1 FROM pg_proc WHERE proname = 'kefu_glob'").fetchone()
        conn.execute("CREATE EXTENSION pg_trgm")                # what the message asks the administrator to do
    done = kefu("init", db=without_trgm)
    assert done.returncode == 0, done.stderr
    assert "kefu_audit" in tables(server, "no_trgm")


def test_a_user_who_may_not_create_tables_is_named_and_nothing_is_written(server, monkeypatch, capsys):
    new_database(server, "no_create")
    with admin(server) as conn:
        conn.execute("DROP ROLE IF EXISTS reader")
        conn.execute(f"CREATE ROLE reader LOGIN PASSWORD '{CLERK_SECRET}'")
    with admin(server, "no_create") as conn:
        conn.execute("CREATE EXTENSION pg_trgm")                # there: only the right to make tables is missing
    url = on(server, "no_create", user="reader", password=CLERK_SECRET)
    try:
        init = kefu("init", db=url)
        checked, said = check(url, monkeypatch, capsys)
        for out in (init.stderr, said):
            assert ("User 'reader' may not create tables in the database 'no_create' (schema public): ask the database "
                    "administrator to run GRANT CREATE ON SCHEMA public TO reader;") in out
        assert init.returncode != 0 and checked != 0 and "Traceback" not in init.stderr
        assert tables(server, "no_create") == []
    finally:
        with admin(server) as conn:
            conn.execute('DROP DATABASE IF EXISTS "no_create" WITH (FORCE)')
            conn.execute("DROP ROLE IF EXISTS reader")


def test_the_app_names_a_database_it_cannot_reach_at_its_first_run(server, without_trgm, monkeypatch):
    from apptest import start, texts
    for url, says in ((f"postgresql://kefu:{SECRET}@127.0.0.1:{_free_port()}/postgres", "端口上没有 PostgreSQL 服务器应答"),
                      (without_trgm, "缺少 pg_trgm 扩展")):
        monkeypatch.setenv("KEFU_DB", url)
        at = start()
        shown = texts(at)
        assert not at.exception and "数据库无法使用" in shown and says in shown and "请更正 KEFU_DB" in shown
        assert SECRET not in shown and CLERK_SECRET not in shown
        assert ":***@127.0.0.1" in shown or url == without_trgm        # the URL named, its password masked
    assert tables(server, "no_trgm") == []


# -- going away during work ---------------------------------------------------------------------------------
def test_a_connection_cut_between_the_record_and_its_audit_row_leaves_neither(server):
    store, staff = staffed(new_database(server, "cut"))
    with admin(server, "cut") as conn:          # the server ends the writer's own connection as the audit row comes
        conn.execute("CREATE SEQUENCE cut_once")
        conn.execute("CREATE FUNCTION cut_once() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF nextval('cut_once') = 1 "
                     "THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF; RETURN NEW; END $$")
        conn.execute("CREATE TRIGGER cut_once BEFORE INSERT ON kefu_audit FOR EACH ROW EXECUTE FUNCTION cut_once()")
    with pytest.raises(DatabaseGone) as caught:
        store.insert("visitors", visit(staff.id, "半途"), staff)
    assert caught.value.message("zh") == "数据库暂时无法连接，请稍后重试。"
    assert caught.value.message("en") == "The database cannot be reached right now; please try again."
    kept = store.insert("visitors", visit(staff.id, "再来"), staff)          # the next call: a new connection
    with admin(server, "cut") as conn:
        assert conn.execute("SELECT visitor_name FROM visitors").fetchall() == [("再来",)]
        assert conn.execute("SELECT row_id FROM kefu_audit WHERE sheet = 'visitors'").fetchall() == [(kept,)]
    store.close()


def test_a_commit_cut_off_is_asked_about_on_a_new_connection_and_not_called_maybe_saved(server):
    store, staff = staffed(new_database(server, "commit_cut"))
    with admin(server, "commit_cut") as conn:   # the server ends the writer's connection during its COMMIT
        conn.execute("CREATE SEQUENCE cut_once")
        conn.execute("CREATE FUNCTION cut_once() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF nextval('cut_once') = 1 "
                     "THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF; RETURN NULL; END $$")
        conn.execute("CREATE CONSTRAINT TRIGGER cut_once AFTER INSERT ON kefu_audit DEFERRABLE INITIALLY DEFERRED "
                     "FOR EACH ROW EXECUTE FUNCTION cut_once()")
    with pytest.raises(DatabaseGone) as caught:
        store.insert("visitors", visit(staff.id, "提交时断开"), staff)
    assert caught.value.code == "err.db_gone"            # the server says it was rolled back: "try again", not "maybe"
    kept = store.insert("visitors", visit(staff.id, "再来"), staff)
    with admin(server, "commit_cut") as conn:
        assert conn.execute("SELECT visitor_name FROM visitors").fetchall() == [("再来",)]
        assert conn.execute("SELECT row_id FROM kefu_audit WHERE sheet = 'visitors'").fetchall() == [(kept,)]
    store.close()


def test_a_read_whose_connection_was_cut_is_asked_again_once(server):
    store, staff = staffed(new_database(server, "reread"))
    store.insert("visitors", visit(staff.id, "张三丰"), staff)
    first = store.conn.raw.info.backend_pid
    with admin(server, "reread") as conn:
        assert conn.execute("SELECT pg_terminate_backend(%s)", (first,)).fetchone()[0]
    assert store.query("visitors", staff).total == 1                        # no error: asked again on a new one
    assert store.conn.raw.info.backend_pid != first
    store.close()


class WriteLoop(threading.Thread):
    """Inserts numbered visits through the engine, one after another, and notes what each call answered."""

    def __init__(self, store: Store, staff: auth.User):
        super().__init__(daemon=True)
        self.store, self.staff = store, staff
        self.done: list[int] = []
        self.failed: list[tuple[int, str]] = []          # (number, DatabaseGone's code)
        self.other: list[BaseException] = []
        self.changed = threading.Condition()
        self.halt = threading.Event()

    def run(self) -> None:
        for number in itertools.count():
            if self.halt.is_set():
                break
            try:
                self.store.insert("visitors", visit(self.staff.id, f"loop-{number}"), self.staff)
            except DatabaseGone as exc:
                self.failed.append((number, exc.code))
            except BaseException as exc:                 # anything else fails the test (asserted below)
                self.other.append(exc)
                break
            else:
                self.done.append(number)
            finally:
                with self.changed:
                    self.changed.notify_all()
        self.store.close()
        with self.changed:
            self.changed.notify_all()

    def wait_until(self, what: str, reached) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: reached() or self.other or not self.is_alive(), timeout=120), what
        assert not self.other, self.other
        assert reached(), what


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_a_server_stopped_and_started_during_a_write_loop_loses_and_doubles_nothing(server, mode):
    store, staff = staffed(new_database(server, f"loop_{mode}"))
    loop = WriteLoop(store, staff)
    loop.start()
    try:
        loop.wait_until("inserts before the stop", lambda: len(loop.done) >= 20)
        server.stop(mode)
        loop.wait_until("inserts refused while the server is down", lambda: len(loop.failed) >= 3)
        server.start()
        back = len(loop.done)
        loop.wait_until("inserts once the server is back", lambda: len(loop.done) >= back + 20)
    finally:
        if not server.running:
            server.start()
        loop.halt.set()
        loop.join(timeout=120)
    assert not loop.is_alive() and not loop.other
    assert {code for _, code in loop.failed} <= {"err.db_gone", "err.db_gone_commit"}
    with admin(server, f"loop_{mode}") as conn:
        rows = conn.execute("SELECT v.visitor_name, count(*), count(DISTINCT a.id) FROM visitors v LEFT JOIN kefu_audit a "
                            "ON a.sheet = 'visitors' AND a.row_id = v.id AND a.action = 'create' "
                            "GROUP BY v.visitor_name").fetchall()
        orphans = conn.execute("SELECT count(*) FROM kefu_audit a WHERE a.sheet = 'visitors' AND NOT EXISTS "
                               "(SELECT 1 FROM visitors v WHERE v.id = a.row_id)").fetchone()[0]
    stored = {name: (count, audited) for name, count, audited in rows}
    assert all(count == 1 for count, _ in stored.values())                  # no record twice
    assert all(audited == 1 for _, audited in stored.values())              # every record with its audit row
    assert orphans == 0                                                     # no audit row without its record
    assert {f"loop-{n}" for n in loop.done} <= set(stored)                 # every insert reported done is there
    in_doubt = {f"loop-{n}" for n, code in loop.failed if code == "err.db_gone_commit"}
    refused = {f"loop-{n}" for n, code in loop.failed if code == "err.db_gone"}
    assert not refused & set(stored)                                        # what was refused was not written
    assert set(stored) <= {f"loop-{n}" for n in loop.done} | in_doubt
    assert loop.done[-1] > max(n for n, _ in loop.failed)                  # and it writes again once back


# -- the screens ---------------------------------------------------------------------------------------------
def test_the_screen_shows_a_retry_notice_while_the_database_is_down_keeping_the_login_and_the_form(server,
                                                                                               monkeypatch):
    from apptest import login, open_page
    url = new_database(server, "screens")
    store = Store(url, load_sheets(), config.load())
    store.migrate()
    auth.create_user(store, "screen-mgr", "刘芳", "manager", STAFF_PASSWORD, auth.SYSTEM)
    store.close()
    monkeypatch.setenv("KEFU_DB", url)
    at = open_page(login("screen-mgr", STAFF_PASSWORD), "knowledge")
    assert not at.exception
    at.text_input(key="knowledge__new__0__question").input("打印机卡纸怎么办")
    at.text_area(key="knowledge__new__0__answer").input("打开后盖取出纸张")
    for choice in ("category", "kind"):
        at.selectbox(key=f"knowledge__new__0__{choice}").select_index(0)
    server.stop("fast")
    try:
        at = [b for b in at.button if b.label == "保存"][0].click().run()
        assert not at.exception
        assert [w.value for w in at.warning] == ["数据库暂时无法连接，请稍后重试。"]
        assert "重试" in [b.label for b in at.button]
    finally:
        server.start()
    at.button(key="kefu_db_retry").click().run()
    assert not at.exception and not at.warning
    assert at.session_state["user"].username == "screen-mgr"          # still logged in: no login form
    assert not [t for t in at.text_input if t.key == "login_password"]
    assert at.text_input(key="knowledge__new__0__question").value == "打印机卡纸怎么办"     # what was typed is kept
    assert at.text_area(key="knowledge__new__0__answer").value == "打开后盖取出纸张"
    with admin(server, "screens") as conn:
        assert conn.execute("SELECT count(*) FROM knowledge").fetchone()[0] == 0        # and nothing was saved
    at = [b for b in at.button if b.label == "保存"][0].click().run()                   # the user saves it again
    assert not at.exception and not at.error
    with admin(server, "screens") as conn:
        assert conn.execute("SELECT question FROM knowledge").fetchall() == [("打印机卡纸怎么办",)]
