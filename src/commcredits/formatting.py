"""How the edges show values to people: money with thousands separators and its currency,
and instants in a time zone. The web pages, the documents (receipts) and the CLI use these,
so a figure reads the same wherever it is shown.

Money arrives as a `Money` value or as decimal strings ("1234.50") and is grouped by string
work alone, never through a float. Instants (ISO 8601 strings or aware datetimes) are shown
in the tenant's time zone, to the minute, with the zone's abbreviation ("30 Nov 2026 17:14
EST"). `iso` is the one machine form of an instant: the API's bodies, the CLI's JSON and the
payloads of events all write instants with it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from .domain.money import Money


def iso(instant: datetime) -> str:
    """ISO 8601 in UTC with a Z, whatever zone the instant carries."""
    instant = instant.astimezone(UTC)
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ") if instant.microsecond == 0 else \
        instant.isoformat().replace("+00:00", "Z")


def money(amount: Money | str | None, currency: str | None = None) -> str:
    """'-1234.5' and 'USD' -> '-1,234.5 USD'; a `Money` shows its own currency; None -> an em dash."""
    if isinstance(amount, Money):
        currency = amount.currency
        amount = amount.text
    if amount is None or amount == "":
        return "—"
    sign, digits = ("-", amount[1:]) if amount.startswith("-") else ("", amount)
    whole, dot, fraction = digits.partition(".")
    grouped = f"{int(whole or '0'):,}"
    return f"{sign}{grouped}{dot}{fraction} {currency}"


def _instant(value: str | datetime | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def when(value: str | datetime | None, zone: str = "UTC") -> str:
    instant = _instant(value)
    if instant is None:
        return "—"
    local = instant.astimezone(ZoneInfo(zone))
    return local.strftime("%d %b %Y %H:%M ") + (local.tzname() or zone)


def day(value: str | datetime | None, zone: str = "UTC") -> str:
    instant = _instant(value)
    return "—" if instant is None else instant.astimezone(ZoneInfo(zone)).strftime("%d %b %Y")
