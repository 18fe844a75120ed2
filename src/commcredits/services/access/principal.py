"""Who is asking: resolved from a bearer token, checked against a tenant and a permission.

Another tenant's resources answer 404, never 403, so their existence does not leak.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...db import tenants as tenant_db
from ...db import tokens as token_db
from ...db.engine import read_tx
from ...domain.access import permits
from ...errors import Forbidden, NotFound, Unauthenticated
from ..runtime import Runtime


@dataclass(frozen=True, slots=True)
class Principal:
    kind: str  # operator | user | switch
    tenant_id: str | None = None
    user_id: str | None = None
    roles: tuple[str, ...] = ()

    @property
    def is_operator(self) -> bool:
        return self.kind == "operator"


OPERATOR = Principal("operator")


def authenticate(rt: Runtime, bearer: str | None) -> Principal:
    if not bearer:
        raise Unauthenticated("send 'Authorization: Bearer <token>'")
    with read_tx(rt.engine) as conn:
        token = token_db.find(conn, bearer)
        if token is None:
            raise Unauthenticated("the token is unknown or revoked")
        if token.kind == "user":
            assert token.tenant_id and token.user_id
            user = tenant_db.get_user(conn, token.tenant_id, token.user_id)
            if user is None:
                raise Unauthenticated("the token's user no longer exists")
            return Principal("user", token.tenant_id, token.user_id, user.roles)
        return Principal(token.kind, token.tenant_id)


def require_operator(who: Principal) -> None:
    if not who.is_operator:
        raise Forbidden("only the provider's operators may do this")


def require_tenant(who: Principal, tenant_id: str, permission: str) -> None:
    """The operator may act on any tenant; a user only on its own, with the permission."""
    if who.is_operator:
        return
    if who.kind == "switch":
        raise Forbidden("a switch token only reaches /v1/calls/* and /v1/cdrs")
    if who.kind != "user" or who.tenant_id != tenant_id:
        raise NotFound(f"tenant {tenant_id} not found")
    if not permits(who.roles, permission):
        raise Forbidden(f"your roles do not allow this ({permission.replace('_', ' ')})")


def require_self_or_operator(who: Principal, tenant_id: str, user_id: str, action: str) -> None:
    """The operator, or the user themself; another tenant's user is not even found."""
    if who.is_operator or (who.kind == "user" and who.user_id == user_id and who.tenant_id == tenant_id):
        return
    if who.kind == "user" and who.tenant_id != tenant_id:
        raise NotFound(f"user {user_id} not found")
    raise Forbidden(f"only the operator or the user themself may {action}")
