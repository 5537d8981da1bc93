"""make bench: speed figures of the store at scale, printed with their row counts.

Not a test: nothing here asserts a time. BENCH_PART=tickets builds and measures the ticket log alone;
BENCH_PART=dashboard builds the same ticket log and measures only the dashboard (on both stores);
BENCH_PART=imports imports 100,000-row files (a GBK CSV of archives, an XLSX of visits) onto the demo office;
BENCH_PART=load runs 8 writer processes and 20 screen sessions at once on the demo office (bench/load.py).
With PostgreSQL installed (Debian's package; BENCH_PG=0 leaves it out), a throwaway cluster (tests/pgcluster.py)
runs beside: the dashboard and the writers are measured again on a copy of the same office there (bench/pgcopy.py),
and the figures that decide when an office moves on are printed again at the end, side by side (bench/side.py).
BENCH_SCALE sets the size as `seed --scale` does (default
1,000,000: 1,000,000 tickets with their steps, 200,000 customer archives with 2,000,000 transactions, and
300,000 visits), on top of the demo office (20,000 tickets of the past year).

Ticket figures: the intake save (ticket number, customer found by phone, SLA due times on the working
calendar, escalation check, the ticket and its intake step with their audit rows, in one transaction),
the first page of each work list (open, overdue, due soon, follow-up calls, escalations), and last
month's complaint and inquiry reports (kefu.reports).
"""
from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

from kefu import auth, config
from kefu.exporting import csv_bytes
from kefu.sheets import load_sheets
from kefu.store import Query, Store
from bench import pgcopy, side
from seed.demo import scale, scale_tickets, seed_demo

STORES = ("SQLite", "PostgreSQL")


def median_ms(action, repeat: int = 30) -> float:
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


def count(store: Store, table: str) -> int:
    return store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def postgresql():
    """A throwaway PostgreSQL cluster for the run (its URL), or None when it is left out or not installed."""
    if os.environ.get("BENCH_PG") == "0":
        return nullcontext(None)
    if not pgcopy.available():
        print("PostgreSQL figures left out: PostgreSQL is not installed (apt-get install postgresql)")
        return nullcontext(None)
    return pgcopy.server()


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)          # each figure shown as it is measured, also through a pipe
    with postgresql() as server:
        if server:
            print(f"PostgreSQL beside SQLite: {pgcopy.describe(server)}")
        try:
            run(server)
        finally:
            side.show()


def run(server: str | None) -> None:
    size = int(os.environ.get("BENCH_SCALE", "1000000"))
    reuse = os.environ.get("BENCH_DB")                # a database an earlier `BENCH_KEEP=1 make bench` kept
    folder = Path(reuse).parent if reuse else Path(tempfile.mkdtemp(prefix="kefu-bench-"))
    store = Store(reuse or folder / "bench.db", load_sheets(), config.load())
    store.migrate()
    tickets_only = os.environ.get("BENCH_PART") in ("tickets", "dashboard")   # the ticket log alone, `size` tickets
    if os.environ.get("BENCH_PART") in ("imports", "load"):     # imports, or concurrent load, onto the demo office
        if not reuse:
            seed_demo(store)
        if os.environ["BENCH_PART"] == "load":
            from bench import load
            load.run(store, server)
        else:
            from bench import imports
            imports.run(store)
        store.close()
        if not os.environ.get("BENCH_KEEP") and not reuse:
            shutil.rmtree(folder)
        return
    if not reuse:
        seed_demo(store)
        start = time.perf_counter()
        added = scale_tickets(store, size) if tickets_only else scale(store, size)
        seconds = time.perf_counter() - start
        rows = sum(added.values())
        print(f"scale {size:,}: added " + ", ".join(f"{v:,} {k}" for k, v in added.items()))
        print(f"bulk insert (validated, audited, batches of 5,000): {rows / seconds:,.0f} rows/s over {seconds:,.0f} s")
    print(f"file {store.path.stat().st_size / 2**20:,.0f} MiB, {count(store, 'kefu_audit'):,} audit rows")
    if tickets_only:
        if os.environ["BENCH_PART"] == "tickets":
            ticket_log(store)
        dashboard(store)
        dashboard_on_postgresql(store, server)
        store.close()
        if not os.environ.get("BENCH_KEEP") and not reuse:
            shutil.rmtree(folder)
        return
    archives(store)
    ticket_log(store)
    dashboard(store)
    copied = dashboard_on_postgresql(store, server)
    total = count(store, "visitors")

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
        ("search 2 Chinese characters (short-term index)", Query(search=name_start)),
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
    from bench import imports, load
    load.run(store, server, copied)
    imports.run(store)
    store.close()
    if not os.environ.get("BENCH_KEEP") and not reuse:
        shutil.rmtree(folder)
    else:
        print(f"database kept: {store.path}")


