"""The customer archive screens as staff, supervisor, manager, sales director and gm see them (AppTest)."""
import re

from apptest import db_value as one, login, open_page, select_row, submit, texts


def test_staff_sees_only_the_archives_they_keep_or_were_granted(demo_db):
    at = open_page(login("demo-staff"), "customers")
    assert not at.exception
    staff_id = one(demo_db, "SELECT id FROM kefu_users WHERE username = 'demo-staff'")
    kept = one(demo_db, "SELECT count(*) FROM customers WHERE owner = ? AND deleted_at IS NULL", staff_id)
    granted = one(demo_db, "SELECT count(DISTINCT row_id) FROM kefu_grants WHERE user_id = ? AND keeper IS NULL",
                  staff_id)
    assert "共 %d 条" % (kept + granted) in texts(at)
    assert at.dataframe[0].value["联系电话"].str.contains(r"\*\*\*\*").all()
    assert "查阅授权" not in [t.label for t in at.tabs]                # staff neither grant nor list grants


def test_open_an_archive_and_add_a_transaction(demo_db):
    at = select_row(open_page(login("demo-staff"), "customers"))
    assert not at.exception
    labels = [t.label for t in at.tabs]
    assert {"交易记录", "关系维护记录", "业务变更"} <= set(labels)
    assert [m.label for m in at.metric] == ["交易笔数", "交易总额（元）", "未付款（元）", "最近交易"]
    customer_id = at.session_state["customers__open"]
    before = one(demo_db, "SELECT count(*) FROM transactions WHERE customer = ?", customer_id)
    prefix = "customers__archive__transactions__new__0__"
    at.text_input(key=prefix + "item").input("上门检修")
    at.number_input(key=prefix + "amount").set_value(-5.0)
    at.date_input(key=prefix + "traded_on").set_value("2026-11-20")
    form_buttons = [b for b in at.button if b.proto.form_id == "customers__archive__transactions__new__0"]
    at = form_buttons[0].click().run()
    assert "金额（元）：不能小于 0.01" in texts(at)
    assert one(demo_db, "SELECT count(*) FROM transactions WHERE customer = ?", customer_id) == before
    at.number_input(key=prefix + "amount").set_value(880.5)
    at = [b for b in at.button if b.proto.form_id == "customers__archive__transactions__new__0"][0].click().run()
    assert not at.exception
    assert one(demo_db, "SELECT count(*) FROM transactions WHERE customer = ? AND amount = 88050", customer_id) == 1


def test_客户档案由销售总监进行审批确认_the_sales_director_approves_a_draft_with_the_name_masked(demo_db):
    at = open_page(login("demo-sales"), "customers")
    assert "共 %d 条" % one(demo_db, "SELECT count(*) FROM customers WHERE deleted_at IS NULL") in texts(at)
    at.multiselect(key="customers__list__f_status").set_value(["draft"]).run()
    at = select_row(at)
    customer_id = at.session_state["customers__open"]
    name = one(demo_db, "SELECT name FROM customers WHERE id = ?", customer_id)
    assert name not in texts(at) and name[0] + "*" in texts(at)          # 003 保密范围: 姓名, no pii
    assert not [t for t in at.toggle if t.key == f"reveal__customers__{customer_id}"]
    assert not at.get("download_button")                                # never exports
    at = submit(at, "审批通过")
    assert one(demo_db, "SELECT status FROM customers WHERE id = ?", customer_id) == "approved"
    assert one(demo_db, "SELECT approved_by FROM customers WHERE id = ?", customer_id) == \
        one(demo_db, "SELECT id FROM kefu_users WHERE username = 'demo-sales'")


def test_未经总经理授权任何人不得查阅_supervisor_and_manager_see_only_what_the_gm_granted(demo_db):
    manager = open_page(login("demo-manager"), "customers")
    assert not manager.exception and "共 0 条" in texts(manager)
    me = one(demo_db, "SELECT id FROM kefu_users WHERE username = 'demo-supervisor'")
    covered = one(demo_db, "SELECT keeper FROM kefu_grants WHERE keeper IS NOT NULL AND user_id = ?", me)
    books = one(demo_db, "SELECT count(*) FROM customers WHERE owner IN (?, ?) AND deleted_at IS NULL", me, covered)
    supervisor = open_page(login("demo-supervisor"), "customers")
    assert "共 %d 条" % books in texts(supervisor)       # the archives he keeps and the colleague's book he covers
    assert not supervisor.get("download_button")                         # a read grant: no export


def test_the_gm_reveals_personal_data_into_the_access_log(demo_db):
    at = select_row(open_page(login("demo-gm"), "customers"))
    customer_id = at.session_state["customers__open"]
    at.toggle(key=f"reveal__customers__{customer_id}").set_value(True).run()
    assert one(demo_db, "SELECT name FROM customers WHERE id = ?", customer_id) in texts(at)
    assert one(demo_db, "SELECT count(*) FROM kefu_access_log WHERE sheet = 'customers' AND row_id = ? "
                        "AND username = 'demo-gm' AND action = 'view'", customer_id) == 1
    log = open_page(at, "access_log")
    assert not log.exception
    frame = log.dataframe[0].value
    assert frame.iloc[0]["操作人"] == "demo-gm" and frame.iloc[0]["记录"] == customer_id


