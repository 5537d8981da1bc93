"""Demo data of the incentive source registers (奖惩核算的数据来源), over the six months before the
current one and the current month so far: the projects each staff member served (service points; most
months a little over the base of 17 points, some under, a few repeat visits of their own making), a
handful of safety incidents, rewards and fines (praise letters and cost savings within the rule's bounds,
service records not signed by the customer), and the spare-parts sales of a few salespeople with margins in
every commission band, most of them fully paid. The projects commissioned in the half-year that the latest
half-year count covers (before the demo's months: a few installations each month, some repeated within six
months by their installer's own fault, the repeat naming the project) give that count its data; the
no-repeat reward is not entered (rules/incentives.toml [no_repeat]). Then the monthly runs stand at every
step of the approval chain: the oldest approved, one approved after being sent back, one waiting for the
general manager, one for HR, one sent back to the manager, and last month's waiting for finance.

Points and amounts follow rules/incentives.toml as it is (coefficients, the bounds of a praise letter or
a cost saving, the figure per record). The own-fault complaint fines are not written here: the ticket
seed writes them from the complaints it attributes. Nothing is dated after `now`'s day. Deterministic for
a given rng, fake and now. Needs the customer archives (seeded before this)."""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache

from kefu import auth, incentives
from kefu.sla import is_working_day
from kefu.store import Store

MONTHS = 6                       # full months before the current one
HALF_YEAR = timedelta(days=183)
PROJECTS = {                     # project type -> what such a service record is about
    "installation": ["中央空调室内机安装", "净水设备安装", "智能门锁安装", "燃气热水器安装", "新风系统安装",
                     "监控摄像头安装", "门禁读卡器安装"],
    "overhaul": ["冷水机组压缩机大修", "电梯曳引机大修", "锅炉年度大修", "生活水泵机组大修", "高压配电柜大修"],
    "repair": ["空调不制冷维修", "卫生间水管漏水维修", "门禁系统故障维修", "电梯门机维修", "公共照明线路维修",
               "排污泵故障维修", "消防报警误报维修", "热水器不点火维修"],
    "maintenance": ["空调滤网清洗保养", "净水器滤芯更换", "电梯月度保养", "柴油发电机保养", "消防水泵保养",
                    "中央空调冷却塔清洗"],
    "inspection": ["配电房巡检", "消防设施月度巡检", "楼宇公共设备巡检", "二次供水水箱巡检", "屋面防水巡检"],
}
TYPE_WEIGHTS = {"installation": 12, "overhaul": 3, "repair": 30, "maintenance": 35, "inspection": 20}
INCIDENTS = ["登高作业未系安全带，从人字梯上滑落，左脚踝扭伤，已送医处理。",
             "维修配电箱前未断电验电，手部轻微触电，未造成伤害。",
             "搬运水泵时配合不当，砸伤右手食指。",
             "使用角磨机未戴防护眼镜，碎屑溅入眼睛，冲洗后无大碍。",
             "地下室作业现场未设警示标志，客户绊倒擦伤膝盖。",
             "工程车倒车时未安排人员指挥，刮碰客户停放车辆。",
             "电焊作业未配备灭火器，焊渣引燃纸箱，现场及时扑灭。"]
PRAISE = ["上门准时，讲解耐心", "连夜抢修，恢复供水", "主动发现隐患并及时处理", "维修后清理现场，干净整洁",
          "节假日加班处理故障", "电话回访细致，态度诚恳", "一次修好，没有再出问题"]
SAVINGS = ["自行修复控制板，免于整板更换，节约配件费用", "优化巡检路线，减少车辆油耗",
           "旧设备拆件再利用，节约备件采购", "与供应商议价，滤芯采购价下调",
           "改进保养方法，减少冷却塔清洗药剂用量"]
UNSIGNED = ["客户不在现场，服务单未签字", "服务单漏签，事后无法补签", "服务单由门卫代签，未经客户本人签字"]
APPROVED = ["客户出差，经主管批准电话确认后补签", "客户单位盖章代替签字，经主管批准"]


