"""Spend caps end to end: no sequence of calls, purchases and expiries spends past a cap by
more than one increment per concurrent call.

A hypothesis state machine drives one tenant (in Tokyo, starting at 23:40 local time on the
last day of a month, so its day and month turn during the run) with a daily and a monthly cap
through the real call control (authorize, extend and end at the call desk, with a switch
token), purchases with a sandbox card, operator grants that expire within hours, and clock
moves (small ticks that leave calls up, and jumps past the next lot expiry that run the due
jobs after the switch has ended its calls). Calls go to +12025550123 on the sample rate card
(0.015 a minute, 60/60 increments, half-up to cents: 60 s cost 0.02, 120 s 0.03, 180 s 0.05:
one increment never costs more than 0.02), granted a minute at a time; an end may overrun
what was granted by up to 60 s, one increment, which is the only way past a cap.

After every step, for the tenant's current local day and month (credit spend = the sum of
`call_records.credits_charge` of calls started in it, held = `tenants.reserved`):

- spend + held <= cap + (calls of that period settled or open) x 0.02 (the spec's bound), where
  held counts the calls in progress that started in that period (docs/spend-controls.md: a
  call, and so its hold, counts in the day and month it started);
- spend + held - cap <= 0.02 x (ends that overran since the last grant), and those ends are of
  calls that were up together at that grant: one increment per concurrent call;
- every earlier day and month keeps spend <= cap + its calls x 0.02;
- what the service charged and holds equals what the switch was told, call by call;
- a `spend_cap_reached` refusal happens only when the caps leave less than one increment.
"""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select
from tests.as_json import funds
from tests.conftest import SHARED

from commcredits.db import tokens as token_db
from commcredits.db.engine import read_tx
from commcredits.db.schema import lots, tenants
from commcredits.db.schema_usage import call_records
from commcredits.domain.money import parse_micros
from commcredits.services.access import tenants as tenant_svc
from commcredits.services.access.principal import OPERATOR
from commcredits.services.calls.call_control import (
    AuthorizeRequest,
    EndRequest,
    ExtendRequest,
    call,
)
from commcredits.services.jobs import move_clock
from commcredits.services.ledger import spend_controls as spend_svc
from commcredits.services.payments import payment_methods
from commcredits.services.rating import rating

ZONE = ZoneInfo("Asia/Tokyo")
BEGIN = datetime(2026, 1, 31, 14, 40, tzinfo=UTC)  # 23:40 on 31 January in Tokyo
INCREMENT = 20_000  # micros: the most one more 60 s increment of the route costs
CALLEE = "+12025550123"
MAX_OPEN = 4
def cents(top: int, bottom: int = 0) -> st.SearchStrategy[str]:
    return st.integers(min_value=bottom, max_value=top).map(lambda c: f"{c // 100}.{c % 100:02d}")


def _day(instant: datetime) -> tuple[datetime, datetime]:
    local = instant.astimezone(ZONE)
    start = datetime(local.year, local.month, local.day, tzinfo=ZONE)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)  # Tokyo has no DST


