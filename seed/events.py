"""Demo data of the member club's events and surveys: 20 events (12 held in the past half year, 8 coming)
with their sign-ups, attendance and waiting lists, 2,000 satisfaction-survey answers over the past year
(price slipped in the last month, so the manager's home screen asks for a corrective action), and the
corrective actions planned for the weakest earlier months. Deterministic for a given rng and `now`.

Needs the members (seeded before this): their ids are read from the members table when it runs."""
from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta

from kefu import auth
from kefu.store import Store

EVENTS_PAST, EVENTS_COMING = 12, 8
SURVEYS = 2000
TITLES = [("promotion", "新品推介会"), ("promotion", "会员专享日"), ("promotion", "年终答谢促销"),
          ("promotion", "节能设备体验会"), ("promotion", "以旧换新推广"), ("community", "社区义诊"),
          ("community", "亲子手工课堂"), ("community", "海滩清洁公益行"), ("community", "健康讲座"),
          ("community", "中秋联欢会"), ("community", "重阳敬老活动"), ("community", "社区安全知识讲座")]
PLACES = ["三亚湾会所", "公司一楼客户服务大厅", "吉阳区社区活动中心", "大东海广场", "海棠湾会议中心", "凤凰路门店"]
COMMENTS = ["服务态度很好，讲解耐心。", "价格有点高，希望多些优惠。", "维修人员准时上门，点赞。", "电话等了很久才接通。",
            "希望周末也能办理业务。", "整体满意，会推荐给朋友。", "收费标准不够透明。", "回访很及时，谢谢。",
            "工作人员专业，问题一次解决。", "配件价格比外面贵。", "环境整洁，等候区舒适。", "希望增加线上预约。"]
ACTIONS = {"service": "服务规范再培训：接听时限、首问负责，主管每周抽查通话录音。",
           "price": "梳理收费项目并在大厅公示，会员折扣在报价单上写明；与配件供应商重新议价。",
           "overall": "经理牵头分析本月投诉与调查意见，制定整改清单并在月度例会跟进。"}
QUESTIONS = ("service", "price", "overall")
MEANS = {"service": 4.2, "price": 3.8, "overall": 4.1}


def seed_events(store: Store, rng: random.Random, fake, people_ids: list[int], now: datetime) -> dict:
    """Events, sign-ups, survey answers and corrective actions; returns their counts."""
    tz = store.settings.tz
    now = now.astimezone(tz).replace(second=0, microsecond=0)
    members = [r[0] for r in store.conn.execute(
        "SELECT id FROM members WHERE deleted_at IS NULL AND status = 'active' ORDER BY id")]
    events = _events(rng, now)
    event_ids = store.insert_many("events", events, auth.SYSTEM)
    signups = []
    for event_id, event in zip(event_ids, events):
        signups += _signups(rng, event_id, event, members, now)
    if signups:
        store.insert_many("event_signups", signups, auth.SYSTEM)
    answers = _surveys(rng, now, members, people_ids)
    store.insert_many("surveys", answers, auth.SYSTEM)
    actions = _corrective_actions(rng, answers, now, people_ids)
    if actions:
        store.insert_many("corrective_actions", actions, auth.SYSTEM)
    return {"events": len(events), "event_signups": len(signups), "surveys": len(answers),
            "corrective_actions": len(actions)}


def _events(rng, now: datetime) -> list[dict]:
    rows = []
    for number in range(EVENTS_PAST + EVENTS_COMING):
        days = -rng.randint(3, 180) if number < EVENTS_PAST else rng.randint(3, 60)
        start = (now + timedelta(days=days)).replace(hour=rng.choice([9, 10, 14, 15, 19]), minute=rng.choice([0, 30]))
        kind, title = TITLES[number % len(TITLES)]
        rows.append({"title": f"{title}（{start:%m月%d日}）", "kind": kind, "starts_at": start.isoformat(),
                     "place": rng.choice(PLACES), "capacity": rng.choice([15, 20, 30, 40, 50]),
                     "description": f"{title}，会员凭会员卡报名参加，名额有限。"})
    return rows


def _signups(rng, event_id: int, event: dict, members: list[int], now: datetime) -> list[dict]:
    """Seats first come, first served; past the seats, the waiting list; past events mostly attended."""
    capacity = event["capacity"]
    if not members:
        return []
    wanted = min(len(members), rng.randint(capacity // 2, capacity + 6))
    past = event["starts_at"] < now.isoformat()
    rows = []
    chosen = rng.sample(members, wanted)
    cancelled = set(rng.sample(chosen, min(len(chosen) // 10, 3)))
    seated = waiting = 0
    for member in chosen:
        if member in cancelled:
            rows.append({"event": event_id, "member": member, "status": "cancelled"})
        elif seated < capacity:
            seated += 1
            status = "attended" if past and rng.random() < 0.85 else "signed_up"
            rows.append({"event": event_id, "member": member, "status": status})
        elif not past:
            waiting += 1
            rows.append({"event": event_id, "member": member, "status": "waiting", "position": waiting})
    return rows


def _score(rng, mean: float) -> int:
    return max(1, min(5, round(rng.gauss(mean, 0.9))))


def _surveys(rng, now: datetime, members: list[int], people: list[int]) -> list[dict]:
    rows = []
    recent = now - timedelta(days=30)
    for _ in range(SURVEYS):
        taken = (now - timedelta(days=rng.uniform(0, 365))).replace(hour=rng.randint(9, 17), minute=rng.randint(0, 59))
        if taken > now:
            taken -= timedelta(days=1)
        means = dict(MEANS)
        if taken >= recent:
            means["price"] = 3.2                          # the price rise the manager is asked about
        kiosk = rng.random() < 0.3
        row = {"taken_at": taken.isoformat(), "channel": "kiosk" if kiosk else "call",
               **{q: _score(rng, means[q]) for q in QUESTIONS}}
        if not kiosk:
            row["taken_by"] = rng.choice(people)
            if members and rng.random() < 0.7:
                row["member"] = rng.choice(members)
        if rng.random() < 0.25:
            row["comments"] = rng.choice(COMMENTS)
        rows.append(row)
    return rows


def _corrective_actions(rng, answers: list[dict], now: datetime, people: list[int]) -> list[dict]:
    """For the three weakest (month, question) averages before the last month: the actions then planned."""
    sums = defaultdict(lambda: [0, 0])
    current = f"{now:%Y-%m}"
    for row in answers:
        month = row["taken_at"][:7]
        if month >= current or row["taken_at"] >= (now - timedelta(days=30)).isoformat():
            continue
        for question in QUESTIONS:
            sums[(month, question)][0] += row[question]
            sums[(month, question)][1] += 1
    averages = sorted((round(total / n, 2), month, question)
                      for (month, question), (total, n) in sums.items() if n >= 10)
    rows = []
    for average, month, question in averages[:3]:
        due = datetime.fromisoformat(f"{month}-01") + timedelta(days=60)
        rows.append({"period": month, "question": question, "average": average, "action": ACTIONS[question],
                     "owner": rng.choice(people), "due": due.date().isoformat(), "done": due.date() < now.date()})
    return rows
