"""Reliability: many writers at once, a writer killed mid-write, and hostile input through the store.

A backup killed midway is tests/test_backup.py's (test_a_backup_killed_midway_leaves_no_file_under_its_name),
an import killed midway tests/test_importing.py's; a field type's parse alone is tests/test_fields.py's.
"""
from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import threading
import time
import traceback
from datetime import datetime, timedelta, timezone
from multiprocessing import get_context

from hypothesis import HealthCheck, given, settings, strategies as st

from kefu import auth, config, visitors
from kefu.fields import TYPES, format_fen
from kefu.sheets import ValidationError, load_sheets
from kefu.store import Store
from conftest import ASKED

WRITERS, EACH = 8, 500


def count(path, sql: str, *params) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, params).fetchone()[0]


# -- 8 processes writing at once ------------------------------------------------------------------
def _register_visits(path: str, user_id: int, writer: int, how_many: int, start, failures) -> None:
    """One desk registering visitors as fast as it can, through the function the visitor screen calls."""
    try:
        store = Store(path, load_sheets(), config.load())
        clerk = auth.get_user(store, user_id)
        start.wait(timeout=600)             # 8 Pythons starting on 2 cores beside other tests: slow, not stuck
        for n in range(how_many):
            visitors.register(store, clerk, {"visitor_name": f"访客{writer}-{n}", "phone": f"1381234{writer}{n:03d}",
                                             "purpose": "business", "host": clerk.id, **ASKED}, arrive_now=True)
        store.close()
    except BaseException as exc:
        if not isinstance(exc, threading.BrokenBarrierError):
            start.abort()                   # the others stop waiting for this one: the cause is reported first
        failures.put(f"writer {writer}: {traceback.format_exc()}")
        raise


def test_eight_processes_writing_at_once_lose_nothing_and_nobody_sees_an_error(store, make_user):
    clerk = make_user("staff")
    store.close()
    context = get_context("spawn")
    start, failures = context.Barrier(WRITERS), context.Queue()
    writers = [context.Process(target=_register_visits, args=(str(store.path), clerk.id, n, EACH, start, failures))
               for n in range(WRITERS)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=900)
    errors = []
    while not failures.empty():
        errors.append(failures.get())
    errors.sort(key=lambda error: "BrokenBarrierError" in error)   # the cause first, then those it stopped
    assert errors == []                                    # no "database is locked", nothing at all
    assert [w.exitcode for w in writers] == [0] * WRITERS
    total = WRITERS * EACH
    assert count(store.path, "SELECT count(*) FROM visitors") == total
    assert count(store.path, "SELECT count(DISTINCT visitor_name) FROM visitors") == total
    assert count(store.path, "SELECT count(*) FROM kefu_audit WHERE sheet = 'visitors' AND action = 'create' "
                             "AND username = ? AND row_id IN (SELECT id FROM visitors)", clerk.username) == total
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# -- a writer killed at a random moment -----------------------------------------------------------
BATCH = 5


def _write_until_killed(path: str, user_id: int, round_no: int) -> None:
    """Insert one visit, insert a batch of BATCH in one transaction, update the previous visit: forever."""
    store = Store(path, load_sheets(), config.load())
    clerk = auth.get_user(store, user_id)
    previous = None
    for n in range(10**9):
        visit = store.insert("visitors", {"visitor_name": f"杀{round_no}-{n}", "phone": "13812345678",
                                          "purpose": "business", "host": clerk.id}, clerk)
        store.insert_many("visitors", [{"visitor_name": f"批{round_no}-{n}-{k}", "phone": "13812345678",
                                        "purpose": "inquiry", "host": clerk.id} for k in range(BATCH)], clerk)
        if previous:
            changes = {"record": f"第{n}次修改 " + "记" * (n % 300), "party_size": n % 200 + 1}
            store.update("visitors", previous, changes, clerk)
        previous = visit


