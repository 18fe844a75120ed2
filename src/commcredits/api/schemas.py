"""Request and response shapes at the HTTP edge. Money is always a decimal string."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt

from ..db.payments import PaymentMethod
from ..db.tenants import Tenant, User
from ..domain.money import Money
from ..formatting import iso
from ..services.access.tenants import PurchaseStatus
from ..views.tenants import purchase_status_out


def _storable(value: str) -> str:
    """Text both databases store: PostgreSQL refuses NUL, and neither encodes lone surrogates."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


def _bounded(max_length: int, min_length: int = 0) -> Any:
    return Field(min_length=min_length, max_length=max_length, pattern=r"^[^\x00]*$")


# Bounded strings without NUL characters, checked at the edge for SQLite and PostgreSQL alike.
Storable = AfterValidator(_storable)
Name = Annotated[str, _bounded(200, 1), Storable]
DisplayName = Annotated[str, _bounded(200), Storable]
Key = Annotated[str, _bounded(64, 1), Storable]  # rating keys, products, kinds: short codes
Email = Annotated[str, _bounded(254, 3), Storable]
Code = Annotated[str, _bounded(64), Storable]  # country, currency, time zone, role and license names
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Year = Annotated[StrictInt, Field(ge=0, le=9999, description="four digits, or two (2000 added)")]
Month = Annotated[StrictInt, Field(ge=1, le=12)]


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TenantIn(In):
    name: Name
    country: Code
    currency: Code
    billing_country: Code
    timezone: Code = "UTC"
    billing_mode: Code = "prepaid"
    rating_key: Key | None = None
    partner_funded: StrictBool = False


class TenantPatch(In):
    """Fields left out stay as they are; null is refused (422), none of them can be emptied."""

    purchase_mitigation: StrictBool | None = None
    partner_funded: StrictBool | None = None
    rating_key: Key | None = None
    name: Name | None = None
    timezone: Code | None = None


class UserIn(In):
    email: Email
    display_name: DisplayName = ""
    usage_location: Code
    roles: list[Code] = Field(default=[], max_length=32)
    licenses: list[Code] = Field(default=[], max_length=32)


class UserPatch(In):
    roles: list[Code] | None = Field(default=None, max_length=32)
    licenses: list[Code] | None = Field(default=None, max_length=32)
    usage_location: Code | None = None
    display_name: DisplayName | None = None


class SwitchTokenIn(In):
    kind: Code = "switch"
    tenant_id: Id | None = Field(default=None, description="bind the token to one tenant; null for all")


class PaymentMethodIn(In):
    card_number: str = Field(min_length=8, max_length=23, pattern=r"^[0-9 -]+$")
    exp_month: Month
    exp_year: Year
    cvc: str = Field(min_length=3, max_length=4, pattern=r"^[0-9]+$")


class FundsIn(In):
    amount: str = Field(max_length=40, description='decimal string, e.g. "50.00"')
    payment_method_id: Id


class GrantIn(In):
    amount: str = Field(max_length=40, description='decimal string, e.g. "25.00"')
    expires_at: datetime
    reason: Name


class ClockIn(In):
    now: datetime | None = None
    advance: str | None = Field(default=None, max_length=40, description="ISO 8601 duration such as P13M or PT1H")


def tenant_out(
    t: Tenant, balance: Money | None = None, purchase_status: PurchaseStatus | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": t.id, "name": t.name, "country": t.country, "currency": t.currency,
        "billing_country": t.billing_country, "timezone": t.timezone,
        "billing_mode": t.billing_mode, "rating_key": t.rating_key,
        "purchase_mitigation": t.purchase_mitigation, "partner_funded": t.partner_funded,
        "created_at": iso(t.created_at),
    }
    if balance is not None:
        out["balance"] = str(balance)
    if purchase_status is not None:
        out["purchase_status"] = purchase_status_out(purchase_status)
    return out


def user_out(u: User) -> dict[str, Any]:
    return {"id": u.id, "tenant_id": u.tenant_id, "email": u.email,
            "display_name": u.display_name, "usage_location": u.usage_location,
            "roles": list(u.roles), "licenses": list(u.licenses), "created_at": iso(u.created_at)}


def payment_method_out(pm: PaymentMethod) -> dict[str, Any]:
    return {"id": pm.id, "brand": pm.brand, "last4": pm.last4, "exp_month": pm.exp_month,
            "exp_year": pm.exp_year, "created_at": iso(pm.created_at)}
