"""Lots, journal transactions and postings: the only code that writes money.

`post` stores one balanced `Entry` and applies its postings to the running figures in the
same transaction: each lot posting moves that lot's `remaining`, each deficit posting moves
the tenant's `deficit`. So the stored figures always equal the sums of their postings, which
`commcredits audit` re-checks from the raw postings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, select, update

from ..domain.journal import Entry
from ..domain.lots import Lot
from .raw import Raw, pg_array
from .schema import lots, postings, tenants, transactions


@dataclass(frozen=True, slots=True)
class NewLot:
    id: str
    source: str
    amount: int
    purchased_at: datetime
    expires_at: datetime
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Txn:
    id: int
    tenant_id: str
    type: str
    amount: int
    balance_after: int
    created_at: datetime
    reference: str


def _lot(row: Any) -> Lot:
    m = row._mapping
    return Lot(m["id"], m["source"], m["amount"], m["remaining"], m["purchased_at"], m["expires_at"])


def tenant_lots(conn: Connection, tenant_id: str, *, with_remaining: bool = False) -> list[Lot]:
    stmt = select(lots).where(lots.c.tenant_id == tenant_id)
    if with_remaining:
        stmt = stmt.where(lots.c.remaining > 0)
    return [_lot(r) for r in conn.execute(stmt.order_by(lots.c.expires_at, lots.c.purchased_at))]


def usable_total(conn: Connection, tenant_id: str, now: datetime) -> int:
    """What remains in the tenant's lots that are still usable at `now`."""
    total = conn.execute(
        select(func.coalesce(func.sum(lots.c.remaining), 0)).where(
            lots.c.tenant_id == tenant_id, lots.c.expires_at > now, lots.c.remaining > 0
        )
    ).scalar_one()
    return int(total)


def post(
    conn: Connection, *, tenant_id: str, entry: Entry, now: datetime, balance_after: int,
    idempotency_key: str | None = None, new_lot: NewLot | None = None,
) -> int:
    """Store a balanced entry (and the lot it creates) and apply it; return the txn id."""
    txn_id = conn.execute(
        transactions.insert().values(
            tenant_id=tenant_id, type=entry.type, amount=entry.balance_change,
            balance_after=balance_after, created_at=now, reference=entry.reference,
            idempotency_key=idempotency_key,
        ).returning(transactions.c.id)
    ).scalar_one()
    if new_lot is not None:
        conn.execute(
            lots.insert().values(
                id=new_lot.id, tenant_id=tenant_id, source=new_lot.source, amount=new_lot.amount,
                remaining=0, purchased_at=new_lot.purchased_at, expires_at=new_lot.expires_at,
                transaction_id=txn_id, reason=new_lot.reason,
            )
        )
    conn.execute(
        postings.insert(),
        [
            {"transaction_id": txn_id, "tenant_id": tenant_id, "account": p.account,
             "lot_id": p.lot_id, "amount": p.amount}
            for p in entry.postings
        ],
    )
    _apply(conn, tenant_id, entry)
    return int(txn_id)


def _apply(conn: Connection, tenant_id: str, entry: Entry) -> None:
    by_lot: dict[str, int] = {}
    deficit_change = 0
    for p in entry.postings:
        if p.account == "lot":
            assert p.lot_id is not None
            by_lot[p.lot_id] = by_lot.get(p.lot_id, 0) + p.amount
        elif p.account == "deficit":
            deficit_change -= p.amount
    for lot_id, delta in by_lot.items():
        conn.execute(
            update(lots).where(lots.c.id == lot_id).values(remaining=lots.c.remaining + delta)
        )
    if deficit_change:
        conn.execute(
            update(tenants).where(tenants.c.id == tenant_id)
            .values(deficit=tenants.c.deficit + deficit_change)
        )


def mark_expired(conn: Connection, lot_id: str, txn_id: int) -> None:
    conn.execute(update(lots).where(lots.c.id == lot_id).values(expired_transaction_id=txn_id))


def due_expiries(conn: Connection, now: datetime, limit: int = 1000) -> list[tuple[str, str]]:
    """(tenant id, lot id) of lots past expiry that still hold money and were not swept."""
    stmt = (
        select(lots.c.tenant_id, lots.c.id)
        .where(lots.c.expires_at <= now, lots.c.remaining > 0,
               lots.c.expired_transaction_id.is_(None))
        .order_by(lots.c.expires_at).limit(limit)
    )
    return [(r[0], r[1]) for r in conn.execute(stmt)]


def next_expiry(conn: Connection, after: datetime) -> datetime | None:
    """The earliest expiry after `after` of a lot that still holds money."""
    value: datetime | None = conn.execute(
        select(func.min(lots.c.expires_at)).where(
            and_(lots.c.expires_at > after, lots.c.remaining > 0,
                 lots.c.expired_transaction_id.is_(None))
        )
    ).scalar_one()
    return value


def get_lot(conn: Connection, lot_id: str) -> Lot | None:
    row = conn.execute(select(lots).where(lots.c.id == lot_id)).first()
    return _lot(row) if row else None


