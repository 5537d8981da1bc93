"""Load figures: eight desks writing at once, and twenty people looking at screens at once.

Writers: WRITERS processes, each a different member of staff, register visitors (kefu.visitors.register, what
the visitor screen calls: one BEGIN IMMEDIATE transaction with the record, its search keys and its audit
row) as fast as they can for BENCH_LOAD_SECONDS, on a copy of the office. Printed: writes, writes/s
sustained, latency per write (p50/p95/max), and how long a write waited for another writer's lock.
SQLite's busy handler waits inside BEGIN IMMEDIATE and does not report its retries; the wait is measured
with a statement trace (from BEGIN IMMEDIATE issued to the next statement starting). The busy handler
polls (sleeps growing to 100 ms, no queue), so with more writers than cores an unlucky write now and then
waits far longer than the p95: that is the max. With a PostgreSQL server (make bench starts a throwaway one) the
same desks then write to a copy of the same office there, where BEGIN IMMEDIATE is a transaction-scoped advisory
lock (kefu/pg.py) that queues the writers: the wait is the time BEGIN IMMEDIATE takes. On both stores each
visit a desk was told was saved is looked for afterwards: none may be missing, none there twice, and each has
its audit row.

Screens: SESSIONS Streamlit sessions (AppTest, logged in as the manager, one process each: AppTest cannot
run in threads) rerun the ticket list, then the dashboard, at the same time. Printed: per-render p50/p95
and the wall time of the round, against one session alone.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path

from kefu import auth, backup, config, visitors
from kefu.sheets import load_sheets
from kefu.store import Store

ROOT = Path(__file__).resolve().parent.parent
WRITERS = 8
SESSIONS = 20
RENDERS = 5                         # reruns each session makes, timed, after logging in and opening the page
PAGES = ("tickets", "dashboard")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))] if ordered else float("nan")


def spread(values: list[float]) -> str:
    return f"p50 {percentile(values, 0.5):.1f} ms, p95 {percentile(values, 0.95):.1f} ms, max {max(values):.1f} ms"


# -- writers ----------------------------------------------------------------------------------------
NAME = "负载"                                         # what every benchmark visitor's name begins with


def _visit(name: str, phone: str, host: int) -> dict:
    return {"visitor_name": name, "organisation": "海棠湾酒店管理有限公司", "gender": "female",
            "identity": "采购主管", "phone": phone, "purpose": "business", "host": host}   # what is asked on arrival


def _desk(location: str, user_id: int, seconds: float, ready, start, results) -> None:
    """One desk: one visit to warm up (a worker that has run a while has its statements prepared: on
    PostgreSQL each distinct statement is translated once per process), then register visitors until the time
    is up; report each write's latency and lock wait, and the names of the visits it was told were saved."""
    store = Store(location, load_sheets(), config.load())
    clerk = auth.get_user(store, user_id)
    visitors.register(store, clerk, _visit(f"预热{user_id}", f"137{user_id % 100:02d}000000", clerk.id), arrive_now=True)
    waits = []
    if store.url:                                      # PostgreSQL: BEGIN IMMEDIATE returns once the lock is held
        conn = store.conn
        execute = conn.execute

        def timed(sql, params=()):
            if not sql.startswith("BEGIN IMMEDIATE"):
                return execute(sql, params)
            t0 = time.perf_counter()
            cursor = execute(sql, params)
            waits.append((time.perf_counter() - t0) * 1000)
            return cursor
        conn.execute = timed
    else:
        began = []                                     # when this write's BEGIN IMMEDIATE was issued

        def trace(statement: str) -> None:
            now = time.perf_counter()
            if statement == "BEGIN IMMEDIATE":
                began.append(now)
            elif began:
                waits.append((now - began.pop()) * 1000)
        store.conn.set_trace_callback(trace)
    latencies, failures, saved, n = [], [], [], 0
    ready.wait(timeout=300)
    start.wait(timeout=120)
    stop_at = time.perf_counter() + seconds
    while time.perf_counter() < stop_at:
        t0 = time.perf_counter()
        name = f"{NAME}{user_id}-{n}"
        try:
            visitors.register(store, clerk, _visit(name, f"139{user_id % 100:02d}{n % 1000000:06d}", clerk.id),
                              arrive_now=True)
            saved.append(name)
        except Exception as exc:                        # noqa: BLE001 - counted and shown, not hidden
            failures.append(f"{type(exc).__name__}: {exc}")
        latencies.append((time.perf_counter() - t0) * 1000)
        n += 1
    store.close()
    results.put((latencies, waits, failures, saved))


