"""The PSTN usage report (JSON, CSV, Excel) and the funding advice.

The report has the columns of the provider's PSTN usage report, one row per call. A page
of it is a `UsagePage` of `UsageRow`s with the filter's totals, money as integer micros in
the tenant's currency; the edges show it (`views.usage`: JSON keyed by `COLUMNS`). The CSV
and Excel files are streamed by `usage_export`; `as_csv` here serves smaller CSV downloads
(the transactions page).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import phonenumbers
from phonenumbers import geocoder

from ...db import report_stream, reports
from ...db import tenants as tenant_db
from ...db.engine import read_tx
from ...domain.access import VIEW_BILLING
from ...domain.funding import CALL_TYPES
from ...domain.money import MICROS, Money
from ...errors import NotFound, ValidationError
from ..access.principal import Principal, require_tenant
from ..ledger.ledger_ops import balance_of
from ..runtime import Runtime

COLUMNS = (
    "UsageId",
    "Call ID",
    "Conference ID",
    "User Location",
    "User Id",
    "UPN",
    "User Display Name",
    "Caller ID",
    "Call Type",
    "Number Type",
    "Domestic/International",
    "Destination Dialed",
    "Destination Number",
    "Start Time",
    "End Time",
    "Duration Seconds",
    "Connection Fee",
    "Charge",
    "Currency",
    "Capability",
    "Blocked by policy",  # not a provider column: "Yes" for a call the dial-out policy forbids
)


@lru_cache(maxsize=512)
def country_name(region: str | None) -> str:
    if not region:
        return ""
    example = phonenumbers.example_number(region)
    return (geocoder.country_name_for_number(example, "en") if example else "") or region


def _destination(r: dict[str, Any]) -> tuple[str, str]:
    """(Domestic/International, Destination Dialed). An emergency call is stored without a
    destination country: it went to the emergency services where the user is, so it is
    domestic, and the destination says so."""
    if r["number_type"] == "emergency":
        where = country_name(r["usage_location"])
        return "Domestic", f"Emergency services ({where})" if where else "Emergency services"
    return ("Domestic" if r["domestic"] else "International"), country_name(r["destination_country"])


@dataclass(frozen=True, slots=True)
class UsageRow:
    """One call as the report shows it. `scope` is Domestic or International, `destination`
    the country dialled (or the emergency services); money in micros of `currency`."""

    id: str
    call_id: str | None
    conference_id: str | None
    usage_location: str | None
    user_id: str | None
    upn: str | None
    display_name: str | None
    caller: str
    call_type: str
    number_type: str
    scope: str
    destination: str
    callee: str
    started_at: datetime
    ended_at: datetime
    duration_s: int
    connect_fee: int
    charge: int
    currency: str
    capability: str
    policy_blocked: bool


def usage_row(r: dict[str, Any]) -> UsageRow:
    """A report row from a call record joined with its user (`db.reports.usage_rows`)."""
    scope, destination = _destination(r)
    return UsageRow(
        id=r["id"], call_id=r["call_id"], conference_id=r["conference_id"], usage_location=r["usage_location"],
        user_id=r["user_id"], upn=r["upn"], display_name=r["display_name"], caller=r["caller"],
        call_type=r["call_type"], number_type=r["number_type"], scope=scope, destination=destination,
        callee=r["callee"], started_at=r["started_at"], ended_at=r["started_at"] + timedelta(seconds=r["duration_s"]),
        duration_s=r["duration_s"], connect_fee=r["connect_fee"], charge=r["charge"], currency=r["currency"],
        capability=r["capability"], policy_blocked=bool(r["policy_blocked"]),
    )


@dataclass(frozen=True, slots=True)
class ReportTotals:
    """Sums over every call of the filter (not one page), in micros: Charge, its Connection
    Fee part, and what of Charge credits paid and what goes on the post-paid statement."""

    calls: int
    charge: int
    connection_fee: int
    credits: int
    postpaid: int


@dataclass(frozen=True, slots=True)
class GroupTotals:
    """The sums of one call type or one capability (`key`), money in micros."""

    key: str | None
    calls: int
    seconds: int
    charge: int
    credits: int
    postpaid: int


def group_totals(by: dict[str, list[dict[str, Any]]]) -> dict[str, tuple[GroupTotals, ...]]:
    """`report_stream.totals_by` as typed groups, under the same names (call_type, capability)."""
    return {name: tuple(GroupTotals(g[name], g["calls"], g["seconds"], g["charge"], g["credits"], g["postpaid"])
                        for g in groups) for name, groups in by.items()}


@dataclass(frozen=True, slots=True)
class UsagePage:
    """A page of the report (oldest first), the cursor of the next one, and the filter's
    totals, overall and by call type and capability; money in micros of `currency`."""

    rows: tuple[UsageRow, ...]
    next_cursor: str | None
    totals: ReportTotals
    totals_by: dict[str, tuple[GroupTotals, ...]]
    currency: str


def _filters(call_type: str | None, start: datetime | None, end: datetime | None) -> None:
    if call_type and call_type not in CALL_TYPES:
        raise ValidationError(f"call_type must be one of {', '.join(CALL_TYPES)}")
    for t in (start, end):
        if t is not None and t.tzinfo is None:
            raise ValidationError("from and to need a time zone, e.g. 2026-11-01T00:00:00Z")


def usage_page(
    rt: Runtime,
    who: Principal,
    tenant_id: str,
    *,
    start: datetime | None,
    end: datetime | None,
    user_id: str | None,
    call_type: str | None,
    cursor: str | None,
    limit: int,
) -> UsagePage:
    require_tenant(who, tenant_id, VIEW_BILLING)
    _filters(call_type, start, end)
    after = None
    if cursor:
        try:
            when, _, rid = cursor.partition("|")
            after = (datetime.fromisoformat(when), rid)
        except ValueError:
            raise ValidationError("cursor is not one this service returned") from None
    with read_tx(rt.engine) as conn:
        tenant = tenant_db.get(conn, tenant_id)
        if tenant is None:
            raise NotFound(f"tenant {tenant_id} not found")
        totals = reports.usage_totals(conn, tenant_id, start=start, end=end, user_id=user_id, call_type=call_type)
        by = report_stream.totals_by(conn, tenant_id, start=start, end=end, user_id=user_id, call_type=call_type)
        rows = list(
            reports.usage_rows(
                conn,
                tenant_id,
                start=start,
                end=end,
                user_id=user_id,
                call_type=call_type,
                after=after,
                limit=limit + 1,
            )
        )
    last = rows[limit - 1] if len(rows) > limit else None
    return UsagePage(
        rows=tuple(usage_row(r) for r in rows[:limit]),
        next_cursor=f"{last['started_at'].isoformat()}|{last['id']}" if last else None,
        totals=ReportTotals(**totals),
        totals_by=group_totals(by),
        currency=tenant.currency,
    )


def as_csv(rows: Iterator[list[Any]], *, bom: bool = False) -> Iterator[str]:
    """CSV text as it streams; `bom` starts it with a UTF-8 byte order mark, which Excel needs
    to read non-ASCII names right (the web download sets it, the API's CSV stays plain)."""
    buffer = io.StringIO()
    if bom:
        buffer.write("\ufeff")
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(row)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


_WIDTHS = {"UsageId": 38, "Call ID": 16, "Conference ID": 14, "User Id": 38, "UPN": 28, "User Display Name": 22,
           "Caller ID": 16, "Call Type": 20, "Destination Dialed": 18, "Destination Number": 16,
           "Domestic/International": 14, "Start Time": 20, "End Time": 20, "Capability": 26,
           "Blocked by policy": 10}


@dataclass(frozen=True, slots=True)
class FundingAdvice:
    """What to set auto-recharge to, from the credit-paid calls of [window_start, window_end)
    (`spent`, the first of them at `first_call`; None and zero without any): a recharge
    `amount` worth a month, a `trigger` worth a week, the `daily_spend` and the days until
    the `available` balance reaches zero at that pace (None without a pace)."""

    window_start: datetime
    window_end: datetime
    first_call: datetime | None
    window_days: int
    spent: Money
    available: Money
    daily_spend: Money
    recommended_amount: Money
    recommended_trigger: Money
    days_until_zero: int | None


def funding_advice(rt: Runtime, who: Principal, tenant_id: str) -> FundingAdvice:
    """From the last 60 days of credit-paid calls (by the service's clock): a recharge amount
    worth a month of usage, a trigger worth a week, and the days until the balance reaches
    zero. With no calls, it recommends the minimum purchase for both (a trigger of 0 would
    recharge only once calls are already refused)."""
    require_tenant(who, tenant_id, VIEW_BILLING)
    now = rt.clock.now()
    since = now - timedelta(days=60)
    with read_tx(rt.engine) as conn:
        tenant = tenant_db.get(conn, tenant_id)
        if tenant is None:
            raise NotFound(f"tenant {tenant_id} not found")
        spent, first = reports.credits_spent(conn, tenant_id, since, now)
        available = balance_of(conn, tenant, now) - tenant.reserved
    minimum = rt.purchase_limits(tenant.currency).minimum

    def money(micros: int) -> Money:
        return Money(micros, tenant.currency)

    if not spent or first is None:
        return FundingAdvice(since, now, None, 0, money(spent), money(available), money(0), money(minimum),
                             money(minimum), None)
    window_s = max((now - first) // timedelta(seconds=1), 86_400)  # at least a day
    daily = spent * 86_400 // window_s
    step = 10 * MICROS
    amount = max(minimum, -(-daily * 30 // step) * step)  # integer ceiling to a multiple of 10
    trigger = -(-daily * 7 // step) * step
    until = max(available, 0) // daily if daily else None
    return FundingAdvice(since, now, first, window_s // 86_400, money(spent), money(available), money(daily),
                         money(amount), money(trigger), until)
