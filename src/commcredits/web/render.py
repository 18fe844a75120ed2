"""Rendering pages: one Jinja2 environment (autoescaped, strict about missing names) and the
filters the templates use to show money and time.

Money arrives from the services as decimal strings ("1234.50"); it is shown with thousands
separators and the tenant's currency code by string work alone, never through a float.
Instants arrive as ISO 8601 UTC strings and are shown one way everywhere: in the tenant's
time zone, to the minute, with the zone's abbreviation ("30 Nov 2026 17:14 EST"); pages that
list times say once which zone that is (`zone_name`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from ..formatting import day, money, when

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

# the PSTN usage report's call types in words, as Teams' usage report names them
CALL_TYPE_NAMES = {
    "user_out": "Outbound call",
    "user_in": "Inbound call",
    "user_out_conf": "Outbound call escalated to a conference",
    "user_out_transfer": "Outbound call, transferred",
    "user_out_forwarding": "Outbound call, forwarded",
    "conf_in": "Conference dial-in",
    "conf_out": "Conference dial-out",
    "ucap_in": "Inbound call to an auto attendant or call queue",
    "ucap_out": "Outbound call from an auto attendant or call queue",
    "unassigned_in": "Inbound call to an unassigned number",
}
KIND_NAMES = {"purchase": "Purchase", "auto_recharge": "Auto-recharge", "grant": "Credit granted", "usage": "Calls",
              "expiry": "Expiry", "refund": "Refund", "adjustment": "Adjustment"}
PAYER_NAMES = {"pool": "Plan minutes", "credits": "Credits", "mixed": "Plan minutes, then credits", "free": "Free",
               "postpaid": "Post-paid"}


def duration(seconds: int | str | None) -> str:
    """3725 -> '1:02:05' (h:mm:ss)."""
    if seconds is None or seconds == "":
        return "—"
    total = int(seconds)
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


def call_type(code: str | None, number_type: str | None = None) -> str:
    """A call type in words; an inbound call to a toll-free number is 'Toll-free inbound'."""
    if number_type == "toll_free" and code in ("user_in", "conf_in", "ucap_in"):
        return "Toll-free inbound"
    return CALL_TYPE_NAMES.get(code or "", words(code))


def paid_by(capability: str | None) -> str:
    """What paid for a call, from the report's Capability column, in a word or two."""
    if capability == "communications_credits":
        return "Credits"
    if capability and ("calling_plan" in capability or capability.startswith("audio_conferencing")):
        return f"Plan minutes ({license_name(capability)})"
    return PAYER_NAMES.get(capability or "", words(capability).capitalize())


def zone_name(zone: str) -> str:
    """'America/New_York' -> 'America/New York time', said once per page."""
    return f"{zone.replace('_', ' ')} time"


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
                   sentence=sentence, duration=duration, call_type=call_type, zone_name=zone_name,
                   paid_by=paid_by, txn_kind=lambda code: KIND_NAMES.get(code, words(code)),
                   payer=lambda code: PAYER_NAMES.get(code or "", words(code)))
env.globals.update(prefix=PREFIX)


def page(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(env.get_template(template).render(**context), status_code=status_code)
