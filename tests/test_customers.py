"""Customer archives: who may do what to which archive, grants that expire, the access log, masking,
search (Chinese, pinyin, English), duplicate warnings, approval, bad input."""
import shutil
import time
from datetime import date, datetime, timedelta

import pytest

from conftest import PASSWORD
from kefu import auth, config, customers
from kefu.errors import KefuError, NotFound, PermissionDenied
from kefu.exporting import csv_bytes
from kefu.sheets import ValidationError, load_sheets
from kefu.store import Query, Store


def archive(owner, **extra) -> dict:
    return {"code": extra.pop("code", f"KH{int(time.time() * 1e6) % 10**8:08d}"), "name": "张三贸易有限公司",
            "kind": "company", "contact": "张三", "phone": "13812345678", "email": "zhangsan@example.com",
            "credit_rating": "A", "owner": owner.id, "address": "海南省三亚市吉阳区 1 号", **extra}


ROLES = {"supervisor1": "supervisor", "manager2": "manager", "gm3": "gm", "finance4": "finance", "admin5": "admin",
         "keeper": "staff", "other": "staff", "sales6": "sales_director"}


@pytest.fixture(scope="module")
def office_file(tmp_path_factory):
    """The office, built once (password hashing is slow by design); each test gets a copy."""
    path = tmp_path_factory.mktemp("office") / "office.db"
    db = Store(path, load_sheets(), config.load())
    db.migrate()
    for username, role in ROLES.items():
        auth.create_user(db, username, username.title(), role, PASSWORD, auth.SYSTEM)
    keeper = auth.get_user(db, db.conn.execute("SELECT id FROM kefu_users WHERE username = 'keeper'").fetchone()[0])
    db.insert("customers", archive(keeper, code="KH000001"), keeper)
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return path


@pytest.fixture
def store(office_file, tmp_path):
    path = tmp_path / "kefu.db"
    shutil.copy(office_file, path)
    db = Store(path, load_sheets(), config.load())
    yield db
    db.close()


@pytest.fixture
def office(store):
    """Two staff (the keeper of archive KH000001 and another), a supervisor, a manager, a gm, finance, admin."""
    users = {row[1]: auth.get_user(store, row[0]) for row in store.conn.execute("SELECT id, username FROM kefu_users")}
    people = {("keeper" if name == "keeper" else "other" if name == "other" else ROLES[name]): user
              for name, user in users.items()}
    people["archive"] = store.conn.execute("SELECT id FROM customers WHERE code = 'KH000001'").fetchone()[0]
    return people


def office_today() -> date:
    """Today on the office's clock (Asia/Shanghai), not the test machine's."""
    return datetime.now(config.load().tz).date()


def tomorrow(days=1) -> str:
    return (office_today() + timedelta(days=days)).isoformat()


def attempt(store, who, action, archive_id):
    """Do `action` on the archive as `who`; True if allowed, False if refused (hidden or forbidden)."""
    try:
        if action == "read":
            store.get("customers", archive_id, who)
        elif action == "list":
            return archive_id in [r["id"] for r in store.query("customers", who).rows]
        elif action == "update":
            store.update("customers", archive_id, {"credit_note": f"by {who.username}"}, who)
        elif action == "delete":
            store.delete("customers", archive_id, who)
            store.restore("customers", archive_id, who)
        elif action == "add_transaction":
            store.insert("transactions", {"customer": archive_id, "traded_on": "2026-11-01", "item": "维保服务",
                                          "amount": "1200.00"}, who)
        elif action == "approve":
            store.approve("customers", archive_id, who)
            store.update("customers", archive_id, {"credit_note": "re-draft"}, auth.SYSTEM)
        elif action == "reveal":
            return store.get("customers", archive_id, who, reveal=True)["phone"] == "13812345678"
        elif action == "export":
            csv_bytes(store, "customers", who, Query(), "zh")
        return True
    except (PermissionDenied, NotFound):
        return False
    except ValidationError as exc:                       # a ref to an archive one may not see
        assert exc.by_field() == {"customer": "err.bad_ref"}
        return False


