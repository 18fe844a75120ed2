"""`services.ledger.spend_controls` as JSON."""

from __future__ import annotations

from typing import Any

from commcredits.services.ledger import spend_controls
from commcredits.views.ledger import controls_out, limits_out


def controls_view(*args: Any, **kwargs: Any) -> dict[str, Any]:
    return controls_out(spend_controls.controls_view(*args, **kwargs))


def update_controls(*args: Any, **kwargs: Any) -> dict[str, Any]:
    return controls_out(spend_controls.update_controls(*args, **kwargs))


def limits_view(*args: Any, **kwargs: Any) -> dict[str, Any]:
    return limits_out(spend_controls.limits_view(*args, **kwargs))
