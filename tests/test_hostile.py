"""Record data shows as text on every screen. One copy of the demo office gets a hostile value in every text-like
field of every sheet (tests/hostile.py: emphasis, links, a `javascript:` URL, images, headings, HTML, Streamlit's
directives and shortcodes, lines, as long a line as the field takes) and hostile user names; then
- through AppTest, every role opens every screen of tests/screens.py it may open, and the first record of each
  list, and every piece of Markdown on the page (text, captions, alerts, toasts, titles, labels, help) holds
  each hostile value only as kefu.ui.text.plain escapes it;
- in Chromium, each screen that shows records is drawn for the role that sees most of them, its first record
  opened by a click, and the page holds no element made from a value (bold, emphasis, link, picture, heading,
  list, quote, code, colour, icon, formula) and shows every value as written.
New sheets, fields, roles and screens are covered as they are added."""
from __future__ import annotations

import os
import shutil

import pytest

from apptest import login, open_page
from hostile import TAG, TEXT_TYPES, candidates, hostile_office
from kefu import config
from kefu.sheets import ROLES, ValidationError, load_sheets
from kefu.store import Store
from kefu.ui.text import plain
from screens import DEMO, opens

SHOWN = 40          # a screen may shorten a value (to 40 characters at least): this much must show as written
MARKDOWN = {"Title", "Header", "Subheader", "Markdown", "Caption", "Info", "Warning", "Error", "Success", "Toast"}


@pytest.fixture(scope="module")
def hostile(demo_file, tmp_path_factory):
    """(database file, {tag: value}): the demo office with the hostile values, made once per module."""
    db = tmp_path_factory.mktemp("hostile") / "kefu.db"
    shutil.copy(demo_file, db)
    return db, hostile_office(db)


def test_every_text_field_of_every_sheet_holds_a_hostile_value(hostile):
    """Each text-like field got one in some record, unless its type refuses every hostile value (a pattern,
    a phone number): then no record can hold one."""
    db, saved = hostile
    store = Store(db, load_sheets(), config.load())
    try:
        for name, sheet in store.sheets.items():
            for field in sheet.fields:
                if field.type_name not in TEXT_TYPES and field.type_name != "phone":
                    continue
                held = store.conn.execute(f'SELECT COUNT(*) FROM "{name}" WHERE "{field.name}" LIKE ?',
                                          ("%Hx%Q%",)).fetchone()[0]
                if held:
                    continue
                limit = field.options.get("max_length", getattr(field.type, "default_max", None) or 200)
                for value in candidates("Hx0Q", field.type_name if field.type_name in TEXT_TYPES else "text", limit):
                    with pytest.raises(ValidationError):
                        sheet.validate({field.name: value}, store.ctx, partial=True)
    finally:
        store.close()
    assert len(saved) > 200


# ------------------------------------------------------------------------------------------------ AppTest

def _elements(node):
    for child in getattr(node, "children", {}).values():
        yield child
        yield from _elements(child)


def markdown_of(at) -> list[str]:
    """Every piece of Markdown on the page: element bodies, and the labels and help of everything."""
    found = []
    for element in _elements(at._tree):
        if type(element).__name__ in MARKDOWN and isinstance(getattr(element, "value", None), str):
            found.append(element.value)
        for part in ("label", "help"):
            text = getattr(element, part, None)
            if isinstance(text, str):
                found.append(text)
    return found


def unescaped(markdown: str, saved: dict) -> list[str]:
    """The hostile values this Markdown holds other than as plain() writes them (a screen may shorten one)."""
    wrong = []
    for match in TAG.finditer(markdown):
        value = saved[match.group()]
        value = value[value.index(match.group()):]
        want, got = plain(value), markdown[match.start():]
        agree = len(os.path.commonprefix([want, got]))
        if agree < len(plain(value[:SHOWN])):
            wrong.append(f"{match.group()}: {got[:80]!r}")
    return wrong


def grids(at) -> list[str]:
    """The keys of the page's lists whose rows open a record."""
    return [d.key for d in at.dataframe if d.key and ("__grid_" in d.key or "__ranking_" in d.key)]


def choose_first_row(at, key: str):
    at.session_state[key] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    return at.run()


def test_every_role_sees_record_data_escaped_on_every_screen(hostile, monkeypatch):
    db, saved = hostile
    monkeypatch.setenv("KEFU_DB", str(db))
    wrong, seen = [], set()

    def check(at, where: str) -> None:
        assert not at.exception, (where, at.exception)
        for markdown in markdown_of(at):
            wrong.extend(f"{where}: {problem}" for problem in unescaped(markdown, saved))
            seen.update(TAG.findall(markdown))

    for role in ROLES:
        at = login(DEMO[role])
        for path in sorted(opens(role)):
            at = open_page(at, "" if path == "home" else path)
            check(at, f"{role} {path}")
            if path == "dashboard":                        # the rankings' rows open a person's tickets
                at.session_state["dashboard__section"] = "rankings"
                at = at.run()
            for key in grids(at):
                at = choose_first_row(at, key)
                check(at, f"{role} {path} first row of {key}")
    assert not wrong, "\n".join(wrong[:40])
    # the check looked at real values: user names, and records of most sheets, on the screens
    assert len(seen) > 100, len(seen)