def _month(instant: datetime) -> tuple[datetime, datetime]:
    local = instant.astimezone(ZONE)
    start = datetime(local.year, local.month, 1, tzinfo=ZONE)
    following = datetime(local.year + local.month // 12, local.month % 12 + 1, 1, tzinfo=ZONE)
    return start.astimezone(UTC), following.astimezone(UTC)


@dataclasses.dataclass
class Call:
    started_at: datetime
    granted_s: int
    hold: int
    extended_later: bool = False  # extended on a later local day (checked against the day it started)


def test_no_sequence_passes_a_cap_by_more_than_an_increment_per_concurrent_call(rt, clock) -> None:
    card = (SHARED / "testdata" / "sample-ratecard.csv").read_bytes()
    rating.import_deck(rt, OPERATOR, rating.parse_deck(format_="ratecard", files={"card.csv": card}))
    rt.settings = dataclasses.replace(rt.settings, call_chunk_seconds=60)
    serial = itertools.count()

    class Caps(RuleBasedStateMachine):
        @initialize(daily=cents(80), monthly=cents(250, 50), grant=cents(500, 30), grant_hours=st.integers(1, 30))
        def setup(self, daily: str, monthly: str, grant: str, grant_hours: int) -> None:
            n = next(serial)
            clock.set(BEGIN)
            self.tid = tenant_svc.create_tenant(rt, OPERATOR, name=f"Caps {n}", country="US", currency="USD",
                                                billing_country="US", timezone="Asia/Tokyo").id
            self.uid = tenant_svc.create_user(rt, OPERATOR, self.tid, email=f"ann{n}@caps.example",
                                              display_name="Ann", usage_location="US", roles=[],
                                              licenses=["communications_credits"]).id
            with rt.engine.begin() as conn:
                _, self.switch = token_db.issue(conn, kind="switch", now=BEGIN, tenant_id=self.tid)
            self.pm = payment_methods.add_payment_method(rt, OPERATOR, self.tid, card_number="4242424242424242",
                                                         exp_month=12, exp_year=2099, cvc="123").id  # clock jumps of years
            spend_svc.update_controls(rt, OPERATOR, self.tid, {"daily_limit": daily, "monthly_limit": monthly})
            self.daily, self.monthly = parse_micros(daily), parse_micros(monthly)
            self.open: dict[str, Call] = {}
            self.calls: list[Call] = []  # every call granted credits, open or ended
            self.charged: dict[str, tuple[datetime, int]] = {}  # ended call -> (started_at, charge)
            self.overruns = 0  # ends that cost more than their hold since the last grant
            self.open_at_grant = 0
            self.n, self.k = n, 0
            self._grant(grant, grant_hours)

        def _grant(self, amount: str, hours: int) -> None:
            if parse_micros(amount) > 0:
                funds.grant_credit(rt, OPERATOR, self.tid, amount=amount, reason="trial",
                                   expires_at=clock.now() + timedelta(hours=hours))

        @precondition(lambda self: len(self.open) < MAX_OPEN)
        @rule()
        def authorize(self) -> None:
            self._authorize(full=False)

        @precondition(lambda self: len(self.open) < MAX_OPEN)
        @rule()
        def authorize_in_full(self) -> None:
            self._authorize(full=True)

        def _authorize(self, *, full: bool) -> None:
            self.k += 1
            call_id = f"c{self.n}-{self.k}"  # a new call each time (authorize is idempotent per id)
            now = clock.now()
            room = self._room()
            answer = call(rt, self.switch, AuthorizeRequest(self.tid, call_id, "user_out", CALLEE, "+12025550100",
                                                           self.uid, started_at=now, reserve_full=full))
            if answer["decision"] == "deny":
                assert answer["reason"] in ("spend_cap_reached", "insufficient_balance"), answer
                if answer["reason"] == "spend_cap_reached":
                    assert room < INCREMENT, (room, answer)  # refused only when not one increment fits
                return
            assert (answer["funding"], answer["reason"]) == ("credits", "credits"), answer
            granted = Call(now, answer["max_seconds"], parse_micros(answer["reservation"]["amount"]))
            assert granted.hold <= room, (granted, room)
            self.open[call_id] = granted
            self.calls.append(granted)
            self._granted()

        def _granted(self) -> None:
            self.overruns, self.open_at_grant = 0, len(self.open)

        @precondition(lambda self: bool(self.open))
        @rule(data=st.data(), full=st.booleans())
        def extend(self, data: st.DataObject, full: bool) -> None:
            call_id = data.draw(st.sampled_from(list(self.open)))
            before = self.open[call_id]
            room = self._room(before.started_at) + before.hold  # the caps of the day the call started
            answer = call(rt, self.switch, ExtendRequest(call_id, reserve_full=full))
            assert answer["decision"] == "allow", answer
            hold = parse_micros(answer["reservation"]["amount"]) if answer["reservation"] else before.hold
            if answer["max_seconds"] > before.granted_s:
                assert hold <= room, (hold, room)
                before.granted_s, before.hold = answer["max_seconds"], hold
                self._granted()
                if _day(clock.now()) != _day(before.started_at):
                    before.extended_later = True

        @precondition(lambda self: bool(self.open))
        @rule(data=st.data(), overrun=st.integers(-90, 60))
        def end(self, data: st.DataObject, overrun: int) -> None:
            self._end(data.draw(st.sampled_from(list(self.open))), overrun)

        def _end(self, call_id: str, overrun: int) -> None:
            c = self.open.pop(call_id)
            seconds = max(0, c.granted_s + overrun)
            answer = call(rt, self.switch, EndRequest(call_id, seconds))
            assert answer["status"] == "charged", answer
            charge = parse_micros(answer["charge"])
            self.charged[call_id] = (c.started_at, charge)
            if charge > c.hold:
                assert charge - c.hold <= INCREMENT, (c, answer)
                self.overruns += 1

        @rule(seconds=st.integers(1, 900))
        def tick(self, seconds: int) -> None:
            clock.set(clock.now() + timedelta(seconds=seconds))

        @rule(buy=st.booleans(), amount=cents(300, 1), hours=st.integers(1, 30))
        def fund(self, buy: bool, amount: str, hours: int) -> None:
            """A purchase with the card (50.00, the minimum), or an operator grant expiring soon."""
            if not buy:
                self._grant(amount, hours)
                return
            self.k += 1
            status, body = funds.add_funds(rt, OPERATOR, self.tid, amount="50.00", payment_method_id=self.pm,
                                           idempotency_key=f"buy-{self.k}")
            assert status == 201, body

        @precondition(lambda self: len(self.open) <= 1)
        @rule(data=st.data())
        def past_the_next_expiry(self, data: st.DataObject) -> None:
            """The switch ends its calls (a grant is a minute or two), then the clock moves a
            second past the next lot expiry (or a day), running the jobs due on the way."""
            for call_id in list(self.open):
                self._end(call_id, data.draw(st.integers(-90, 60)))
            with read_tx(rt.engine) as conn:  # this tenant's lots (earlier examples' tenants have theirs)
                nxt = conn.execute(select(func.min(lots.c.expires_at)).where(
                    lots.c.tenant_id == self.tid, lots.c.expires_at > clock.now(), lots.c.remaining > 0)).scalar_one()
            move_clock(rt, (nxt or clock.now() + timedelta(days=1)) + timedelta(seconds=1))

        # -- what must hold after every step ----------------------------------------------

        def _spent(self, bounds: tuple[datetime, datetime]) -> int:
            c = call_records.c
            with read_tx(rt.engine) as conn:
                return int(conn.execute(select(func.coalesce(func.sum(c.credits_charge), 0)).where(
                    c.tenant_id == self.tid, c.started_at >= bounds[0], c.started_at < bounds[1])).scalar_one())

        def _held(self) -> int:
            with read_tx(rt.engine) as conn:
                return int(conn.execute(select(tenants.c.reserved).where(tenants.c.id == self.tid)).scalar_one())

        def _room(self, at: datetime | None = None) -> int:
            """What the caps of the day (and month) of `at` (default now) leave for a call that
            started then, after what calls in progress hold."""
            at, held = at or clock.now(), self._held()  # every hold, as authorize counts them
            return min(self.daily - self._spent(_day(at)), self.monthly - self._spent(_month(at))) - held

        def _held_in(self, bounds: tuple[datetime, datetime]) -> int:
            """What calls in progress that started in the period hold (a call, and its hold,
            count in the day and month it started: docs/spend-controls.md)."""
            return sum(c.hold for c in self.open.values() if bounds[0] <= c.started_at < bounds[1])

        def _calls_in(self, bounds: tuple[datetime, datetime]) -> int:
            return sum(1 for c in self.calls if bounds[0] <= c.started_at < bounds[1])

        @invariant()
        def caps_hold(self) -> None:
            now = clock.now()
            assert self._held() == sum(c.hold for c in self.open.values())
            for cap, bounds in ((self.daily, _day(now)), (self.monthly, _month(now))):
                spent = self._spent(bounds)
                # a call counts in the day and month it started, and so does its hold: a call of
                # yesterday extended after midnight holds against yesterday's cap, not today's
                held = self._held_in(bounds)
                assert spent == sum(ch for at, ch in self.charged.values() if bounds[0] <= at < bounds[1])
                assert spent + held <= cap + self._calls_in(bounds) * INCREMENT, (spent, held, cap)
                assert spent + held - cap <= self.overruns * INCREMENT, (spent, held, cap, self.overruns)
            assert self.overruns <= self.open_at_grant or not self.calls
            for c in self.calls:  # the periods already over
                for cap, bounds in ((self.daily, _day(c.started_at)), (self.monthly, _month(c.started_at))):
                    assert self._spent(bounds) <= cap + self._calls_in(bounds) * INCREMENT

    Caps.TestCase.settings = settings(max_examples=25, stateful_step_count=20, deadline=None,
                                      suppress_health_check=[HealthCheck.too_slow])
    run_state_machine_as_test(Caps, settings=Caps.TestCase.settings)


@pytest.mark.parametrize("seconds, price", [(60, "0.02"), (61, "0.03"), (120, "0.03"), (180, "0.05")])
def test_the_route_costs_at_most_one_cent_and_a_half_rounded_up_per_increment(rt, seconds: int, price: str) -> None:
    """The increment the property allows for: on this route one more minute costs at most 0.02."""
    card = (SHARED / "testdata" / "sample-ratecard.csv").read_bytes()
    rating.import_deck(rt, OPERATOR, rating.parse_deck(format_="ratecard", files={"card.csv": card}))
    tid = tenant_svc.create_tenant(rt, OPERATOR, name="Quote", country="US", currency="USD", billing_country="US",
                                   timezone="Asia/Tokyo").id
    uid = tenant_svc.create_user(rt, OPERATOR, tid, email="q@caps.example", display_name="Q", usage_location="US",
                                 roles=[], licenses=["communications_credits"]).id
    from commcredits.services.usage.charging import charge_records

    out = charge_records(rt, [{"id": "q", "tenant_id": tid, "call_type": "user_out", "caller": "+12025550100",
                               "callee": CALLEE, "started_at": "2026-01-14T15:00:00Z", "duration_seconds": seconds,
                               "user_id": uid}])
    assert out[0].charge == parse_micros(price), out


def test_a_call_extended_after_midnight_stays_within_the_cap_of_the_day_it_started(rt, clock) -> None:
    """Spend counts in the local day (and month) a call started. A call up across midnight that
    is extended after it must be granted no more than that day leaves; today the extension is
    granted from the new day's room and its charge lands on the day before: 0.17 spent on a day
    capped at 0.10, by two calls that never overlapped."""
    card = (SHARED / "testdata" / "sample-ratecard.csv").read_bytes()
    rating.import_deck(rt, OPERATOR, rating.parse_deck(format_="ratecard", files={"card.csv": card}))
    rt.settings = dataclasses.replace(rt.settings, call_chunk_seconds=60)
    clock.set(datetime(2026, 1, 14, 14, 58, tzinfo=UTC))  # 23:58 in Tokyo
    tid = tenant_svc.create_tenant(rt, OPERATOR, name="Midnight", country="US", currency="USD",
                                   billing_country="US", timezone="Asia/Tokyo").id
    uid = tenant_svc.create_user(rt, OPERATOR, tid, email="m@caps.example", display_name="M", usage_location="US",
                                 roles=[], licenses=["communications_credits"]).id
    with rt.engine.begin() as conn:
        _, switch = token_db.issue(conn, kind="switch", now=clock.now(), tenant_id=tid)
    funds.grant_credit(rt, OPERATOR, tid, amount="5.00", reason="trial", expires_at=clock.now() + timedelta(days=9))
    spend_svc.update_controls(rt, OPERATOR, tid, {"daily_limit": "0.10"})
    first = call(rt, switch, AuthorizeRequest(tid, "late", "user_out", CALLEE, "+12025550100", uid,
                                              started_at=clock.now()))
    assert (first["max_seconds"], first["reservation"]["amount"]) == (60, "0.02")
    clock.set(clock.now() + timedelta(seconds=50))
    early = call(rt, switch, AuthorizeRequest(tid, "early", "user_out", CALLEE, "+12025550100", uid,
                                              started_at=clock.now(), reserve_full=True))
    assert early["reservation"]["amount"] == "0.08"  # 23:58:50: the day's room after the hold of "late"
    done = call(rt, switch, EndRequest("early", early["max_seconds"]))
    clock.set(clock.now() + timedelta(seconds=120))  # 00:00:50 on the next day
    more = call(rt, switch, ExtendRequest("late", reserve_full=True))
    last = call(rt, switch, EndRequest("late", more["max_seconds"]))
    spent = parse_micros(done["charge"]) + parse_micros(last["charge"])
    assert spent <= parse_micros("0.10") + 2 * INCREMENT, (done, more, last)  # two calls: two increments
