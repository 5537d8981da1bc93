"""Field types: how a declared field is stored, checked and shown.

A type is an object with `parse(field, raw, ctx) -> stored value` (raising FieldError with a message
key from i18n) and `display(field, stored, lang) -> value for a grid`. The registry TYPES maps the
names used in schema/*.toml to these objects; sheets.py checks each declaration against it.
"""
from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from zoneinfo import ZoneInfo

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from urllib.parse import urlparse

from kefu.i18n import label as pick_label, t

# Keys every field may carry; each type adds its own in `extra_keys`.
COMMON_KEYS = {"name", "type", "label", "required", "pii", "index", "help", "default", "readonly", "unique"}
# Lone surrogates count as control characters: Python holds them, but SQLite's UTF-8 cannot.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_SINGLE_LINE_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
TRUE_WORDS = {"1", "true", "yes", "y", "是", "对", "√", "✓"}
FALSE_WORDS = {"0", "false", "no", "n", "否", "不", "×", ""}


class FieldError(Exception):
    """A value a field will not take: `code` is an i18n key (err.*), params fill it in."""

    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class Context:
    """What parsing needs to know about the office."""
    tz: ZoneInfo
    phone_region: str = "CN"


def _str(raw, code: str, **params) -> str:
    """str(raw), or the field's own error for a value without text (an int of more than 4,300 digits)."""
    try:
        return str(raw)
    except ValueError:
        raise FieldError(code, **params) from None


def _blank(raw) -> bool:
    if raw is None:
        return True
    if isinstance(raw, float) and math.isnan(raw):
        return True
    return isinstance(raw, str) and raw.strip() == ""


class Declared(str):
    """A problem of a field's declaration (kefu/sheets.py reports it): the English text as the string, what
    `kefu check` prints, and its i18n key and parameters, so the register designer says it in either language."""

    def __new__(cls, code: str, **params):
        made = super().__new__(cls, t(code, "en", **params))
        made.code, made.params = code, params
        return made


class FieldType:
    name = ""
    sql = "TEXT"
    extra_keys: frozenset = frozenset()

    def parse(self, field, raw, ctx: Context):
        raise NotImplementedError

    def display(self, field, value, lang: str):
        return value

    def check_declaration(self, field) -> list[str]:
        return []


class Text(FieldType):
    name = "text"
    extra_keys = frozenset({"max_length", "pattern", "placeholder"})
    default_max = 200
    control = _SINGLE_LINE_CONTROL

    def parse(self, field, raw, ctx):
        limit = field.options.get("max_length", self.default_max)
        value = unicodedata.normalize("NFC", _str(raw, "err.too_long", max=limit, got="4,300+")).strip()
        if self.control.search(value):
            raise FieldError("err.control_chars")
        if len(value) > limit:
            raise FieldError("err.too_long", max=limit, got=len(value))
        pattern = field.options.get("pattern")
        if pattern and not re.fullmatch(pattern, value):
            raise FieldError("err.bad_pattern", value=_short(value))
        return value

    def check_declaration(self, field):
        problems = []
        limit = field.options.get("max_length")
        if limit is not None and (not isinstance(limit, int) or limit <= 0):
            problems.append(Declared("sch.max_length"))
        pattern = field.options.get("pattern")
        if pattern is not None and not isinstance(pattern, str):
            problems.append(Declared("sch.pattern_invalid", error="not text"))
        elif pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                problems.append(Declared("sch.pattern_invalid", error=str(exc)))
            else:
                from kefu.patterns import slow_reason
                if slow_reason(pattern):
                    problems.append(Declared("sch.pattern_slow", pattern=pattern))
        return problems


class LongText(Text):
    name = "longtext"
    default_max = 5000
    control = _CONTROL


class _Bounded(FieldType):
    extra_keys = frozenset({"min", "max", "step"})

    def _bounds(self, field, value):
        low, high = field.options.get("min"), field.options.get("max")
        if low is not None and value < low:
            raise FieldError("err.too_small", min=low)
        if high is not None and value > high:
            raise FieldError("err.too_large", max=high)
        return value

    def check_declaration(self, field):
        low, high = field.options.get("min"), field.options.get("max")
        for key, bound in (("min", low), ("max", high)):
            if bound is not None and (isinstance(bound, bool) or not isinstance(bound, (int, float))):
                return [Declared("sch.bound_number", what=key)]
        if low is not None and high is not None and low > high:
            return [Declared("sch.min_above_max")]
        return []


