"""`make bench`'s PostgreSQL side at a tiny scale: the copy of an office it measures there is the same office
(every row, search that finds the same records, new rows taking new ids), and the side-by-side table shows
what was measured. No time is asserted: the figures themselves are `make bench`'s to print."""
from __future__ import annotations

import os

import pytest

from bench import pgcopy, side
from kefu import auth, config, visitors
from kefu.sheets import load_sheets
from kefu.store import Query, Store

from conftest import ASKED, PASSWORD


@pytest.fixture(scope="module")
def server():
    """The test cluster of `make test-pg`, else a throwaway one of the benchmark's own."""
    if os.environ.get("KEFU_TEST_PG"):
        yield os.environ["KEFU_TEST_PG"]
    elif pgcopy.available():
        with pgcopy.server() as url:
            yield url
    else:
        pytest.skip("PostgreSQL is not installed")


@pytest.fixture
def office(tmp_path):
    store = Store(tmp_path / "office.db", load_sheets(), config.load())
    store.migrate()
    manager = auth.get_user(store, auth.create_user(store, "manager1", "王经理", "manager", PASSWORD, auth.SYSTEM))
    for n, name in enumerate(["欧阳娜娜", "司马相如", "Zhang Wei"]):
        visitors.register(store, manager, {"visitor_name": name, "phone": f"1391234{n:04d}", "purpose": "business",
                                           "host": manager.id, **ASKED}, arrive_now=True)
    store.delete("visitors", 2, manager)
    yield store, manager
    store.close()


def test_the_copy_on_postgresql_holds_the_same_office(office, server, tmp_path):
    source, manager = office
    target, rows, _ = pgcopy.copy_office(source, pgcopy.fresh_database(server, f"bench_{tmp_path.name[-12:]}"))
    try:
        for table in ("visitors", "kefu_users", "kefu_audit"):
            held = lambda store: store.conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()  # noqa: E731
            assert held(target) == held(source), table
        assert rows >= 3 + 1 + 4
        # the short-gram index came across: a two-character name search finds the record on both stores
        for store in (source, target):
            assert [r["visitor_name"] for r in store.query("visitors", manager, Query(search="欧阳")).rows] == ["欧阳娜娜"]
            assert store.query("visitors", manager, Query(search="司马")).total == 0        # deleted stays deleted
        # a desk writing on the copy gets the next id, not one of the copied rows'
        new = visitors.register(target, manager, {"visitor_name": "新来访", "phone": "13912349999",
                                                  "purpose": "business", "host": manager.id, **ASKED})
        assert new == 4
        assert target.query("visitors", manager, Query(search="新来访")).total == 1
    finally:
        target.close()


def test_the_side_by_side_table_names_each_figure_with_its_store():
    side.clear()
    columns = ("SQLite", "PostgreSQL")
    side.put(columns, "dashboard default view", "SQLite", "36.5 ms (25,200 tickets)")
    side.put(columns, "dashboard default view", "PostgreSQL", "171.8 ms (25,200 tickets)")
    side.put(columns, "8 writers: writes/s", "SQLite", "469 (1,408 writes)")
    lines = side.table(columns)
    side.clear()
    assert lines[0].split() == ["SQLite", "PostgreSQL"]
    assert lines[1].split("  ")[0] == "dashboard default view"
    assert "36.5 ms (25,200 tickets)" in lines[1] and lines[1].endswith("171.8 ms (25,200 tickets)")
    assert lines[2].endswith("-")                      # not measured on PostgreSQL: shown as missing, not blank
    assert lines[1].index("171.8") == lines[0].index("PostgreSQL")