def list_transactions(
    conn: Connection, tenant_id: str, *, before: int | None, limit: int
) -> list[Txn]:
    stmt = (
        select(transactions.c.id, transactions.c.tenant_id, transactions.c.type,
               transactions.c.amount, transactions.c.balance_after, transactions.c.created_at,
               transactions.c.reference)
        .where(transactions.c.tenant_id == tenant_id)
        .order_by(transactions.c.id.desc()).limit(limit)
    )
    if before is not None:
        stmt = stmt.where(transactions.c.id < before)
    return [Txn(*r) for r in conn.execute(stmt)]


def transaction_by_key(conn: Connection, tenant_id: str, key: str) -> Txn | None:
    row = conn.execute(
        select(transactions.c.id, transactions.c.tenant_id, transactions.c.type,
               transactions.c.amount, transactions.c.balance_after, transactions.c.created_at,
               transactions.c.reference)
        .where(transactions.c.tenant_id == tenant_id, transactions.c.idempotency_key == key)
    ).first()
    return Txn(*row) if row else None


def deficit_of(conn: Connection, tenant_id: str) -> int:
    return int(conn.execute(select(tenants.c.deficit).where(tenants.c.id == tenant_id)).scalar_one())


# --- batches: many tenants' entries with one statement per table (usage charging) ---------

@dataclass(frozen=True, slots=True)
class BatchEntry:
    """One tenant's entry within a batch; it creates no lot."""

    tenant_id: str
    entry: Entry
    balance_after: int
    idempotency_key: str | None = None


def usable_lots_of_tenants(conn: Connection, tenant_ids: list[str]) -> dict[str, list[Lot]]:
    """Each tenant's lots that still hold money, in draw order (as `tenant_lots`)."""
    return usable_lots_of_tenants_later(conn, tenant_ids)()


def usable_lots_of_tenants_later(conn: Connection, tenant_ids: list[str]) -> Callable[[], dict[str, list[Lot]]]:
    """`usable_lots_of_tenants`, sent now and read when called (db/raw.py `later`)."""
    raw = Raw.of(conn)
    fetches = [raw.later("SELECT tenant_id, id, source, amount, remaining, purchased_at, expires_at FROM lots "
                         f"WHERE {cond} AND remaining > 0 ORDER BY tenant_id, expires_at, purchased_at", params)
               for cond, params in raw.conditions("tenant_id", tenant_ids)]

    def read() -> dict[str, list[Lot]]:
        out: dict[str, list[Lot]] = {tid: [] for tid in tenant_ids}
        for fetch in fetches:
            for tid, lot_id, source, amount, remaining, bought, expires in fetch():
                out[tid].append(Lot(lot_id, source, amount, remaining, raw.read_instant(bought),  # type: ignore[arg-type]
                                    raw.read_instant(expires)))  # type: ignore[arg-type]
        return out
    return read


def transaction_ids_later(conn: Connection, count: int) -> Callable[[], list[int]]:
    """Up to `count` new transaction ids, taken from the table's own sequence now (PostgreSQL,
    send now, read later: inside a `gather()` it costs no round trip of its own), for
    `post_many(ids=...)`. Ids not used are a gap, as a rolled-back insert leaves one. On
    SQLite the ids come from the inserts: an empty list."""
    raw = Raw.of(conn)
    if not raw.pg or count <= 0:
        return list
    fetch = raw.later("SELECT nextval(pg_get_serial_sequence('transactions', 'id')) FROM generate_series(1, ?)",
                      [count])
    return lambda: [int(row[0]) for row in fetch()]


