"""The PSTN usage report, the admin center's usage overview and the funding advice as JSON
(API.md "Reports"). The usage page of the admin center renders the overview's and the
advice's JSON, so its figures read as the API's.

A report row is keyed by the provider's column names (`reports.COLUMNS`), its instants are
`iso` strings and its money is formatted with the tenant currency's minor units, as in the
CSV and Excel downloads.
"""

from __future__ import annotations

from typing import Any

from ..domain.money import format_micros, minor_units
from ..formatting import iso
from ..services.usage.reports import COLUMNS, FundingAdvice, GroupTotals, UsagePage, UsageRow
from ..services.usage.usage_view import DayUsage, UsageOverview


def usage_row_out(row: UsageRow, digits: int) -> dict[str, Any]:
    """One call, by column name; `digits` are the minor units of the tenant's currency."""
    values = (
        row.id, row.call_id or "", row.conference_id or "", row.usage_location or "", row.user_id or "",
        row.upn or "", row.display_name or "", row.caller, row.call_type, row.number_type, row.scope,
        row.destination, row.callee, iso(row.started_at), iso(row.ended_at), row.duration_s,
        format_micros(row.connect_fee, digits), format_micros(row.charge, digits), row.currency, row.capability,
        "Yes" if row.policy_blocked else "",
    )
    return dict(zip(COLUMNS, values, strict=True))


def _groups_out(by: dict[str, tuple[GroupTotals, ...]], digits: int) -> dict[str, list[dict[str, Any]]]:
    """Sums per call type and per capability, each group named by its key as before."""
    return {name: [{name: g.key, "calls": g.calls, "seconds": g.seconds, "charge": format_micros(g.charge, digits),
                    "credits": format_micros(g.credits, digits), "postpaid": format_micros(g.postpaid, digits)}
                   for g in groups] for name, groups in by.items()}


def usage_page_out(page: UsagePage) -> dict[str, Any]:
    """`GET /v1/tenants/{tid}/usage?format=json`."""
    digits = minor_units(page.currency)
    t = page.totals
    return {
        "items": [usage_row_out(r, digits) for r in page.rows],
        "columns": list(COLUMNS),
        "next_cursor": page.next_cursor,
        "totals": {"calls": t.calls, "charge": format_micros(t.charge, digits),
                   "connection_fee": format_micros(t.connection_fee, digits),
                   "credits": format_micros(t.credits, digits), "postpaid": format_micros(t.postpaid, digits)},
        "totals_by": _groups_out(page.totals_by, digits),
    }


def _day_out(d: DayUsage, digits: int) -> dict[str, Any]:
    return {"day": d.day.isoformat(), "calls": dict(d.calls), "credits": format_micros(d.credits, digits),
            "postpaid": format_micros(d.postpaid, digits)}


def usage_overview_out(view: UsageOverview) -> dict[str, Any]:
    """The admin center's usage page: a page of calls, totals, days and groups."""
    digits = minor_units(view.currency)
    t = view.totals
    return {
        "items": [usage_row_out(r, digits) for r in view.rows],
        "next_cursor": view.next_cursor,
        "totals": {"calls": t.calls, "seconds": t.seconds, "charge": format_micros(t.charge, digits),
                   "credits": format_micros(t.credits, digits), "postpaid": format_micros(t.postpaid, digits)},
        "days": [_day_out(d, digits) for d in view.days],
        "currency": view.currency,
        "totals_by": _groups_out(view.totals_by, digits),
    }


def _basis(a: FundingAdvice) -> str:
    """Which calls the advice went by, in words."""
    if a.first_call is None:
        period = f"{a.window_start.date().isoformat()} to {a.window_end.date().isoformat()} (UTC)"
        return (f"no calls paid with credits from {period}, so there is no usage to go by: "
                "the minimum purchase is suggested for both as a start")
    return (f"{a.spent} {a.spent.currency} of calls paid with credits from {a.first_call.date().isoformat()} to "
            f"{a.window_end.date().isoformat()} (UTC); amount: about 30 days of that usage, trigger: about 7 days, "
            "both rounded up to 10")


def funding_advice_out(a: FundingAdvice) -> dict[str, Any]:
    """`GET /v1/tenants/{tid}/funding-advice`; the admin center's usage page shows the same."""
    return {
        "window_start": iso(a.window_start), "window_end": iso(a.window_end), "spent": str(a.spent),
        "available": str(a.available), "currency": a.spent.currency, "window_days": a.window_days,
        "daily_spend": str(a.daily_spend), "recommended_amount": str(a.recommended_amount),
        "recommended_trigger": str(a.recommended_trigger), "days_until_zero": a.days_until_zero,
        "basis": _basis(a),
    }
