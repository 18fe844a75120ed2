"""The usage report's totals per call type and per capability (what paid) are summed by the
database and reconcile with the journal: the credits of a period's calls are the usage
debits the journal holds for that period, however they are grouped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from tests.as_json import funds, reports
from tests.conftest import SHARED

from commcredits.db.engine import read_tx
from commcredits.db.schema import transactions
from commcredits.domain.money import parse_micros
from commcredits.services.access import tenants as tenant_svc
from commcredits.services.access.principal import OPERATOR
from commcredits.services.payments import payment_methods
from commcredits.services.rating import rating
from commcredits.services.usage.charging import charge_records

JAN, FEB = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
CALLS = [  # (call id, call type, callee, seconds, when)
    ("uk", "user_out", "+442079460000", 600, datetime(2026, 1, 10, 9, tzinfo=UTC)),
    ("premium", "user_out", "+19002001234", 60, datetime(2026, 1, 11, 9, tzinfo=UTC)),
    ("us", "user_out", "+12025550123", 125, datetime(2026, 1, 12, 9, tzinfo=UTC)),
    ("fwd", "user_out_forwarding", "+12025550123", 61, datetime(2026, 1, 12, 10, tzinfo=UTC)),
    ("sos", "user_out", "911", 60, datetime(2026, 1, 13, 9, tzinfo=UTC)),
    ("in", "user_in", "+12025550100", 300, datetime(2026, 1, 14, 9, tzinfo=UTC)),
    ("feb", "user_out", "+442079460000", 600, datetime(2026, 2, 2, 10, tzinfo=UTC)),  # after the period
]


def _micros(text: str) -> int:
    return parse_micros(text)


def _charged_tenant(rt, clock) -> str:
    clock.set(JAN)  # the rates (effective from 1 January) and the funds are as old as the first call
    card = (SHARED / "testdata" / "sample-ratecard.csv").read_bytes()
    rating.import_deck(rt, OPERATOR, rating.parse_deck(format_="ratecard", files={"card.csv": card}))
    tid = tenant_svc.create_tenant(rt, OPERATOR, name="Contoso", country="US", currency="USD", billing_country="US",
                                   timezone="UTC").id
    uid = tenant_svc.create_user(rt, OPERATOR, tid, email="ann@contoso.example", display_name="Ann",
                                 usage_location="US", roles=[], licenses=["communications_credits"]).id
    pm = payment_methods.add_payment_method(rt, OPERATOR, tid, card_number="4242424242424242", exp_month=12,
                                            exp_year=2031, cvc="123").id
    assert funds.add_funds(rt, OPERATOR, tid, amount="50.00", payment_method_id=pm, idempotency_key="f")[0] == 201
    for rid, call_type, callee, seconds, when in CALLS:
        clock.set(when + timedelta(seconds=seconds, minutes=5))  # charged as the call ends: the journal's time
        out = charge_records(rt, [{"id": rid, "tenant_id": tid, "call_type": call_type, "caller": "+12025550100",
                                   "callee": callee, "started_at": when.isoformat(), "duration_seconds": seconds,
                                   "user_id": uid}])[0]
        assert out.status == "charged", out
    return tid


def _journal_usage(rt, tid: str) -> int:
    """What the journal debited for usage in January (a positive number of micros)."""
    t = transactions.c
    with read_tx(rt.engine) as conn:
        return -int(conn.execute(select(func.coalesce(func.sum(t.amount), 0)).where(
            t.tenant_id == tid, t.type == "usage", t.created_at >= JAN, t.created_at < FEB)).scalar_one())


def test_totals_by_call_type_and_capability_reconcile_with_the_journal(rt, clock) -> None:
    tid = _charged_tenant(rt, clock)
    page = reports.usage_page(rt, OPERATOR, tid, start=JAN, end=FEB, user_id=None, call_type=None, cursor=None,
                              limit=100)
    journal = _journal_usage(rt, tid)
    assert journal > 0 and _micros(page["totals"]["credits"]) == journal
    by = page["totals_by"]
    assert [g["call_type"] for g in by["call_type"]] == ["user_in", "user_out", "user_out_forwarding"]
    for key in ("call_type", "capability"):
        groups = by[key]
        assert sum(g["calls"] for g in groups) == page["totals"]["calls"] == 6  # February's call is not in it
        assert sum(_micros(g["credits"]) for g in groups) == journal
        assert sum(_micros(g["charge"]) for g in groups) == _micros(page["totals"]["charge"])
    items = page["items"]
    for group in by["capability"]:  # each group is the sum of its rows
        rows = [i for i in items if i["Capability"] == group["capability"]]
        assert group["calls"] == len(rows)
        assert _micros(group["charge"]) == sum(_micros(i["Charge"]) for i in rows)
        assert group["seconds"] == sum(i["Duration Seconds"] for i in rows)
    outbound = next(g for g in by["call_type"] if g["call_type"] == "user_out")
    assert outbound["calls"] == 4 and _micros(outbound["credits"]) > 0


def test_totals_follow_the_filters(rt, clock) -> None:
    tid = _charged_tenant(rt, clock)
    page = reports.usage_page(rt, OPERATOR, tid, start=JAN, end=FEB, user_id=None, call_type="user_in", cursor=None,
                              limit=100)
    assert [(g["call_type"], g["calls"]) for g in page["totals_by"]["call_type"]] == [("user_in", 1)]
    everything = reports.usage_page(rt, OPERATOR, tid, start=None, end=None, user_id=None, call_type=None,
                                    cursor=None, limit=100)
    assert sum(g["calls"] for g in everything["totals_by"]["capability"]) == len(CALLS)
