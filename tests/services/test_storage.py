"""Storage: money columns keep the whole int64 range; migrations create exactly the schema;
database constraints refuse what the code must never write."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import BigInteger, Column, MetaData, Table, select, update
from sqlalchemy.exc import IntegrityError
from tests.as_json import funds

from commcredits.db.registry import metadata
from commcredits.db.schema import lots, tenants
from commcredits.domain.money import INT64_MAX, INT64_MIN
from commcredits.services.access import tenants as tenant_svc
from commcredits.services.access.principal import OPERATOR
from commcredits.services.payments import payment_methods


def test_int64_round_trips_through_storage(engine) -> None:
    scratch = MetaData()
    table = Table("money_roundtrip", scratch, Column("v", BigInteger, nullable=False))
    scratch.create_all(engine)
    try:
        @settings(max_examples=200, deadline=None)
        @given(st.lists(st.integers(min_value=INT64_MIN, max_value=INT64_MAX), min_size=1, max_size=20))
        def check(values: list[int]) -> None:
            with engine.begin() as conn:
                conn.execute(table.delete())
                conn.execute(table.insert(), [{"v": v} for v in values])
                back = [r[0] for r in conn.execute(select(table.c.v))]
            assert sorted(back) == sorted(values)
            assert all(type(v) is int for v in back)

        check()
        with engine.begin() as conn:
            conn.execute(table.delete())
            conn.execute(table.insert(), [{"v": INT64_MAX}, {"v": INT64_MIN}])
            assert sorted(r[0] for r in conn.execute(select(table.c.v))) == [INT64_MIN, INT64_MAX]
    finally:
        scratch.drop_all(engine)


def test_migrations_create_exactly_the_schema(engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_constraints_back_the_ledger_invariants(rt) -> None:
    tenant = tenant_svc.create_tenant(rt, OPERATOR, name="T", country="US", currency="USD", billing_country="US")
    pm = payment_methods.add_payment_method(rt, OPERATOR, tenant.id, card_number="4242424242424242",
                                            exp_month=1, exp_year=2031, cvc="123")
    status, body = funds.add_funds(rt, OPERATOR, tenant.id, amount="50.00", payment_method_id=pm.id,
                                   idempotency_key="k")
    assert status == 201
    for stmt in (
        update(lots).where(lots.c.id == body["lot_id"]).values(remaining=-1),
        update(lots).where(lots.c.id == body["lot_id"]).values(remaining=lots.c.amount + 1),
        update(tenants).where(tenants.c.id == tenant.id).values(deficit=-5),
        update(tenants).where(tenants.c.id == tenant.id).values(billing_mode="free"),
    ):
        with pytest.raises(IntegrityError), rt.engine.begin() as conn:
            conn.execute(stmt)
