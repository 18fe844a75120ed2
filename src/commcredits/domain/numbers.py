"""Phone numbers on libphonenumber (`phonenumbers`): E.164, country, type, emergency.

`parse_number` normalises what a user or a switch sends ("+44 20 7946 0000",
"(201) 555-0123" with region US) into a frozen `PhoneNumber`; the rating engine only needs
`digits` (E.164 without '+'), the rest explains and classifies the call. Results are cached
(the same numbers recur in call traffic). Invalid input raises `InvalidNumber` with
`code = "invalid_number"`.

Call records carry numbers already in E.164 ("+" and digits), and a file of a million
records holds hundreds of thousands of distinct ones, so the first sight of a number must be
cheap. libphonenumber's own path costs about 120 µs: `parse`, then `is_valid_number`,
`region_code_for_number` and `number_type`, which between them find the region three times
and test the number against the region's patterns twice. `_classify_e164` does the same
work once: split off the country code, find the region as `region_code_for_number` does
(leading digits, else the first region whose patterns accept the number, whose type then
is the answer), and test the type patterns of that region's metadata once, in
libphonenumber's order. Input libphonenumber would rewrite (a national prefix after the
country code, e.g. "+44 0...") takes the ordinary path. A property test compares both paths
on many numbers of every country.

Emergency numbers are short codes (911, 112, 999) that only mean something dialled from a
region, so `is_emergency` takes that region and uses libphonenumber's short-number data; a
number written with "+" is never one (libphonenumber's rule), which skips the lookup for
every E.164 callee.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata, PhoneNumberType, shortnumberinfo

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
# the order of libphonenumber's number-type test; fixed line and mobile come after
_SPECIAL = (("premium_rate", "premium_rate"), ("toll_free", "toll_free"), ("shared_cost", "shared_cost"),
            ("voip", "voip"), ("personal_number", "personal_number"), ("pager", "pager"),
            ("uan", "uan"), ("voicemail", "voicemail"))
_MIN_NSN, _MAX_NSN = 2, 17  # libphonenumber's bounds on a national significant number


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
    if isinstance(text, str) and text[:1] == "+":
        fast = _e164_number(text)
        if fast is not None:
            return fast
    return parse_with_phonenumbers(text, default_region)


@lru_cache(maxsize=65_536)
def _e164_number(text: str) -> PhoneNumber | None:
    """`_from_e164`, cached by the text alone: it does not read the region, and the same
    E.164 callee comes from callers of many usage locations (`parse_number`'s cache keys on
    both). An invalid number raises, which is not cached."""
    return _from_e164(text)


def parse_with_phonenumbers(text: str, default_region: str | None = None) -> PhoneNumber:
    """The reference path: libphonenumber's parse, is_valid_number and number_type."""
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


def _from_e164(text: str) -> PhoneNumber | None:
    """Classify strict E.164 text ("+" then ASCII digits) as libphonenumber would; None when
    the input needs libphonenumber's full parse (or its error message)."""
    digits = text[1:]
    if not (digits.isascii() and digits.isdigit()) or len(digits) <= _MIN_NSN or digits[0] == "0":
        return None
    for size in (1, 2, 3):
        regions = COUNTRY_CODE_TO_REGION_CODE.get(int(digits[:size]))
        if regions is not None:
            break
    else:
        return None
    nsn = digits[size:]
    if not _MIN_NSN <= len(nsn) <= _MAX_NSN or _may_strip_prefix(int(digits[:size]), regions[0], nsn):
        return None
    region, kind = _classify(int(digits[:size]), regions, nsn)
    if kind == "unknown":
        raise InvalidNumber(f"{text!r} is not a valid phone number")
    return PhoneNumber(e164=text, digits=digits, country_code=int(digits[:size]),
                       country=None if region == NON_GEOGRAPHIC else region, number_type=kind)


def _may_strip_prefix(country_code: int, main_region: str, nsn: str) -> bool:
    """Whether parse might take a national prefix off `nsn` (then the slow path decides)."""
    pattern = _Desc.of(country_code, main_region).national_prefix
    return pattern is not None and pattern.match(nsn) is not None


