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

Receivers on internal addresses are refused, at registration (`check_url`: loopback,
private, link-local, unique-local, unspecified, multicast and reserved addresses, IPv4 and
IPv6 including IPv4-mapped forms, `localhost`, and any scheme but http and https) and again
at every delivery (`GuardedTransport`): the host name is resolved, every address it resolves
to must be public, and the connection goes to the address that was checked (TLS still
verifies the certificate for the name), so a DNS answer that changes between the check and
the connection (DNS rebinding) cannot reach an internal service. The operator may allow
named hosts with `COMMCREDITS_WEBHOOK_ALLOW_HOSTS=host1,host2` (a receiver on the same
network, or tests on 127.0.0.1); those are neither checked nor pinned.

The secret is stored in clear (signing needs it; the API shows it only once, when the
webhook is created), unlike tokens which are stored as hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
from collections.abc import Callable, Iterable
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


Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def internal_reason(ip: Address) -> str | None:
    """Why an address must not receive webhooks, or None for a public one."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and (int(ip) >> 32 == 0 or ip in _NAT64):  # ::a.b.c.d, 64:ff9b::a.b.c.d
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if int(ip) > 1 else None
        if embedded is not None:
            return internal_reason(embedded)
    if ip.is_loopback or ip.is_unspecified:
        return "a loopback or unspecified address"
    if ip.is_link_local:
        return "a link-local address (such as a cloud metadata service)"
    if ip.is_private or not ip.is_global:
        return "a private or reserved address"
    if ip.is_multicast:
        return "a multicast address"
    return None


def _literal(host: str) -> Address | None:
    """The address a host name spells, in any form a resolver accepts (127.1, 2130706433)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def allowed(host: str, allow_hosts: Iterable[str]) -> bool:
    return host.lower().rstrip(".") in {h.lower().rstrip(".") for h in allow_hosts}


def check_url(url: str, allow_hosts: Iterable[str] = ()) -> str:
    """An absolute http(s) URL of a public host (or an allowed one), else ValueError."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"webhook url {url!r} must be an absolute http:// or https:// URL")
    if parts.username or parts.password:
        raise ValueError("a webhook url must not carry credentials; the signature authenticates us")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        raise ValueError(f"webhook url {url!r} has an invalid port") from None
    host = parts.hostname
    if allowed(host, allow_hosts):
        return url.strip()
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        raise ValueError(f"webhook url {url!r} names this machine; receivers must be public hosts")
    ip = _literal(host)
    reason = internal_reason(ip) if ip is not None else None
    if reason:
        raise ValueError(f"webhook url {url!r} points to {reason}; receivers must be public hosts")
    return url.strip()


Resolver = Callable[[str, int], list[str]]


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (the system resolver)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def public_address(host: str, port: int, resolver: Resolver = resolve) -> str:
    """The address to connect to: every address of `host` must be public, else ValueError."""
    literal = _literal(host)
    addresses = [str(literal)] if literal is not None else resolver(host, port)
    if not addresses:
        raise ValueError(f"{host} resolves to no address")
    for address in addresses:
        reason = internal_reason(ipaddress.ip_address(address.split("%", 1)[0]))
        if reason:
            raise ValueError(f"refused: {host} resolves to {address}, {reason}")
    return addresses[0]


class GuardedTransport(httpx.BaseTransport):
    """Checks every request's host at connection time and connects to the checked address."""

    def __init__(self, allow_hosts: Iterable[str] = (), resolver: Resolver | None = None) -> None:
        self._inner = httpx.HTTPTransport()
        self._allow = tuple(allow_hosts)
        self._resolver = resolver

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if not allowed(host, self._allow):
            port = request.url.port or (443 if request.url.scheme == "https" else 80)
            try:
                address = public_address(host, port, self._resolver or resolve)
            except (OSError, ValueError) as exc:
                raise httpx.ConnectError(str(exc), request=request) from None
            request.url = request.url.copy_with(host=address)  # the Host header keeps the name
            if request.url.scheme == "https":
                request.extensions = {**request.extensions, "sni_hostname": host}
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


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


def client(allow_hosts: Iterable[str] = ()) -> httpx.Client:
    return httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False, transport=GuardedTransport(allow_hosts))
