"""The PostgreSQL side of `make bench`: a throwaway cluster (tests/pgcluster.py) and a fast copy of an office's
SQLite file into a fresh database of it, so both stores are measured on the same rows.

The copy is the benchmark's own (a bulk fill, not a migration tool): the database is migrated by the engine
(Store.migrate, so tables, indexes and search indexes are the engine's), then each table is filled from the file
with COPY, its secondary indexes dropped first and built again after (one build is much faster than a million
index updates), foreign-key checks off for the copy (the rows come from a consistent file, table by table), the
id sequences moved past the copied ids, and the tables analysed as autovacuum would. SQLite's short-gram
index (`<sheet>_grams`, an FTS5 table keyed by rowid) becomes PostgreSQL's grams table keyed by id.
"""
from __future__ import annotations

import glob
import time
from contextlib import contextmanager

from kefu.store import Store, quote_ident

# The cluster is run as an office would run it, not as the tests run theirs (fsync off): a commit is written
# to the WAL at once and flushed within a fraction of a second, as SQLite's WAL with synchronous=NORMAL is
# (a crash of the program loses nothing, a power cut may lose the last commits, neither corrupts).
DURABILITY = "-c fsync=on -c full_page_writes=on -c synchronous_commit=off"


def available() -> bool:
    return bool(glob.glob("/usr/lib/postgresql/*/bin/initdb"))


@contextmanager
def server():
    """The URL of a throwaway cluster's `postgres` database, for the length of the block."""
    from tests.pgcluster import cluster
    with cluster(DURABILITY) as url:
        yield url


def describe(url: str) -> str:
    import psycopg
    with psycopg.connect(url) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0].split()[0]
        buffers = conn.execute("SHOW shared_buffers").fetchone()[0]
    return f"PostgreSQL {version} (local, shared_buffers {buffers}, synchronous_commit off)"


def fresh_database(server_url: str, name: str) -> str:
    """An empty database `name` on the cluster (dropped first if there); returns its URL."""
    import psycopg
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {quote_ident(name)}")
    return server_url.rsplit("/", 1)[0] + "/" + name


def clone(url: str, name: str) -> str:
    """A new database `name` made from the one at `url` (its files copied by CREATE DATABASE ... TEMPLATE, much
    faster than a second copy of a large office); returns its URL."""
    import psycopg
    server, source = url.rsplit("/", 1)
    with psycopg.connect(server + "/postgres", autocommit=True) as admin:      # a template has no other sessions
        admin.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (source,))
        admin.execute(f"CREATE DATABASE {quote_ident(name)} TEMPLATE {quote_ident(source)}")
    return server + "/" + name


def copy_office(source: Store, url: str) -> tuple[Store, int, float]:
    """Migrate the database at `url` and fill it with every row of `source` (an SQLite store). Returns the
    PostgreSQL store, the rows copied and the seconds taken."""
    started = time.perf_counter()
    target = Store(url, source.sheets, source.settings)
    target.migrate()
    raw = target.conn.raw
    on_file = {r[0] for r in source.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    tables = [r[0] for r in raw.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
        "AND table_type = 'BASE TABLE' ORDER BY table_name")]
    raw.execute("SET session_replication_role = replica")      # no foreign-key triggers while tables fill
    raw.execute("SET maintenance_work_mem = '256MB'")
    copied = 0
    for table in tables:
        if table == "kefu_meta" or table not in on_file:       # kefu_meta: PostgreSQL's own, written by migrate
            continue
        copied += _copy_table(source, raw, table)
    raw.execute("RESET session_replication_role")
    for table in tables:
        raw.execute(f"VACUUM ANALYZE {quote_ident(table)}")
    return target, copied, time.perf_counter() - started


def _copy_table(source: Store, raw, table: str) -> int:
    columns = [r[0] for r in raw.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = %s ORDER BY ordinal_position", (table,))]
    grams = table.endswith("_grams") and columns == ["id", "grams"]
    picked = "rowid, grams" if grams else ", ".join(quote_ident(c) for c in columns)
    rows = source.conn.execute(f"SELECT {picked} FROM {quote_ident(table)}")
    indexes = raw.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() AND i.tablename = %s "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = to_regclass(quote_ident(i.indexname)))",
        (table,)).fetchall()
    count = 0
    with raw.transaction():
        for name, _ in indexes:
            raw.execute(f"DROP INDEX {quote_ident(name)}")
        raw.execute(f"DELETE FROM {quote_ident(table)}")
        names = ", ".join(quote_ident(c) for c in columns)
        with raw.cursor().copy(f"COPY {quote_ident(table)} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        for _, definition in indexes:
            raw.execute(definition)
        if "id" in columns:
            raw.execute(f"SELECT setval(pg_get_serial_sequence(%s, 'id'), coalesce(max(id), 0) + 1, false) "
                        f"FROM {quote_ident(table)}", (quote_ident(table),))
    return count