MATRIX = [  # who, then whether each action is allowed: own archive for keeper, someone else's for other.
    # 000 客户档案管理: 未经公司总经理授权，任何人不得查阅及外传 — without a grant a supervisor and a manager are
    # refused like any colleague; the keeper reads the name and contact of the archive they keep (专人管理);
    # 客户档案由销售总监进行审批确认 — the sales director reads (masked) and approves, never exports.
    ("keeper",     dict(read=1, list=1, update=1, delete=0, add_transaction=1, approve=0, reveal=1, export=0)),
    ("other",      dict(read=0, list=0, update=0, delete=0, add_transaction=0, approve=0, reveal=0, export=0)),
    ("supervisor", dict(read=0, list=0, update=0, delete=0, add_transaction=0, approve=0, reveal=0, export=0)),
    ("manager",    dict(read=0, list=0, update=0, delete=0, add_transaction=0, approve=0, reveal=0, export=0)),
    ("gm",         dict(read=1, list=1, update=1, delete=0, add_transaction=0, approve=1, reveal=1, export=1)),
    ("sales_director", dict(read=1, list=1, update=0, delete=0, add_transaction=0, approve=1, reveal=0, export=0)),
    ("finance",    dict(read=0, list=0, update=0, delete=0, add_transaction=0, approve=0, reveal=0, export=0)),
    ("admin",      dict(read=0, list=0, update=0, delete=0, add_transaction=0, approve=0, reveal=0, export=0)),
]


@pytest.mark.parametrize("who, expected", MATRIX, ids=[m[0] for m in MATRIX])
@pytest.mark.parametrize("action", ["read", "list", "update", "delete", "add_transaction", "approve", "reveal", "export"])
def test_permission_matrix(store, office, who, expected, action):
    assert attempt(store, office[who], action, office["archive"]) == bool(expected[action])


@pytest.mark.parametrize("action, allowed", [("read", True), ("list", True), ("update", True),
                                             ("add_transaction", True), ("delete", False), ("reveal", True),
                                             ("export", False)])
def test_a_grant_opens_one_archive_to_one_user_until_it_expires(store, office, action, allowed, monkeypatch):
    other, archive_id = office["other"], office["archive"]
    assert attempt(store, other, action, archive_id) is False
    store.grant("customers", archive_id, other.id, office["gm"], until=tomorrow(2), reason="协助处理投诉")
    assert attempt(store, other, action, archive_id) is allowed
    later = time.time() + 4 * 86400
    monkeypatch.setattr("kefu.store.time.time", lambda: later)
    assert attempt(store, other, action, archive_id) is False


def test_grants_are_listed_revocable_and_only_the_gm_grants(store, office):
    other, archive_id = office["other"], office["archive"]
    for role in ("keeper", "supervisor", "manager", "sales_director"):
        with pytest.raises(PermissionDenied):
            store.grant("customers", archive_id, other.id, office[role], until=tomorrow())
    grant_id = store.grant("customers", archive_id, other.id, office["gm"], until=tomorrow(7))
    listed = store.grants("customers", office["gm"])
    assert [(g["user_id"], g["title"], g["active"], g["until"]) for g in listed] == \
        [(other.id, "张三贸易有限公司", True, tomorrow(7))]
    # the sales director sees every archive's grants, the customer's name masked (no pii); the manager none
    assert [g["title"] for g in store.grants("customers", office["sales_director"])] == ["张******"]
    with pytest.raises(PermissionDenied):
        store.grants("customers", office["manager"])
    store.revoke(grant_id, office["gm"])
    assert store.grants("customers", office["gm"])[0]["active"] is False
    assert attempt(store, other, "read", archive_id) is False
    actions = [r[0] for r in store.conn.execute("SELECT action FROM kefu_audit WHERE sheet = 'kefu_grants'")]
    assert actions == ["grant", "revoke"]


@pytest.mark.parametrize("until, user, code", [
    ("yesterday", "other", "err.bad_date"), (tomorrow(0), "other", "err.grant_past"),
    (tomorrow(-3), "other", "err.grant_past"), (tomorrow(91), "other", "err.grant_too_long"),
    (tomorrow(), "disabled", "err.bad_user"), (tomorrow(), "nobody", "err.bad_user"),
])
def test_bad_grants_are_refused(store, office, make_user, until, user, code):
    people = {"other": office["other"].id, "nobody": 99999}
    if user == "disabled":
        gone = make_user("staff", "gone")
        store.conn.execute("UPDATE kefu_users SET active = 0 WHERE id = ?", (gone.id,))
        people["disabled"] = gone.id
    with pytest.raises(ValidationError) as caught:
        store.grant("customers", office["archive"], people[user], office["gm"], until=until)
    assert code in caught.value.by_field().values()
    if code == "err.grant_too_long":                        # the message names the configured maximum
        assert caught.value.messages("zh") == ["until：授权期限最长 90 天"]
    assert store.conn.execute("SELECT count(*) FROM kefu_grants").fetchone()[0] == 0
    assert store.conn.execute("SELECT count(*) FROM kefu_audit WHERE sheet = 'kefu_grants'").fetchone()[0] == 0


