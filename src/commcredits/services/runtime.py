"""What every use case needs: the engine, the settings, the clock and the payment gateway.

Built once per process (`Runtime.from_settings`) and passed to services as `rt`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine

from ..config import Settings
from ..db.engine import make_engine, read_tx
from ..db.spend_controls import get_purchase_limits
from ..domain.purchases import PurchaseLimits
from ..payments.gateway import PaymentGateway
from ..payments.sandbox import SandboxGateway
from .clock import Clock, SandboxClock, SystemClock


@dataclass
class Runtime:
    engine: Engine
    settings: Settings
    clock: Clock
    gateway: PaymentGateway
    limits: dict[str, PurchaseLimits] = field(default_factory=dict)
    caches: dict[str, Any] = field(default_factory=dict)  # per-process read caches (rating index)

    @classmethod
    def from_settings(cls, settings: Settings, *, engine: Engine | None = None) -> Runtime:
        engine = engine or make_engine(settings.database_url)
        clock: Clock = SandboxClock(engine) if settings.sandbox else SystemClock()
        runtime = cls(engine=engine, settings=settings, clock=clock, gateway=_gateway(settings))
        if isinstance(runtime.gateway, SandboxGateway):  # cards expire on the service's clock
            runtime.gateway.now = lambda: runtime.clock.now()
        return runtime

    def purchase_limits(self, currency: str, conn: Connection | None = None) -> PurchaseLimits:
        """The currency's minimum and maximum per purchase and recharge: an explicit override
        in `limits`, else what the operator stored, else the seeds (DOMAIN.md "Purchase limits
        per currency"). Pass the caller's `conn` inside a transaction."""
        if currency in self.limits:
            return self.limits[currency]
        if conn is not None:
            return get_purchase_limits(conn, currency)[0]
        with read_tx(self.engine) as own:
            return get_purchase_limits(own, currency)[0]


def _gateway(settings: Settings) -> PaymentGateway:
    if settings.payment_gateway == "sandbox":
        return SandboxGateway()
    if settings.payment_gateway == "stripe":
        if not settings.stripe_api_key:
            raise ValueError("COMMCREDITS_PAYMENT_GATEWAY=stripe needs STRIPE_API_KEY")
        from ..payments.stripe_gateway import StripeGateway  # the SDK loads only when used

        return StripeGateway(settings.stripe_api_key, api_base=settings.stripe_api_base)
    raise ValueError(
        f"payment gateway {settings.payment_gateway!r} is not available; use 'sandbox' or 'stripe'"
    )
