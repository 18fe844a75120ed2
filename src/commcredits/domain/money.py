"""Exact money: integer micro-units inside, decimal strings at the edges.

1 unit of any currency = 1,000,000 micros. Floats never touch an amount: parsing checks the
text against the money-string grammar (a bounded length and a regular expression) and then
builds the integer from its digits; formatting is integer arithmetic.
`Money` is a frozen value (amount + ISO 4217 currency); plain `int` micros are used on hot
paths where the currency is known from context.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MICROS = 1_000_000
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
# Money strings (API.md): plain ASCII digits, one optional "." with digits after it. `[0-9]`,
# not `\d` (which matches any Unicode digit, e.g. "５"), and fullmatch (a `$` would let a
# trailing newline through).
_MONEY_STRING = re.compile(r"([0-9]+)(?:\.([0-9]+))?", re.ASCII)
MAX_MONEY_TEXT = 32  # characters, checked before anything else: 12 digits, ".", 6 decimals and zeros to spare
# Amounts are below 10^12 units (10^18 micros): far above any purchase limit and, with a
# 9x margin, inside int64 micros, so a balance of several maximal amounts still fits.
MAX_AMOUNT_UNITS = 10**12

# ISO 4217 minor units for the currencies a provider is likely to bill in; others default to 2.
_MINOR_UNITS: dict[str, int] = {
    "BHD": 3, "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "IQD": 3, "ISK": 0, "JOD": 3, "JPY": 0,
    "KMF": 0, "KRW": 0, "KWD": 3, "LYD": 3, "OMR": 3, "PYG": 0, "RWF": 0, "TND": 3, "UGX": 0,
    "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
}
_KNOWN_CURRENCIES = frozenset(
    (
        "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL "
        "BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP "
        "ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR "
        "IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL "
        "LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR "
        "NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD "
        "SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX "
        "USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL "
    ).split()
)


class MoneyError(ValueError):
    """An amount or currency that cannot be accepted; `code` is the API error code and
    `too_many_decimals` says the text is a money string with more decimals than allowed (a
    form then says how many the currency has)."""

    def __init__(self, message: str, code: str = "validation_error", *, too_many_decimals: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.too_many_decimals = too_many_decimals


def minor_units(currency: str) -> int:
    """Decimals a currency allows in a purchase (ISO 4217 exponent)."""
    return _MINOR_UNITS.get(currency, 2)


def check_currency(currency: str) -> str:
    """Return the currency code if it is one we bill in, else raise MoneyError."""
    if currency not in _KNOWN_CURRENCIES:
        raise MoneyError(f"unknown currency {currency!r}; use an ISO 4217 code such as USD")
    return currency


def parse_micros(text: str, *, max_decimals: int = 6) -> int:
    """Parse a money string ("50.00") into micros, by the grammar of API.md "Money strings".

    ASCII digits with at most one `.` followed by at most `max_decimals` digits (the
    currency's minor units for a purchase, 6 for internal amounts); no sign, exponent,
    underscore, whitespace or non-ASCII digit; below `MAX_AMOUNT_UNITS`. The text is
    checked by length and a regular expression BEFORE any number is built, so no input
    costs more than a few microseconds (`Decimal("1e600000")` took seconds of CPU).
    Raises MoneyError with a reason a user can act on; the caller names the field.
    """
    if not 0 <= max_decimals <= 6:
        raise ValueError("max_decimals must be between 0 and 6 (micros)")
    if not isinstance(text, str):
        raise MoneyError('must be a decimal string such as "50.00", not a JSON number')
    if len(text) > MAX_MONEY_TEXT:
        raise MoneyError(f"is longer than {MAX_MONEY_TEXT} characters")
    match = _MONEY_STRING.fullmatch(text)
    if match is None:
        raise MoneyError(f'{text!r} is not a money string such as "50.00": ASCII digits with at most '
                         'one "." and no sign, exponent, "_", spaces or digit grouping')
    whole, frac = match.group(1), match.group(2) or ""
    if len(frac) > max_decimals:
        raise MoneyError(f"{text!r} has more than {max_decimals} decimals", too_many_decimals=True)
    units = int(whole)  # at most MAX_MONEY_TEXT ASCII digits: cheap
    if units >= MAX_AMOUNT_UNITS:
        raise MoneyError(f"{text!r} is too large: the limit is below {MAX_AMOUNT_UNITS:,}")
    return units * MICROS + int(frac.ljust(6, "0"))


def format_micros(micros: int, decimals: int = 2) -> str:
    """Format micros as a decimal string with at least `decimals` places, never losing digits.

    Extra non-zero micro digits are kept (a charge of 0.7167 in a 2-decimal currency prints
    "0.7167"), so the string always round-trips exactly.
    """
    sign = "-" if micros < 0 else ""
    whole, frac = divmod(abs(micros), MICROS)
    digits = f"{frac:06d}".rstrip("0")
    if len(digits) < decimals:
        digits = digits.ljust(decimals, "0")
    return f"{sign}{whole}.{digits}" if digits else f"{sign}{whole}"


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount in one currency."""

    micros: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.micros, int) or isinstance(self.micros, bool):
            raise MoneyError("micros must be an int")
        if not INT64_MIN <= self.micros <= INT64_MAX:
            raise MoneyError("amount out of int64 range")
        if len(self.currency) != 3 or not self.currency.isupper():
            raise MoneyError(f"bad currency code {self.currency!r}")

    @classmethod
    def parse(cls, text: str, currency: str, *, purchase: bool = False) -> Money:
        """Parse an API amount; for purchases, allow only the currency's minor units."""
        decimals = minor_units(currency) if purchase else 6
        return cls(parse_micros(text, max_decimals=decimals), currency)

    @property
    def text(self) -> str:
        """The API's decimal string: the currency's minor units, more when the micros need
        them ("0.7167" USD), so it round-trips exactly through `Money.parse`."""
        return format_micros(self.micros, minor_units(self.currency))

    def __str__(self) -> str:
        return self.text

    @property
    def is_zero(self) -> bool:
        return self.micros == 0

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.micros + other.micros, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.micros - other.micros, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.micros, self.currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise MoneyError(f"cannot mix {self.currency} and {other.currency}")
