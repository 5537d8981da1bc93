"""The demo office seeded on PostgreSQL (`KEFU_DB=postgresql://... make run` does this the first time): the same
moment gives the same office as on SQLite, record for record (tests/test_seed.py checks the SQLite one)."""
import pytest

from conftest import PG
from kefu import config
from kefu.sheets import load_sheets
from kefu.store import Store
from seed.demo import seed_demo
from test_seed import demo_now, snapshot, snapshot_of

pytestmark = pytest.mark.skipif(not PG, reason="PostgreSQL only (make test-pg)")


def test_the_demo_office_on_postgresql_is_the_one_on_sqlite(demo_file, database):
    office = Store(database(template=False), load_sheets(), config.load())
    office.migrate()
    counts = seed_demo(office, now=demo_now(demo_file))
    assert counts["tickets"] == 20000
    assert snapshot_of(office.conn) == snapshot(demo_file)
    office.close()
