"""python -m kefu: init, seed, export as a role, user add."""
import csv
import io
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def kefu(*args, db: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kefu", "--db", str(db), *args], capture_output=True,
                          input=stdin, cwd=ROOT, timeout=120)


def test_init_demo_then_export_as_a_role(tmp_path):
    db = tmp_path / "office.db"
    result = kefu("init", "--demo", db=db)
    assert result.returncode == 0, result.stderr
    assert b"demo-staff" in result.stdout and db.exists()
    again = kefu("init", "--demo", db=db)
    assert b"already has users" in again.stdout                 # never seeds twice

    out = tmp_path / "visitors.csv"
    result = kefu("export", "visitors", "--role", "supervisor", "-o", str(out), db=db)
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8-sig"))))
    assert rows[0][1] == "来访人姓名" and len(rows) > 100
    phone_column = rows[0].index("联系电话")
    assert all("****" in row[phone_column] for row in rows[1:])   # a supervisor has no pii right

    result = kefu("export", "visitors", "--role", "manager", "--from", "2000-01-01", "--to", "2000-01-31", db=db)
    assert result.returncode == 0
    assert len(result.stdout.decode("utf-8-sig").strip().splitlines()) == 1     # header only: no visits then

    denied = kefu("export", "visitors", "--role", "staff", db=db)
    assert denied.returncode == 1 and b"permission" in denied.stderr


def test_user_add_and_bad_input(tmp_path):
    db = tmp_path / "office.db"
    assert kefu("init", db=db).returncode == 0
    made = kefu("user", "add", "lilei", "--role", "staff", "--password-stdin", db=db, stdin=b"a-long-password\n")
    assert made.returncode == 0 and b"lilei" in made.stdout
    taken = kefu("user", "add", "lilei", "--role", "staff", "--password-stdin", db=db, stdin=b"a-long-password\n")
    assert taken.returncode == 1 and b"taken" in taken.stderr
    short = kefu("user", "add", "hanmei", "--role", "staff", "--password-stdin", db=db, stdin=b"short\n")
    assert short.returncode == 1 and b"at least 8" in short.stderr


def test_seed_scale_adds_rows(tmp_path):
    db = tmp_path / "office.db"
    assert kefu("init", "--demo", db=db).returncode == 0
    result = kefu("seed", "--scale", "1500", db=db)
    assert result.returncode == 0, result.stderr
    import sqlite3
    with sqlite3.connect(db) as conn:
        visits = conn.execute("SELECT count(*) FROM visitors").fetchone()[0]
        audits = conn.execute("SELECT count(*) FROM kefu_audit WHERE sheet = 'visitors'").fetchone()[0]
        archives = conn.execute("SELECT count(*) FROM customers").fetchone()[0]
        trades = conn.execute("SELECT count(*) FROM transactions").fetchone()[0]
    assert archives == 2000 + 300 and trades > 3000
    assert visits > 344 + 450 - 1 and audits == visits                 # 0.3 x scale more visits


def test_unknown_sheet_and_bad_date(tmp_path):
    db = tmp_path / "office.db"
    kefu("init", db=db)
    assert b"unknown sheet" in kefu("export", "nothing", db=db).stderr
    bad = kefu("export", "visitors", "--role", "manager", "--from", "2026-13-45", db=db)
    assert bad.returncode == 1 and b"month must be in 1..12" in bad.stderr
