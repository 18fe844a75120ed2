"""Settings from the environment (API.md "Environment"), read once into a frozen value."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

DEFAULT_DATABASE_URL = "sqlite:///./var/commcredits.db"


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    try:
        return int(raw) if raw else default
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {raw!r}") from None


def _choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
    raw = os.environ.get(name, "").strip().lower() or default
    if raw not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {raw!r}")
    return raw


def _codes(name: str, default: str) -> frozenset[str]:
    raw = os.environ.get(name, default)
    return frozenset(c.strip().upper() for c in raw.split(",") if c.strip())


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    operator_token: str | None = None
    smtp_url: str | None = None
    mail_from: str = "Commcredits <commcredits@localhost>"
    sandbox: bool = False
    payment_gateway: str = "sandbox"
    stripe_api_key: str | None = None
    stripe_api_base: str | None = None
    blocked_countries: frozenset[str] = field(default_factory=lambda: frozenset({"RU", "KR", "TW"}))
    public_url: str = "http://127.0.0.1:8000"
    call_chunk_seconds: int = 300  # time granted per authorization or extension
    call_max_seconds: int = 14_400  # the longest call ever granted in one go
    reservation_grace_seconds: int = 60  # a hold outlives its granted time by this much
    reservation_ttl_seconds: int = 14_400  # holds of calls with no time limit expire after this
    webhook_allow_hosts: frozenset[str] = frozenset()  # receivers exempt from the internal-address check
    seller_name: str = "commcredits"  # the operator as it appears on receipts
    seller_address: str = ""  # one line; "\n" or " | " separate lines on the receipt
    seller_tax_id: str = ""  # e.g. a VAT number, printed on receipts
    call_desk: str = "thread"  # "process": the HTTP API's call desk runs in a process of its own
    # who makes the desk's committed batches durable: "writer" (itself, then answers), "syncer"
    # (a second thread, while the writer decides the next batch), "auto" (the writer while a
    # sync takes under a millisecond, the syncer otherwise; docs/performance.md)
    call_desk_sync: str = "auto"

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database_url=os.environ.get("COMMCREDITS_DATABASE_URL", DEFAULT_DATABASE_URL),
            operator_token=os.environ.get("COMMCREDITS_OPERATOR_TOKEN") or None,
            smtp_url=os.environ.get("COMMCREDITS_SMTP_URL") or None,
            mail_from=os.environ.get("COMMCREDITS_MAIL_FROM") or "Commcredits <commcredits@localhost>",
            sandbox=_flag("COMMCREDITS_SANDBOX"),
            payment_gateway=os.environ.get("COMMCREDITS_PAYMENT_GATEWAY", "sandbox"),
            stripe_api_key=os.environ.get("STRIPE_API_KEY") or None,
            stripe_api_base=os.environ.get("STRIPE_API_BASE") or None,
            blocked_countries=_codes("COMMCREDITS_BLOCKED_COUNTRIES", "RU,KR,TW"),
            public_url=os.environ.get("COMMCREDITS_PUBLIC_URL", "http://127.0.0.1:8000"),
            call_chunk_seconds=_int("COMMCREDITS_CALL_CHUNK_SECONDS", 300),
            call_max_seconds=_int("COMMCREDITS_CALL_MAX_SECONDS", 14_400),
            reservation_grace_seconds=_int("COMMCREDITS_RESERVATION_GRACE_SECONDS", 60),
            reservation_ttl_seconds=_int("COMMCREDITS_RESERVATION_TTL_SECONDS", 14_400),
            webhook_allow_hosts=frozenset(
                h.strip().lower() for h in os.environ.get("COMMCREDITS_WEBHOOK_ALLOW_HOSTS", "").split(",") if h.strip()
            ),
            seller_name=os.environ.get("COMMCREDITS_SELLER_NAME") or "commcredits",
            seller_address=os.environ.get("COMMCREDITS_SELLER_ADDRESS", ""),
            seller_tax_id=os.environ.get("COMMCREDITS_SELLER_TAX_ID", ""),
            call_desk=_choice("COMMCREDITS_CALL_DESK", "process", ("process", "thread")),
            call_desk_sync=_choice("COMMCREDITS_CALL_DESK_SYNC", "auto", ("auto", "writer", "syncer")),
        )