def seed_incentives(store: Store, rng: random.Random, fake, staff_ids: list[int], now: datetime) -> dict:
    """Service points, safety incidents, rewards and fines, and parts sales; returns their counts."""
    today = now.astimezone(store.settings.tz).date()
    rules = incentives.rules_for(store)
    months = _months(today)
    places = store.conn.execute("SELECT name, kind, contact FROM customers WHERE deleted_at IS NULL "
                                "ORDER BY id").fetchall() or [("客户现场", "person", None)]
    points = _commissioned_before(random.Random(rng.random()), staff_ids, months, places, rules)
    points += _service_points(rng, staff_ids, months, today, places, rules)
    ids = store.insert_many("service_points", [_public(row) for row in points], auth.SYSTEM)
    made = {id(row): row_id for row, row_id in zip(points, ids)}
    for row, row_id in zip(points, ids):            # a repeat visit names the project it repeats
        if row.get("_repeat_of") is not None:
            store.update("service_points", row_id, {"repeat_of": made[id(row["_repeat_of"])]}, auth.SYSTEM)
    accidents = _incidents(rng, staff_ids, months)
    store.insert_many("safety_incidents", accidents, auth.SYSTEM)
    records = _rewards(rng, fake, staff_ids, months, points, rules)
    store.insert_many("rewards_penalties", records, auth.SYSTEM)
    sales = _sales(store, rng, staff_ids, months[0][0], today)
    store.insert_many("parts_sales", sales, auth.SYSTEM)
    register = store.conn.execute("SELECT count(*) FROM rewards_penalties WHERE deleted_at IS NULL").fetchone()[0]
    runs = _chain_stages(store, months, now)
    return {"service_points": len(points), "safety_incidents": len(accidents),
            "rewards_penalties": register, "parts_sales": len(sales), "incentive_runs": runs}


def _public(row: dict) -> dict:
    """A record without the seed's own notes (keys starting with _)."""
    return {key: value for key, value in row.items() if not key.startswith("_")}


