"""Administration, engine side (kefu/admin.py): the audit log a page at a time on an index, one entry's
before/after with labels and masked personal data, the permission matrix from the sheets, the database's health
(SQLite's file, or a PostgreSQL database)."""
import sys
import types

import pytest

from kefu import admin, auth
from kefu.errors import PermissionDenied
from kefu.i18n import MESSAGES
from kefu.sheets import ROLES

from conftest import PASSWORD
from conftest import ASKED

ADMIN = auth.User(id=None, username="admin", display_name="Admin", role="admin")


def visitor(store, name: str, phone: str = "13812345678") -> dict:
    """A visitor's record, hosted by the first user."""
    host = store.conn.execute("SELECT min(id) FROM kefu_users").fetchone()[0]
    return {"visitor_name": name, "phone": phone, "party_size": 1, "purpose": "inquiry", "host": host,
            **ASKED, "organisation": "三亚湾物业", "arrived_at": "2026-11-23 10:00"}


def add_visitor(store, name: str, phone: str = "13812345678") -> int:
    return store.insert("visitors", visitor(store, name, phone), auth.SYSTEM)


def entries(page) -> list[tuple]:
    return [(r["username"], r["sheet"], r["action"]) for r in page.rows]


def test_audit_pages_newest_first_with_each_filter(store, make_user):
    admin_user, manager = make_user("admin"), make_user("manager")
    first = add_visitor(store, "张三")
    add_visitor(store, "李四")
    store.update("visitors", first, {"organisation": "海棠湾酒店"}, manager)
    auth.change_role(store, manager.id, "gm", admin_user)
    newest = admin.audit_page(store, admin_user, admin.AuditFilter(), "zh")
    assert entries(newest)[:3] == [(admin_user.username, "kefu_users", "role_changed"),
                                   (manager.username, "visitors", "update"), ("system", "visitors", "create")]
    assert newest.rows[1]["fields"] == "工作单位" and newest.rows[1]["sheet_label"] == "来访登记"
    assert newest.rows[0]["action_label"] == "更改角色" and newest.rows[0]["sheet_label"] == "用户账号"
    by_user = admin.audit_page(store, admin_user, admin.AuditFilter(username=manager.username), "zh")
    assert entries(by_user) == [(manager.username, "visitors", "update")]
    by_sheet = admin.audit_page(store, admin_user, admin.AuditFilter(sheet="visitors", action="create"), "en")
    assert [r["row_id"] for r in by_sheet.rows] == [first + 1, first] and by_sheet.rows[0]["action_label"] == "created"
    today = store.now()[:10]
    assert admin.audit_page(store, admin_user, admin.AuditFilter(period=(today, today)), "zh").total == newest.total
    assert admin.audit_page(store, admin_user, admin.AuditFilter(period=("2020-01-01", "2020-12-31")), "zh").total == 0


def test_audit_pages_and_a_capped_count(store, make_user, monkeypatch):
    admin_user = make_user("admin")
    store.insert_many("visitors", [visitor(store, f"访客{n}") for n in range(12)], auth.SYSTEM)
    wanted = admin.AuditFilter(sheet="visitors")
    pages = [admin.audit_page(store, admin_user, wanted, "zh", page=n, page_size=5) for n in (1, 2, 3, 99)]
    assert [len(p.rows) for p in pages] == [5, 5, 2, 2] and pages[-1].page == 3     # a page past the end: the last
    assert sorted(r["id"] for p in pages[:3] for r in p.rows) == sorted(
        r[0] for r in store.conn.execute("SELECT id FROM kefu_audit WHERE sheet = 'visitors'"))
    assert not pages[0].capped and pages[0].pages == 3
    monkeypatch.setattr(admin, "AUDIT_COUNT_LIMIT", 10)
    capped = admin.audit_page(store, admin_user, wanted, "zh", page_size=5)
    assert capped.total == 10 and capped.capped and capped.pages == 2


FILTERS = [admin.AuditFilter(), admin.AuditFilter(sheet="tickets"), admin.AuditFilter(username="demo-staff"),
           admin.AuditFilter(action="login_failed"), admin.AuditFilter(period=("2026-01-01", "2026-01-31")),
           admin.AuditFilter(sheet="customers", period=("2026-01-01", None)),
           admin.AuditFilter(username="demo-gm", action="approve"),
           admin.AuditFilter(sheet="tickets", username="demo-staff", action="update", period=(None, "2026-06-30"))]