def test_a_writer_killed_mid_write_leaves_a_sound_file_and_every_record_with_its_audit_row(store, make_user):
    clerk = make_user("staff")
    store.close()
    context = get_context("spawn")
    rng = random.Random()
    kills = 0
    for round_no in range(4):
        before = count(store.path, "SELECT count(*) FROM visitors")
        writer = context.Process(target=_write_until_killed, args=(str(store.path), clerk.id, round_no))
        writer.start()
        deadline = time.time() + 60
        while count(store.path, "SELECT count(*) FROM visitors") < before + 20 and time.time() < deadline:
            time.sleep(0.02)                                # writing for real now
        time.sleep(rng.uniform(0, 0.3))
        os.kill(writer.pid, signal.SIGKILL)
        writer.join()
        kills += writer.exitcode == -signal.SIGKILL
    assert kills == 4
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = dict(conn.execute("SELECT id, version FROM visitors"))
        created = [r[0] for r in conn.execute("SELECT row_id FROM kefu_audit WHERE sheet = 'visitors' "
                                              "AND action = 'create'")]
        updates = dict(conn.execute("SELECT row_id, count(*) FROM kefu_audit WHERE sheet = 'visitors' "
                                    "AND action = 'update' GROUP BY row_id"))
        batches = [n for _, n in conn.execute("SELECT substr(visitor_name, 1, length(visitor_name) - 2), count(*) "
                                              "FROM visitors WHERE visitor_name LIKE '批%' GROUP BY 1")]
        last_after = {row_id: json.loads(after) for row_id, after in conn.execute(
            "SELECT row_id, after FROM kefu_audit WHERE id IN (SELECT max(id) FROM kefu_audit WHERE sheet = 'visitors' "
            "AND action = 'update' GROUP BY row_id)")}
        stored = {r[0]: {"record": r[1], "party_size": r[2]}
                  for r in conn.execute("SELECT id, record, party_size FROM visitors WHERE version > 1")}
    assert len(rows) >= 80 and sorted(created) == sorted(rows)       # each record has its one create row
    assert all(version == 1 + updates.get(row_id, 0) for row_id, version in rows.items())
    assert set(batches) == {BATCH}                                  # a batch is whole or absent
    assert all(stored[row_id][k] == v for row_id, after in last_after.items() for k, v in after.items()
               if k in ("record", "party_size"))
    reopened = Store(store.path, load_sheets(), config.load())      # and the office works on
    assert reopened.insert("visitors", {"visitor_name": "之后", "phone": "13812345678", "purpose": "business",
                                        "host": clerk.id}, clerk)
    reopened.close()


# -- hostile input through the store ---------------------------------------------------------------
CHOICES = '[{ value = "a", en = "Apple", zh = "苹果" }, { value = "b", en = "Pear", zh = "梨" }]'


def every_type_sheet() -> str:
    """A register with one field of every field type (a ref points to the register itself)."""
    lines = ['name = "everything"', 'label = { en = "Everything", zh = "全部" }', 'title = "f_text"',
             'search = ["f_text", "f_longtext"]', 'pinyin = ["f_text"]',
             '[permissions]', 'manager = ["read", "create", "update", "delete", "export", "pii"]']
    for name in TYPES:
        lines += ["[[fields]]", f'name = "f_{name}"', f'type = "{name}"',
                  f'label = {{ en = "F-{name}", zh = "字段{name}" }}']
        if "choice" in name:
            lines.append(f"choices = {CHOICES}")
        if name == "ref":
            lines.append('sheet = "everything"')
    return "\n".join(lines) + "\n"


