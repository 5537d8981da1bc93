"""A realistic office, made the same way every time (fixed random seed): about 30 staff, a month of
visitors around today, the duty roster, 2,000 customer archives with their logs, and a year of the
ticket log (about 20,000 inquiries, complaints, suggestions and praise, each with its workflow steps),
with the knowledge base, the weekly spot checks and the fines for own-fault complaints.
`scale()` adds bulk data for benchmarks.

Everything is written through `Store.insert_many` (validated and audited) in batches. insert_many stamps
a record's created_at with the moment of the call; a record made for the past (a ticket received in
March, its steps, a spot check) gets its own time and author right after, in the same transaction
(`_backdate`): on the row (created_at, created_by, and for a ticket updated_at, updated_by and version as
its steps left them) and on the row's 'create' audit entry (at, user, created_at)."""
from __future__ import annotations

import bisect
import itertools
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from faker import Faker

from kefu import auth
from kefu.sla import is_working_day, load_rules
from kefu.store import Store
from kefu.tickets import escalation_rules, fault_fine_fen, needs_escalation, spot_sample, week_of
from kefu.workflow import load_workflow
from seed.club import scale_members, seed_club
from seed.events import seed_events
from seed.surveys import seed_survey_campaigns
from seed.incentives import seed_incentives
from seed.handoffs import seed_handoffs

SEED = 20261122
DEMO_PASSWORD = "kefu-demo"
DEMO_ACCOUNTS = [  # (user name, full name, role): the README lists these; for the demo only
    ("demo-staff", "王小丽", "staff"),
    ("demo-supervisor", "陈建国", "supervisor"),
    ("demo-manager", "刘芳", "manager"),
    ("demo-gm", "赵志强", "gm"),
    ("demo-finance", "孙会计", "finance"),
    ("demo-admin", "周管理", "admin"),
    ("demo-sales", "钱立新", "sales_director"),
    ("demo-hr", "郑秀兰", "hr"),
    ("demo-engineer", "冯志远", "engineer"),
]
EXTRA_STAFF = 24
PURPOSES = ["business"] * 5 + ["inquiry"] * 3 + ["complaint"] * 2 + ["inspection", "interview", "delivery", "other"]
PLACES = ["reception", "reception", "room_1", "room_2", "manager"]
IDENTITIES = ["经理", "采购主管", "业主", "工程师", "行政专员", "总监", "客户代表", "律师", "快递员", "应聘者"]


def _faker() -> Faker:
    fake = Faker("zh_CN")
    fake.seed_instance(SEED)
    return fake


def seed_demo(store: Store, *, days: int = 30, now: datetime | None = None) -> dict:
    """Demo accounts, extra staff, a month of visits ending today, the roster, the archives, a year of
    tickets and the member club (members, points, partners, events, surveys); returns counts. `now` (default: the office clock, to the minute) is when the demo stands:
    the same `now` gives the same office, and it is kept in kefu_meta as demo_now."""
    rng, fake = random.Random(SEED), _faker()
    now = (now or datetime.now(store.settings.tz)).astimezone(store.settings.tz).replace(second=0, microsecond=0)
    staff_ids = []
    for username, name, role in DEMO_ACCOUNTS:
        uid = auth.create_user(store, username, name, role, DEMO_PASSWORD, auth.SYSTEM, demo=True)
        if role in ("staff", "supervisor"):
            staff_ids.append(uid)
    for number in range(1, EXTRA_STAFF + 1):
        role = "supervisor" if number % 8 == 0 else "staff"
        staff_ids.append(auth.create_user(store, f"staff{number:02d}", fake.name(), role, None, auth.SYSTEM))
    _superiors(store, staff_ids)
    today = now.date()
    visits = _visits(store, rng, fake, staff_ids, today, days, now)
    store.insert_many("visitors", visits, auth.SYSTEM)
    roster = _roster(staff_ids, today - timedelta(days=days), today + timedelta(days=7))
    store.insert_many("roster", roster, auth.SYSTEM)
    counts = {"users": len(DEMO_ACCOUNTS) + EXTRA_STAFF, "visitors": len(visits), "roster": len(roster)}
    counts.update(seed_archives(store, rng, fake, staff_ids, today, now=now))
    counts.update(seed_tickets(store, rng, fake, now))
    counts.update(seed_handoffs(store, rng, now))                     # transfers to engineers, coordinations
    counts.update(seed_club(store, rng, fake, staff_ids, now))        # demo-staff first: her care list
    counts.update(seed_events(store, rng, fake, staff_ids, now))
    counts.update(seed_survey_campaigns(store, now))                  # their analysis reports: the demo managers
    counts.update(seed_reviews(store, rng, staff_ids, now))
    counts.update(seed_incentives(store, rng, fake, staff_ids, now))
    with store.transaction() as conn:
        conn.execute("INSERT OR REPLACE INTO kefu_meta(key, value) VALUES ('demo_now', ?)", (now.isoformat(),))
    return counts


def _superiors(store: Store, staff_ids: list[int]) -> None:
    """Each person's one superior (000 一个上级的原则): staff report to the demo supervisor, supervisors to the
    manager, the manager, finance, HR and the sales director to the gm; the administrator and the gm have none."""
    ids = dict(store.conn.execute("SELECT username, id FROM kefu_users"))
    roles = dict(store.conn.execute("SELECT id, role FROM kefu_users"))
    above = {ids["demo-manager"]: ids["demo-gm"], ids["demo-finance"]: ids["demo-gm"], ids["demo-hr"]: ids["demo-gm"],
             ids["demo-sales"]: ids["demo-gm"]}
    for uid in staff_ids:
        above[uid] = ids["demo-manager"] if roles[uid] == "supervisor" else ids["demo-supervisor"]
    for uid, superior in above.items():
        auth.set_superior(store, uid, superior, auth.SYSTEM)


TEAMS = ("intake", "complaints", "relations")
REVIEW_NOTES = [None, None, "服务态度好，回访及时。", "报表偶有延迟，需加强。", "流程执行规范。", "技能考核优秀。"]


def seed_reviews(store: Store, rng, staff_ids: list[int], now: datetime) -> dict:
    """Staff in three teams, and the manager's quarterly review scores of the last four quarters (the
    current one not yet reviewed), for the dashboard's rankings."""
    manager = auth.get_user(store, store.conn.execute("SELECT id FROM kefu_users WHERE role = 'manager' "
                                                      "ORDER BY id LIMIT 1").fetchone()[0])
    supervisors = {uid for uid, in store.conn.execute("SELECT id FROM kefu_users WHERE role = 'supervisor'")}
    teams = [{"staff": uid, "team": TEAMS[n % len(TEAMS)]} for n, uid in enumerate(staff_ids)]
    store.insert_many("staff_teams", teams, manager)
    quarter = now.year * 4 + (now.month - 1) // 3
    reviews = []
    for back in range(1, 5):
        year, number = divmod(quarter - back, 4)
        for uid in staff_ids:
            talent = 70 + (uid * 37 % 23)                       # the same person scores alike each quarter
            reviews.append({"staff": uid, "year": year, "quarter": str(number + 1),
                            "skill_pass_rate": min(100, talent + rng.randint(-5, 8)),
                            "process_improvement": min(100, talent + rng.randint(-10, 10)),
                            "internal_satisfaction": min(100, 75 + rng.randint(-10, 20)),
                            "report_timeliness": min(100, 80 + rng.randint(-15, 20)),
                            "note": rng.choice(REVIEW_NOTES)})
            if uid in supervisors:                              # the MBO part of the supervisor's table
                reviews[-1]["mbo"] = 72 + (uid * 13 + back * 5) % 25      # (not drawn: the data after stays as it was)
    store.insert_many("kpi_reviews", reviews, manager)
    department = []                                             # the gm scores the department (KPI table)
    for back in range(4, 0, -1):                                # oldest first, as the gm enters them
        year, number = divmod(quarter - back, 4)
        department.append({"year": year, "quarter": str(number + 1), "process_improvement": 70 + back * 7 % 23,
                           "internal_satisfaction": 78 + back * 5 % 17, "report_timeliness": 80 + back * 3 % 15})
    gm = auth.get_user(store, store.conn.execute("SELECT id FROM kefu_users WHERE role = 'gm' ORDER BY id LIMIT 1")
                       .fetchone()[0])
    store.insert_many("department_reviews", department, gm)
    return {"staff_teams": len(teams), "kpi_reviews": len(reviews), "department_reviews": len(department)}


