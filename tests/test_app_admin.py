"""The administration area as the administrator uses it (AppTest): users (role, disable and enable, a new
password, logging out everywhere, the last administrator), the permission matrix, the audit log with one
entry's before and after, the access log, the database's health, personal data (retention, one person's
data erased); every other role gets the notice."""
from datetime import datetime, timedelta

import pytest

from apptest import db_value, login, open_page, select_row, submit, texts
from kefu import auth
from test_app import NAVIGATION, forced_view
from conftest import ASKED

ADMIN_PATHS = ("users", "permissions", "audit", "access_log", "privacy", "health")


def user_id(db, username: str) -> int:
    return db_value(db, "SELECT id FROM kefu_users WHERE username = ?", username)


def buttons(at) -> list[str]:
    return [b.label for b in at.button]


def test_admin_changes_a_role_logs_out_disables_enables_and_sets_a_password(demo_db):
    staff_at = login("demo-staff")
    at = open_page(login("demo-admin"), "users")
    staff = user_id(demo_db, "demo-staff")
    at.selectbox(key="adm_user").set_value(staff).run()
    assert "当前登录会话：1 个" in texts(at)
    at = submit(at, "结束全部会话")
    assert "王小丽：已结束 1 个登录会话。" in texts(at)
    assert staff_at.run().text_input(key="login_username")              # her next click shows the login

    at.selectbox(key=f"adm_role_{staff}").set_value("supervisor").run()
    at = submit(at, "更改角色")
    assert "王小丽的角色已改为主管，其下一次操作起生效。" in texts(at)
    assert db_value(demo_db, "SELECT role FROM kefu_users WHERE id = ?", staff) == "supervisor"

    at = submit(at, "停用账号")
    assert "已停用王小丽的账号，并使其退出登录。" in texts(at)
    assert db_value(demo_db, "SELECT active FROM kefu_users WHERE id = ?", staff) == 0
    table = at.dataframe[0].value
    assert table.loc[table["用户名"] == "demo-staff", "状态"].item() == "已停用"
    assert "停用账号" not in buttons(at)
    at = submit(at, "启用账号")
    assert db_value(demo_db, "SELECT active FROM kefu_users WHERE id = ?", staff) == 1

    at.text_input(key=f"adm_reset_new_{staff}").input("brand-new-secret")
    at.text_input(key=f"adm_reset_again_{staff}").input("brand-new-other")
    at = submit(at, "设置新密码")
    assert "两次输入的密码不一致。" in texts(at)
    at.text_input(key=f"adm_reset_new_{staff}").input("short")
    at.text_input(key=f"adm_reset_again_{staff}").input("short")
    at = submit(at, "设置新密码")
    assert "密码：至少 8 个字符" in texts(at)
    at.text_input(key=f"adm_reset_new_{staff}").input("brand-new-secret")
    at.text_input(key=f"adm_reset_again_{staff}").input("brand-new-secret")
    at = submit(at, "设置新密码")
    assert "已为王小丽设置新密码，并使其退出登录。" in texts(at)
    assert at.text_input(key=f"adm_reset_new_{staff}").value == ""       # never shown again
    assert "用户名或密码错误。" in texts(login("demo-staff"))                # the old password no longer works
    again = login("demo-staff", "brand-new-secret")
    assert again.title[0].value == "王小丽，您好"


def test_the_last_admin_is_offered_nothing_that_would_lock_the_office_out(demo_db, demo_store):
    at = open_page(login("demo-admin"), "users")
    me = user_id(demo_db, "demo-admin")
    at.selectbox(key="adm_user").set_value(me).run()
    assert "周管理是最后一位启用的系统管理员" in texts(at)
    assert "停用账号" not in buttons(at) and "结束全部会话" not in buttons(at)
    assert not [s for s in at.selectbox if s.key == f"adm_role_{me}"]
    assert "这是您本人的账号：请在“我的账号”中修改密码。" in texts(at)
    auth.create_user(demo_store, "second-admin", "吴管理", "admin", "long-enough-pw", auth.SYSTEM)
    at.run()
    assert "最后一位" not in texts(at) and "停用账号" in buttons(at)


