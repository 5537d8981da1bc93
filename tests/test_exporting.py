"""CSV export: opens in Excel with Chinese intact, formulas neutralised, personal data masked by role."""
import csv
import io

import pytest

from kefu.errors import PermissionDenied
from kefu.exporting import csv_bytes, neutralise
from kefu.store import Query


def read(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")                      # UTF-8 BOM: Excel reads Chinese right
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


@pytest.fixture
def visits(store, make_user):
    staff = make_user("staff")
    store.insert("visitors", {"visitor_name": "=HYPERLINK(\"http://x\")", "phone": "13812345678",
                              "purpose": "business", "host": staff.id, "organisation": "+cmd", "record": "@SUM(A1)",
                              "identity": "-2+3"}, staff)
    store.insert("visitors", {"visitor_name": "李四", "phone": "13900001111", "purpose": "complaint",
                              "host": staff.id, "party_size": 3}, staff)
    return staff


def test_headers_in_the_users_language_and_labels_not_codes(store, make_user, visits):
    rows = read(csv_bytes(store, "visitors", make_user("manager"), Query(), "zh"))
    assert rows[0][:3] == ["编号", "来访人姓名", "性别"]
    li = next(r for r in rows if r[1] == "李四")
    assert "投诉" in li and "Staff 1" in li                       # choice label, host's name
    english = read(csv_bytes(store, "visitors", make_user("manager"), Query(), "en"))
    assert english[0][:2] == ["No.", "Visitor name"] and "Complaint" in english[1]   # newest first


def test_formula_cells_are_neutralised(store, make_user, visits):
    rows = read(csv_bytes(store, "visitors", make_user("manager"), Query(), "en"))
    first = next(r for r in rows[1:] if "HYPERLINK" in r[1])
    assert first[1] == "'=HYPERLINK(\"http://x\")"
    assert "'+cmd" in first and "'@SUM(A1)" in first and "'-2+3" in first
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row)


@pytest.mark.parametrize("text, safe", [("=1+1", "'=1+1"), ("+86", "'+86"), ("-x", "'-x"), ("@a", "'@a"),
                                        ("\tx", "'\tx"), ("plain", "plain"), ("中文", "中文")])
def test_neutralise(text, safe):
    assert neutralise(text) == safe


def test_personal_data_masked_unless_the_role_has_pii(store, make_user, visits):
    supervisor, manager = make_user("supervisor"), make_user("manager")
    masked = read(csv_bytes(store, "visitors", supervisor, Query(), "zh"))
    assert "138****5678" in masked[2] + masked[1] and "13812345678" not in str(masked)
    clear = read(csv_bytes(store, "visitors", manager, Query(), "zh"))
    assert "13812345678" in str(clear)
    assert store.conn.execute("SELECT username, action, detail FROM kefu_access_log ORDER BY id").fetchall() == \
        [(supervisor.username, "export", '{"rows": 2, "masked": true}'),
         (manager.username, "export", '{"rows": 2, "masked": false}')]


def test_export_follows_the_filter_and_needs_the_right(store, make_user, visits):
    manager = make_user("manager")
    rows = read(csv_bytes(store, "visitors", manager, Query(filters={"purpose": ["complaint"]}), "zh"))
    assert len(rows) == 2 and rows[1][1] == "李四"
    with pytest.raises(PermissionDenied):
        csv_bytes(store, "visitors", visits, Query(), "zh")       # staff have no export right


def test_money_has_two_decimals(money_store):
    from kefu import auth
    for amount in ("1280.5", "-3", "0.07"):
        money_store.insert("fees", {"amount": amount}, auth.SYSTEM)
    rows = read(csv_bytes(money_store, "fees", auth.SYSTEM, Query(sort="id"), "en"))
    assert [r[1] for r in rows[1:]] == ["1280.50", "-3.00", "0.07"]
