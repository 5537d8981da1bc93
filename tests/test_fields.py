"""Every field type takes good input in the forms people type it, and refuses bad input by name."""
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings, strategies as st

from kefu.fields import Context, FieldError, TYPES, format_fen, mask
from kefu.sheets import Field, Sheet, ValidationError

CTX = Context(tz=ZoneInfo("Asia/Shanghai"), phone_region="CN")
CHOICES = [{"value": "a", "en": "Apple", "zh": "苹果"}, {"value": "b", "en": "Pear", "zh": "梨"}]


def field(type_name: str, **options) -> Field:
    return Field(name="f", type_name=type_name, label={"en": "Amount", "zh": "金额"}, options=options)


@pytest.mark.parametrize("type_name, options, raw, stored", [
    ("text", {}, "  张三 ", "张三"),
    ("text", {}, "😀 emoji ok", "😀 emoji ok"),
    ("text", {}, "'; DROP TABLE visitors; --", "'; DROP TABLE visitors; --"),
    ("longtext", {}, "line one\nline two", "line one\nline two"),
    ("int", {}, "42", 42),
    ("int", {}, 7, 7),
    ("int", {"min": 1, "max": 5}, "5", 5),
    ("number", {}, "3.5", 3.5),
    ("money", {}, "1280.50", 128050),
    ("money", {}, "¥1,280.5", 128050),
    ("money", {}, 0.1, 10),
    ("money", {}, 19.99, 1999),
    ("money", {}, "10000.00", 1000000),
    ("date", {}, "2026-11-22", "2026-11-22"),
    ("date", {}, "2026年11月22日", "2026-11-22"),
    ("date", {}, "2026/1/5", "2026-01-05"),                        # as spreadsheets write dates
    ("date", {}, "2026年1月5号", "2026-01-05"),
    ("date", {}, "2026-01-05 00:00:00", "2026-01-05"),             # a date cell saved as text with its midnight
    ("datetime", {}, "2026年1月5日 14:30", "2026-01-05T14:30:00+08:00"),
    ("choice", {"choices": CHOICES}, " apple ", "a"),              # case and spaces of an English label
    ("choice", {"choices": CHOICES}, "ＡＰＰＬＥ", "a"),            # full-width letters typed with a Chinese IME
    ("date", {}, date(2026, 2, 28), "2026-02-28"),
    ("datetime", {}, "2026-11-22 14:30", "2026-11-22T14:30:00+08:00"),
    ("datetime", {}, datetime(2026, 11, 22, 6, 30, tzinfo=ZoneInfo("UTC")), "2026-11-22T14:30:00+08:00"),
    ("datetime", {}, "2026-11-22T14:30:00+08:00", "2026-11-22T14:30:00+08:00"),
    ("bool", {}, True, 1),
    ("bool", {}, "否", 0),
    ("choice", {"choices": CHOICES}, "a", "a"),
    ("choice", {"choices": CHOICES}, "梨", "b"),
    ("choice", {"choices": CHOICES}, "Apple", "a"),
    ("multichoice", {"choices": CHOICES}, ["b", "a"], '["a", "b"]'),
    ("multichoice", {"choices": CHOICES}, "梨、苹果", '["a", "b"]'),
    ("phone", {}, "138 1234 5678", "13812345678"),
    ("phone", {}, "+86 138-1234-5678", "13812345678"),
    ("phone", {}, "010-62345678", "01062345678"),
    ("phone", {}, "+44 7911 123456", "+447911123456"),
    ("email", {}, "Li.Lei@Example.COM", "Li.Lei@example.com"),
    ("url", {}, "https://example.cn/a?b=1", "https://example.cn/a?b=1"),
    ("rating", {}, "4", 4),
    ("ref", {"sheet": "x"}, "12", 12),
    ("user", {}, 3, 3),
])
def test_good_input_is_stored_normalised(type_name, options, raw, stored):
    assert field(type_name, **options).parse(raw, CTX) == stored


@pytest.mark.parametrize("type_name, options, raw, code", [
    ("text", {"max_length": 5}, "toolong", "err.too_long"),
    ("text", {}, "x" * 10_000, "err.too_long"),
    ("text", {}, "bell\x07", "err.control_chars"),
    ("text", {}, "two\nlines", "err.control_chars"),
    ("text", {"pattern": "[0-9]{17}[0-9Xx]"}, "12345", "err.bad_pattern"),
    ("longtext", {}, "y" * 5001, "err.too_long"),
    ("int", {}, "4.5", "err.not_int"),
    ("int", {}, "abc", "err.not_int"),
    ("int", {}, True, "err.not_int"),
    ("int", {"min": 1}, "0", "err.too_small"),
    ("int", {"max": 200}, "201", "err.too_large"),
    ("int", {}, "9" * 30, "err.too_large"),
    ("number", {}, "nan", "err.not_number"),
    ("number", {}, "inf", "err.not_number"),
    ("money", {}, "12.345", "err.bad_money"),
    ("money", {}, "twelve", "err.bad_money"),
    ("money", {}, "1e400", "err.too_large"),
    ("money", {"min": 0}, "-1.00", "err.too_small"),
    ("date", {}, "2026-02-30", "err.bad_date"),
    ("date", {}, "yesterday", "err.bad_date"),
    ("date", {}, "2026-01-05 14:30", "err.bad_date"),               # a time of day is not a date
    ("datetime", {}, "25:00", "err.bad_datetime"),
    ("bool", {}, "maybe", "err.bad_bool"),
    ("choice", {"choices": CHOICES}, "cherry", "err.bad_choice"),
    ("multichoice", {"choices": CHOICES}, ["a", "zzz"], "err.bad_choice"),
    ("phone", {}, "138-abcd-5678", "err.bad_phone"),
    ("phone", {}, "12345", "err.bad_phone"),
    ("phone", {}, "=1+1", "err.bad_phone"),
    ("email", {}, "not-an-email", "err.bad_email"),
    ("email", {}, "a@b", "err.bad_email"),
    ("url", {}, "javascript:alert(1)", "err.bad_url"),
    ("url", {}, "example.com", "err.bad_url"),
    ("rating", {}, "0", "err.bad_rating"),
    ("rating", {}, "6", "err.bad_rating"),
    ("ref", {"sheet": "x"}, "-3", "err.bad_ref"),
    ("ref", {"sheet": "x"}, float("inf"), "err.bad_ref"),
    ("user", {}, "bob", "err.bad_user"),
])
def test_bad_input_is_refused_with_a_reason(type_name, options, raw, code):
    with pytest.raises(FieldError) as caught:
        field(type_name, **options).parse(raw, CTX)
    assert caught.value.code == code


