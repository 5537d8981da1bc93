"""Backups and restore: consistent while others write, complete or absent when cut off, daily with
rotation, and a restore that refuses a file it should not take, leaving the current data untouched."""
from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from multiprocessing import get_context
from pathlib import Path

import pytest

from kefu import auth, backup, config
from kefu.backup import BackupRefused
from kefu.errors import MigrationError
from kefu.sheets import load_sheets
from kefu.store import Store

ROOT = Path(__file__).resolve().parent.parent


def count(path, table: str) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def add_visits(store, host, n: int, name: str = "访客") -> None:
    store.insert_many("visitors", [{"visitor_name": f"{name}{i}", "phone": "13812345678", "purpose": "business",
                                    "host": host.id} for i in range(n)], auth.SYSTEM)


def _write_visits(path: str, host_id: int, started, stop, result) -> None:
    """Another process registering visits until told to stop; says when it has written its first."""
    store = Store(path, load_sheets(), config.load())
    written = 0
    while not stop.is_set():
        store.insert("visitors", {"visitor_name": f"并发{written}", "phone": "13812345678", "purpose": "business",
                                  "host": host_id}, auth.SYSTEM)
        written += 1
        started.set()
    store.close()
    result.put(written)


def test_a_backup_made_while_another_process_writes_is_consistent(store, make_user, tmp_path):
    host = make_user("staff")
    add_visits(store, host, 500)
    spawn = get_context("spawn")
    started, stop, result = spawn.Event(), spawn.Event(), spawn.Queue()
    writer = spawn.Process(target=_write_visits, args=(str(store.path), host.id, started, stop, result))
    writer.start()
    try:
        assert started.wait(timeout=300)                # writing for real (a Python starting on a busy machine)
        copies = [backup.backup_to(store, tmp_path / f"copy{n}.db") for n in range(3)]
    finally:
        stop.set()
    assert result.get(timeout=120) > 0                  # the writer ended by itself, after the copies
    writer.join(timeout=60)
    for copy in copies:
        with sqlite3.connect(copy) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            visits = conn.execute("SELECT count(*) FROM visitors").fetchone()[0]
            audited = conn.execute("SELECT count(*) FROM kefu_audit WHERE sheet = 'visitors' AND action = 'create'"
                                   ).fetchone()[0]
        assert visits == audited >= 500                    # every record with its audit row, none half-written
    assert backup.last_backup(store) is not None


