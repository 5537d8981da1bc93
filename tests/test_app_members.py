"""The member club screens (AppTest): a staff member opens a member's card and books points (too many
are refused with the balance said, nothing written); the care card greets; who may not, sees nothing."""
import random
import re
from datetime import datetime

import pytest
from faker import Faker

from apptest import cover_books, db_value as one, login, open_page, select_row, submit, texts
from kefu import config
from kefu.sheets import load_sheets
from kefu.store import Store


@pytest.fixture
def club_db(demo_db):
    """The demo office with its member club (seeded here unless the demo seed already made it)."""
    from seed.club import seed_club
    store = Store(demo_db, load_sheets(), config.load())
    store.migrate()
    if not store.conn.execute("SELECT count(*) FROM members").fetchone()[0]:
        fake = Faker("zh_CN")
        fake.seed_instance(3)
        staff = [r[0] for r in store.conn.execute(
            "SELECT id FROM kefu_users WHERE role IN ('staff', 'supervisor') ORDER BY id")]
        seed_club(store, random.Random(3), fake, staff, datetime.now(store.settings.tz))
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return demo_db


def ledger_count(db, member_id) -> int:
    return one(db, "SELECT count(*) FROM points WHERE member = ?", member_id)


def balance(db, member_id) -> int:
    return one(db, "SELECT coalesce(sum(CASE WHEN kind = 'earn' THEN points ELSE -points END), 0) FROM points "
                   "WHERE member = ?", member_id)


def book(at, member_id, kind: str, points: int, reason: str):
    prefix = f"members__points_{member_id}"
    at.radio(key=f"{prefix}__kind").set_value(kind)
    at.number_input(key=f"{prefix}__amount").set_value(points)
    at.text_input(key=f"{prefix}__reason").input(reason)
    return submit(at, "记积分")


def test_staff_opens_a_member_and_redeeming_too_many_points_is_refused_with_the_balance(club_db):
    at = open_page(login("demo-staff"), "members")
    assert not at.exception
    staff_id = one(club_db, "SELECT id FROM kefu_users WHERE username = 'demo-staff'")
    kept = one(club_db, "SELECT count(*) FROM members m JOIN customers c ON c.id = m.customer "
                        "WHERE (c.owner = ? OR c.id IN (SELECT row_id FROM kefu_grants WHERE user_id = ?)) "
                        "AND m.deleted_at IS NULL", staff_id, staff_id)
    assert "共 %d 条" % kept in texts(at)                               # only the members of her archives
    at = select_row(at)
    member_id = at.session_state["members__open"]
    assert [m.label for m in at.metric] == ["积分余额", "累计获得", "累计兑换", "会员等级"]
    assert "会员权益" in texts(at)
    have, lines = balance(club_db, member_id), ledger_count(club_db, member_id)
    assert at.metric[0].value == str(have)
    at = book(at, member_id, "redeem", have + 1, "兑换礼品")
    assert not at.exception
    assert f"积分不足：当前余额 {have} 分，申请兑换 {have + 1} 分，未兑换。" in texts(at)
    assert ledger_count(club_db, member_id) == lines
    at = book(at, member_id, "earn", 300, "购买配件")
    assert "已增加 300 积分。" in texts(at)
    assert balance(club_db, member_id) == have + 300 and ledger_count(club_db, member_id) == lines + 1
    assert at.metric[0].value == str(have + 300)
    at = book(at, member_id, "redeem", 0, "兑换礼品")
    assert "积分：不能小于 1" in texts(at)


def test_a_new_member_gets_an_engine_number_and_the_birthday_picker_stops_at_today(club_db):
    staff_id = one(club_db, "SELECT id FROM kefu_users WHERE username = 'demo-staff'")
    free = one(club_db, "SELECT id FROM customers WHERE owner = ? AND id NOT IN (SELECT customer FROM members) "
                        "AND deleted_at IS NULL ORDER BY id LIMIT 1", staff_id)
    at = open_page(login("demo-staff"), "members")
    prefix = "members__new__0__"
    at.selectbox(key=prefix + "customer").set_value(free)
    birthday = at.date_input(key=prefix + "birthday")
    today = datetime.now(config.load().tz).date()
    assert birthday.max == today and birthday.min.year == 1900     # the engine refuses later dates too
    birthday.set_value("1985-06-01")                                # decades back: a real birthday
    at = [b for b in at.button if b.proto.form_id == "members__new__0"][0].click().run()
    number = one(club_db, "SELECT member_no FROM members WHERE customer = ?", free)
    assert re.fullmatch(r"HY\d{6}", number) and f"已创建：{number}" in texts(at)
    assert one(club_db, "SELECT birthday FROM members WHERE customer = ?", free) == "1985-06-01"


