"""Re-rating after a corrected deck writes the differences as new transactions."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.as_json import balances, rerate
from tests.services.test_charging_stories import World

from commcredits.services.access.principal import OPERATOR
from commcredits.services.ledger import audit
from commcredits.services.rating import rating

HEADER = "category,prefix,destination,rate_per_minute,connection_fee,initial_increment,next_increment,effective_from\n"


def card(rate: str) -> dict[str, bytes]:
    return {"card.csv": (HEADER + f"outbound,44,United Kingdom,{rate},0,60,60,2026-01-01\n").encode()}


def test_a_corrected_deck_charges_or_refunds_the_difference(rt) -> None:
    rating.import_deck(rt, OPERATOR, rating.parse_deck(format_="ratecard", files=card("0.10"), currency="USD"))
    world = World(rt)
    tid = world.tenant()
    ann = world.user(tid, ["communications_credits"])
    world.fund(tid)
    for _ in range(3):
        assert world.call(tid, "+442079460000", 120, user=ann)["charge"] == "0.20"
    assert world.balance(tid) == "49.40"
    period = {"start": datetime(2026, 1, 1, tzinfo=UTC), "end": datetime(2026, 2, 1, tzinfo=UTC)}

    # the provider finds the rate was too high: 0.05/min
    rating.import_deck(rt, OPERATOR, rating.parse_deck(format_="ratecard", files=card("0.05"), currency="USD"))
    report = rerate.rerate(rt, OPERATOR, **period)
    assert report["tenants"][0]["changed"] == 3 and report["tenants"][0]["credits_difference"] == "-0.30"
    assert world.balance(tid) == "49.70"
    txns = balances.transactions_view(rt, OPERATOR, tid, cursor=None, limit=10)["items"]
    assert (txns[0]["type"], txns[0]["amount"]) == ("refund", "0.30")
    assert rerate.rerate(rt, OPERATOR, **period)["tenants"][0]["changed"] == 0  # idempotent

    # and then too low: 0.15/min
    rating.import_deck(rt, OPERATOR, rating.parse_deck(format_="ratecard", files=card("0.15"), currency="USD"))
    report = rerate.rerate(rt, OPERATOR, tenant_id=tid, **period)
    assert report["tenants"][0]["credits_difference"] == "0.60"
    assert world.balance(tid) == "49.10"
    assert audit.audit(rt)[1] == []
