"""python -m kefu: init, seed, export as a role, user add, check (sheets, settings and rule files)."""
import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_export_to_an_xlsx_file_writes_a_workbook(demo_db, tmp_path):
    from datetime import datetime

    from openpyxl import load_workbook
    out = tmp_path / "访客.XLSX"                                     # chosen by the extension, any case
    result = kefu("export", "visitors", "--role", "supervisor", "-o", str(out), db=demo_db)
    assert result.returncode == 0, result.stderr
    sheet = load_workbook(out).active
    header = [c.value for c in sheet[1]]
    assert header[:2] == ["编号", "来访人姓名"] and sheet.max_row > 100
    phones = [row[header.index("联系电话")].value for row in sheet.iter_rows(min_row=2)]
    assert all("****" in phone for phone in phones)               # a supervisor has no pii right
    assert all(isinstance(row[0].value, int) for row in sheet.iter_rows(min_row=2))
    assert any(isinstance(row[header.index("到访时间")].value, datetime) for row in sheet.iter_rows(min_row=2))
    csv_out = tmp_path / "visitors.csv"
    assert kefu("export", "visitors", "--role", "supervisor", "-o", str(csv_out), db=demo_db).returncode == 0
    assert csv_out.read_bytes().startswith(b"\xef\xbb\xbf")        # any other name: CSV, as before


def test_init_names_the_database_it_made_ready(database):
    """A file or a PostgreSQL URL (KEFU_TEST_PG): the message names it, the URL without a password in it."""
    db = database("office", template=False)
    result = kefu("init", db=db)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().startswith(f"{db}: ready (no users yet")


def test_store_names_a_database_url_without_its_password():
    from kefu import config
    from kefu.sheets import load_sheets
    from kefu.store import Store
    store = Store("postgresql://kefu:s3cret@db.example/office", load_sheets(), config.load())
    assert store.shown_location == "postgresql://kefu:***@db.example/office"


def test_user_add_and_bad_input(tmp_path):
    db = tmp_path / "office.db"
    assert kefu("init", db=db).returncode == 0
    made = kefu("user", "add", "lilei", "--role", "staff", "--password-stdin", db=db, stdin=b"a-long-password\n")
    assert made.returncode == 0 and b"lilei" in made.stdout
    taken = kefu("user", "add", "lilei", "--role", "staff", "--password-stdin", db=db, stdin=b"a-long-password\n")
    assert taken.returncode == 1 and b"taken" in taken.stderr
    short = kefu("user", "add", "hanmei", "--role", "staff", "--password-stdin", db=db, stdin=b"short\n")
    assert short.returncode == 1 and b"at least 8" in short.stderr


def test_seed_scale_adds_rows(demo_db):
    import sqlite3
    db = demo_db                                      # the demo office (`init --demo` is tested above)
    with sqlite3.connect(db) as conn:                 # a month of visits around today: how many depends on the day
        visits_before = conn.execute("SELECT count(*) FROM visitors").fetchone()[0]
    result = kefu("seed", "--scale", "1500", db=db)
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(db) as conn:
        visits = conn.execute("SELECT count(*) FROM visitors").fetchone()[0]
        audits = conn.execute("SELECT count(*) FROM kefu_audit WHERE sheet = 'visitors'").fetchone()[0]
        archives = conn.execute("SELECT count(*) FROM customers").fetchone()[0]
        trades = conn.execute("SELECT count(*) FROM transactions").fetchone()[0]
    assert archives == 2000 + 300 and trades > 3000
    assert visits == visits_before + 450 and audits == visits                 # 0.3 x scale more visits


def test_unknown_sheet_and_bad_date(tmp_path):
    db = tmp_path / "office.db"
    kefu("init", db=db)
    assert b"unknown sheet" in kefu("export", "nothing", db=db).stderr
    bad = kefu("export", "visitors", "--role", "manager", "--from", "2026-13-45", db=db)
    assert bad.returncode == 1 and b"month must be in 1..12" in bad.stderr


