"""The incentives screen (AppTest): finance has this screen and no other (besides home and account), sees
approved runs only with one-click files; a manager computes, checks and approves a run, which locks it;
staff see their own statement."""
import pytest

from apptest import login, nav_paths, open_page, submit, texts
from kefu import auth, incentives, reports

QUIET = "2025-10"     # a month before the demo office's records (tickets a year back, incentive sources half a year)


def user(store, username: str) -> auth.User:
    return auth.get_user(store, store.conn.execute("SELECT id FROM kefu_users WHERE username = ?",
                                                   (username,)).fetchone()[0])


def with_points(store, username: str, count: int, period: str = QUIET) -> auth.User:
    staff = user(store, username)
    store.insert_many("service_points", [{"staff": staff.id, "done_on": f"{period}-15", "project_type": "maintenance",
                                          "project": f"FW-{n}"} for n in range(count)], auth.SYSTEM)
    return staff


def test_finance_sees_only_the_incentives_screen_and_approved_runs(demo_db, demo_store):
    at = login("demo-finance")
    assert nav_paths(at) == {"", "incentives", "account"}
    at = open_page(at, "incentives")
    assert not at.exception
    assert "尚无已审批的核算。" in texts(at) and not at.dataframe            # nothing approved yet: no draft shown
    staff = with_points(demo_store, "demo-staff", 20)
    incentives.approve(demo_store, user(demo_store, "demo-manager"), QUIET)
    at = open_page(login("demo-finance"), "incentives")
    assert not at.exception
    assert at.selectbox[0].options == [QUIET]
    table = at.dataframe[0].value
    line = table[(table["员工"] == staff.display_name) & (table["期间"] != "合计")]
    assert list(line["项目"]) == ["月度绩效"] and list(line["金额（元）"]) == [810.0]
    assert table.iloc[-1]["期间"] == "合计" and table.iloc[-1]["项目"] == "本期总计"
    assert "审批" in texts(at) and not [b for b in at.button if b.label == "审批"]   # finance cannot approve


def test_a_manager_computes_checks_and_approves(demo_db, demo_store):
    period = incentives.recent_periods(reports.today(demo_store))[0]     # last month, the screen's first choice
    with_points(demo_store, "demo-staff", 19, period)
    at = open_page(login("demo-manager"), "incentives")
    at.selectbox[0].select(period).run()
    assert not at.exception
    assert "尚未审批" in texts(at)
    at = submit(at, "审批")                                             # not confirmed: nothing happens
    assert incentives.approved_run(demo_store, period) is None
    at.checkbox[0].check()
    at = submit(at, "审批")
    assert not at.exception
    assert f"{period} 已审批并锁定。" in texts(at)
    assert incentives.approved_run(demo_store, period) is not None


def test_staff_see_their_own_statement(demo_db, demo_store):
    mine = with_points(demo_store, "demo-staff", 18)
    other = demo_store.conn.execute("SELECT id FROM kefu_users WHERE role = 'staff' AND username != 'demo-staff' "
                                    "LIMIT 1").fetchone()[0]
    demo_store.insert_many("service_points", [{"staff": other, "done_on": f"{QUIET}-16", "project_type": "overhaul",
                                               "project": f"DX-{n}"} for n in range(6)], auth.SYSTEM)
    incentives.approve(demo_store, user(demo_store, "demo-manager"), QUIET)
    at = open_page(login("demo-staff"), "incentives")
    assert not at.exception
    table = at.dataframe[0].value
    lines = table[table["期间"] != "合计"]
    assert set(lines["员工"]) == {mine.display_name} and list(lines["金额（元）"]) == [270.0]


@pytest.mark.parametrize("username", ["demo-supervisor", "demo-gm", "demo-admin"])
def test_other_roles_have_no_incentives_screen(demo_db, username):
    at = login(username)
    assert "incentives" not in nav_paths(at)
    at = open_page(at, "incentives")
    assert [w.value for w in at.warning] == ["您的角色无权打开此页面。"] and not at.dataframe