def test_blank_is_none_for_every_type():
    for name in TYPES:
        options = {"choices": CHOICES} if "choice" in name else {"sheet": "x"} if name == "ref" else {}
        assert field(name, **options).parse("  ", CTX) is None
        assert field(name, **options).parse(None, CTX) is None


def test_validation_messages_name_the_field_in_both_languages():
    sheet = Sheet(name="s", label={"en": "S", "zh": "表"}, permissions={},
                  fields=[Field("name", "text", {"en": "Name", "zh": "姓名"}, required=True),
                          Field("phone", "phone", {"en": "Phone", "zh": "联系电话"})])
    with pytest.raises(ValidationError) as caught:
        sheet.validate({"name": "", "phone": "12ab"}, CTX)
    assert caught.value.messages("zh") == ["姓名：必填", "联系电话：“12ab”不是有效的电话号码"]
    assert caught.value.messages("en") == ["Name: this field is required", "Phone: '12ab' is not a valid phone number"]


@pytest.mark.parametrize("fen, text", [(0, "0.00"), (5, "0.05"), (128050, "1280.50"), (-1999, "-19.99")])
def test_money_shows_two_decimals(fen, text):
    assert format_fen(fen) == text


@pytest.mark.parametrize("value, masked", [
    ("13812345678", "138****5678"), ("li.lei@example.com", "l***@example.com"), ("张三丰", "张**"),
    ("110101199003070014", "110***********0014"), (None, None),
])
def test_mask_hides_most_of_a_personal_value(value, masked):
    assert mask(value) == masked


hostile = st.one_of(st.text(max_size=300), st.text(min_size=5000, max_size=6000), st.integers(), st.floats(),
                    st.booleans(), st.none(), st.lists(st.text(max_size=5), max_size=3),
                    st.sampled_from(["=cmd|' /C calc'!A0", "'; DROP TABLE x; --", "\x00", "١٢٣", "１２３", "😀" * 60]))


@settings(max_examples=60, deadline=None)
@given(raw=hostile)
def test_any_input_is_stored_clean_or_refused_with_a_reason(raw):
    for name in TYPES:
        options = {"choices": CHOICES} if "choice" in name else {"sheet": "x"} if name == "ref" else {}
        try:
            value = field(name, **options).parse(raw, CTX)
        except FieldError as exc:
            assert exc.code.startswith("err.")
            continue
        assert value is None or isinstance(value, (str, int, float))
        if isinstance(value, str) and name in ("text", "phone", "email", "url"):
            assert "\x00" not in value and len(value) <= 2000


def test_plain_mobile_digits_are_judged_as_libphonenumber_parses_them():
    """The fast way for 11 plain digits gives what parsing them does, valid or not."""
    import phonenumbers
    from kefu.fields import _normal_phone
    for text in ["13812345678", "14012345678", "10012345678", "16612345678", "19912345678", "17400012345",
                 "14512345678", "19212345678", "12345678901", "18800000000", "11111111111"]:
        number = phonenumbers.parse(text, "CN")
        national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        expected = "".join(ch for ch in national if ch.isdigit()) if phonenumbers.is_valid_number(number) else None
        assert _normal_phone.__wrapped__(text, "CN") == expected, text


def test_landlines_with_an_area_code_are_judged_as_libphonenumber_parses_them():
    """The fast way for 0 + area code + number gives what parsing gives, for Beijing and other area codes,
    0 + a mobile, 00 (a number abroad), and 400/800/950 numbers, whose national form has no 0."""
    import random

    import phonenumbers
    from kefu.fields import _normal_phone
    pick = random.Random(8)
    starts = ["10", "20", "21", "23", "24", "28", "311", "371", "512", "755", "898", "13", "19", "0", "400",
              "800", "950", "5", "9"]
    texts = [f"0{pick.choice(starts)}" + "".join(pick.choice("0123456789") for _ in range(pick.randint(6, 9)))
             for _ in range(3000)]
    kinds = set()
    for text in texts + ["01062345678", "075512345678", "04001234567", "08001234567", "09501234567"]:
        try:
            number = phonenumbers.parse(text, "CN")
            valid = phonenumbers.is_valid_number(number)
        except phonenumbers.NumberParseException:
            valid = False
        if not valid:
            expected = None
        elif phonenumbers.region_code_for_number(number) == "CN":
            national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
            expected = "".join(ch for ch in national if ch.isdigit())
        else:
            expected = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        kinds.add("valid" if expected == text else "other form" if expected else "invalid")
        assert _normal_phone.__wrapped__(text, "CN") == expected, text
    assert kinds == {"valid", "other form", "invalid"}          # the sample has each kind
