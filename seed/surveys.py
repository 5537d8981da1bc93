"""Demo survey campaigns and their analysis reports (000 6、售后服务管理): last year's full survey (全面调查), its
report drafted by the manager, approved by the gm and released to the departments, with a corrective action
recorded for its weakest question; and this month's price survey (专项调查), its report drafted by the supervisor
and waiting for the gm's approval. Each step is taken through kefu.survey_reports, as the screen takes it.

Needs the survey answers (seed/events.py) of the past year. Deterministic for a given `now`."""
from __future__ import annotations

from datetime import datetime, timedelta

from kefu import auth, survey_reports
from kefu.store import Store

FULL_ANALYSIS = ("本次全面调查共回收答卷，服务质量与公司总体评价保持在良好水平；价格满意度最低，意见集中在配件价格和收费透明度。"
                 "建议：收费项目在大厅公示，会员折扣在报价单上写明，并与配件供应商重新议价。")
PRICE_ANALYSIS = "近一个月价格满意度明显下降，意见集中在配件价格偏高与收费标准不透明，需与上次全面调查对比后制定措施。"


def _user(store: Store, username: str) -> auth.User:
    row = store.conn.execute("SELECT id FROM kefu_users WHERE username = ?", (username,)).fetchone()
    return auth.get_user(store, row[0])


def seed_survey_campaigns(store: Store, now: datetime) -> dict:
    today = now.date()
    manager, gm, supervisor = (_user(store, f"demo-{role}") for role in ("manager", "gm", "supervisor"))
    full = store.insert("survey_campaigns", {
        "title": f"{(today - timedelta(days=364)).year} 年度顾客满意度全面调查", "scope": "full",
        "started_on": (today - timedelta(days=364)).isoformat(), "ended_on": (today - timedelta(days=336)).isoformat(),
        "organiser": manager.id, "note": "公司办公室向顾客发放《顾客满意度调查表》：电话回访与大厅自助终端。"}, auth.SYSTEM)
    price = store.insert("survey_campaigns", {
        "title": "配件价格满意度专项调查", "scope": "special",
        "started_on": (today - timedelta(days=30)).isoformat(), "ended_on": (today - timedelta(days=1)).isoformat(),
        "organiser": supervisor.id, "note": "针对近期价格投诉，电话回访会员。"}, auth.SYSTEM)
    report = survey_reports.draft(store, manager, full, title="年度顾客满意度调查分析报告", analysis=FULL_ANALYSIS)
    figures = survey_reports.campaign_figures(store, manager, full)
    weakest = min((q for q in figures.averages if figures.averages[q] is not None), key=figures.averages.get)
    action = survey_reports.plan_action(store, manager, full, question=weakest, owner=manager.id,
                                        action="收费项目在大厅公示，会员折扣在报价单上写明；与配件供应商重新议价。",
                                        due=(today - timedelta(days=300)).isoformat())
    store.update("corrective_actions", action, {"done": True}, manager)
    survey_reports.submit(store, manager, report)
    survey_reports.approve(store, gm, report)
    survey_reports.release(store, manager, report, released_to="销售部、工程部、财务部、公司办公室")
    pending = survey_reports.draft(store, supervisor, price, title="配件价格满意度专项调查分析报告",
                                   analysis=PRICE_ANALYSIS)
    survey_reports.submit(store, supervisor, pending)
    return {"survey_campaigns": 2, "survey_reports": 2}
