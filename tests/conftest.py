"""Fixtures: a fresh database file per test, users of each role, and a seeded demo office."""
from __future__ import annotations

import os
import shutil
import sys
import uuid
from pathlib import Path

import pytest

from kefu import auth, config
from kefu.sheets import load_sheets
from kefu.store import Store

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct-horse-1"
# What the receptionist asks an arriving visitor besides name, phone and purpose (003 接待制度: 询问清楚来访者的
# 身份、性别、工作单位…; kefu/visitors.py arrival_asked): a visit written with its arrival needs these.
ASKED = {"identity": "客户代表", "gender": "female", "organisation": "海棠湾酒店"}


@pytest.fixture(autouse=True)
def main_module_kept():
    """AppTest runs app.py as `__main__` and leaves it there: a process a later test starts with multiprocessing's
    spawn would then run app.py instead of the test's own function. Each test gets the runner's main module back."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture(autouse=True, scope="session")
def never_the_office_database(tmp_path_factory):
    """No test reaches the office's own data/kefu.db: code that falls back to the default database file
    gets an empty one of its own, so `make test` followed by `make run` still opens the demo office."""
    folder = tmp_path_factory.mktemp("default")
    os.environ["KEFU_DB"] = str(folder / "kefu.db")
    # The office as shipped, but without the app's own daily backup: every app a test starts would copy
    # its demo database (tests/test_backup.py tests the daily backup itself).
    office = (ROOT / "office.toml").read_text(encoding="utf-8").replace("daily = true", "daily = false")
    assert "daily = false" in office
    (folder / "office.toml").write_text(office, encoding="utf-8")
    os.environ["KEFU_CONFIG"] = str(folder / "office.toml")
    config.load.cache_clear()


# `make test-pg` (tests/pgcluster.py) sets KEFU_TEST_PG to a throwaway PostgreSQL cluster: the engine tests then
# run each on a fresh PostgreSQL database instead of a fresh SQLite file.
PG = os.environ.get("KEFU_TEST_PG")


def pytest_collection_modifyitems(config, items):
    if PG:
        for item in items:
            if item.get_closest_marker("sqlite"):
                item.add_marker(pytest.mark.skip(reason="SQLite's own machinery"))


@pytest.fixture
def rules_copy(tmp_path, monkeypatch):
    """A copy of rules/ that the engine reads and writes ($KEFU_RULES): the repository's files are never touched."""
    folder = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", folder)
    monkeypatch.setenv("KEFU_RULES", str(folder))
    return folder


def book_today(location, name: str, *, minute: int = 0, host: str = "demo-supervisor") -> int:
    """An appointment of the office's today at 00:MM for `name`, with what is asked on arrival, hosted by a demo
    account: the first of the home screen's 今日预约 at any hour. The demo's own appointments follow the clock
    and, late in the office's evening, all fall on tomorrow."""
    from datetime import datetime, time as clock
    from kefu import visitors
    store = Store(location, load_sheets(), config.load())
    try:
        host_id = store.conn.execute("SELECT id FROM kefu_users WHERE username = ?", (host,)).fetchone()[0]
        today = datetime.now(store.settings.tz).date()
        return visitors.register(store, auth.SYSTEM, {
            "visitor_name": name, "phone": f"139{abs(hash(name)) % 10**8:08d}", "purpose": "business", "host": host_id,
            "appointment_at": datetime.combine(today, clock(0, minute), store.settings.tz), **ASKED})
    finally:
        store.close()


@pytest.fixture(scope="session")
def pg_template():
    """On PostgreSQL: a database migrated with the shipped sheets, which each test's database copies."""
    if not PG:
        return None
    import psycopg
    name = f"kefu_template_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    with psycopg.connect(PG, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    db = Store(PG.rsplit("/", 1)[0] + "/" + name, load_sheets(), config.load())
    db.migrate()
    db.close()
    return name


