"""Signed webhook deliveries: what is POSTed, how it is signed, how a receiver verifies it.

A delivery is `POST <url>` with a JSON body

    {"delivery_id", "notification_id", "event", "tenant_id", "created_at", "data": {...}}

(`data` is the event's payload: amounts as decimal strings in the tenant currency) and the
headers

    Commcredits-Delivery: <delivery id>      the same at every retry: drop what you have seen
    Commcredits-Event: <event>
    Commcredits-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>

The body is identical at every attempt; only the signing time changes. The signing time is
wall-clock time even on a sandbox clock, because receivers compare it with their own clock
to refuse replays (`verify`'s `tolerance`). Any 2xx answer is success; anything else, a
timeout or a refused connection is a failure, retried with backoff (`notify.retry`).
Redirects are not followed: a receiver that moved must be registered again.

The secret is stored in clear (signing needs it; the API shows it only once, when the
webhook is created), unlike tokens which are stored as hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

SIGNATURE_HEADER = "Commcredits-Signature"
DELIVERY_HEADER = "Commcredits-Delivery"
EVENT_HEADER = "Commcredits-Event"
TIMEOUT_SECONDS = 10.0


class DeliveryFailed(Exception):
    """The receiver did not accept the delivery; `status` is its HTTP status, if any."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def check_url(url: str) -> str:
    """An absolute http(s) URL with a host, else ValueError naming the problem."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"webhook url {url!r} must be an absolute http:// or https:// URL")
    if parts.username or parts.password:
        raise ValueError("a webhook url must not carry credentials; the signature authenticates us")
    return url.strip()


def body(
    *, delivery_id: str, notification_id: str, event: str, tenant_id: str, created_at: datetime,
    payload: dict[str, Any],
) -> bytes:
    doc = {"delivery_id": delivery_id, "notification_id": notification_id, "event": event,
           "tenant_id": tenant_id, "created_at": created_at.isoformat().replace("+00:00", "Z"),
           "data": payload}
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def sign(secret: str, timestamp: int, content: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + content, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, content: bytes) -> str:
    return f"t={timestamp},v1={sign(secret, timestamp, content)}"


def verify(secret: str, header: str, content: bytes, *, now: float, tolerance: float = 300) -> bool:
    """What a receiver does: check the signature and that it is recent."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, content), fields.get("v1", ""))


def post(client: httpx.Client, *, url: str, secret: str, delivery_id: str, event: str, content: bytes) -> int:
    """POST one delivery; return the 2xx status, or raise DeliveryFailed."""
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json", "User-Agent": "commcredits-webhooks/1",
        DELIVERY_HEADER: delivery_id, EVENT_HEADER: event,
        SIGNATURE_HEADER: signature_header(secret, timestamp, content),
    }
    try:
        response = client.post(url, content=content, headers=headers)
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(f"HTTP {response.status_code}: {response.text[:200]}", response.status_code)
    return response.status_code


def client() -> httpx.Client:
    return httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False)
