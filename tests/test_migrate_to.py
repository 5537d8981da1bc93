"""python -m kefu migrate-to postgresql://...: the demo office moved from its SQLite file into PostgreSQL, the same to
the fen and the second; a target already holding records refused; an interrupted or differing move leaves the
target as it was. Runs under tests/pgcluster.py (make test-pg); the checksum's own rules run on either store."""
from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ASKED, PG, drop_pg_databases, new_pg_database
from kefu import auth, config, migrate, visitors
from kefu.sheets import load_sheets
from kefu.store import Query, Store

ROOT = Path(__file__).resolve().parent.parent
needs_pg = pytest.mark.skipif(not PG, reason="needs PostgreSQL: run under tests/pgcluster.py (make test-pg)")
NOTHING_WRITTEN = "nothing was written"


def test_the_checksum_tells_types_nulls_and_order_apart():
    rows = [(1, "张英", 380000, 1.5, None)]
    assert migrate.checksum(rows) == migrate.checksum([(1, "张英", 380000, 1.5, None)])
    assert migrate.checksum(rows) != migrate.checksum([(1, "张英", 380001, 1.5, None)])        # one fen
    assert migrate.checksum(rows) != migrate.checksum([(1, "张英", "380000", 1.5, None)])      # a number as text
    assert migrate.checksum(rows) != migrate.checksum([(1, "张英", 380000, 1.5, "")])          # NULL is not ''
    assert migrate.checksum([(1, 1.0)]) != migrate.checksum([(1, 1)])
    assert migrate.checksum([(1, 0.1 + 0.2)]) != migrate.checksum([(1, 0.3)])                   # floats exactly
    assert migrate.checksum([("a", "b"), ("c", "")]) != migrate.checksum([("a", "b", "c"), ("",)])
    assert migrate.checksum([(1,), (2,)]) != migrate.checksum([(2,), (1,)])
    assert migrate.checksum([]) == (0, migrate.checksum([])[1])


def test_a_table_that_differs_is_named():
    same = migrate.TableCopy("tickets", 2, "a", 2, "a")
    other = migrate.TableCopy("ticket_events", 3, "b", 3, "c")
    assert migrate.differing([same, other]) == [other]
    refused = migrate.Mismatch(migrate.Outcome("postgresql://x/y", [same, other]))
    assert "ticket_events (3 -> 3 rows, checksum differs)" in refused.message("en")
    assert "tickets (" not in refused.message("en") and NOTHING_WRITTEN in refused.message("en")
    assert "未写入任何内容" in refused.message("zh")


def test_a_source_or_target_that_cannot_be_used_is_refused_saying_nothing_was_written(tmp_path):
    office = tmp_path / "office.db"
    Store(office, load_sheets(), config.load()).migrate()
    unreachable = move(office, "postgresql://kefu@127.0.0.1:1/kefu")
    assert unreachable.returncode == 1 and "nothing was written to the target" in unreachable.stderr
    assert "127.0.0.1:1" in unreachable.stderr and "Traceback" not in unreachable.stderr
    not_a_url = move(office, str(tmp_path / "other.db"))
    assert not_a_url.returncode == 1 and "must be a PostgreSQL URL" in not_a_url.stderr
    assert not (tmp_path / "other.db").exists()
    missing = move(tmp_path / "missing.db", "postgresql://kefu@127.0.0.1:1/kefu")
    assert missing.returncode == 1 and "no such database file" in missing.stderr
    assert not (tmp_path / "missing.db").exists()                       # not made empty by the attempt
    chinese = subprocess.run([sys.executable, "-m", "kefu", "migrate-to", "postgresql://kefu@127.0.0.1:1/kefu",
                              "--from", str(office), "--lang", "zh"], capture_output=True, text=True, cwd=ROOT)
    assert chinese.returncode == 1 and "目标数据库未写入任何内容" in chinese.stderr


# -- on PostgreSQL ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def office(demo_file, tmp_path_factory) -> Path:
    """A copy of the demo office, migrated as every command opens it."""
    path = tmp_path_factory.mktemp("office") / "kefu.db"
    shutil.copy(demo_file, path)
    from kefu.cli import open_store
    open_store(str(path)).close()
    return path


@pytest.fixture(scope="module")
def new_database():
    """new_database() -> the URL of a new, empty PostgreSQL database; all dropped after the module."""
    made = []
    yield lambda: new_pg_database(made, prefix="m")
    drop_pg_databases(made)


def move(office: Path, url: str, *extra) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kefu", "migrate-to", url, "--from", str(office), "--lang", "en",
                           *extra], capture_output=True, text=True, cwd=ROOT, timeout=600)


def start_move(office: Path, url: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "kefu", "migrate-to", url, "--from", str(office), "--lang", "en"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)


def wait_for_progress(process: subprocess.Popen, table: str) -> None:
    """Read the move's progress until it starts copying `table` (its transaction then holds the earlier ones)."""
    for line in process.stdout:
        if line.startswith(f"copying {table}:"):
            return
    pytest.fail(f"the move ended before copying {table}: {process.wait()} {process.stderr.read()}")


