"""Use cases return typed values or raise one exception tree, and each edge translates once:
problem+json for the API, a message next to the field for the pages, one line and exit
status 1 for the command line. Also what the typed values promise: a purchase's stored
answer reads back as the same credit, a record's reason is a code and a detail (no
"code:detail" strings), and the domain's `NoRate` reaches the edges as `422 no_rate`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st

from commcredits.api.problems import problem
from commcredits.cli.common import friendly
from commcredits.domain.money import Money
from commcredits.domain.purchases import LimitBreach, PurchaseLimits, limit_breach
from commcredits.domain.rating.model import DeckError, NoRate
from commcredits.errors import (
    BelowMinimum,
    CommCreditsError,
    NoRateFound,
    PaymentDeclined,
    RecordRejected,
    ValidationError,
    from_rating,
)
from commcredits.services.access.principal import OPERATOR
from commcredits.services.ledger import funds
from commcredits.services.ledger.funds import Credit, check_limits
from commcredits.services.usage.call_records import Rejected, parse_instant, parse_record
from commcredits.views.ledger import credit_out
from commcredits.views.problems import problem_out
from commcredits.web.feedback import explain
from commcredits.web.routes_billing import FUNDS_FIELDS


def test_a_declined_card_is_raised_by_the_use_case_and_answered_alike_by_each_edge(api, rt, capsys) -> None:
    tid = api.tenant()
    pm = api.card(tid, "4000000000000341")  # saved, but every charge is declined
    with pytest.raises(PaymentDeclined) as first:
        funds.add_funds(rt, OPERATOR, tid, amount="50.00", payment_method_id=pm, idempotency_key="k")
    with pytest.raises(PaymentDeclined) as replayed:  # recorded: the key gives the decline again
        funds.add_funds(rt, OPERATOR, tid, amount="50.00", payment_method_id=pm, idempotency_key="k")
    assert (replayed.value.code, replayed.value.detail) == (first.value.code, first.value.detail) == \
        ("card_declined", "Your card was declined.")
    assert [c.result.succeeded for c in rt.gateway.charges] == [False]  # charged (and declined) once

    answer = api.fund(tid, "50.00", pm, key="k")  # the API replays the same key
    assert answer.status_code == 402 and answer.headers["content-type"] == "application/problem+json"
    assert answer.json() == problem_out(first.value) == {
        "type": "https://commcredits.dev/problems/card_declined", "title": "Payment failed", "status": 402,
        "detail": "Your card was declined.", "code": "card_declined"}

    page = explain("Add funds", first.value, FUNDS_FIELDS)
    assert (page["title"], page["field"], page["detail"]) == \
        ("The card was declined", "funds-card", "Your card was declined.")

    with pytest.raises(typer.Exit) as exited:
        friendly(lambda: (_ for _ in ()).throw(first.value))()
    assert exited.value.exit_code == 1
    assert "error (card_declined): Your card was declined." in capsys.readouterr().err


@pytest.mark.parametrize("exc", [NoRateFound("no rate for '4420'"), BelowMinimum("the minimum purchase is 50.00 USD"),
                                 PaymentDeclined("Your card has expired.", code="expired_card")])
def test_the_cli_prints_the_problem_the_api_sends(exc: CommCreditsError) -> None:
    """The CLI's JSON for an error (`funds add` prints a declined purchase) is the API's body."""
    import json

    response = problem(exc.status, exc.code, exc.title, exc.detail, **exc.extra)
    assert json.loads(bytes(response.body)) == problem_out(exc)


@given(txn=st.integers(min_value=1, max_value=2**62), amount=st.integers(min_value=1, max_value=10**17),
       balance=st.integers(min_value=-(10**17), max_value=10**17), currency=st.sampled_from(["USD", "JPY", "KWD"]),
       expires=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2999, 1, 1), timezones=st.just(UTC)),
       receipt=st.none() | st.just("rcpt-1"), reason=st.none() | st.text(min_size=1, max_size=20))
def test_a_stored_credit_reads_back_as_the_same_credit(txn: int, amount: int, balance: int, currency: str,
                                                        expires: datetime, receipt: str | None,
                                                        reason: str | None) -> None:
    credit = Credit(txn, "lot-1", Money(amount, currency), Money(balance, currency), expires, receipt, reason)
    status, body = funds._record(credit)
    assert status == 201 and body == credit_out(credit)  # a replay answers what the first request did
    assert funds._replayed(status, body) == credit


def test_a_stored_decline_reads_back_as_the_same_decline() -> None:
    declined = PaymentDeclined("Your card has insufficient funds.", code="insufficient_funds")
    status, body = funds._record(declined)
    back = funds._replayed(status, body)
    assert isinstance(back, PaymentDeclined) and status == 402 and problem_out(back) == problem_out(declined) == body


def test_purchase_limits_are_a_typed_breach_and_one_error_each() -> None:
    limits = PurchaseLimits(50_000_000, 100_000_000_000)
    assert limit_breach(49_990_000, "USD", limits) == LimitBreach("below_minimum", "the minimum purchase is 50.00 USD")
    assert limit_breach(50_000_000, "USD", limits) is None
    with pytest.raises(BelowMinimum) as caught:
        check_limits(10, "USD", limits, field="amount")
    assert (caught.value.code, caught.value.detail) == ("below_minimum", "amount: the minimum purchase is 50.00 USD")


def test_a_record_reason_is_a_code_and_a_detail() -> None:
    assert parse_record({"id": "r1", "tenant_id": "t"}) == Rejected("r1", "missing_field", "call_type is required")
    got = parse_record({"id": "r2", "tenant_id": "t", "call_type": "user_out", "callee": "+1", "started_at": "x",
                        "duration_seconds": 1})
    assert got == Rejected("r2", "invalid_time", "started_at 'x' is not an ISO 8601 time")
    with pytest.raises(RecordRejected) as caught:
        parse_instant("2026-01-01T00:00:00")
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, ValidationError)
    assert (caught.value.code, caught.value.status) == ("invalid_time", 422)


def test_the_domains_no_rate_reaches_the_edges_as_422_no_rate() -> None:
    refused = from_rating(NoRate("no rate for '4420'"))
    assert isinstance(refused, NoRateFound)
    assert (refused.status, refused.code, refused.title, refused.detail) == \
        (422, "no_rate", "No rate for the destination", "no rate for '4420'")
    other = from_rating(DeckError("bad deck"))
    assert type(other) is ValidationError and other.code == "validation_error"
    from commcredits import errors

    assert errors.NoRate is NoRate  # one NoRate: the domain's


def test_the_balance_says_whether_a_deficit_is_owed(api, rt) -> None:
    from commcredits.services.ledger import balances

    tid = api.tenant()
    view = balances.balance_view(rt, OPERATOR, tid)
    assert not view.has_deficit and view.deficit == Money(0, "USD") and view.currency == "USD"
    assert view.as_of == rt.clock.now() and view.lots == ()
    api.fund(tid, "60.00", api.card(tid), key="buy")
    view = balances.balance_view(rt, OPERATOR, tid)
    assert view.balance == view.available == Money(60_000_000, "USD")
    assert view.lots[0].expires_at - view.lots[0].purchased_at > timedelta(days=300)