def post_many(conn: Connection, items: list[BatchEntry], *, now: datetime, ids: list[int] | None = None) -> list[int]:
    """Store many balanced entries and apply them, as `post` does for one: the transaction
    rows first (to learn their ids), then one statement per table; return the transaction
    ids in the order of `items`.

    On PostgreSQL each table's rows go as one statement over arrays (`unnest`): one short
    text whatever the count, which psycopg parses once, where a multi-row VALUES list was
    parsed afresh for every batch and a thousand single-row statements each ran apart (a
    batch of 1,000 tenants: about 300 ms of the ingest's 2 s per batch, docs/performance.md).
    On SQLite (a function call per statement) the rows go as before.

    `ids`: transaction ids taken ahead (`transaction_ids_later`, at least one per item): the
    transaction rows then carry them and need no answer, so on PostgreSQL the whole entry is
    kept for the next round trip (`Raw.deferred_writes`) instead of costing one of its own."""
    if not items:
        return []
    raw = Raw.of(conn)
    if ids and raw.pg and len(ids) >= len(items):
        ids = ids[:len(items)]
        at = raw.instant(now)
        raw.many(_TXN_INSERT_IDS, [_columns([(txn_id, it.tenant_id, it.entry.type, it.entry.balance_change,
                                              it.balance_after, at, it.entry.reference, it.idempotency_key)
                                             for txn_id, it in zip(ids, items, strict=True)])])
    else:
        ids = _insert_transactions(raw, items, raw.instant(now))
    postings = [(txn_id, it.tenant_id, p.account, p.lot_id, p.amount)
                for txn_id, it in zip(ids, items, strict=True) for p in it.entry.postings]
    by_lot: dict[str, int] = {}
    deficits: dict[str, int] = {}
    for it in items:
        for p in it.entry.postings:
            if p.account == "lot":
                assert p.lot_id is not None
                by_lot[p.lot_id] = by_lot.get(p.lot_id, 0) + p.amount
            elif p.account == "deficit":
                deficits[it.tenant_id] = deficits.get(it.tenant_id, 0) - p.amount
    lots = [(v, k) for k, v in by_lot.items()]
    owed = [(v, k) for k, v in deficits.items() if v]
    if raw.pg and len(postings) > 1:
        raw.many("INSERT INTO postings (transaction_id, tenant_id, account, lot_id, amount) SELECT * FROM "
                 "unnest(?::bigint[], ?::varchar[], ?::varchar[], ?::varchar[], ?::bigint[])", [_columns(postings)])
    else:
        raw.many("INSERT INTO postings (transaction_id, tenant_id, account, lot_id, amount) VALUES (?, ?, ?, ?, ?)",
                 postings)
    if raw.pg and len(lots) > 1:
        raw.many("UPDATE lots SET remaining = remaining + v.change FROM unnest(?::bigint[], ?::varchar[]) "
                 "AS v(change, id) WHERE lots.id = v.id", [_columns(lots)])
    else:
        raw.many("UPDATE lots SET remaining = remaining + ? WHERE id = ?", lots)
    if raw.pg and len(owed) > 1:
        raw.many("UPDATE tenants SET deficit = deficit + v.change FROM unnest(?::bigint[], ?::varchar[]) "
                 "AS v(change, id) WHERE tenants.id = v.id", [_columns(owed)])
    else:
        raw.many("UPDATE tenants SET deficit = deficit + ? WHERE id = ?", owed)
    return ids


def _columns(rows: list[tuple[Any, ...]]) -> tuple[str, ...]:
    """Rows as one array per column (PostgreSQL literals): the arrays of an `unnest` statement."""
    return tuple(pg_array(column) for column in zip(*rows, strict=True))


_TXN_INSERT = ("INSERT INTO transactions (tenant_id, type, amount, balance_after, created_at, reference, "
               "idempotency_key) VALUES ")
_TXN_INSERT_IDS = ("INSERT INTO transactions (id, tenant_id, type, amount, balance_after, created_at, reference, "
                   "idempotency_key) SELECT * FROM unnest(?::bigint[], ?::varchar[], ?::varchar[], ?::bigint[], "
                   "?::bigint[], ?::timestamp[], ?::varchar[], ?::varchar[])")
_TXN_INSERT_ONE_ID = ("INSERT INTO transactions (id, tenant_id, type, amount, balance_after, created_at, reference, "
                      "idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
_TXN_ROWS = 500  # rows per multi-row INSERT (7 parameters each: within every database's limit)


def _insert_transactions(raw: Raw, items: list[BatchEntry], at: object) -> list[int]:
    """The transaction rows of `items`, their ids in the order of `items`, when no ids were
    taken ahead (`transaction_ids_later`; always on SQLite).

    SQLite: the ids SQLite itself would give (the table's largest id, plus one, and so on),
    read right before one insert statement of fixed text. The write transaction holds the
    database, so nobody inserts between the two (a transaction that has only read cannot
    write after another's commit: SQLite refuses it and the unit of work runs it again).
    PostgreSQL: multi-row INSERTs with RETURNING, the ids matched back by (tenant, key),
    which the schema keeps unique; one INSERT per item where an item has no key."""
    params = [(it.tenant_id, it.entry.type, it.entry.balance_change, it.balance_after, at,
               it.entry.reference, it.idempotency_key) for it in items]
    if not raw.pg:
        last = int(raw.rows("SELECT COALESCE(MAX(id), 0) FROM transactions")[0][0])
        ids = list(range(last + 1, last + 1 + len(items)))
        raw.many(_TXN_INSERT_ONE_ID, [(txn_id, *p) for txn_id, p in zip(ids, params, strict=True)])
        return ids
    if any(it.idempotency_key is None for it in items):
        return [raw.insert_id(_TXN_INSERT + "(?, ?, ?, ?, ?, ?, ?)", p) for p in params]
    found: dict[tuple[str, str], int] = {}
    for start in range(0, len(params), _TXN_ROWS):
        chunk = params[start:start + _TXN_ROWS]
        values = ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * len(chunk))
        for txn_id, tenant_id, key in raw.rows(_TXN_INSERT + values + " RETURNING id, tenant_id, idempotency_key",
                                               [v for p in chunk for v in p]):
            found[(tenant_id, key)] = int(txn_id)
    return [found[(it.tenant_id, it.idempotency_key)] for it in items]  # type: ignore[index]