def test_保密范围_姓名_name_and_contact_are_masked_in_grid_detail_history_csv_and_titles(store, office):
    keeper, supervisor, gm, archive_id = office["keeper"], office["supervisor"], office["gm"], office["archive"]
    row = store.query("customers", keeper).rows[0]
    assert row["phone"] == "138****5678" and row["email"] == "z***@example.com" and row["address"].startswith("海*")
    assert (row["name"], row["contact"]) == ("张******", "张*")           # the grid masks for everyone
    assert store.get("customers", archive_id, keeper, reveal=True)["name"] == "张三贸易有限公司"   # the keeper
    store.grant("customers", archive_id, supervisor.id, gm, until=tomorrow(3), export=True)
    shown = store.get("customers", archive_id, supervisor, reveal=True)  # a supervisor has no pii on archives
    assert (shown["name"], shown["contact"], shown["phone"]) == ("张******", "张*", "138****5678")
    assert store.history("customers", archive_id, supervisor)[0]["after"]["name"] == "张******"
    assert store.titles("customers", [archive_id], supervisor) == {archive_id: "张******"}
    assert store.ref_labels("customers", [archive_id], supervisor) == {archive_id: "张******"}
    assert store.titles("customers", [archive_id], keeper) == {archive_id: "张三贸易有限公司"}
    masked = csv_bytes(store, "customers", supervisor, Query(), "zh").decode("utf-8-sig")
    assert "13812345678" not in masked and "zhangsan@example.com" not in masked and "138****5678" in masked
    assert "张三贸易" not in masked and "张******" in masked
    clear = csv_bytes(store, "customers", gm, Query(), "zh").decode("utf-8-sig")
    assert "13812345678" in clear and "张三贸易有限公司" in clear


def test_every_reveal_and_every_export_is_in_the_access_log(store, office):
    manager, supervisor, gm = office["manager"], office["supervisor"], office["gm"]
    for who in (manager, supervisor):
        store.grant("customers", office["archive"], who.id, gm, until=tomorrow(), export=who is supervisor)
    store.get("customers", office["archive"], manager, reveal=True)
    csv_bytes(store, "customers", supervisor, Query(), "zh")
    csv_bytes(store, "customers", gm, Query(), "en")
    log = store.access_log(manager)
    assert [(r["username"], r["action"], r["detail"]) for r in log.rows] == [
        (gm.username, "export", '{"rows": 1, "masked": false}'),
        (supervisor.username, "export", '{"rows": 1, "masked": true}'), (manager.username, "view", "")]
    assert store.access_log(gm, username=supervisor.username).total == 1
    with pytest.raises(PermissionDenied):
        store.access_log(supervisor)


@pytest.fixture
def directory(store, office):
    keeper = office["keeper"]
    for code, name, contact, phone in [("KH000002", "李四餐饮管理有限公司", "李四", "13900001111"),
                                       ("KH000003", "Sanya Blue Ocean Hotel", "王小明", "13700002222"),
                                       ("KH000004", "重庆银行三亚分行", "赵六", "13600003333")]:
        store.insert("customers", archive(keeper, code=code, name=name, contact=contact, phone=phone,
                                          notes="年度维保合同" if code == "KH000004" else None), keeper)
    return keeper


@pytest.mark.parametrize("text, expected", [
    ("李四", {"KH000002"}),                     # 2 Chinese characters
    ("餐饮管理", {"KH000002"}),                 # 3+ characters
    ("lisi", {"KH000002"}),                     # full pinyin of the contact
    ("zhangsan", {"KH000001"}),
    ("zs", {"KH000001"}),                       # pinyin initials
    ("chongqing", {"KH000004"}),                # the common reading of 重
    ("blue ocean", {"KH000003"}),               # English, any case
    ("KH000003", {"KH000003"}),                 # the code
    ("维保合同", {"KH000004"}),                  # notes
    ("13900001111", {"KH000002"}),              # a phone
    ('"OR 1=1; --', set()),
    ("x" * 10_000, set()),
])
def test_search_by_name_code_contact_phone_notes_and_pinyin(store, directory, text, expected):
    found = store.query("customers", directory, Query(search=text)).rows
    assert {r["code"] for r in found} == expected


