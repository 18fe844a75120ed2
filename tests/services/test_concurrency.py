"""Concurrent writers: many threads charging and buying at once never lose or double-count
a cent, on SQLite (one writer at a time) and PostgreSQL (tenant row locks)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.as_json import balances, funds

from commcredits.services.access import tenants as tenant_svc
from commcredits.services.access.principal import OPERATOR
from commcredits.services.ledger import audit
from commcredits.services.payments import payment_methods
from commcredits.services.usage.usage_charges import charge_usage


def test_parallel_usage_and_purchases(rt) -> None:
    tenant = tenant_svc.create_tenant(rt, OPERATOR, name="T", country="US", currency="USD", billing_country="US")
    pm = payment_methods.add_payment_method(rt, OPERATOR, tenant.id, card_number="4242424242424242",
                                            exp_month=1, exp_year=2031, cvc="123")

    def work(i: int) -> None:
        if i % 5 == 0:
            # the same purchase key from two threads: one charge only
            funds.add_funds(rt, OPERATOR, tenant.id, amount="50.00", payment_method_id=pm.id,
                            idempotency_key=f"buy-{i // 10}")
        else:
            charge_usage(rt, tenant.id, amount=1_230_000, reference_id=f"call-{i % 40}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, range(100)))
    # 10 distinct purchase keys, 32 distinct call ids (i % 40 with i % 5 != 0)
    calls = len({i % 40 for i in range(100) if i % 5})
    expected = 10 * 50_000_000 - calls * 1_230_000
    view = balances.balance_view(rt, OPERATOR, tenant.id)
    assert view["balance"] == f"{expected / 1_000_000:.2f}"
    assert audit.audit(rt)[1] == []
