"""The member club: the points ledger never goes below zero (also with two offices redeeming at once),
refusals say why and write nothing, birthdays cannot lie ahead, tier upgrades, benefits with partner
offers that expire, customer care across month and year ends and for 29 February, permissions."""
import multiprocessing
from datetime import date, datetime, timedelta

import pytest

from kefu import auth, club, config
from kefu.errors import KefuError, NotFound, PermissionDenied
from kefu.rules import RulesError
from kefu.sheets import ValidationError, load_sheets, parse_sheet
from kefu.store import Query, Store


def count(store, table) -> int:
    return store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


@pytest.fixture
def people(make_user):
    return {role: make_user(role) for role in ("staff", "supervisor", "manager", "gm", "finance", "admin")}


def customer(store, owner, name="海棠湾酒店", code=None) -> int:
    code = code or f"KH{count(store, 'customers') + 1:06d}"
    return store.insert("customers", {"code": code, "name": name, "kind": "company", "credit_rating": "A",
                                      "owner": owner.id}, owner)


def cover(store, people, who, keeper) -> None:
    """The gm lets `who` (a supervisor, a manager) read and work on `keeper`'s whole book for a week: only an
    archive's keeper and the gm read it otherwise (and so its membership)."""
    store.grant("customers", None, who.id, people["gm"], keeper=keeper.id, until=date.today() + timedelta(days=7))


def member(store, owner, **values) -> int:
    """A member of a new archive kept by `owner`."""
    values = {"customer": customer(store, owner, name=values.pop("name", "海棠湾酒店")), "tier": "silver",
              "joined_on": "2020-03-15", **values}
    return club.enrol(store, owner, values)


def test_members_get_engine_numbers_and_a_customer_is_a_member_once(store, people):
    staff = people["staff"]
    first = member(store, staff)
    second = member(store, staff, member_no="HY999999")            # a typed number is ignored
    assert [store.get("members", i, staff)["member_no"] for i in (first, second)] == ["HY000001", "HY000002"]
    again = store.get("members", first, staff)["customer"]
    with pytest.raises(ValidationError) as refused:
        club.enrol(store, staff, {"customer": again, "tier": "gold", "joined_on": "2024-01-01"})
    assert refused.value.by_field() == {"customer": "err.unique"}


def test_the_balance_is_earned_minus_redeemed(store, people):
    staff = people["staff"]
    m = member(store, staff)
    club.earn(store, staff, m, 100, "购买配件")
    club.earn(store, staff, m, "50", "参加满意度调查")
    club.redeem(store, staff, m, 30, "兑换礼品")
    assert club.balance(store, staff, m) == {"earned": 150, "redeemed": 30, "balance": 120}
    lines = club.ledger(store, staff, m).rows
    assert [(r["kind"], r["points"], r["created_by"]) for r in lines] == [
        ("redeem", 30, staff.id), ("earn", 50, staff.id), ("earn", 100, staff.id)]
    assert lines[0]["booked_on"] == datetime.now(store.settings.tz).date().isoformat()


def test_redeeming_more_than_the_balance_is_refused_saying_the_balance_and_writes_nothing(store, people):
    staff = people["staff"]
    m = member(store, staff)
    club.earn(store, staff, m, 80, "购买配件")
    before = (count(store, "points"), count(store, "kefu_audit"))
    with pytest.raises(KefuError) as refused:
        club.redeem(store, staff, m, 81, "兑换礼品")
    assert refused.value.code == "club.not_enough"
    assert refused.value.message("zh") == "积分不足：当前余额 80 分，申请兑换 81 分，未兑换。"
    assert "the balance is 80" in refused.value.message("en")
    assert (count(store, "points"), count(store, "kefu_audit")) == before
    club.redeem(store, staff, m, 80, "兑换礼品")                  # exactly the balance is fine
    assert club.balance(store, staff, m)["balance"] == 0


@pytest.mark.parametrize("points, code", [(0, "err.too_small"), (-5, "err.too_small"), ("十", "err.not_int"),
                                          (None, "err.required")])
