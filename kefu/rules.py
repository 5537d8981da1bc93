"""Office-tunable rule files (rules/*.toml): reading them, and the error that names file and key."""
from __future__ import annotations

import copy
import tomllib
from pathlib import Path

_PARSED: dict[Path, tuple[str, dict]] = {}      # path -> (the file's text when last parsed, its rules)


class RulesError(Exception):
    """A rule file is missing a key or holds a value that cannot be used; names file and key."""


def read_rules(path: Path) -> dict:
    """The file's rules as they are on disk now: an edit takes effect at the next call, without a restart.
    The same text is not parsed again (an import of a year's tickets asks for the SLA rules at every row);
    each caller gets its own copy to change."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        cached = _PARSED.get(path)
        if cached is None or cached[0] != text:
            cached = _PARSED[path] = (text, tomllib.loads(text))
    except FileNotFoundError:
        raise RulesError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{path}: {exc}") from None
    return copy.deepcopy(cached[1])