def test_duplicate_warning_names_matches_and_hides_what_the_user_may_not_see(store, office):
    keeper, other = office["keeper"], office["other"]
    same_phone = customers.duplicates(store, keeper, {"name": "新公司", "mobile": "138 1234 5678"})
    assert [(d["code"], d["visible"]) for d in same_phone] == [("KH000001", True)]
    hidden = customers.duplicates(store, other, {"name": "张三贸易有限公司"})
    assert hidden == [{"id": office["archive"], "code": None, "name": None, "owner": keeper.display_name,
                       "visible": False}]
    assert customers.duplicates(store, keeper, {"name": "全新客户", "phone": "13000000000"}) == []


def test_客户档案由销售总监进行审批确认_the_sales_director_approves(store, office):
    keeper, manager, archive_id = office["keeper"], office["sales_director"], office["archive"]
    record = store.get("customers", archive_id, keeper)
    assert record["status"] == "draft" and record["approved_by"] is None
    with pytest.raises(PermissionDenied):
        store.approve("customers", archive_id, keeper)
    with pytest.raises(ValidationError):                       # nobody sets the status by hand
        store.update("customers", archive_id, {"status": "approved"}, office["gm"])
    with pytest.raises(PermissionDenied):                      # the department manager no longer approves
        store.approve("customers", archive_id, office["manager"])
    store.approve("customers", archive_id, manager)
    record = store.get("customers", archive_id, keeper)
    assert record["status"] == "approved" and record["approved_by"] == manager.id and record["approved_at"]
    with pytest.raises(KefuError):
        store.approve("customers", archive_id, manager)       # already approved
    store.update("customers", archive_id, {"contact": "张三丰"}, keeper)
    record = store.get("customers", archive_id, keeper)
    assert record["status"] == "draft" and record["approved_by"] == manager.id   # flagged for re-approval
    actions = [r[0] for r in store.conn.execute("SELECT action FROM kefu_audit WHERE sheet = 'customers' ORDER BY id")]
    assert actions == ["create", "approve", "update"]
    customers.archive(store, manager, archive_id)
    assert store.get("customers", archive_id, keeper)["status"] == "archived"


def test_summary_and_follow_ups(store, office):
    keeper, archive_id = office["keeper"], office["archive"]
    for day, amount, paid in [("2026-10-01", "1000.00", True), ("2026-11-02", "250.50", False)]:
        store.insert("transactions", {"customer": archive_id, "traded_on": day, "item": "服务", "amount": amount,
                                      "paid": paid}, keeper)
    assert customers.summary(store, keeper, archive_id) == {"count": 2, "total": 125050, "unpaid": 25050,
                                                            "last": "2026-11-02"}
    with pytest.raises(NotFound):
        customers.summary(store, office["other"], archive_id)
    today = office_today()
    store.insert("relationship_log", {"customer": archive_id, "contact_on": today.isoformat(), "kind": "call",
                                      "staff": keeper.id, "summary": "回访",
                                      "next_follow_up": (today + timedelta(days=3)).isoformat()}, keeper)
    store.insert("relationship_log", {"customer": archive_id, "contact_on": today.isoformat(), "kind": "call",
                                      "staff": keeper.id, "summary": "远期",
                                      "next_follow_up": (today + timedelta(days=30)).isoformat()}, keeper)
    due = customers.follow_ups_due(store, keeper)
    assert [(d["customer_name"], d["summary"]) for d in due] == [("张三贸易有限公司", "回访")]
    assert customers.follow_ups_due(store, office["other"]) == []
    supervisor = office["supervisor"]                 # keeps an archive, but his role has no pii on archives
    kept = store.insert("customers", archive(supervisor, code="KH000002"), supervisor)
    store.insert("relationship_log", {"customer": kept, "contact_on": today.isoformat(), "kind": "call",
                                      "staff": supervisor.id, "summary": "主管回访",
                                      "next_follow_up": (today + timedelta(days=1)).isoformat()}, supervisor)
    assert [(d["customer_name"], d["summary"]) for d in customers.follow_ups_due(store, supervisor)] == \
        [("张******", "主管回访")]