def test_a_bad_amount_names_the_points_field(store, people, points, code):
    staff = people["staff"]
    m = member(store, staff)
    with pytest.raises(ValidationError) as refused:
        club.earn(store, staff, m, points, "购买配件")
    assert refused.value.by_field() == {"points": code}
    assert count(store, "points") == 0


def test_a_reason_is_required(store, people):
    staff = people["staff"]
    with pytest.raises(ValidationError) as refused:
        club.earn(store, staff, member(store, staff), 10, "  ")
    assert refused.value.by_field() == {"reason": "err.required"}


def test_a_cancelled_member_books_no_points(store, people):
    staff = people["staff"]
    m = member(store, staff, status="cancelled")
    with pytest.raises(KefuError) as refused:
        club.earn(store, staff, m, 10, "购买配件")
    assert refused.value.code == "club.not_active"


def _redeem_in_another_process(path, user, member_id, points, barrier, results):
    """One office PC: its own Store on the shared file, redeeming when the other one does."""
    store = Store(path, load_sheets(), config.load())
    actor = auth.User(*user)
    barrier.wait(timeout=60)
    try:
        club.redeem(store, actor, member_id, points, "兑换礼品")
        results.put("ok")
    except KefuError as exc:
        results.put(exc.message("zh"))
    finally:
        store.close()


def test_two_people_redeeming_the_last_points_at_once_never_take_the_balance_below_zero(store, people):
    staff = people["staff"]
    m = member(store, staff)
    club.earn(store, staff, m, 100, "购买配件")
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")          # (nothing to do on PostgreSQL)
    spawn = multiprocessing.get_context("spawn")
    barrier, results = spawn.Barrier(2), spawn.Queue()
    user = (staff.id, staff.username, staff.display_name, staff.role)
    racers = [spawn.Process(target=_redeem_in_another_process, args=(str(store.location), user, m, points, barrier, results))
              for points in (70, 60)]
    for racer in racers:
        racer.start()
    outcomes = sorted((results.get(timeout=120) for _ in racers), key=lambda outcome: outcome != "ok")
    for racer in racers:
        racer.join(timeout=60)
    assert outcomes[0] == "ok" and outcomes[1].startswith("积分不足：当前余额 ")     # one wins, one is told why
    assert outcomes[1] in ("积分不足：当前余额 30 分，申请兑换 60 分，未兑换。", "积分不足：当前余额 40 分，申请兑换 70 分，未兑换。")
    assert club.balance(store, staff, m)["balance"] in (30, 40)
    assert count(store, "points") == 2


def test_a_birthday_or_join_date_in_the_future_is_refused(store, people):
    staff = people["staff"]
    tomorrow = datetime.now(store.settings.tz).date() + timedelta(days=1)
    with pytest.raises(ValidationError) as refused:
        member(store, staff, birthday=tomorrow.isoformat(), joined_on=tomorrow.isoformat())
    assert refused.value.by_field() == {"birthday": "err.in_future", "joined_on": "err.in_future"}
    assert "生日：不能晚于今天" in refused.value.messages("zh")
    assert count(store, "members") == 0
    m = member(store, staff, birthday=datetime.now(store.settings.tz).date().isoformat())  # today is fine
    with pytest.raises(ValidationError):
        store.update("members", m, {"birthday": tomorrow}, staff)


def test_not_after_takes_only_today(tmp_path):
    path = tmp_path / "dates.toml"
    path.write_text('name = "dates"\nlabel = { en = "D", zh = "D" }\n[permissions]\nstaff = ["read"]\n'
                    '[[fields]]\nname = "born"\ntype = "date"\nlabel = { en = "B", zh = "B" }\nnot_after = "tomorrow"\n',
                    encoding="utf-8")
    problems = []
    assert parse_sheet(path, problems) is None
    assert problems == ["tmp_path/dates.toml: field 'born': not_after must be \"today\", not 'tomorrow'".replace(
        "tmp_path", tmp_path.name)]


def test_a_renewal_before_joining_is_refused(store, people):
    with pytest.raises(ValidationError) as refused:
        member(store, people["staff"], joined_on="2024-05-01", renewal_on="2024-04-30")
    assert refused.value.by_field() == {"renewal_on": "err.before"}


