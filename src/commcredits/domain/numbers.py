"""Phone numbers on libphonenumber (`phonenumbers`): E.164, country, type, emergency.

`parse_number` normalises what a user or a switch sends ("+44 20 7946 0000",
"(201) 555-0123" with region US) into a frozen `PhoneNumber`; the rating engine only needs
`digits` (E.164 without '+'), the rest explains and classifies the call. Results are cached
(the same numbers recur in call traffic). Invalid input raises `InvalidNumber` with
`code = "invalid_number"`.

Emergency numbers are short codes (911, 112, 999) that only mean something dialled from a
region, so `is_emergency` takes that region and uses libphonenumber's short-number data.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneNumberType, shortnumberinfo

NON_GEOGRAPHIC = "001"

_TYPES: dict[int, str] = {
    PhoneNumberType.FIXED_LINE: "fixed_line",
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.PREMIUM_RATE: "premium_rate",
    PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.PERSONAL_NUMBER: "personal_number",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "uan",
    PhoneNumberType.VOICEMAIL: "voicemail",
    PhoneNumberType.UNKNOWN: "unknown",
}


class InvalidNumber(ValueError):
    """Text that is not a valid phone number."""

    code = "invalid_number"


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    """A valid number: e164 "+442079460000", digits "442079460000", country "GB"."""

    e164: str
    digits: str
    country_code: int
    country: str | None
    number_type: str

    def __post_init__(self) -> None:
        if not (self.e164.startswith("+") and self.e164[1:] == self.digits
                and self.digits.isdigit()):
            raise InvalidNumber(f"{self.e164!r} is not in E.164 form")


def _region(region: str | None) -> str | None:
    return region.upper() if region else None


@lru_cache(maxsize=65_536)
def parse_number(text: str, default_region: str | None = None) -> PhoneNumber:
    """Parse and validate a number; national forms need `default_region` (ISO alpha-2)."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidNumber("phone number is empty")
    try:
        parsed = phonenumbers.parse(text, _region(default_region))
    except phonenumbers.NumberParseException as exc:
        hint = "" if text.strip().startswith("+") or default_region else (
            " (use +<country code> or give the region)")
        raise InvalidNumber(f"{text!r} is not a phone number: {exc._msg}{hint}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidNumber(f"{text!r} is not a valid phone number")
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    region = phonenumbers.region_code_for_number(parsed)
    return PhoneNumber(
        e164=e164, digits=e164[1:], country_code=int(parsed.country_code or 0),
        country=None if region in (None, NON_GEOGRAPHIC) else str(region),
        number_type=_TYPES.get(phonenumbers.number_type(parsed), "unknown"))


@lru_cache(maxsize=4_096)
def is_emergency(text: str, region: str) -> bool:
    """Whether `text` dialled in `region` (ISO alpha-2) reaches emergency services."""
    if not text or not region:
        return False
    return bool(shortnumberinfo.is_emergency_number(text, region.upper()))


def is_domestic(number: PhoneNumber, usage_location: str) -> bool:
    """Whether a call from `usage_location` (ISO alpha-2) to `number` stays in that country.

    Non-geographic numbers (+800, +882...) are never domestic. Within a shared country code
    (NANP +1) a call between two regions, e.g. US -> CA, is international.
    """
    return number.country is not None and number.country == usage_location.upper()
