"""`services.billing.subscriptions` as JSON."""

from __future__ import annotations

from typing import Any

from commcredits.services.billing import subscriptions
from commcredits.views.billing import allowance_out, minute_pools_out, subscriptions_out


def set_subscription(*args: Any, **kwargs: Any) -> dict[str, Any]:
    return subscriptions_out(subscriptions.set_subscription(*args, **kwargs))


def minute_pools(*args: Any, **kwargs: Any) -> dict[str, Any]:
    return minute_pools_out(subscriptions.minute_pools(*args, **kwargs))


def set_allowance(*args: Any, **kwargs: Any) -> dict[str, Any]:
    return allowance_out(subscriptions.set_allowance(*args, **kwargs))
