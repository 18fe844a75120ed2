"""What happens after a tenant's balance changed: the hook other use cases call.

`balance_changed(rt, tenant_id)` is called by usage charging, call settlement, the expiry
sweep and the payments code AFTER their own transaction has committed, never inside it:
the checks it runs may call a card gateway, which must not happen while a transaction holds
the tenant lock. Today it runs the auto-recharge trigger (synchronously: the charge is made
before it returns); it is the one place to add further reactions to a balance change.
Calling it when auto-recharge is off, suspended or in flight costs one short read, no lock.
"""

from __future__ import annotations

from ..payments import auto_recharge
from ..runtime import Runtime


def balance_changed(rt: Runtime, tenant_id: str) -> None:
    """React to a committed change of the tenant's balance (fires auto-recharge if due)."""
    auto_recharge.check(rt, tenant_id)