def broken_copy(tmp_path, name: str, change) -> Path:
    """A copy of rules/ with one file changed by change(text) -> text."""
    folder = tmp_path / "rules"
    folder.mkdir()
    for path in (ROOT / "rules").glob("*.toml"):
        (folder / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    target = folder / name
    changed = change(target.read_text(encoding="utf-8"))
    assert changed != target.read_text(encoding="utf-8")
    target.write_text(changed, encoding="utf-8")
    return folder


@pytest.mark.parametrize("name, change, named", [
    ("club.toml", lambda text: text.replace("points = 2000", "points = -5", 1),
     "club.toml: tiers[2] (gold).points must be a whole number of points, 0 or more, not -5"),
    ("club.toml", lambda text: text.replace("[[tiers]]", "[[levels]]"), "club.toml: missing key tiers"),
    ("club.toml", lambda text: text.replace('value = "diamond"', 'value = "ruby"'),
     "club.toml: tiers (gold, platinum, ruby, silver) must be the tier choices of schema/members.toml"),
    ("club_surveys.toml", lambda text: text.replace("threshold = 3.5", "threshold = 9", 1),
     "club_surveys.toml: threshold must be a number from 1 to 5, not 9"),
    ("workflow.toml", lambda text: text.replace("per_staff = 3", "per_staff = 0", 1),
     "workflow.toml: spot_check.per_staff must be a whole number of at least 1"),
    ("incentives.toml", lambda text: text + "\n[fines\n", "incentives.toml: "),
    ("incentives.toml", lambda text: text.replace("rate = 5 ", "rate = -5 "),
     "incentives.toml: commission.bands[2].rate must be 0 or more, not -5"),
    ("incentives.toml", lambda text: text.replace("incident_points = 2 ", ""),
     "incentives.toml: missing key performance.incident_points"),
])
def test_check_reads_every_rule_file_and_names_the_file_and_key(tmp_path, name, change, named):
    folder = broken_copy(tmp_path, name, change)
    result = subprocess.run([sys.executable, "-m", "kefu", "check", "--rules", str(folder)], capture_output=True,
                            text=True, cwd=ROOT, timeout=120)
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stdout                # that file, once
    assert lines[0].startswith(str(folder / name)) and named in lines[0]


def test_check_passes_on_the_shipped_rule_files():
    result = subprocess.run([sys.executable, "-m", "kefu", "check"], capture_output=True, text=True, cwd=ROOT,
                            timeout=120)
    assert result.returncode == 0, result.stdout
    assert "rule files in" in result.stdout and "club.toml" in result.stdout and "sla.toml" in result.stdout


def test_incentives_for_finance_scripts(tmp_path, capsys):
    """python -m kefu incentives --period 2026-10 [--approve --user NAME] [-o FILE]: a draft; each --approve is
    the user's own step of the chain (the manager prepares, finance and HR check, the gm approves: 财务部、
    人力发展部核实计算 … 提交总经理批准), out of turn refused naming what is missing; then the approved file, the
    same on every later export; the period is locked; a wrong period is refused in one line."""
    from kefu import auth, config
    from kefu.sheets import load_sheets
    from kefu.store import Store
    db = tmp_path / "office.db"
    store = Store(db, load_sheets(), config.load())
    store.migrate()
    staff = auth.create_user(store, "wangxl", "王小丽", "staff", "correct-horse-1", auth.SYSTEM)
    for name, role in (("liuf", "manager"), ("sunkj", "finance"), ("zhengxl", "hr"), ("zhaozq", "gm")):
        auth.create_user(store, name, name, role, "correct-horse-1", auth.SYSTEM)
    store.insert_many("service_points", [{"staff": staff, "done_on": "2026-10-15", "project_type": "maintenance",
                                          "project": f"FW-{n}"} for n in range(20)], auth.SYSTEM)
    store.close()

    draft = kefu("incentives", "--period", "2026-10", db=db)
    assert draft.returncode == 0 and b"not approved" in draft.stderr
    rows = list(csv.reader(io.StringIO(draft.stdout.decode("utf-8-sig"))))
    assert rows[1][2:4] == ["王小丽", "月度绩效"] and rows[1][5] == "810.00" and rows[-1][:1] == ["合计"]
    assert rows[0][5:7] == ["税前金额（元）", "个人所得税（元）"] and rows[1][-1] == "草稿（未批准）"

    def step(*args) -> tuple[int, str]:                  # in this process: the same main(), without a start-up each
        from kefu import cli
        code = cli.main(["--db", str(db), "incentives", "--period", "2026-10", *args])
        return code, capsys.readouterr().err

    code, said = step("--approve")
    assert code == 2 and "--user" in said
    assert step("--approve", "--user", "liuf")[0] == 0
    code, said = step("--approve", "--user", "zhaozq")
    assert code == 1 and "General manager approves after Finance and HR have checked" in said
    assert step("--approve", "--user", "sunkj")[0] == 0
    code, said = step("--send-back", "请附派工单", "--user", "zhengxl")
    assert code == 0 and "sent back by zhengxl (HR)" in said
    for name in ("liuf", "sunkj", "zhengxl"):
        assert step("--approve", "--user", name)[0] == 0
    out = tmp_path / "2026-10.csv"
    code, said = step("--approve", "--user", "zhaozq", "-o", str(out))
    assert code == 0 and "the period is now locked" in said and out.read_bytes().startswith("\ufeff".encode())
    again = tmp_path / "again.csv"
    assert step("-o", str(again))[0] == 0 and again.read_bytes() == out.read_bytes()
    xlsx = tmp_path / "2026-10.xlsx"
    assert step("-o", str(xlsx))[0] == 0 and xlsx.read_bytes()[:2] == b"PK"
    code, said = step("--approve", "--user", "zhaozq")
    assert code == 1 and "already approved" in said
    wrong = kefu("incentives", "--period", "2026-13", db=db)
    assert wrong.returncode == 1 and b"Period: '2026-13'" in wrong.stderr
