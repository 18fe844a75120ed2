"""The operator's minimal view: every tenant with its balance, billing mode and purchase
status, a link into each tenant's pages, and recording a support mitigation that lifts a
region restriction."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from ..services.access import tenants as tenant_svc
from ..services.ledger import balances
from .render import PREFIX, page
from .session import CheckedSessionDep, RuntimeDep, SessionDep, me

router = APIRouter(prefix="/operator")


@router.get("")
def tenants(rt: RuntimeDep, session: SessionDep, after: str = "", done: str = "") -> Response:
    rows = tenant_svc.tenant_summaries(rt, session.principal, after=after or None, limit=101)
    items = [{"id": t.id, "name": t.name, "country": t.country, "billing_country": t.billing_country,
              "currency": t.currency, "billing_mode": t.billing_mode,
              "balance": balances.money(balance, t.currency), "purchase": status}
             for t, balance, status in rows[:100]]
    return page("operator.html", me=me(session), items=items, next_after=rows[99][0].id if len(rows) > 100 else None,
                flash="Support mitigation recorded: the tenant may buy credits." if done == "mitigated" else None)


@router.post("/tenants/{tid}/mitigate")
def mitigate(tid: str, rt: RuntimeDep, session: CheckedSessionDep) -> Response:
    tenant_svc.update_tenant(rt, session.principal, tid, {"purchase_mitigation": True})
    return RedirectResponse(f"{PREFIX}/operator?done=mitigated", status_code=303)
