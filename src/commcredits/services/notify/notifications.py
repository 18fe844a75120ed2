"""Notifications as the API shows them, webhook registration, and the dispatch job.

Any admin of a tenant sees its notifications; webhooks are managed by billing admins (and
the operator, for any tenant). A webhook's secret is returned once, by `register_webhook`;
the list shows each webhook with its deliveries counted by status, and each delivery can be
listed with its attempts and last error. Sending itself is `notify.dispatcher`.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ...db import tenants
from ...db.engine import read_tx, unit_of_work
from ...db.tenants import Tenant
from ...domain.access import MANAGE_BILLING, VIEW_BILLING
from ...errors import NotFound, ValidationError
from ...notify import dispatcher, messages, store, webhooks
from ...notify.outbox import EVENTS
from ..access.principal import Principal, require_tenant
from ..runtime import Runtime


def dispatch(rt: Runtime, now: datetime) -> dict[str, dict[str, int]]:
    """The job: send every e-mail and webhook delivery that is due."""
    return dispatcher.dispatch_due(rt.engine, rt.settings, now)


def _cursor(created_at: datetime, row_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{row_id}".encode()).decode()


def _key(cursor: str | None) -> store.Key | None:
    if not cursor:
        return None
    try:
        at, row_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return datetime.fromisoformat(at), row_id
    except ValueError:
        raise ValidationError("cursor is not one this service returned") from None


def _tenant(conn: Any, tenant_id: str) -> Tenant:
    tenant = tenants.get(conn, tenant_id)
    if tenant is None:
        raise NotFound(f"tenant {tenant_id} not found")
    return tenant


def _subject(row: Any, info: messages.TenantInfo, public_url: str) -> str:
    n = messages.Notification(row["id"], row["tenant_id"], row["event"], json.loads(row["payload"]),
                              (), row["created_at"])
    try:
        return messages.render_subject(n, info, public_url=public_url)
    except Exception as exc:  # the dispatcher reports the same error on the row; the list stays readable
        return f"({row['event']}: cannot render: {exc})"


@dataclass(frozen=True, slots=True)
class NotificationView:
    """A notification as its tenant's admins see it. `next_attempt_at` is None once it was
    sent or skipped; `subject` is rendered now (or says why it cannot be)."""

    id: str
    event: str
    recipients: tuple[str, ...]
    subject: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None
    payload: dict[str, object]


@dataclass(frozen=True, slots=True)
class NotificationPage:
    items: tuple[NotificationView, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class WebhookSummary:
    """A live webhook and its deliveries counted by status."""

    hook: store.Webhook
    deliveries: dict[str, int]


@dataclass(frozen=True, slots=True)
class NewWebhook:
    """A webhook just registered, with its signing secret (shown this once)."""

    hook: store.Webhook
    secret: str


@dataclass(frozen=True, slots=True)
class DeliveryView:
    """One webhook delivery; `next_attempt_at` is None once it was sent or cancelled."""

    id: str
    notification_id: str
    event: str
    status: str
    attempts: int
    response_status: int | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None


@dataclass(frozen=True, slots=True)
class DeliveryPage:
    items: tuple[DeliveryView, ...]
    next_cursor: str | None


def list_notifications(
    rt: Runtime, who: Principal, tenant_id: str, *, cursor: str | None, limit: int
) -> NotificationPage:
    require_tenant(who, tenant_id, VIEW_BILLING)
    before = _key(cursor)
    with read_tx(rt.engine) as conn:
        tenant = _tenant(conn, tenant_id)
        rows = store.notifications(conn, tenant_id, before=before, limit=limit + 1)
    info = messages.TenantInfo(tenant.id, tenant.name, tenant.currency, tenant.timezone)
    items = tuple(
        NotificationView(
            id=r["id"], event=r["event"], recipients=tuple(json.loads(r["recipients"])),
            subject=_subject(r, info, rt.settings.public_url), status=r["status"], attempts=r["attempts"],
            last_error=r["last_error"], created_at=r["created_at"], sent_at=r["sent_at"],
            next_attempt_at=None if r["status"] in ("sent", "skipped") else r["next_attempt_at"],
            payload=json.loads(r["payload"]),
        )
        for r in rows[:limit]
    )
    last = rows[limit - 1] if len(rows) > limit else None
    return NotificationPage(items, last and _cursor(last["created_at"], last["id"]))


def register_webhook(rt: Runtime, who: Principal, tenant_id: str, *, url: str, events: list[str]) -> NewWebhook:
    """Subscribe `url` to `events`; the answer carries the signing secret, shown only here."""
    require_tenant(who, tenant_id, MANAGE_BILLING)
    try:
        url = webhooks.check_url(url, rt.settings.webhook_allow_hosts)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    unknown = sorted(set(events) - set(EVENTS))
    if not events or unknown:
        extra = f"; unknown: {', '.join(unknown)}" if unknown else ""
        raise ValidationError(f"events must name one or more of {', '.join(EVENTS)}{extra}")
    secret = webhooks.new_secret()
    for tx in unit_of_work(rt.engine):
        with tx as conn:
            _tenant(conn, tenant_id)
            hook = store.insert_webhook(
                conn, tenant_id=tenant_id, url=url, events=tuple(e for e in EVENTS if e in events), secret=secret,
                created_by="operator" if who.is_operator else "user", now=rt.clock.now(),
            )
    return NewWebhook(hook, secret)


def list_webhooks(rt: Runtime, who: Principal, tenant_id: str) -> list[WebhookSummary]:
    require_tenant(who, tenant_id, MANAGE_BILLING)
    with read_tx(rt.engine) as conn:
        _tenant(conn, tenant_id)
        hooks = store.live_webhooks(conn, tenant_id)
        counts = store.delivery_counts(conn, [h.id for h in hooks])
    return [WebhookSummary(h, counts[h.id]) for h in hooks]


def list_deliveries(
    rt: Runtime, who: Principal, tenant_id: str, webhook_id: str, *, cursor: str | None, limit: int
) -> DeliveryPage:
    require_tenant(who, tenant_id, MANAGE_BILLING)
    before = _key(cursor)
    with read_tx(rt.engine) as conn:
        if store.get_webhook(conn, tenant_id, webhook_id) is None:
            raise NotFound(f"webhook {webhook_id} not found")
        rows = store.deliveries(conn, webhook_id, before=before, limit=limit + 1)
    items = tuple(
        DeliveryView(
            id=r["id"], notification_id=r["notification_id"], event=r["event"], status=r["status"],
            attempts=r["attempts"], response_status=r["response_status"], last_error=r["last_error"],
            created_at=r["created_at"], sent_at=r["sent_at"],
            next_attempt_at=r["next_attempt_at"] if r["status"] not in ("sent", "cancelled") else None,
        )
        for r in rows[:limit]
    )
    last = rows[limit - 1] if len(rows) > limit else None
    return DeliveryPage(items, last and _cursor(last["created_at"], last["id"]))


def delete_webhook(rt: Runtime, who: Principal, tenant_id: str, webhook_id: str) -> None:
    require_tenant(who, tenant_id, MANAGE_BILLING)
    for tx in unit_of_work(rt.engine):
        with tx as conn:
            if store.get_webhook(conn, tenant_id, webhook_id) is None:
                raise NotFound(f"webhook {webhook_id} not found")
            store.delete_webhook(conn, webhook_id, rt.clock.now())
