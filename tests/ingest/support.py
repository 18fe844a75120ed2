"""A small world for ingest tests: tenants with fixed ids, users, licenses, subscriptions,
funds and the sample rate card; and generated call-record files (valid, invalid and
malformed lines, repeated ids)."""

from __future__ import annotations

import csv
import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select
from tests.conftest import SHARED

from commcredits.config import Settings
from commcredits.db import tenants as tenant_db
from commcredits.db import usage
from commcredits.db.engine import read_tx
from commcredits.db.schema import lots, tenants, transactions
from commcredits.db.schema_usage import call_records
from commcredits.db.tenants import Tenant, User
from commcredits.domain.lots import expiry_for
from commcredits.services.access.principal import OPERATOR
from commcredits.services.ledger.ledger_ops import credit_new_lot
from commcredits.services.rating import rating
from commcredits.services.runtime import Runtime
from commcredits.services.usage.ingest import FIELDS

CREATED = datetime(2026, 1, 1, tzinfo=UTC)
# callees priced by the sample card: US, toll-free, premium, UK fixed/mobile, DE, FR, JP, NG
CALLEES = ("+12025550123", "+16135550123", "+19005550100", "+442079460000", "+447400123456", "+4930123456",
           "+4915123456789", "+33142685300", "+81312345678", "+2348021234567")


@dataclass
class World:
    tenants: list[str]
    users: dict[str, list[str]] = field(default_factory=dict)


def make_world(engine: Engine, *, tenants: int = 4, seed: int = 1) -> World:
    """The same tenants and users (same ids) on any database."""
    rng = random.Random(seed)

    def new_id() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    rt = Runtime.from_settings(Settings(database_url=str(engine.url)), engine=engine)
    card = (SHARED / "testdata" / "sample-ratecard.csv").read_bytes()
    rating.import_deck(rt, OPERATOR, rating.parse_deck(format_="ratecard", files={"card.csv": card}))
    world = World([])
    plans = ("domestic_calling_plan", "international_calling_plan", "pay_as_you_go_calling_plan")
    with engine.begin() as conn:
        usage.set_allowance(conn, "domestic_calling_plan", "domestic", "US", 30)  # pools run out
        for n in range(tenants):
            tenant = Tenant(new_id(), f"Tenant {n}", "US", "USD", "US",
                            ("America/New_York", "Europe/London", "Asia/Tokyo", "UTC")[n % 4],
                            "postpaid" if n == 3 else "prepaid", "USD", False, False, 0, 0, CREATED)
            tenant_db.insert_tenant(conn, tenant)
            plan = plans[n % 3]
            ids = [new_id() for _ in range(3)]
            for u, uid in enumerate(ids):
                licenses = (plan, "communications_credits", "audio_conferencing") if u < 2 else (plan,)
                tenant_db.insert_user(conn, User(uid, tenant.id, f"u{u}@t{n}.example", "U", "US", (),
                                                 licenses, CREATED))
            for product, quantity in ((plan, 3), ("audio_conferencing", 2)):
                usage.set_subscription(conn, tenant.id, product, quantity, CREATED)
            credit_new_lot(conn, tenant, type_="grant", source_account="grants", lot_source="grant",
                           amount=(5 if n == 1 else 500) * 1_000_000, now=CREATED,
                           expires_at=expiry_for(CREATED), reference="test")
            world.tenants.append(tenant.id)
            world.users[tenant.id] = ids
    return world


def records(world: World, count: int, rng: random.Random, *, start: datetime = CREATED + timedelta(days=20)
            ) -> list[dict[str, object]]:
    """`count` records in time order: mostly chargeable, some rejected, some ids repeated."""
    out: list[dict[str, object]] = []
    for i in range(count):
        tid = world.tenants[rng.randrange(len(world.tenants))]
        users = world.users[tid]
        kind = rng.random()
        rec: dict[str, object] = {
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "tenant_id": tid, "call_type": "user_out",
            "caller": "+12025550100", "callee": CALLEES[rng.randrange(len(CALLEES))],
            "started_at": (start + timedelta(seconds=40 * i)).isoformat().replace("+00:00", "Z"),
            "duration_seconds": rng.randrange(1, 900), "user_id": users[rng.randrange(2)],
            "organizer_id": "", "call_id": f"c{i}", "conference_id": ""}
        if kind < 0.05:
            rec["callee"] = "+999"  # invalid number
        elif kind < 0.08:
            rec.update(user_id=users[2], callee="+442079460000")  # no license for credits
        elif kind < 0.10:
            rec["duration_seconds"] = -3
        elif kind < 0.15:
            rec.update(call_type="conf_out", user_id="", organizer_id=users[0], callee="+442079460000")
        elif kind < 0.20:
            rec.update(call_type="conf_in", callee="+18005550100", user_id="")
        elif kind < 0.22:
            rec["callee"] = "911"
        elif kind < 0.24 and out:
            rec = dict(out[rng.randrange(len(out))])  # the same record sent twice
        out.append(rec)
    return out


RECORD_COLUMNS = ("id", "tenant_id", "funding", "capability", "pool_minutes", "charge", "credits_charge",
           "postpaid_charge", "callee", "number_type")


def stored_records(engine: Engine) -> dict[str, tuple[object, ...]]:
    with read_tx(engine) as conn:
        rows = conn.execute(select(*(call_records.c[c] for c in RECORD_COLUMNS)))
        return {r[0]: tuple(r) for r in rows}


def money(engine: Engine) -> tuple[int, int, dict[str, int]]:
    """(credits charged by records, money drawn by usage transactions, balance per tenant)."""
    with engine.connect() as conn:
        charged = conn.execute(select(func.coalesce(func.sum(call_records.c.credits_charge), 0))).scalar_one()
        drawn = conn.execute(select(func.coalesce(func.sum(transactions.c.amount), 0))
                             .where(transactions.c.type == "usage")).scalar_one()
        held = dict(conn.execute(select(lots.c.tenant_id, func.sum(lots.c.remaining)).group_by(lots.c.tenant_id)).all())
        deficits = dict(conn.execute(select(tenants.c.id, tenants.c.deficit)).all())
    return int(charged), -int(drawn), {t: int(held.get(t, 0)) - int(d) for t, d in deficits.items()}


def write_csv(path: Path, recs: list[dict[str, object]], *, malformed: bool = True) -> None:
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(FIELDS)
        for n, rec in enumerate(recs):
            out.writerow([rec.get(k, "") for k in FIELDS])
            if malformed and n % 97 == 5:
                f.write("only,three,columns\n")


def write_jsonl(path: Path, recs: list[dict[str, object]]) -> None:
    with path.open("w") as f:
        for n, rec in enumerate(recs):
            f.write(json.dumps(rec) + "\n")
            if n % 50 == 3:
                f.write("{not json\n")