# ---------------------------------------------------------------------------------------------- tiers

def test_an_upgrade_is_suggested_when_the_threshold_is_crossed_and_a_supervisor_applies_it(store, people):
    staff, supervisor = people["staff"], people["supervisor"]
    m = member(store, staff)
    club.earn(store, staff, m, 1999, "购买配件")
    assert club.suggested_tier(store, staff, m) is None
    club.earn(store, staff, m, 1, "购买配件")
    club.redeem(store, staff, m, 1500, "兑换礼品")                 # redeeming does not undo what was earned
    assert club.suggested_tier(store, staff, m).value == "gold"
    with pytest.raises(PermissionDenied):
        club.apply_upgrade(store, staff, m)
    with pytest.raises(NotFound):                                 # not her book: as if no such member
        club.apply_upgrade(store, supervisor, m)
    cover(store, people, supervisor, staff)
    assert club.apply_upgrade(store, supervisor, m)["tier"] == "gold"
    assert club.suggested_tier(store, staff, m) is None
    with pytest.raises(KefuError) as refused:
        club.apply_upgrade(store, supervisor, m)
    assert refused.value.code == "club.no_upgrade"


def test_the_tier_changes_only_by_an_upgrade(store, people):
    staff, manager = people["staff"], people["manager"]
    m = club.enrol(store, staff, {"customer": customer(store, staff), "joined_on": "2024-01-01"})
    assert store.get("members", m, staff)["tier"] == "silver"                   # new members start lowest
    for actor in (staff, manager):
        with pytest.raises(ValidationError) as refused:
            store.update("members", m, {"tier": "diamond"}, actor)
        assert refused.value.by_field() == {"tier": "err.not_editable"}


def test_a_suggestion_never_lowers_a_tier(store, people):
    staff = people["staff"]
    m = member(store, staff, tier="platinum")
    club.earn(store, staff, m, 2500, "购买配件")
    assert club.suggested_tier(store, staff, m) is None
    club.earn(store, staff, m, 20000, "购买配件")
    assert club.suggested_tier(store, staff, m).value == "diamond"


@pytest.mark.parametrize("text, named", [
    ("", "missing key tiers"),
    ('[[tiers]]\nvalue = "silver"\nen = "Silver"\nzh = "银卡"\npoints = -1\n', "tiers[1] (silver).points"),
    ('[[tiers]]\nvalue = "silver"\nen = "Silver"\npoints = 0\n', "tiers[1] (silver) en/zh"),
    ('[[tiers]]\nvalue = "silver"\nen = "S"\nzh = "银"\npoints = 10\n[[tiers]]\nvalue = "gold"\nen = "G"\nzh = "金"\n'
     'points = 5\n', "tiers[2] (gold).points must be above"),
    ('[[tiers]]\nvalue = "silver"\nen = "S"\nzh = "银"\npoints = 0\nbenefits = [{ en = "x" }]\n',
     "tiers[1] (silver).benefits[1]"),
    ('care_days = 0\n[[tiers]]\nvalue = "silver"\nen = "S"\nzh = "银"\npoints = 0\n', "care_days"),
])
def test_a_broken_rule_file_names_the_file_and_the_key(tmp_path, text, named):
    path = tmp_path / "club.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RulesError) as refused:
        club.load_rules(path)
    assert str(path) in str(refused.value) and named in str(refused.value)


def test_the_office_s_rule_file_matches_the_tier_choices(store):
    rules = club.rules_for(store)
    assert [t.value for t in rules.tiers] == ["silver", "gold", "platinum", "diamond"]
    assert [t.points for t in rules.tiers] == sorted(t.points for t in rules.tiers)
    with pytest.raises(RulesError, match="tier choices of schema/members.toml"):
        club.load_rules(tier_choices=["silver", "gold"])


# ---------------------------------------------------------------------------------------------- benefits

def partner(store, actor, name, tiers, start, end) -> int:
    return store.insert("partners", {"name": name, "benefit": f"{name}会员八折", "tiers": tiers,
                                     "valid_from": start, "valid_to": end, "phone": "13912345678"}, actor)


