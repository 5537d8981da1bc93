"""Demo member club: about 1,000 members drawn from the customer archives, a year of points, 15 partner
merchants (some expired), and birthdays, anniversaries and renewals in the coming week so the care card
has something to show. Deterministic for a given rng, fake and now."""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from kefu import auth, club
from kefu.store import Store

MEMBERS = 1000
PARTNERS = 15
EARN_REASONS = ["购买配件", "维保合同续签", "参加满意度调查", "推荐新客户", "参加社区活动", "年度消费返积分", "入会礼"]
REDEEM_REASONS = ["兑换礼品", "抵扣配件费用", "兑换免费检测", "兑换联盟商家优惠券"]
OFFERS = ["凭会员卡消费九折", "免费停车两小时", "赠送精品咖啡一杯", "客房升级一次", "体检套餐八五折", "洗车免费一次",
          "亲子乐园门票半价", "生日当月赠送蛋糕", "满 500 元减 50 元", "会员专享下午茶"]
PARTNER_KINDS = ["酒店", "咖啡馆", "体检中心", "汽车美容店", "餐厅", "书店", "健身房", "花店"]


def _birthday(rng) -> date:
    year = rng.randint(1955, 2000)
    return date(year, rng.randint(1, 12), rng.randint(1, 28))


def _years_before(day: date, years: int) -> date:
    """The same day `years` years earlier (29 February becomes 28 February in a common year)."""
    return club.occurs_on(day, day.year - years)


def _ledger(rng, member_id: int, joined: date, today: date) -> tuple[list[dict], int]:
    """A year (at most since joining) of earn and redeem lines in date order, never below zero;
    returns the lines and the points earned."""
    first = max(joined, today - timedelta(days=364))
    span = (today - first).days
    days = sorted(first + timedelta(days=rng.randint(0, span)) for _ in range(rng.choice([0, 1, 2, 3, 4, 5, 6, 8, 12])))
    lines, balance, earned = [], 0, 0
    for day in days:
        if balance >= 100 and rng.random() < 0.3:
            points = rng.randint(1, balance // 100) * 100
            lines.append({"member": member_id, "booked_on": day, "kind": "redeem", "points": points,
                          "reason": rng.choice(REDEEM_REASONS)})
            balance -= points
        else:
            points = rng.choice([50, 100, 200, 300, 500, 800, 1000, 1500, 3000, 5000])
            lines.append({"member": member_id, "booked_on": day, "kind": "earn", "points": points,
                          "reason": rng.choice(EARN_REASONS)})
            balance += points
            earned += points
    return lines, earned


def seed_club(store: Store, rng, fake, people_ids: list[int], now: datetime) -> dict:
    """Members, points and partners; returns counts. people_ids: the staff who book points for archives
    without a keeper."""
    today = now.astimezone(store.settings.tz).date()
    rules = club.rules_for(store)
    archives = store.conn.execute("SELECT id, owner FROM customers WHERE deleted_at IS NULL ORDER BY id").fetchall()
    chosen = sorted(rng.sample(archives, min(MEMBERS, len(archives))))
    # the first keeper's members come first, so the week's occasions land on the demo staff's home screen
    first_keeper = people_ids[0] if people_ids else None
    chosen.sort(key=lambda row: (row[1] != first_keeper, row[0]))
    members, ledgers = [], []
    for number, (customer_id, owner) in enumerate(chosen, start=1):
        joined = today - timedelta(days=rng.randint(30, 6 * 365))
        status = rng.choices(["active", "lapsed", "cancelled"], weights=[85, 10, 5])[0]
        birthday = _birthday(rng) if rng.random() < 0.8 else None
        renewal = today + timedelta(days=rng.randint(1, 365)) if status == "active" else None
        if number <= 6:                                  # birthdays in the coming week
            status, birthday = "active", _years_before(today + timedelta(days=number), 30 + number * 5)
        elif number <= 9:                                # renewals due in the coming week
            status, renewal = "active", today + timedelta(days=number - 5)
            joined = _years_before(renewal, 3) - timedelta(days=40)
        elif number == 10:                               # a 29 February birthday
            birthday = date(1988, 2, 29)
        lines, earned = _ledger(rng, number, joined, today)
        reached = [tier for tier in rules.tiers if earned >= tier.points][-1]
        # about one in ten stays a tier below what it earned: the upgrade the member card suggests
        if rng.random() < 0.1 and rules.rank(reached.value) > 0:
            reached = rules.tiers[rules.rank(reached.value) - 1]
        members.append({"member_no": f"{rules.member_prefix}{number:06d}", "customer": customer_id,
                        "tier": reached.value, "status": status, "joined_on": joined,
                        "birthday": birthday, "renewal_on": renewal})
        ledgers.append((owner or (rng.choice(people_ids) if people_ids else None), lines))
    ids = store.insert_many("members", members, auth.SYSTEM)
    by_staff: dict = {}
    for member_id, (staff, lines) in zip(ids, ledgers):
        by_staff.setdefault(staff, []).extend({**line, "member": member_id} for line in lines)
    points = 0
    for staff, lines in by_staff.items():
        user = auth.get_user(store, staff) if staff else None
        store.insert_many("points", lines, auth.acting_for(user) if user else auth.SYSTEM)
        points += len(lines)
    partners = []
    for number in range(PARTNERS):
        start = today - timedelta(days=rng.randint(30, 500))
        expired = number % 4 == 3                        # about one in four has expired
        end = today - timedelta(days=rng.randint(1, 25)) if expired else today + timedelta(days=rng.randint(20, 400))
        end = max(end, start)
        tier_values = [t.value for t in rules.tiers]
        lowest = rng.randint(0, len(tier_values) - 1)
        partners.append({"name": f"{fake.city_name()}{rng.choice(PARTNER_KINDS)}", "benefit": rng.choice(OFFERS),
                         "tiers": tier_values[lowest:], "valid_from": start, "valid_to": end,
                         "contact": fake.name(), "phone": fake.phone_number()})
    store.insert_many("partners", partners, auth.SYSTEM)
    return {"members": len(ids), "points": points, "partners": len(partners)}


def scale_members(store: Store, members: int, *, batch: int = 5000) -> dict:
    """Add `members` more members on archives that are not members yet (benchmarks: `seed --scale`),
    joined over the past six years, tiers spread as a club grows."""
    rng = random.Random(members)
    today = datetime.now(store.settings.tz).date()
    rules = club.rules_for(store)
    tiers = [t.value for t in rules.tiers]
    start = store.conn.execute(f"SELECT coalesce(max(CAST(substr(member_no, {len(rules.member_prefix) + 1}) AS INTEGER)), 0) "
                               f"FROM members").fetchone()[0]
    free = [r[0] for r in store.conn.execute(
        "SELECT id FROM customers WHERE deleted_at IS NULL AND id NOT IN (SELECT customer FROM members) "
        "ORDER BY id DESC LIMIT ?", (members,))]
    done = 0
    while done < len(free):
        rows = []
        for customer_id in free[done:done + batch]:
            joined = today - timedelta(days=rng.randint(1, 6 * 365))
            rows.append({"member_no": f"{rules.member_prefix}{start + done + len(rows) + 1:06d}",
                         "customer": customer_id, "tier": rng.choices(tiers, weights=[60, 25, 10, 5][:len(tiers)])[0],
                         "status": rng.choices(["active", "lapsed", "cancelled"], weights=[85, 10, 5])[0],
                         "joined_on": joined, "birthday": _birthday(rng) if rng.random() < 0.8 else None})
        store.insert_many("members", rows, auth.SYSTEM)
        done += len(rows)
    return {"members": done}
