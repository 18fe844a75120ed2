"""The dispatcher: sends what the outbox holds, after the event's transaction committed.

`dispatch_due` runs with the other jobs (`run_due_jobs`: every 5 s under `serve`, on
`commcredits jobs run`, on `POST /v1/jobs/run`). For e-mails, then for webhook deliveries,
it claims a due row (`claims.claim`), sends it outside any transaction, and
records the outcome in a transaction of its own: `sent`, or a failure with the next
attempt scheduled by `notify.retry` (1 min, 2, 4 ... capped at 1 h; marked `failed` after
8 attempts and still retried hourly). Nothing is ever dropped: a row leaves the retry
cycle only as `sent`, `skipped` (the tenant had no admin to write to), or `cancelled` (its
webhook was deleted).

When recording `sent` itself fails (the process dies, the database goes away) the error
propagates: the row stays `sending` until its lease runs out and is then sent again with
the same Message-ID / delivery id: at most one duplicate per crash, which receivers drop.

Without a mail server (`COMMCREDITS_SMTP_URL` unset) e-mails are `held`, not attempted;
they go out from the first run that has one. Webhooks do not depend on it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

import httpx
from prometheus_client import Counter
from sqlalchemy import Engine, Table

from ..config import Settings
from ..db import tenants
from ..db.engine import read_tx, unit_of_work
from ..db.schema_notify import outbox, webhook_deliveries
from . import claims, messages, webhooks
from .mailer import Mailer, mailer_for
from .retry import DUE_STATUSES

log = logging.getLogger("commcredits.notify")
# One row per claim, so a lease (5 min) only ever covers one send (bounded by the SMTP and
# HTTP timeouts) and never expires under rows still waiting their turn in a batch.
BATCH = 1
MAX_ROUNDS = 1000  # at most BATCH * MAX_ROUNDS rows of each kind per run; the rest next run
OUTCOMES = Counter("commcredits_notifications", "E-mail and webhook attempts by outcome", ["channel", "outcome"])


def _tenant_info(engine: Engine, tenant_id: str) -> messages.TenantInfo:
    with read_tx(engine) as conn:
        tenant = tenants.get(conn, tenant_id)
    assert tenant is not None, f"notification for unknown tenant {tenant_id}"
    return messages.TenantInfo(tenant.id, tenant.name, tenant.currency, tenant.timezone)


def _send_email(engine: Engine, settings: Settings, mailer: Mailer, claimed: claims.Claimed, now: datetime) -> str:
    with read_tx(engine) as conn:
        n = claims.load_notification(conn, claimed.id)
    if not n.recipients:
        for tx in unit_of_work(engine):
            with tx as conn:
                claims.mark_final(conn, outbox, n.id, "skipped", "the tenant had no admin to write to")
        return "skipped"
    try:
        rendered = messages.render(n, _tenant_info(engine, n.tenant_id), public_url=settings.public_url)
        refused = mailer.send(messages.email(n, rendered, sender=settings.mail_from), n.recipients)
    except Exception as exc:  # any failure to hand over the message: retried, and shown in the list
        log.warning("e-mail %s (%s) not sent, attempt %s: %s", n.id, n.event, claimed.attempts, exc)
        for tx in unit_of_work(engine):
            with tx as conn:
                return claims.mark_failed(conn, outbox, claimed, now, f"{type(exc).__name__}: {exc}")
    note = "; ".join(f"{addr} refused: {why}" for addr, why in refused.items()) or None
    for tx in unit_of_work(engine):
        with tx as conn:
            claims.mark_sent(conn, outbox, n.id, now, note=note)
    return "sent"


def _send_webhook(engine: Engine, client: httpx.Client, claimed: claims.Claimed, now: datetime) -> str:
    with read_tx(engine) as conn:
        d = claims.load_delivery(conn, claimed)
    if d.deleted:
        for tx in unit_of_work(engine):
            with tx as conn:
                claims.mark_final(conn, webhook_deliveries, d.id, "cancelled", "the webhook was deleted")
        return "cancelled"
    n = d.notification
    content = webhooks.body(delivery_id=d.id, notification_id=n.id, event=n.event, tenant_id=n.tenant_id,
                            created_at=n.created_at, payload=n.payload)
    try:
        status = webhooks.post(client, url=d.url, secret=d.secret, delivery_id=d.id, event=n.event, content=content)
    except webhooks.DeliveryFailed as exc:
        log.warning("webhook delivery %s to %s failed, attempt %s: %s", d.id, d.url, d.attempts, exc)
        for tx in unit_of_work(engine):
            with tx as conn:
                return claims.mark_failed(conn, webhook_deliveries, claimed, now, str(exc), response_status=exc.status)
    for tx in unit_of_work(engine):
        with tx as conn:
            claims.mark_sent(conn, webhook_deliveries, d.id, now, response_status=status)
    return "sent"


def _drain(engine: Engine, table: Table, now: datetime, statuses: tuple[str, ...],
           send: Callable[[claims.Claimed], str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _ in range(MAX_ROUNDS):
        for tx in unit_of_work(engine):
            with tx as conn:
                batch = claims.claim(conn, table, now, statuses=statuses, limit=BATCH)
        for claimed in batch:
            outcome = send(claimed)
            counts[outcome] = counts.get(outcome, 0) + 1
            OUTCOMES.labels("email" if table is outbox else "webhook", outcome).inc()
        if len(batch) < BATCH:
            break
    return counts


def dispatch_due(
    engine: Engine, settings: Settings, now: datetime, *, mailer: Mailer | None = None,
    client: httpx.Client | None = None,
) -> dict[str, dict[str, int]]:
    """Send every due e-mail and webhook delivery; return counts by outcome."""
    mailer = mailer or mailer_for(settings)
    if mailer is None:
        for tx in unit_of_work(engine):
            with tx as conn:
                held = claims.hold_due_emails(conn, now)
        OUTCOMES.labels("email", "held").inc(held)
        emails = {"held": held} if held else {}
    else:
        emails = _drain(engine, outbox, now, (*DUE_STATUSES, "held"),
                        lambda c: _send_email(engine, settings, mailer, c, now))
    opened: list[httpx.Client] = []

    def send_hook(claimed: claims.Claimed) -> str:
        if client is None and not opened:
            opened.append(webhooks.client(settings.webhook_allow_hosts))
        return _send_webhook(engine, client or opened[0], claimed, now)

    try:
        hooks = _drain(engine, webhook_deliveries, now, DUE_STATUSES, send_hook)
    finally:
        for http in opened:
            http.close()
    return {"emails": emails, "webhooks": hooks}
