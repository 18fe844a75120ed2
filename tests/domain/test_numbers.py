"""Phone numbers: E.164 normalisation, country, type, emergency, domestic."""

from __future__ import annotations

import pytest

from commcredits.domain.numbers import (
    InvalidNumber,
    PhoneNumber,
    is_domestic,
    is_emergency,
    parse_number,
)


@pytest.mark.parametrize(("text", "region", "e164", "country", "kind"), [
    ("+44 20 7946 0000", None, "+442079460000", "GB", "fixed_line"),
    ("020 7946 0000", "gb", "+442079460000", "GB", "fixed_line"),
    ("+447400123456", None, "+447400123456", "GB", "mobile"),
    ("(201) 555-0123", "US", "+12015550123", "US", "fixed_line_or_mobile"),
    ("+1 800 555 0100", None, "+18005550100", "US", "toll_free"),
    ("+19005550100", None, "+19005550100", "US", "premium_rate"),
    ("+4915123456789", None, "+4915123456789", "DE", "mobile"),
    ("+44800123456", None, "+44800123456", "GB", "toll_free"),
    ("+16135550123", None, "+16135550123", "CA", "fixed_line_or_mobile"),
    ("+80012345678", None, "+80012345678", None, "toll_free"),  # non-geographic
])
def test_parse_number(text: str, region: str | None, e164: str, country: str | None,
                      kind: str) -> None:
    number = parse_number(text, region)
    assert (number.e164, number.digits, number.country, number.number_type) == (
        e164, e164[1:], country, kind)


@pytest.mark.parametrize(("text", "region"), [
    ("", None), ("hello", None), ("0207 946 0000", None), ("+4418001234", None),
    ("+1 555", None), ("12", "US")])
def test_invalid_numbers(text: str, region: str | None) -> None:
    with pytest.raises(InvalidNumber) as err:
        parse_number(text, region)
    assert err.value.code == "invalid_number" and str(err.value)


def test_parsing_is_cached() -> None:
    assert parse_number("+442079460000") is parse_number("+442079460000")


@pytest.mark.parametrize(("text", "region", "expected"), [
    ("911", "US", True), ("112", "DE", True), ("999", "GB", True), ("112", "GB", True),
    ("110", "DE", True), ("911", "DE", False), ("999", "US", False), ("12345", "US", False),
    ("", "US", False)])
def test_emergency(text: str, region: str, expected: bool) -> None:
    assert is_emergency(text, region) is expected


def test_domestic() -> None:
    uk = parse_number("+442079460000")
    assert is_domestic(uk, "GB") and is_domestic(uk, "gb") and not is_domestic(uk, "US")
    assert not is_domestic(parse_number("+16135550123"), "US")  # NANP but Canada
    assert not is_domestic(parse_number("+80012345678"), "US")


def test_phone_number_value_checks_itself() -> None:
    with pytest.raises(InvalidNumber):
        PhoneNumber("442079460000", "442079460000", 44, "GB", "fixed_line")
