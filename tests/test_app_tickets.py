"""The ticket screen (AppTest): log a call with the caller found by phone and the knowledge base
suggesting answers, move the ticket on as the roles allow, the manager signs for an escalation."""

from datetime import timedelta

from kefu import auth, tickets
from apptest import db_value as one, login, open_page, shown, texts

NEW = "tickets__new__0__"


def grid_index(at, prefix: str) -> int:
    return next(i for i, frame in enumerate(at.dataframe) if (frame.key or "").startswith(prefix))


def pick(at, prefix: str, row: int = 0):
    at.session_state[at.dataframe[grid_index(at, prefix)].key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    return at.run()


def test_log_a_call_then_take_steps(demo_db):
    phone, code, name = [one(demo_db, f"SELECT {c} FROM customers c JOIN kefu_users u ON u.id = c.owner "
                                      "WHERE u.username = 'demo-staff' AND c.phone IS NOT NULL ORDER BY c.id LIMIT 1")
                         for c in ("c.phone", "c.code", "c.name")]
    tickets_before = one(demo_db, "SELECT count(*) FROM tickets")
    at = open_page(login("demo-staff"), "tickets")
    assert not at.exception
    assert "输入来电号码后，此处显示客户档案与历史工单。" in texts(at)
    at.selectbox(key=NEW + "channel").set_value("hotline")
    at.selectbox(key=NEW + "kind").set_value("complaint")
    at.selectbox(key=NEW + "category").set_value("billing")
    at.text_input(key=NEW + "caller_name").input("陈先生")
    at.text_input(key=NEW + "caller_phone").input("138-CALL").run()
    assert "号码尚不完整或无效。" in texts(at)
    at.text_input(key=NEW + "subject").input("发票一直没有寄到")
    at.number_input(key=NEW + "claim_amount").set_value(12000.0)
    at = at.button(key=NEW + "submit").click().run()
    assert "来电号码：“138-CALL”不是有效的电话号码" in texts(at)
    assert one(demo_db, "SELECT count(*) FROM tickets") == tickets_before
    at.text_input(key=NEW + "caller_phone").input(phone).run()
    assert f"客户 **{code} · {name}**，工单将关联此档案。" in texts(at)       # the phone finds the archive
    assert any("发票" in e.label for e in at.expander)                     # and the subject an article
    at = at.button(key=NEW + "submit").click().run()
    assert not at.exception and "请将工单号告知来电人" in texts(at)
    number, escalated, customer = [one(demo_db, f"SELECT {c} FROM tickets ORDER BY id DESC LIMIT 1")
                                   for c in ("ticket_no", "escalated", "customer")]
    assert escalated == 1 and customer == one(demo_db, "SELECT id FROM customers WHERE code = ?", code)

    at = pick(at, "tickets__lists__mine__grid_")                   # "mine" lists the newest first
    assert f"### {number}" in " ".join(shown(m.value) for m in at.markdown) and "已上报部门经理" in texts(at)
    steps = [s for s in at.segmented_control if s.label == "下一步"][0]
    assert steps.options == ["开始处理", "转售后工程师"]                     # staff cannot assign
    go = [b for b in at.button if (b.key or "").startswith("tickets__lists__step_") and b.key.endswith("__go")][0]
    at = go.click().run()
    assert not at.exception
    assert one(demo_db, "SELECT state FROM tickets WHERE ticket_no = ?", number) == "in_progress"

    manager = open_page(login("demo-manager"), "home")
    assert number in texts(manager)
    sign = [b for b in manager.button if (b.key or "").startswith("home_ack_")]
    ticket_id = one(demo_db, "SELECT id FROM tickets WHERE ticket_no = ?", number)
    manager = [b for b in sign if b.key == f"home_ack_{ticket_id}"][0].click().run()
    assert not manager.exception and number not in texts(manager)
    assert one(demo_db, "SELECT acknowledged_by FROM tickets WHERE id = ?", ticket_id) == one(
        demo_db, "SELECT id FROM kefu_users WHERE username = 'demo-manager'")


def close_two_tickets_now(demo_store) -> None:
    """This week's sample needs tickets closed this week, whatever the day: two, by demo-staff."""
    user = {name: auth.get_user(demo_store, demo_store.conn.execute(
        "SELECT id FROM kefu_users WHERE username = ?", (f"demo-{name}",)).fetchone()[0]) for name in ("staff", "gm")}
    for _ in range(2):
        ticket_id = tickets.intake(demo_store, user["staff"], {
            "channel": "hotline", "kind": "inquiry", "category": "billing", "caller_name": "赵先生", "subject": "账单疑问"})
        for step, who in (("start", "staff"), ("answer", "staff")):          # an inquiry needs no approval
            tickets.step(demo_store, user[who], ticket_id, step)
        tickets.step(demo_store, user["staff"], ticket_id, "follow_up", values={"satisfaction": 5})


def test_a_supervisor_s_spot_check_records_results(demo_store, demo_db):
    close_two_tickets_now(demo_store)
    at = open_page(login("demo-supervisor"), "tickets")
    assert not at.exception and "质检抽查" in [t.label for t in at.tabs]
    week = [d for d in at.date_input if d.key == "tickets__spot__week"][0]
    monday = week.value + timedelta(days=7)                          # this week: nothing checked yet
    at = week.set_value(monday).run()
    before = one(demo_db, "SELECT count(*) FROM spot_checks WHERE week = ?", monday.isoformat())
    assert f"已抽查 {before}/" in texts(at)
    at.session_state[f"tickets__spot__editor_{monday.isoformat()}"] = {
        "edited_rows": {0: {"结果": "不合格", "说明": "未核实客户身份"}, 1: {"结果": "合格"}},   # unchecked: newest
        "added_rows": [], "deleted_rows": []}
    at = at.button(key="tickets__spot__save").click().run()
    assert not at.exception
    assert one(demo_db, "SELECT count(*) FROM spot_checks WHERE week = ?", monday.isoformat()) == before + 2
    assert one(demo_db, "SELECT result FROM spot_checks WHERE note = '未核实客户身份'") == "fail"
    assert f"已抽查 {before + 2}/" in texts(at)
    staff = open_page(login("demo-staff"), "tickets")
    assert "质检抽查" not in [t.label for t in staff.tabs]
