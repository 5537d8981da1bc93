"""The member club (客户会): members and their numbers, the points ledger (a balance that never goes below
zero, also when two people redeem at once), tier upgrades suggested from the points earned, the tier's
benefits with the partner offers valid today, and customer care (birthdays, membership anniversaries,
renewals and public holidays in the days ahead, each greeted once a year into the relationship log).

Tiers and benefits are declared in rules/club.toml. A member born on 29 February is greeted on
28 February in a year without a 29 February (the day before the birthday that does not exist, so the
greeting is never late and stays in the same month).
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from chinese_calendar import Holiday, get_holiday_detail

from kefu import auth
from kefu.config import ROOT
from kefu.errors import KefuError, PermissionDenied
from kefu.i18n import label as pick_label, t
from kefu import rules as rule_files
from kefu.rules import RulesError, read_rules
from kefu.store import Query, Store

MEMBERS, POINTS, PARTNERS, LOG = "members", "points", "partners", "relationship_log"
CLUB_FILE = ROOT / "rules" / "club.toml"
OCCASIONS = ("birthday", "anniversary", "renewal")
LOG_KIND = {"birthday": "holiday_visit", "anniversary": "holiday_visit", "renewal": "routine_visit"}
# Public holidays on a fixed date, for a year the holiday calendar has no schedule for yet.
FIXED_HOLIDAYS = {(1, 1): Holiday.new_years_day, (5, 1): Holiday.labour_day, (10, 1): Holiday.national_day}


# ---------------------------------------------------------------------------------------------- rules

@dataclass(frozen=True)
class Tier:
    value: str
    label: dict
    points: int
    benefits: tuple[dict, ...]

    def label_in(self, lang: str) -> str:
        return pick_label(self.label, lang)


@dataclass(frozen=True)
class ClubRules:
    tiers: tuple[Tier, ...]                 # lowest first
    member_prefix: str = "HY"
    upgrade_roles: frozenset = frozenset({"supervisor", "manager"})
    care_days: int = 7

    def tier(self, value: str) -> Tier | None:
        return next((tier for tier in self.tiers if tier.value == value), None)

    def rank(self, value: str) -> int:
        return next((i for i, tier in enumerate(self.tiers) if tier.value == value), -1)


def _labels(path: Path, key: str, raw) -> dict:
    if not isinstance(raw, dict) or not isinstance(raw.get("en"), str) or not isinstance(raw.get("zh"), str) \
            or not raw["en"].strip() or not raw["zh"].strip():
        raise RulesError(f"{path}: {key} needs both en and zh text, as {{ en = \"…\", zh = \"…\" }}")
    return {"en": raw["en"], "zh": raw["zh"]}


def load_rules(path: Path | None = None, *, tier_choices: list[str] | None = None,
               text: str | None = None) -> ClubRules:
    """rules/club.toml as ClubRules; RulesError names the file and the key at fault. tier_choices (the
    values of the members sheet's tier field) must be exactly the tiers declared, in any order.
    text: these rules instead of the file's (a text checked before saving)."""
    path = path or rule_files.file("club")
    data = read_rules(path, text)
    raw_tiers = data.get("tiers")
    if not isinstance(raw_tiers, list) or not raw_tiers:
        raise RulesError(f"{path}: missing key tiers (one [[tiers]] table per tier, lowest first)")
    tiers, seen = [], set()
    for number, raw in enumerate(raw_tiers, start=1):
        key = f"tiers[{number}]"
        if not isinstance(raw, dict):
            raise RulesError(f"{path}: {key} must be a table")
        value = raw.get("value")
        if not isinstance(value, str) or not value.strip():
            raise RulesError(f"{path}: {key}.value must name the tier, e.g. \"gold\"")
        at = f"tiers[{number}]"
        key = f"tiers[{number}] ({value})"
        if value in seen:
            raise RulesError(f"{path}: {key}.value is declared twice")
        seen.add(value)
        label = _labels(path, f"{key} en/zh", {"en": raw.get("en"), "zh": raw.get("zh")})
        threshold = raw.get("points")
        if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0:
            raise RulesError(f"{path}: {key}.points must be a whole number of points, 0 or more, not {threshold!r}",
                             key=f"{at}.points", code="rl.whole_min", low=0, value=threshold)
        if tiers and threshold <= tiers[-1].points:
            raise RulesError(f"{path}: {key}.points must be above the tier before it ({tiers[-1].points}): "
                             f"list the tiers lowest first", key=f"{at}.points", code="rl.ascending", value=threshold,
                             bound=tiers[-1].points)
        benefits = raw.get("benefits", [])
        if not isinstance(benefits, list):
            raise RulesError(f"{path}: {key}.benefits must be a list of {{ en, zh }}")
        tiers.append(Tier(value=value, label=label, points=threshold,
                          benefits=tuple(_labels(path, f"{key}.benefits[{i}]", b) for i, b in enumerate(benefits, 1))))
    prefix = data.get("member_prefix", "HY")
    if not isinstance(prefix, str) or not prefix.isalpha() or not 1 <= len(prefix) <= 6:
        raise RulesError(f"{path}: member_prefix must be 1 to 6 letters, not {prefix!r}")
    roles = data.get("upgrade_roles", ["supervisor", "manager"])
    if not isinstance(roles, list) or any(r not in auth.ROLES for r in roles):
        raise RulesError(f"{path}: upgrade_roles must be a list of roles ({', '.join(auth.ROLES)})",
                         key="upgrade_roles", code="rl.roles", roles=", ".join(auth.ROLES))
    days = data.get("care_days", 7)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 60:
        raise RulesError(f"{path}: care_days must be a whole number of days from 1 to 60, not {days!r}",
                         key="care_days", code="rl.whole_range", low=1, high=60, value=days)
    if tier_choices is not None and set(tier_choices) != seen:
        raise RulesError(f"{path}: tiers ({', '.join(sorted(seen))}) must be the tier choices of "
                         f"schema/members.toml ({', '.join(sorted(tier_choices))})", key="tiers", code="rl.same_tiers",
                         tiers=", ".join(sorted(tier_choices)))
    return ClubRules(tiers=tuple(tiers), member_prefix=prefix, upgrade_roles=frozenset(roles), care_days=days)


def rules_for(store: Store, path: Path | None = None) -> ClubRules:
    """The club rules, checked against the members sheet's tier choices."""
    return load_rules(path, tier_choices=[c["value"] for c in store.sheet(MEMBERS).by_name["tier"].choices])


def today_in(store: Store) -> date:
    return datetime.now(store.settings.tz).date()


# ---------------------------------------------------------------------------------------------- members

def next_member_no(store: Store, prefix: str = "HY") -> str:
    """HY000001, HY000002, ...: one more than the highest number of that form."""
    row = store.conn.execute(f"SELECT max(CAST(substr(member_no, {len(prefix) + 1}) AS INTEGER)) FROM members "
                             f"WHERE member_no GLOB ?", (f"{prefix}[0-9]*",)).fetchone()
    return f"{prefix}{(row[0] or 0) + 1:06d}"


def enrol(store: Store, actor, values: dict, *, rules: ClubRules | None = None) -> int:
    """Make a customer archive a member: the engine gives the member number (in the same transaction,
    so two enrolments at once never get the same one)."""
    auth.require(actor, store.sheet(MEMBERS), "create")
    rules = rules or rules_for(store)
    given = {k: v for k, v in values.items() if k != "member_no"}
    if not given.get("tier"):
        given["tier"] = rules.tiers[0].value
    with store.transaction():
        given["member_no"] = next_member_no(store, rules.member_prefix)
        return store.insert(MEMBERS, given, actor)


def number_imported(store: Store, row: dict) -> dict:
    """An imported member keeps the number the member roll gives; one without gets the next number
    (called inside the import's transaction, so it sees the rows imported before it)."""
    if not row.get("member_no") or not str(row["member_no"]).strip():
        row = {**row, "member_no": next_member_no(store, rules_for(store).member_prefix)}
    return row


# ---------------------------------------------------------------------------------------------- points

def _totals(conn, member_id: int) -> tuple[int, int]:
    earned, redeemed = conn.execute(
        "SELECT coalesce(sum(CASE WHEN kind = 'earn' THEN points END), 0), "
        "coalesce(sum(CASE WHEN kind = 'redeem' THEN points END), 0) "
        "FROM points WHERE member = ? AND deleted_at IS NULL", (member_id,)).fetchone()
    return earned, redeemed


def balance(store: Store, actor, member_id: int) -> dict:
    """The member's points: earned, redeemed and the balance (earned minus redeemed)."""
    store.get(MEMBERS, member_id, actor)                        # raises unless the actor may see the member
    earned, redeemed = _totals(store.conn, member_id)
    return {"earned": earned, "redeemed": redeemed, "balance": earned - redeemed}


def _book(store: Store, actor, member_id: int, kind: str, points, reason: str) -> int:
    sheet = store.sheet(POINTS)
    auth.require(actor, sheet, "create")
    # validated before the transaction: a bad amount or a missing reason names its field
    line = sheet.validate({"member": member_id, "kind": kind, "points": points, "reason": reason,
                           "booked_on": today_in(store)}, store.ctx)
    with store.transaction() as conn:
        member = store.get(MEMBERS, member_id, actor)
        if member["deleted_at"] is not None or member["status"] == "cancelled":
            raise KefuError("club.not_active", member=member["member_no"])
        if kind == "redeem":
            # BEGIN IMMEDIATE holds the write lock from here to COMMIT: a second redeem for the same member
            # waits, then reads the balance this one leaves.
            earned, redeemed = _totals(conn, member_id)
            if line["points"] > earned - redeemed:
                raise KefuError("club.not_enough", balance=earned - redeemed, asked=line["points"])
        return store.insert(POINTS, line, actor)


def earn(store: Store, actor, member_id: int, points, reason: str) -> int:
    """Credit points to a member (a purchase, a survey answered, ...); returns the ledger line's id."""
    return _book(store, actor, member_id, "earn", points, reason)


def redeem(store: Store, actor, member_id: int, points, reason: str) -> int:
    """Spend points; refused with club.not_enough (saying the balance) when the balance is short, and
    then nothing is written."""
    return _book(store, actor, member_id, "redeem", points, reason)


def ledger(store: Store, actor, member_id: int, *, page: int = 1, page_size: int = 50):
    """The member's ledger lines, newest first."""
    return store.query(POINTS, actor, Query(filters={"member": member_id}, sort="-id", page=page, page_size=page_size))


# ---------------------------------------------------------------------------------------------- tiers

def suggested_tier(store: Store, actor, member_id: int, rules: ClubRules | None = None) -> Tier | None:
    """The highest tier whose threshold the member's lifetime earned points reach, when it is above the
    member's tier now; None otherwise (tiers are never lowered by a suggestion)."""
    rules = rules or rules_for(store)
    member = store.get(MEMBERS, member_id, actor)
    earned, _ = _totals(store.conn, member_id)
    reached = [tier for tier in rules.tiers if earned >= tier.points]
    if not reached or rules.rank(reached[-1].value) <= rules.rank(member["tier"]):
        return None
    return reached[-1]


def apply_upgrade(store: Store, actor, member_id: int, rules: ClubRules | None = None, *,
                  expected_version: int | None = None) -> dict:
    """A supervisor or manager (rules/club.toml upgrade_roles) moves the member up to the suggested tier."""
    rules = rules or rules_for(store)
    if actor.role != "system" and actor.role not in rules.upgrade_roles:
        raise PermissionDenied()
    with store.transaction():
        tier = suggested_tier(store, actor, member_id, rules)
        if tier is None:
            raise KefuError("club.no_upgrade")
        return store.update(MEMBERS, member_id, {"tier": tier.value}, actor, expected_version=expected_version,
                            allow_readonly=True)


# ---------------------------------------------------------------------------------------------- benefits

def benefits(store: Store, actor, member_id: int, today: date | None = None,
             rules: ClubRules | None = None) -> dict:
    """What the member may have: the tier's benefits and the partner offers valid today for that tier.
    A partner whose period has ended (or not begun) is not offered."""
    rules = rules or rules_for(store)
    member = store.get(MEMBERS, member_id, actor)
    today = today or today_in(store)
    tier = rules.tier(member["tier"])
    offers = []
    partners = store.sheets.get(PARTNERS)
    if partners is not None and auth.can(actor, partners, "read"):
        day = today.isoformat()
        offers = store.query(PARTNERS, actor, Query(filters={"valid_from": (None, day), "valid_to": (day, None),
                                                             "tiers": [member["tier"]]},
                                                    sort="name", page_size=200)).rows
    return {"tier": tier, "benefits": list(tier.benefits) if tier else [], "partners": offers}


# ---------------------------------------------------------------------------------------------- care

def occurs_on(day: date, year: int) -> date:
    """The date in `year` a yearly occasion (birthday, anniversary) of `day` is kept: 29 February falls
    on 28 February in a year without it."""
    if day.month == 2 and day.day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return day.replace(year=year)


def next_occurrence(day: date, today: date) -> date:
    """The first time on or after today that the yearly occasion of `day` is kept."""
    this_year = occurs_on(day, today.year)
    return this_year if this_year >= today else occurs_on(day, today.year + 1)


def _window(today: date, days: int) -> list[date]:
    return [today + timedelta(days=n) for n in range(days + 1)]


def _month_days(window: list[date]) -> list[str]:
    """MM-DD of each day in the window, plus 02-29 when a 28 February of a common year is in it."""
    found = {d.strftime("%m-%d") for d in window}
    if any(d.month == 2 and d.day == 28 and not calendar.isleap(d.year) for d in window):
        found.add("02-29")
    return sorted(found)


def care_tag(occasion: str, year: int) -> str:
    """The mark a greeting leaves in the relationship log's summary: that occasion of that year is done."""
    return f"#care-{occasion}-{year}"


def holidays_between(first: date, last: date, lang: str = "zh") -> list[dict]:
    """Public holidays starting in (or running into) the window, each once with its first day in it.
    For a year the holiday calendar does not know yet, the fixed-date holidays (元旦, 劳动节, 国庆节)."""
    found: dict[str, date] = {}
    day = first
    while day <= last:
        try:
            is_holiday, name = get_holiday_detail(day)
            holiday = Holiday(name) if is_holiday and name else None
        except NotImplementedError:
            holiday = FIXED_HOLIDAYS.get((day.month, day.day))
        except ValueError:
            holiday = None
        if holiday is not None:
            found.setdefault(holiday.value, day)
        day += timedelta(days=1)
    names = {h.value: h for h in Holiday}
    return [{"occasion": "holiday", "date": when.isoformat(),
             "name": names[value].chinese if lang == "zh" else value}
            for value, when in sorted(found.items(), key=lambda item: item[1])]


def care_list(store: Store, actor, today: date | None = None, days: int | None = None, *, lang: str = "zh",
              rules: ClubRules | None = None) -> list[dict]:
    """Active members the actor may see with a birthday, a membership anniversary (a whole year or more
    since joining) or a renewal from today to `days` days ahead, not greeted yet for that occasion that
    year; and the public holidays in the window. Sorted by date."""
    sheet = store.sheet(MEMBERS)
    auth.require(actor, sheet, "read")
    today = today or today_in(store)
    days = days if days is not None else (rules or rules_for(store)).care_days
    window = _window(today, days)
    last = window[-1]
    month_days = _month_days(window)
    marks = ", ".join("?" for _ in month_days)
    visible = store.visible_clause(sheet, actor, alias="m") or ("1", [])
    cursor = store.conn.execute(
        f"SELECT m.id, m.member_no, m.customer, c.name, m.tier, m.birthday, m.joined_on, m.renewal_on "
        f"FROM members m JOIN customers c ON c.id = m.customer "
        f"WHERE m.deleted_at IS NULL AND c.deleted_at IS NULL AND m.status = 'active' AND {visible[0]} "
        f"AND (substr(m.birthday, 6) IN ({marks}) OR substr(m.joined_on, 6) IN ({marks}) "
        f"     OR m.renewal_on BETWEEN ? AND ?) ORDER BY m.id LIMIT 2000",
        [*visible[1], *month_days, *month_days, today.isoformat(), last.isoformat()])
    items, shown = [], store.title_shown(store.sheet("customers"), actor)
    for member_id, number, customer, name, tier, birthday, joined, renewal in cursor.fetchall():
        base = {"member_id": member_id, "member_no": number, "customer": customer, "customer_name": shown(name),
                "tier": tier}
        for occasion, stored in (("birthday", birthday), ("anniversary", joined)):
            if not stored:
                continue
            when = next_occurrence(date.fromisoformat(stored), today)
            if when <= last and not (occasion == "anniversary" and when.year <= date.fromisoformat(stored).year):
                items.append({**base, "occasion": occasion, "date": when.isoformat(),
                              "years": when.year - date.fromisoformat(stored).year})
        if renewal and today.isoformat() <= renewal <= last.isoformat():
            items.append({**base, "occasion": "renewal", "date": renewal, "years": None})
    items = _not_greeted(store, items)
    items += holidays_between(today, last, lang)
    return sorted(items, key=lambda item: (item["date"], item["occasion"], item.get("member_no") or ""))


def _not_greeted(store: Store, items: list[dict]) -> list[dict]:
    customers = sorted({item["customer"] for item in items})
    if not customers:
        return items
    marks = ", ".join("?" for _ in customers)
    done = {}
    for customer, summary in store.conn.execute(
            f"SELECT customer, summary FROM relationship_log WHERE customer IN ({marks}) AND deleted_at IS NULL "
            f"AND summary LIKE '%#care-%'", customers):
        done.setdefault(customer, []).append(summary)
    return [item for item in items
            if not any(care_tag(item["occasion"], int(item["date"][:4])) in s for s in done.get(item["customer"], []))]


def greet(store: Store, actor, member_id: int, occasion: str, *, lang: str = "zh", note: str = "",
          today: date | None = None) -> int:
    """Record that the member was greeted for an occasion (birthday, anniversary, renewal): a line in the
    customer's relationship log, after which the occasion leaves the care list for that year."""
    if occasion not in OCCASIONS:
        raise KefuError("club.bad_occasion", occasion=occasion)
    auth.require(actor, store.sheet(LOG), "create")
    today = today or today_in(store)
    member = store.get(MEMBERS, member_id, actor)
    if occasion == "renewal":
        if not member["renewal_on"]:
            raise KefuError("club.no_renewal")
        year = int(member["renewal_on"][:4])
    else:
        stored = member["birthday" if occasion == "birthday" else "joined_on"]
        if not stored:
            raise KefuError("club.no_birthday")
        year = next_occurrence(date.fromisoformat(stored), today).year
    summary = f"{t('club.greet_' + occasion, lang, member=member['member_no'])} {care_tag(occasion, year)}"
    if note.strip():
        summary += f" · {note.strip()}"
    return store.insert(LOG, {"customer": member["customer"], "contact_on": today, "kind": LOG_KIND[occasion],
                              "staff": actor.id, "summary": summary[:2000]}, actor)


def member_names(store: Store, member_ids) -> dict[int, str]:
    """member id -> 'HY000123 · customer name', for lists."""
    ids = [i for i in set(member_ids) if i is not None]
    if not ids:
        return {}
    marks = ", ".join("?" for _ in ids)
    return {row[0]: f"{row[1]} · {row[2]}" for row in store.conn.execute(
        f"SELECT m.id, m.member_no, c.name FROM members m JOIN customers c ON c.id = m.customer "
        f"WHERE m.id IN ({marks})", ids)}