def test_the_care_card_lists_the_week_and_greeting_takes_the_line_away(club_db):
    at = login("demo-staff")
    found = re.search(r"近 7 天客户关怀 · (\d+)", texts(at))
    assert found and int(found.group(1)) >= 1
    greet = [b for b in at.button if b.key and b.key.startswith("home_greet_")][0]
    occasion, member_id = greet.key.removeprefix("home_greet_").rsplit("_", 1)
    customer = one(club_db, "SELECT customer FROM members WHERE id = ?", int(member_id))
    before = one(club_db, "SELECT count(*) FROM relationship_log WHERE customer = ?", customer)
    at = greet.click().run()
    assert not at.exception
    assert one(club_db, "SELECT count(*) FROM relationship_log WHERE customer = ?", customer) == before + 1
    assert greet.key not in [b.key for b in at.button]
    assert f"近 7 天客户关怀 · {int(found.group(1)) - 1}" in texts(at)


def test_a_supervisor_applies_a_suggested_upgrade(club_db):
    from kefu import auth, club
    store = Store(club_db, load_sheets(), config.load())
    supervisor = auth.get_user(store, one(club_db, "SELECT id FROM kefu_users WHERE username = 'demo-supervisor'"))
    due = next(m for m in store.ref_options("members", supervisor, limit=10_000)    # members of archives
               if club.suggested_tier(store, supervisor, m[0]) is not None)[0]          # the supervisor reads
    number = one(club_db, "SELECT member_no FROM members WHERE id = ?", due)
    target = club.suggested_tier(store, supervisor, due)
    store.close()
    at = open_page(login("demo-supervisor"), "members")
    at.text_input(key="members__list__search").input(number).run()
    at = select_row(at)
    assert "建议升级为" in texts(at)
    at = submit(at, f"升级为{target.label_in('zh')}")
    assert not at.exception
    assert one(club_db, "SELECT tier FROM members WHERE id = ?", due) == target.value


@pytest.mark.parametrize("username", ["demo-finance", "demo-admin"])
def test_finance_and_admin_neither_see_nor_open_the_club(club_db, username):
    at = login(username)
    assert "客户关怀" not in texts(at)
    for path in ("members", "partners"):
        at = open_page(at, path)
        assert [w.value for w in at.warning] == ["您的角色无权打开此页面。"]
        assert not at.dataframe and not at.title


def test_a_manager_finds_an_old_archive_by_name_and_enrols_it(club_db):
    keepers = cover_books(club_db, "demo-manager", 4)                    # the gm lets the manager cover four books
    books = f"owner IN ({', '.join(map(str, keepers))}) AND deleted_at IS NULL"
    old = one(club_db, f"SELECT id FROM customers WHERE id NOT IN (SELECT customer FROM members) AND {books} "
                       "ORDER BY id LIMIT 1")
    name = one(club_db, "SELECT name FROM customers WHERE id = ?", old)
    newer = one(club_db, f"SELECT count(*) FROM customers WHERE id > ? AND {books}", old)
    assert newer > 200                                                   # beyond the newest the picker offers
    at = open_page(login("demo-manager"), "members")
    prefix = "members__new__0__customer"
    picker = at.selectbox(key=prefix)
    # newest only (by its number: the demo has other archives of the same name among the newest)
    assert len(picker.options) == 200 and f"{name} · #{old}" not in picker.options
    assert at.text_input(key=f"{prefix}__find").label == "搜索客户档案"
    at.text_input(key=f"{prefix}__find").input(name)
    at = at.button(key=f"{prefix}__go").click().run()                    # 查找: nothing is saved by it
    assert not at.exception and "客户：必填" not in texts(at)
    offered = at.selectbox(key=prefix)
    assert f"{name} · #{old}" in offered.options and len(offered.options) <= 50    # with its number (编号)
    offered.set_value(old)                                               # chosen, then searching again
    at.text_input(key=f"{prefix}__find").input("查无此名的客户")         # keeps the choice offered
    at = at.button(key=f"{prefix}__go").click().run()
    assert at.selectbox(key=prefix).value == old
    assert "没有找到与“查无此名的客户”匹配的记录。" in texts(at)
    at = [b for b in at.button if b.proto.form_id == "members__new__0" and b.label == "保存"][0].click().run()
    assert not at.exception
    number = one(club_db, "SELECT member_no FROM members WHERE customer = ?", old)
    assert f"已创建：{number}" in texts(at)


def test_the_members_grid_finds_a_member_by_the_customer_s_name(club_db):
    staff_id = one(club_db, "SELECT id FROM kefu_users WHERE username = 'demo-staff'")
    member_id = one(club_db, "SELECT m.id FROM members m JOIN customers c ON c.id = m.customer WHERE c.owner = ? "
                             "AND m.deleted_at IS NULL ORDER BY m.id LIMIT 1", staff_id)
    member_no = one(club_db, "SELECT member_no FROM members WHERE id = ?", member_id)
    name = one(club_db, "SELECT c.name FROM members m JOIN customers c ON c.id = m.customer WHERE m.id = ?", member_id)
    at = open_page(login("demo-staff"), "members")
    at.text_input(key="members__list__search").input(name[:2]).run()    # two characters of the name
    assert not at.exception
    shown = at.dataframe[0].value
    assert member_no in set(shown["会员编号"]) and "会员编号、客户、备注" in at.text_input(
        key="members__list__search").placeholder
