"""The ingest's caches and shortcuts give exactly what the plain way gives: routing (the
`routed` cache against routing afresh), multi-span pricing (the integer walk that keeps a
resolution until it may change, against re-resolving every span and summing `Fraction`s),
plain CSV lines (split at commas and checked by `record_from_clean_row`, against the csv
module and `record_from_text`), and the driver's form of UTC instants."""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from fractions import Fraction
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from commcredits.domain.call_descriptor import (
    CallDescriptor,
    CallRefused,
    Holder,
    TenantTerms,
    describe,
    routed,
)
from commcredits.domain.funding import CALL_TYPES
from commcredits.domain.rating import NoRate, RatedCall, RatingIndex, Span, price_call
from commcredits.domain.rating import _finish as finish
from commcredits.rating_import import load_cgrates_files, load_cgrates_folder, load_ratecard
from commcredits.services.usage.call_records import record_from_clean_row, record_from_text
from commcredits.services.usage.record_files import FIELDS, Lines, csv_record, read_records

TESTDATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata"

# --- routing -------------------------------------------------------------------------

CALLEES = ["+12025550123", "+18005550100", "+19005550100", "+442079460000", "+447400123456",
           "+4915123456789", "+81312345678", "911", "112", "999", "+1202555012", "12345", " +33142685300 ",
           "+2348021234567", "", "+"]
PRODUCTS = [frozenset(), frozenset({"audio_conferencing"}), frozenset({"domestic_calling_plan"}),
            frozenset({"audio_conferencing_pay_per_minute", "international_calling_plan"})]
LICENSES = [frozenset(), frozenset({"communications_credits"}),
            frozenset({"domestic_calling_plan", "communications_credits"}),
            frozenset({"international_calling_plan"})]


def _described(fn, **kw: object) -> object:
    try:
        return fn(**kw)
    except CallRefused as exc:
        return ("refused", exc.code, exc.detail)


@settings(max_examples=1_500, deadline=None)
@given(st.sampled_from(CALL_TYPES), st.sampled_from(CALLEES), st.sampled_from(["US", "GB", "DE", "JP"]),
       st.sampled_from(LICENSES), st.sampled_from(PRODUCTS))
def test_cached_routing_matches_routing_afresh(call_type: str, callee: str, location: str,
                                               licenses: frozenset[str], products: frozenset[str]) -> None:
    args = {"call_type": call_type, "callee": callee, "location": location, "licenses": licenses,
            "products": products}
    fresh = _described(routed.__wrapped__, **args)
    assert _described(routed, **args) == fresh
    assert _described(routed, **args) == fresh  # the second time from the cache
    tenant = TenantTerms("t", location, "USD", "USD", "prepaid")
    at = datetime(2026, 3, 1, tzinfo=UTC)
    call = _described(describe, call_type=call_type, callee=callee, holder=Holder(location, licenses),
                      tenant=tenant, products=products, started_at=at)
    if isinstance(fresh, tuple) and fresh[0] == "refused":
        assert call == fresh
    else:
        assert isinstance(call, CallDescriptor)
        assert (call.callee, call.route, call.licenses) == (fresh[0], fresh[1], licenses)  # type: ignore[index]


# --- multi-span pricing --------------------------------------------------------------

