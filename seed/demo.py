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
    return {"users": len(DEMO_ACCOUNTS) + EXTRA_STAFF, "visitors": len(visits), "roster": len(roster)}


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


def scale(store: Store, visitors: int, *, batch: int = 5000) -> dict:
    """Add `visitors` more visits spread over the past years, for benchmarks."""
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