def test_a_backup_killed_midway_leaves_no_file_under_its_name(demo_db, tmp_path):
    target = tmp_path / "kefu-backup.db"
    partial = target.with_name(target.name + ".partial")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "kefu", "--db", str(demo_db), "backup", "-o", str(target)],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not partial.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.001)
    assert partial.exists(), "the backup finished (or failed) before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not target.exists()                             # absent, not half a backup
    with sqlite3.connect(demo_db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    done = subprocess.run([sys.executable, "-m", "kefu", "--db", str(demo_db), "backup", "-o", str(target)],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert count(target, "tickets") == count(demo_db, "tickets") > 0 and not partial.exists()


def test_a_day_gets_one_backup_and_only_the_newest_stay(store, make_user, tmp_path):
    folder = tmp_path / "backups"
    for day in range(1, 6):
        assert backup.daily(store, folder, keep=3, now=datetime(2026, 11, day, 2, 0)) is not None
    assert backup.daily(store, folder, keep=3, now=datetime(2026, 11, 5, 18, 0)) is None     # one a day
    assert [b.at.day for b in backup.backups(folder)] == [5, 4, 3]
    (folder / "kefu-20261106-020000.db.partial").write_bytes(b"cut off")
    backup.daily(store, folder, keep=3, now=datetime(2026, 11, 6, 2, 0))
    assert sorted(p.name for p in folder.iterdir()) == ["kefu-20261104-020000.db", "kefu-20261105-020000.db",
                                                         "kefu-20261106-020000.db"]


def test_the_app_s_daily_backup_runs_in_a_thread_of_its_own(store, tmp_path):
    store.settings = config.Settings(**{**store.settings.__dict__, "backup_folder": str(tmp_path / "daily")})
    backup.keep_daily(store, every_seconds=3600)
    deadline = time.time() + 30
    while not backup.backups(tmp_path / "daily") and time.time() < deadline:
        time.sleep(0.05)
    assert len(backup.backups(tmp_path / "daily")) == 1


def test_a_restore_brings_the_backup_back_and_keeps_the_current_data_aside(store, make_user, tmp_path):
    host = make_user("staff")
    add_visits(store, host, 3, "备份前")
    saved = backup.backup_to(store, tmp_path / "saved.db")
    add_visits(store, host, 2, "备份后")
    assert count(store.path, "visitors") == 5
    aside = backup.restore(store, saved)
    assert count(store.path, "visitors") == 3
    names = {r[0] for r in store.conn.execute("SELECT visitor_name FROM visitors")}
    assert names == {"备份前0", "备份前1", "备份前2"}
    assert count(aside, "visitors") == 5 and aside.parent == store.path.parent   # the data before, kept
    other = Store(store.path, store.sheets, store.settings)                # a connection opened elsewhere sees it
    assert other.conn.execute("SELECT count(*) FROM visitors").fetchone()[0] == 3
    other.close()


def _refusal_cases(store, tmp_path) -> dict:
    good = backup.backup_to(store, tmp_path / "good.db")
    text = tmp_path / "notes.db"
    text.write_text("这不是数据库", encoding="utf-8")
    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT)")
        conn.execute("INSERT INTO orders (item) VALUES ('x')")
    newer = tmp_path / "newer.db"
    shutil.copy(good, newer)
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE kefu_meta SET value = '99' WHERE key = 'format'")
    other_registers = tmp_path / "other.db"
    shutil.copy(good, other_registers)
    with sqlite3.connect(other_registers) as conn:
        conn.execute("ALTER TABLE visitors ADD COLUMN car_plate TEXT")
        conn.execute("INSERT INTO visitors (visitor_name, phone, purpose, car_plate) VALUES ('x', '1', 'business', '粤A12345')")
    return {"bk.not_sqlite": text, "bk.damaged": truncated, "bk.not_kefu": foreign, "bk.newer": newer,
            "bk.schema": other_registers}


def test_a_file_that_is_not_a_sound_backup_is_refused_and_nothing_changes(store, make_user, tmp_path):
    host = make_user("staff")
    add_visits(store, host, 4)
    cases = _refusal_cases(store, tmp_path / "cases")
    before = count(store.path, "visitors")
    for code, path in cases.items():
        with pytest.raises(BackupRefused) as refused:
            backup.restore(store, path)
        assert refused.value.code == code, path.name
        assert "未做任何更改" in refused.value.message("zh") and "Nothing was changed" in refused.value.message("en")
    assert count(store.path, "visitors") == before
    assert not list(store.path.parent.glob("kefu-before-restore-*.db"))    # not even set aside


def test_the_store_refuses_to_open_a_file_of_a_newer_format(store, tmp_path):
    store.conn.execute("UPDATE kefu_meta SET value = '99' WHERE key = 'format'")
    with pytest.raises(MigrationError) as refused:
        store.migrate()
    assert "newer Kefu Desk" in str(refused.value)


def test_backup_and_restore_from_the_command_line(store, make_user, tmp_path):
    host = make_user("staff")
    add_visits(store, host, 2)
    store.close()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = lambda *args: subprocess.run([sys.executable, "-m", "kefu", "--db", str(store.path), *args],  # noqa: E731
                                       cwd=ROOT, env=env, capture_output=True, text=True)
    made = run("backup")
    assert made.returncode == 0 and "backup written" in made.stdout, made.stderr
    daily = backup.backups(store.path.parent / "backups")
    assert len(daily) == 1
    assert "already" in run("backup").stderr
    with sqlite3.connect(store.path) as conn:
        conn.execute("DELETE FROM visitors")
    restored = run("restore", str(daily[0].path))
    assert restored.returncode == 0, restored.stderr
    assert count(store.path, "visitors") == 2
    refused = run("restore", str(tmp_path / "missing.db"))
    assert refused.returncode == 1 and "missing.db" in refused.stderr


def test_the_backup_screen_for_the_administrator(demo_db):
    from apptest import login, open_page, texts
    at = open_page(login("demo-admin"), "backups")
    assert not at.exception
    shown = texts(at)
    assert "备份与恢复" in shown and "尚未做过备份。" in shown and "文件夹中尚无每日备份。" in shown
    assert "下载备份" in [b.label for b in at.get("download_button")]