def records(url: str) -> int:
    """Every row of every table of the database (0 for a database without tables)."""
    import psycopg
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables WHERE "
                                             "table_schema = 'public'").fetchall()]
        return sum(conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables)


def tables_of(url: str) -> list[str]:
    import psycopg
    with psycopg.connect(url, autocommit=True) as conn:
        return [r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables WHERE "
                                           "table_schema = 'public'").fetchall()]


def wait_until_gone(url: str, deadline: float = 120) -> None:
    """Until no session of another process is connected to the database (a killed client's backend ends)."""
    import psycopg
    name = url.rsplit("/", 1)[1]
    until = time.monotonic() + deadline
    with psycopg.connect(PG, autocommit=True) as admin:
        while admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,)).fetchone()[0]:
            assert time.monotonic() < until, "the killed move's session is still connected"
            time.sleep(0.05)


def stores(office: Path, url: str):
    sheets, settings = load_sheets(), config.load()
    return Store(office, sheets, settings), Store(url, sheets, settings)


def rows_of(store: Store, sql: str) -> list[tuple]:
    return [tuple(r) for r in store.conn.execute(sql).fetchall()]


@pytest.fixture(scope="module")
def moved(office, new_database):
    """The demo office moved once into a new database: (url, the command's outcome)."""
    url = new_database()
    result = move(office, url)
    assert result.returncode == 0, result.stderr
    return url, result


@needs_pg
def test_the_moved_office_is_the_same_to_the_fen_and_the_second(office, moved):
    url, result = moved
    assert "every table's row count and checksum match" in result.stdout
    file, base = stores(office, url)
    try:
        for table in migrate.tables_to_copy(file):
            # kefu_meta without what the file keeps of its own FTS5 indexes (PostgreSQL's are its own)
            count = f"SELECT count(*) FROM {table}" + (" WHERE key NOT LIKE 'grams:%'" if table == "kefu_meta" else "")
            assert rows_of(base, count) == rows_of(file, count), table
            line = next(line for line in result.stdout.splitlines() if line.split()[:1] == [table])
            assert line.split()[1:3] == [str(rows_of(file, count)[0][0]), "match"]
        assert rows_of(file, "SELECT count(*) FROM tickets")[0][0] >= 19_000
        money = "SELECT id, claim_amount FROM tickets WHERE claim_amount IS NOT NULL ORDER BY id"
        assert rows_of(base, money) == rows_of(file, money) and len(rows_of(file, money)) > 10
        claimed = rows_of(file, money)[0][0]
        ticket, copied = file.get("tickets", claimed, auth.SYSTEM), base.get("tickets", claimed, auth.SYSTEM)
        assert copied == ticket and isinstance(copied["claim_amount"], int)                   # fen, not yuan
        times = "SELECT id, created_at, responded_at, resolved_at, resolution_due FROM tickets ORDER BY id"
        assert rows_of(base, times) == rows_of(file, times)
        assert rows_of(base, times)[0][1].endswith("+08:00")                                  # with its offset
        audit = "SELECT * FROM kefu_audit ORDER BY id"
        assert rows_of(base, audit) == rows_of(file, audit)
        assert rows_of(base, "SELECT * FROM kefu_users ORDER BY id") == rows_of(file, "SELECT * FROM kefu_users ORDER BY id")
        meta = "SELECT key, value FROM kefu_meta WHERE key NOT LIKE 'grams:%'"
        assert sorted(rows_of(base, meta)) == sorted(rows_of(file, meta))
        assert rows_of(base, "SELECT count(*) FROM kefu_sessions") == [(0,)]                   # logins start again
    finally:
        file.close()
        base.close()


@needs_pg
def test_a_search_finds_the_same_records_after_the_move(office, moved):
    file, base = stores(office, moved[0])
    try:
        name, subject = rows_of(file, "SELECT caller_name, subject FROM tickets WHERE claim_amount IS NOT NULL "
                                      "ORDER BY id LIMIT 1")[0]
        archive = rows_of(file, "SELECT name FROM customers ORDER BY id LIMIT 1")[0][0]
        for sheet, term in [("tickets", subject[2:6]), ("tickets", name[:1]), ("tickets", name[1:]),
                            ("customers", archive[:2]), ("customers", archive[1:4])]:
            found = [file.query(sheet, auth.SYSTEM, Query(search=term, page_size=500)),
                     base.query(sheet, auth.SYSTEM, Query(search=term, page_size=500))]
            assert found[0].total > 0, term
            assert found[1].total == found[0].total, term
            assert [r["id"] for r in found[1].rows] == [r["id"] for r in found[0].rows], term
    finally:
        file.close()
        base.close()


@needs_pg
def test_a_second_move_into_the_full_target_is_refused_and_changes_nothing(office, moved):
    url = moved[0]
    before = records(url)
    again = move(office, url)
    assert again.returncode == 1
    assert "already holds office records" in again.stderr and "Nothing was written" in again.stderr
    assert records(url) == before