def test_admin_reads_the_audit_log_and_one_entry_before_and_after(demo_db, demo_store):
    staff = auth.get_user(demo_store, user_id(demo_db, "demo-staff"))
    admin = auth.get_user(demo_store, user_id(demo_db, "demo-admin"))
    auth.change_role(demo_store, staff.id, "supervisor", admin)
    at = open_page(login("demo-admin"), "audit")
    assert at.title[0].value == "审计日志"
    assert "符合条件的记录超过 10,000 条" in texts(at)                  # the demo office's year of writes
    assert len(at.dataframe[0].value) == 50
    at.selectbox(key="adm_audit__action").set_value("role_changed").run()
    table = at.dataframe[0].value
    assert list(table["操作"]) == ["更改角色"] and list(table["操作人"]) == ["demo-admin"]
    assert list(table["登记簿"]) == ["用户账号"] and list(table["涉及字段"]) == ["角色"]
    at = select_row(at)
    assert "审计记录" in texts(at)
    changes = at.dataframe[1].value
    assert changes.to_dict("records") == [{"字段": "角色", "变更前": "专员", "变更后": "主管"}]

    at.selectbox(key="adm_audit__action").set_value("create")
    at.selectbox(key="adm_audit__sheet").set_value("visitors").run()
    assert set(at.dataframe[0].value["登记簿"]) == {"来访登记"}
    at = select_row(at)
    values = dict(zip(at.dataframe[1].value["字段"], at.dataframe[1].value["变更后"]))
    assert "****" in values["联系电话"] and values["来访人姓名"]          # personal data masked, labels in Chinese
    assert "个人信息已脱敏" in texts(at)


def test_admin_sees_the_permission_matrix(demo_db):
    at = open_page(login("demo-admin"), "permissions")
    sheets, views = at.table[0].value, at.table[1].value
    customers = sheets[sheets["登记簿"] == "客户档案"].iloc[0]
    assert customers["部门经理"] == "查看、新建、修改、删除、导出、个人信息（仅限本人）"
    assert customers["专员"] == "查看、新建、修改、个人信息（仅限本人）" and customers["系统管理员"] == ""
    audit = views[views["页面"] == "审计日志"].iloc[0]
    assert audit["系统管理员"] == "✓" and audit["部门经理"] == ""
    assert not at.text_input and buttons(at) == ["退出登录"]               # read-only: only the sidebar's logout


def test_admin_sees_the_database_health_and_checks_the_file(demo_db):
    at = open_page(login("demo-admin"), "health")
    labels = {m.label for m in at.metric}
    assert {"数据库文件", "预写日志（-wal）", "可回收空间", "最新审计记录"} <= labels
    registers = at.dataframe[0].value
    tickets = registers[registers["登记簿"] == "投诉咨询建议"].iloc[0]
    assert tickets["有效记录"] == db_value(demo_db, "SELECT count(*) FROM tickets WHERE deleted_at IS NULL")
    at = submit(at, "检查数据库文件")
    assert "数据库文件完好" in texts(at)


def test_admin_opens_the_access_log_which_names_no_data(demo_db, demo_store):
    manager = auth.get_user(demo_store, user_id(demo_db, "demo-manager"))
    demo_store.log_access(manager, "customers", 1, "view")
    at = open_page(login("demo-admin"), "access_log")
    table = at.dataframe[0].value
    assert list(table["操作"]) == ["查看个人信息"] and list(table["操作人"]) == ["demo-manager"]
    assert set(table.columns) == {"时间", "操作人", "操作", "登记簿", "记录", "说明"}


def test_the_admin_navigation_groups_the_administration(demo_db):
    assert set(ADMIN_PATHS) <= NAVIGATION["demo-admin"]
    at = login("demo-admin")
    for path in ADMIN_PATHS:
        open_page(at, path)
        assert not at.exception and not at.warning, path


@pytest.mark.parametrize("username", ["demo-staff", "demo-manager", "demo-gm", "demo-finance"])
def test_other_roles_typing_an_admin_url_get_the_notice(demo_db, username):
    at = login(username)
    for path in ("users", "permissions", "audit", "health", "privacy"):
        at = open_page(at, path)
        assert [w.value for w in at.warning] == ["您的角色无权打开此页面。"], (username, path)
        assert not at.dataframe and not at.title


@pytest.mark.parametrize("view", ["users", "permissions", "audit", "health", "privacy"])
@pytest.mark.parametrize("role", ["staff", "supervisor", "manager", "gm", "finance"])
def test_an_admin_view_forced_open_by_another_role_shows_nothing(demo_db, view, role):
    at = forced_view(view, auth.User(id=1, username="x", display_name="X", role=role))
    assert not at.exception
    assert [w.value for w in at.warning] == ["您的角色无权打开此页面。"]
    assert not at.dataframe and not at.title and not at.metric