@pytest.mark.sqlite
@pytest.mark.parametrize("wanted", FILTERS, ids=lambda f: ",".join(k for k, v in vars(f).items() if v) or "none")
def test_every_audit_query_reads_an_index_never_the_table(store, wanted):
    count_sql, page_sql, params = admin.audit_queries(wanted)
    for sql, extra in ((count_sql, []), (page_sql, [50, 0])):
        plan = [row[3] for row in store.conn.execute("EXPLAIN QUERY PLAN " + sql, [*params, *extra])]
        audit_steps = [step for step in plan if "kefu_audit" in step]
        assert audit_steps and all("USING" in step and "INDEX" in step for step in audit_steps), plan
        assert not any("TEMP B-TREE" in step for step in plan), plan       # the order comes from the index


def test_an_entry_shows_labels_masks_personal_data_and_refs_by_number(store, make_user):
    admin_user, manager = make_user("admin"), make_user("manager")
    row_id = add_visitor(store, "王五", "13912345678")
    store.update("visitors", row_id, {"phone": "13700001111", "party_size": 3}, manager)
    update = admin.audit_page(store, admin_user, admin.AuditFilter(action="update"), "zh").rows[0]
    assert update["fields"] == "联系电话、来访人数"
    entry = admin.audit_entry(store, admin_user, update["id"], "zh")
    assert entry.changes == [("联系电话", "139****5678", "137****1111"), ("来访人数", "1", "3")]
    assert (entry.sheet_label, entry.row_id, entry.action_label) == ("来访登记", row_id, "修改")
    created = admin.audit_page(store, admin_user, admin.AuditFilter(action="create", sheet="visitors"), "en").rows[0]
    changes = admin.audit_entry(store, admin_user, created["id"], "en").changes
    shown = {label: after for label, _, after in changes}
    assert shown["Phone"] == "139****5678" and shown["Purpose"] == "Inquiry" and "Visitor name" in shown
    assert "13912345678" not in str(shown) and "search_pinyin" not in str(shown)


def test_a_ref_is_shown_by_number_and_a_field_no_longer_declared_is_masked(store, make_user):
    admin_user = make_user("admin")
    store._audit(store.conn, auth.SYSTEM, "members", 7, "update", {"customer": 3, "old_phone": "13812345678"},
                 {"customer": 4, "old_phone": None})
    entry = admin.audit_entry(store, admin_user, store.conn.execute("SELECT max(id) FROM kefu_audit").fetchone()[0],
                              "zh")
    assert ("客户", "#3", "#4") in entry.changes                        # not the archive's name: not admin's to read
    assert ("old_phone", "138****5678", "") in entry.changes


def test_account_events_read_in_the_users_language(store, make_user):
    admin_user, staff = make_user("admin"), make_user("staff")
    auth.set_active(store, staff.id, False, admin_user)
    newest = admin.audit_page(store, admin_user, admin.AuditFilter(sheet="kefu_users"), "zh").rows[0]
    assert newest["record"] == f"{staff.display_name} #{staff.id}"                # whose account
    entry = admin.audit_entry(store, admin_user, newest["id"], "zh")
    assert entry.action_label == "停用账号" and entry.changes == [("启用", "是", "否"), ("结束的会话", "", "0")]
    assert entry.record == newest["record"]
    created = admin.audit_page(store, admin_user, admin.AuditFilter(sheet="kefu_users", action="create"), "en").rows[0]
    assert ("Role", "", "Staff") in admin.audit_entry(store, admin_user, created["id"], "en").changes


def test_every_action_and_table_the_demo_office_audits_has_a_label(demo_store):
    written = demo_store.conn.execute("SELECT DISTINCT sheet, action FROM kefu_audit").fetchall()
    assert {action for _, action in written} <= set(admin.AUDIT_ACTIONS)
    assert {sheet for sheet, _ in written} <= set(admin.audit_sheets(demo_store))
    for action in admin.AUDIT_ACTIONS:
        assert admin.action_label(action, "zh") != action and admin.action_label(action, "en") != action
    for name in admin.audit_sheets(demo_store):
        assert admin.sheet_label(demo_store, name, "zh") != name
    assert {"demo-admin", "system", "kiosk"} <= set(admin.audit_usernames(demo_store))


@pytest.mark.parametrize("role", ["staff", "supervisor", "manager", "gm", "finance"])
def test_only_the_admin_reads_the_audit_matrix_and_health(store, role):
    someone = auth.User(id=1, username="x", display_name="X", role=role)
    for read in (lambda: admin.audit_page(store, someone, admin.AuditFilter(), "zh"),
                 lambda: admin.audit_entry(store, someone, 1, "zh"),
                 lambda: admin.permission_matrix(store, someone, "zh"),
                 lambda: admin.view_matrix(someone, "zh"),
                 lambda: admin.health(store, someone, "zh"),
                 lambda: admin.check_integrity(store, someone)):
        with pytest.raises(PermissionDenied):
            read()


