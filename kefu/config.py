"""Office settings from office.toml (KEFU_CONFIG overrides the path, KEFU_DB the database)."""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("zh", "en")


class ConfigError(Exception):
    """office.toml is missing a key or holds a value the app cannot use."""


@dataclass(frozen=True)
class Settings:
    office_name: dict
    timezone: str
    default_language: str
    phone_region: str
    session_idle_hours: float
    lockout_attempts: int
    lockout_minutes: float
    min_password_length: int
    late_grace_minutes: int
    roster_days_in_a_row: int = 6       # more working days in a row than this is flagged on the roster (做六休一)
    backup_folder: str = "backups"      # beside the database file unless absolute
    backup_keep: int = 14
    backup_daily: bool = True           # the app makes the day's backup itself
    privacy_visitor_days: int = 180     # a visit's personal data (ID number, phone) is emptied after this
    privacy_daily: bool = True          # the app empties what is due each day (kefu/privacy.py)
    privacy_names: tuple = ()           # "sheet.field [if field = value]": the name of the person a record is about
    privacy_contacts: tuple = ()        # "sheet.field [if field = value]": a contact person named in a record

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def config_path() -> Path:
    return Path(os.environ.get("KEFU_CONFIG", ROOT / "office.toml"))


DB_URL_SCHEMES = ("postgresql://", "postgres://")     # KEFU_DB naming a PostgreSQL database (kefu/pg.py)


def db_path() -> Path | str:
    """The SQLite file, or a PostgreSQL database's URL (postgresql://...) as it is written."""
    target = os.environ.get("KEFU_DB", str(ROOT / "data" / "kefu.db"))
    return target if target.startswith(DB_URL_SCHEMES) else Path(target)


def _positive(path: Path, key: str, value, kind=float):
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{path}: {key} must be a positive number, not {value!r}")
    return kind(value)


@lru_cache(maxsize=4)
def load(path: str | None = None) -> Settings:
    file = Path(path) if path else config_path()
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{file}: file not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: {exc}") from exc
    office = data.get("office", {})
    security = data.get("security", {})
    visitors = data.get("visitors", {})
    backup = data.get("backup", {})
    roster = data.get("roster", {})
    privacy = data.get("privacy", {})
    timezone = office.get("timezone", "Asia/Shanghai")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"{file}: office.timezone {timezone!r} is not a known time zone") from exc
    language = office.get("default_language", "zh")
    if language not in LANGUAGES:
        raise ConfigError(f"{file}: office.default_language must be one of {LANGUAGES}, not {language!r}")
    return Settings(
        office_name=office.get("name", {"en": "Kefu Desk", "zh": "客服台"}),
        timezone=timezone,
        default_language=language,
        phone_region=office.get("phone_region", "CN"),
        session_idle_hours=_positive(file, "security.session_idle_hours", security.get("session_idle_hours", 8)),
        lockout_attempts=_positive(file, "security.lockout_attempts", security.get("lockout_attempts", 5), int),
        lockout_minutes=_positive(file, "security.lockout_minutes", security.get("lockout_minutes", 15)),
        min_password_length=_positive(file, "security.min_password_length", security.get("min_password_length", 8), int),
        late_grace_minutes=int(visitors.get("late_grace_minutes", 5)),
        roster_days_in_a_row=_positive(file, "roster.days_in_a_row", roster.get("days_in_a_row", 6), int),
        backup_folder=str(backup.get("folder", "backups")),
        backup_keep=_positive(file, "backup.keep", backup.get("keep", 14), int),
        backup_daily=_flag(file, "backup.daily", backup.get("daily", True)),
        privacy_visitor_days=_positive(file, "privacy.visitor_days", privacy.get("visitor_days", 180), int),
        privacy_daily=_flag(file, "privacy.daily", privacy.get("daily", True)),
        privacy_names=_texts(file, "privacy.names", privacy.get("names", [])),
        privacy_contacts=_texts(file, "privacy.contacts", privacy.get("contacts", [])),
    )


def _flag(path: Path, key: str, value) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{path}: {key} must be true or false, not {value!r}")
    return value


def _texts(path: Path, key: str, value) -> tuple:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: {key} must be a list of texts, not {value!r}")
    return tuple(value)
