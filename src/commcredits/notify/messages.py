"""What a notification says: subject, plain-text and HTML bodies from Jinja2 templates, and
the e-mail that carries them.

Each event has `templates/<event>.txt` (whose `subject` block is the subject line) and
`templates/<event>.html`. Templates see the tenant (`tenant.name`, `tenant.currency`), the
event's `payload` (amounts as decimal strings in the tenant currency, instants as ISO 8601;
the fields per event are listed in docs/notifications.md), `admin_url` (what to do next)
and two helpers: `money("50.00")` -> "50.00 USD" and `when("2026-02-14T10:00:00Z")` ->
"14 Feb 2026 05:00 EST (America/New_York)": the tenant's time zone, to the minute, with the
abbreviation the admin center prints and the zone's name ("14 Feb 2026 10:00 UTC" for a
tenant on UTC), so a lot expires at the same time in an e-mail and on the pages.
Undefined names are errors, never blanks: a notification that cannot be rendered is retried
and shows its error in the list instead of going out wrong.

The e-mail's Message-ID and Date derive from the notification (its id and when it
happened) and so does the MIME boundary, never from the moment of sending: a duplicate
sent after a crash is byte-for-byte the same message, and receivers can drop it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template

TEMPLATES = Path(__file__).resolve().parent / "templates"

_text = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, autoescape=False,
                    trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
_html = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, autoescape=True,
                    trim_blocks=True, lstrip_blocks=True)


@dataclass(frozen=True, slots=True)
class TenantInfo:
    id: str
    name: str
    currency: str
    timezone: str = "UTC"  # IANA name; times in messages are shown in it


@dataclass(frozen=True, slots=True)
class Notification:
    id: str
    tenant_id: str
    event: str
    payload: dict[str, Any]
    recipients: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str


PAGES = {  # the admin-center page where an event's "what to do next" is done
    "pool_threshold": "usage", "statement_issued": "postpaid", "spend_cap_reached": "spend-controls",
    "spend_anomaly": "spend-controls",
}


def admin_url(public_url: str, tenant_id: str, event: str = "") -> str:
    """The tenant's admin-center page for the event (billing unless another fits better);
    COMMCREDITS_PUBLIC_URL is the base. A reader who is not logged in is sent to the login
    page and back here."""
    return f"{public_url.rstrip('/')}/admin/t/{tenant_id}/{PAGES.get(event, 'billing')}"


def when(value: str | datetime, zone: str = "UTC") -> str:
    """An instant in the tenant's zone, to the minute, naming the zone (naive means UTC)."""
    instant = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    local = (instant if instant.tzinfo else instant.replace(tzinfo=UTC)).astimezone(ZoneInfo(zone))
    text = local.strftime("%d %b %Y %H:%M ") + (local.tzname() or zone)
    return text if zone == "UTC" else f"{text} ({zone})"


def _context(n: Notification, tenant: TenantInfo, public_url: str) -> dict[str, Any]:
    currency = str(n.payload.get("currency") or tenant.currency)
    return {
        "tenant": tenant, "payload": n.payload, "event": n.event, "notification_id": n.id,
        "currency": currency, "admin_url": admin_url(public_url, tenant.id, n.event),
        "money": lambda amount: f"{amount} {currency}",
        "when": lambda value: when(value, tenant.timezone),
    }


def _subject(template: Template, context: dict[str, Any]) -> str:
    block = template.blocks["subject"]
    return " ".join("".join(block(template.new_context(context))).split())


def render(n: Notification, tenant: TenantInfo, *, public_url: str) -> Rendered:
    """Subject and bodies of a notification; raises if the payload lacks a needed field."""
    context = _context(n, tenant, public_url)
    text = _text.get_template(f"{n.event}.txt")
    return Rendered(
        subject=_subject(text, context),
        text=text.render(context),
        html=_html.get_template(f"{n.event}.html").render(context),
    )


def render_subject(n: Notification, tenant: TenantInfo, *, public_url: str) -> str:
    return _subject(_text.get_template(f"{n.event}.txt"), _context(n, tenant, public_url))


def message_id(notification_id: str, sender: str) -> str:
    """A Message-ID that is the same at every attempt: the notification id at the sender's
    domain."""
    domain = sender.rsplit("@", 1)[-1].strip(" >") if "@" in sender else "commcredits.invalid"
    return f"<{notification_id}@{domain}>"


def email(n: Notification, rendered: Rendered, *, sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = rendered.subject
    msg["From"] = sender
    msg["To"] = ", ".join(n.recipients)
    msg["Date"] = format_datetime(n.created_at)
    msg["Message-ID"] = message_id(n.id, sender)
    msg["X-Commcredits-Event"] = n.event
    msg["X-Commcredits-Notification"] = n.id
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(rendered.text)
    msg.add_alternative(rendered.html, subtype="html")
    msg.set_boundary(f"=_commcredits_{n.id}")
    return msg