class Int(_Bounded):
    name = "int"
    sql = "INTEGER"

    def parse(self, field, raw, ctx):
        if isinstance(raw, bool):
            raise FieldError("err.not_int")
        if isinstance(raw, int):
            value = raw
        else:
            try:
                number = Decimal(str(raw).strip().replace(",", ""))
            except InvalidOperation:
                raise FieldError("err.not_int") from None
            if not number.is_finite():
                raise FieldError("err.not_int")
            if number.copy_abs() > 2**62:     # before int(): "1e999999999" would take minutes and gigabytes
                raise FieldError("err.too_large", max=field.options.get("max", 2**62))
            if number != number.to_integral_value():
                raise FieldError("err.not_int")
            value = int(number)
        if abs(value) > 2**62:
            raise FieldError("err.too_large", max=field.options.get("max", 2**62))
        return self._bounds(field, value)


class Number(_Bounded):
    name = "number"
    sql = "REAL"

    def parse(self, field, raw, ctx):
        if isinstance(raw, bool):
            raise FieldError("err.not_number")
        try:
            value = float(str(raw).strip().replace(",", "")) if not isinstance(raw, (int, float)) else float(raw)
        except (ValueError, OverflowError):                     # OverflowError: an int beyond any float
            raise FieldError("err.not_number") from None
        if not math.isfinite(value):
            raise FieldError("err.not_number")
        return self._bounds(field, value)


class Money(_Bounded):
    """Exact amounts: the table holds integer fen; min/max are declared in yuan."""
    name = "money"
    sql = "INTEGER"
    limit_yuan = Decimal("100000000000")  # far beyond any office amount, well inside 64 bits

    def parse(self, field, raw, ctx):
        if isinstance(raw, bool):
            raise FieldError("err.bad_money")
        too_large = {"max": field.options.get("max", self.limit_yuan)}
        text = repr(raw) if isinstance(raw, float) else _str(raw, "err.too_large", **too_large)
        text = text.strip().replace(",", "").replace("，", "").lstrip("¥￥").strip()
        try:
            yuan = Decimal(text)
        except InvalidOperation:
            raise FieldError("err.bad_money") from None
        if not yuan.is_finite():
            raise FieldError("err.bad_money")
        if yuan.copy_abs() >= self.limit_yuan:      # copy_abs: abs() traps on "1e999999999"
            raise FieldError("err.too_large", **too_large)
        if yuan != yuan.quantize(Decimal("0.01")):
            raise FieldError("err.bad_money")
        self._bounds(field, yuan)
        return int(yuan * 100)

    def display(self, field, value, lang):
        return None if value is None else format_fen(value)


def format_fen(fen: int) -> str:
    """Integer fen as yuan with two decimals: 128050 -> '1280.50'."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y年%m月%d号", "%Y%m%d")


class Date(FieldType):
    """not_after = "today": a date that cannot lie ahead on the office clock (a birthday, a join date)."""
    name = "date"
    extra_keys = frozenset({"not_before", "not_after"})

    def parse(self, field, raw, ctx):
        value = self._read(raw)
        if field is not None and field.options.get("not_after") == "today" \
                and value > datetime.now(ctx.tz).date().isoformat():
            raise FieldError("err.in_future")
        return value

    @staticmethod
    def _read(raw) -> str:
        if isinstance(raw, datetime):
            return raw.date().isoformat()
        if isinstance(raw, date):
            return raw.isoformat()
        text = _str(raw, "err.bad_date").strip()
        for fmt in DATE_FORMATS:
            try:
                return datetime.strptime(text, fmt).date().isoformat()
            except ValueError:
                continue
        for fmt in DATETIME_FORMATS:          # a spreadsheet's date cell saved as text with its midnight
            try:
                moment = datetime.strptime(text, fmt)
            except ValueError:
                continue
            if moment.time() == datetime.min.time():
                return moment.date().isoformat()
        raise FieldError("err.bad_date")

    def check_declaration(self, field):
        limit = field.options.get("not_after")
        return [] if limit in (None, "today") else [Declared("sch.not_after", value=repr(limit))]


DATETIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y.%m.%d %H:%M",
                    "%Y年%m月%d日 %H:%M", "%Y年%m月%d日 %H:%M:%S", "%Y年%m月%d日%H:%M", "%Y年%m月%d日%H时%M分")


class DateTime(FieldType):
    """Stored as ISO-8601 text in the office's offset, to the second: 2026-11-22T14:30:00+08:00."""
    name = "datetime"
    extra_keys = frozenset({"not_before"})

    def parse(self, field, raw, ctx):
        moment = raw if isinstance(raw, datetime) else None
        if moment is None and hasattr(raw, "to_pydatetime"):
            moment = raw.to_pydatetime()
        if moment is None:
            text = _str(raw, "err.bad_datetime").strip()
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                for fmt in DATETIME_FORMATS:
                    try:
                        moment = datetime.strptime(text, fmt)
                        break
                    except ValueError:
                        continue
        if moment is None:
            raise FieldError("err.bad_datetime")
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ctx.tz)
        try:                                    # through UTC: a moment UTC cannot hold would not read back
            return moment.astimezone(timezone.utc).astimezone(ctx.tz).replace(microsecond=0).isoformat()
        except OverflowError:                   # 0001-01-01 or 9999-12-31 moved past the calendar's end
            raise FieldError("err.bad_datetime") from None

    def display(self, field, value, lang):
        return None if value is None else value[:16].replace("T", " ")