def test_benefits_are_the_tier_s_plus_partner_offers_valid_today_for_that_tier(store, people):
    staff, manager = people["staff"], people["manager"]
    m = member(store, staff, tier="gold")
    today = date(2026, 11, 23)
    partner(store, manager, "椰风咖啡", ["gold", "platinum"], "2026-01-01", "2026-12-31")
    partner(store, manager, "海景餐厅", ["gold"], "2026-01-01", "2026-11-23")          # its last day
    partner(store, manager, "旧书店", ["gold"], "2025-01-01", "2026-11-22")            # expired yesterday
    partner(store, manager, "新健身房", ["gold"], "2026-11-24", "2027-11-24")          # not begun
    partner(store, manager, "钻石会所", ["diamond"], "2026-01-01", "2027-01-01")       # another tier
    found = club.benefits(store, staff, m, today)
    assert found["tier"].value == "gold"
    assert {"en": "5% off spare parts", "zh": "配件九五折"} in found["benefits"]
    assert [p["name"] for p in found["partners"]] == sorted(["椰风咖啡", "海景餐厅"])
    assert all("****" in p["phone"] for p in found["partners"])                        # staff see no phone
    later = club.benefits(store, staff, m, date(2026, 11, 24))
    assert sorted(p["name"] for p in later["partners"]) == sorted(["椰风咖啡", "新健身房"])


def test_a_partner_period_must_end_after_it_starts(store, people):
    with pytest.raises(ValidationError) as refused:
        partner(store, people["manager"], "椰风咖啡", ["gold"], "2026-05-01", "2026-04-30")
    assert refused.value.by_field() == {"valid_to": "err.before"}


# ---------------------------------------------------------------------------------------------- care

def care(store, actor, today, days=7):
    return [(i["occasion"], i["date"], i.get("member_no") or i.get("name")) for i in
            club.care_list(store, actor, today, days)]


def test_care_list_across_the_year_end(store, people):
    staff = people["staff"]
    new_year = member(store, staff, birthday="1980-01-02", joined_on="2019-12-30", renewal_on="2027-01-03")
    number = store.get("members", new_year, staff)["member_no"]
    member(store, staff, birthday="1980-01-06", joined_on="2019-06-01")                 # a day beyond the window
    items = care(store, staff, date(2026, 12, 29))
    assert items == [("anniversary", "2026-12-30", number), ("holiday", "2027-01-01", "元旦"),
                     ("birthday", "2027-01-02", number), ("renewal", "2027-01-03", number)]
    line = [i for i in club.care_list(store, staff, date(2026, 12, 29)) if i["occasion"] == "anniversary"][0]
    assert line["years"] == 7 and line["customer_name"] == "海棠湾酒店"


def test_care_list_across_a_month_end_and_holidays_of_a_known_year(store, people):
    staff = people["staff"]
    m = member(store, staff, birthday="1975-10-02")
    number = store.get("members", m, staff)["member_no"]
    items = care(store, staff, date(2026, 9, 28))
    assert ("birthday", "2026-10-02", number) in items
    assert ("holiday", "2026-10-01", "国庆节") in items
    assert care(store, staff, date(2026, 10, 3), days=7) == [("holiday", "2026-10-03", "国庆节")]


@pytest.mark.parametrize("today, expected", [(date(2026, 2, 25), "2026-02-28"), (date(2028, 2, 25), "2028-02-29"),
                                             (date(2027, 2, 28), "2027-02-28")])
def test_a_29_february_birthday_is_greeted_on_28_february_in_a_common_year(store, people, today, expected):
    staff = people["staff"]
    m = member(store, staff, birthday="1992-02-29", joined_on="2021-06-01")
    assert [i["date"] for i in club.care_list(store, staff, today) if i["occasion"] == "birthday"] == [expected]
    assert club.occurs_on(date(1992, 2, 29), 2027) == date(2027, 2, 28)
    assert club.next_occurrence(date(1992, 2, 29), date(2027, 3, 1)) == date(2028, 2, 29)
    assert store.get("members", m, staff)["birthday"] == "1992-02-29"


