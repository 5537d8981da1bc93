"""End to end in headless Chromium against `streamlit run`: the department manager changes the KPI weights on
the office rules screen (办公规则), sees the quarter's ranking under them before saving, saves, and the
dashboard ranks by them. The app runs on a demo copy of its own and reads a rules folder of its own
($KEFU_RULES), so the repository's rules/ is never written. Also refreshes the screen's README screenshot."""
import pytest
from playwright.sync_api import expect

from browser import log_in, own_folder_server, settle, shoot
from kefu import auth, config, kpi
from kefu.sheets import load_sheets
from kefu.store import Store

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(demo_file, tmp_path_factory):
    """Overrides conftest's: `streamlit run` on a demo copy with a rules folder of its own."""
    running = own_folder_server(demo_file, tmp_path_factory.mktemp("office-rules"), "rules", "KEFU_RULES")
    yield running
    running.stop()


def ranking(server, monkeypatch) -> list[tuple[str, float]]:
    """The current quarter's staff ranking as the engine makes it from the server's database and rules:
    (name, score) of the first five places."""
    monkeypatch.setenv("KEFU_RULES", str(server.rules))
    store = Store(server.db, load_sheets(), config.load())
    try:
        year, quarter = kpi.quarter_of(kpi.now_in(store).date())
        rows = [row for row in kpi.staff_ranking(store, auth.SYSTEM, year, quarter) if row.ranked]
        return [(row.name, round(row.score, 2)) for row in rows[:5]]
    finally:
        store.close()


def shown_ranking(grid, name: int = 2, score: int = 3) -> list[tuple[str, float]]:
    """(name, score) of the first five lines of a ranking grid, as its accessible table reads them (the
    canvas draws the same cells); name and score: their column numbers."""
    expect(grid.locator("table [role='gridcell']").first).to_be_attached(timeout=20000)

    def column(number: int) -> list[str]:
        cells = grid.locator(f"table [role='row'] [role='gridcell']:nth-child({number})")
        return [text.strip() for text in cells.all_inner_texts()]
    return [(who, round(float(points), 2)) for who, points in zip(column(name), column(score))][:5]


def test_the_manager_changes_the_kpi_weights_and_the_dashboard_ranks_by_them(server, chromium, monkeypatch):
    before = ranking(server, monkeypatch)
    context = chromium.new_context(viewport={"width": 1400, "height": 1300}, locale="zh-CN")
    page = context.new_page()
    log_in(page, server.url, "demo-manager")

    page.goto(f"{server.url}/dashboard")
    page.get_by_role("radio", name="排名").click()
    rule = page.get_by_text("客户满意度 50%")
    rule.wait_for(timeout=20000)
    board = page.locator("[data-testid='stDataFrame']").first
    board.wait_for(timeout=20000)
    assert shown_ranking(board) == before

    page.goto(f"{server.url}/office_rules")
    page.get_by_role("heading", name="办公规则").first.wait_for(timeout=20000)
    for label, value in (("外部客户满意度", "20"), ("员工服务技能合格率", "50")):
        field = page.get_by_label(label, exact=True)
        field.fill(value)
        field.press("Tab")
    page.get_by_role("button", name="预览变化").click()
    page.get_by_role("heading", name="员工排名：当前与新权重").wait_for(timeout=30000)
    preview = page.locator("[data-testid='stDataFrame']").filter(has_text="新名次")
    preview.wait_for(timeout=20000)
    proposed = shown_ranking(preview, name=1, score=5)               # ordered by the new places
    assert proposed != before
    page.get_by_role("heading", name="变化内容").scroll_into_view_if_needed()
    shoot(page, "office-rules")                                      # the README's picture: the preview
    assert ranking(server, monkeypatch) == before                    # nothing saved by the preview
    page.get_by_role("button", name="保存").click()
    page.get_by_text("已保存为第 2 版").wait_for(timeout=30000)
    assert (server.rules / "kpi.toml").read_text(encoding="utf-8").count("satisfaction = 20 ") == 1
    changed = ranking(server, monkeypatch)
    assert changed == proposed                                        # the preview said what the save did

    page.goto(f"{server.url}/dashboard")
    page.get_by_role("radio", name="排名").click()
    page.get_by_text("客户满意度 20%").wait_for(timeout=20000)
    board = page.locator("[data-testid='stDataFrame']").first
    board.wait_for(timeout=20000)
    expect(page.get_by_text("客户满意度 50%")).to_have_count(0)
    assert shown_ranking(board) == changed
    context.close()
