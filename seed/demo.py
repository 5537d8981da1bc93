"""A realistic office, made the same way every time (fixed random seed): about 30 staff, a month of
visitors around today, and the duty roster. `scale()` adds bulk visitors for benchmarks."""
from __future__ import annotations

import random
from datetime import datetime, time, timedelta

from faker import Faker

from kefu import auth
from kefu.store import Store

SEED = 20261122
DEMO_PASSWORD = "kefu-demo"
DEMO_ACCOUNTS = [  # (user name, full name, role): the README lists these; for the demo only
    ("demo-staff", "王小丽", "staff"),
    ("demo-supervisor", "陈建国", "supervisor"),
    ("demo-manager", "刘芳", "manager"),
    ("demo-gm", "赵志强", "gm"),
    ("demo-finance", "孙会计", "finance"),
    ("demo-admin", "周管理", "admin"),
]
EXTRA_STAFF = 24
PURPOSES = ["business"] * 5 + ["inquiry"] * 3 + ["complaint"] * 2 + ["inspection", "interview", "delivery", "other"]
PLACES = ["reception", "reception", "room_1", "room_2", "manager"]
IDENTITIES = ["经理", "采购主管", "业主", "工程师", "行政专员", "总监", "客户代表", "律师", "快递员", "应聘者"]


def _faker() -> Faker:
    fake = Faker("zh_CN")
    fake.seed_instance(SEED)
    return fake


def seed_demo(store: Store, *, days: int = 30) -> dict:
    """Demo accounts, extra staff, a month of visits ending today, and the roster; returns counts."""
    rng, fake = random.Random(SEED), _faker()
    staff_ids = []
    for username, name, role in DEMO_ACCOUNTS:
        uid = auth.create_user(store, username, name, role, DEMO_PASSWORD, auth.SYSTEM, demo=True)
        if role in ("staff", "supervisor"):
            staff_ids.append(uid)
    for number in range(1, EXTRA_STAFF + 1):
        role = "supervisor" if number % 8 == 0 else "staff"
        staff_ids.append(auth.create_user(store, f"staff{number:02d}", fake.name(), role, None, auth.SYSTEM))
    today = datetime.now(store.settings.tz).date()
    visits = _visits(store, rng, fake, staff_ids, today, days)
    store.insert_many("visitors", visits, auth.SYSTEM)
    roster = _roster(staff_ids, today - timedelta(days=days), today + timedelta(days=7))
    store.insert_many("roster", roster, auth.SYSTEM)
    counts = {"users": len(DEMO_ACCOUNTS) + EXTRA_STAFF, "visitors": len(visits), "roster": len(roster)}
    counts.update(seed_archives(store, rng, fake, staff_ids, today))
    return counts


def _visit(store, rng, fake, hosts, day, now) -> dict:
    tz = store.settings.tz
    appointment = datetime.combine(day, time(rng.randint(9, 17), rng.choice([0, 15, 30, 45])), tz)
    gender = rng.choice(["male", "female"])
    visit = {
        "visitor_name": fake.name_male() if gender == "male" else fake.name_female(),
        "gender": gender,
        "organisation": fake.company() if rng.random() < 0.8 else None,
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
        departure = arrival + timedelta(minutes=rng.randint(15, 150))
        if departure <= now:
            visit["left_at"] = departure
            visit["record"] = rng.choice(["已解答客户问题，客户满意。", "洽谈续约事宜，约定下周回复。",
                                          "接收投诉材料，已转投诉主管处理。", "陪同参观办公区。", None])
    return visit


def _visits(store, rng, fake, hosts, today, days) -> list[dict]:
    now = datetime.now(store.settings.tz)
    visits = []
    for offset in range(days, -1, -1):
        day = today - timedelta(days=offset)
        count = rng.randint(2, 5) if day.weekday() == 6 else rng.randint(8, 16)
        visits.extend(_visit(store, rng, fake, hosts, day, now) for _ in range(count))
    for minutes_ago in (75, 40, 12):                      # some visitors are in the building right now
        visit = _visit(store, rng, fake, hosts, today, now)
        arrived = (now - timedelta(minutes=minutes_ago)).replace(second=0, microsecond=0)
        visit.update(appointment_at=arrived - timedelta(minutes=rng.choice([0, 10, 20])), arrived_at=arrived,
                     left_at=None, record=None)
        visits.append(visit)
    for _ in range(4):                                    # a few appointments still to come today
        visit = _visit(store, rng, fake, hosts, today, now)
        later = now + timedelta(minutes=rng.randint(20, 240))
        visit.update(appointment_at=later.replace(second=0, microsecond=0), arrived_at=None, left_at=None, record=None)
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
    """Bulk data for benchmarks, proportioned as `seed --scale 1000000` is meant: size/5 customers with
    10 transactions each (2 x size), and 0.3 x size visits."""
    counts = scale_visitors(store, int(size * 0.3), batch=batch)
    counts.update(scale_archives(store, max(1, size // 5), batch=batch))
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
    return {"customer": customer, "kind": rng.choice(["add_line", "remove_line", "password", "permission", "basic_info"]),
            "detail": rng.choice(["新增一条专线", "撤销备用线路", "重置管理员密码", "开通查询权限", "变更联系人"]),
            "requested_at": requested, "checked_with_customer": rng.random() < 0.9, "done_at": done,
            "customer_notified_at": told if done else None, "staff": keeper}


def seed_archives(store: Store, rng, fake, keepers: list[int], today, *, customers: int = 2000) -> dict:
    """Customer archives with transactions, relationship logs and business changes; most approved."""
    now = datetime.now(store.settings.tz)
    demo_staff = keepers[0]
    archives = [_customer(rng, fake, demo_staff if n % 25 == 0 else rng.choice(keepers), f"KH{n:06d}")
                for n in range(1, customers + 1)]
    ids = store.insert_many("customers", archives, auth.SYSTEM)
    manager = auth.get_user(store, store.conn.execute("SELECT id FROM kefu_users WHERE username = 'demo-manager'")
                            .fetchone()[0])
    for customer_id in ids:
        if rng.random() < 0.75:
            store.approve("customers", customer_id, manager)
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
    return {"customers": len(ids), "transactions": len(transactions), "relationship_log": len(relations),
            "business_changes": len(changes)}