def new_pg_database(made: list[str], template: str = "template0", prefix: str = "t") -> str:
    """The URL of a new database on the test cluster (a copy of `template`), its name added to `made`."""
    import psycopg
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(PG, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    made.append(name)
    return PG.rsplit("/", 1)[0] + "/" + name


def drop_pg_databases(made: list[str]) -> None:
    if made:
        import psycopg
        with psycopg.connect(PG, autocommit=True) as admin:
            for name in made:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database(tmp_path, pg_template):
    """database(name, template=True) -> a new SQLite file in tmp_path, or on PostgreSQL a new database (a copy
    of the migrated template, or an empty one); dropped after the test."""
    made = []

    def make(name: str = "kefu", *, template: bool = True):
        if not PG:
            return tmp_path / f"{name}.db"
        return new_pg_database(made, pg_template if template else "template0")

    yield make
    drop_pg_databases(made)


@pytest.fixture
def store(database) -> Store:
    db = Store(database(), load_sheets(), config.load())
    db.migrate()
    yield db
    db.close()


@pytest.fixture
def make_user(store):
    """make_user(role) -> a logged-in-able User of that role (password PASSWORD)."""
    made = {}

    def make(role: str, username: str | None = None) -> auth.User:
        name = username or f"{role}{len(made) + 1}"
        user_id = auth.create_user(store, name, f"{role.title()} {len(made) + 1}", role, PASSWORD, auth.SYSTEM)
        made[name] = auth.get_user(store, user_id)
        return made[name]

    return make


MONEY_SHEET = '''name = "fees"
label = { en = "Fees", zh = "费用" }
[permissions]
manager = ["read", "create", "export"]
[[fields]]
name = "amount"
type = "money"
label = { en = "Amount", zh = "金额" }
'''


@pytest.fixture
def sheet_store(tmp_path, database):
    """sheet_store(name, toml) -> a fresh store over one register declared by the text of its sheet file."""
    opened = []

    def make(name: str, declaration: str) -> Store:
        schema = tmp_path / f"{name}-schema"
        schema.mkdir()
        (schema / f"{name}.toml").write_text(declaration, encoding="utf-8")
        db = Store(database(name, template=False), load_sheets(schema), config.load())
        db.migrate()
        opened.append(db)
        return db

    yield make
    for db in opened:
        db.close()


@pytest.fixture
def money_store(sheet_store) -> Store:
    """A store with one register, `fees`, holding one money field `amount`."""
    return sheet_store("fees", MONEY_SHEET)


@pytest.fixture(scope="session")
def demo_file(tmp_path_factory) -> Path:
    """The demo office, seeded once per test run; tests take a copy."""
    from seed.demo import seed_demo
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    db = Store(path, load_sheets(), config.load())
    db.migrate()
    seed_demo(db)
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return path


@pytest.fixture
def demo_db(demo_file, tmp_path, monkeypatch) -> Path:
    """A private copy of the demo office, also set as KEFU_DB for the app and the CLI."""
    path = tmp_path / "kefu.db"
    shutil.copy(demo_file, path)
    monkeypatch.setenv("KEFU_DB", str(path))
    return path


@pytest.fixture
def demo_store(demo_db) -> Store:
    db = Store(demo_db, load_sheets(), config.load())
    yield db
    db.close()


@pytest.fixture(scope="module")
def server(demo_file, tmp_path_factory):
    """`streamlit run serve.py` on a copy of the demo office, one per browser test module (tests/browser.py)."""
    from browser import Server, require_chromium
    require_chromium()
    db = tmp_path_factory.mktemp("browser") / "kefu.db"
    shutil.copy(demo_file, db)
    running = Server(db)
    running.db = db
    yield running
    running.stop()


@pytest.fixture(scope="module")
def chromium(server):
    """Debian's Chromium, headless, driven by Playwright."""
    from browser import launched_chromium
    with launched_chromium() as browser:
        yield browser
