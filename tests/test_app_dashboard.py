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


def test_合格率_targets_beside_the_actual_figures_and_the_kpi_tables_of_the_quarter(demo_db, demo_store):
    """客服部经理考核指标表 and 受理组主管考核指标表 on the manager's dashboard: this quarter's 85/90/95 targets
    beside the actual pass rates (the demo's spot checks are of the last weeks, its reviews of the quarters
    before), then the last quarter's department score and each supervisor's MBO score; a quarter with no
    data says so."""
    at = show(open_page(login("demo-manager"), "dashboard"), "tables")
    assert not at.exception
    manager = auth.get_user(demo_store, demo_store.conn.execute(
        "SELECT id FROM kefu_users WHERE username = 'demo-manager'").fetchone()[0])
    today = kpi.now_in(demo_store).date()
    year, quarter = kpi.quarter_of(today)
    rates = kpi.pass_rates(demo_store, manager, year, quarter)
    assert rates[0].actual is not None and rates[0].basis > 0          # this quarter's spot checks
    for rate, label in zip(rates, ("平均季度合格率（目标 85%）", "年度总体合格率（目标 90%）", "总体合格率（目标 95%）")):
        assert metric(at, label) == ("—" if rate.actual is None else f"{rate.actual:.1f}%")
    last = divmod(year * 4 + quarter - 2, 4)
    last = (last[0], last[1] + 1)
    at.selectbox(key="dashboard__table_quarter").set_value(last)
    at = at.run()
    assert not at.exception
    overall = kpi.pass_rates(demo_store, manager, *last)[2]
    assert overall.actual is not None and metric(at, "总体合格率（目标 95%）") == f"{overall.actual:.1f}%"
    department = kpi.department_score(demo_store, manager, *last)
    assert department.entered and metric(at, "部门得分") == f"{department.score:.2f}"
    name = f"{last[0]} 年第 {last[1]} 季度"
    assert f"客服部经理考核指标表 · {name}" in texts(at) and f"受理组主管考核指标表（MBO） · {name}" in texts(at)
    parts = next(d.value for d in at.dataframe if "考核项" in d.value.columns)
    assert list(parts["考核项"]) == ["部门人员总体服务质量（外部客户满意度）", "部门人员服务素质、岗位技能合格率",
                                     "流程标准化改善程度", "内部客户满意度", "服务分析报表的准确性、及时性、全面性"]
    assert list(parts["权重"]) == ["50%", "20%", "10%", "10%", "10%"]
    supervisors = next(d.value for d in at.dataframe if "主管" in d.value.columns)
    expected = kpi.supervisor_scores(demo_store, manager, *last)
    assert list(supervisors["主管"]) == [r.name for r in expected]
    assert list(supervisors["得分"]) == pytest.approx([r.score for r in expected])
    assert list(supervisors.columns)[3:] == ["投诉满意度 40%", "报表 20%", "内部满意度 10%", "技能提升 10%", "服务质量 10%", "MBO 10%"]
    far = divmod(year * 4 + quarter - 1 - 7, 4)                    # eight quarters back: the demo has nothing
    at.selectbox(key="dashboard__table_quarter").set_value((far[0], far[1] + 1))
    at = at.run()
    assert "本季度尚无部门考核数据：没有回访、员工考核评分或部门季度考核评分。" in texts(at)


def test_the_kpi_tables_are_not_the_supervisors(demo_db):
    at = show(open_page(login("demo-supervisor"), "dashboard"), "tables")                                        # asked for anyway: the overview
    assert not at.exception and "考核表" not in [s.value for s in at.subheader] and at.metric
    assert "合格率" not in texts(at)
