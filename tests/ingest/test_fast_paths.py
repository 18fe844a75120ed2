"""The hot path's shortcuts give exactly what the plain way gives: numbers (against plain
libphonenumber), the local month of an instant (against astimezone), and call records
stored by the batch writer (against SQLAlchemy's insert)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from commcredits.db import usage
from commcredits.db.schema import tenants
from commcredits.db.schema_usage import call_records
from commcredits.domain.numbers import InvalidNumber, is_emergency, parse_number, parse_with_phonenumbers
from commcredits.services.usage.charging import _LocalMonth

CODES = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
EXAMPLES = sorted({
    phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164)
    for region in phonenumbers.SUPPORTED_REGIONS for kind in range(11)
    if (n := phonenumbers.example_number_for_type(region, kind)) is not None})


def _outcome(fn, text: str) -> object:
    try:
        return fn(text)
    except InvalidNumber as exc:
        return ("invalid", str(exc))


numbers = st.one_of(
    st.builds(lambda cc, rest: f"+{cc}{rest}", st.sampled_from(CODES), st.text("0123456789", max_size=16)),
    st.builds(lambda e, i, d: e[:i] + d + e[i + 1:], st.sampled_from(EXAMPLES), st.integers(1, 20),
              st.sampled_from("0123456789")),
    st.builds(lambda e, cut: e[:-cut] if cut else e, st.sampled_from(EXAMPLES), st.integers(0, 3)),
    st.text("+0123456789 ()-", max_size=20),
)


@settings(max_examples=3_000, deadline=None)
@given(numbers)
def test_fast_number_path_matches_libphonenumber(number: str) -> None:
    assert _outcome(parse_number.__wrapped__, number) == _outcome(parse_with_phonenumbers, number)


def test_every_example_number_of_every_region_classifies_the_same() -> None:
    for number in EXAMPLES:
        assert _outcome(parse_number.__wrapped__, number) == _outcome(parse_with_phonenumbers, number), number


@given(st.sampled_from([*EXAMPLES, "+911", "+112"]), st.sampled_from(["US", "GB", "DE", "IN", "BR"]))
def test_numbers_with_a_plus_are_never_emergency_numbers(number: str, region: str) -> None:
    from phonenumbers import shortnumberinfo

    assert is_emergency(number, region) is shortnumberinfo.is_emergency_number(number, region) is False


ZONES = ["UTC", "America/New_York", "America/Los_Angeles", "America/Santiago", "America/St_Johns",
         "Europe/London", "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Chatham", "Pacific/Apia",
         "America/Sao_Paulo", "Africa/Casablanca"]


@settings(max_examples=2_000, deadline=None)
@given(st.sampled_from(ZONES), st.lists(st.integers(0, 30 * 365 * 86_400), min_size=1, max_size=40))
def test_local_month_matches_astimezone(zone_name: str, offsets: list[int]) -> None:
    zone = ZoneInfo(zone_name)
    month = _LocalMonth(zone)
    for offset in sorted(offsets):
        instant = datetime(2000, 1, 1, tzinfo=UTC) + timedelta(seconds=offset)
        for t in (instant, instant.replace(day=1, hour=0, minute=0, second=0)):
            assert month(t) == t.astimezone(zone).strftime("%Y-%m")


def test_batch_writer_stores_what_sqlalchemy_stores(engine) -> None:
    now = datetime(2026, 1, 20, 15, 0, 0, 123456, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(tenants.insert().values(
            id="t", name="T", country="US", currency="USD", billing_country="US", timezone="UTC",
            billing_mode="prepaid", rating_key="USD", purchase_mitigation=False, partner_funded=False, deficit=0,
            reserved=0, created_at=now))
        row = {"id": "x", "tenant_id": "t", "call_id": None, "conference_id": "conf", "call_type": "user_out",
               "user_id": "u", "organizer_id": None, "caller": "+1", "callee": "+442079460000",
               "destination_country": "GB", "number_type": "fixed_line", "domestic": 0,
               "started_at": now.astimezone(ZoneInfo("Asia/Tokyo")), "duration_s": 61, "category": "outbound",
               "funding": "credits", "capability": "communications_credits", "pool_minutes": 0, "charge": 30000,
               "credits_charge": 30000, "postpaid_charge": 0, "connect_fee": 0, "currency": "USD", "rating": None,
               "policy_blocked": True, "transaction_id": 7, "created_at": now.replace(microsecond=0)}
        conn.execute(call_records.insert(), [row])
        usage.insert_record_rows(conn, [tuple({**row, "id": "y"}[c] for c in usage.RECORD_COLUMNS)])
        stored = {r.id: r._asdict() for r in conn.execute(select(call_records))}
        raw = {r[0]: r[1:] for r in conn.execute(text("SELECT id, started_at, created_at FROM call_records"))}
    assert {**stored["x"], "id": "y"} == stored["y"]
    assert raw["x"] == raw["y"]
    assert stored["y"]["started_at"] == now
