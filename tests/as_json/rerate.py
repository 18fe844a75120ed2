"""`commcredits.services.rating.rerate` as `POST /v1/rerate` (and `commcredits rates rerate`)
answer it."""

from __future__ import annotations

from typing import Any

from commcredits.services.access.principal import Principal
from commcredits.services.rating import rerate as service
from commcredits.services.runtime import Runtime
from commcredits.views.rating import rerate_out


def rerate(rt: Runtime, who: Principal, **period: Any) -> dict[str, Any]:
    return rerate_out(service.rerate(rt, who, **period))
