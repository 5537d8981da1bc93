"""kefu.ui.text.plain: record data as Markdown that Streamlit shows exactly as written. What each output
renders to was checked in Chromium against Streamlit 1.67 (tests/test_browser_hostile.py renders hostile
records on the real screens); here the Markdown itself is pinned, and every value comes back unchanged."""
import re
import string

import pytest
from hypothesis import example, given, strategies as st

from apptest import shown
from kefu.ui.text import SPLIT, plain

S = SPLIT


@pytest.mark.parametrize("value, markdown", [
    # CommonMark and GFM: every ASCII punctuation character escaped
    ("**bold** _em_", r"\*\*bold\*\* \_em\_"),
    ("[click](javascript:alert(3))", rf"\[click\]\(javascript\:{S}alert\(3\)\)"),
    ("![pic](x.png)", r"\!\[pic\]\(x\.png\)"),
    ("# Head", r"\# Head"),
    ("<b>html</b> &amp;", r"\<b\>html\<\/b\> \&amp\;"),
    ("- item", r"\- item"),
    ("1. one", r"1\. one"),
    ("> quote", r"\> quote"),
    ("| a | b |", r"\| a \| b \|"),
    ("~~del~~", rf"\~{S}\~del\~{S}\~"),
    ("```fence", r"\`\`\`fence"),
    ("back\\slash", r"back\\slash"),
    ("$x^2$", r"\$x\^2\$"),
    # Streamlit's directives and shortcodes: the colon escaped, and the text run split after it
    (":red[red]", rf"\:{S}red\[red\]"),
    (":material/home:", rf"\:{S}material\/home\:{S}"),
    (":smile: :streamlit:", rf"\:{S}smile\:{S} \:{S}streamlit\:{S}"),
    # bare addresses, which GFM links after parsing
    ("https://e.example", rf"https\:{S}\/\/e\.example"),
    ("www.e.example", rf"www{S}\.e\.example"),
    ("WWW.e.example", rf"WWW{S}\.e\.example"),
    ("a@b.example", rf"a{S}\@b\.example"),
    # Streamlit's arrows and dashes
    ("a -> b", rf"a \-{S}\> b"),
    ("a <-> b", rf"a \<{S}\-{S}\> b"),
    ("a -- b >= c ~= d", rf"a \-{S}\- b \>{S}\= c \~{S}\= d"),
    ("a - b > c", r"a \- b \> c"),
    # lines: a hard break each, leading spaces as references (four would open a code block)
    ("one\ntwo", "one\\\ntwo"),
    ("one\r\ntwo\rthree", "one\\\ntwo\\\nthree"),
    ("one\n\ntwo", "one\\\n\\\ntwo"),
    ("    code", "&#32;&#32;&#32;&#32;code"),
    ("\tcode", "&#9;code"),
    ("a  b", "a  b"),
    ("ends\n\n", "ends"),
    # not text
    (None, ""),
    (3.5, r"3\.5"),
    (1280, "1280"),
    ("中文：**粗体**", r"中文：\*\*粗体\*\*"),
])
def test_plain(value, markdown):
    assert plain(value) == markdown


@given(st.text(alphabet=st.sampled_from(string.printable + "中文：“”—"), max_size=80))
@example(":\t")            # a tab after a colon starts a run, not a line: no code block, shown as typed
def test_every_value_comes_back_as_written(value):
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    markdown = plain(value)
    assert shown(markdown) == value.rstrip("\n")
    # nothing of the value is left for Markdown to read: each punctuation character is escaped (or part of
    # an empty span), a line never starts with a space, and no shortcode, address or arrow stays in one run
    assert not re.search(r"(^|\n)[ \t]", markdown)
    runs = markdown.split(SPLIT)
    for run in runs:
        bare = re.sub(r"\\.|&#32;|&#9;", "", run, flags=re.DOTALL)
        assert not set(bare) & set(string.punctuation)
        assert not re.search(r":\w", shown(run))
        assert not re.search(r"(?i)www\.|[-<>=~]{2}|\w@", shown(run))


def test_a_long_line_stays_one_line():
    line = "x" * 10_000
    assert plain(line) == line
    assert plain("*" * 10_000) == "\\*" * 10_000