# ------------------------------------------------------------------------------------------------ Chromium

@pytest.fixture(scope="module")
def server(hostile):
    """`streamlit run` on the hostile office (conftest's `chromium` drives it)."""
    from browser import Server, require_chromium
    require_chromium()
    running = Server(hostile[0])
    running.db = hostile[0]
    yield running
    running.stop()


# Elements Markdown makes: none may come from a value. A value's markup texts are marked "hx" (tests/hostile.py);
# an element holding a whole value (a title, a name in bold) holds its tag too.
MADE = ("strong, em, b, i, a, img, h1, h2, h3, h4, h5, h6, del, s, code, pre, blockquote, li, table, hr, .katex, "
        "span[role=img], .stMarkdownColoredText, .stMarkdownColoredBackground, .stMarkdownBadge")
PAGE = """(made) => {
    const found = [];
    for (const el of document.querySelectorAll(made)) {
        const text = el.tagName === "IMG" ? (el.alt || "") : el.textContent;
        if (text.includes("hx") && !/Hx\\d+Q/.test(text)) found.push(el.outerHTML.slice(0, 160));
    }
    for (const el of document.querySelectorAll("a[href], img")) {
        const target = el.getAttribute("href") || el.getAttribute("src") || "";
        if (/^javascript:|e\\.example|x\\.png/.test(target) || el.alt === "Streamlit logo") found.push(el.outerHTML.slice(0, 160));
    }
    return {found, text: document.body.textContent};
}"""
# What Chromium draws: the screens with parts of their own that show records, each record screen with its first
# record opened the way the user does (a click on the list's first row; a tab or a section first), as the role
# that sees most. The generic register screens share the record detail drawn here for knowledge; AppTest above
# checks the Markdown of every screen and every first record for every role. Every page's sidebar shows the
# user's own (hostile) name.
DRAWN = {"manager": {"home": False, "visitors": None, "tickets": "全部工单", "events": None, "knowledge": None,
                     "dashboard": "排名", "survey_results": False, "reports": False},
         "gm": {"customers": None, "members": None},           # only an archive's keeper and the gm read it
         "admin": {"users": False, "audit": None}}
TABS = 4


def as_written(text: str, saved: dict) -> list[str]:
    """The values the page's text holds other than as written (spaces aside; a screen may shorten one)."""
    text = "".join(text.split())
    wrong = []
    for match in TAG.finditer(text):
        value = "".join(saved[match.group()].split())
        value = value[value.index(match.group()):]
        agree = len(os.path.commonprefix([value, text[match.start():]]))
        if agree < min(len(value), SHOWN):
            wrong.append(f"{match.group()}: {text[match.start():match.start() + 60]!r}")
    if "→x" in text or "😄" in text:
        wrong.append("an arrow or an emoji made from a value")
    return wrong


def click_first_row(page, tab: str | None) -> None:
    """Open the list's first record: its tab (or section), then a click where the first row's box is drawn."""
    from browser import settle
    where = page
    if tab:
        page.get_by_role("tab", name=tab).or_(page.get_by_role("radio", name=tab, exact=True)).first.click()
        settle(page)
        panel = page.get_by_role("tabpanel", name=tab)
        where = panel if panel.count() else page
    grid = where.locator("[data-testid='stDataFrame']").first
    grid.wait_for(timeout=20000)
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 14, box["y"] + 35 + 17)
    settle(page)


@pytest.mark.browser
def test_hostile_records_show_as_typed_in_chromium(hostile, server, chromium):
    from browser import log_in, settle
    _, saved = hostile
    wrong, seen = [], set()
    for role, screens in DRAWN.items():
        assert set(screens) <= opens(role)
        paths = list(screens)
        context = chromium.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
        first = context.new_page()
        log_in(first, server.url, DEMO[role])
        tabs = [first] + [context.new_page() for _ in range(TABS - 1)]
        for start in range(0, len(paths), TABS):
            batch = list(zip(tabs, paths[start:start + TABS]))
            for page, path in batch:
                page.goto(f"{server.url}/{'' if path == 'home' else path}")
            for page, path in batch:
                page.bring_to_front()                      # a tab in the background is not drawn
                page.locator("[data-testid='stSidebarNavLink'][aria-current='page']").wait_for(timeout=30000)
                settle(page)
                if screens[path] is not False:
                    click_first_row(page, screens[path])
                drawn = page.evaluate(PAGE, MADE)
                wrong += [f"{role} {path}: {element}" for element in drawn["found"]]
                wrong += [f"{role} {path}: {problem}" for problem in as_written(drawn["text"], saved)]
                seen.update(TAG.findall(drawn["text"]))
        context.close()
    assert not wrong, "\n".join(wrong[:40])
    assert len(seen) > 50, len(seen)
