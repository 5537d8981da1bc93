"""Office-tunable rule files (rules/*.toml): reading them, and the error that names file and key."""
from __future__ import annotations

import tomllib
from pathlib import Path


class RulesError(Exception):
    """A rule file is missing a key or holds a value that cannot be used; names file and key."""


def read_rules(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RulesError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{path}: {exc}") from None