@pytest.mark.parametrize("values, field, code", [
    ({"phone": "138-1234-abcd"}, "phone", "err.bad_phone"),
    ({"email": "zhangsan@"}, "email", "err.bad_email"),
    ({"credit_rating": "E"}, "credit_rating", "err.bad_choice"),
    ({"code": "KH 0001"}, "code", "err.bad_pattern"),
    ({"code": "KH000001"}, "code", "err.unique"),
])
def test_bad_archives_are_refused(store, office, values, field, code):
    with pytest.raises(ValidationError) as caught:
        store.insert("customers", archive(office["keeper"], **values), office["keeper"])
    assert caught.value.by_field() == {field: code}


@pytest.mark.parametrize("amount, code", [("-5.00", "err.too_small"), ("0", "err.too_small"),
                                          ("1000000000", "err.too_large"), ("12.345", "err.bad_money")])
def test_bad_transaction_amounts_are_refused(store, office, amount, code):
    with pytest.raises(ValidationError) as caught:
        store.insert("transactions", {"customer": office["archive"], "traded_on": "2026-11-01", "item": "x",
                                      "amount": amount}, office["keeper"])
    assert caught.value.by_field() == {"amount": code}
    assert store.conn.execute("SELECT count(*) FROM transactions").fetchone()[0] == 0


def test_next_code_counts_up(store, office):
    assert customers.next_code(store) == "KH000002"


@pytest.mark.parametrize("text, key", [("重庆长安汽车", "chongqingchanganqiche cqcaqc"),      # polyphones read by phrase
                                       ("银行行长", "yinhanghangzhang yhhz"),
                                       ("北京华夏科技有限公司88号", "beijinghuaxiakejiyouxiangongsi88hao bjhxkjyxgs8h"),
                                       ("欧阳娜娜 Nana", "ouyangnananana oynnn")])
def test_pinyin_keys_read_polyphones_by_the_phrase_they_stand_in(text, key):
    from kefu.pinyin import search_key
    assert search_key([text]) == key


def test_与客户核对_开通后及时通知客户_a_business_change_is_checked_before_done_and_told_after(store, office):
    keeper, customer = office["keeper"], office["archive"]
    change = {"customer": customer, "staff": keeper.id, "kind": "add_line", "requested_at": "2026-11-20T10:00:00+08:00"}
    before = store.conn.execute("SELECT count(*) FROM business_changes").fetchone()[0]
    with pytest.raises(ValidationError) as caught:
        store.insert("business_changes", {**change, "done_at": "2026-11-21T10:00:00+08:00"}, keeper)
    assert caught.value.by_field() == {"checked_with_customer": "bc.check_before_done"}
    assert "已与客户核实：办结前须先与客户核实变更内容" in caught.value.messages("zh")
    with pytest.raises(ValidationError) as caught:
        store.insert("business_changes", {**change, "checked_with_customer": True,
                                          "customer_notified_at": "2026-11-21T10:00:00+08:00"}, keeper)
    assert caught.value.by_field() == {"done_at": "bc.done_before_told"}
    assert store.conn.execute("SELECT count(*) FROM business_changes").fetchone()[0] == before   # nothing written
    made = store.insert("business_changes", {**change, "checked_with_customer": True}, keeper)
    with pytest.raises(ValidationError):                       # unticking the check of a done change
        store.update("business_changes", made, {"done_at": "2026-11-21T10:00:00+08:00",
                                                "checked_with_customer": False}, keeper)
    done = store.update("business_changes", made, {"done_at": "2026-11-21T10:00:00+08:00"}, keeper)
    assert done["done_at"] and done["checked_with_customer"]
    told = store.update("business_changes", made, {"customer_notified_at": "2026-11-21T15:00:00+08:00"}, keeper)
    assert told["customer_notified_at"]


# -- 000 客户档案管理: 未经公司总经理授权，任何人不得查阅及外传 ---------------------------------------------------
def test_未经总经理授权任何人不得查阅_a_supervisor_without_a_grant_is_refused(store, office):
    supervisor, archive_id = office["supervisor"], office["archive"]
    with pytest.raises(NotFound):
        store.get("customers", archive_id, supervisor)
    assert store.query("customers", supervisor).total == 0
    with pytest.raises(NotFound):                          # the records under the archive follow it
        customers.summary(store, supervisor, archive_id)
    with pytest.raises(PermissionDenied):
        csv_bytes(store, "customers", supervisor, Query(), "zh")
    assert store.titles("customers", [archive_id], supervisor) == {}     # a ticket of it shows "#1"


