"""A staff member names an archive she neither keeps nor was granted, every way a screen can take a record id
(the session, a widget's value, a typed URL and its query parameters), and ids that are no ids at all
(missing, zero, negative, beyond 64 bits, text, SQL): nothing of the archive shows, nor of the records under
it (transactions, relationship log, business changes, members and their points follow their archive), and
no screen breaks. A ticket linked to that archive names it by its number only.

The engine's refusals first (pytest), then the screens through AppTest, then a few typed URLs in Chromium."""
from __future__ import annotations

import pytest

from kefu import auth, club, customers
from kefu.errors import NotFound, PermissionDenied
from kefu.exporting import Formatter
from kefu.store import Query, row_key

MARK = "机密"          # planted in every text of the archive and the records under it: a leak shows it
NOT_IDS = [0, -1, -2**63, 2**63, 10**30, -(10**30), "abc", "1 OR 1=1", "1; DROP TABLE customers; --",
           "' OR '1'='1", 1.5, float("nan"), True, False, None, b"1", [1], {"id": 1}]
CHILDREN = ("transactions", "relationship_log", "business_changes", "members")


def staff_of(store) -> auth.User:
    return auth.get_user(store, store.conn.execute("SELECT id FROM kefu_users WHERE username = 'demo-staff'").fetchone()[0])


def foreign_archive(store, staff) -> int:
    """An archive another staff member keeps, never granted to `staff`, with records of every kind under it,
    a member with points and a ticket linked to it."""
    return store.conn.execute(
        "SELECT c.id FROM customers c WHERE c.owner != ?1 AND c.deleted_at IS NULL "
        "AND c.id NOT IN (SELECT row_id FROM kefu_grants WHERE user_id = ?1 AND sheet = 'customers') "
        "AND EXISTS (SELECT 1 FROM transactions WHERE customer = c.id) "
        "AND EXISTS (SELECT 1 FROM relationship_log WHERE customer = c.id) "
        "AND EXISTS (SELECT 1 FROM business_changes WHERE customer = c.id) "
        "AND EXISTS (SELECT 1 FROM tickets WHERE customer = c.id) "
        "AND EXISTS (SELECT 1 FROM points p JOIN members m ON m.id = p.member WHERE m.customer = c.id) "
        "ORDER BY c.id LIMIT 1", (staff.id,)).fetchone()[0]


def plant(store, archive: int) -> dict:
    """Mark the archive's texts and those of the records under it with MARK (through the store, audited, so
    the history holds the marks too); returns the ids: {sheet: [ids]}, the archive's phone and its ticket."""
    system = auth.SYSTEM
    store.update("customers", archive, {"name": f"{MARK}甲乙丙有限公司", "contact": f"{MARK}联系人",
                                        "code": "KH-SECRET", "phone": "13999990001", "notes": f"{MARK}备注"}, system)
    ids = {"customers": [archive]}
    texts = {"transactions": {"item": f"{MARK}交易"}, "relationship_log": {"summary": f"{MARK}往来"},
             "business_changes": {"detail": f"{MARK}变更"}, "members": {"notes": f"{MARK}会员"}}
    for sheet, change in texts.items():
        ids[sheet] = [r[0] for r in store.conn.execute(f"SELECT id FROM {sheet} WHERE customer = ?", (archive,))]
        for row_id in ids[sheet]:
            store.update(sheet, row_id, change, system, allow_readonly=True)
    ids["points"] = [r[0] for r in store.conn.execute(
        "SELECT id FROM points WHERE member IN (SELECT id FROM members WHERE customer = ?)", (archive,))]
    for row_id in ids["points"]:
        store.update("points", row_id, {"reason": f"{MARK}积分"}, system, allow_readonly=True)
    ticket = store.conn.execute("SELECT id FROM tickets WHERE customer = ? ORDER BY id LIMIT 1", (archive,)).fetchone()[0]
    return {"ids": ids, "phone": "13999990001", "ticket": ticket}


@pytest.fixture
def office(demo_store):
    staff = staff_of(demo_store)
    archive = foreign_archive(demo_store, staff)
    planted = plant(demo_store, archive)
    demo_store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return {"store": demo_store, "staff": staff, "archive": archive, **planted}


# ------------------------------------------------------------------------------------------------ engine

def test_row_key_takes_a_whole_number_sqlite_can_hold_and_nothing_else():
    assert row_key(1) == 1 and row_key(2**63 - 1) == 2**63 - 1
    for value in NOT_IDS:
        assert row_key(value) is None, value


