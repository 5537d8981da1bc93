"""Hostile records for the "record data shows as text" tests (tests/test_hostile.py): a copy of the demo office
where every text-like field of every sheet holds Markdown, HTML, links, a `javascript:` URL, Streamlit's
directives and shortcodes, and as long a line as the field takes, in the records the screens show first; and
every user's name.

Derived from the app, not listed by hand: the sheets and their fields come from store.sheets, each value
is cut to what the field accepts (tried through the store, which validates and audits it), and the records
are those each role's grid shows first and those the home screen's cards list. Every value starts with its
own tag (`Hx12Q`), so a check finds which value it is looking at."""
from __future__ import annotations

import itertools
import re
from pathlib import Path

from kefu import auth, club, config, customers, tickets, visitors
from kefu.errors import KefuError
from kefu.sheets import ROLES, ValidationError, load_sheets
from kefu.store import Query, Store
from screens import DEMO

TAG = re.compile(r"Hx\d+Q")
# Markup first, its text marked "hx" (lower case: no screen's own text has it): a field of 20 characters still
# holds emphasis, a link and an image after the tag.
MARKUP = ("**hxb**_hxe_[hxa](javascript:alert(1))![hxi](x.png)<b>hxh</b>:red[hxr]:smile::material/hxicon:"
          ":streamlit:$hxm$ <https://e.example> https://e.example www.e.example a@e.example -> x ~~hxd~~ `hxc` "
          "&amp; |t|")
LINES = "\n# hxh1\n- hxli\n1. hxol\n> hxq\n    hxcode\n```\nhxfence\n\n[r]: https://e.example\n"
TEXT_TYPES = ("text", "longtext", "email", "url")
FIRST_ROWS = 3               # the rows each role's grid shows first, made hostile in every sheet


def candidates(tag: str, kind: str, limit: int) -> list[str]:
    """The hostile values to try for a field, most hostile first, each at most `limit` characters."""
    if kind == "email":
        return [f"{tag}**hxb**_hxe_{{x}}@e.example"[:limit], f"{tag}_hxe_@e.example"]
    if kind == "url":
        return [f"https://e.example/{tag}**hxb**_hxe_[hxa](javascript:alert(1))<b>hxh</b>",
                f"https://e.example/{tag}*hxe*"]
    line = tag + MARKUP
    if limit >= 1000:                                          # one line as long as the field allows
        line += "*_" * ((limit - len(line)) // 2)
    if kind == "longtext":                                     # and lines that would open blocks
        return [(tag + MARKUP + LINES + "*_" * limit)[:limit], line[:limit]]
    return [line[:limit]]


def hostile_office(db: Path) -> dict[str, str]:
    """Make the demo office in `db` hostile; returns {tag: the value saved}."""
    store = Store(db, load_sheets(), config.load())
    try:
        saved, numbers = {}, itertools.count(1)
        users = {role: auth.get_user(store, _user_id(store, DEMO[role])) for role in ROLES}
        for name, ids in _shown_records(store, users).items():
            for row_id in sorted(ids):
                _make_hostile(store, store.sheet(name), row_id, saved, numbers)
        _hostile_names(store, saved, numbers)
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return saved
    finally:
        store.close()


def _user_id(store: Store, username: str) -> int:
    return store.conn.execute("SELECT id FROM kefu_users WHERE username = ?", (username,)).fetchone()[0]


def _shown_records(store: Store, users: dict) -> dict[str, set]:
    """{sheet: ids}: the first rows of every sheet's grid for every role, and what the home screen's cards
    list for each role (visitors in the building and expected, escalated tickets, follow-ups, the members'
    occasions, archives awaiting approval)."""
    shown = {name: set() for name in store.sheets}
    for user in users.values():
        for name, sheet in store.sheets.items():
            if auth.can(user, sheet, "read"):
                shown[name].update(r["id"] for r in store.query(name, user, Query(page_size=FIRST_ROWS)).rows)
        if auth.can(user, store.sheet(visitors.SHEET), "read"):
            shown[visitors.SHEET].update(v["id"] for v in visitors.in_building(store, user)[:10])
            shown[visitors.SHEET].update(v["id"] for v in visitors.expected(store, user)[:10])
        if auth.can(user, store.sheet(tickets.SHEET), "read"):
            escalated = store.query(tickets.SHEET, user, tickets.queue("escalations", user)).rows[:5]
            shown[tickets.SHEET].update(r["id"] for r in escalated)
        for item in customers.follow_ups_due(store, user)[:10]:
            shown["relationship_log"].add(item["id"])
            shown[customers.SHEET].add(item["customer"])
        if auth.can(user, store.sheet(club.MEMBERS), "read"):
            for item in club.care_list(store, user)[:10]:
                if item.get("member_id"):
                    shown[club.MEMBERS].add(item["member_id"])
                    shown[customers.SHEET].add(store.get(club.MEMBERS, item["member_id"], auth.SYSTEM)["customer"])
        if auth.can(user, store.sheet(customers.SHEET), "read"):
            drafts = store.query(customers.SHEET, user, Query(filters={"status": "draft"}, page_size=5)).rows
            shown[customers.SHEET].update(r["id"] for r in drafts)
    return shown


def _make_hostile(store: Store, sheet, row_id: int, saved: dict, numbers) -> None:
    """Every text-like field of one record set to a hostile value it accepts, saved through the store."""
    tries = {}
    for field in sheet.fields:
        if field.type_name in TEXT_TYPES:
            tag = f"Hx{next(numbers)}Q"
            limit = field.options.get("max_length", getattr(field.type, "default_max", None) or 200)
            tries[field.name] = candidates(tag, field.type_name, limit)
    while tries:
        changes = {name: values[0] for name, values in tries.items()}
        try:
            store.update(sheet.name, row_id, changes, auth.SYSTEM, allow_readonly=True)
        except ValidationError as exc:
            refused = {p.field for p in exc.problems} & set(tries)
            if not refused:
                return                                   # a rule of the record itself: left as it was
            for name in refused:                         # the next, milder value; none left: the field stays
                tries[name] = tries[name][1:]
                if not tries[name]:
                    del tries[name]
            continue
        except KefuError:
            return                                       # a locked period, a deleted record: left as it was
        for value in changes.values():
            saved[TAG.search(value).group()] = value
        return


def _hostile_names(store: Store, saved: dict, numbers) -> None:
    """Every user's display name hostile (a host, an assignee, a keeper, who logged or approved what), as the
    users screen would store it: kefu.auth.create_user takes any text of up to 50 characters; the office has no
    rename, so it is written in place."""
    rows = store.conn.execute("SELECT id FROM kefu_users ORDER BY id").fetchall()
    with store.transaction() as conn:
        for (user_id,) in rows:
            tag = f"Hx{next(numbers)}Q"
            name = (tag + MARKUP)[:50]
            conn.execute("UPDATE kefu_users SET display_name = ? WHERE id = ?", (name, user_id))
            saved[tag] = name

