"""Backups and restore of an office kept in PostgreSQL: pg_dump archives, checked before they take their name; a
restore that refuses a file it should not take, keeps the current data aside and replaces every table in one
transaction; the daily backup and its lock without a database file. Runs under tests/pgcluster.py."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from conftest import PG
from kefu import auth, backup, jobs, pgbackup
from kefu.backup import BackupRefused
from kefu.store import Query, Store
from test_backup import add_visits

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not PG, reason="needs PostgreSQL: run under tests/pgcluster.py (make test-pg)")


def count(store: Store, table: str = "visitors") -> int:
    return store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def names(store: Store) -> set[str]:
    return {r[0] for r in store.conn.execute("SELECT visitor_name FROM visitors")}


@pytest.fixture
def office(store, tmp_path):
    """The store with its daily backups in tmp_path/backups."""
    store.settings = dataclasses.replace(store.settings, backup_folder=str(tmp_path / "backups"))
    return store


def test_a_restore_brings_the_dump_back_and_keeps_the_current_data_aside(office, make_user, tmp_path):
    host = make_user("staff")
    add_visits(office, host, 3, "备份前")
    saved = backup.backup_to(office, tmp_path / "saved.dump")
    assert saved.read_bytes()[:5] == b"PGDMP" and not list(tmp_path.glob("*.partial"))
    assert backup.last_backup(office) is not None
    add_visits(office, host, 2, "备份后")
    other = Store(office.url, office.sheets, office.settings)            # a connection opened elsewhere
    assert count(other) == 5
    other.close()
    aside = backup.restore(office, saved)
    assert names(office) == {"备份前0", "备份前1", "备份前2"}
    other = Store(office.url, office.sheets, office.settings)
    try:
        assert count(other) == 3
        new = other.insert("visitors", {"visitor_name": "恢复后", "phone": "13812345678", "purpose": "business",
                                        "host": host.id}, auth.SYSTEM)
        assert new > max(r[0] for r in other.conn.execute("SELECT id FROM visitors WHERE id <> ?", (new,)))
        assert [r["id"] for r in other.query("visitors", auth.SYSTEM, Query(search="恢复")).rows] == [new]
        assert [r["visitor_name"] for r in other.query("visitors", auth.SYSTEM, Query(search="备份前1")).rows] == ["备份前1"]
    finally:
        other.close()
    assert aside.parent == tmp_path / "backups" and aside.name.startswith("kefu-before-restore-")
    backup.restore(office, aside)                                         # the data as it was before, kept
    assert names(office) >= {"备份后0", "备份后1"} and count(office) == 5
    assert auth.login(office, host.username, "correct-horse-1")[0].id == host.id


def _dump_of(url: str, path: Path) -> Path:
    pgbackup.dump(url, path)
    return path


def test_a_file_that_is_not_a_sound_dump_is_refused_and_nothing_changes(office, make_user, database, tmp_path):
    host = make_user("staff")
    add_visits(office, host, 4)
    good = backup.backup_to(office, tmp_path / "good.dump")
    text = tmp_path / "notes.dump"
    text.write_text("这不是备份", encoding="utf-8")
    truncated = tmp_path / "truncated.dump"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size * 2 // 3])
    sqlite_file = tmp_path / "kefu-20261101-020000.db"
    sqlite_file.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    foreign_url = database("foreign", template=False)
    with psycopg.connect(foreign_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE orders (id BIGINT PRIMARY KEY, item TEXT)")
        conn.execute("INSERT INTO orders VALUES (1, 'x')")
    foreign = _dump_of(foreign_url, tmp_path / "foreign.dump")
    office.conn.execute("UPDATE kefu_meta SET value = '99' WHERE key = 'format'")
    newer = _dump_of(office.url, tmp_path / "newer.dump")
    office.conn.execute("UPDATE kefu_meta SET value = '1' WHERE key = 'format'")
    cases = [("bk.not_pgdump", text), ("bk.not_pgdump", sqlite_file), ("bk.damaged_dump", truncated),
             ("bk.not_kefu", foreign), ("bk.newer", newer)]
    before = names(office)
    for code, path in cases:
        with pytest.raises(BackupRefused) as refused:
            backup.restore(office, path)
        assert refused.value.code == code, path.name
        assert "未做任何更改" in refused.value.message("zh") and "Nothing was changed" in refused.value.message("en")
        assert names(office) == before
    assert not (tmp_path / "backups").exists() or not list((tmp_path / "backups").glob("kefu-before-restore-*"))


def test_a_dump_the_registers_cannot_open_is_undone_from_the_data_kept_aside(office, make_user, tmp_path):
    host = make_user("staff")
    add_visits(office, host, 2, "原有")
    office.conn.execute("ALTER TABLE visitors ADD COLUMN car_plate TEXT")
    office.conn.execute("UPDATE visitors SET car_plate = '粤A12345'")
    other_registers = _dump_of(office.url, tmp_path / "other.dump")
    office.conn.execute("ALTER TABLE visitors DROP COLUMN car_plate")
    add_visits(office, host, 1, "之后")
    before = names(office)
    with pytest.raises(BackupRefused) as refused:
        backup.restore(office, other_registers)
    assert refused.value.code == "bk.schema" and "car_plate" in refused.value.message("en")
    assert names(office) == before and "car_plate" not in office.columns("visitors")


def test_a_day_gets_one_dump_and_only_the_newest_stay(office, tmp_path):
    folder = tmp_path / "daily"
    for day in range(1, 5):
        assert backup.daily(office, folder, keep=2, now=datetime(2026, 11, day, 2, 0)) is not None
    assert backup.daily(office, folder, keep=2, now=datetime(2026, 11, 4, 18, 0)) is None       # one a day
    (folder / "kefu-20261105-020000.dump.partial").write_bytes(b"cut off")
    backup.daily(office, folder, keep=2, now=datetime(2026, 11, 5, 2, 0))
    assert sorted(p.name for p in folder.iterdir()) == ["kefu-20261104-020000.dump", "kefu-20261105-020000.dump"]


def test_the_daily_job_needs_no_database_file_and_runs_once_at_a_time(office, tmp_path):
    second = Store(office.url, office.sheets, office.settings)
    try:
        with jobs.only_one_of(office, "backup") as first_mine:
            with jobs.only_one_of(second, "backup") as second_mine:
                assert first_mine and not second_mine                   # another process of the office: later
        with jobs.only_one_of(second, "backup") as mine:
            assert mine                                                 # given back when the first is done
    finally:
        second.close()
    assert not list(Path.cwd().glob("None.*"))
    backup.keep_daily(office, every_seconds=3600)
    deadline = time.time() + 60
    while not backup.backups(tmp_path / "backups") and time.time() < deadline:
        time.sleep(0.05)
    assert [b.path.suffix for b in backup.backups(tmp_path / "backups")] == [".dump"]


def test_backup_and_restore_from_the_command_line(office, make_user, tmp_path):
    host = make_user("staff")
    add_visits(office, host, 2)
    office.close()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = lambda *args: subprocess.run([sys.executable, "-m", "kefu", "--db", office.url, *args],  # noqa: E731
                                       cwd=ROOT, env=env, capture_output=True, text=True)
    made = run("backup", "-o", str(tmp_path / "cli.dump"))
    assert made.returncode == 0 and "backup written" in made.stdout, made.stderr
    office.conn.execute("DELETE FROM visitors")
    office.close()
    restored = run("restore", str(tmp_path / "cli.dump"))
    assert restored.returncode == 0, restored.stderr
    assert count(office) == 2
    refused = run("restore", str(tmp_path / "missing.dump"))
    assert refused.returncode == 1 and "missing.dump" in refused.stderr


def test_the_daily_backups_of_a_postgresql_database_go_into_the_ignored_data_folder(store):
    """No database file to sit beside: a relative [backup] folder is taken in data/ beside office.toml, the folder
    the embedded default keeps its file in (.gitignore has data/), never the project's own folder."""
    from kefu import config
    home = config.config_path().resolve().parent
    assert backup.folder_of(store) == home / "data" / store.settings.backup_folder
