"""Request and response shapes at the HTTP edge. Money is always a decimal string."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..db.payments import PaymentMethod
from ..db.tenants import Tenant, User
from ..domain.money import format_micros, minor_units
from ..services.funds import iso


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TenantIn(In):
    name: str = Field(min_length=1, max_length=200)
    country: str
    currency: str
    billing_country: str
    timezone: str = "UTC"
    billing_mode: str = "prepaid"
    rating_key: str | None = None
    partner_funded: bool = False


class TenantPatch(In):
    purchase_mitigation: bool | None = None
    partner_funded: bool | None = None
    rating_key: str | None = None
    name: str | None = None
    timezone: str | None = None


class UserIn(In):
    email: str
    display_name: str = ""
    usage_location: str
    roles: list[str] = []
    licenses: list[str] = []


class UserPatch(In):
    roles: list[str] | None = None
    licenses: list[str] | None = None
    usage_location: str | None = None
    display_name: str | None = None


class SwitchTokenIn(In):
    kind: str = "switch"
    tenant_id: str | None = None


class PaymentMethodIn(In):
    card_number: str = Field(min_length=8, max_length=23)
    exp_month: int
    exp_year: int
    cvc: str = Field(min_length=3, max_length=4)


class FundsIn(In):
    amount: str = Field(description='decimal string, e.g. "50.00"')
    payment_method_id: str


class GrantIn(In):
    amount: str
    expires_at: datetime
    reason: str = Field(min_length=1, max_length=200)


class ClockIn(In):
    now: datetime | None = None
    advance: str | None = Field(default=None, description="ISO 8601 duration such as P13M or PT1H")


def tenant_out(t: Tenant, balance: int | None = None, purchase_status: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": t.id, "name": t.name, "country": t.country, "currency": t.currency,
        "billing_country": t.billing_country, "timezone": t.timezone,
        "billing_mode": t.billing_mode, "rating_key": t.rating_key,
        "purchase_mitigation": t.purchase_mitigation, "partner_funded": t.partner_funded,
        "created_at": iso(t.created_at),
    }
    if balance is not None:
        out["balance"] = format_micros(balance, minor_units(t.currency))
    if purchase_status is not None:
        out["purchase_status"] = purchase_status
    return out


def user_out(u: User) -> dict[str, Any]:
    return {"id": u.id, "tenant_id": u.tenant_id, "email": u.email,
            "display_name": u.display_name, "usage_location": u.usage_location,
            "roles": list(u.roles), "licenses": list(u.licenses), "created_at": iso(u.created_at)}


def payment_method_out(pm: PaymentMethod) -> dict[str, Any]:
    return {"id": pm.id, "brand": pm.brand, "last4": pm.last4, "exp_month": pm.exp_month,
            "exp_year": pm.exp_year, "created_at": iso(pm.created_at)}