def test_the_permission_matrix_is_what_the_sheets_declare(store):
    rows = {r["sheet"]: r for r in admin.permission_matrix(store, ADMIN, "zh")}
    assert len(rows) == len(store.sheets) and set(next(iter(rows.values()))) == {"sheet", *ROLES}
    customers = rows["客户档案"]                      # 000: only the keeper and the gm read an archive unasked
    assert customers["manager"] == "查看、新建、修改、删除、导出、个人信息（仅限本人）"
    assert customers["staff"] == "查看、新建、修改、个人信息（仅限本人）"   # row access: the archives they keep
    assert customers["supervisor"] == "查看、新建、修改、导出（仅限本人）" and customers["admin"] == ""
    assert customers["gm"] == "查看、修改、导出、个人信息" and customers["sales_director"] == "查看"
    assert rows["交易记录"]["staff"].endswith("（仅限本人）")              # follows its archive (via)
    assert not rows["交易记录"]["gm"].endswith("（仅限本人）")
    assert rows["来访登记"]["admin"] == "查看"
    english = {r["sheet"]: r for r in admin.permission_matrix(store, ADMIN, "en")}
    assert english["Visitor log"]["gm"] == "read, export, personal data"


def test_the_matrix_of_other_screens_is_view_roles(store):
    rows = admin.view_matrix(ADMIN, "zh")
    assert len(rows) == len(auth.VIEW_ROLES)
    by_label = {r["view"]: r for r in rows}
    assert by_label["审计日志"] == {"view": "审计日志", **{role: role == "admin" for role in ROLES}}
    assert by_label["访问日志"]["admin"] and by_label["访问日志"]["manager"] and not by_label["访问日志"]["staff"]
    for name in auth.VIEW_ROLES:                 # a new screen needs its label here
        assert name in admin.VIEW_LABELS and admin.VIEW_LABELS[name] in MESSAGES, name


def test_health_counts_records_sizes_and_the_newest_entry(store, make_user):
    manager = make_user("manager")
    kept, gone = add_visitor(store, "甲甲"), add_visitor(store, "乙乙")
    store.delete("visitors", gone, manager)
    auth.login(store, manager.username, PASSWORD)
    facts = admin.health(store, ADMIN, "zh")
    visitors = next(r for r in facts.registers if r["sheet"] == "visitors")
    assert (visitors["label"], visitors["live"], visitors["deleted"]) == ("来访登记", 1, 1)
    assert len(facts.registers) == len(store.sheets)
    system = {r["table"]: r["rows"] for r in facts.system}
    assert system["kefu_users"] == 1 and system["kefu_sessions"] == 1
    assert system["kefu_audit"] == store.conn.execute("SELECT count(*) FROM kefu_audit").fetchone()[0]
    assert all(r["indexes"] >= 1 for r in facts.registers) and visitors["indexes"] >= 3     # id, live, phone...
    assert next(r for r in facts.system if r["table"] == "kefu_audit")["indexes"] >= 5       # one per audit filter
    assert facts.size_bytes > 0
    if store.url:                            # the server's database: its size and each table's, no file or log
        assert facts.engine.startswith("PostgreSQL ") and facts.location == store.url
        assert (facts.wal_bytes, facts.free_bytes, facts.journal_mode) == (None, None, None)
        assert isinstance(facts.dead_rows, int) and facts.dead_rows >= 0
        assert all(r["bytes"] > 0 for r in [*facts.registers, *facts.system])
        assert facts.size_bytes > sum(r["bytes"] for r in [*facts.registers, *facts.system])
    else:
        assert facts.engine.startswith("SQLite ") and facts.location == str(store.path)
        assert facts.wal_bytes > 0 and facts.journal_mode == "wal" and facts.dead_rows is None
    assert facts.newest_audit == store.conn.execute("SELECT at FROM kefu_audit ORDER BY at DESC LIMIT 1").fetchone()[0]
    assert kept


@pytest.mark.parametrize("size, shown", [(0, "0 B"), (900, "900 B"), (5000, "5 KB"), (1536 * 1024, "1.5 MB"),
                                         (3 * 1024 ** 3, "3.0 GB")])
def test_file_sizes_read_as_a_person_reads_them(size, shown):
    assert admin.file_size(size) == shown