def test_greeting_records_it_in_the_relationship_log_and_the_item_leaves_the_list(store, people):
    staff = people["staff"]
    m = member(store, staff, birthday="1980-12-31", joined_on="2018-12-30")
    today = date(2026, 12, 29)
    assert {i["occasion"] for i in club.care_list(store, staff, today)} >= {"birthday", "anniversary"}
    log_id = club.greet(store, staff, m, "birthday", today=today)
    entry = store.get("relationship_log", log_id, staff)
    assert entry["kind"] == "holiday_visit" and entry["staff"] == staff.id and entry["contact_on"] == "2026-12-29"
    assert entry["summary"].startswith("生日问候（会员 HY000001）")
    left = [i["occasion"] for i in club.care_list(store, staff, today) if i.get("member_id") == m]
    assert left == ["anniversary"]                                      # only that occasion left the list
    # next year's birthday comes back
    assert [i["occasion"] for i in club.care_list(store, staff, date(2027, 12, 29)) if i.get("member_id") == m] == \
        ["anniversary", "birthday"]


def test_care_list_skips_members_who_are_not_active_and_archives_the_user_may_not_see(store, people, make_user):
    staff, other = people["staff"], make_user("staff")
    member(store, staff, birthday="1980-12-31", status="lapsed")
    theirs = member(store, other, birthday="1980-12-31")
    items = [i for i in club.care_list(store, staff, date(2026, 12, 29)) if i["occasion"] != "holiday"]
    assert items == []
    cover(store, people, people["manager"], other)
    assert [i["member_id"] for i in club.care_list(store, people["manager"], date(2026, 12, 29))
            if i["occasion"] == "birthday"] == [theirs]


# ---------------------------------------------------------------------------------------------- who may

def test_finance_and_admin_have_no_member_club(store, people):
    m = member(store, people["staff"])
    for role in ("finance", "admin"):
        actor = people[role]
        for attempt in (lambda: club.earn(store, actor, m, 10, "x"), lambda: club.redeem(store, actor, m, 1, "x"),
                        lambda: club.balance(store, actor, m), lambda: club.care_list(store, actor),
                        lambda: club.benefits(store, actor, m), lambda: club.greet(store, actor, m, "birthday"),
                        lambda: club.enrol(store, actor, {"customer": 1, "joined_on": "2024-01-01"})):
            with pytest.raises(PermissionDenied):
                attempt()


def test_staff_book_points_only_for_members_of_archives_they_keep(store, people, make_user):
    keeper = make_user("staff")
    theirs = member(store, keeper)
    for who in ("staff", "supervisor"):
        with pytest.raises(NotFound):
            club.earn(store, people[who], theirs, 10, "购买配件")
    with pytest.raises(PermissionDenied):
        club.earn(store, people["gm"], theirs, 10, "购买配件")                  # the gm reads, does not book
    cover(store, people, people["supervisor"], keeper)                         # covering the keeper's book
    club.earn(store, people["supervisor"], theirs, 10, "购买配件")
    assert count(store, "points") == 1


def test_the_ledger_cannot_be_edited_or_deleted(store, people):
    staff, manager = people["staff"], people["manager"]
    line = club.earn(store, staff, member(store, staff), 10, "购买配件")
    for actor in (staff, manager):
        with pytest.raises(PermissionDenied):
            store.update("points", line, {"points": 1000}, actor)
        with pytest.raises(PermissionDenied):
            store.delete("points", line, actor)


def test_the_schema_folder_loads():
    sheets = load_sheets()
    assert {"members", "points", "partners"} <= set(sheets)
    assert not sheets["points"].menu and sheets["partners"].menu


