"""make bench: speed figures of the store on a large visitor book, printed with their row counts.

Not a test: nothing here asserts a time. BENCH_VISITS sets the size (default 100,000 visits).
"""
from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from kefu import auth, config
from kefu.exporting import csv_bytes
from kefu.sheets import load_sheets
from kefu.store import Query, Store
from seed.demo import scale, seed_demo


def median_ms(action, repeat: int = 30) -> float:
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


def main() -> None:
    visits = int(os.environ.get("BENCH_VISITS", "100000"))
    folder = Path(tempfile.mkdtemp(prefix="kefu-bench-"))
    store = Store(folder / "bench.db", load_sheets(), config.load())
    store.migrate()
    seed_demo(store)
    start = time.perf_counter()
    scale(store, visits)
    seconds = time.perf_counter() - start
    total = store.conn.execute("SELECT count(*) FROM visitors").fetchone()[0]
    audits = store.conn.execute("SELECT count(*) FROM kefu_audit").fetchone()[0]
    print(f"visitor book: {total:,} visits, {audits:,} audit rows, file {store.path.stat().st_size / 2**20:.0f} MiB")
    print(f"bulk insert (validated, audited, batches of 5,000): {visits / seconds:,.0f} rows/s")

    manager = auth.get_user(store, store.conn.execute("SELECT id FROM kefu_users WHERE role = 'manager'").fetchone()[0])
    host = manager.id
    counter = iter(range(10**9))
    one = lambda: store.insert("visitors", {"visitor_name": f"基准{next(counter)}", "phone": "13812345678",  # noqa: E731
                                            "purpose": "business", "host": host}, manager)
    print(f"single insert with audit row: median {median_ms(one, 200):.2f} ms ({total:,} rows)")
    total = store.conn.execute("SELECT count(*) FROM visitors").fetchone()[0]
    name_start = store.conn.execute("SELECT substr(visitor_name, 1, 2) FROM visitors WHERE id = 1000").fetchone()[0]
    cases = [
        ("first page, newest first", Query()),
        ("search 3+ Chinese characters (FTS5 trigram)", Query(search="有限公司")),
        ("search 2 Chinese characters (LIKE fallback)", Query(search=name_start)),
        ("search phone digits", Query(search="1381")),
        ("filter purpose + date range", Query(filters={"purpose": ["complaint"], "arrived_at": ("2026-01-01", "2026-06-30")})),
        ("page 50 of a filter", Query(filters={"purpose": ["business"]}, page=50)),
    ]
    for name, query in cases:
        found = store.query("visitors", manager, query).total
        print(f"{name}: median {median_ms(lambda: store.query('visitors', manager, query)):.1f} ms "
              f"({found:,} of {total:,} rows match)")
    query = Query(filters={"purpose": ["complaint"]})
    start = time.perf_counter()
    data = csv_bytes(store, "visitors", manager, query, "zh")
    lines = data.count(b"\n") - 1
    print(f"CSV export of {lines:,} rows: {(time.perf_counter() - start):.2f} s, "
          f"{len(data) / 2**20:.1f} MiB")
    store.close()


if __name__ == "__main__":
    main()
