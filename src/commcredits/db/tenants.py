"""Tenants and their users."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from .schema import tenants, users


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    name: str
    country: str
    currency: str
    billing_country: str
    timezone: str
    billing_mode: str
    rating_key: str
    purchase_mitigation: bool
    partner_funded: bool
    deficit: int
    reserved: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class User:
    id: str
    tenant_id: str
    email: str
    display_name: str
    usage_location: str
    roles: tuple[str, ...]
    licenses: tuple[str, ...]
    created_at: datetime


def _tenant(row: Any) -> Tenant:
    return Tenant(**row._mapping)


def _user(row: Any) -> User:
    data = dict(row._mapping)
    data["roles"] = tuple(json.loads(data["roles"]))
    data["licenses"] = tuple(json.loads(data["licenses"]))
    return User(**data)


def insert_tenant(conn: Connection, tenant: Tenant) -> None:
    conn.execute(tenants.insert().values(**{f: getattr(tenant, f) for f in Tenant.__slots__}))


def get(conn: Connection, tenant_id: str) -> Tenant | None:
    row = conn.execute(select(tenants).where(tenants.c.id == tenant_id)).first()
    return _tenant(row) if row else None


def lock(conn: Connection, tenant_id: str) -> Tenant | None:
    """Read the tenant and hold its row lock until the transaction ends (PostgreSQL; on
    SQLite the write transaction already holds the database lock)."""
    stmt = select(tenants).where(tenants.c.id == tenant_id)
    if conn.dialect.name != "sqlite":
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).first()
    return _tenant(row) if row else None


def list_all(conn: Connection, *, after: str | None, limit: int) -> list[Tenant]:
    stmt = select(tenants).order_by(tenants.c.id).limit(limit)
    if after:
        stmt = stmt.where(tenants.c.id > after)
    return [_tenant(r) for r in conn.execute(stmt)]


def set_fields(conn: Connection, tenant_id: str, **fields: Any) -> None:
    conn.execute(update(tenants).where(tenants.c.id == tenant_id).values(**fields))


def insert_user(conn: Connection, user: User) -> None:
    values = {f: getattr(user, f) for f in User.__slots__}
    values["roles"] = json.dumps(list(user.roles))
    values["licenses"] = json.dumps(list(user.licenses))
    conn.execute(users.insert().values(**values))


def get_user(conn: Connection, tenant_id: str, user_id: str) -> User | None:
    row = conn.execute(
        select(users).where(users.c.id == user_id, users.c.tenant_id == tenant_id)
    ).first()
    return _user(row) if row else None


def user_by_email(conn: Connection, tenant_id: str, email: str) -> User | None:
    row = conn.execute(
        select(users).where(users.c.tenant_id == tenant_id, users.c.email == email)
    ).first()
    return _user(row) if row else None


def list_users(conn: Connection, tenant_id: str, *, after: str | None, limit: int) -> list[User]:
    stmt = select(users).where(users.c.tenant_id == tenant_id).order_by(users.c.id).limit(limit)
    if after:
        stmt = stmt.where(users.c.id > after)
    return [_user(r) for r in conn.execute(stmt)]


def update_user(conn: Connection, user: User) -> None:
    conn.execute(
        update(users)
        .where(users.c.id == user.id)
        .values(
            display_name=user.display_name,
            usage_location=user.usage_location,
            roles=json.dumps(list(user.roles)),
            licenses=json.dumps(list(user.licenses)),
        )
    )