def test_the_demo_club_is_the_same_every_time_and_never_below_zero(tmp_path):
    import random
    from faker import Faker
    from seed.club import seed_club
    now = datetime.now(config.load().tz).replace(second=0, microsecond=0)
    made = []
    for run in ("a", "b"):
        db = Store(tmp_path / f"{run}.db", load_sheets(), config.load())
        db.migrate()
        keeper = auth.get_user(db, auth.create_user(db, "keeper", "Keeper", "staff", None, auth.SYSTEM))
        db.insert_many("customers", [{"code": f"KH{n:06d}", "name": f"客户{n}", "kind": "company",
                                      "credit_rating": "B", "owner": keeper.id} for n in range(1, 41)], keeper)
        fake = Faker("zh_CN")
        fake.seed_instance(7)
        counts = seed_club(db, random.Random(7), fake, [keeper.id], now)
        assert counts["members"] == 40 and counts["partners"] == 15
        made.append([[row[:-7] for row in db.conn.execute(f"SELECT * FROM {table} ORDER BY id")]   # not the
                     for table in ("members", "points", "partners")])                             # system columns
        lowest = db.conn.execute("SELECT min(b) FROM (SELECT sum(CASE WHEN kind = 'earn' THEN points ELSE -points "
                                 "END) b FROM points GROUP BY member)").fetchone()[0]
        assert lowest >= 0
        occasions = {i["occasion"] for i in club.care_list(db, keeper, now.date())}
        assert {"birthday", "renewal"} <= occasions                  # the coming week has something to greet
        db.close()
    assert made[0] == made[1]


def test_members_are_found_by_their_customers_name_pinyin_and_code(store, people, make_user):
    staff, gm = people["staff"], people["gm"]
    other = make_user("staff")
    hotel = member(store, staff, name="海棠湾酒店")
    resort = member(store, other, name="三亚湾度假村")
    plain = member(store, staff, name="椰梦长廊", notes="海棠湾分店的会员")

    def found(who, text):
        return {row["id"] for row in store.query("members", who, Query(search=text)).rows}

    assert found(gm, "海棠湾酒店") == {hotel}                          # trigram over the customer's name
    assert found(gm, "海棠") == {hotel, plain}                    # two characters: the member's notes too
    assert found(gm, "酒店") == {hotel}
    assert found(gm, "haitang") == found(gm, "htw") == {hotel}   # pinyin, as for customers
    assert found(gm, "KH000002") == {resort}                      # the customer's code
    assert found(gm, "HY000001 海棠") == {hotel}                  # every term must match somewhere
    assert found(gm, "HY000002 海棠") == set()
    assert found(gm, "湾") == {hotel, resort, plain}
    assert found(staff, "湾") == {hotel, plain}                        # never a member of another's archive
    assert found(other, "海棠湾酒店") == set() and found(other, "三亚") == {resort}
    assert store.sheet("members").search == ["member_no", "notes"]     # the customer is searched in its own index
    assert store.sheet("members").search_refs == ["customer"]


def test_a_member_is_named_with_its_customer_only_for_those_who_may_see_the_archive(store, people, make_user):
    staff, gm, other = people["staff"], people["gm"], make_user("staff")
    mine = member(store, staff, name="海棠湾酒店")
    theirs = member(store, other, name="三亚湾度假村")
    assert store.ref_labels("members", [mine, theirs], staff) == {mine: "HY000001 · 海棠湾酒店", theirs: "HY000002"}
    assert store.ref_labels("members", [mine, theirs], gm) == {mine: "HY000001 · 海棠湾酒店",
                                                                   theirs: "HY000002 · 三亚湾度假村"}
    assert store.ref_options("members", staff) == [(mine, "HY000001 · 海棠湾酒店")]        # a picker: hers only
    assert store.ref_options("members", gm, query="三亚") == [(theirs, "HY000002 · 三亚湾度假村")]


def test_the_care_list_names_the_customer_only_to_roles_with_personal_data_保密范围_姓名(store, people):
    staff, supervisor = people["staff"], people["supervisor"]
    m = member(store, staff, name="海棠湾酒店", birthday="1980-12-31")
    cover(store, people, supervisor, staff)                  # he reads the archive, without its personal data

    def names(who) -> set:
        return {i["customer_name"] for i in club.care_list(store, who, date(2026, 12, 29)) if i.get("member_id") == m}
    assert names(staff) == {"海棠湾酒店"}                       # the keeper, whose role has pii
    assert names(supervisor) == {"海****"}