def _counted(store: Store) -> tuple[int, int]:
    return (store.conn.execute("SELECT count(*) FROM visitors").fetchone()[0],
            store.conn.execute("SELECT count(*) FROM kefu_audit").fetchone()[0])


def writers(store: Store, folder: Path, seconds: float, server: str | None = None, copied: str | None = None) -> None:
    """The eight desks on a copy of the office: a copy of the file, and with a PostgreSQL server a copy of the
    same office in a database there too (or a clone of `copied`, a copy of this office made earlier in the run),
    one after the other, each figure printed with its store's name."""
    from bench import side
    desks = [row[0] for row in store.conn.execute(
        "SELECT id FROM kefu_users WHERE role IN ('staff', 'supervisor') AND active = 1 ORDER BY id LIMIT ?",
        (WRITERS,))]
    assert len(desks) == WRITERS, desks
    targets = [("SQLite", Store(backup.backup_to(store, folder / "load-writes.db"), store.sheets, store.settings))]
    if server:
        from bench import pgcopy
        if copied:
            copy = Store(pgcopy.clone(copied, "kefu_load"), store.sheets, store.settings)
        else:
            copy, _, _ = pgcopy.copy_office(store, pgcopy.fresh_database(server, "kefu_load"))
        targets.append(("PostgreSQL", copy))
    for label, target in targets:
        figures = _write_at_once(target, desks, seconds, label)
        for measure, figure in figures.items():
            side.put(("SQLite", "PostgreSQL"), measure, label, figure)
        target.close()


def _write_at_once(target: Store, desks: list[int], seconds: float, label: str) -> dict[str, str]:
    context = get_context("spawn")
    ready, start, results = context.Barrier(WRITERS + 1), context.Barrier(WRITERS + 1), context.Queue()
    processes = [context.Process(target=_desk, args=(str(target.location), user_id, seconds, ready, start, results))
                 for user_id in desks]
    for process in processes:
        process.start()
    ready.wait(timeout=300)                            # every desk has warmed up: count, then let them go
    visits_before, audit_before = _counted(target)
    start.wait(timeout=120)
    outcomes = [results.get(timeout=seconds + 300) for _ in processes]
    for process in processes:
        process.join()
    latencies = [ms for lat, _, _, _ in outcomes for ms in lat]
    waits = [ms for _, wait, _, _ in outcomes for ms in wait]
    failures = [f for _, _, fails, _ in outcomes for f in fails]
    saved = [name for _, _, _, names in outcomes for name in names]
    visits_after, audit_after = _counted(target)
    held = dict(target.conn.execute("SELECT visitor_name, count(*) FROM visitors WHERE visitor_name LIKE ? "
                                    "GROUP BY visitor_name", (NAME + "%",)).fetchall())
    lost = [name for name in saved if name not in held]
    doubled = [name for name, times in held.items() if times > 1]
    unreported = [name for name in held if name not in set(saved)]     # saved though its desk was told it failed
    intact = target.conn.execute("PRAGMA integrity_check").fetchone()[0] if not target.url else None
    writes = len(saved)
    waited = [ms for ms in waits if ms >= 1]
    print(f"load on {label}: {WRITERS} writer processes registering visitors for {seconds:.0f} s onto "
          f"{visits_before:,} visits: {writes:,} writes, {writes / seconds:,.0f} writes/s sustained; per write "
          f"{spread(latencies)}; {len(failures)} failed{' (' + failures[0] + ')' if failures else ''}")
    print(f"load on {label}: waiting for another writer's lock (BEGIN IMMEDIATE): {len(waited):,} of {len(waits):,} "
          f"writes waited 1 ms or more; {spread(waits)}")
    print(f"load on {label}: rows after: {visits_after:,} visits (+{visits_after - visits_before:,}), audit "
          f"+{audit_after - audit_before:,}; of the {writes:,} saved, {len(lost)} lost, {len(doubled)} duplicated, "
          f"{len(unreported)} saved though reported failed" + (f"; integrity_check {intact}" if intact else ""))
    whole = not (lost or doubled or unreported) and visits_after - visits_before == audit_after - audit_before == writes
    return {f"{WRITERS} writers for {seconds:.0f} s: writes/s sustained": f"{writes / seconds:,.0f} ({writes:,} writes)",
            f"{WRITERS} writers: per write p50 / p95": f"{percentile(latencies, 0.5):.1f} / {percentile(latencies, 0.95):.1f} ms",
            f"{WRITERS} writers: lock wait p95 / max": f"{percentile(waits, 0.95):.1f} / {max(waits):,.0f} ms",
            f"{WRITERS} writers: visits after (audit rows added)":
                f"{visits_after:,} (+{audit_after - audit_before:,})",
            f"{WRITERS} writers: lost / duplicated / failed": f"{len(lost)} / {len(doubled)} / {len(failures)}"
                                                               + ("" if whole else " (rows and audit do not match)")}


