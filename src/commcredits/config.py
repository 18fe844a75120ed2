"""Settings from the environment (API.md "Environment"), read once into a frozen value."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

DEFAULT_DATABASE_URL = "sqlite:///./var/commcredits.db"


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _codes(name: str, default: str) -> frozenset[str]:
    raw = os.environ.get(name, default)
    return frozenset(c.strip().upper() for c in raw.split(",") if c.strip())


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    operator_token: str | None = None
    smtp_url: str | None = None
    sandbox: bool = False
    payment_gateway: str = "sandbox"
    blocked_countries: frozenset[str] = field(default_factory=lambda: frozenset({"RU", "KR", "TW"}))
    public_url: str = "http://127.0.0.1:8000"

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database_url=os.environ.get("COMMCREDITS_DATABASE_URL", DEFAULT_DATABASE_URL),
            operator_token=os.environ.get("COMMCREDITS_OPERATOR_TOKEN") or None,
            smtp_url=os.environ.get("COMMCREDITS_SMTP_URL") or None,
            sandbox=_flag("COMMCREDITS_SANDBOX"),
            payment_gateway=os.environ.get("COMMCREDITS_PAYMENT_GATEWAY", "sandbox"),
            blocked_countries=_codes("COMMCREDITS_BLOCKED_COUNTRIES", "RU,KR,TW"),
            public_url=os.environ.get("COMMCREDITS_PUBLIC_URL", "http://127.0.0.1:8000"),
        )
