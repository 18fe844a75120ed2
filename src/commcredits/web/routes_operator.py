"""The operator's minimal view: every tenant with its balance, billing mode and purchase
status, a link into each tenant's pages, and recording a support mitigation that lifts a
region restriction."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from ..services.access import tenants as tenant_svc
from .render import PREFIX, page
from .session import CheckedSessionDep, RuntimeDep, SessionDep, me

router = APIRouter(prefix="/operator")


@router.get("")
def tenants(rt: RuntimeDep, session: SessionDep, after: str = "", done: str = "") -> Response:
    rows = tenant_svc.tenant_summaries(rt, session.principal, after=after or None, limit=101)
    items = [{"id": s.tenant.id, "name": s.tenant.name, "country": s.tenant.country,
              "billing_country": s.tenant.billing_country, "currency": s.tenant.currency,
              "billing_mode": s.tenant.billing_mode, "balance": str(s.balance), "purchase": s.purchase}
             for s in rows[:100]]
    next_after = rows[99].tenant.id if len(rows) > 100 else None
    return page("operator.html", me=me(session), items=items, next_after=next_after,
                flash="Support mitigation recorded: the tenant may buy credits." if done == "mitigated" else None)


@router.post("/tenants/{tid}/mitigate")
def mitigate(tid: str, rt: RuntimeDep, session: CheckedSessionDep) -> Response:
    tenant_svc.update_tenant(rt, session.principal, tid, {"purchase_mitigation": True})
    return RedirectResponse(f"{PREFIX}/operator?done=mitigated", status_code=303)