def test_the_integrity_check_passes_a_sound_database_and_names_a_damaged_one(store, make_user):
    make_user("staff")
    store.insert_many("visitors", [visitor(store, f"访客{n}" * 5) for n in range(500)], auth.SYSTEM)
    assert admin.check_integrity(store, ADMIN) == []
    if store.url:
        store.conn.native("CREATE EXTENSION IF NOT EXISTS amcheck")      # then each B-tree index's pages too
        assert admin.check_integrity(store, ADMIN) == []
        # a unique index built concurrently over duplicates fails and is left behind, invalid (PostgreSQL's way)
        import psycopg
        with pytest.raises(psycopg.errors.UniqueViolation):
            store.conn.native("CREATE UNIQUE INDEX CONCURRENTLY visitors_one_organisation ON visitors (organisation)")
        problems = admin.check_integrity(store, ADMIN)
        assert len(problems) == 1 and "visitors_one_organisation" in problems[0] and "REINDEX" in problems[0]
        return
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    root = store.conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'idx_visitors__live'").fetchone()[0]
    page_size = store.conn.execute("PRAGMA page_size").fetchone()[0]
    store.close()
    with open(store.path, "r+b") as file:                             # scribble over one index page
        file.seek((root - 1) * page_size + 100)
        file.write(b"\xff" * 200)
    problems = admin.check_integrity(store, ADMIN)
    assert problems and problems != ["ok"]


def test_last_backup_only_when_the_backup_module_exists(store, monkeypatch):
    monkeypatch.setitem(sys.modules, "kefu.backup", None)             # an installation without kefu/backup.py
    assert admin.last_backup(store) == (False, None)
    facts = admin.health(store, ADMIN, "zh")
    assert not facts.has_backup_module and facts.last_backup is None
    fake = types.ModuleType("kefu.backup")
    fake.last_backup = lambda db: "2026-11-23T02:00:00+08:00" if db is store else None
    monkeypatch.setitem(sys.modules, "kefu.backup", fake)
    assert admin.last_backup(store) == (True, "2026-11-23T02:00:00+08:00")
    assert admin.health(store, ADMIN, "zh").last_backup == "2026-11-23T02:00:00+08:00"


def test_the_audit_log_lists_saved_register_designs_and_office_rules_by_name(store, make_user):
    from kefu import versions
    manager = make_user("manager")
    with store.transaction() as conn:
        versions.record(store, conn, manager, "rules", "kpi", "b = 2\n", effective_from="2026-12-04", previous="a = 1\n")
        versions.record(store, conn, ADMIN, "sheet", "umbrellas", "name = 'umbrellas'\n")
    assert {"kefu_sheet", "kefu_rules"} <= set(admin.audit_sheets(store))        # offered in the viewer's filter
    listed = admin.audit_page(store, ADMIN, admin.AuditFilter(sheet="kefu_rules"), "zh").rows
    assert [(r["sheet_label"], r["action_label"], r["username"]) for r in listed] == [
        ("办公规则", "保存办公规则", manager.username)]
    entry = admin.audit_entry(store, ADMIN, listed[0]["id"], "zh")
    changes = {label: after for label, _, after in entry.changes}
    assert changes["名称"] == "kpi" and changes["生效日期"] == "2026-12-04"
    designed = admin.audit_page(store, ADMIN, admin.AuditFilter(action="sheet_saved"), "en").rows
    assert [(r["sheet_label"], r["action_label"]) for r in designed] == [("Register designs", "saved a register's design")]


def test_the_health_screen_shows_what_the_store_answers(store, make_user, monkeypatch):
    """The administrator's screen (AppTest) on either store: SQLite's file, its log and free pages; PostgreSQL's
    database size, its old row versions, the log said not to apply; both check on request."""
    from apptest import login, open_page, submit, texts
    make_user("admin", "root")
    add_visitor(store, "甲甲")
    monkeypatch.setenv("KEFU_DB", str(store.location))
    at = open_page(login("root", PASSWORD), "health")
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    registers = at.dataframe[0].value
    assert registers[registers["登记簿"] == "来访登记"].iloc[0]["有效记录"] == 1
    assert "索引数" in registers.columns
    if store.url:
        assert {"数据库大小", "预写日志（-wal）", "旧行版本"} <= set(metrics) and metrics["预写日志（-wal）"] == "不适用"
        assert "大小（含索引）" in registers.columns and "PostgreSQL" in texts(at)
        at = submit(at, "检查索引")
        assert "所有索引完好" in texts(at)
    else:
        assert {"数据库文件", "预写日志（-wal）", "可回收空间"} <= set(metrics)
        assert "大小（含索引）" not in registers.columns
        at = submit(at, "检查数据库文件")
        assert "数据库文件完好" in texts(at)