class Bool(FieldType):
    name = "bool"
    sql = "INTEGER"

    def parse(self, field, raw, ctx):
        if isinstance(raw, bool):
            return int(raw)
        if isinstance(raw, int) and raw in (0, 1):
            return raw
        word = _str(raw, "err.bad_bool").strip().lower()
        if word in TRUE_WORDS:
            return 1
        if word in FALSE_WORDS:
            return 0
        raise FieldError("err.bad_bool")

    def display(self, field, value, lang):
        return None if value is None else bool(value)


class Choice(FieldType):
    """Stores the choice's value; accepts the value or its label in either language."""
    name = "choice"
    extra_keys = frozenset({"choices"})

    def match(self, field, raw):
        text = _str(raw, "err.bad_choice", value="…").strip()
        for choice in field.choices:
            if text == choice["value"] or text in (choice.get("en"), choice.get("zh")):
                return choice["value"]
        folded = _fold(text)                  # 'company', 'A(优)' typed with half-width brackets
        for choice in field.choices:
            if folded in (_fold(choice["value"]), _fold(choice.get("en")), _fold(choice.get("zh"))):
                return choice["value"]
        raise FieldError("err.bad_choice", value=_short(text))

    def parse(self, field, raw, ctx):
        return self.match(field, raw)

    def display(self, field, value, lang):
        return None if value is None else field.choice_label(value, lang)

    def check_declaration(self, field):
        choices = field.options.get("choices")
        if not isinstance(choices, list) or not choices:
            return [Declared("sch.no_choices")]
        problems, seen = [], set()
        for position, choice in enumerate(choices, 1):
            if not isinstance(choice, dict) or not isinstance(choice.get("value"), str) or not choice["value"]:
                problems.append(Declared("sch.choice_no_value", position=position))
                continue
            if not choice.get("en") or not choice.get("zh"):
                problems.append(Declared("sch.choice_labels", value=choice["value"]))
            extra = set(choice) - {"value", "en", "zh"}
            if extra:
                problems.append(f"choice '{choice['value']}' has unknown key(s) {', '.join(sorted(extra))}")
            if choice["value"] in seen:
                problems.append(Declared("sch.choice_twice", value=choice["value"]))
            seen.add(choice["value"])
        return problems


class MultiChoice(Choice):
    """A JSON list of choice values, in declaration order: ["a", "c"]."""
    name = "multichoice"

    def parse(self, field, raw, ctx):
        if isinstance(raw, str):
            stripped = raw.strip()
            if stripped.startswith("["):
                try:
                    raw = json.loads(stripped)
                except (json.JSONDecodeError, RecursionError):    # RecursionError: "[[[[..." nested deep
                    raise FieldError("err.bad_choice", value=_short(stripped)) from None
            else:
                raw = [part for part in re.split(r"[,，、;；]", stripped) if part.strip()]
        if not isinstance(raw, (list, tuple, set)):
            raise FieldError("err.bad_choice", value=_short(_str(raw, "err.bad_choice", value="…")))
        chosen = {self.match(field, item) for item in raw}
        if not chosen:
            return None
        return json.dumps([c["value"] for c in field.choices if c["value"] in chosen], ensure_ascii=False)

    def display(self, field, value, lang):
        if value is None:
            return None
        return ", ".join(field.choice_label(v, lang) for v in json.loads(value))


class Phone(FieldType):
    """Validated with Google's libphonenumber; a home-region number is stored as its national digits
    (13812345678, 01062345678), any other as E.164 (+447911123456)."""
    name = "phone"

    def parse(self, field, raw, ctx):
        text = _str(raw, "err.bad_phone", value="…").strip()
        number = None if len(text) > 40 or re.search(r"[A-Za-z]", text) else _normal_phone(text, ctx.phone_region)
        if number is None:
            raise FieldError("err.bad_phone", value=_short(text))
        return number


