"""The PSTN usage report as a careful customer reads it: an emergency call is a domestic call
to the emergency services, the Connection Fee column shows the fee, and the report's totals
reconcile with the journal."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tests.as_json import balances, funds, reports
from tests.conftest import SHARED

from commcredits.services.access import tenants as tenant_svc
from commcredits.services.access.principal import OPERATOR
from commcredits.services.payments import payment_methods
from commcredits.services.rating import rating
from commcredits.services.usage.charging import charge_records

AT = datetime(2026, 1, 14, 15, 0, tzinfo=UTC)


@pytest.fixture
def tenant(rt) -> tuple[str, str]:
    card = (SHARED / "testdata" / "sample-ratecard.csv").read_bytes()
    rating.import_deck(rt, OPERATOR, rating.parse_deck(format_="ratecard", files={"card.csv": card}))
    tid = tenant_svc.create_tenant(rt, OPERATOR, name="Contoso", country="US", currency="USD", billing_country="US",
                                   timezone="America/New_York").id
    uid = tenant_svc.create_user(rt, OPERATOR, tid, email="ann@contoso.example", display_name="Ann",
                                 usage_location="US", roles=[], licenses=["communications_credits"]).id
    pm = payment_methods.add_payment_method(rt, OPERATOR, tid, card_number="4242424242424242", exp_month=12,
                                            exp_year=2031, cvc="123").id
    assert funds.add_funds(rt, OPERATOR, tid, amount="50.00", payment_method_id=pm, idempotency_key="f")[0] == 201
    return tid, uid


def _charge(rt, tid: str, uid: str, rid: str, callee: str, seconds: int) -> None:
    out = charge_records(rt, [{"id": rid, "tenant_id": tid, "call_type": "user_out", "caller": "+12025550100",
                               "callee": callee, "started_at": AT.isoformat(), "duration_seconds": seconds,
                               "user_id": uid}])[0]
    assert out.status == "charged", out


def _report(rt, tid: str) -> dict:
    return reports.usage_page(rt, OPERATOR, tid, start=None, end=None, user_id=None, call_type=None, cursor=None,
                              limit=100)


def test_emergency_calls_are_domestic_calls_to_the_emergency_services(rt, tenant) -> None:
    tid, uid = tenant
    _charge(rt, tid, uid, "sos", "911", 120)
    row = _report(rt, tid)["items"][0]
    assert (row["Number Type"], row["Domestic/International"], row["Destination Dialed"], row["Charge"]) == \
        ("emergency", "Domestic", "Emergency services (United States)", "0.00")


def test_totals_reconcile_with_the_journal(rt, tenant) -> None:
    tid, uid = tenant
    _charge(rt, tid, uid, "uk", "+442079460000", 600)  # 0.25
    _charge(rt, tid, uid, "premium", "+19002001234", 60)  # 1.99 + 0.25 connection fee
    _charge(rt, tid, uid, "sos", "911", 60)
    page = _report(rt, tid)
    assert page["totals"]["calls"] == 3
    assert page["totals"]["charge"] == page["totals"]["credits"] == "2.49"
    txns = balances.transactions_view(rt, OPERATOR, tid, cursor=None, limit=100)["items"]
    usage = sum(int(t["amount"].replace(".", "").replace("-", "")) for t in txns if t["type"] == "usage")
    assert usage == 249  # in cents: the journal's usage equals the report's credits total
    assert balances.balance_view(rt, OPERATOR, tid)["balance"] == "47.51"
    assert sum(float(i["Charge"]) * 100 for i in page["items"]) == pytest.approx(249)


def test_connection_fee_column_shows_the_fee(rt, tenant) -> None:
    tid, uid = tenant
    _charge(rt, tid, uid, "premium", "+19002001234", 60)
    page = _report(rt, tid)
    row = page["items"][0]
    assert (row["Charge"], row["Connection Fee"]) == ("2.24", "0.25")
    assert page["totals"]["connection_fee"] == "0.25"
