"""Notifications, webhooks and deliveries as JSON (API.md "Notifications", "Webhooks").

The admin center's notifications page renders the same shape as `GET .../notifications`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..formatting import iso
from ..notify.store import Webhook
from ..services.notify.notifications import (
    DeliveryPage,
    DeliveryView,
    NewWebhook,
    NotificationPage,
    NotificationView,
    WebhookSummary,
)


def _iso(instant: datetime | None) -> str | None:
    return None if instant is None else iso(instant)


def notification_out(n: NotificationView) -> dict[str, Any]:
    return {"id": n.id, "event": n.event, "recipients": list(n.recipients), "subject": n.subject,
            "status": n.status, "attempts": n.attempts, "last_error": n.last_error,
            "created_at": iso(n.created_at), "sent_at": _iso(n.sent_at), "next_attempt_at": _iso(n.next_attempt_at),
            "payload": n.payload}


def notification_page_out(page: NotificationPage) -> dict[str, Any]:
    return {"items": [notification_out(n) for n in page.items], "next_cursor": page.next_cursor}


def webhook_out(hook: Webhook, deliveries: dict[str, int]) -> dict[str, Any]:
    return {"id": hook.id, "url": hook.url, "events": list(hook.events), "created_by": hook.created_by,
            "created_at": iso(hook.created_at), "deliveries": deliveries}


def new_webhook_out(made: NewWebhook) -> dict[str, Any]:
    """The registration's answer: the webhook (no deliveries yet) and its secret."""
    return {**webhook_out(made.hook, {}), "secret": made.secret}


def webhook_list_out(hooks: list[WebhookSummary]) -> dict[str, Any]:
    return {"items": [webhook_out(h.hook, h.deliveries) for h in hooks], "next_cursor": None}


def delivery_out(d: DeliveryView) -> dict[str, Any]:
    return {"id": d.id, "notification_id": d.notification_id, "event": d.event, "status": d.status,
            "attempts": d.attempts, "response_status": d.response_status, "last_error": d.last_error,
            "created_at": iso(d.created_at), "sent_at": _iso(d.sent_at), "next_attempt_at": _iso(d.next_attempt_at)}


def delivery_page_out(page: DeliveryPage) -> dict[str, Any]:
    return {"items": [delivery_out(d) for d in page.items], "next_cursor": page.next_cursor}
