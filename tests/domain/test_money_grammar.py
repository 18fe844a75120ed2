"""The money-string grammar under random input: every string up to 1 KB is parsed or refused
quickly, never with anything but MoneyError, and what is accepted is exactly the grammar of
API.md "Money strings" and round-trips through format_micros."""

from __future__ import annotations

import time
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commcredits.domain.money import MAX_AMOUNT_UNITS, Money, MoneyError, format_micros, parse_micros

# Strings that look like numbers and probe each refused form: signs, exponents (the 14.7 s
# "1e600000"), underscores, several points, long digit runs (up to 1 KB), and non-ASCII digits.
_NUMBERISH = st.from_regex(
    r"[+\-]?[0-9_]{0,600}(\.[0-9_]{0,400})?([eE][+\-]?[0-9]{1,8})?", fullmatch=True
)
_UNICODE_DIGITS = st.text(st.characters(categories=["Nd"]), min_size=1, max_size=40)
_PLAIN = st.text(alphabet="0123456789.", max_size=1024)
_VALID = st.builds(lambda whole, frac: f"{whole}.{frac}" if frac else str(whole),
                   st.integers(0, MAX_AMOUNT_UNITS - 1), st.text(alphabet="0123456789", max_size=6))
ANY_TEXT = st.one_of(st.text(max_size=1024), _NUMBERISH, _UNICODE_DIGITS, _PLAIN, _VALID)


def _in_grammar(text: str) -> bool:
    """The grammar said another way (no regular expression), as an oracle."""
    whole, _, frac = text.partition(".")
    ascii_digits = set("0123456789")
    return (bool(whole) and set(whole) <= ascii_digits and (("." not in text) or (bool(frac) and set(frac) <= ascii_digits))
            and len(text) <= 32 and len(frac) <= 6 and int(whole) < MAX_AMOUNT_UNITS)


def _timed(text: str) -> tuple[int | None, float]:
    started = time.perf_counter()
    try:
        micros: int | None = parse_micros(text)
    except MoneyError:
        micros = None
    return micros, time.perf_counter() - started


def test_any_string_up_to_1_kb_is_parsed_or_refused_in_under_1_ms() -> None:
    """Times each call with perf_counter. The 99th percentile must be under 1 ms and the
    slowest call under 20 ms. A call can be delayed by the garbage collector or by another
    process on a loaded 2-core machine, which says nothing about the parser: a call slower
    than 1 ms is timed 5 more times and its fastest time counts (a slow input stays slow on
    every try; a preemption does not repeat). The old Decimal parser took seconds for one
    input ("1e600000") and fails both bounds by far; parsing now takes a few microseconds
    (a length check, then a regular expression over at most 32 characters)."""
    timings: list[float] = []

    @settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(ANY_TEXT)
    def run(text: str) -> None:
        micros, seconds = _timed(text)
        if seconds > 0.001:
            seconds = min(seconds, *(_timed(text)[1] for _ in range(5)))
        timings.append(seconds)
        assert (micros is not None) == _in_grammar(text), text
        if micros is not None:
            assert micros == int(Decimal(text) * 1_000_000)  # Decimal is safe here: the text is short
            for decimals in range(7):
                assert parse_micros(format_micros(micros, decimals)) == micros

    run()
    timings.sort()
    p99, slowest = timings[int(len(timings) * 0.99)], timings[-1]
    assert len(timings) >= 1000
    assert p99 < 0.001, f"99th percentile {p99 * 1e6:.0f} µs"
    assert slowest < 0.020, f"slowest call {slowest * 1e3:.1f} ms"


@given(st.sampled_from(["USD", "JPY", "KWD", "EUR"]), st.integers(0, 10**9), st.integers(0, 4))
def test_purchases_accept_the_currency_decimals_only(currency: str, cents: int, decimals: int) -> None:
    text = str(cents) if decimals == 0 else f"{cents // 10**decimals}.{cents % 10**decimals:0{decimals}d}"
    allowed = {"USD": 2, "EUR": 2, "JPY": 0, "KWD": 3}[currency]
    try:
        money = Money.parse(text, currency, purchase=True)
    except MoneyError as exc:
        assert decimals > allowed and "decimals" in str(exc)
    else:
        assert decimals <= allowed and money.micros == cents * 10 ** (6 - decimals)
        assert Money.parse(str(money), currency, purchase=True) == money