def _classify(country_code: int, regions: tuple[str, ...] | list[str], nsn: str) -> tuple[str | None, str]:
    """(region, type) as region_code_for_number and number_type find them; type "unknown"
    means invalid."""
    if len(regions) == 1:
        return regions[0], _Desc.of(country_code, regions[0]).type_of(nsn)
    for region in regions:
        desc = _Desc.of(country_code, region)
        if desc.missing:
            continue
        if desc.leading is not None:
            if desc.leading.match(nsn):
                return region, desc.type_of(nsn)
            continue
        kind = desc.type_of(nsn)
        if kind != "unknown":
            return region, kind
    return None, "unknown"


class _Desc:
    """One region's metadata compiled for `type_of` (libphonenumber's _number_type_helper)."""

    _cache: ClassVar[dict[tuple[int, str], _Desc]] = {}

    def __init__(self, country_code: int, region: str) -> None:
        md = (PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
              if region == NON_GEOGRAPHIC else PhoneMetadata.metadata_for_region(region, None))
        self.missing = md is None
        self.leading = re.compile(md.leading_digits) if md is not None and md.leading_digits else None
        prefix = md.national_prefix_for_parsing if md is not None else None
        self.national_prefix = re.compile(prefix) if prefix else None
        self.general = self._compile(md.general_desc if md else None)
        self.special = tuple((name, self._compile(getattr(md, attr) if md else None)) for attr, name in _SPECIAL)
        self.fixed = self._compile(md.fixed_line if md else None)
        self.mobile = self._compile(md.mobile if md else None)
        self.same_fixed_mobile = bool(md and md.same_mobile_and_fixed_line_pattern)

    @classmethod
    def of(cls, country_code: int, region: str) -> _Desc:
        found = cls._cache.get((country_code, region))
        if found is None:
            found = cls._cache[(country_code, region)] = cls(country_code, region)
        return found

    @staticmethod
    def _compile(desc: object) -> tuple[frozenset[int], re.Pattern[str] | None] | None:
        if desc is None:
            return None
        pattern = getattr(desc, "national_number_pattern", None)
        lengths = frozenset(getattr(desc, "possible_length", ()) or ())
        return lengths, re.compile(pattern) if pattern else None

    @staticmethod
    def _matches(nsn: str, desc: tuple[frozenset[int], re.Pattern[str] | None] | None) -> bool:
        if desc is None:
            return False
        lengths, pattern = desc
        if lengths and len(nsn) not in lengths:
            return False
        return pattern is not None and pattern.fullmatch(nsn) is not None

    def type_of(self, nsn: str) -> str:
        if self.missing or not self._matches(nsn, self.general):
            return "unknown"
        for name, desc in self.special:
            if self._matches(nsn, desc):
                return name
        if self._matches(nsn, self.fixed):
            if self.same_fixed_mobile or self._matches(nsn, self.mobile):
                return "fixed_line_or_mobile"
            return "fixed_line"
        if not self.same_fixed_mobile and self._matches(nsn, self.mobile):
            return "mobile"
        return "unknown"


def is_emergency(text: str, region: str) -> bool:
    """Whether `text` dialled in `region` (ISO alpha-2) reaches emergency services."""
    if not text or not region or text[0] == "+":
        return False
    return _is_emergency(text, region.upper())


@lru_cache(maxsize=4_096)
def _is_emergency(text: str, region: str) -> bool:
    return bool(shortnumberinfo.is_emergency_number(text, region))


def is_domestic(number: PhoneNumber, usage_location: str) -> bool:
    """Whether a call from `usage_location` (ISO alpha-2) to `number` stays in that country.

    Non-geographic numbers (+800, +882...) are never domestic. Within a shared country code
    (NANP +1) a call between two regions, e.g. US -> CA, is international.
    """
    return number.country is not None and number.country == usage_location.upper()
