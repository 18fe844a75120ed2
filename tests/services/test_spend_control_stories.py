"""Stories of the spend controls, one per control, with the tenant's local day boundary;
the auto-recharge velocity guard under 20 concurrent settlements; expiry that empties the
balance; expired stored cards.

Prices come from ../shared/testdata/sample-ratecard.csv: Nigeria +234 at 0.35/min plus a
0.10 connection fee, the United Kingdom +44 at 0.025/min.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from tests.as_json import funds, recharge_settings
from tests.conftest import SHARED

from commcredits.db import spend_controls as spend_db
from commcredits.db import tenants as tenant_db
from commcredits.db.engine import read_tx, write_tx
from commcredits.db.schema import payment_attempts
from commcredits.db.schema_notify import outbox
from commcredits.errors import DuplicateCard
from commcredits.services.access import tenants as tenant_svc
from commcredits.services.access.principal import OPERATOR
from commcredits.services.jobs import move_clock, run_due_jobs
from commcredits.services.ledger import spend_controls as spend_svc
from commcredits.services.notify import alerts
from commcredits.services.payments import payment_methods
from commcredits.services.rating import rating
from commcredits.services.usage.charging import charge_records

NIGERIA = "+2348031234567"
UK = "+442079460000"


@pytest.fixture
def deck(rt) -> None:
    card = (SHARED / "testdata" / "sample-ratecard.csv").read_bytes()
    rating.import_deck(rt, OPERATOR, rating.parse_deck(format_="ratecard", files={"card.csv": card}))


def _tenant(rt, tz: str = "Asia/Tokyo", name: str = "Contoso") -> str:
    return tenant_svc.create_tenant(rt, OPERATOR, name=name, country="US", currency="USD", billing_country="US",
                                    timezone=tz).id


def _user(rt, tid: str, email: str, roles: list[str] | None = None) -> str:
    return tenant_svc.create_user(rt, OPERATOR, tid, email=email, display_name="U", usage_location="US",
                                  roles=roles or [], licenses=["communications_credits"]).id


def _fund(rt, tid: str, amount: str, number: str = "4242424242424242") -> str:
    try:
        pm = payment_methods.add_payment_method(rt, OPERATOR, tid, card_number=number, exp_month=12, exp_year=2031,
                                                cvc="123").id
    except DuplicateCard as exc:  # saved by an earlier purchase
        pm = exc.extra["payment_method_id"]
    status, body = funds.add_funds(rt, OPERATOR, tid, amount=amount, payment_method_id=pm,
                                   idempotency_key=f"fund-{tid}-{amount}")
    assert status == 201, body
    return pm


def _call(rt, tid: str, rid: str, at: datetime, seconds: int, user: str | None, callee: str = NIGERIA) -> dict:
    rec = {"id": rid, "tenant_id": tid, "call_type": "user_out", "caller": "+12025550100", "callee": callee,
           "started_at": at.isoformat(), "duration_seconds": seconds, "user_id": user}
    out = charge_records(rt, [rec])[0].as_json()
    assert out["status"] == "charged", out
    return out


def _events(rt, tid: str, event: str) -> list[dict]:
    with read_tx(rt.engine) as conn:
        rows = conn.execute(select(outbox.c.payload).where(outbox.c.tenant_id == tid, outbox.c.event == event)
                            .order_by(outbox.c.created_at))
        return [json.loads(p) for (p,) in rows]


def test_dial_out_policy_story(rt) -> None:
    """A tenant restricted to domestic calls, one trusted user allowed everything, one intern
    allowed nothing; emergency and inbound calls are never blocked."""
    tid = _tenant(rt, "America/New_York")
    trusted, intern, plain = (_user(rt, tid, f"{n}@contoso.example") for n in ("trusted", "intern", "plain"))
    spend_svc.update_controls(rt, OPERATOR, tid, {"dial_out_policy": "domestic_only"})
    spend_svc.set_user_policy(rt, OPERATOR, tid, trusted, "all")
    spend_svc.set_user_policy(rt, OPERATOR, tid, intern, "none")

    def blocked(user: str, *, domestic: bool, number_type: str = "fixed_line", call_type: str = "user_out",
                emergency: bool = False) -> bool:
        with read_tx(rt.engine) as conn:
            return spend_svc.dial_out_blocked(conn, tid, user_id=user, call_type=call_type, domestic=domestic,
                                              number_type=number_type, emergency=emergency)

    assert blocked(plain, domestic=False) and not blocked(plain, domestic=True)
    assert blocked(plain, domestic=True, number_type="premium_rate")
    assert not blocked(trusted, domestic=False, number_type="premium_rate")
    assert blocked(intern, domestic=True) and blocked(intern, domestic=True, call_type="conf_out")
    assert not blocked(intern, domestic=True, emergency=True)
    assert not blocked(intern, domestic=False, call_type="user_in")
    spend_svc.set_user_policy(rt, OPERATOR, tid, intern, None)  # back to the tenant's
    assert not blocked(intern, domestic=True) and blocked(intern, domestic=False)


def test_spend_caps_story_at_the_tokyo_midnight(rt, clock, deck) -> None:
    """Caps count credit-funded calls of the tenant's local day: a call at 23:50 in Tokyo
    belongs to that day, one at 00:10 to the next, though both are on the same UTC date."""
    tid = _tenant(rt, "Asia/Tokyo")
    ann, bob = _user(rt, tid, "ann@contoso.example"), _user(rt, tid, "bob@contoso.example")
    _fund(rt, tid, "500.00")
    spend_svc.update_controls(rt, OPERATOR, tid, {"daily_limit": "30.00", "monthly_limit": "100.00",
                                                  "user_daily_limit": "20.00"})
    late = datetime(2026, 1, 20, 14, 50, tzinfo=UTC)  # 23:50 JST on 20 Jan
    clock.set(late + timedelta(minutes=5))
    assert _call(rt, tid, "r1", late, 1800, ann)["charge"] == "10.60"  # 30 min x 0.35 + 0.10
    assert _call(rt, tid, "r2", late - timedelta(hours=9), 900, bob)["charge"] == "5.35"

    def room(user: str | None) -> int | None:
        with read_tx(rt.engine) as conn:
            tenant = tenant_db.get(conn, tid)
            return spend_svc.room_left(conn, tenant, spend_db.get_controls(conn, tid), rt.clock.now(), user)

    assert room(ann) == 9_400_000  # ann's own 20.00 - 10.60
    assert room(bob) == 14_050_000  # the tenant's 30.00 - 15.95
    assert room(None) == 14_050_000
    clock.set(datetime(2026, 1, 20, 15, 10, tzinfo=UTC))  # 00:10 JST on 21 Jan: a new day
    assert room(ann) == 20_000_000 and room(None) == 30_000_000
    _call(rt, tid, "r3", datetime(2026, 1, 20, 15, 0, tzinfo=UTC), 3600, ann)  # 21.10, still January
    assert room(ann) == 0 and room(None) == 8_900_000
    with read_tx(rt.engine) as conn:
        tenant, controls = tenant_db.get(conn, tid), spend_db.get_controls(conn, tid)
        hit = spend_svc.exhausted_cap(conn, tenant, controls, rt.clock.now(), ann)
        assert (hit.cap, hit.period_key, hit.limit, hit.spent) == ("user_daily_limit", "2026-01-21", 20_000_000,
                                                                  21_100_000)
        assert spend_svc.exhausted_cap(conn, tenant, controls, rt.clock.now(), bob) is None
        held = spend_svc.exhausted_cap(conn, tenant, controls, rt.clock.now(), bob, held=8_900_000)
        assert (held.cap, held.spent) == ("daily_limit", 30_000_000)  # what calls in progress hold counts
    clock.set(datetime(2026, 1, 31, 15, 30, tzinfo=UTC))  # 1 Feb in Tokyo: a new month as well
    assert room(None) == 30_000_000

    with write_tx(rt.engine) as conn:  # told once per cap and period, however often authorize asks
        tenant = tenant_db.lock(conn, tid)
        for _ in range(3):
            alerts.notify_cap_reached(conn, tenant, "2026-01-21", cap="user_daily_limit", limit=20_000_000,
                                      spent=21_100_000, now=rt.clock.now(), user_id=ann)
        alerts.notify_cap_reached(conn, tenant, "2026-01-22", cap="user_daily_limit", limit=20_000_000,
                                  spent=20_000_000, now=rt.clock.now(), user_id=ann)
    told = _events(rt, tid, "spend_cap_reached")
    assert [(e["period"], e["limit"], e["spent"]) for e in told] == [("2026-01-21", "20.00", "21.10"),
                                                                     ("2026-01-22", "20.00", "20.00")]


def test_low_balance_and_depletion_by_expiry_story(rt, clock) -> None:
    """balance_low once per crossing below the threshold; an expiry that empties the
    balance sends balance_depleted, once even when two lots expire together."""
    tid = _tenant(rt, "Europe/Berlin")
    _user(rt, tid, "boss@contoso.example", ["billing_administrator"])
    spend_svc.update_controls(rt, OPERATOR, tid, {"low_balance_threshold": "80.00"})
    _fund(rt, tid, "60.00")
    _fund(rt, tid, "50.00")  # two lots bought at the same instant: they expire together
    with write_tx(rt.engine) as conn:
        tenant = tenant_db.lock(conn, tid)
        assert alerts.balance_crossings(conn, tenant, 110_000_000, 75_000_000, clock.now()) == ("balance_low",)
        assert alerts.balance_crossings(conn, tenant, 75_000_000, 70_000_000, clock.now()) == ()  # still low
        assert alerts.balance_crossings(conn, tenant, 70_000_000, 90_000_000, clock.now()) == ()
        assert alerts.balance_crossings(conn, tenant, 90_000_000, 79_990_000, clock.now()) == ("balance_low",)
    assert [e["threshold"] for e in _events(rt, tid, "balance_low")] == ["80.00", "80.00"]
    assert _events(rt, tid, "balance_depleted") == []
    move_clock(rt, clock.now() + timedelta(days=400))
    depleted = _events(rt, tid, "balance_depleted")
    assert [(e["balance"], e["cause"]) for e in depleted] == [("0.00", "expiry")]
    run_due_jobs(rt)
    assert len(_events(rt, tid, "balance_depleted")) == 1  # the sweep ran again: nothing new


def test_spend_anomaly_story(rt, clock, deck) -> None:
    """A month of quiet calls, then an hour of calls to Nigeria: admins are told once that
    hour; a tenant whose spike stays under the purchase minimum is not."""
    tid, quiet = _tenant(rt, "UTC"), _tenant(rt, "UTC", name="Quiet")
    caller = {}
    for t in (tid, quiet):
        caller[t] = _user(rt, t, f"admin@{t}.example", ["global_administrator"])
        _fund(rt, t, "1000.00")
    now = datetime(2026, 2, 20, 12, 0, tzinfo=UTC)
    clock.set(now)
    for day in range(1, 29):  # 28 calls of 0.25 over the month before
        _call(rt, tid, f"q{day}", now - timedelta(days=day), 600, caller[tid], callee=UK)
    assert run_due_jobs(rt, now)["spend_anomalies"] == 0
    for i in range(3):  # 3 x 3 hours to Nigeria in the last hour: 189.30
        _call(rt, tid, f"fraud{i}", now - timedelta(minutes=50 - i), 10_800, caller[tid])
    _call(rt, quiet, "small", now - timedelta(minutes=30), 1200, caller[quiet])  # 7.10: far above its average of 0
    assert run_due_jobs(rt, now)["spend_anomalies"] == 1
    assert run_due_jobs(rt, now + timedelta(minutes=5))["spend_anomalies"] == 0  # once per hour
    told = _events(rt, tid, "spend_anomaly")
    assert len(told) == 1 and told[0]["last_hour"] == "189.30"
    assert _events(rt, quiet, "spend_anomaly") == []


def test_velocity_guard_under_20_concurrent_settlements(rt, clock, deck) -> None:
    """20 threads each charge call records that take the balance below the trigger: no more
    than max_auto_recharges_per_day (here 3) cards charges in 24 hours, then auto-recharge
    is suspended with reason velocity_limit and the admins are told once."""
    tid = _tenant(rt, "America/New_York")
    _user(rt, tid, "boss@contoso.example", ["billing_administrator"])
    ann = _user(rt, tid, "ann@contoso.example")
    pm = _fund(rt, tid, "100.00")
    spend_svc.update_controls(rt, OPERATOR, tid, {"max_auto_recharges_per_day": 3})
    recharge_settings.save_settings(rt, OPERATOR, tid, enabled=True, amount="50.00", trigger="50.00",
                                    payment_method_id=pm)
    clock.set(datetime(2026, 1, 20, 12, 0, tzinfo=UTC))
    start, errors = threading.Barrier(20), []

    def settle(n: int) -> None:
        try:
            start.wait()
            for k in range(3):  # 3 x 30 min x 0.35 + 0.10 = 10.60 each
                _call(rt, tid, f"c{n}-{k}", datetime(2026, 1, 20, 11, 0, tzinfo=UTC), 1800, ann)
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=settle, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []

    def attempts() -> list:
        with read_tx(rt.engine) as conn:
            return conn.execute(select(payment_attempts.c.status, payment_attempts.c.error_code).where(
                payment_attempts.c.tenant_id == tid, payment_attempts.c.kind == "auto_recharge")).all()

    assert len([a for a in attempts() if a.status == "succeeded"]) <= 3  # however the 60 settlements interleaved
    # Usually the wave itself trips the guard; when the machine serialised it so that a few
    # recharges covered all 60 calls, more calls come one at a time until it trips.
    for k in range(40):  # each recharge lifts the balance below 100.00; 10.60 a call
        if recharge_settings.settings_view(rt, OPERATOR, tid)["status"] == "suspended":
            break
        _call(rt, tid, f"after-{k}", datetime(2026, 1, 20, 11, 0, tzinfo=UTC), 1800, ann)
    succeeded = [a for a in attempts() if a.status == "succeeded"]
    assert len(succeeded) == 3, attempts()
    assert [a.error_code for a in attempts() if a.status == "failed"] == ["velocity_limit"]
    view = recharge_settings.settings_view(rt, OPERATOR, tid)
    assert view["status"] == "suspended" and view["last_attempt"]["error_code"] == "velocity_limit"
    told = _events(rt, tid, "auto_recharge_suspended")
    assert [(e["reason"], e["recharges_in_24h"], e["limit"]) for e in told] == [("velocity_limit", 3, 3)]
    assert len([c for c in rt.gateway.charges if c.result.succeeded]) == 1 + 3  # the purchase and 3 recharges


def test_expired_stored_card_is_a_hard_decline(rt, clock) -> None:
    """A card saved as 12/2026 pays a recharge in December 2026 and is declined expired_card
    in January 2027, on the service's clock; auto-recharge is suspended at once."""
    tid = _tenant(rt, "UTC")
    _user(rt, tid, "boss@contoso.example", ["billing_administrator"])
    pm = payment_methods.add_payment_method(rt, OPERATOR, tid, card_number="4242424242424242", exp_month=12,
                                            exp_year=2026, cvc="123").id
    clock.set(datetime(2026, 12, 31, 23, 59, tzinfo=UTC))
    assert funds.add_funds(rt, OPERATOR, tid, amount="50.00", payment_method_id=pm, idempotency_key="dec")[0] == 201
    clock.set(datetime(2027, 1, 1, 0, 0, tzinfo=UTC))
    status, body = funds.add_funds(rt, OPERATOR, tid, amount="50.00", payment_method_id=pm, idempotency_key="jan")
    assert status == 402 and body["code"] == "expired_card", body
    recharge_settings.save_settings(rt, OPERATOR, tid, enabled=True, amount="50.00", trigger="100.00",
                                    payment_method_id=pm)
    view = recharge_settings.settings_view(rt, OPERATOR, tid)
    assert view["status"] == "suspended" and view["last_attempt"]["error_code"] == "expired_card"
    assert [e["hard_decline"] for e in _events(rt, tid, "auto_recharge_suspended")] == [True]
    payment_methods.update_payment_method(rt, OPERATOR, tid, pm, exp_month=12, exp_year=2029)
    assert recharge_settings.settings_view(rt, OPERATOR, tid)["status"] == "active"
    assert funds.add_funds(rt, OPERATOR, tid, amount="50.00", payment_method_id=pm, idempotency_key="new")[0] == 201