def _months(today: date) -> list[tuple[date, date]]:
    """(first day, last day to use) of the MONTHS full months before today's and of today's month so far."""
    year, month = today.year, today.month
    spans = []
    for _ in range(MONTHS + 1):
        first = date(year, month, 1)
        following = date(year + month // 12, month % 12 + 1, 1)
        spans.append((first, min(today, following - timedelta(days=1))))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return spans[::-1]


def _day_in(rng, first: date, last: date) -> date:
    """A day between first and last, a working day three times in four when there is one."""
    days, working = _days(first, last)
    return rng.choice(working if working and rng.random() < 0.75 else days)


@lru_cache(maxsize=256)
def _days(first: date, last: date) -> tuple[tuple, tuple]:
    """The days from first to last, and the working days among them."""
    days = tuple(first + timedelta(days=n) for n in range((last - first).days + 1))
    return days, tuple(d for d in days if is_working_day(d))


def _project_types(rng, count: int, target: int, coefficients: dict) -> list[str]:
    """`count` project types drawn by how often each comes up, then moved one type up or down the
    coefficient table until their points come as near `target` as the count allows."""
    order = sorted(coefficients, key=lambda kind: (coefficients[kind], kind))
    kinds = rng.choices(list(TYPE_WEIGHTS), weights=list(TYPE_WEIGHTS.values()), k=count)
    for _ in range(count * len(order)):
        total = sum(coefficients[k] for k in kinds)
        if total == target:
            break
        step = 1 if total < target else -1
        movable = [n for n, k in enumerate(kinds) if 0 <= order.index(k) + step < len(order)]
        if not movable:
            break
        n = rng.choice(movable)
        kinds[n] = order[order.index(kinds[n]) + step]
    return kinds


def _service_points(rng, staff_ids, months, today, places, rules) -> list[dict]:
    """8-14 projects per staff member and month (fewer in the month so far), points around the base."""
    coefficients = {kind: value for kind, value in rules.coefficients.items() if kind in PROJECTS}
    base, most = int(rules.base_points), max(coefficients.values())
    rows = []
    for first, last in months:
        share = ((last - first).days + 1) / 30 if last == today else 1
        month_rows = []
        for uid in staff_ids:
            form = (uid * 37 % 9) - 4                        # the same person does alike month by month
            count = max(1, round(rng.randint(8, 14) * min(1, share)))
            target = min(max(base - 5, round(rng.gauss(base + 4 + form, 3.5))), base + 13)      # 12-30 a month
            target = max(count, min(most * count, round(target * min(1, share))))
            for kind in _project_types(rng, count, target, coefficients):
                month_rows.append({"staff": uid, "done_on": _day_in(rng, first, last), "project_type": kind,
                                   "_what": rng.choice(PROJECTS[kind]), "_for": rng.choice(places)})
            if rng.random() < 0.06:                          # a repeat visit of one's own making: no points
                repeat = {"staff": uid, "done_on": _day_in(rng, first, last), "project_type": "repair",
                          "own_fault_repeat": True, "_what": "返修：" + rng.choice(PROJECTS["repair"]),
                          "_for": rng.choice(places)}
                installed = [row for row in rows if row["staff"] == uid and row["project_type"] == "installation"
                             and not row.get("own_fault_repeat") and row["done_on"] + HALF_YEAR > repeat["done_on"]]
                if installed:                                # of a project they installed within half a year
                    repeat["_repeat_of"] = installed[-1]
                    repeat["_for"] = installed[-1]["_for"]
                month_rows.append(repeat)
        month_rows.sort(key=lambda row: (row["done_on"], row["staff"]))
        for number, row in enumerate(month_rows, start=1):   # service record numbers in date order
            row["_no"] = f"FW-{first:%Y%m}-{number:04d}"
            row["project"] = f"{row['_no']} {row['_for'][0]} {row['_what']}"
        rows += month_rows
    return rows


def _latest_count(months, rules):
    """The latest full month of the demo closing a half-year count (June or December), as a Period."""
    for first, _ in reversed(months[:-1]):
        period = incentives.parse_period(f"{first:%Y-%m}")
        if incentives.no_repeat_span(period, rules):
            return period
    return incentives.parse_period(f"{months[0][0]:%Y-%m}")


def _commissioned_before(rng, staff_ids, months, places, rules) -> list[dict]:
    """Installations in the months the latest half-year count covers that lie before the demo's own months:
    one to three a month for a third of the staff, and for a few of them a repeat visit of the installer's own
    making within six months (before the demo's months too) naming the project: that project earns nothing."""
    span = incentives.no_repeat_span(_latest_count(months, rules), rules)
    if span is None:
        return []
    rows = []
    first = span[0]
    while first < min(span[1], months[0][0]):
        last = incentives.plus_months(first, 1) - timedelta(days=1)
        for uid in staff_ids[::3]:
            for _ in range(rng.randint(1, 3)):
                rows.append({"staff": uid, "done_on": _day_in(rng, first, last), "project_type": "installation",
                             "_what": rng.choice(PROJECTS["installation"]), "_for": rng.choice(places)})
        first = last + timedelta(days=1)
    rows.sort(key=lambda row: (row["done_on"], row["staff"]))
    repeats = []
    for project in rng.sample(rows, min(3, len(rows))):
        day = project["done_on"] + timedelta(days=rng.randint(20, 90))
        if day < months[0][0]:
            repeats.append({"staff": project["staff"], "done_on": day, "project_type": "repair",
                            "own_fault_repeat": True, "_what": "返修：" + project["_what"] + "调试遗漏",
                            "_for": project["_for"], "_repeat_of": project})
    rows = sorted(rows + repeats, key=lambda row: (row["done_on"], row["staff"]))
    per_month: dict = {}
    for row in rows:
        key = f"{row['done_on']:%Y%m}"
        per_month[key] = per_month.get(key, 0) + 1
        row["_no"] = f"FW-{key}-{per_month[key]:04d}"
        row["project"] = f"{row['_no']} {row['_for'][0]} {row['_what']}"
    return rows


CHAIN_NOTES = ["服务积分与派工单核对不符，请复核", "表扬信奖励缺少客户来信附件，请补充后重新提交",
               "安全事故扣分未计入，请核实"]


def _chain_stages(store: Store, months, now: datetime) -> int:
    """The monthly runs of the demo at every step of the approval chain (rules/incentives.toml [approval]),
    oldest first: approved; approved after HR sent it back once; checked by finance and HR, waiting for the
    general manager; checked by finance, waiting for HR; sent back by finance; prepared, waiting for finance.
    Each step is dated a few working days into the month after the period, none after `now`."""
    def person(username: str) -> auth.User:
        return auth.get_user(store, store.conn.execute("SELECT id FROM kefu_users WHERE username = ?",
                                                       (username,)).fetchone()[0])

    manager, finance, hr, gm = (person(f"demo-{role}") for role in ("manager", "finance", "hr", "gm"))
    plans = [["prepare", "check", "check", "approve"],
             ["prepare", "check", ("send_back", hr, CHAIN_NOTES[2]), "prepare", "check", "check", "approve"],
             ["prepare", "check", "check"],
             ["prepare", "check"],
             ["prepare", ("send_back", finance, CHAIN_NOTES[0])],
             ["prepare"]]
    full = [f"{first:%Y-%m}" for first, _ in months[:-1]][-len(plans):]
    for label, plan in zip(full, plans[-len(full):]):
        period = incentives.parse_period(label)
        day = period.end + timedelta(days=2)
        checks = iter([finance, hr])
        for step in plan:
            stamp = min(now, datetime.combine(day, datetime.min.time(), now.tzinfo).replace(hour=10))
            store.now = lambda stamp=stamp: stamp.replace(microsecond=0).isoformat()
            try:
                if step == "prepare":
                    checks = iter([finance, hr])
                    incentives.prepare(store, manager, label)
                elif step == "check":
                    incentives.check(store, next(checks), label)
                elif step == "approve":
                    incentives.approve(store, gm, label)
                else:
                    incentives.send_back(store, step[1], label, step[2])
            finally:
                del store.now                         # the store's own clock again
            day += timedelta(days=1)
    return len(full)


def _incidents(rng, staff_ids, months) -> list[dict]:
    """A handful over the months, one of them last month (its run shows the deduction)."""
    chosen = sorted([len(months) - 2] + rng.sample(range(len(months) - 2), 3)
                    + ([len(months) - 1] if rng.random() < 0.5 else []))
    return [{"staff": rng.choice(staff_ids), "happened_on": _day_in(rng, *months[index]), "description": text}
            for index, text in zip(chosen, rng.sample(INCIDENTS, len(chosen)))]


def _yuan(fen: int) -> str:
    return f"{Decimal(fen) / 100:.2f}"


def _judged(rng, low_fen: int, high_fen: int) -> str:
    """A judged amount within the rule's bounds, in whole 50 yuan where the bounds allow."""
    steps = [fen for fen in range(low_fen, high_fen + 1, 5000)] or [low_fen]
    return _yuan(rng.choice(steps))


def _rewards(rng, fake, staff_ids, months, points, rules) -> list[dict]:
    """Per month: praise letters and cost savings (judged within bounds) and unsigned service records
    (fined, or approved at 0). Projects without a repeat for half a year are counted by the runs."""
    by_month: dict = {}
    for row in points:
        if not row.get("own_fault_repeat"):
            by_month.setdefault(f"{row['done_on']:%Y-%m}", []).append(row)
    low, high = rules.reward_bounds["praise_letter"]
    saving_low, saving_high = rules.reward_bounds["cost_saving"]
    rows = []
    for first, last in months:
        done = by_month.get(f"{first:%Y-%m}", [])
        if not done:
            continue
        for _ in range(rng.randint(2, 5)):
            project = rng.choice(done)
            name, kind, contact = project["_for"]
            writer = f"客户{name}" if kind == "person" else f"{name} {contact or fake.name()}"
            rows.append({"staff": project["staff"], "happened_on": _day_in(rng, project["done_on"], last),
                         "kind": "praise_letter", "amount": _judged(rng, low, high),
                         "reason": f"{writer}{rng.choice(['来信', '发邮件'])}表扬：{rng.choice(PRAISE)}"
                                   f"（{project['_no']}）"})
        for _ in range(rng.randint(0, 2)):
            rows.append({"staff": rng.choice(staff_ids), "happened_on": _day_in(rng, first, last),
                         "kind": "cost_saving", "amount": _judged(rng, saving_low, saving_high),
                         "reason": f"{rng.choice(SAVINGS)}，经财务核实。"})
        for n in range(rng.randint(1, 3)):
            project = rng.choice(done)
            approved = n == 1 or (n == 2 and rng.random() < 0.5)   # the first of the month is fined
            fine = rules.fines_fen["unsigned_record_approved" if approved else "unsigned_record"]
            row = {"staff": project["staff"], "happened_on": _day_in(rng, project["done_on"], last),
                   "kind": "unsigned_record", "amount": _yuan(fine),
                   "reason": f"{project['_no']} "
                             f"{rng.choice(APPROVED if approved else UNSIGNED)}。"}
            if approved:
                row["approved"] = True
            rows.append(row)
    rows.sort(key=lambda row: (row["happened_on"], row["staff"]))
    return rows


def _sales(store: Store, rng, staff_ids, start: date, today: date) -> list[dict]:
    """A few salespeople, one to three sales each a month, mostly to the archives they keep; margins in
    every band; paid in full within days to a few months, unless that is still ahead or the customer is late."""
    sellers = sorted(rng.sample(staff_ids, min(6, len(staff_ids))))
    archives = store.conn.execute("SELECT id, owner FROM customers WHERE deleted_at IS NULL ORDER BY id").fetchall()
    everyone = [cid for cid, _ in archives]
    if not everyone:
        return []
    kept = {uid: [cid for cid, owner in archives if owner == uid] for uid in sellers}
    rows = []
    day = start
    while day <= today:
        last = min(today, date(day.year + day.month // 12, day.month % 12 + 1, 1) - timedelta(days=1))
        for uid in sellers:
            for _ in range(rng.randint(1, 3)):
                sold = _day_in(rng, day, last)
                band = rng.choices(["low", "mid", "high"], weights=[25, 45, 30])[0]
                low, high = {"low": (18, 34.9), "mid": (35, 49.9), "high": (50, 62)}[band]
                margin = low if rng.random() < 0.05 else round(rng.uniform(low, high), 1)
                amount = round(300 * (200 ** rng.random()))              # 300 to 60,000 yuan, most a few thousand
                customer = rng.choice(kept[uid] if kept[uid] and rng.random() < 0.8 else everyone)
                row = {"staff": uid, "sold_on": sold, "customer": customer, "margin": margin,
                       "amount": f"{amount}.{rng.choice(['00', '00', '50'])}"}
                paid = sold + timedelta(days=rng.choice([3, 7, 15, 30, 30, 45, 60, 90]))
                if paid <= today and rng.random() < 0.9:
                    row["paid_on"] = paid
                rows.append(row)
        day = last + timedelta(days=1)
    rows.sort(key=lambda row: (row["sold_on"], row["staff"]))
    per_day: dict = {}
    for row in rows:
        per_day[row["sold_on"]] = per_day.get(row["sold_on"], 0) + 1
        row["quote_no"] = f"BJ-{row['sold_on']:%Y%m%d}-{per_day[row['sold_on']]:02d}"
    return rows