# -- sessions ---------------------------------------------------------------------------------------
def _session(db_path: str, config_path: str, renders: int, start, results) -> None:
    """One person at a screen, in a process of its own: log in as the manager, then for each page open it
    and, once every session has, rerun it `renders` times, timed."""
    os.environ["KEFU_DB"], os.environ["KEFU_CONFIG"] = db_path, config_path
    from tests.apptest import login, open_page          # how the tests log a user in under AppTest
    for name in ("scriptrunner_utils.script_run_context", "state.session_state_proxy"):   # bare-mode notices, x20
        logging.getLogger(f"streamlit.runtime.{name}").addFilter(lambda record: record.levelno >= logging.ERROR)
    figures = {}
    try:
        at = login("demo-manager")
        for page in PAGES:
            at = open_page(at, page)
            start.wait(timeout=600)
            began, timings = time.time(), []
            for _ in range(renders):
                t0 = time.perf_counter()
                at.run()
                timings.append((time.perf_counter() - t0) * 1000)
            problem = str(at.exception[0].value) if at.exception else None
            figures[page] = (timings, began, time.time(), problem)
    except Exception as exc:                             # noqa: BLE001 - reported with the figures
        start.abort()
        figures["failed"] = f"{type(exc).__name__}: {exc}"
    results.put(figures)


def _sessions_at_once(db_path: str, config_path: str, count: int) -> list[dict]:
    context = get_context("spawn")
    start, results = context.Barrier(count), context.Queue()
    processes = [context.Process(target=_session, args=(db_path, config_path, RENDERS, start, results))
                 for _ in range(count)]
    for process in processes:
        process.start()
    figures = [results.get(timeout=1200) for _ in processes]
    for process in processes:
        process.join()
    return figures


def sessions(store: Store, folder: Path) -> None:
    """AppTest patches Streamlit's one Runtime for the length of a run, so two AppTests cannot run in
    threads of one process (the second finds no Runtime): each session has a process of its own."""
    office = (ROOT / "office.toml").read_text(encoding="utf-8").replace("daily = true", "daily = false")
    (folder / "office.toml").write_text(office, encoding="utf-8")   # no daily backup copying the file meanwhile
    counts = {name: store.conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0] for name in ("tickets", "customers")}
    args = (str(store.path), str(folder / "office.toml"))
    alone = _sessions_at_once(*args, 1)[0]
    together = _sessions_at_once(*args, SESSIONS)
    failed = [f["failed"] for f in [alone, *together] if "failed" in f]
    if failed:
        print(f"load: {len(failed)} session(s) failed: {failed[:3]}")
        return
    for page in PAGES:
        renders = [ms for f in together for ms in f[page][0]]
        wall = max(f[page][2] for f in together) - min(f[page][1] for f in together)
        problems = [f[page][3] for f in [alone, *together] if f[page][3]]
        print(f"load: {SESSIONS} sessions rerunning the {page} page at once (manager, AppTest, one process each, "
              f"{RENDERS} reruns each; {counts['tickets']:,} tickets, {counts['customers']:,} archives): per render "
              f"{spread(renders)}; {len(renders)} renders in {wall:.1f} s ({len(renders) / wall:.1f}/s); one session "
              f"alone p50 {percentile(alone[page][0], 0.5):.1f} ms" + (f"; problems: {problems[:3]}" if problems else ""))


def run(store: Store, server: str | None = None, copied: str | None = None) -> None:
    """server: a PostgreSQL cluster's URL, where the writers run again on a copy of the office (a clone of
    `copied`, a database there that already holds a copy of this office, when given)."""
    seconds = float(os.environ.get("BENCH_LOAD_SECONDS", "10"))
    folder = Path(tempfile.mkdtemp(prefix="kefu-load-"))
    try:
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        writers(store, folder, seconds, server, copied)
        sessions(store, folder)
        from bench import servers               # the same twenty people against real servers: 1 worker, then N
        servers.run(store, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
