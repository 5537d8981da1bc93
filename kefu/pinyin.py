"""Pinyin search keys, so that `zhangsan` or `zs` finds 张三 (pypinyin does the reading)."""
from __future__ import annotations

from functools import lru_cache

from pypinyin import Style, lazy_pinyin


@lru_cache(maxsize=65536)
def _key(text: str) -> str:
    syllables = [s.lower() for s in lazy_pinyin(text, style=Style.NORMAL, errors="default") if s.strip()]
    if not syllables:
        return ""
    return "".join(syllables) + " " + "".join(s[0] for s in syllables)


def search_key(texts) -> str | None:
    """'张三' -> 'zhangsan zs'; several texts are joined with ' | ' so a match stays inside one."""
    keys = [_key(t) for t in texts if t]
    keys = [k for k in keys if k]
    return " | ".join(keys) or None