def test_the_archive_and_every_record_under_it_are_not_found_by_their_ids(office):
    store, staff = office["store"], office["staff"]
    for sheet, ids in office["ids"].items():
        assert ids, sheet
        for row_id in ids:
            with pytest.raises(NotFound):
                store.get(sheet, row_id, staff)
            with pytest.raises(NotFound):
                store.history(sheet, row_id, staff)
            assert MARK not in store.titles(sheet, [row_id], staff).get(row_id, "")
            assert MARK not in store.ref_labels(sheet, [row_id], staff).get(row_id, "")
    archive = office["archive"]
    with pytest.raises(NotFound):
        customers.summary(store, staff, archive)
    for member in office["ids"]["members"]:
        for call in (club.balance, club.suggested_tier, club.benefits):
            with pytest.raises(NotFound):
                call(store, staff, member)
        assert club.ledger(store, staff, member).total == 0
    for sheet in CHILDREN:
        assert store.query(sheet, staff, Query(filters={"customer": archive})).total == 0
    assert store.query("points", staff, Query(filters={"member": office["ids"]["members"]})).total == 0
    assert [r for r in store.ref_options("customers", staff) if r[0] == archive] == []


def test_the_archive_and_the_records_under_it_cannot_be_changed_by_their_ids(office):
    store, staff, archive = office["store"], office["staff"], office["archive"]
    before = store.conn.execute("SELECT count(*), max(id) FROM kefu_audit").fetchone()
    with pytest.raises(NotFound):
        store.update("customers", archive, {"contact": "李四"}, staff)
    for sheet in ("transactions", "relationship_log", "members"):
        with pytest.raises(NotFound):
            store.update(sheet, office["ids"][sheet][0], {"notes" if sheet == "members" else
                                                         "item" if sheet == "transactions" else "summary": "x"}, staff)
    with pytest.raises(NotFound):
        club.earn(store, staff, office["ids"]["members"][0], 5, "来访")
    with pytest.raises(PermissionDenied):
        store.delete("customers", archive, staff)
    assert store.conn.execute("SELECT count(*), max(id) FROM kefu_audit").fetchone() == before


def test_an_id_that_is_no_record_is_not_found_and_breaks_nothing(office):
    store, staff = office["store"], office["staff"]
    counts = {sheet: store.conn.execute(f"SELECT count(*) FROM {sheet}").fetchone()[0] for sheet in ("customers", *CHILDREN)}
    for value in NOT_IDS + [2**63 - 1, 999_999_999]:
        for sheet in ("customers", "tickets", *CHILDREN):
            with pytest.raises(NotFound):
                store.get(sheet, value, staff)
            with pytest.raises(NotFound):
                store.history(sheet, value, staff)
            with pytest.raises(NotFound):
                store.update(sheet, value, {}, staff)
            assert store.titles(sheet, [value], staff) == {} and store.ref_labels(sheet, [value], staff) == {}, value
        with pytest.raises(NotFound):
            customers.summary(store, staff, value)
        with pytest.raises(NotFound):
            club.balance(store, staff, value)
        if value is not None and not isinstance(value, (list, dict)):
            for sheet in CHILDREN:
                assert store.query(sheet, staff, Query(filters={"customer": value})).total == 0, (sheet, value)
                assert store.query(sheet, staff, Query(filters={"customer": [value]})).total == 0, (sheet, value)
    assert counts == {sheet: store.conn.execute(f"SELECT count(*) FROM {sheet}").fetchone()[0] for sheet in counts}


def test_a_ticket_linked_to_the_archive_names_it_by_number_for_staff_masked_for_the_director_named_for_the_gm(office):
    store, staff, archive = office["store"], office["staff"], office["archive"]
    sheet, field = store.sheet("tickets"), store.sheet("tickets").by_name["customer"]
    ticket = store.get("tickets", office["ticket"], staff)            # tickets are everyone's: she may open it
    shown = Formatter(store, sheet, "zh", staff)
    shown.prefetch([ticket])
    assert shown.value(field, ticket["customer"]) == f"#{archive}"
    assert store.ref_labels("customers", [archive], staff) == {}
    director, gm = (auth.get_user(store, store.conn.execute("SELECT id FROM kefu_users WHERE username = ?",
                                                            (name,)).fetchone()[0]) for name in ("demo-sales", "demo-gm"))
    masked = Formatter(store, sheet, "zh", director)                   # sees every archive, without pii (姓名)
    masked.prefetch([ticket])
    assert masked.value(field, ticket["customer"]) == f"{MARK[0]}******"
    seen = Formatter(store, sheet, "zh", gm)
    seen.prefetch([ticket])
    assert seen.value(field, ticket["customer"]) == f"{MARK}甲乙丙有限公司"


