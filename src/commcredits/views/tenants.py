"""Tenants' purchase status and issued tokens as JSON (API.md "Tenants", "Tokens")."""

from __future__ import annotations

from typing import Any

from ..services.access.tenants import IssuedToken, PurchaseStatus


def purchase_status_out(status: PurchaseStatus) -> dict[str, Any]:
    """`{"allowed": true}`, or `allowed: false` with the reason code and the way out."""
    if status.allowed:
        return {"allowed": True}
    return {"allowed": False, "reason": status.reason, "detail": status.detail}


def token_out(token: IssuedToken) -> dict[str, Any]:
    """A token as issued; `user_id` only on user tokens."""
    out: dict[str, Any] = {"id": token.id, "token": token.token, "kind": token.kind, "tenant_id": token.tenant_id}
    if token.kind == "user":
        out["user_id"] = token.user_id
    return out
