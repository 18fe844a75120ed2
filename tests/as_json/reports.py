"""`commcredits.services.usage.reports` as `GET /v1/tenants/{tid}/usage` and
`/funding-advice` answer it."""

from __future__ import annotations

from typing import Any

from commcredits.services.access.principal import Principal
from commcredits.services.runtime import Runtime
from commcredits.services.usage import reports
from commcredits.views.usage import funding_advice_out, usage_page_out


def usage_page(rt: Runtime, who: Principal, tenant_id: str, **filters: Any) -> dict[str, Any]:
    return usage_page_out(reports.usage_page(rt, who, tenant_id, **filters))


def funding_advice(rt: Runtime, who: Principal, tenant_id: str) -> dict[str, Any]:
    return funding_advice_out(reports.funding_advice(rt, who, tenant_id))
