"""`services.payments.recharge_settings` as JSON."""

from __future__ import annotations

from typing import Any

from commcredits.services.payments import recharge_settings
from commcredits.views.payments import recharge_settings_out


def settings_view(*args: Any, **kwargs: Any) -> dict[str, Any]:
    return recharge_settings_out(recharge_settings.settings_view(*args, **kwargs))


def save_settings(*args: Any, **kwargs: Any) -> dict[str, Any]:
    return recharge_settings_out(recharge_settings.save_settings(*args, **kwargs))