HOSTILE_TEXT = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1:A9)", "'; DROP TABLE everything; --", "\" OR 1=1 --",
                '{"a": 1}', '["a", "b"]', '["zzz"]', "[" * 100_000, "{" * 50_000, "null", "true", "\x00", "a\x00b",
                "\ud800", "a\udfffb", "\u202eevil\u202c", "\u200f\u200e", "\ufeffBOM", "١٢٣", "１２３", "٣.٥", "1e999999999",
                "-1e999999999", "1e-999999999", "NaN", "-inf", "Infinity", "9" * 5000, "0x10", "1_000", " 12 ",
                "２０２６-０１-０１", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0000-00-00",
                "2026-02-30", "😀" * 60, "苹果、梨", "apple,pear", "a;;b", "http://例子.中国/?q=<script>",
                "javascript:alert(1)", "li@例子.中国", "x@\ud800.com", "+86 138 1234 5678", "١٣٨١٢٣٤٥٦٧٨",
                "0.1", "19.99", "-0", "12.345", "¥1,280.50", "是", "否", "√", "\n\r\t", "  ", "\u3000"]
OFFSETS = st.sampled_from([None, timezone.utc, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))])
hostile = st.one_of(
    st.text(),                                                        # arbitrary unicode
    st.text(st.characters(codec=None, categories=["Cs", "Cc", "Cf", "Zs", "Mn"])),  # invisible and broken
    st.text(min_size=1, max_size=8).map(lambda s: s * (100_000 // len(s))),        # about 100,000 characters
    st.sampled_from(HOSTILE_TEXT),
    st.integers(), st.integers(min_value=2**62 - 2, max_value=2**64), st.sampled_from([10**400, -(10**400), 10**5000]),
    st.floats(), st.sampled_from([float("inf"), float("-inf"), float("nan"), 1e308, -0.0, 5e-324]),
    st.booleans(), st.none(), st.dates(), st.datetimes(timezones=OFFSETS),
    st.lists(st.one_of(st.text(max_size=5), st.integers(), st.none()), max_size=4),
)
def typed(manager_id: int) -> dict:
    """For each field type, values a user could well mean (the forms people type them in)."""
    phones = ["13812345678", "138 1234 5678", "+86 138-1234-5678", "010-62345678", "+44 7911 123456"]
    return {
        "text": st.text(st.characters(exclude_categories=["Cc", "Cs"]), max_size=200),
        "longtext": st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00\x07\x1b"),
                            max_size=300),
        "int": st.integers(-(2**62), 2**62) | st.integers(-(2**62), 2**62).map(str),
        "number": st.floats(allow_nan=False, allow_infinity=False) | st.floats(-1e9, 1e9).map(str),
        "money": st.decimals(-(10**10), 10**10, places=2).map(str) | st.integers(-(10**9), 10**9),
        "date": st.dates() | st.dates().map(str) | st.dates().map(lambda d: f"{d.year}年{d.month}月{d.day}日"),
        "datetime": st.datetimes(timezones=OFFSETS) | st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M")),
        "bool": st.sampled_from([True, False, 0, 1, "是", "否", "yes", "No", "√"]),
        "choice": st.sampled_from(["a", "b", "Apple", "梨", " apple ", "ＡＰＰＬＥ"]),
        "multichoice": st.lists(st.sampled_from(["a", "b", "梨", "Apple"]), max_size=3)
                       | st.sampled_from(["梨、苹果", "a,b", '["b", "a"]']),
        "phone": st.sampled_from(phones),
        "email": st.emails(),
        "url": st.sampled_from(["https://example.cn/a?b=1", "http://例子.中国/路径", "https://x.io/#frag"]),
        "rating": st.integers(1, 5) | st.integers(1, 5).map(str),
        "ref": st.integers(1, 30),
        "user": st.sampled_from([manager_id, str(manager_id), manager_id + 1, 0]),
    }


SQL_TYPES = {"INTEGER": int, "REAL": float, "TEXT": str}


def revalidates(store: Store, field, stored) -> bool:
    """The stored value is a value of its type: of the column's kind, and parsing it gives it back
    (money is stored in fen and typed in yuan)."""
    if stored is None:
        return True
    if type(stored) is not SQL_TYPES[field.sql]:
        return False
    return field.parse(format_fen(stored) if field.type_name == "money" else stored, store.ctx) == stored


def refused_by_name(sheet, exc: ValidationError) -> None:
    assert exc.problems
    for problem in exc.problems:
        assert problem.field in sheet.by_name
        for lang in ("en", "zh"):
            assert sheet.by_name[problem.field].label_in(lang) in exc.message_for(problem, lang)


def stored_row(store: Store, row_id: int) -> dict:
    cursor = store.conn.execute("SELECT * FROM everything WHERE id = ?", (row_id,))
    return dict(zip([d[0] for d in cursor.description], cursor.fetchone()))


def assert_sound(store: Store, sheet, row_id: int) -> None:
    row = stored_row(store, row_id)
    for field in sheet.fields:
        assert revalidates(store, field, row[field.name]), (field.name, row[field.name])
    after = json.loads(store.conn.execute("SELECT after FROM kefu_audit WHERE sheet = 'everything' AND row_id = ? "
                                          "ORDER BY id DESC LIMIT 1", (row_id,)).fetchone()[0])
    assert all(row[name] == value for name, value in after.items() if name in sheet.by_name)


def test_hostile_input_of_every_type_is_stored_valid_or_refused_by_field_name(sheet_store):
    store = sheet_store("everything", every_type_sheet())
    sheet = store.sheet("everything")
    assert {f.type_name for f in sheet.fields} == set(TYPES)
    manager = auth.get_user(store, auth.create_user(store, "boss", "Boss", "manager", None, auth.SYSTEM))
    base = store.insert("everything", {"f_text": "基准", "f_user": manager.id}, manager)
    meant = typed(manager.id)
    # Each field gets a value a user could mean or a hostile one, a few fields at a time: a record of
    # all-hostile fields would be refused for the first of them and say nothing about the others.
    one_field = st.sampled_from(sheet.fields).flatmap(
        lambda f: st.one_of(meant[f.type_name], meant[f.type_name], hostile).map(lambda value: (f.name, value)))
    record = st.lists(one_field, min_size=1, max_size=4).map(dict)
    outcomes = {"stored": 0, "refused": 0}

    @settings(max_examples=300, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(values=record, changes=record)
    def insert_then_update(values, changes):
        try:
            row_id = store.insert("everything", values, manager)
        except ValidationError as exc:
            refused_by_name(sheet, exc)
            outcomes["refused"] += 1
        else:
            assert_sound(store, sheet, row_id)
            outcomes["stored"] += 1
        try:
            store.update("everything", base, changes, manager)
        except ValidationError as exc:
            refused_by_name(sheet, exc)
        assert_sound(store, sheet, base)

    insert_then_update()
    assert outcomes["stored"] and outcomes["refused"], outcomes        # both kinds of input were tried
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_each_known_hostile_value_in_each_field_is_stored_valid_or_refused_by_field_name(sheet_store):
    """The values that once escaped as exceptions or hung, every one in every field: a surrogate (SQLite
    cannot encode it), an int of 5,000 digits (no str()), 10**400 (no float, no SQLite integer),
    "1e999999999" (int() of it takes minutes), 0001-01-01 at +14:00 (before the calendar in Shanghai),
    "[[[[..." 100,000 deep (json recursion)."""
    store = sheet_store("everything", every_type_sheet())
    sheet = store.sheet("everything")
    manager = auth.get_user(store, auth.create_user(store, "boss", "Boss", "manager", None, auth.SYSTEM))
    base = store.insert("everything", {"f_text": "基准"}, manager)
    giants = [10**400, -(10**400), 10**5000, 2**63, 2**64, 1e308, float("inf"), float("nan")]
    moments = [datetime(1, 1, 1), datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))), datetime.max,
               datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-12)))]
    for field in sheet.fields:
        for raw in [*HOSTILE_TEXT, *giants, *moments]:
            for write in (lambda: store.insert("everything", {field.name: raw}, manager),
                          lambda: store.update("everything", base, {field.name: raw}, manager)):
                try:
                    result = write()
                except ValidationError as exc:
                    refused_by_name(sheet, exc)
                else:
                    assert_sound(store, sheet, result if isinstance(result, int) else base)
