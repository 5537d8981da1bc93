"""Driving the app with Streamlit's AppTest: log in, open a page from the navigation, find widgets."""
from __future__ import annotations

import re
import string
from pathlib import Path

from streamlit.testing.v1 import AppTest

from kefu.ui.text import SPLIT

APP = str(Path(__file__).resolve().parent.parent / "app.py")
DEMO_PASSWORD = "kefu-demo"
STAND_IN_ICON = ":material/block:"


def start() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    return at.run()


def login(username: str, password: str = DEMO_PASSWORD) -> AppTest:
    at = start()
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(password)
    return submit(at, "登录")


def submit(at: AppTest, label: str) -> AppTest:
    """Click the button (or form submit button) with this label."""
    matches = [b for b in at.button if b.label == label]
    assert matches, f"no button {label!r} among {[b.label for b in at.button]}"
    return matches[0].click().run()


def nav_paths(at: AppTest) -> set[str]:
    """The url paths the navigation offers this user ('' is the home page). Hidden stand-in pages
    (app.STAND_IN_ICON: a URL the user may not open shows a notice there) are not offered."""
    return {info.get("url_pathname") for info in at._registered_pages.values() if info.get("icon") != STAND_IN_ICON}


def open_page(at: AppTest, url_path: str) -> AppTest:
    """Open a page the navigation offers, as a click in the sidebar would."""
    for page_hash, info in at._registered_pages.items():
        if info.get("url_pathname") == url_path:
            at._page_hash = page_hash
            return at.run()
    raise AssertionError(f"{url_path!r} is not in the navigation: {sorted(nav_paths(at))}")


def texts(at: AppTest) -> str:
    """Everything written on the page, for 'the user sees X' assertions (record data as it shows, without
    the escapes kefu.ui.text.plain gives it)."""
    parts = []
    for kind in ("title", "subheader", "markdown", "caption", "info", "warning", "error", "success"):
        parts += [shown(str(e.value)) for e in getattr(at, kind)]
    return "\n".join(parts)


def shown(markdown: str) -> str:
    """The text kefu.ui.text.plain's Markdown shows: its escapes, empty spans and line breaks undone."""
    text = markdown.replace(SPLIT, "").replace("\\\n", "\n").replace("&#32;", " ").replace("&#9;", "\t")
    return re.sub(r"\\([%s])" % re.escape(string.punctuation), r"\1", text)


def select_row(at: AppTest, row: int = 0, grid: int = 0) -> AppTest:
    """Tick a row of a grid, as a click in its first column would (AppTest cannot click a canvas)."""
    key = at.dataframe[grid].key
    at.session_state[key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    return at.run()


def db_value(db, sql: str, *params):
    """One value from the app's database file, to check what a screen action wrote."""
    import sqlite3
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchone()[0]


def cover_books(db, username: str, keepers: int) -> list[int]:
    """The demo gm lets `username` read and work on the whole book of the first `keepers` staff members
    for a week (only an archive's keeper and the gm read it otherwise); their ids."""
    from datetime import date, timedelta

    from kefu import auth, config
    from kefu.sheets import load_sheets
    from kefu.store import Store
    store = Store(db, load_sheets(), config.load())
    try:
        gm, user = (auth.get_user(store, db_value(db, "SELECT id FROM kefu_users WHERE username = ?", name))
                    for name in ("demo-gm", username))
        ids = [k for (k,) in store.conn.execute("SELECT id FROM kefu_users WHERE username LIKE 'staff%' "
                                                "ORDER BY id LIMIT ?", (keepers,))]
        for keeper in ids:
            store.grant("customers", None, user.id, gm, keeper=keeper, until=date.today() + timedelta(days=7),
                        reason="代管同事的客户档案")
    finally:
        store.close()
    return ids
