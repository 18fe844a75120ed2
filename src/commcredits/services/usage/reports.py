"""The PSTN usage report (JSON, CSV, Excel) and the funding advice.

The report has the columns of the provider's PSTN usage report, one row per call. The CSV
and Excel files are streamed by `usage_export`; `as_csv` here serves smaller CSV downloads
(the transactions page).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
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
from ...domain.money import MICROS, format_micros, minor_units
from ...errors import NotFound, ValidationError
from ..access.principal import Principal, require_tenant
from ..ledger.funds import iso
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


def _row(r: dict[str, Any], digits: int) -> list[Any]:
    end = r["started_at"] + timedelta(seconds=r["duration_s"])
    scope, destination = _destination(r)
    return [
        r["id"],
        r["call_id"] or "",
        r["conference_id"] or "",
        r["usage_location"] or "",
        r["user_id"] or "",
        r["upn"] or "",
        r["display_name"] or "",
        r["caller"],
        r["call_type"],
        r["number_type"],
        scope,
        destination,
        r["callee"],
        iso(r["started_at"]),
        iso(end),
        r["duration_s"],
        format_micros(r["connect_fee"], digits),
        format_micros(r["charge"], digits),
        r["currency"],
        r["capability"],
        "Yes" if r["policy_blocked"] else "",
    ]


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
) -> dict[str, Any]:
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
    digits = minor_units(tenant.currency)
    items = [dict(zip(COLUMNS, _row(r, digits), strict=True)) for r in rows[:limit]]
    last = rows[limit - 1] if len(rows) > limit else None
    return {
        "items": items,
        "columns": list(COLUMNS),
        "next_cursor": f"{last['started_at'].isoformat()}|{last['id']}" if last else None,
        "totals": {k: v if k == "calls" else format_micros(v, digits) for k, v in totals.items()},
        "totals_by": {key: [_money_sums(g, digits) for g in groups] for key, groups in by.items()},
    }


def _money_sums(group: dict[str, Any], digits: int) -> dict[str, Any]:
    """A group's sums with the money ones as decimal strings."""
    return {k: format_micros(v, digits) if k in ("charge", "credits", "postpaid") else v for k, v in group.items()}


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


def funding_advice(rt: Runtime, who: Principal, tenant_id: str) -> dict[str, Any]:
    """From the last 60 days of credit-paid calls (by the service's clock): a recharge amount
    worth a month of usage, a trigger worth a week, and the days until the balance reaches
    zero. `basis` says in words which calls it used; with none, it recommends the minimum
    purchase for both (a trigger of 0 would recharge only once calls are already refused)."""
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
    digits = minor_units(tenant.currency)
    window = {"window_start": iso(since), "window_end": iso(now), "spent": format_micros(spent, digits),
              "available": format_micros(available, digits), "currency": tenant.currency}
    period = f"{since.date().isoformat()} to {now.date().isoformat()} (UTC)"
    if not spent or first is None:
        return {
            **window,
            "window_days": 0,
            "daily_spend": format_micros(0, digits),
            "recommended_amount": format_micros(minimum, digits),
            "recommended_trigger": format_micros(minimum, digits),
            "days_until_zero": None,
            "basis": f"no calls paid with credits from {period}, so there is no usage to go by: "
                     "the minimum purchase is suggested for both as a start",
        }
    window_s = max((now - first) // timedelta(seconds=1), 86_400)  # at least a day
    daily = spent * 86_400 // window_s
    step = 10 * MICROS
    amount = max(minimum, -(-daily * 30 // step) * step)  # integer ceiling to a multiple of 10
    trigger = -(-daily * 7 // step) * step
    until = max(available, 0) // daily if daily else None
    return {
        **window,
        "window_days": window_s // 86_400,
        "daily_spend": format_micros(daily, digits),
        "recommended_amount": format_micros(amount, digits),
        "recommended_trigger": format_micros(trigger, digits),
        "days_until_zero": until,
        "basis": f"{format_micros(spent, digits)} {tenant.currency} of calls paid with credits from "
                 f"{first.date().isoformat()} to {now.date().isoformat()} (UTC); amount: about 30 days of that "
                 "usage, trigger: about 7 days, both rounded up to 10",
    }