def test_a_granted_archive_is_named_until_the_grant_is_revoked(office):
    store, staff, archive = office["store"], office["staff"], office["archive"]
    gm = auth.get_user(store, store.conn.execute("SELECT id FROM kefu_users WHERE username = 'demo-gm'").fetchone()[0])
    from datetime import date, timedelta
    grant = store.grant("customers", archive, staff.id, gm, until=date.today() + timedelta(days=3), reason="回访")
    assert store.titles("customers", [archive], staff) == {archive: f"{MARK}甲乙丙有限公司"}
    assert store.get("customers", archive, staff)["code"] == "KH-SECRET"
    store.revoke(grant, gm)
    assert store.titles("customers", [archive], staff) == {}
    with pytest.raises(NotFound):
        store.get("customers", archive, staff)


# ------------------------------------------------------------------------------------------------ screens

QUERY_PARAMETERS = ("id", "customer", "customer_id", "archive", "open", "member", "ticket", "record", "row", "row_id",
                    "sheet", "page", "q", "search", "tab", "reveal", "user")
BAD_VALUES = ["-1", "0", "99999999999999999999999999999999", "abc", "1 OR 1=1", "1; DROP TABLE customers; --",
              "' OR '1'='1", "%00", "../../etc/passwd", "<script>alert(1)</script>"]


def page_text(at) -> str:
    """Everything the page holds for the browser: every element's message (labels, values, options,
    captions, the st.text of a record's values) and every table's cells."""
    from google.protobuf import text_format
    from streamlit.testing.v1.element_tree import Dataframe
    parts = []

    def walk(node) -> None:
        if isinstance(node, Dataframe):
            parts.append(node.value.to_csv())
        elif getattr(node, "proto", None) is not None:
            parts.append(text_format.MessageToString(node.proto, as_utf8=True))
        for child in getattr(node, "children", {}).values():
            walk(child)
    walk(at._tree)
    return "\n".join(parts)


def leaked(at) -> list[str]:
    text = page_text(at)
    return [secret for secret in (MARK, "KH-SECRET", "13999990001") if secret in text]


@pytest.fixture
def planted_db(demo_db):
    """The demo office the app opens, with the archive's texts marked (see plant)."""
    from kefu import config
    from kefu.sheets import load_sheets
    from kefu.store import Store
    store = Store(demo_db, load_sheets(), config.load())
    staff = staff_of(store)
    archive = foreign_archive(store, staff)
    planted = plant(store, archive)
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return {"archive": archive, "db": demo_db, **planted}


def test_staff_types_every_screen_with_the_archive_s_id_in_every_query_parameter_and_sees_nothing_of_it(planted_db):
    from apptest import login, open_page
    from screens import NOT_ALLOWED, OPENS, opens
    archive = str(planted_db["archive"])
    member, ticket = planted_db["ids"]["members"][0], planted_db["ticket"]
    at = login("demo-staff")
    for name in QUERY_PARAMETERS:
        at.query_params[name] = {"member": str(member), "ticket": str(ticket)}.get(name, archive)
    for path in OPENS:
        at = open_page(at, "" if path == "home" else path)
        assert not at.exception, (path, at.exception)
        assert not leaked(at), (path, leaked(at))
        assert (NOT_ALLOWED in page_text(at)) == (path not in opens("staff")), path


def test_every_query_parameter_holding_no_id_leaves_each_screen_as_it_is(planted_db):
    """Each bad value in several parameters at once (two turns, the values shifted between parameters)."""
    from apptest import login, open_page
    from screens import opens
    at = login("demo-staff")
    names = QUERY_PARAMETERS + ("kiosk",)
    for turn in range(2):
        for position, name in enumerate(names):
            at.query_params[name] = BAD_VALUES[(position + turn * 5) % len(BAD_VALUES)]
        for path in ("home", "customers", "members", "tickets", "events", "surveys", "parts_sales", "dashboard"):
            assert path in opens("staff")
            at = open_page(at, "" if path == "home" else path)
            assert not at.exception, (path, turn, at.exception)
            assert not leaked(at), (path, turn)
            assert any(b.key == "logout" for b in at.button)          # a bad kiosk token is no kiosk


# The screens that keep the record chosen in a list in the session, and the record each is given
SESSION_KEYS = {"customers": ("customers__open", "archive"), "members": ("members__open", "member"),
                "tickets": ("tickets__all__open", "ticket")}
NOT_ID_VALUES = [0, -1, 2**63, 10**30, "abc", "1 OR 1=1", 1.5, True]


