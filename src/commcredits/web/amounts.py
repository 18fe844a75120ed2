"""Amounts as people type them into the admin center's forms, turned into the API's strict
grammar (digits, an optional "." and the fraction: "1000.00") before the money parser sees
them. Only the web forms do this; the API and the CLI stay strict.

People type the marks of their locale: "1,000.00" in the US or the UK, "1.000,00" or "50,00"
in Germany, "1 000,00" in France, "1'000.00" in Switzerland. The tenant's country says which
mark is the decimal one; the page's own way of printing amounts ("1,000.00") is accepted
everywhere too, because the hints and errors print amounts that way. The rules:

- spaces (also no-break and thin spaces) and apostrophes are grouping, and dropped;
- with both "," and ".", the last one is the decimal mark and the other groups thousands;
- a mark that appears more than once groups thousands;
- a single mark followed by exactly three digits is ambiguous ("1,000"): it means what the
  locale's marks say (grouping in the US, a decimal comma in Germany); followed by one, two
  or more than three digits it can only be the decimal mark;
- grouping must be in threes ("1,00,000" and "10,00.5" are refused), with digits between.

The table of decimal-comma countries is small and deliberate (CLDR's values for the
countries' main language); a country not in it uses "." for decimals and "," for grouping.
"""

from __future__ import annotations

import re

# CLDR: the decimal mark of each country's main language is "," here, "." elsewhere
DECIMAL_COMMA = frozenset(
    "AD AL AM AO AR AT AZ BA BE BG BO BR BY CL CM CO CR CU CV CY CZ DE DK EC EE ES FI FO FR GE GL GR HR HU ID "
    "IS IT KZ LT LU LV MA MC MD ME MK MZ NC NL NO PL PT PY RO RS RU SE SI SK SM SN TN TR UA UY UZ VE VN ZA".split()
)
_SPACES = re.compile(r"[\s\u00a0\u202f\u2009']")
_DIGITS = re.compile(r"-?\d+")


class AmountFormatError(ValueError):
    """Text that is not an amount in any of the accepted spellings."""


def decimal_mark(country: str) -> str:
    return "," if country.upper() in DECIMAL_COMMA else "."


def example(country: str) -> str:
    """How a thousand is typed in the tenant's locale, for hints and errors."""
    return "1.000,00" if decimal_mark(country) == "," else "1,000.00"


def normalise_amount(text: str, country: str) -> str:
    """'1,000.00' (US), '1.000,00' or '50,00' (DE) -> '1000.00' / '1000.00' / '50.00'.

    An empty text stays empty (the caller decides whether that is allowed). Anything that
    is not a number in an accepted spelling raises AmountFormatError."""
    s = _SPACES.sub("", text)
    if s == "" or _DIGITS.fullmatch(s):
        return s
    sign, body = ("-", s[1:]) if s.startswith("-") else ("", s)
    if not re.fullmatch(r"[\d.,]+", body):
        raise AmountFormatError(text)
    decimal = _decimal_of(body, decimal_mark(country))
    whole, _, fraction = body.rpartition(decimal) if decimal else (body, "", "")
    if decimal and not fraction.isdigit():
        raise AmountFormatError(text)
    return sign + _ungroup(whole or "0", text) + (f".{fraction}" if decimal else "")


def _decimal_of(body: str, locale_decimal: str) -> str | None:
    """Which mark is the decimal one, or None when every mark groups thousands."""
    commas, dots = body.count(","), body.count(".")
    if commas and dots:
        return "," if body.rfind(",") > body.rfind(".") else "."
    mark = "," if commas else "."
    if commas + dots > 1:
        return None
    after = len(body) - body.index(mark) - 1
    if after == 3 and mark != locale_decimal:
        return None
    return mark


def _ungroup(whole: str, original: str) -> str:
    groups = re.split(r"[.,]", whole)
    if len(groups) > 1 and not (1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])):
        raise AmountFormatError(original)
    digits = "".join(groups)
    if not digits.isdigit():
        raise AmountFormatError(original)
    return digits