def _reference_walk(index: RatingIndex, query: tuple[str, str, str, str, str | None], first, t0: int,
                    duration: int) -> RatedCall:
    """The walk as it was: resolve again at every span, sum `Fraction`s."""
    spans: list[Span] = []
    total = Fraction(first.choice.rate.connect_micros)
    pos, res = 0, first
    while pos < duration:
        if pos:
            found = index.resolve(*query[:4], t0 + pos, query[4])
            if found is None:
                raise NoRate(f"no rate for {query[3]!r} at {pos} s into the call")
            res = found
        rate = res.choice.rate
        gi = bisect_right(rate.starts, pos) - 1
        g = rate.groups[gi]
        end = min(duration, res.until - t0)
        if gi + 1 < len(rate.groups):
            end = min(end, rate.starts[gi + 1])
        billed = -(-(end - pos) // g.increment_s) * g.increment_s
        spans.append(Span(pos, end - pos, billed, g.rate, g.unit_s, g.increment_s, g.from_s,
                          rate.id, res.choice.dr.id))
        total += Fraction(g.mnum * billed, g.mden)
        pos += billed
    return finish(first, duration, pos, total.numerator, total.denominator, tuple(spans))


def _split_deck(rate_rows: str, activations: list[int]) -> RatingIndex:
    base = datetime(2026, 3, 1, tzinfo=UTC)
    profiles = "".join(f"K,call,*any,{(base + timedelta(seconds=s)).isoformat()},RP,\n" for s in activations)
    return RatingIndex.build([load_cgrates_files({
        "Destinations.csv": "DST,44\n", "Rates.csv": rate_rows,
        "DestinationRates.csv": "DR,DST,RT,*up,4,,\n", "RatingPlans.csv": "RP,DR,*any,10\n",
        "RatingProfiles.csv": profiles})])


RATES = ["RT,0,0.6,60s,60s,0s\nRT,0,0.6,60s,1s,60s\n", "RT,0.05,0.6,60s,30s,0s\nRT,0,0.6,60s,6s,30s\n",
         "RT,0.1,0.5,60s,60s,0s\nRT,0,0.2,60s,10s,60s\nRT,0,0.1,1m,1s,300s\n", "RT,0,0.37,60s,7s,0s\n"]
SAMPLE = RatingIndex.build([load_ratecard((TESTDATA / "sample-ratecard.csv").read_text(), filename="s.csv")])
TUTORIAL = RatingIndex.build([load_cgrates_folder(TESTDATA / "cgrates-tutorial2")])
SPLIT = [_split_deck(r, [0, 90, 600, 3_000]) for r in RATES]
CALLS = ([(SAMPLE, ("USD", "outbound", "t", n)) for n in ("+12015550123", "+447400123456", "+4915123456789",
                                                         "+2348012345678", "+19005550100")]
         + [(TUTORIAL, ("cgrates.org", "call", s, n)) for s, n in (("2001", "1002"), ("2001", "2033"),
                                                                     ("2001", "3033"), ("1001", "1002"))]
         + [(index, ("K", "call", "u", "+44207")) for index in SPLIT])


def _priced(fn, index: RatingIndex, call: tuple[str, str, str, str], at: datetime, d: int) -> object:
    key, category, subject, number = call
    try:
        return tuple(fn(index, rating_key=key, category=category, subject=subject, number=number,
                        started_at=at, duration_s=d))
    except NoRate as exc:
        return ("no_rate", str(exc))


@settings(max_examples=1_500, deadline=None)
@given(st.sampled_from(CALLS),
       st.datetimes(min_value=datetime(2026, 2, 28, 23), max_value=datetime(2026, 3, 2), timezones=st.just(UTC)),
       st.integers(0, 7_200))
def test_walk_matches_resolving_every_span_with_fractions(which, at: datetime, d: int) -> None:
    import commcredits.domain.rating as rating

    index, call = which
    fast = _priced(price_call, index, call, at, d)
    saved = rating._walk
    rating._walk = _reference_walk  # type: ignore[assignment]
    try:
        slow = _priced(price_call, index, call, at, d)
    finally:
        rating._walk = saved
    assert fast == slow


# --- plain CSV lines -------------------------------------------------------------------

GOOD = {"id": "rec-1", "tenant_id": "11111111-2222-3333-4444-555555555555", "call_type": "user_out",
        "caller": "+12025550100", "callee": "+442079460000", "started_at": "2026-03-01T10:00:00.250000Z",
        "duration_seconds": "61", "user_id": "u-1", "organizer_id": "", "call_id": "call-1", "conference_id": ""}
ODD = {"id": [" ", "x" * 101, "x" * 100, " a "],
       "tenant_id": ["", " ", "t" * 37, " t "],
       "call_type": ["user_in", "bogus", " conf_out ", ""],
       "caller": ["", "+1" * 17, " 1 "],
       "callee": ["", " ", "c" * 33, "911"],
       "started_at": ["", "2026-03-01T10:00:00", "2026-03-01 10:00:00+02:00", "nope", "0001-01-01T00:00:00+01:00",
                      "1970-01-01T00:00:00Z", "9999-12-31T00:00:00Z", " 2026-03-01T10:00:00Z ", "x" * 65],
       "duration_seconds": ["", " ", "-3", "604800", "604801", "1_000", "60.0", " 7 ", "0", "9" * 13, "-0", "+5",
                            "\u0663", "0" * 12, "0" * 11 + "7", "00060"],
       "user_id": [" ", "u" * 37], "organizer_id": ["o" * 36, " o "], "call_id": ["c" * 201, " "],
       "conference_id": ["k" * 200, "  k"]}


@st.composite
def rows(draw: st.DrawFn) -> tuple[list[str], dict[str, str]]:
    columns = draw(st.permutations(list(FIELDS)))
    dropped = draw(st.sets(st.sampled_from([f for f in FIELDS if f != "id"]), max_size=2))
    columns = [c for c in columns if c not in dropped]
    cells = {c: draw(st.one_of(st.just(GOOD[c]), st.sampled_from(ODD[c]))) for c in columns}
    return columns, cells


@settings(max_examples=3_000, deadline=None)
@given(rows())
def test_clean_row_matches_the_full_checks(example: tuple[list[str], dict[str, str]]) -> None:
    columns, cells = example
    spots = tuple(columns.index(f) if f in columns else None for f in FIELDS)
    fast = record_from_clean_row([cells[c] for c in columns], spots)
    if fast is not None:
        assert fast == record_from_text(cells)


@settings(max_examples=1_000, deadline=None)
@given(rows(), st.sampled_from(["", "\r", "\t", '"', "é", "\x00", ",", "\x7f"]), st.sampled_from([b"\n", b"\r\n", b""]))
def test_reading_a_line_matches_the_csv_module(example: tuple[list[str], dict[str, str]], extra: str,
                                               end: bytes) -> None:
    import io

    columns, cells = example
    cells = {**cells, columns[-1]: cells[columns[-1]] + extra}
    line = ",".join(cells[c] for c in columns).encode("utf-8") + end
    data = ",".join(columns).encode() + b"\n" + line
    got = list(read_records(Lines(io.BytesIO(data)), "csv"))
    expected = [(2, csv_record(line, columns, columns.index("id")))] if line.strip() else []
    assert got == expected


# --- instants -------------------------------------------------------------------------

@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9998, 12, 30)),
       st.sampled_from([UTC, ZoneInfo("UTC"), ZoneInfo("Asia/Tokyo"), timezone(timedelta(hours=-3, minutes=-30))]))
def test_driver_instant_matches_the_conversion(naive: datetime, zone: tzinfo) -> None:
    from commcredits.db.raw import Raw

    value = naive.replace(tzinfo=zone)
    plain = value.astimezone(UTC).replace(tzinfo=None)
    for pg in (False, True):
        raw = Raw.__new__(Raw)
        raw.pg = pg
        assert raw.instant(value) == (plain if pg else plain.isoformat(" ", "microseconds"))


def test_ascii_is_printable_exactly_without_control_characters() -> None:
    """The plain-line test (`text.isprintable()` on ASCII text) is the old control-character
    search, character by character; a line whose first byte is not a space is never blank."""
    import re

    control = re.compile(r"[\x00-\x1f\x7f]")
    for code in range(128):
        char = chr(code)
        assert char.isprintable() == (control.search(char) is None)
        line = bytes([code]) + b"x \t\r\n"
        assert (line[:1].isspace() and not line.strip()) == (not line.strip())