def test_未经总经理授权_a_grant_of_a_keeper_s_book_opens_that_book_until_its_date(store, office, monkeypatch):
    keeper, other, supervisor, gm = office["keeper"], office["other"], office["supervisor"], office["gm"]
    theirs = store.insert("customers", archive(other, code="KH000009", name="李四餐饮"), other)
    store.insert("transactions", {"customer": office["archive"], "traded_on": "2026-11-01", "item": "维保",
                                  "amount": "100.00"}, keeper)
    store.grant("customers", None, supervisor.id, gm, keeper=keeper.id, until=tomorrow(5), reason="代管王小丽的客户")
    assert {r["id"] for r in store.query("customers", supervisor).rows} == {office["archive"]}
    assert store.query("transactions", supervisor).total == 1
    with pytest.raises(NotFound):
        store.get("customers", theirs, supervisor)
    made = store.insert("customers", archive(keeper, code="KH000010"), keeper)     # the book, as it grows
    assert store.get("customers", made, supervisor)["code"] == "KH000010"
    listed = store.grants("customers", gm)[0]
    assert (listed["row_id"], listed["keeper"], listed["keeper_name"], listed["export"]) == \
        (None, keeper.id, keeper.display_name, False)
    with pytest.raises(PermissionDenied):                  # a read grant does not let the book out (不得外传)
        csv_bytes(store, "customers", supervisor, Query(), "zh")
    later = time.time() + 7 * 86400
    monkeypatch.setattr("kefu.store.time.time", lambda: later)
    assert store.query("customers", supervisor).total == 0
    with pytest.raises(NotFound):
        store.get("customers", made, supervisor)


def test_不得外传_every_export_of_archives_needs_the_gm_or_a_grant_naming_export(store, office, monkeypatch):
    manager, gm, archive_id = office["manager"], office["gm"], office["archive"]
    second = store.insert("customers", archive(office["keeper"], code="KH000011"), office["keeper"])
    store.grant("customers", second, manager.id, gm, until=tomorrow())            # read only
    with pytest.raises(PermissionDenied):
        csv_bytes(store, "customers", manager, Query(), "zh")
    with pytest.raises(PermissionDenied):                  # the records under the archives too
        csv_bytes(store, "transactions", manager, Query(), "zh")
    assert not store.may_export("customers", manager)
    store.grant("customers", archive_id, manager.id, gm, until=tomorrow(), export=True)
    assert store.may_export("customers", manager)
    exported = csv_bytes(store, "customers", manager, Query(), "zh").decode("utf-8-sig")
    assert "KH000001" in exported and "KH000011" not in exported     # only what the export grant names
    assert "KH000011" in csv_bytes(store, "customers", gm, Query(), "zh").decode("utf-8-sig")
    later = time.time() + 3 * 86400
    monkeypatch.setattr("kefu.store.time.time", lambda: later)
    with pytest.raises(PermissionDenied):
        csv_bytes(store, "customers", manager, Query(), "zh")


def test_a_book_grant_names_an_existing_keeper_and_nothing_is_written_otherwise(store, office):
    with pytest.raises(ValidationError) as caught:
        store.grant("customers", None, office["supervisor"].id, office["gm"], keeper=99999, until=tomorrow())
    assert caught.value.by_field() == {"keeper": "err.bad_user"}
    assert store.conn.execute("SELECT count(*) FROM kefu_grants").fetchone()[0] == 0


def test_an_older_file_gains_the_grant_columns_at_migration(store, office):
    store.grant("customers", office["archive"], office["other"].id, office["gm"], until=tomorrow())
    for column in ("keeper", "actions"):
        store.conn.execute(f"ALTER TABLE kefu_grants DROP COLUMN {column}")
    store.migrate()
    columns = {row[1] for row in store.conn.execute("PRAGMA table_info(kefu_grants)")}
    assert {"keeper", "actions"} <= columns
    assert attempt(store, office["other"], "read", office["archive"]) is True       # the old grant still reads
    assert attempt(store, office["other"], "export", office["archive"]) is False


# -- 未经公司总经理授权，任何人不得查阅: asking the gm -----------------------------------------------------

