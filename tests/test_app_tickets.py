"""The ticket screen (AppTest): log a call, then move the ticket on as the roles allow."""

from apptest import db_value as one, login, open_page, select_row, texts


def test_log_a_call_then_take_steps(demo_db):
    at = open_page(login("demo-staff"), "tickets")
    assert not at.exception
    prefix = "tickets__new__0__"
    at.selectbox(key=prefix + "channel").set_value("hotline")
    at.selectbox(key=prefix + "kind").set_value("complaint")
    at.selectbox(key=prefix + "category").set_value("speed")
    at.text_input(key=prefix + "caller_name").input("陈先生")
    at.text_input(key=prefix + "caller_phone").input("138-CALL")
    at.text_input(key=prefix + "subject").input("维修迟迟不上门")
    at.number_input(key=prefix + "claim_amount").set_value(12000.0)
    at = [b for b in at.button if b.proto.form_id == "tickets__new__0"][0].click().run()
    assert "来电号码：“138-CALL”不是有效的电话号码" in texts(at)
    assert one(demo_db, "SELECT count(*) FROM tickets") == 0
    at.text_input(key=prefix + "caller_phone").input("13812345678")
    at = [b for b in at.button if b.proto.form_id == "tickets__new__0"][0].click().run()
    assert not at.exception and "已创建：TS-" in texts(at)
    assert one(demo_db, "SELECT escalated FROM tickets") == 1                  # a 12,000 yuan claim

    at = select_row(at)
    assert "已上报部门经理" in texts(at)
    steps = [s for s in at.segmented_control if s.label == "下一步"][0]
    assert steps.options == ["开始处理"]                                     # staff cannot assign
    form = [b for b in at.button if b.proto.form_id.startswith("tickets__step_")][0]
    at = form.click().run()
    assert one(demo_db, "SELECT state FROM tickets") == "in_progress"
    assert "流转记录" in texts(at)