def archives(store: Store) -> None:
    """Customer archives: search's first page and the detail screen's queries, as staff and manager."""
    customers_total, trades = count(store, "customers"), count(store, "transactions")
    print(f"customer archives: {customers_total:,} customers, {trades:,} transactions")
    manager = auth.get_user(store, store.conn.execute("SELECT id FROM kefu_users WHERE username = 'demo-manager'").fetchone()[0])
    staff = auth.get_user(store, store.conn.execute("SELECT id FROM kefu_users WHERE username = 'demo-staff'").fetchone()[0])
    sample = store.conn.execute("SELECT name, contact, code FROM customers WHERE id = ?", (customers_total // 2,)).fetchone()
    from kefu.pinyin import search_key
    searches = [("no search (the screen opening)", ""), ("name, 3+ characters", sample[0][:4]), ("contact, 2 characters", sample[1][:2]),
                ("pinyin of the contact", search_key([sample[1]]).split()[0]),
                ("pinyin initials, 2 letters", search_key([sample[1]]).split()[1][:2]), ("code", sample[2]),
                ("English", "hotel")]
    for who, user in (("manager", manager), ("staff", staff)):
        for name, text in searches:
            query = Query(search=text)
            found = store.query("customers", user, query).total
            ms = median_ms(lambda: store.query("customers", user, query), 15)
            print(f"archive list as {who}, {name} ({text!r}): first page median {ms:.1f} ms "
                  f"({found:,} of {customers_total:,} match)")
    from kefu import customers
    ids = [r[0] for r in store.conn.execute("SELECT id FROM customers ORDER BY random() LIMIT 50")]
    picks = iter(ids * 10)

    def detail():
        customer_id = next(picks)
        store.get("customers", customer_id, manager)
        customers.summary(store, manager, customer_id)
        for child in customers.CHILDREN:
            store.query(child, manager, Query(filters={"customer": customer_id}, page_size=50))

    print(f"archive detail (record, totals, three logs' first pages): median {median_ms(detail, 50):.1f} ms "
          f"({customers_total:,} customers, {trades:,} transactions)")


def ticket_log(store: Store) -> None:
    """Tickets: the intake save, the work lists' first pages, and a monthly report."""
    from datetime import datetime

    from kefu import tickets
    total, steps = count(store, "tickets"), count(store, "ticket_events")
    print(f"ticket log: {total:,} tickets, {steps:,} steps")
    user = lambda name: auth.get_user(store, store.conn.execute(  # noqa: E731
        "SELECT id FROM kefu_users WHERE username = ?", (name,)).fetchone()[0])
    staff, manager = user("demo-staff"), user("demo-manager")
    caller = store.conn.execute("SELECT coalesce(mobile, phone) FROM customers WHERE id = ?",
                                (count(store, "customers") // 3,)).fetchone()[0]
    counter = iter(range(10**9))

    def intake():
        n = next(counter)
        tickets.intake(store, staff, {"channel": "hotline", "kind": "complaint", "category": "speed",
                                      "severity": "normal", "caller_name": "基准来电", "caller_phone": caller,
                                      "subject": f"报修三天无人上门（基准{n}）",
                                      "description": "客户三天前报修厨房下水道堵塞，至今无人上门处理。"})

    print(f"ticket intake save (number, customer by phone, SLA due times, ticket + intake step + audit): "
          f"median {median_ms(intake, 200):.2f} ms ({total:,} tickets)")
    total = count(store, "tickets")
    tz = store.settings.tz
    for name in ("open", "overdue", "due_soon", "follow_up", "escalations"):
        query = tickets.queue(name, manager, tz=tz)
        found = store.query("tickets", manager, query).total
        ms = median_ms(lambda: store.query("tickets", manager, tickets.queue(name, manager, tz=tz)), 15)
        print(f"ticket list '{name}' as manager, first page: median {ms:.1f} ms ({found:,} of {total:,} tickets)")
    query = tickets.queue("mine", staff, tz=tz)
    found = store.query("tickets", staff, query).total
    ms = median_ms(lambda: store.query("tickets", staff, tickets.queue("mine", staff, tz=tz)), 15)
    print(f"ticket list 'mine' as staff, first page: median {ms:.1f} ms ({found:,} of {total:,} tickets)")
    from kefu import reports
    start, end = reports.preset("last_month", datetime.now(tz).date())
    for name in ("complaint", "inquiry"):
        report = reports.ticket_report(store, manager, start, end, name=name)
        ms = median_ms(lambda: reports.ticket_report(store, manager, start, end, name=name), 5)
        print(f"monthly {name} report for {start:%Y-%m} (one pass over the month's tickets): median {ms:.0f} ms "
              f"({report.total:,} of {total:,} tickets)")


def dashboard(store: Store, column: str = STORES[0]) -> tuple:
    """The manager's morning: the default dashboard (this month against last, the 12-month weekly trend,
    the quarter's ranking) from kefu.kpi, uncached and cached, against the naive pandas way (on the SQLite
    file). Returns the view's main figures (tickets this month and last, per week, handled per person), which
    must be the same on either store for the same rows."""
    import multiprocessing
    import resource
    from datetime import datetime

    from bench import naive
    from kefu import kpi
    kpi.prepare(store)
    counts = {name: count(store, name) for name in ("tickets", "customers", "visitors", "members", "surveys")}
    print(f"dashboard on {column} over " + ", ".join(f"{n:,} {name}" for name, n in counts.items()))
    manager = auth.get_user(store, store.conn.execute("SELECT id FROM kefu_users WHERE username = 'demo-manager'")
                            .fetchone()[0])
    rules = kpi.load_rules()
    today = datetime.now(store.settings.tz).date()
    year, quarter = kpi.quarter_of(today)
    parts = {
        "overview cards, this month vs last": lambda: kpi.overview(store, manager, "month", today, rules=rules),
        f"ticket trend, {rules.trend_months} months by week and kind": lambda: kpi.trend(store, manager, today, rules=rules),
        f"staff ranking {year} Q{quarter}": lambda: kpi.staff_ranking(store, manager, year, quarter, rules=rules),
    }

    def uncached(action):
        def run():
            kpi.CACHE.clear()
            action()
        return run
    total = 0.0
    for name, action in parts.items():
        ms = median_ms(uncached(action), 9)
        total += ms
        print(f"dashboard {name}: median {ms:.1f} ms")
    everything = median_ms(uncached(lambda: [action() for action in parts.values()]), 9)
    print(f"dashboard default view, all queries, uncached: median {everything:.1f} ms (parts add up to {total:.1f} ms)")
    idle = median_ms(lambda: [action() for action in parts.values()], 50)
    print(f"dashboard refresh with no new data (cached per data version): median {idle:.2f} ms")
    on = f"({counts['tickets']:,} tickets)"
    side.put(STORES, "dashboard default view, uncached (median)", column, f"{everything:,.1f} ms {on}")
    side.put(STORES, "dashboard refresh, cached (median)", column, f"{idle:.2f} ms {on}")
    figures = dashboard_figures(store)
    if store.url:                        # the naive way reads the SQLite file
        return figures
    month = kpi.period("month", today)
    args = (str(store.path), month, kpi.previous("month", *month), naive.weeks_back(today, rules.trend_months),
            kpi.quarter_bounds(year, quarter))
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        figures, naive_ms, naive_kib = pool.apply(naive.timed, (args,))
    ours = kpi.overview(store, manager, "month", today, rules=rules).current.tickets
    print(f"naive way (pandas reads the five tables, then groups): {naive_ms:,.0f} ms, peak {naive_kib / 1024:,.0f} MiB "
          f"in its own process; kefu.kpi is {naive_ms / everything:,.0f} times faster "
          f"(this month's tickets: naive {figures['tickets']:,}, kpi {ours:,})")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"benchmark process peak memory: {peak:,.0f} MiB")
    return figures


def dashboard_on_postgresql(store: Store, server: str | None) -> str | None:
    """The same dashboard on PostgreSQL, over a copy of the same rows, its figures checked against SQLite's.
    Returns the copy's URL (the load's writers start from a clone of it)."""
    if not server:
        return None
    on_sqlite = dashboard_figures(store)
    target, rows, seconds = pgcopy.copy_office(store, pgcopy.fresh_database(server, "kefu_bench"))
    print(f"copied to PostgreSQL: {rows:,} rows in {seconds:,.0f} s (COPY, indexes built after, analysed)")
    side.put(STORES, "the office copied from the file (COPY, indexes built after)", STORES[1],
             f"{seconds:,.0f} s ({rows:,} rows)")
    try:
        on_postgresql = dashboard(target, STORES[1])
    finally:
        target.close()
    same = on_postgresql == on_sqlite
    print(f"dashboard figures on PostgreSQL the same as on SQLite (tickets this month and last, per week, "
          f"handled per person): {'yes' if same else 'NO'}")
    if not same:
        print(f"  SQLite {on_sqlite[:2]}, PostgreSQL {on_postgresql[:2]}")
    side.put(STORES, "dashboard figures the same on both", STORES[1], "yes" if same else "NO")
    return target.url


def dashboard_figures(store: Store) -> tuple:
    """The figures dashboard() returns, without timing anything (for the comparison with the copy)."""
    from datetime import datetime

    from kefu import kpi
    manager = auth.get_user(store, store.conn.execute("SELECT id FROM kefu_users WHERE username = 'demo-manager'")
                            .fetchone()[0])
    rules = kpi.load_rules()
    today = datetime.now(store.settings.tz).date()
    year, quarter = kpi.quarter_of(today)
    kpi.CACHE.clear()
    now = kpi.overview(store, manager, "month", today, rules=rules)
    return (now.current.tickets, now.before.tickets,
            [sum(week) for week in zip(*kpi.trend(store, manager, today, rules=rules).counts.values())],
            sorted((s.key, s.handled) for s in kpi.staff_ranking(store, manager, year, quarter, rules=rules)))


if __name__ == "__main__":
    main()