def test_未经总经理授权_a_supervisor_asks_the_gm_grants_and_the_archive_opens_for_the_days_asked(store, office):
    supervisor, gm, archive_id = office["supervisor"], office["gm"], office["archive"]
    with pytest.raises(NotFound):
        store.get("customers", archive_id, supervisor)
    asked = customers.ask_access(store, supervisor, " kh000001 ", "客户来电投诉，需核对交易记录", days=3)
    mine = customers.access_requests(store, supervisor)
    assert [(r.code, r.state, r.days, r.archive, r.title) for r in mine] == [("KH000001", "open", 3, None, None)]
    with pytest.raises(NotFound):                                   # asking opens nothing
        store.get("customers", archive_id, supervisor)
    waiting = customers.access_requests(store, gm, state="open")
    assert [(r.id, r.user_name, r.archive, r.title) for r in waiting] == [(asked, "Supervisor1", archive_id,
                                                                          "张三贸易有限公司")]
    customers.answer_access(store, gm, asked, grant=True)
    assert store.get("customers", archive_id, supervisor)["code"] == "KH000001"
    answered = customers.access_requests(store, supervisor)[0]
    assert (answered.state, answered.decided_by, answered.until) == ("granted", "Gm3", tomorrow(3))
    assert [g["user_id"] for g in store.grants("customers", gm, row_id=archive_id) if g["active"]] == [supervisor.id]
    trail = store.conn.execute("SELECT action FROM kefu_audit WHERE sheet IN ('kefu_access_requests', 'kefu_grants') "
                               "ORDER BY id").fetchall()
    assert trail == [("access_asked",), ("grant",)]


def test_a_refusal_says_why_and_opens_nothing(store, office):
    supervisor, gm = office["supervisor"], office["gm"]
    asked = customers.ask_access(store, supervisor, "KH000001", "核对", days=7)
    with pytest.raises(ValidationError) as refused:                 # a refusal needs its reason
        customers.answer_access(store, gm, asked, grant=False)
    assert refused.value.by_field() == {"note": "err.required"}
    customers.answer_access(store, gm, asked, grant=False, note="请由档案负责人处理")
    answered = customers.access_requests(store, supervisor)[0]
    assert (answered.state, answered.note) == ("declined", "请由档案负责人处理")
    with pytest.raises(NotFound):
        store.get("customers", office["archive"], supervisor)
    with pytest.raises(NotFound):                                   # answered once
        customers.answer_access(store, gm, asked, grant=True)


def test_bad_requests_are_refused_naming_the_field_and_nothing_is_written(store, office):
    supervisor, gm = office["supervisor"], office["gm"]
    before = store.conn.execute("SELECT count(*) FROM kefu_access_requests").fetchone()[0]
    for code, reason, days, expected in (("", "核对", 7, {"code": "err.required"}),
                                         ("KH000001", " ", 7, {"reason": "err.required"}),
                                         ("KH000001", "核对", 0, {"days": "err.grant_days"}),
                                         ("KH000001", "核对", 91, {"days": "err.grant_days"}),
                                         ("KH000001", "长" * 201, 7, {"reason": "err.too_long"})):
        with pytest.raises(ValidationError) as refused:
            customers.ask_access(store, supervisor, code, reason, days=days)
        assert refused.value.by_field() == expected
    assert store.conn.execute("SELECT count(*) FROM kefu_access_requests").fetchone()[0] == before
    customers.ask_access(store, supervisor, "KH000001", "核对", days=7)
    with pytest.raises(ValidationError) as twice:
        customers.ask_access(store, supervisor, "KH000001", "再次", days=7)
    assert twice.value.by_field() == {"code": "err.asked_already"}
    nowhere = customers.ask_access(store, supervisor, "KH999999", "核对", days=7)   # not told it does not exist
    with pytest.raises(ValidationError) as missing:
        customers.answer_access(store, gm, nowhere, grant=True)
    assert missing.value.by_field() == {"code": "err.no_archive"}


def test_only_those_who_may_not_read_every_archive_ask_and_only_the_gm_answers(store, office):
    for who in ("gm", "sales_director", "finance", "admin"):
        assert not customers.may_ask(store, office[who])
        with pytest.raises(PermissionDenied):
            customers.ask_access(store, office[who], "KH000001", "核对")
    asked = customers.ask_access(store, office["other"], "KH000001", "同事休假，代为跟进", days=5)
    for who in ("supervisor", "manager", "keeper"):
        with pytest.raises(PermissionDenied):
            customers.answer_access(store, office[who], asked, grant=True)
    assert customers.access_requests(store, office["supervisor"]) == []      # not his request