@pytest.mark.parametrize("path", list(SESSION_KEYS))
def test_a_record_id_put_in_the_session_opens_nothing_the_staff_may_not_see(planted_db, path):
    """What a list's click puts in the session (the chosen record's id), here set by hand: the archive
    not kept, its member, a ticket linked to it, then values that are no id."""
    from apptest import login, open_page
    key, kind = SESSION_KEYS[path]
    at = open_page(login("demo-staff"), path)
    foreign = {"archive": planted_db["archive"], "member": planted_db["ids"]["members"][0],
               "ticket": planted_db["ticket"]}[kind]
    for value in [foreign, *NOT_ID_VALUES]:
        at.session_state[key] = value
        at = at.run()
        assert not at.exception, (value, at.exception)
        assert not leaked(at), value
        if kind == "ticket" and value == foreign:      # a ticket is everyone's; its archive is named by number
            assert f'"#{planted_db["archive"]}"' in page_text(at)
        elif value:
            assert [w.value for w in at.warning][:1] == ["该记录不存在或已删除。"], value


def test_a_row_position_no_grid_row_has_opens_nothing(planted_db):
    """A list's click sends the row's position on the page; a position the page has not (a forged message)
    selects nothing, and breaks nothing."""
    from apptest import login, open_page
    at = open_page(login("demo-staff"), "customers")
    key = at.dataframe[0].key
    for position in (10**6, 2**63, -1, -(10**6), "0", 1.5):
        at.session_state[key] = {"selection": {"rows": [position], "columns": [], "cells": []}}
        at = at.run()
        assert not at.exception, (position, at.exception)
        assert "customers__open" not in at.session_state or not at.session_state["customers__open"], position
        assert not leaked(at)


def test_a_caller_with_the_archive_s_phone_is_told_by_keeper_not_by_name(planted_db):
    from apptest import db_value, login, open_page
    at = open_page(login("demo-staff"), "tickets")
    phone = next(w for w in at.text_input if w.label.startswith("来电号码") or w.label.startswith("联系电话"))
    at = phone.input(planted_db["phone"]).run()
    assert not at.exception
    keeper = db_value(planted_db["db"], "SELECT display_name FROM kefu_users WHERE id = (SELECT owner FROM customers WHERE id = ?)",
                      planted_db["archive"])
    assert f"此号码属于 {keeper} 管理的客户档案" in page_text(at)
    assert not leaked(at)


# ------------------------------------------------------------------------------------------------ Chromium

@pytest.mark.browser
def test_typed_urls_with_the_archive_s_ids_and_with_no_ids_show_the_screen_and_nothing_of_the_archive(server, chromium):
    """Four addresses a staff member types: the archive's id, its member's, a ticket linked to it, and values
    that are no id, in the parameters a screen could read. Each opens the screen as from the menu."""
    from urllib.parse import urlencode
    from browser import log_in, settle
    from kefu import config
    from kefu.sheets import load_sheets
    from kefu.store import Store
    store = Store(server.db, load_sheets(), config.load())
    staff = staff_of(store)
    archive = foreign_archive(store, staff)
    planted = plant(store, archive)
    store.close()
    member, ticket = planted["ids"]["members"][0], planted["ticket"]
    typed = {
        "customers": {"id": archive, "customer": archive, "open": archive, "archive": archive},
        "members": {"id": member, "member": member, "customer": archive},
        "tickets": {"id": ticket, "ticket": ticket, "customer": archive, "open": 10**30},
        "customers?": {"id": "1 OR 1=1", "open": "-1", "customer": "'; DROP TABLE customers; --", "q": "<b>x</b>"},
    }
    context = chromium.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page = context.new_page()
    log_in(page, server.url, "demo-staff")
    for path, params in typed.items():
        screen = path.rstrip("?")
        page.goto(f"{server.url}/{screen}?{urlencode(params)}")
        current = page.locator(f"[data-testid='stSidebarNavLink'][aria-current='page'][href$='/{screen}']")
        current.wait_for(timeout=30000)
        page.locator("[data-testid='stDataFrame']").first.wait_for(state="attached", timeout=30000)  # its list
        settle(page)
        body = page.locator("body").inner_text()
        assert MARK not in body and "KH-SECRET" not in body and "13999990001" not in body, path
        assert page.locator("[data-testid='stException']").count() == 0, path
    context.close()
    with __import__("sqlite3").connect(server.db) as conn:
        assert conn.execute("SELECT count(*) FROM customers WHERE id = ?", (archive,)).fetchone()[0] == 1
