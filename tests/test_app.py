"""The app as each role sees it (AppTest): navigation, every view, forms, the presence board."""
import sqlite3

import pytest
from streamlit.testing.v1 import AppTest

from apptest import login, nav_paths, open_page, select_row, shown, start, submit, texts
from conftest import book_today
from kefu import auth, config, visitors
from kefu.sheets import ROLES, load_sheets
from kefu.store import Store
from screens import DEMO, NOT_ALLOWED, OPENS, opens

# the navigation each demo user is offered ('' is the home page), from the matrix in tests/screens.py
NAVIGATION = {DEMO[role]: {"" if path == "home" else path for path in opens(role)} for role in ROLES}


def test_the_matrix_names_every_screen_the_app_has():
    """A new register or screen must be added to tests/screens.py, with who opens it, before it ships."""
    menu = {name for name, sheet in load_sheets().items() if sheet.menu}
    assert set(OPENS) == menu | set(auth.VIEW_ROLES)


def count(db, sql: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchone()[0]


@pytest.mark.parametrize("username", list(NAVIGATION))
def test_each_role_opens_its_screens_and_is_refused_the_others(demo_db, username):
    """Every screen, as the sidebar or a typed URL reaches it: the role's own render (a title, no notice);
    every other one shows the notice alone, with no title, table or field."""
    at = login(username)
    assert not at.exception
    assert nav_paths(at) == NAVIGATION[username]
    for path in OPENS:
        open_page(at, "" if path == "home" else path)
        assert not at.exception, (path, at.exception)
        if path in opens(next(role for role, name in DEMO.items() if name == username)):
            assert NOT_ALLOWED not in texts(at) and at.title, path
        else:
            assert [w.value for w in at.warning] == [NOT_ALLOWED], path
            assert not at.title and not at.dataframe and not at.text_input, path


def forced_view(view: str, user: auth.User) -> AppTest:
    """Run one view's render() for a user, as a stale session or a typed URL might reach it."""
    def script(view_name):
        from views import access_log, account, backups, customers, dashboard, imports, sheet, users, visitors  # noqa: F401
        from views import audit, health, permissions, privacy  # noqa: F401
        import views
        module = getattr(views, {"roster": "sheet"}.get(view_name, view_name))
        (module.screen_for("roster") if view_name == "roster" else module.render)()

    at = AppTest.from_function(script, args=(view,), default_timeout=30)
    at.session_state["user"] = user
    return at.run()


@pytest.mark.parametrize("view, role", [("users", "staff"), ("users", "manager"), ("users", "finance"),
                                        ("visitors", "finance"), ("roster", "finance"), ("customers", "admin"),
                                        ("customers", "finance"), ("access_log", "staff"),
                                        ("access_log", "supervisor"), ("dashboard", "finance"),
                                        ("dashboard", "admin"), ("imports", "staff"), ("imports", "finance"),
                                        ("imports", "admin"), ("backups", "manager"), ("backups", "staff"),
                                        ("account", None)])
def test_forbidden_view_forced_open_shows_nothing(demo_db, view, role):
    user = None if role is None else auth.User(id=1, username="x", display_name="X", role=role)
    at = forced_view(view, user)
    assert not at.exception
    assert [w.value for w in at.warning] == ["您的角色无权打开此页面。"]
    assert not at.dataframe and not at.title and not at.text_input


def test_allowed_view_forced_open_renders(demo_db):
    at = forced_view("users", auth.User(id=6, username="demo-admin", display_name="周管理", role="admin"))
    assert not at.warning and at.dataframe


def test_wrong_password_is_refused_and_locks_after_five(demo_db):
    at = login("demo-staff", "wrong-password")
    assert [e.value for e in at.error] == ["用户名或密码错误。"]
    for _ in range(4):
        at = login("demo-staff", "wrong-password")
    assert "账号已锁定" in at.error[0].value
    at = login("demo-staff")
    assert "账号已锁定" in at.error[0].value


def test_empty_database_opens_on_create_the_administrator(tmp_path, monkeypatch):
    monkeypatch.setenv("KEFU_DB", str(tmp_path / "new.db"))
    at = start()
    assert at.title[0].value == "创建系统管理员"
    at.text_input[1].input("王管理")
    at.text_input[2].input("short")
    at.text_input[3].input("short")
    at = submit(at, "创建管理员")
    assert "密码：至少 8 个字符" in at.error[0].value
    at.text_input[2].input("a-good-password")
    at.text_input[3].input("a-good-password")
    at = submit(at, "创建管理员")
    assert at.text_input(key="login_username")                  # now the login screen
    at.text_input(key="login_username").input("admin")
    at.text_input(key="login_password").input("a-good-password")
    at = submit(at, "登录")
    assert nav_paths(at) == NAVIGATION["demo-admin"]


def test_corrupt_database_shows_a_message_not_a_traceback(tmp_path, monkeypatch):
    bad = tmp_path / "kefu.db"
    bad.write_bytes(b"garbage" * 1000)
    monkeypatch.setenv("KEFU_DB", str(bad))
    at = start()
    assert not at.exception
    assert "数据库无法使用" in at.error[0].value and "file is not a database" in at.error[0].value
    at.run()                                                     # and again: no crash loop
    assert not at.exception and at.error


def test_register_a_visitor_bad_input_then_good(demo_db):
    at = open_page(login("demo-staff"), "visitors")
    before = count(demo_db, "SELECT count(*) FROM visitors")
    at.text_input(key="visitors__new__0__visitor_name").input("")
    at.text_input(key="visitors__new__0__phone").input("138abc")
    at.number_input(key="visitors__new__0__party_size").set_value(0)
    at = submit(at, "保存")
    errors = at.error[0].value
    assert "未保存" in errors and "来访人姓名：必填" in errors and "联系电话：“138abc”不是有效的电话号码" in errors
    assert "来访人数：不能小于 1" in errors and "来访事由：必填" in errors
    assert at.text_input(key="visitors__new__0__phone").value == "138abc"       # what was typed is kept
    assert count(demo_db, "SELECT count(*) FROM visitors") == before

    at.text_input(key="visitors__new__0__visitor_name").input("钱七")
    at.text_input(key="visitors__new__0__phone").input("13511112222")
    at.number_input(key="visitors__new__0__party_size").set_value(2)
    at.selectbox(key="visitors__new__0__purpose").set_value("inquiry")
    at.selectbox(key="visitors__new__0__host").set_value(1)
    at = submit(at, "保存")                   # arriving now: who the visitor is must be asked (003 询问清楚…)
    errors = shown(at.error[0].value)
    assert "性别：来访者到访时须询问清楚并填写" in errors and "工作单位：来访者到访时须询问清楚并填写" in errors
    assert "身份/职务：来访者到访时须询问清楚并填写" in errors
    assert count(demo_db, "SELECT count(*) FROM visitors") == before
    at.selectbox(key="visitors__new__0__gender").set_value("female")
    at.text_input(key="visitors__new__0__organisation").input("海棠湾酒店")
    at.text_input(key="visitors__new__0__identity").input("采购主管")
    at = submit(at, "保存")
    assert not at.exception
    assert "已创建：钱七" in texts(at)
    assert count(demo_db, "SELECT count(*) FROM visitors") == before + 1
    assert count(demo_db, "SELECT count(*) FROM visitors WHERE visitor_name = '钱七' AND arrived_at IS NOT NULL") == 1
    assert "钱七" in texts(at)                                   # now on the board: in the building


def test_returning_visitor_fills_the_form(demo_db):
    with sqlite3.connect(demo_db) as conn:
        name, organisation, phone = conn.execute(
            "SELECT visitor_name, organisation, phone FROM visitors WHERE organisation IS NOT NULL "
            "ORDER BY id DESC LIMIT 1").fetchone()
    at = open_page(login("demo-staff"), "visitors")
    at.text_input(key="visitors__lookup_phone").input(phone)
    at = submit(at, "查找")
    assert "已按" in texts(at)
    assert at.text_input(key="visitors__new__1__visitor_name").value == name
    assert at.text_input(key="visitors__new__1__organisation").value == organisation


def test_check_in_and_out_from_the_home_board(demo_db):
    book_today(demo_db, "欧阳明远", host="demo-staff")              # the first of 今日预约 at any hour
    at = login("demo-staff")
    present = count(demo_db, "SELECT count(*) FROM visitors WHERE arrived_at IS NOT NULL AND left_at IS NULL")
    check_in = [b for b in at.button if b.label == "签到"][0]
    at = check_in.click().run()
    assert count(demo_db, "SELECT count(*) FROM visitors WHERE arrived_at IS NOT NULL AND left_at IS NULL") == present + 1
    assert any("已签到" in t.value for t in at.toast)
    at = [b for b in at.button if b.label == "签离"][0].click().run()
    assert count(demo_db, "SELECT count(*) FROM visitors WHERE arrived_at IS NOT NULL AND left_at IS NULL") == present
    assert any("已签离" in t.value for t in at.toast)


def test_grid_search_detail_edit_delete_and_undo(demo_db):
    at = open_page(login("demo-manager"), "visitors")
    grid = at.dataframe[0].value
    assert len(grid) == 50 and "联系电话" in grid.columns
    assert grid["接待迟到"].str.startswith("接待迟到 ").any()        # a host who kept a visitor waiting is flagged
    with sqlite3.connect(demo_db) as conn:                           # each row as the engine reckons it from the record
        conn.row_factory = sqlite3.Row
        stored = {r["id"]: dict(r) for r in conn.execute("SELECT * FROM visitors")}
    store = Store(demo_db, load_sheets(), config.load())
    received = [(i, shown) for i, shown in zip(grid["编号"], grid["接待迟到"]) if stored[int(i)]["received_at"]]
    expected = [f"接待迟到 {m} 分钟" if (m := visitors.host_minutes_late(store, stored[int(i)])) else ""
                for i, _ in received]                                # (a visitor still waiting: later by the minute)
    assert [shown for _, shown in received] == expected and "" in expected
    assert grid["联系电话"].str.contains(r"\*\*\*\*").all()         # the grid masks personal data
    at.text_input(key="visitors__list__search").input("zzzz-nobody").run()
    assert "没有符合条件的记录" in texts(at)
    at.text_input(key="visitors__list__search").input("").run()
    first_id = int(at.dataframe[0].value.iloc[0]["编号"])
    at = select_row(at)
    assert not at.exception
    assert "显示个人信息" in [t.label for t in at.toggle]
    at.toggle(key=f"reveal__visitors__{first_id}").set_value(True).run()
    assert count(demo_db, f"SELECT count(*) FROM kefu_access_log WHERE row_id = {first_id} AND action = 'view'") == 1
    at.run()                                                       # redrawing is not a second reveal
    assert count(demo_db, f"SELECT count(*) FROM kefu_access_log WHERE row_id = {first_id}") == 1

    at.text_area(key=f"visitors__list__edit_{first_id}_clear__0__record").input("谈妥续约")
    at = submit(at, "保存")
    assert not at.error
    assert not at.exception
    assert count(demo_db, f"SELECT count(*) FROM visitors WHERE id = {first_id} AND record = '谈妥续约'") == 1
    at = submit(at, "删除")
    assert "已删除" in texts(at)
    assert count(demo_db, f"SELECT count(*) FROM visitors WHERE id = {first_id} AND deleted_at IS NOT NULL") == 1
    at = submit(at, "撤销")
    assert count(demo_db, f"SELECT count(*) FROM visitors WHERE id = {first_id} AND deleted_at IS NULL") == 1
    with sqlite3.connect(demo_db) as conn:
        actions = [r[0] for r in conn.execute("SELECT action FROM kefu_audit WHERE sheet = 'visitors' AND row_id = ? "
                                              "ORDER BY id", (first_id,))]
    assert actions[-3:] == ["update", "delete", "restore"]


def test_staff_cannot_delete_and_sees_no_csv_download(demo_db):
    at = open_page(login("demo-staff"), "visitors")
    at = select_row(at)
    labels = [b.label for b in at.button]
    assert "删除" not in labels
    assert not at.get("download_button")
    assert "您的角色看到的个人信息已做脱敏处理。" in texts(at)


def test_language_switch_is_remembered_for_the_user(demo_db):
    at = login("demo-staff")
    assert at.title[0].value == "王小丽，您好"
    at.segmented_control(key="lang_switch").set_value("en").run()
    assert at.title[0].value == "Good day, 王小丽"
    assert count(demo_db, "SELECT count(*) FROM kefu_users WHERE username = 'demo-staff' AND language = 'en'") == 1
    again = login("demo-staff")
    assert again.title[0].value == "Good day, 王小丽"


def test_roster_is_a_sheet_with_no_python_of_its_own(demo_db):
    at = open_page(login("demo-supervisor"), "roster")
    assert at.title[0].value == "排班表"
    assert {"日期", "员工", "班次"} <= set(at.dataframe[0].value.columns)
    assert "新建记录" in [t.label for t in at.tabs]
    staff_view = open_page(login("demo-staff"), "roster")
    assert "新建记录" not in [t.label for t in staff_view.tabs]


def test_a_disabled_user_is_sent_back_to_login(demo_db):
    at = login("demo-staff")
    with sqlite3.connect(demo_db) as conn:
        conn.execute("UPDATE kefu_users SET active = 0 WHERE username = 'demo-staff'")
    at.run()
    assert at.text_input(key="login_username")


@pytest.mark.parametrize("token", ["ab__cd", "__", "-_-_", "x" * 43])
def test_cookie_component_key_is_valid_for_any_token(token):
    from kefu.ui.session import cookie_widget_key
    key = cookie_widget_key(token, "set")
    assert "__" not in key and key != cookie_widget_key(token + "x", "set") and key != cookie_widget_key(token, "clear")


def test_admin_adds_a_user_who_can_then_log_in(demo_db):
    at = open_page(login("demo-admin"), "users")
    at.text_input(key="adm_new_username").input("lilei")
    at.text_input(key="adm_new_display_name").input("李雷")
    at.selectbox(key="adm_new_role").set_value("supervisor")
    at.text_input(key="adm_new_password").input("short")
    at = submit(at, "添加用户")
    assert "密码：至少 8 个字符" in at.error[0].value
    assert at.text_input(key="adm_new_username").value == "lilei"          # what was typed is kept
    at.text_input(key="adm_new_password").input("a-long-password")
    at = submit(at, "添加用户")
    assert "已添加用户 lilei。" in texts(at)
    assert at.text_input(key="adm_new_username").value == ""               # and the form starts empty again
    assert nav_paths(login("lilei", "a-long-password")) == NAVIGATION["demo-supervisor"]


def test_a_broken_sheet_file_stops_the_app_with_the_problem_named(demo_db, tmp_path, monkeypatch):
    schema = tmp_path / "schema"
    schema.mkdir()
    (schema / "notes.toml").write_text('name = "notes"\nlabel = { en = "Notes", zh = "笔记" }\n[permissions]\n'
                                       'staff = ["read"]\n[[fields]]\nname = "title"\ntype = "txet"\n'
                                       'label = { en = "T", zh = "题" }\n', encoding="utf-8")
    monkeypatch.setenv("KEFU_SCHEMA", str(schema))
    at = start()
    assert not at.exception
    message = shown(at.error[0].value)
    assert "表单定义文件有误" in message and "notes.toml: field 'title': unknown type 'txet'" in message
    assert not at.text_input                                     # no login form on a broken app


@pytest.mark.parametrize("day, lang, expected", [
    ("2026-10-01", "zh", "今天是 2026-10-01 星期四 · 国庆节"),
    ("2026-10-01", "en", "Today is 2026-10-01 Thursday · National Day"),
    ("2026-10-10", "zh", "今天是 2026-10-10 星期六 · 调休上班"),
    ("2026-11-23", "zh", "今天是 2026-11-23 星期一"),
])
def test_the_day_line_knows_holidays_and_make_up_days(day, lang, expected, monkeypatch):
    from datetime import date
    from kefu.ui import context
    from views import home
    monkeypatch.setattr(context, "lang", lambda: lang)
    assert home.day_line(date.fromisoformat(day), lang) == expected