def _visit(store, rng, fake, hosts, day, now) -> dict:
    tz = store.settings.tz
    appointment = datetime.combine(day, time(rng.randint(9, 17), rng.choice([0, 15, 30, 45])), tz)
    gender = rng.choice(["male", "female"])
    visit = {
        "visitor_name": fake.name_male() if gender == "male" else fake.name_female(),
        "gender": gender,
        "organisation": fake.company() if rng.random() < 0.8 else "个人",   # asked on arrival (003 询问清楚…)
        "identity": rng.choice(IDENTITIES),
        "phone": fake.phone_number(),
        "purpose": rng.choice(PURPOSES),
        "host": rng.choice(hosts),
        "appointment_at": appointment if rng.random() < 0.7 else None,
        "place": rng.choice(PLACES),
        "party_size": rng.choice([1, 1, 1, 2, 2, 3, 5]),
    }
    arrival = appointment + timedelta(minutes=rng.choice([-10, -5, 0, 0, 2, 5, 12, 25, 40]))
    if arrival <= now:
        visit["arrived_at"] = arrival
        # the host meets them at the agreed time, or at once if they came late; now and then a host is late
        received = max(arrival, appointment) + timedelta(minutes=rng.choice([0, 0, 1, 2, 3, 5, 8, 15, 25]))
        if received <= now:
            visit["received_at"] = received
        departure = received + timedelta(minutes=rng.randint(15, 150))
        if departure <= now:
            visit["left_at"] = departure
            visit["record"] = rng.choice(["已解答客户问题，客户满意。", "洽谈续约事宜，约定下周回复。",
                                          "接收投诉材料，已转投诉主管处理。", "陪同参观办公区。", None])
    return visit


def _visits(store, rng, fake, hosts, today, days, now) -> list[dict]:
    visits = []
    for offset in range(days, -1, -1):
        day = today - timedelta(days=offset)
        count = rng.randint(2, 5) if day.weekday() == 6 else rng.randint(8, 16)
        visits.extend(_visit(store, rng, fake, hosts, day, now) for _ in range(count))
    for minutes_ago in (75, 40, 12):                      # some visitors are in the building right now
        visit = _visit(store, rng, fake, hosts, today, now)
        arrived = (now - timedelta(minutes=minutes_ago)).replace(second=0, microsecond=0)
        visit.update(appointment_at=arrived - timedelta(minutes=rng.choice([0, 10, 20])), arrived_at=arrived,
                     received_at=arrived + timedelta(minutes=2) if minutes_ago > 30 else None,   # one still waits
                     left_at=None, record=None)
        visits.append(visit)
    for _ in range(4):                                    # a few appointments still to come today
        visit = _visit(store, rng, fake, hosts, today, now)
        later = now + timedelta(minutes=rng.randint(20, 240))
        visit.update(appointment_at=later.replace(second=0, microsecond=0), arrived_at=None, received_at=None,
                     left_at=None, record=None)
        visits.append(visit)
    return visits


def _roster(staff_ids, first, last) -> list[dict]:
    """Six days on, one off, in turn; day and evening shifts alternate by week."""
    rows, day = [], first
    while day <= last:
        for position, uid in enumerate(staff_ids):
            if (day.toordinal() + position) % 7 == 0:
                shift = "rest"
            else:
                shift = "day" if (day.isocalendar().week + position) % 2 == 0 else "evening"
            rows.append({"duty_date": day, "staff": uid, "shift": shift})
        day += timedelta(days=1)
    return rows


