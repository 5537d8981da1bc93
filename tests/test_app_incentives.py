"""The incentives screen (AppTest) along the approval chain (000 第十条: 以上数据由服务部统计，财务部、人力发展部核实
计算; 第八条: 提交总经理批准), on the demo office, whose monthly runs stand at every step of it: the manager prepares
a run and sends it for checking, finance checks it (its file marked as a draft), HR sends one back with a reason
(required), the general manager approves one, which locks it; finance and HR have this screen and no other
(besides home and account); staff see their own statement of approved runs."""
import pytest

from apptest import login, nav_paths, open_page, submit, texts
from kefu import auth, incentives


def user(store, username: str) -> auth.User:
    return auth.get_user(store, store.conn.execute("SELECT id FROM kefu_users WHERE username = ?",
                                                   (username,)).fetchone()[0])


def waiting_for(store, step: str, role: str | None = None) -> str:
    """The demo's period whose run waits for this step (of this role)."""
    for label, state in sorted(incentives.states(store).items()):
        found = incentives.chain(store, label)
        if state == incentives.OPEN and found.next[0] == step and (role is None or role in found.next[1]):
            return label
    raise AssertionError(f"no run of the demo waits for {step} {role}")


def opened(username: str, period: str):
    at = open_page(login(username), "incentives")
    at.selectbox[0].select(period).run()
    assert not at.exception
    return at


def test_the_demo_office_shows_a_run_at_each_step_of_the_chain(demo_db, demo_store):
    states = incentives.states(demo_store)
    assert set(states.values()) == {"open", "returned", "approved"}
    waiting = {incentives.chain(demo_store, label).next for label, state in states.items() if state == "open"}
    assert waiting == {("check", frozenset({"finance"})), ("check", frozenset({"hr"})), ("approve", frozenset({"gm"}))}
    sent_back = [label for label, state in states.items() if state == "returned"]
    assert incentives.chain(demo_store, sent_back[0]).returned_by.reason          # with its reason
    at = open_page(login("demo-manager"), "incentives")
    shown = " ".join(at.selectbox[0].options)
    assert all(word in shown for word in ("核实中", "已退回", "已批准"))


def test_finance_checks_the_run_waiting_for_it_and_its_file_is_a_draft(demo_db, demo_store):
    at = login("demo-finance")
    assert nav_paths(at) == {"", "incentives", "account"}
    period = waiting_for(demo_store, "check", "finance")
    at = opened("demo-finance", period)
    assert "等待财务核实" in texts(at)
    table = at.dataframe[0].value
    assert set(table["审批日期"]) == {"草稿（未批准）"} and "个人所得税（元）" in table.columns
    assert not [b for b in at.button if b.label == "批准"]                 # finance does not approve
    at = submit(at, "核实无误")
    assert not at.exception
    assert f"{period} 已核实。" in texts(at) and "等待人力发展部核实" in texts(at)
    assert incentives.chain(demo_store, period).checked == ["finance"]
    steps = at.dataframe[1].value                                           # the chain, with who and when
    assert list(steps["步骤"])[-1] == "核实" and list(steps["经办人"])[-1] == "孙会计"


def test_hr_sends_a_run_back_with_a_reason(demo_db, demo_store):
    at = login("demo-hr")
    assert nav_paths(at) == {"", "incentives", "department_reviews", "account"}    # HR also scores the department
    period = waiting_for(demo_store, "check", "hr")
    at = opened("demo-hr", period)
    at = submit(at, "退回")                                                   # no reason: refused
    assert "退回原因：必须填写" in [e.value for e in at.error]
    assert incentives.chain(demo_store, period).state == "open"
    at.text_input(key="incentives__reason").input("表扬信奖励缺少附件")
    at = submit(at, "退回")
    assert not at.exception
    found = incentives.chain(demo_store, period)
    assert found.state == "returned" and found.returned_by.reason == "表扬信奖励缺少附件"
    assert "表扬信奖励缺少附件" in texts(at) and "郑秀兰" in texts(at)


def test_the_gm_approves_after_finance_and_hr_and_the_period_locks(demo_db, demo_store):
    period = waiting_for(demo_store, "approve")
    at = opened("demo-gm", period)
    assert "等待总经理批准" in texts(at)
    at = submit(at, "批准")                                                   # not confirmed: nothing happens
    assert incentives.approved_run(demo_store, period) is None
    at.checkbox[0].check()
    at = submit(at, "批准")
    assert not at.exception
    assert f"{period} 已批准并锁定。" in texts(at) and "赵志强" in texts(at)
    run = incentives.approved_run(demo_store, period)
    assert run is not None and run.approved_by == "赵志强"
    assert set(at.dataframe[0].value["审批日期"]) == {run.approved_at[:10]}


def test_the_manager_prepares_a_sent_back_run_again(demo_db, demo_store):
    period = next(label for label, state in incentives.states(demo_store).items() if state == "returned")
    reason = incentives.chain(demo_store, period).returned_by.reason
    at = opened("demo-manager", period)
    assert reason in texts(at)
    assert not [b for b in at.button if b.label in ("核实无误", "批准")]       # the manager neither checks nor approves
    at = submit(at, "提交核实")
    assert not at.exception
    assert f"{period} 已提交核实。" in texts(at) and "等待财务核实" in texts(at)
    assert incentives.chain(demo_store, period).next == ("check", frozenset({"finance"}))


def test_staff_see_their_own_statement_of_approved_runs(demo_db, demo_store):
    staff = user(demo_store, "demo-staff")
    approved = [row["period"] for row in incentives.approved_periods(demo_store, staff)]
    at = open_page(login("demo-staff"), "incentives")
    assert not at.exception
    assert at.selectbox[0].options == approved                                # drafts are not shown to staff
    lines = at.dataframe[0].value
    lines = lines[lines["期间"] != "合计"]
    assert set(lines["员工"]) == {staff.display_name}
    assert not [b for b in at.button if b.label in ("提交核实", "核实无误", "批准", "退回")]


@pytest.mark.parametrize("username", ["demo-supervisor", "demo-admin"])
def test_other_roles_have_no_incentives_screen(demo_db, username):
    at = login(username)
    assert "incentives" not in nav_paths(at)
    at = open_page(at, "incentives")
    assert [w.value for w in at.warning] == ["您的角色无权打开此页面。"] and not at.dataframe
