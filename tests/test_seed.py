"""Demo data: a realistic office, the same every time."""
import sqlite3

from kefu import config
from kefu.sheets import load_sheets
from kefu.store import Store
from seed.demo import DEMO_ACCOUNTS, seed_demo


def snapshot(path):
    with sqlite3.connect(path) as conn:
        return (conn.execute("SELECT username, display_name, role FROM kefu_users ORDER BY id").fetchall(),
                conn.execute("SELECT visitor_name, organisation, phone, purpose FROM visitors ORDER BY id").fetchall(),
                conn.execute("SELECT duty_date, staff, shift FROM roster ORDER BY id").fetchall())


def test_demo_office_is_deterministic_and_realistic(demo_file, tmp_path):
    again = Store(tmp_path / "again.db", load_sheets(), config.load())
    again.migrate()
    seed_demo(again)
    first, second = snapshot(demo_file), snapshot(again.path)
    assert first == second
    users, visits, roster = first
    assert 28 <= len(users) <= 32
    assert {role for _, _, role in users} >= {r for _, _, r in DEMO_ACCOUNTS}
    assert len(visits) > 250                                    # a month of visits
    assert all(len(name) >= 2 and "\u4e00" <= name[0] <= "\u9fff" for name, *_ in visits)
    shifts = {shift for _, _, shift in roster}
    assert shifts == {"day", "evening", "rest"}
    by_person = {}
    for day, staff, shift in roster:
        by_person.setdefault(staff, []).append(shift)
    assert all(0.1 < s.count("rest") / len(s) < 0.2 for s in by_person.values())     # one day off in seven