def scale(store: Store, size: int, *, batch: int = 5000) -> dict:
    """Bulk data for benchmarks, proportioned as `seed --scale 1000000` is meant: `size` tickets over the
    past three years (each with its intake and latest step as events: 2 x size events at most), size/5
    customers with 10 transactions each (2 x size), size/20 members on them, and 0.3 x size visits. So
    1,000,000 gives 1,000,000 tickets, 200,000 customers with 2,000,000 transactions, 50,000 members and
    300,000 visits."""
    counts = scale_visitors(store, int(size * 0.3), batch=batch)
    counts.update(scale_archives(store, max(1, size // 5), batch=batch))
    counts.update(scale_members(store, max(1, size // 20), batch=batch))
    counts.update(scale_tickets(store, size, batch=batch))
    return counts


def scale_archives(store: Store, customers: int, *, batch: int = 5000) -> dict:
    rng, fake = random.Random(SEED + customers), _faker()
    keepers = [uid for uid, in store.conn.execute("SELECT id FROM kefu_users WHERE role IN ('staff', 'supervisor') "
                                                  "AND active = 1")]
    if not keepers:
        raise SystemExit("no staff: run `python -m kefu init --demo` first")
    pool = [_customer(rng, fake, 0, "") for _ in range(3000)]
    today = datetime.now(store.settings.tz).date()
    first = store.conn.execute("SELECT count(*) FROM customers").fetchone()[0] + 1
    done = transactions = 0
    while done < customers:
        chunk = min(batch // 10, customers - done)
        rows = [{**rng.choice(pool), "code": f"KS{first + done + n:07d}", "owner": rng.choice(keepers)}
                for n in range(chunk)]
        ids = store.insert_many("customers", rows, auth.SYSTEM)
        trades = [t for customer_id in ids for t in _transactions(rng, customer_id, today, 10)]
        store.insert_many("transactions", trades, auth.SYSTEM)
        done += chunk
        transactions += len(trades)
    return {"customers": done, "transactions": transactions}


def scale_visitors(store: Store, visitors: int, *, batch: int = 5000) -> dict:
    """Add `visitors` more visits spread over the past years."""
    rng, fake = random.Random(SEED + visitors), _faker()
    hosts = [uid for uid, _ in store.active_users()]
    if not hosts:
        raise SystemExit("no users: run `python -m kefu init --demo` first")
    names, companies = [fake.name() for _ in range(2000)], [fake.company() for _ in range(500)]
    phones = [fake.phone_number() for _ in range(5000)]
    today = datetime.now(store.settings.tz).date()
    tz = store.settings.tz
    done = 0
    while done < visitors:
        rows = []
        for _ in range(min(batch, visitors - done)):
            day = today - timedelta(days=rng.randint(1, 3 * 365))
            arrived = datetime.combine(day, time(rng.randint(9, 17), rng.randint(0, 59)), tz)
            rows.append({"visitor_name": rng.choice(names), "organisation": rng.choice(companies),
                         "gender": ("male", "female")[len(rows) % 2], "identity": IDENTITIES[len(rows) % len(IDENTITIES)],
                         "phone": rng.choice(phones), "purpose": rng.choice(PURPOSES), "host": rng.choice(hosts),
                         "appointment_at": arrived - timedelta(minutes=rng.choice([0, 5, 10, 30])),
                         "arrived_at": arrived, "left_at": arrived + timedelta(minutes=rng.randint(10, 180)),
                         "party_size": rng.randint(1, 4)})
        store.insert_many("visitors", rows, auth.SYSTEM)
        done += len(rows)
    return {"visitors": done}


REGIONS = ["south"] * 4 + ["east"] * 3 + ["north"] * 2 + ["central", "west", "northeast"]
INDUSTRIES = ["realestate"] * 3 + ["manufacturing", "retail", "it", "finance", "public", "other"]
RATINGS = ["A"] * 6 + ["B"] * 9 + ["C"] * 4 + ["D"]
ITEMS = ["年度维保服务", "设备采购", "备件更换", "上门检修", "系统升级", "物业服务费", "安装调试", "技术培训", "延保服务"]
TAGS = ["vip", "key", "new", "dormant", "sensitive"]
SUMMARIES = ["客户对服务整体满意，提出希望缩短响应时间。", "节日问候并送上礼品，客户表示感谢。",
             "了解设备使用情况，运行正常。", "客户反馈发票寄送延迟，已协调财务处理。", "回访满意度调查：服务质量 5 分，价格 4 分。",
             "客户计划明年扩容，约定下月详谈。", "提醒客户合同即将到期，客户有续约意向。"]


def _customer(rng, fake, owner: int, code: str) -> dict:
    company = rng.random() < 0.8
    contact = fake.name()
    return {"code": code, "name": fake.company() if company else contact, "kind": "company" if company else "person",
            "contact": contact, "phone": fake.phone_number(), "mobile": fake.phone_number() if rng.random() < 0.6 else None,
            "email": fake.email() if rng.random() < 0.7 else None,
            "website": f"https://www.{fake.domain_word()}.com.cn" if company and rng.random() < 0.5 else None,
            "address": fake.address()[:200], "region": rng.choice(REGIONS), "industry": rng.choice(INDUSTRIES),
            "credit_rating": rng.choice(RATINGS), "owner": owner,
            "tags": rng.sample(TAGS, rng.choice([0, 0, 1, 1, 2])) or None,
            "notes": rng.choice([None, None, "年度框架合同客户", "付款周期 60 天", "对价格敏感"])}


def _transactions(rng, customer: int, today, count: int) -> list[dict]:
    rows = []
    for _ in range(count):
        day = today - timedelta(days=rng.randint(1, 720))
        rows.append({"customer": customer, "traded_on": day, "item": rng.choice(ITEMS),
                     "amount": f"{rng.randint(5, 20000) * 10 + rng.choice([0, 0, 50])}.00",
                     "invoice_no": f"{day:%Y%m}{rng.randint(10000, 99999)}", "paid": rng.random() < 0.85 or
                     (today - day).days > 120})
    return rows


def _relations(rng, customer: int, keeper: int, today, count: int) -> list[dict]:
    rows = []
    for _ in range(count):
        day = today - timedelta(days=rng.randint(1, 365))
        follow = day + timedelta(days=rng.choice([7, 14, 30, 60, 90])) if rng.random() < 0.5 else None
        rows.append({"customer": customer, "contact_on": day,
                     "kind": rng.choice(["routine_visit", "call", "call", "feedback", "survey", "holiday_visit"]),
                     "staff": keeper, "summary": rng.choice(SUMMARIES), "next_follow_up": follow})
    return rows


def _change(rng, customer: int, keeper: int, now) -> dict:
    requested = now - timedelta(days=rng.randint(1, 300), hours=rng.randint(0, 8))
    done = requested + timedelta(hours=rng.randint(2, 72)) if rng.random() < 0.9 else None
    told = done + timedelta(hours=rng.randint(1, 24)) if done and rng.random() < 0.9 else None
    done, told = (d if d is None or d < now else None for d in (done, told))
    checked = rng.random() < 0.9 or done is not None            # a change is checked before it is done
    return {"customer": customer, "kind": rng.choice(["add_line", "remove_line", "password", "permission", "basic_info"]),
            "detail": rng.choice(["新增一条专线", "撤销备用线路", "重置管理员密码", "开通查询权限", "变更联系人"]),
            "requested_at": requested, "checked_with_customer": checked, "done_at": done,
            "customer_notified_at": told if done else None, "staff": keeper}


def seed_archives(store: Store, rng, fake, keepers: list[int], today, *, customers: int = 2000,
                  now: datetime | None = None) -> dict:
    """Customer archives with transactions, relationship logs and business changes; most approved."""
    now = now or datetime.now(store.settings.tz)
    demo_staff = keepers[0]
    archives = [_customer(rng, fake, demo_staff if n % 25 == 0 else rng.choice(keepers), f"KH{n:06d}")
                for n in range(1, customers + 1)]
    ids = store.insert_many("customers", archives, auth.SYSTEM)
    director = auth.get_user(store, store.conn.execute("SELECT id FROM kefu_users WHERE username = 'demo-sales'")
                             .fetchone()[0])
    for customer_id in ids:                             # 客户档案由销售总监进行审批确认
        if rng.random() < 0.75:
            store.approve("customers", customer_id, director)
    transactions, relations, changes = [], [], []
    for customer_id, archive in zip(ids, archives):
        transactions += _transactions(rng, customer_id, today, rng.randint(0, 10))
        relations += _relations(rng, customer_id, archive["owner"], today, rng.randint(0, 6))
        if rng.random() < 0.5:
            changes.append(_change(rng, customer_id, archive["owner"], now))
    own = [i for i, a in zip(ids, archives) if a["owner"] == demo_staff][:6]
    for offset, customer_id in enumerate(own):          # the demo keeper has follow-ups this week
        relations.append({"customer": customer_id, "contact_on": today - timedelta(days=20), "kind": "call",
                          "staff": demo_staff, "summary": rng.choice(SUMMARIES),
                          "next_follow_up": today + timedelta(days=offset)})
    store.insert_many("transactions", transactions, auth.SYSTEM)
    store.insert_many("relationship_log", relations, auth.SYSTEM)
    store.insert_many("business_changes", changes, auth.SYSTEM)
    gm = auth.get_user(store, store.conn.execute("SELECT id FROM kefu_users WHERE username = 'demo-gm'").fetchone()[0])
    others = [i for i, a in zip(ids, archives) if a["owner"] != demo_staff][:2]
    for customer_id in others:                          # the gm lets the demo keeper help on two more
        store.grant("customers", customer_id, demo_staff, gm, until=today + timedelta(days=7), reason="协助处理客户投诉")
    supervisor = store.conn.execute("SELECT id FROM kefu_users WHERE username = 'demo-supervisor'").fetchone()[0]
    covered = next(k for k in keepers if k not in (demo_staff, supervisor))
    store.grant("customers", None, supervisor, gm, keeper=covered, until=today + timedelta(days=14),
                reason="代管休假同事的客户档案")           # a supervisor covers a colleague's whole book
    return {"customers": len(ids), "transactions": len(transactions), "relationship_log": len(relations),
            "business_changes": len(changes)}


# ---------------------------------------------------------------------------------------------- tickets
# A year of the ticket log. Each ticket's whole life is drawn when it is received (who takes it, when work
# starts, how long it takes, approvals, the follow-up call): staff on the roster work every day, the
# managers' approvals wait for working days, due times and lateness count working hours (rules/sla.toml,
# kefu.sla). Then only the steps that have happened by `now` are kept, so old tickets are closed and
# recent ones stand in the open states; the steps are replayed as kefu.tickets.step takes them, each
# checked against rules/workflow.toml.

DEMO_TICKETS = 20000
TICKET_BATCH = 2000
DUTY_HOURS = (time(9, 0), time(21, 0))   # when the staff on the roster handle tickets, every day


class _Pick:
    """A weighted choice drawn from the seed's own random stream."""

    def __init__(self, pairs):
        self.values = [v for v, _ in pairs]
        self.cum = list(itertools.accumulate(w for _, w in pairs))

    def __call__(self, rng):
        return self.values[bisect.bisect_right(self.cum, rng.random() * self.cum[-1])]


KIND = _Pick([("inquiry", 55), ("complaint", 25), ("suggestion", 12), ("praise", 8)])
CHANNEL = _Pick([("hotline", 62), ("web", 14), ("visit", 10), ("email", 9), ("letter", 5)])
CATEGORY = {
    "inquiry": _Pick([("billing", 28), ("product", 22), ("property", 18), ("contract", 14), ("speed", 10),
                      ("quality", 3), ("other", 5)]),
    "complaint": _Pick([("speed", 24), ("quality", 24), ("attitude", 18), ("billing", 14), ("property", 12),
                        ("product", 5), ("contract", 3)]),
    "suggestion": _Pick([("property", 30), ("speed", 20), ("product", 18), ("billing", 10), ("attitude", 5),
                         ("other", 17)]),
    "praise": _Pick([("attitude", 55), ("quality", 25), ("speed", 20)]),
}
SEVERITY = {
    "inquiry": _Pick([("normal", 95), ("major", 4.6), ("emergency", 0.4)]),
    "complaint": _Pick([("normal", 85), ("major", 12), ("emergency", 3)]),
    "suggestion": _Pick([("normal", 97), ("major", 3)]),
    "praise": _Pick([("normal", 1)]),
}
SATISFACTION = {"on_time": _Pick([(5, 47), (4, 33), (3, 11), (2, 5), (1, 4)]),
                "late": _Pick([(5, 22), (4, 33), (3, 23), (2, 13), (1, 9)])}
HOURS = {   # hour of the day a ticket comes in, by channel (the hotline is staffed 09:00-23:00)
    "hotline": _Pick([(9, 8), (10, 10), (11, 9), (12, 5), (13, 6), (14, 9), (15, 9), (16, 8), (17, 7), (18, 4),
                      (19, 3), (20, 3), (21, 2), (22, 1)]),
    "web": _Pick([(h, w) for h, w in enumerate([1, 1, 0.5, 0.5, 0.5, 0.5, 1, 2, 4, 6, 7, 7, 5, 5, 6, 6, 6, 5, 4, 4,
                                                 5, 5, 4, 2])]),
    "visit": _Pick([(9, 6), (10, 9), (11, 8), (13, 4), (14, 8), (15, 8), (16, 6), (17, 3)]),
    "letter": _Pick([(9, 5), (10, 5), (11, 3), (14, 4), (15, 4), (16, 2)]),
}
HOURS["email"] = HOURS["web"]

# (subject, description) by kind and category: what callers actually say.
TOPICS = {
    ("inquiry", "billing"): [
        ("物业费缴费方式咨询", "客户询问物业费除银行代扣外是否支持微信、支付宝缴纳，以及缴费截止日期。"),
        ("电子发票开具咨询", "客户需要开具增值税专用发票，询问需提供哪些开票信息、多久可以收到。"),
        ("账单明细查询", "客户收到本季度账单，对其中一项公共能耗分摊费用不清楚，要求解释计算方式。"),
        ("滞纳金计算方式咨询", "客户上月忘记缴费，询问滞纳金如何计算、能否申请减免。"),
        ("预存费用余额查询", "客户想确认账户预存费用余额及本年度已扣费用明细。"),
        ("发票抬头变更咨询", "客户公司更名，询问后续发票抬头如何变更、以前的发票是否需要重开。"),
    ],
    ("inquiry", "product"): [
        ("设备保修期限咨询", "客户询问去年购买的空调机组保修期多长，保修范围是否包含压缩机。"),
        ("配件价格咨询", "客户询问净水设备滤芯的更换周期和价格，是否可以上门更换。"),
        ("产品使用方法咨询", "客户不清楚新安装的智能门锁如何添加家人指纹，请求指导。"),
        ("设备升级方案咨询", "客户的监控系统使用五年，询问升级为高清设备的方案和大致费用。"),
        ("产品说明书索取", "客户遗失设备说明书，询问能否提供电子版。"),
    ],
    ("inquiry", "property"): [
        ("装修申报流程咨询", "业主准备装修，询问装修申报需要哪些材料、押金多少、施工时间有何规定。"),
        ("停车位租赁咨询", "客户询问地下车库是否还有空余车位出租，月租和年租价格分别是多少。"),
        ("门禁卡补办咨询", "客户门禁卡丢失，询问补办需要带什么证件、费用多少。"),
        ("快递代收服务咨询", "客户询问物业服务中心是否可以代收快递，存放几天。"),
        ("小区停水通知咨询", "客户看到停水通知，询问具体停水时间和恢复时间。"),
    ],
    ("inquiry", "contract"): [
        ("合同续签流程咨询", "客户的年度维保合同下月到期，询问续签流程及价格是否调整。"),
        ("维保合同服务范围咨询", "客户询问维保合同是否包含节假日上门服务和配件费用。"),
        ("合同变更所需材料咨询", "客户公司法人变更，询问合同主体变更需要提交哪些材料。"),
        ("提前解约条款咨询", "客户询问如提前终止服务合同，需要提前多久通知、是否有违约金。"),
    ],
    ("inquiry", "speed"): [
        ("报修进度查询", "客户前天报修卫生间漏水，询问维修人员何时上门。"),
        ("退款到账时间查询", "客户上周申请退还多缴费用，询问退款何时到账。"),
        ("工单处理进度查询", "客户来电询问此前反映的问题处理到哪一步了。"),
    ],
    ("inquiry", "quality"): [
        ("维修后保修期咨询", "客户询问上次更换的水泵配件是否有保修、保修多久。"),
        ("设备检测报告索取", "客户要求提供年度设备检测报告的复印件。"),
    ],
    ("inquiry", "other"): [
        ("服务中心办公时间咨询", "客户询问客服中心周末和节假日的办公时间。"),
        ("会员权益咨询", "客户询问客户会会员可以享受哪些权益，如何加入。"),
        ("办公地址咨询", "客户想来现场办理业务，询问客服中心的具体地址和停车位置。"),
        ("满意度调查说明", "客户收到满意度调查短信，询问是否为官方调查。"),
    ],
    ("complaint", "attitude"): [
        ("接线员态度冷淡", "客户反映前天致电热线时，接线员语气生硬，多次打断客户说话，要求道歉。"),
        ("维修人员态度生硬", "客户反映上门维修人员不耐烦，对客户提出的问题敷衍了事。"),
        ("前台接待不耐烦", "客户到服务中心办理业务，前台工作人员玩手机，对客户询问爱答不理。"),
        ("客服推诿责任", "客户反映多次来电均被告知不归本部门管，问题一直没人负责。"),
        ("客服未回电", "客服承诺当天回电答复，客户等了两天也没有接到电话。"),
    ],
    ("complaint", "speed"): [
        ("报修三天无人上门", "客户三天前报修厨房下水道堵塞，至今无人上门处理，严重影响生活。"),
        ("热线长时间无人接听", "客户反映连续两天拨打400热线，等待超过十分钟无人接听。"),
        ("退款迟迟未到账", "客户申请退款已超过一个月，多次催问仍未到账。"),
        ("维修预约一再推迟", "维修人员两次爽约，预约时间一再推迟，客户请假在家白等。"),
        ("工单处理超时", "客户反映的电梯异响问题一周未处理，要求尽快给出处理时间。"),
    ],
    ("complaint", "quality"): [
        ("维修后故障再次出现", "空调维修后不到一周再次不制冷，客户要求彻底修好并减免费用。"),
        ("上门安装留下污渍", "安装人员施工后未清理现场，墙面和地板留下大量污渍。"),
        ("更换配件型号不符", "维修更换的配件与原型号不符，设备运行噪音明显变大。"),
        ("电梯频繁停运", "本月电梯已停运三次，维保单位检修后问题仍未解决。"),
        ("防水维修不彻底", "外墙渗水维修后，雨天仍然渗水，客户要求重新施工。"),
    ],
    ("complaint", "billing"): [
        ("物业费重复扣款", "客户本月银行卡被扣了两次物业费，要求退还多扣款项。"),
        ("发票金额有误", "客户收到的发票金额与实际缴费金额不一致，要求重开。"),
        ("多收上门服务费", "维修人员上门收取了服务费，客户认为在保修期内不应收费。"),
        ("收费标准不透明", "客户认为公共能耗分摊费用计算不透明，要求公示明细。"),
    ],
    ("complaint", "property"): [
        ("垃圾清运不及时", "小区垃圾桶满溢两天无人清运，气味难闻，影响居住环境。"),
        ("地下车库照明损坏", "地下车库B区多处照明损坏，光线昏暗存在安全隐患。"),
        ("夜间施工噪音扰民", "相邻楼栋装修夜间十点后仍在施工，噪音严重影响休息。"),
        ("楼道杂物无人清理", "楼道长期堆放杂物，多次反映后仍无人清理，存在消防隐患。"),
        ("门禁系统经常故障", "单元门禁经常失灵，陌生人可随意进出，客户担心安全。"),
    ],
    ("complaint", "product"): [
        ("新购设备无法开机", "客户新购设备安装后无法开机，要求退换。"),
        ("产品与宣传不符", "客户认为所购产品的节能效果与销售宣传明显不符。"),
        ("配件质量差易损坏", "更换的滤芯使用不到一个月就出现破损。"),
    ],
    ("complaint", "contract"): [
        ("合同条款与承诺不符", "客户反映签约时销售承诺免费巡检，合同中却没有写明。"),
        ("续约价格上涨未告知", "续约时价格上涨百分之十五，事先没有任何通知。"),
    ],
    ("suggestion", "property"): [
        ("建议增设电动车充电桩", "客户建议在小区非机动车棚增设电动车充电桩，避免业主私拉电线。"),
        ("建议增加夜间巡逻", "客户建议物业增加夜间巡逻频次，提升小区安全。"),
        ("建议改善绿化养护", "客户建议对小区中心花园的绿化加强养护，及时修剪。"),
        ("建议延长服务中心办公时间", "客户建议服务中心工作日延长至晚上八点，方便上班族办理业务。"),
    ],
    ("suggestion", "speed"): [
        ("建议开通在线报修", "客户建议开通微信在线报修，并能实时查看维修进度。"),
        ("建议缩短热线等待时间", "客户建议高峰时段增加接线人员，减少等待时间。"),
        ("建议增加周末值班人员", "客户建议周末增加维修值班人员，周末报修也能当天处理。"),
    ],
    ("suggestion", "product"): [
        ("建议增加设备远程监控功能", "客户建议设备增加手机远程查看运行状态的功能。"),
        ("建议提供更多配件选择", "客户建议提供不同价位的配件供客户选择。"),
    ],
    ("suggestion", "billing"): [
        ("建议开通微信缴费", "客户建议开通微信缴费渠道，方便年轻业主缴费。"),
        ("建议按月推送电子账单", "客户建议每月通过短信或邮件推送电子账单。"),
    ],
    ("suggestion", "attitude"): [
        ("建议加强员工服务培训", "客户建议定期对一线员工进行服务礼仪培训。"),
    ],
    ("suggestion", "other"): [
        ("建议开通客服微信公众号", "客户建议开通公众号，发布通知并提供在线咨询。"),
        ("建议定期举办客户活动", "客户建议客户会定期举办亲子活动和节日联谊活动。"),
        ("建议公布服务承诺", "客户建议在服务中心公示各项服务的办理时限和收费标准。"),
    ],
    ("praise", "attitude"): [
        ("表扬接线员耐心细致", "客户来电表扬接线员耐心解答问题，态度亲切。"),
        ("表扬前台热情周到", "客户写信表扬服务中心前台接待热情，办事效率高。"),
        ("感谢客服主动回访", "客户感谢客服人员主动回访，及时解决了遗留问题。"),
    ],
    ("praise", "quality"): [
        ("表扬维修师傅技术过硬", "客户表扬维修师傅技术好，一次就解决了困扰多时的问题。"),
        ("感谢工程师连夜抢修", "客户感谢工程师冒雨连夜抢修，保证了第二天正常营业。"),
    ],
    ("praise", "speed"): [
        ("表扬服务响应及时", "客户表扬报修后半小时内就有人上门，响应非常及时。"),
        ("感谢快速办理退款", "客户感谢客服两天内就办好了退款。"),
    ],
}
EMERGENCIES = [   # (category, subject, description): 突发事件, straight to the department manager
    ("property", "电梯困人", "客户来电称3号楼电梯突然停在两层之间，电梯内有人被困，请求立即救援。"),
    ("property", "地下室水管爆裂", "地下室供水主管爆裂，大量积水正在蔓延至配电房附近。"),
    ("property", "小区突然大面积停电", "整个小区突然停电，多部电梯停运，部分住户家中有老人。"),
    ("quality", "燃气管道有异味", "客户闻到楼道内有明显燃气味，担心管道泄漏。"),
    ("product", "设备冒烟起火", "客户反映机房内设备冒烟，已切断电源，请求技术人员立即到场。"),
]
GROUPS = [        # (category, subject, description): 群诉
    ("property", "多户业主联名投诉停车管理", "十余户业主联名反映外来车辆占用业主车位，物业管理不到位。"),
    ("billing", "业主集体投诉物业费上调", "二十余户业主对物业费上调有异议，要求召开业主说明会。"),
    ("property", "整栋楼业主投诉长期停水", "5号楼整栋停水超过二十四小时，业主集体来访要求说明原因。"),
    ("quality", "多户业主投诉外墙渗水", "同一单元多户业主反映外墙渗水，要求统一维修并赔偿损失。"),
]
CLAIMS = [        # (category, subject, description): a complaint with a claim
    ("quality", "漏水导致财物损坏要求赔偿", "维修不当导致楼上漏水，客户家中木地板和家具受损，要求赔偿。"),
    ("product", "设备故障造成经济损失要求赔偿", "设备故障导致客户店铺停业两天，要求赔偿营业损失。"),
    ("property", "车辆在车库被刮要求赔偿", "客户车辆停放在地下车库期间被刮，要求物业承担维修费用。"),
    ("quality", "安装损坏墙面要求赔偿", "安装人员施工损坏客户新装修的墙面和吊顶，要求赔偿修复费用。"),
]
DETAILS = ["客户要求尽快回复。", "客户情绪比较激动。", "客户已提供现场照片。", "客户希望由专人跟进。",
           "客户表示如不解决将向消协反映。", "客户为老客户，多年合作。", "客户表示理解，希望尽快处理。"]
RESOLUTIONS = {
    "attitude": ["调取通话录音核实，已向客户致歉，对当事员工进行批评教育并纳入月度考核。",
                 "主管已致电客户道歉，并安排专人跟进后续问题。"],
    "speed": ["已协调工程部当天上门处理，并向客户说明延误原因。",
              "已催办财务，退款三个工作日内原路退回。", "已调整排班增加高峰时段接线人员，并向客户致歉。"],
    "quality": ["安排资深工程师复检，更换故障部件，免收上门费。", "重新施工维修并延长保修期三个月。"],
    "billing": ["核对账单确认重复扣款，已原路退回。", "已重新开具正确发票并快递寄出。",
                "向客户解释收费标准并提供费用明细。"],
    "property": ["已通知物业服务中心整改，次日完成清理。", "已安排维修照明设施，并加强日常巡查。",
                 "已与施工方沟通，严格限定施工时间。"],
    "product": ["为客户办理换货，新设备已送达并调试正常。", "安排技术人员上门指导使用，问题已解决。"],
    "contract": ["与客户重新核对合同条款，按合同约定处理。", "经法务审核后给予客户书面答复。"],
    "other": ["已转相关部门处理，并答复客户。"],
}
ANSWERS = {"inquiry": ["已向客户详细解答，客户表示清楚。", "已短信发送办理指南给客户。", "已查询后电话答复客户。"],
           "suggestion": ["建议已转交相关部门评估，感谢客户。", "建议已纳入下季度服务改进计划，已告知客户。"],
           "praise": ["已转达客户表扬，当事员工纳入月度表彰。"]}
CLAIM_RESOLUTIONS = ["经现场核实，按实际损失给予赔偿，客户同意。", "与客户协商一致，承担维修费用并书面致歉。"]
EMERGENCY_RESOLUTIONS = ["值班工程师二十分钟内到场处置，险情已排除，已通报部门经理。",
                         "已启动应急预案，抢修完毕并逐户回访。"]
ASSIGN_NOTES = ["转交熟悉该业务的同事处理", "按区域分派", "由投诉组跟进", "首问人休假，转交处理"]
WAIT_NOTES = ["等待客户提供发票照片", "客户出差，约定下周上门", "等待客户确认维修时间", "等待客户补充材料"]
RESUME_NOTES = ["客户已补充材料", "客户已确认上门时间", "已联系上客户"]
SEND_BACK_NOTES = ["处理方案不完整，请补充赔偿依据", "请先与客户确认处理方案", "请补充现场照片"]
MANAGER_NOTES = ["同意处理方案", "同意，注意跟进客户情绪", None]
APPROVE_NOTES = [None, None, "同意", "同意，按方案执行"]
FEEDBACK_NOTES = ["已电话告知客户处理结果", "已短信告知客户处理结果", "已当面答复客户"]
FOLLOW_UP_NOTES = {
    5: ["客户对处理结果非常满意，表示感谢。", "客户满意，无其他诉求。"],
    4: ["客户基本满意，希望今后响应更快。", "客户满意，建议加强回访。"],
    3: ["客户认为处理一般，处理时间偏长。", "客户表示问题已解决，但过程比较曲折。"],
    2: ["客户不太满意，认为处理结果未达预期。", "客户对处理过程有意见，已记录并反馈主管。"],
    1: ["客户不满意，表示将向上级部门反映，已上报主管。"],
}
FAULT_REASONS = ["经调取录音核实，接线员服务用语不规范，态度生硬。", "承诺回电未回，违反首问负责制。",
                 "维修未按规范操作，导致故障复发。", "未按规定时限派单，造成客户等待。"]


def _seconds_of(clock: time) -> int:
    return clock.hour * 3600 + clock.minute * 60 + clock.second


class _Clock:
    """Open hours counted in seconds from a first day: kefu.sla.WorkCalendar's add and due in constant
    time per call (the seed makes millions of them). `_Clock.office` is the working calendar of
    rules/sla.toml (tests check the due times it gives against kefu.sla); `_Clock.duty` is when staff on
    the roster handle tickets: every day, DUTY_HOURS."""

    def __init__(self, tz, opens: time, closes: time, first: date, last: date, open_day=is_working_day):
        self.tz = tz
        self.opens = _seconds_of(opens)
        self.length = _seconds_of(closes) - self.opens
        self.before: dict[date, int] = {}             # open seconds before the day's opening
        self.open_days: set[date] = set()
        self.days: list[date] = []
        self.ends: list[int] = []
        total, day = 0, first
        while day <= last:
            self.before[day] = total
            if open_day(day):
                self.open_days.add(day)
                self.days.append(day)
                total += self.length
                self.ends.append(total)
            day += timedelta(days=1)

    @classmethod
    def office(cls, calendar, first: date, last: date) -> "_Clock":
        return cls(calendar.tz, calendar.opens, calendar.closes, first, last)

    @classmethod
    def duty(cls, tz, first: date, last: date) -> "_Clock":
        return cls(tz, *DUTY_HOURS, first, last, open_day=lambda day: True)

    def pos(self, moment: datetime) -> int:
        day = moment.date()
        position = self.before[day]
        if day in self.open_days:
            position += min(max(moment.hour * 3600 + moment.minute * 60 + moment.second - self.opens, 0), self.length)
        return position

    def at(self, position: int) -> datetime:
        i = bisect.bisect_left(self.ends, position)
        seconds = self.opens + position - (self.ends[i] - self.length)
        return datetime.combine(self.days[i], time(seconds // 3600, seconds // 60 % 60, seconds % 60), self.tz)

    def add(self, moment: datetime, hours: float) -> datetime:
        return self.at(self.pos(moment) + max(1, round(hours * 3600)))

    def between(self, start: datetime, end: datetime, share: float) -> datetime:
        """The moment `share` of the open time from start to end has passed (a minute at least)."""
        low = self.pos(start)
        return self.at(low + max(60, int((self.pos(end) - low) * share)))

    def due(self, start: datetime, hours: float, pauses=()) -> datetime:
        due = self.add(start, hours)
        for paused_at, resumed_at in pauses:
            if paused_at < due:
                due = self.at(self.pos(due) + max(0, self.pos(resumed_at) - self.pos(max(paused_at, start))))
        return due


@dataclass
class _People:
    staff: list[int]                  # who answers the hotline and handles tickets
    intake: _Pick                     # who takes a call (the demo staff account a little more often)
    supervisors: list[int]
    manager: int
    gm: int

    @classmethod
    def of(cls, store: Store) -> "_People":
        rows = store.conn.execute("SELECT id, username, role FROM kefu_users WHERE active = 1 ORDER BY id").fetchall()
        staff = [uid for uid, _, role in rows if role == "staff"]
        supervisors = [uid for uid, _, role in rows if role == "supervisor"]
        managers = [uid for uid, _, role in rows if role == "manager"]
        gms = [uid for uid, _, role in rows if role == "gm"]
        if not staff or not managers or not gms:
            raise SystemExit("no staff, manager or general manager: run `python -m kefu init --demo` first")
        weights = [(uid, 3 if name == "demo-staff" else 1) for uid, name, role in rows if role == "staff"]
        weights += [(uid, 0.3) for uid in supervisors]
        return cls(staff, _Pick(weights), supervisors or managers, managers[0], gms[0])


@dataclass
class _Life:
    """One ticket as received and the steps taken on it: (at, step, by, comment, values)."""
    row: dict
    created: datetime
    steps: list
    events: list = field(default_factory=list)    # the steps kept, as ticket_events rows
    stamps: list = field(default_factory=list)    # (created_at, created_by) of each kept event
    fine: dict | None = None                      # the own-fault fine, when a manager found one
    version: int = 1                              # the ticket's version once its steps are taken
    updated: tuple | None = None                  # (at, by) of its latest step after the intake


class _TicketMaker:
    """Draws tickets and their lives; `brief` keeps only the intake and the latest step as events."""

    def __init__(self, store: Store, rng: random.Random, people: _People, callers: list, customers: list,
                 now: datetime, first_day: date, *, brief: bool = False):
        self.rng, self.people, self.now, self.brief = rng, people, now, brief
        self.sla = load_rules(tz=store.settings.tz)
        first, last = first_day - timedelta(days=7), now.date() + timedelta(days=400)
        self.clock, self.duty = _Clock.office(self.sla.calendar, first, last), _Clock.duty(store.settings.tz, first, last)
        self.flow = load_workflow()
        self.escalation = escalation_rules()
        self.fine_yuan = Decimal(fault_fine_fen()) / 100
        self.callers, self.customers = callers, customers
        self.numbers: dict[str, int] = {}
        for day, last in store.conn.execute("SELECT substr(ticket_no, 4, 8), max(ticket_no) FROM tickets "
                                            "WHERE ticket_no LIKE 'TS-%' GROUP BY 1"):
            self.numbers[day] = int(last[-4:])

    def number(self, created: datetime) -> str:
        day = f"{created.year:04d}{created.month:02d}{created.day:02d}"
        self.numbers[day] = self.numbers.get(day, 0) + 1
        return f"TS-{day}-{self.numbers[day]:04d}"

    # -- what came in
    def received(self, created: datetime) -> dict:
        rng = self.rng
        kind = KIND(rng)
        category, severity = CATEGORY[kind](rng), SEVERITY[kind](rng)
        channel = CHANNEL(rng) if severity != "emergency" else "hotline"
        group = kind == "complaint" and severity != "emergency" and rng.random() < 0.02
        claim = None
        if severity == "emergency":
            category, subject, description = rng.choice(EMERGENCIES)
        elif group:
            category, subject, description = rng.choice(GROUPS)
        elif kind == "complaint" and rng.random() < 0.07:
            category, subject, description = rng.choice(CLAIMS)
            claim = (rng.randint(12, 80) * 1000 if rng.random() < 0.25 else rng.randint(4, 180) * 50)
        else:
            subject, description = rng.choice(TOPICS[(kind, category)])
        if rng.random() < 0.4:
            description += rng.choice(DETAILS)
        row = {"channel": channel, "kind": kind, "category": category, "severity": severity,
               "subject": subject, "description": description}
        if group:
            row["group_complaint"] = True
        if claim is not None:
            row["claim_amount"] = f"{claim}.00"
        if self.customers and rng.random() < 0.35:                # a customer with an archive calls
            customer_id, name, phone = rng.choice(self.customers)
            row.update(customer=customer_id, caller_name=name, caller_phone=phone)
        else:
            name, phone = rng.choice(self.callers)
            row["caller_name"] = name
            if channel not in ("letter", "email") or rng.random() < 0.5:
                row["caller_phone"] = phone
        return row

    # -- its life
    def life(self, created: datetime) -> _Life:
        """The ticket received at `created` and every step it will take. The staff on the roster work
        every day (DUTY_HOURS); approvals wait for the managers' working days; due times and lateness
        are counted on the office's working calendar, as kefu.sla does."""
        rng, work, duty, people = self.rng, self.clock, self.duty, self.people
        row = self.received(created)
        row["ticket_no"] = self.number(created)
        kind, severity = row["kind"], row["severity"]
        target = self.sla.target(kind, severity)
        claim_fen = int(Decimal(row.get("claim_amount", "0")) * 100)
        escalated = needs_escalation({**row, "claim_amount": claim_fen}, self.escalation)
        response_due, due = work.due(created, target.response), work.due(created, target.resolution)
        first = handler = people.intake(rng)
        steps = [(created, "intake", first, None, None)]
        if rng.random() < 0.07:                                   # answered late
            start = duty.add(response_due, target.response * rng.uniform(0.2, 2))
        else:
            start = duty.between(created, response_due, rng.uniform(0.1, 0.95))
        if rng.random() < 0.12:                                   # a supervisor hands it to someone else
            handler = rng.choice([s for s in people.staff if s != first] or people.staff)
            steps.append((duty.between(created, start, rng.uniform(0.2, 0.6)), "assign", rng.choice(people.supervisors),
                          rng.choice(ASSIGN_NOTES), {"assignee": handler}))
        steps.append((start, "start", handler, None, None))
        late = rng.random() < (0.12 if kind == "complaint" else 0.06)
        ready = start
        paused = kind != "praise" and rng.random() < 0.09
        if paused:                                                # waits on the customer: the clock stops
            horizon = max(due, duty.add(start, 1)) if not late else duty.add(due, target.resolution / 2)
            paused_at = duty.between(start, horizon, rng.uniform(0.2, 0.8))
            ready = duty.add(paused_at, rng.uniform(2, 27))
            due = work.due(created, target.resolution, [(paused_at, ready)])
            steps.append((paused_at, "wait_customer", handler, rng.choice(WAIT_NOTES), None))
            steps.append((ready, "resume", handler, rng.choice(RESUME_NOTES), None))
        if not late and ready < due:
            at = duty.between(ready, due, rng.uniform(0.15, 0.95))
        else:
            at = duty.add(max(ready, due), target.resolution * rng.uniform(0.05, 1.5))
        late = at > due or start > response_due
        if severity == "emergency":
            resolution = rng.choice(EMERGENCY_RESOLUTIONS)
        elif claim_fen:
            resolution = rng.choice(CLAIM_RESOLUTIONS)
        elif kind == "complaint":
            resolution = rng.choice(RESOLUTIONS[row["category"]])
        else:
            resolution = rng.choice(ANSWERS[kind])
        gm_approval = kind in self.flow.gm_approval_kinds       # else answered without the general manager
        submit = "submit_to_manager" if escalated else "submit" if gm_approval else "answer"
        steps.append((at, submit, handler, resolution, None))
        rounds = 0
        while submit != "answer":
            if escalated:
                if rounds == 0 and rng.random() < 0.08:           # the department manager sends it back once
                    at = work.add(at, rng.uniform(0.5, 4))
                    steps.append((at, "send_back", people.manager, rng.choice(SEND_BACK_NOTES), None))
                    at = duty.add(at, rng.uniform(1, 8))
                    steps.append((at, submit, handler, resolution, None))
                at = work.add(at, rng.uniform(1, 14))
                steps.append((at, "manager_approve" if gm_approval else "manager_approve_final", people.manager,
                              rng.choice(MANAGER_NOTES), None))
            if not gm_approval:
                break
            if rounds == 0 and rng.random() < 0.03:                # the general manager sends it back once
                at = work.add(at, rng.uniform(0.5, 4))
                steps.append((at, "send_back", people.gm, rng.choice(SEND_BACK_NOTES), None))
                at = duty.add(at, rng.uniform(1, 8))
                steps.append((at, submit, handler, resolution, None))
                rounds += 1
                continue
            break
        resolved = at
        if gm_approval:
            at = work.add(at, rng.uniform(0.2, 8))
            steps.append((at, "approve", people.gm, rng.choice(APPROVE_NOTES), None))
        if submit != "answer":
            at = duty.add(at, rng.uniform(0.1, 3))
            steps.append((at, "give_feedback", handler, rng.choice(FEEDBACK_NOTES), None))
        at = duty.add(at, rng.uniform(3, 27))
        caller = handler if rng.random() < 0.7 else rng.choice(people.staff)
        satisfaction = SATISFACTION["late" if late else "on_time"](rng)
        fault = kind == "complaint" and row["category"] in ("attitude", "speed", "quality") and rng.random() < 0.015
        if fault:
            satisfaction = min(satisfaction, rng.choice([2, 3]))
        note = rng.choice(FOLLOW_UP_NOTES[satisfaction])
        steps.append((at, "follow_up", caller, note, {"satisfaction": satisfaction}))
        steps.append((at, "close", caller, None, None))
        stall = rng.random()                                      # a few never move on
        if paused and stall < 0.015:                              # the customer never came back
            steps = steps[:next(i for i, s in enumerate(steps) if s[1] == "wait_customer") + 1]
        elif stall < 0.004:                                       # stuck with its handler
            steps = steps[:next(i for i, s in enumerate(steps) if s[1] == "start") + 1]
        elif stall < 0.0065:                                      # the follow-up call never reached anyone
            steps = steps[:next(i for i, s in enumerate(steps) if s[1] in ("give_feedback", "answer")) + 1]
        if escalated:                                             # the manager signs for it at once, mostly
            if not ((self.now - created).days < 10 and rng.random() < 0.4):
                steps.append((duty.add(created, rng.uniform(0.05, 1.5)), "acknowledge", people.manager, None, None))
        if fault and any(s[1] == "approve" for s in steps):      # found to be a staff member's own fault
            reason = rng.choice(FAULT_REASONS)
            staff = first if rng.random() < 0.6 else handler
            steps.append((work.add(resolved, rng.uniform(1, 12)), "attribute_fault", people.manager, reason,
                          {"fault_staff": staff, "fault_reason": reason}))
        steps.sort(key=lambda s: s[0])                            # stable: same-moment steps keep their order
        row.update(first_responder=first, assignee=first, escalated=escalated)
        return self.replay(_Life(row, created, steps), target)

    def replay(self, life: _Life, target) -> _Life:
        """Take the steps that have happened by now, as kefu.tickets.step would: the state, the times it
        records, the due times (the clock stopped while waiting on the customer), and the events."""
        row, clock, flow = life.row, self.clock, self.flow
        created = life.created
        row["response_due"] = clock.due(created, target.response)
        row["resolution_due"] = clock.due(created, target.resolution)
        state, pauses, version, last = "new", [], 0, None
        kept = [s for s in life.steps if s[0] <= self.now]
        for at, name, by, comment, values in kept:
            version += 1
            if name == "intake":
                life.events.append({"ticket": None, "step": "intake", "to_state": "new"})
                life.stamps.append((at, by))
                continue
            if name in ("acknowledge", "attribute_fault"):
                target_state = state
                if name == "acknowledge":
                    row.update(acknowledged_by=by, acknowledged_at=at)
                else:
                    row.update(values)
                    life.fine = {"staff": values["fault_staff"], "happened_on": at.date(),
                                 "kind": "own_fault_complaint", "amount": self.fine_yuan,
                                 "reason": f"{row['ticket_no']}：{comment}", "_at": at, "_by": by}
            else:
                transition = flow.transitions[name]
                if state not in transition.sources or not transition.applies(flow.facts(row)):
                    raise AssertionError(f"demo ticket step {name} from {state}")
                target_state = transition.target
                if values:
                    row.update(values)
                if name == "follow_up":
                    row["follow_up_note"] = comment
                if target_state == "in_progress" and "responded_at" not in row:
                    row["responded_at"] = at
                if target_state in flow.resolved_states and not row.get("resolved_at"):
                    row["resolved_at"] = at
                if target_state == "closed":
                    row["closed_at"] = at
                if target_state == "in_progress" and state not in flow.paused_states:
                    row["resolved_at"] = row["closed_at"] = None
                if target_state in flow.paused_states:
                    pauses.append([at, None])
                elif state in flow.paused_states:
                    pauses[-1][1] = at
                    row["resolution_due"] = clock.due(created, target.resolution, pauses)
            event = {"ticket": None, "step": name, "from_state": state, "to_state": target_state}
            if comment:
                event["comment"] = comment
            life.events.append(event)
            life.stamps.append((at, by))
            state, last = target_state, (at, by)
        row["state"] = state
        for name in ("resolved_at", "closed_at"):
            if row.get(name) is None:
                row.pop(name, None)
        for name, hours in (("responded_at", "response_hours"), ("resolved_at", "resolution_hours")):
            if row.get(name):                                     # working hours, as kefu.tickets.step records
                row[hours] = round(max(0, clock.pos(row[name]) - clock.pos(created)) / 3600, 2)
        if self.brief and len(life.events) > 2:
            life.events, life.stamps = [life.events[0], life.events[-1]], [life.stamps[0], life.stamps[-1]]
        life.version, life.updated = max(1, version), last
        return life


def _backdate(store: Store, sheet: str, ids: list[int], stamps: list[tuple]) -> None:
    """Give records just made by insert_many (in the caller's transaction) their own past: stamps are
    (created_at, created_by[, updated_at, updated_by, version]) per id, on the row and on its 'create'
    audit entry (at, user, and the created_at/created_by it recorded)."""
    conn = store.conn
    names = dict(conn.execute("SELECT id, username FROM kefu_users"))
    full = len(stamps[0]) > 2
    rows = []
    for row_id, stamp in zip(ids, stamps):
        created = stamp[0].isoformat()
        if full:
            updated = stamp[2].isoformat() if stamp[2] else None
            rows.append((created, stamp[1], updated, stamp[3], stamp[4], row_id))
        else:
            rows.append((created, stamp[1], row_id))
    table = f'"{sheet}"'
    if full:
        conn.executemany(f"UPDATE {table} SET created_at = ?, created_by = ?, updated_at = ?, updated_by = ?, "
                         f"version = ? WHERE id = ?", rows)
    else:
        conn.executemany(f"UPDATE {table} SET created_at = ?, created_by = ? WHERE id = ?", rows)
    audit = dict(conn.execute("SELECT row_id, id FROM kefu_audit WHERE sheet = ? AND action = 'create' "
                              "AND row_id BETWEEN ? AND ?", (sheet, min(ids), max(ids))))
    conn.executemany("UPDATE kefu_audit SET at = ?1, user_id = ?2, username = ?3, "
                     "after = json_set(after, '$.created_at', ?1, '$.created_by', ?2) WHERE id = ?4",
                     [(r[0], r[1], names.get(r[1], "system"), audit[r[-1]]) for r in rows if r[-1] in audit])


def _ticket_moments(rng: random.Random, now: datetime, count: int, days: int) -> list[datetime]:
    """When `count` tickets came in over the `days` days up to now: fewer at weekends and on public
    holidays, more in the summer (air conditioning), at the hours each channel is used; oldest first."""
    tz = now.tzinfo
    today = now.date()
    weights = []
    for back in range(days - 1, -1, -1):
        day = today - timedelta(days=back)
        weight = 1.0 if is_working_day(day) else (0.55 if day.weekday() == 5 else 0.4)
        weight *= {1: 0.9, 2: 0.85, 7: 1.15, 8: 1.2, 12: 1.05}.get(day.month, 1.0) * rng.uniform(0.85, 1.15)
        if back == 0:
            weight *= min(1.0, max(0.05, (now.hour - 8) / 12))    # today: the day so far
        weights.append((day, weight))
    pick_day = _Pick(weights)
    moments = []
    for _ in range(count):
        hour = HOURS[CHANNEL(rng)](rng)
        moment = datetime.combine(pick_day(rng), time(hour, rng.randrange(60), rng.randrange(60)), tz)
        if moment >= now:                                         # later today: it came in yesterday
            moment -= timedelta(days=1)
        moments.append(moment)
    moments.sort()
    return moments


def _callers(fake, count: int) -> list[tuple[str, str]]:
    return [(fake.name(), fake.phone_number()) for _ in range(count)]


def _customer_callers(store: Store, rng, count: int) -> list[tuple]:
    """Customers who call: the archive's contact on its mobile (or phone), so the ticket links to it."""
    rows = store.conn.execute("SELECT id, contact, coalesce(mobile, phone) FROM customers WHERE deleted_at IS NULL "
                              "AND contact IS NOT NULL AND coalesce(mobile, phone) IS NOT NULL ORDER BY id").fetchall()
    return rng.sample(rows, min(count, len(rows)))


def _insert_tickets(store: Store, maker: _TicketMaker, moments: list[datetime], *, batch: int = TICKET_BATCH,
                    keep=None) -> dict:
    """Make and insert the tickets received at `moments` (oldest first), their events and fines."""
    counts = {"tickets": 0, "ticket_events": 0, "rewards_penalties": 0}
    for offset in range(0, len(moments), batch):
        lives = []
        for created in moments[offset:offset + batch]:
            lives.append(maker.life(created))
        with store.transaction():
            ids = store.insert_many("tickets", [life.row for life in lives], auth.SYSTEM)
            _backdate(store, "tickets", ids, [(life.created, life.row["first_responder"],
                                               life.updated[0] if life.updated else None,
                                               life.updated[1] if life.updated else None, life.version)
                                              for life in lives])
            events, stamps = [], []
            for ticket_id, life in zip(ids, lives):
                for event in life.events:
                    event["ticket"] = ticket_id
                events += life.events
                stamps += life.stamps
            _backdate(store, "ticket_events", store.insert_many("ticket_events", events, auth.SYSTEM), stamps)
            # a fine dated in a month whose incentive run is approved is not written (bulk data added later)
            fines = [(ticket_id, life.fine) for ticket_id, life in zip(ids, lives) if life.fine
                     and not store.locked_period(store.sheet("rewards_penalties"), life.fine["happened_on"])]
            if fines:
                rows = [{k: v for k, v in fine.items() if not k.startswith("_")} | {"ticket": ticket_id}
                        for ticket_id, fine in fines]
                _backdate(store, "rewards_penalties", store.insert_many("rewards_penalties", rows, auth.SYSTEM),
                          [(fine["_at"], fine["_by"]) for _, fine in fines])
        if keep is not None:
            keep(ids, lives)
        counts["tickets"] += len(ids)
        counts["ticket_events"] += len(events)
        counts["rewards_penalties"] += len(fines)
    return counts


KNOWLEDGE = [   # (category, question, answer): the standard answers the office keeps
    ("billing", "物业费有哪些缴费方式？", "支持银行代扣、服务中心现场刷卡、对公转账三种方式；每季度首月15日前缴纳。"),
    ("billing", "如何开具增值税专用发票？", "请提供单位名称、税号、开户行及账号、地址电话，财务核对后5个工作日内开具并快递寄出。"),
    ("billing", "逾期缴费的滞纳金如何计算？", "按合同约定每日万分之五计收；首次逾期且在30天内补缴的，可申请减免。"),
    ("billing", "发现重复扣款怎么办？", "核对银行流水后，由财务原路退回多扣款项，一般3个工作日内到账，并短信告知客户。"),
    ("product", "设备保修期是多久？", "整机保修一年，压缩机等核心部件保修三年；人为损坏不在保修范围内。"),
    ("product", "净水设备滤芯多久更换一次？", "PP棉滤芯3-6个月，活性炭滤芯6-12个月，RO膜2-3年；维保合同客户可预约免费上门更换。"),
    ("product", "智能门锁如何添加指纹？", "用管理员指纹或密码进入设置菜单，选择“添加用户—指纹”，按提示录入三次即可。"),
    ("property", "装修需要办理哪些手续？", "提交装修申请表、施工图纸、施工单位资质复印件，缴纳装修押金，审批后领取施工证。"),
    ("property", "门禁卡丢失如何补办？", "业主本人携带身份证到服务中心办理，补卡工本费20元，当场挂失原卡。"),
    ("property", "装修施工时间有什么规定？", "工作日8:00-12:00、14:00-18:00可施工，周末及节假日禁止噪音作业。"),
    ("property", "停车位如何租赁？", "到服务中心登记车辆信息并签订车位租赁协议，可按月或按年缴费。"),
    ("contract", "维保合同如何续签？", "合同到期前30天客服会主动联系；客户确认后签订续约合同，价格按当年标准执行。"),
    ("contract", "合同主体变更需要哪些材料？", "新旧主体的营业执照复印件、变更证明文件、双方盖章的变更申请，审核通过后签订补充协议。"),
    ("contract", "提前终止合同如何处理？", "需提前30天书面通知；按合同约定结算已发生费用，无约定的不收取违约金。"),
    ("speed", "报修后多久上门？", "一般报修24小时内上门，紧急报修（漏水、停电、电梯困人）30分钟内响应。"),
    ("speed", "退款多久到账？", "审批通过后3-5个工作日原路退回，节假日顺延。"),
    ("speed", "如何查询工单处理进度？", "拨打400热线报工单号即可查询，也可由首问责任人主动告知进度。"),
    ("attitude", "客户投诉服务态度如何处理？", "先致歉安抚，调取录音核实；确属员工过失的，主管当日致电道歉，并按制度处理当事人。"),
    ("attitude", "客户情绪激动时如何接听？", "保持语气平和，先倾听不打断，复述客户诉求并给出明确的处理时限，不推诿、不争辩。"),
    ("quality", "维修后故障复发怎么处理？", "安排资深工程师复检，属维修质量问题的免费返修并免收上门费，同时延长该部件保修期。"),
    ("quality", "如何索取设备检测报告？", "向首问责任人提出申请，客服在3个工作日内提供加盖公章的报告复印件。"),
    ("other", "客服中心的办公时间？", "400热线每天9:00-23:00，服务中心周一至周六9:00-18:00，法定节假日另行通知。"),
    ("other", "如何加入客户会？", "签约客户均可免费加入，登记后享受会员权益、节日关怀和专属活动。"),
    ("other", "突发事件如何处置？", "电梯困人、漏水、停电等突发事件立即上报部门经理，值班工程师30分钟内到场，处置后逐户回访。"),
    ("other", "群诉如何处理？", "群诉立即上报部门经理，指定专人牵头，当天与客户代表沟通，书面答复处理方案。"),
]
CASE_COUNT = 15


def seed_tickets(store: Store, rng: random.Random, fake, now: datetime, *, count: int = DEMO_TICKETS,
                 days: int = 365) -> dict:
    """A year of tickets up to now with every step, the fines for own-fault complaints, the knowledge
    base (standard answers, and cases written from closed tickets) and the supervisors' weekly spot
    checks of the past eight weeks."""
    people = _People.of(store)
    maker = _TicketMaker(store, rng, people, _callers(fake, 6000), _customer_callers(store, rng, 800), now,
                         now.date() - timedelta(days=days))
    cases: dict[str, tuple] = {}

    def keep(ids, lives):                                 # closed, satisfied complaints: candidate cases
        for ticket_id, life in zip(ids, lives):
            row = life.row
            if row["state"] == "closed" and row["kind"] == "complaint" and row.get("satisfaction", 0) >= 4 \
                    and row["subject"] not in cases and rng.random() < 0.05:
                resolution = next(e.get("comment") for e in reversed(life.events)
                                  if e["step"] in ("submit", "submit_to_manager"))
                cases[row["subject"]] = (ticket_id, row, resolution, row["closed_at"])

    counts = _insert_tickets(store, maker, _ticket_moments(rng, now, count, days), keep=keep)
    counts["knowledge"] = _knowledge(store, rng, people, now, list(cases.values()))
    counts["spot_checks"] = _spot_checks(store, rng, people, now)
    return counts


def _knowledge(store: Store, rng, people: _People, now: datetime, cases: list) -> int:
    rows, stamps = [], []
    writers = people.supervisors + [people.manager]
    start = now - timedelta(days=360)
    for n, (category, question, answer) in enumerate(KNOWLEDGE):
        rows.append({"question": question, "answer": answer, "category": category, "kind": "answer"})
        stamps.append((start + timedelta(days=n * 3, hours=rng.randint(1, 8)), rng.choice(writers)))
    for ticket_id, ticket, resolution, closed_at in rng.sample(cases, min(CASE_COUNT, len(cases))):
        answer = f"情况：{ticket['description']}\n处理：{resolution}\n回访：{ticket.get('follow_up_note') or '—'}"
        rows.append({"question": f"案例：{ticket['subject']}", "answer": answer, "category": ticket["category"],
                     "kind": "case", "ticket": ticket_id})
        stamps.append((min(now, closed_at + timedelta(days=rng.randint(1, 6), hours=rng.randint(0, 5))),
                       rng.choice(writers)))
    with store.transaction():
        _backdate(store, "knowledge", store.insert_many("knowledge", rows, auth.SYSTEM), stamps)
    return len(rows)


def _spot_checks(store: Store, rng, people: _People, now: datetime, *, weeks: int = 8) -> int:
    """The past weeks' spot checks, on the very sample kefu.tickets.spot_sample draws for each week."""
    supervisor = auth.get_user(store, people.supervisors[0])
    rows, stamps = [], []
    for back in range(weeks, 0, -1):
        week = week_of(now.date()) - timedelta(days=7 * back)
        checker = people.supervisors[back % len(people.supervisors)]
        for ticket in spot_sample(store, supervisor, week):
            passed = rng.random() < 0.9
            rows.append({"week": week, "ticket": ticket["id"], "staff": ticket["assignee"],
                         "result": "pass" if passed else "fail",
                         "note": rng.choice([None, None, "记录完整，处理规范", "回访及时"]) if passed else
                         rng.choice(["回访记录过于简单", "未在时限内响应", "处理说明缺少客户确认", "分类填写错误"])})
            stamps.append((datetime.combine(week + timedelta(days=7 + rng.randint(0, 1)),
                                            time(rng.randint(9, 16), rng.randrange(60)), now.tzinfo), checker))
    if rows:
        with store.transaction():
            _backdate(store, "spot_checks", store.insert_many("spot_checks", rows, auth.SYSTEM), stamps)
    return len(rows)


def scale_tickets(store: Store, tickets: int, *, batch: int = 5000) -> dict:
    """Add `tickets` more tickets received over the past years (three, or more for a very large count so
    a day stays under 10,000 numbers), each with its intake and latest step as events."""
    rng, fake = random.Random(SEED + tickets), _faker()
    now = datetime.now(store.settings.tz).replace(second=0, microsecond=0)
    days = max(3 * 365, tickets // 1500)
    people = _People.of(store)
    maker = _TicketMaker(store, rng, people, _callers(fake, 5000), _customer_callers(store, rng, 5000), now,
                         now.date() - timedelta(days=days), brief=True)
    return _insert_tickets(store, maker, _ticket_moments(rng, now, tickets, days), batch=batch)