@needs_pg
def test_a_killed_move_leaves_the_target_empty_and_a_rerun_completes(office, new_database):
    url = new_database()
    process = start_move(office, url)
    wait_for_progress(process, "tickets")
    process.kill()
    process.wait()
    wait_until_gone(url)
    assert tables_of(url) == [] and records(url) == 0                    # as it was: not even the tables
    result = move(office, url)
    assert result.returncode == 0, result.stderr
    file, base = stores(office, url)
    try:
        count = "SELECT count(*) FROM ticket_events"
        assert rows_of(base, count) == rows_of(file, count)
        user, _ = auth.login(base, "demo-staff", "kefu-demo")             # the demo password works there
        assert user.display_name == "王小丽"
        with pytest.raises(auth.AuthError):
            auth.login(base, "demo-staff", "wrong-password")
        largest = rows_of(base, "SELECT max(id) FROM visitors")[0][0]    # the ids go on after the copied ones
        host = rows_of(base, "SELECT id FROM kefu_users WHERE username = 'demo-supervisor'")[0][0]
        added = visitors.register(base, user, {"visitor_name": "迁移后来访", "phone": "13912345678",
                                               "purpose": "business", "host": host, **ASKED}, arrive_now=True)
        assert added == largest + 1
        assert [r["id"] for r in base.query("visitors", user, Query(search="迁移后")).rows] == [added]
    finally:
        file.close()
        base.close()


@needs_pg
def test_ctrl_c_rolls_the_move_back_and_says_so(office, new_database):
    url = new_database()
    process = start_move(office, url)
    wait_for_progress(process, "kefu_incentive_runs")
    process.send_signal(signal.SIGINT)
    _, errors = process.communicate(timeout=300)
    assert process.returncode == 130
    assert "Interrupted: rolled back, nothing was written to the target" in errors
    wait_until_gone(url)
    assert tables_of(url) == [] and records(url) == 0


@needs_pg
def test_a_copy_that_differs_from_the_file_is_rolled_back_naming_the_table(office, new_database):
    url = new_database()
    with sqlite3.connect(office) as conn:
        columns = [r[1] for r in conn.execute("PRAGMA table_info(tickets)")]
        changed = conn.execute("SELECT min(id) FROM tickets WHERE claim_amount IS NOT NULL").fetchone()[0]
    amount = columns.index("claim_amount")

    def one_fen_more(table, row):
        if table == "tickets" and row[0] == changed:
            return (*row[:amount], row[amount] + 1, *row[amount + 1:])
        return row

    source = Store(office, load_sheets(), config.load())
    try:
        with pytest.raises(migrate.Mismatch) as refused:
            migrate.migrate_to(source, url, copy_row=one_fen_more)
    finally:
        source.close()
    assert [t.table for t in migrate.differing(refused.value.outcome.tables)] == ["tickets"]
    assert "tickets (" in refused.value.message("en") and "checksum differs" in refused.value.message("en")
    assert NOTHING_WRITTEN in refused.value.message("en")
    assert tables_of(url) == [] and records(url) == 0


@needs_pg
def test_a_lost_connection_rolls_the_move_back_and_says_so(office, new_database):
    import psycopg
    url = new_database()
    process = start_move(office, url)
    wait_for_progress(process, "kefu_incentive_runs")
    with psycopg.connect(PG, autocommit=True) as admin:                 # the database server drops the session
        assert admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s",
                             (url.rsplit("/", 1)[1],)).fetchone()[0] == 1
    _, errors = process.communicate(timeout=300)
    assert process.returncode == 1
    assert "migrate-to stopped, nothing was written to the target" in errors and "Traceback" not in errors
    wait_until_gone(url)
    assert tables_of(url) == [] and records(url) == 0


@needs_pg
def test_a_table_of_the_file_no_register_declares_is_refused_not_dropped(tmp_path, new_database):
    path = tmp_path / "office.db"
    source = Store(path, load_sheets(), config.load())
    source.migrate()
    auth.create_user(source, "admin", "管理员", "admin", "correct-horse-1", auth.SYSTEM)
    source.conn.execute("CREATE TABLE old_register (id INTEGER PRIMARY KEY, note TEXT)")
    source.conn.execute("INSERT INTO old_register (note) VALUES ('去年的登记')")
    url = new_database()
    try:
        with pytest.raises(migrate.MigrateRefused) as refused:
            migrate.migrate_to(source, url)
        assert "old_register (1 rows)" in refused.value.message("en")
        assert "Nothing was written" in refused.value.message("en")
        assert tables_of(url) == []
        source.conn.execute("DELETE FROM old_register")                 # an empty one is nothing to lose
        made = Store(url, load_sheets(), config.load())                 # a target migrated ahead (kefu init) is taken
        made.migrate()
        made.close()
        outcome = migrate.migrate_to(source, url)
    finally:
        source.close()
    assert {t.table: t.rows for t in outcome.tables}["kefu_users"] == 1
    moved = Store(url, load_sheets(), config.load())
    try:
        assert auth.login(moved, "admin", "correct-horse-1")[0].role == "admin"
        assert auth.create_user(moved, "second", "第二位", "staff", "correct-horse-2", auth.SYSTEM) == 2
    finally:
        moved.close()
