"""Pinyin search keys, so that `zhangsan` or `zs` finds 张三 (pypinyin does the reading)."""
from __future__ import annotations

import re
from functools import lru_cache

from pypinyin import Style, lazy_pinyin
from pypinyin.seg.simpleseg import seg


@lru_cache(maxsize=65536)
def _word(word: str) -> tuple[str, ...]:
    return tuple(lazy_pinyin(word, style=Style.NORMAL, errors="default"))


@lru_cache(maxsize=65536)
def _key(text: str) -> str:
    # pypinyin's own segmentation, then each word's reading: words repeat across names (有限公司, 科技,
    # 张), so a bulk load or an import reads most of them from the cache; the result is lazy_pinyin's.
    syllables = [s.strip().lower() for word in seg(text) for s in _word(word) if s.strip()]
    if not syllables:
        return ""
    return "".join(syllables) + " " + "".join(s[0] for s in syllables)


def search_key(texts) -> str | None:
    """'张三' -> 'zhangsan zs'; several texts are joined with ' | ' so a match stays inside one."""
    keys = [_key(t) for t in texts if t]
    keys = [k for k in keys if k]
    return " | ".join(keys) or None


_RUNS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[0-9a-z]+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def short_grams(texts) -> str:
    """Tokens for one- and two-character searches, which a trigram index cannot answer: each Chinese
    character and each pair of neighbours ('张三丰' -> 张 三 丰 张三 三丰), and each Latin word or number
    whole (a short query matches it as a prefix). Space-separated, for an FTS5 unicode61 index."""
    tokens = []
    for text in texts:
        if not text:
            continue
        for run in _RUNS.findall(str(text).lower()):
            if _CJK.fullmatch(run):
                tokens.extend(run)
                tokens.extend(run[i:i + 2] for i in range(len(run) - 1))
            else:
                tokens.append(run)
    return " ".join(tokens)


def is_cjk(text: str) -> bool:
    return bool(_CJK.fullmatch(text))


def search_values(pinyin_texts, searched_texts) -> tuple[str | None, str]:
    """A record's two search columns besides its own: its pinyin key (None for a sheet without pinyin fields,
    given no texts) and the short grams of its searched texts and that key, in the store's column order."""
    key = search_key(pinyin_texts) if pinyin_texts else None
    return key, short_grams([*searched_texts, key] if pinyin_texts else searched_texts)


def search_values_many(rows: list[tuple[tuple, tuple]]) -> list[tuple[str | None, str]]:
    """search_values for many records at once: what a second process works out ahead of an import."""
    return [search_values(pinyin_texts, searched) for pinyin_texts, searched in rows]
