"""Rendering pages: one Jinja2 environment (autoescaped, strict about missing names) and the
filters the templates use to show money and time.

Money arrives from the services as decimal strings ("1234.50"); it is shown with thousands
separators and the tenant's currency code by string work alone, never through a float.
Instants arrive as ISO 8601 UTC strings and are shown in the tenant's time zone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

PREFIX = "/admin"
TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"

ROLE_NAMES = {"global_administrator": "Global Administrator", "skype_for_business_administrator":
              "Skype for Business Administrator"}
LICENSE_NAMES = {
    "communications_credits": "Communications Credits",
    "domestic_calling_plan": "Domestic Calling Plan",
    "international_calling_plan": "Domestic and International Calling Plan",
    "pay_as_you_go_calling_plan": "Pay-As-You-Go Calling Plan",
    "audio_conferencing": "Audio Conferencing",
    "audio_conferencing_pay_per_minute": "Audio Conferencing pay-per-minute",
}


def money(amount: str | None, currency: str) -> str:
    """'-1234.5' and 'USD' -> '-1,234.5 USD'; None -> an em dash."""
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


def role_name(role: str) -> str:
    return ROLE_NAMES.get(role) or role.replace("_", " ").title()


def license_name(product: str) -> str:
    return LICENSE_NAMES.get(product) or product.replace("_", " ").capitalize()


def sentence(text: str | None) -> str:
    text = (text or "").strip()
    return text[:1].upper() + text[1:]


def words(code: str | None) -> str:
    """A machine code such as 'auto_recharge' -> 'auto recharge'."""
    return "" if not code else code.replace("_", " ")


env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, autoescape=True,
                  trim_blocks=True, lstrip_blocks=True)
env.filters.update(money=money, when=when, day=day, role_name=role_name, license_name=license_name, words=words,
                   sentence=sentence)
env.globals.update(prefix=PREFIX)


def page(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(env.get_template(template).render(**context), status_code=status_code)
