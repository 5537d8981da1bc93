"""Record data on screen as text: `plain(value)` is the one way a value from a record, a file, a user name
or a URL parameter goes into Streamlit Markdown (st.markdown, captions, alerts, toasts, labels).

Streamlit's Markdown is CommonMark with GFM plus its own additions, and the value must show as typed under
all of them:
- CommonMark and GFM syntax (emphasis, links, images, headings, lists, quotes, tables, code, HTML, entities,
  `:red[...]` directives, `$` math): every ASCII punctuation character is backslash-escaped, which CommonMark
  defines as the literal character, and a line's leading spaces become character references (else four of
  them open a code block). A line break is a hard break, so lines show as typed and never start a block.
- Transforms Streamlit runs on the parsed text itself, where an escape no longer counts: bare web and e-mail
  addresses made links, `:material_x:`, `:streamlit:` and emoji shortcodes made icons and pictures, and
  `->`, `<-`, `--`, `>=`, `<=`, `~=` made arrows and dashes. These act on one run of text at a time, so an
  empty span (`:color[]`, Streamlit's colour directive with no colour) splits the run where such a match
  would begin: after every colon, between two of `<->=~`, before `@`, and between `www` and its dot.
  The span has no text: the page's text is the value's.

Only for Markdown: a selectbox's options, a grid's cells, st.text and st.code show text as it is.
"""
from __future__ import annotations

import string

SPLIT = ":color[]"                     # an empty <span>: ends one run of text, starts the next
_ESCAPED = frozenset(string.punctuation)    # CommonMark's escapable characters: all of ASCII punctuation
_ARROWS = frozenset("<->=~")
_LEADING = {" ": "&#32;", "\t": "&#9;"}


def plain(value) -> str:
    """`value` (any type; None is empty) as Markdown that Streamlit shows exactly as written."""
    if value is None:
        return ""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")   # a last break shows as "\\"
    return "\\\n".join(_line(line) for line in text.split("\n"))


def _line(line: str) -> str:
    out = []
    leading = True
    for i, char in enumerate(line):
        if leading and char in _LEADING:
            out.append(_LEADING[char])
            continue
        leading = False
        before = line[i - 1] if i else ""
        if (char in _ARROWS and before in _ARROWS and before) or char == "@" \
                or (char == "." and line[max(0, i - 3):i].lower() == "www"):
            out.append(SPLIT)
        out.append("\\" + char if char in _ESCAPED else char)
        if char == ":":
            out.append(SPLIT)
    return "".join(out)
