"""The dashboard screen (AppTest): managers and the gm see the office's figures, the charts and the
rankings, and a line of the ranking opens how it was scored; staff see their own figures and their
own line only; finance and the administrator have no dashboard."""
import pytest

from apptest import login, nav_paths, open_page, select_row, texts
from kefu import auth, kpi

SECTION = "dashboard__section"


def metric(at, label: str) -> str:
    found = [m.value for m in at.metric if m.label == label]
    assert found, f"no metric {label!r} among {[m.label for m in at.metric]}"
    return found[0]


def show(at, section: str):
    at.session_state[SECTION] = section
    return at.run()


@pytest.mark.parametrize("username", ["demo-manager", "demo-gm"])
def test_managers_see_the_office_figures_charts_and_rankings(demo_db, demo_store, username):
    at = open_page(login(username), "dashboard")
    assert not at.exception
    assert "绩效看板" in [t.value for t in at.title]
    user = auth.get_user(demo_store, demo_store.conn.execute(
        "SELECT id FROM kefu_users WHERE username = ?", (username,)).fetchone()[0])
    view = kpi.overview(demo_store, user, "month", kpi.now_in(demo_store).date())
    assert metric(at, "新增工单") == f"{view.current.tickets:,}"
    assert metric(at, "新会员") == f"{view.current.new_members:,}"
    assert "近 12 个月每周工单" in texts(at)
    at = show(at, "charts")
    assert not at.exception
    assert "按渠道" in texts(at) and "来电时段分布（星期 × 小时），供排班参考" in texts(at)
    at = show(at, "rankings")
    assert not at.exception
    assert "员工季度考核排名" in texts(at) and "班组月度排名" in texts(at)


def test_a_ranking_line_opens_how_it_was_scored_and_its_tickets(demo_db):
    at = show(open_page(login("demo-manager"), "dashboard"), "rankings")
    board = at.dataframe[0].value
    first = board.iloc[0]["姓名"]
    at = select_row(at, 0, grid=0)
    assert not at.exception
    assert f"{first} 的得分" in texts(at) and f"{first} 本季度处理的工单" in texts(at)


def test_staff_see_their_own_figures_and_their_own_line(demo_db, demo_store):
    at = open_page(login("demo-staff"), "dashboard")
    assert not at.exception
    assert "您本人的指标" in texts(at)
    assert "新会员" not in [m.label for m in at.metric]
    staff = auth.get_user(demo_store, demo_store.conn.execute(
        "SELECT id FROM kefu_users WHERE username = 'demo-staff'").fetchone()[0])
    own = kpi.overview(demo_store, staff, "month", kpi.now_in(demo_store).date()).current.tickets
    everyone = kpi.overview(demo_store, auth.SYSTEM, "month", kpi.now_in(demo_store).date()).current.tickets
    assert metric(at, "新增工单") == f"{own:,}" and own < everyone
    at = show(at, "rankings")
    assert not at.exception
    assert list(at.dataframe[0].value["姓名"]) == [staff.display_name]
    assert "班组月度排名" not in texts(at)


@pytest.mark.parametrize("username", ["demo-finance", "demo-admin"])
def test_finance_and_the_administrator_have_no_dashboard(demo_db, username):
    at = login(username)
    assert "dashboard" not in nav_paths(at)
    at = open_page(at, "dashboard")                     # the address typed: a notice, no figures
    assert [w.value for w in at.warning] == ["您的角色无权打开此页面。"] and not at.metric