_CN_MOBILE = re.compile(r"1[0-9]{10}")
_CN_LANDLINE = re.compile(r"0[2-9][0-9]{8,10}|010[0-9]{8}")     # not 00 (abroad) nor 01 + a mobile
_FIXED = (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


@lru_cache(maxsize=50000)
def _normal_phone(text: str, region: str) -> str | None:
    """The stored form of a phone number, or None if it is not a valid number (cached: imports and
    bulk loads repeat numbers, and parsing is the slowest check we make)."""
    if region == "CN" and _CN_MOBILE.fullmatch(text):
        # Most numbers an office types are mobiles as 11 plain digits: libphonenumber still decides whether
        # the number exists, but needs no parsing, and a mobile's national form is those digits (4x faster).
        mobile = phonenumbers.PhoneNumber(country_code=86, national_number=int(text))
        return text if phonenumbers.is_valid_number(mobile) else None
    if region == "CN" and _CN_LANDLINE.fullmatch(text):
        # A landline with its area code (01062345678, 075512345678): the trunk 0 and the rest are its national
        # form, when libphonenumber says the rest is a fixed line (400/800/950 numbers, say, keep no 0).
        line = phonenumbers.PhoneNumber(country_code=86, national_number=int(text[1:]))
        if phonenumbers.number_type(line) in _FIXED:
            return text
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    if phonenumbers.region_code_for_number(number) == region:
        national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        return re.sub(r"\D", "", national)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class Email(FieldType):
    name = "email"

    def parse(self, field, raw, ctx):
        text = _str(raw, "err.bad_email", value="…").strip()
        try:
            return validate_email(text, check_deliverability=False).normalized
        except EmailNotValidError:
            raise FieldError("err.bad_email", value=_short(text)) from None


class Url(FieldType):
    name = "url"

    def parse(self, field, raw, ctx):
        text = _str(raw, "err.bad_url").strip()
        if len(text) > 2000 or _SINGLE_LINE_CONTROL.search(text) or " " in text:
            raise FieldError("err.bad_url")
        parts = urlparse(text)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise FieldError("err.bad_url")
        return text


class Rating(FieldType):
    name = "rating"
    sql = "INTEGER"

    def parse(self, field, raw, ctx):
        try:
            value = Int().parse(field, raw, ctx)
        except FieldError:
            raise FieldError("err.bad_rating") from None
        if not 1 <= value <= 5:
            raise FieldError("err.bad_rating")
        return value

    def display(self, field, value, lang):
        return None if value is None else "★" * value


class Ref(FieldType):
    """The id of a row in another sheet; the store checks that the row exists."""
    name = "ref"
    sql = "INTEGER"
    extra_keys = frozenset({"sheet"})

    def parse(self, field, raw, ctx):
        if isinstance(raw, bool):
            raise FieldError(self.missing)
        try:
            value = int(raw)
        except (TypeError, ValueError, OverflowError):          # None, "bob", float("inf")
            raise FieldError(self.missing) from None
        if not 0 < value < 2**63:              # SQLite's integers end at 2**63 - 1
            raise FieldError(self.missing)
        return value

    missing = "err.bad_ref"

    def check_declaration(self, field):
        if not isinstance(field.options.get("sheet"), str):
            return [Declared("sch.ref_needs_sheet")]
        return []


class User(Ref):
    """The id of a staff account; the store checks that it exists and is active."""
    name = "user"
    extra_keys = frozenset()
    missing = "err.bad_user"

    def check_declaration(self, field):
        return []


TYPES: dict[str, FieldType] = {
    t.name: t for t in (Text(), LongText(), Int(), Number(), Money(), Date(), DateTime(), Bool(), Choice(),
                         MultiChoice(), Phone(), Email(), Url(), Rating(), Ref(), User())
}


def _fold(text) -> str:
    return "".join(unicodedata.normalize("NFKC", str(text or "")).casefold().split())


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def mask(value) -> str | None:
    """Hide most of a personal value: 13812345678 -> 138****5678, a@b.cn -> a***@b.cn, 张三丰 -> 张**."""
    if value is None or value == "":
        return value
    text = str(value)
    if "@" in text:
        local, _, domain = text.partition("@")
        return f"{local[:1]}***@{domain}"
    if len(text) >= 7 and re.fullmatch(r"\+?[\d\-\sXx]+", text):
        return text[:3] + "*" * (len(text) - 7) + text[-4:]
    if len(text) <= 1:
        return "*"
    return text[:1] + "*" * min(len(text) - 1, 6)


def choice_label(field, value: str, lang: str) -> str:
    for choice in field.choices:
        if choice["value"] == value:
            return pick_label(choice, lang)
    return value