def test_the_access_log_tells_exports_in_the_user_s_language():
    from views.access_log import detail_text
    from kefu.i18n import t
    assert detail_text('{"rows": 344, "masked": true}', lambda k, **p: t(k, "zh", **p)) == "344 行，个人信息已脱敏"
    assert detail_text('{"rows": 2, "masked": false}', lambda k, **p: t(k, "en", **p)) == \
        "2 rows, personal data in clear"


def test_gm_grants_access_and_the_staff_member_then_sees_the_archive(demo_db):
    staff_id = one(demo_db, "SELECT id FROM kefu_users WHERE username = 'demo-staff'")
    target = one(demo_db, "SELECT id FROM customers WHERE owner != ? AND id NOT IN "
                          "(SELECT row_id FROM kefu_grants) ORDER BY id DESC LIMIT 1", staff_id)
    at = open_page(login("demo-gm"), "customers")
    at.text_input(key="customers__list__search").input(one(demo_db, "SELECT code FROM customers WHERE id = ?",
                                                           target)).run()
    at = select_row(at)
    assert at.session_state["customers__open"] == target
    grant_form = [s for s in at.selectbox if s.label == "授权给"][0]
    grant_form.set_value(staff_id)
    at = submit(at, "授权查阅")
    assert "已授权至" in texts(at)
    assert one(demo_db, "SELECT count(*) FROM kefu_grants WHERE row_id = ? AND user_id = ?", target, staff_id) == 1
    staff = open_page(login("demo-staff"), "customers")
    staff.text_input(key="customers__list__search").input(one(demo_db, "SELECT code FROM customers WHERE id = ?",
                                                              target)).run()
    assert "共 1 条" in texts(staff)


def test_a_new_archive_with_a_known_phone_warns_first(demo_db):
    phone = one(demo_db, "SELECT phone FROM customers WHERE owner = (SELECT id FROM kefu_users "
                         "WHERE username = 'demo-staff') LIMIT 1")
    at = open_page(login("demo-staff"), "customers")
    before = one(demo_db, "SELECT count(*) FROM customers")
    at.text_input(key="customers__new__0__name").input("海棠湾新客户")
    at.text_input(key="customers__new__0__phone").input(phone)
    at = [b for b in at.button if b.proto.form_id == "customers__new__0"][0].click().run()
    assert "可能重复" in texts(at)
    assert one(demo_db, "SELECT count(*) FROM customers") == before
    at = [b for b in at.button if b.proto.form_id == "customers__new__0"][0].click().run()
    assert "已创建：海*****" in texts(at)                        # the name is personal data (保密范围: 姓名)
    assert one(demo_db, "SELECT status FROM customers WHERE name = '海棠湾新客户'") == "draft"


def test_home_cards_for_keeper_and_approver(demo_db):
    staff = login("demo-staff")
    planned = re.search(r"近 7 天待跟进客户 · (\d+)", texts(staff))
    assert planned and int(planned.group(1)) >= 6                    # the seed plans six this week, at least
    director = login("demo-sales")
    assert "待审批档案" in texts(director)
    assert "待审批档案" not in texts(login("demo-manager"))


def test_未经总经理授权_the_supervisor_asks_on_screen_and_the_gm_grants_on_screen(demo_db):
    """An archive the supervisor may not read: he asks for it by its number, the gm sees the request with the
    archive's name and grants it, the supervisor sees the answer and finds the archive in his list."""
    supervisor = one(demo_db, "SELECT id FROM kefu_users WHERE username = 'demo-supervisor'")
    code, name = (one(demo_db, f"SELECT {c} FROM customers WHERE owner != ? AND deleted_at IS NULL AND owner NOT IN "
                               "(SELECT keeper FROM kefu_grants WHERE user_id = ? AND keeper IS NOT NULL) "
                               "ORDER BY id LIMIT 1", supervisor, supervisor) for c in ("code", "name"))
    at = open_page(login("demo-supervisor"), "customers")
    at.text_input(key="customers__list__search").input(code).run()
    assert "共 0 条" in texts(at)
    form = [b for b in at.button if b.proto.form_id == "customers__ask"][0]
    at = form.click().run()                                                  # nothing typed: the fields are named
    assert "档案编号：必填" in texts(at) and "事由：必填" in texts(at)
    at.text_input(key="customers__ask__code").input(code)
    at.text_input(key="customers__ask__reason").input("客户来电，需核对交易记录")
    at = [b for b in at.button if b.proto.form_id == "customers__ask"][0].click().run()
    assert "已提交，总经理答复后显示在下方。" in texts(at) and "等待总经理答复" in set(at.dataframe[-1].value["状态"])

    gm = open_page(login("demo-gm"), "customers")
    assert "档案查阅申请 · 1" in texts(gm) and name in texts(gm) and "陈建国" in texts(gm)
    request = one(demo_db, "SELECT id FROM kefu_access_requests WHERE code = ?", code)
    gm = gm.button(key=f"customers__requests__grant_{request}").click().run()
    assert not gm.exception and "档案查阅申请 · 0" in texts(gm)

    at = open_page(login("demo-supervisor"), "customers")
    assert any(state.startswith("已授权至") for state in at.dataframe[-1].value["状态"])
    at.text_input(key="customers__list__search").input(code).run()
    assert "共 1 条" in texts(at)