@pytest.mark.parametrize("view", ["users", "permissions", "audit", "health", "access_log", "privacy"])
def test_an_admin_view_forced_open_by_the_admin_renders(demo_db, view):
    at = forced_view(view, auth.User(id=6, username="demo-admin", display_name="周管理", role="admin"))
    assert not at.exception and not at.warning and at.title


def test_changing_a_filter_starts_again_at_the_newest_entries(demo_db):
    at = open_page(login("demo-admin"), "audit")
    at.selectbox(key="adm_audit__sheet").set_value("customers").run()
    newest = at.dataframe[0].value["编号"].iloc[0]
    at.session_state["adm_audit__page"] = 3
    at.run()
    assert at.dataframe[0].value["编号"].iloc[0] < newest
    at.selectbox(key="adm_audit__action").set_value("approve").run()
    assert at.dataframe[0].value["编号"].iloc[0] == db_value(
        demo_db, "SELECT id FROM kefu_audit WHERE sheet = 'customers' AND action = 'approve' ORDER BY at DESC, id DESC")


def test_the_administration_reads_in_english(demo_db):
    at = login("demo-admin")
    at.segmented_control(key="lang_switch").set_value("en").run()
    for path in ADMIN_PATHS:
        open_page(at, path)
        shown = texts(at) + " ".join(str(c) for d in [*at.dataframe, *at.table] for c in d.value.columns)
        shown += " ".join(f"{m.label} {m.value}" for m in at.metric) + " ".join(b.label for b in at.button)
        assert "adm." not in shown and "审计" not in shown, (path, shown)
    assert at.title[0].value == "Database health"


def test_admin_empties_what_is_due_and_erases_one_persons_data(demo_db, demo_store):
    host = user_id(demo_db, "demo-staff")
    now = datetime.now(demo_store.settings.tz)
    visit = {"visitor_name": "林晓燕", "phone": "13912345678", "id_number": "11010519491231002X", "purpose": "business",
             "host": host, **ASKED}
    old = demo_store.insert("visitors", {**visit, "arrived_at": now - timedelta(days=200)}, auth.SYSTEM)
    recent = demo_store.insert("visitors", {**visit, "arrived_at": now - timedelta(days=2)}, auth.SYSTEM)
    at = open_page(login("demo-admin"), "privacy")
    assert at.title[0].value == "个人信息保护"
    assert {m.label: m.value for m in at.metric} == {"保存期限": "180 天", "上次运行": "尚未运行", "上次清除": "—"}
    assert "仍有 1 条含身份证号或联系电话" in texts(at)
    at = submit(at, "立即清除到期信息")
    assert "1 条来访记录的身份证号和联系电话已清除" in texts(at) and "无待清除记录" in texts(at)
    assert db_value(demo_db, "SELECT phone FROM visitors WHERE id = ?", old) is None
    assert db_value(demo_db, "SELECT visitor_name FROM visitors WHERE id = ?", old) == "林晓燕"

    at.text_input(key="pv_term").input("13912345678")
    at = submit(at, "查找")
    table = at.dataframe[0].value
    assert list(table["编号"]) == [recent] and list(table["查找依据"]) == ["相符：联系电话"]
    assert "13912345678" not in table.to_string() and "林晓燕" not in table.to_string()     # masked
    assert list(table["删除时清除"]) == ["来访人姓名、联系电话、身份证号"]
    assert [b.label for b in at.get("download_button")] == ["导出此人的全部记录（Excel）"]
    assert [b for b in at.button if b.label == "删除个人信息"][0].disabled
    at.checkbox(key="pv_sure").check().run()
    at = submit(at, "删除个人信息")
    assert "已删除：1 条记录（来访登记 1 条）中的个人信息已清除" in texts(at)
    assert db_value(demo_db, "SELECT count(*) FROM visitors WHERE id = ? AND phone IS NULL AND visitor_name IS NULL "
                             "AND id_number IS NULL", recent) == 1
    assert db_value(demo_db, "SELECT username FROM kefu_audit WHERE action = 'person_erase'") == "demo-admin"
    at.text_input(key="pv_term").input("13912345678")
    at = submit(at, "查找")
    assert "没有找到与此身份证号、联系电话、电子邮箱或姓名相符的记录。" in texts(at) and not at.dataframe
