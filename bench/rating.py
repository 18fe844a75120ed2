"""Rating benchmark: deck import time, single-span quotes per second, index memory.

Generates a realistic rate card (E.164 country codes, then area and mobile prefixes of
varying length under each; 60/60, 60/1, 30/6 and 1/1 billing mixed), imports it as CSV
text, builds the RatingIndex, then prices random numbers under those prefixes on one core.
Prints one JSON object.

`update_100_rows_seconds` is a 100-row update (mode=update: new prices for 100 random
prefixes from a later date) on top of that deck: parsing it, laying it over the deck in the
index and computing the dry-run diff. `service` repeats both through the product's import
path on a fresh SQLite database (`rate_decks.import_files`: parse, index, diff, coverage
check, the JSON document stored, heads moved, the index swapped in), then rolls the update
back (`rate_decks.activate`); `--no-service` skips it.

`single_span_quotes_per_second` is the one-call API (`price_call`, one keyword call per
quote, `started_at` a datetime): the figure the issue's target is about.
`batch_single_span_quotes_per_second` is the bulk API (`price_calls`) on the same calls, in
batches of 1,000 of one tenant given as (number, epoch seconds, duration) tuples, every
result kept until its batch is done (as call-record ingestion and re-rating would).

    .venv/bin/python bench/rating.py --prefixes 50000 --quotes 200000
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import sys
import time
import tracemalloc
from datetime import UTC, datetime

from commcredits.domain.rating import (
    RatingIndex,
    epoch_seconds,
    max_seconds_for,
    price_call,
    price_calls,
)
from commcredits.domain.rating.layers import diff
from commcredits.rating_import import load_ratecard

COUNTRY_CODES = (
    "1 7 20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 60 61 "
    "62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98 212 213 216 218 220 221 225 233 234 237 "
    "254 255 256 260 263 351 352 353 354 355 356 357 358 359 370 371 372 380 381 385 386 420 "
    "421 852 853 855 880 886 960 961 962 963 964 965 966 971 972 973 974 975 977 992 994 995"
).split()
BILLING = ((60, 60), (60, 1), (30, 6), (1, 1))
HEADER = ("category,prefix,destination,rate_per_minute,connection_fee,initial_increment,"
          "next_increment,effective_from")


def make_prefixes(count: int, rng: random.Random) -> list[str]:
    prefixes: set[str] = set(COUNTRY_CODES)
    while len(prefixes) < count:
        cc = rng.choice(COUNTRY_CODES)
        extra = rng.choices((1, 2, 3, 4, 5, 6), weights=(1, 3, 5, 6, 4, 2))[0]
        prefixes.add(cc + "".join(rng.choice("0123456789") for _ in range(extra)))
    return sorted(prefixes)[:count]


def make_ratecard(prefixes: list[str], rng: random.Random) -> tuple[str, dict[str, int]]:
    lines = ["# deck: bench; currency: USD; rounding: half_up; decimals: 4", HEADER]
    initial: dict[str, int] = {}
    for p in prefixes:
        first, following = rng.choice(BILLING)
        initial[p] = first if first != following else 3600
        rate = f"{rng.randint(1, 9999) / 10000:.4f}"
        fee = "0" if rng.random() < 0.8 else "0.05"
        lines.append(f"outbound,{p},Dest {p[:3]},{rate},{fee},{first},{following},2026-01-01")
    return "\n".join(lines) + "\n", initial


def make_calls(prefixes: list[str], initial: dict[str, int], n: int,
               rng: random.Random) -> list[tuple[str, int]]:
    calls = []
    for _ in range(n):
        p = rng.choice(prefixes)
        number = "+" + p + "".join(rng.choice("0123456789") for _ in range(12 - len(p)))
        calls.append((number, rng.randint(1, min(initial[p], 3600))))
    return calls


def import_deck(text: str) -> tuple[RatingIndex, float]:
    start = time.perf_counter()
    deck = load_ratecard(text, filename="bench.csv")
    index = RatingIndex.build([deck])
    return index, time.perf_counter() - start


def make_update(prefixes: list[str], rng: random.Random, rows: int = 100) -> str:
    lines = ["# deck: bench; currency: USD; rounding: half_up; decimals: 4", HEADER]
    for p in rng.sample(prefixes, rows):
        lines.append(f"outbound,{p},Dest {p[:3]},{rng.randint(1, 9999) / 10000:.4f},0,60,1,2026-02-01")
    return "\n".join(lines) + "\n"


def update_deck(index: RatingIndex, update: str) -> float:
    start = time.perf_counter()
    deck = load_ratecard(update, filename="update.csv", version=2, base_version=1)
    new = index.with_deck(deck)
    changes = diff(index, new, {"USD"}, epoch_seconds(datetime(2026, 2, 1, tzinfo=UTC)))
    assert sum(c["changed"] for c in changes.counts.values()) > 0
    return time.perf_counter() - start


def service_figures(text: str, update: str) -> dict[str, float]:
    """The 50,000-row import and the 100-row update through the product, on SQLite."""
    import tempfile

    from commcredits.config import Settings
    from commcredits.db.engine import make_engine
    from commcredits.db.migrate import upgrade
    from commcredits.services.access.principal import OPERATOR
    from commcredits.services.rating import rate_decks
    from commcredits.services.runtime import Runtime

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        engine = make_engine(url)
        upgrade(engine)
        rt = Runtime.from_settings(Settings(database_url=url), engine=engine)
        start = time.perf_counter()
        rate_decks.import_files(rt, OPERATOR, format_="ratecard", files={"bench.csv": text.encode()})
        imported = time.perf_counter() - start
        start = time.perf_counter()
        rate_decks.import_files(rt, OPERATOR, format_="ratecard", mode="update",
                                files={"update.csv": update.encode()})
        updated = time.perf_counter() - start
        start = time.perf_counter()
        rate_decks.activate(rt, OPERATOR, 1)  # roll the update back
        rolled_back = time.perf_counter() - start
        engine.dispose()
    return {"import_seconds": round(imported, 3), "update_100_rows_seconds": round(updated, 3),
            "rollback_seconds": round(rolled_back, 3)}


def index_bytes(text: str) -> int:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    index, _ = import_deck(text)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del index
    return after - before


def quote_rate(index: RatingIndex, calls: list[tuple[str, int]], multi: bool = False) -> float:
    at = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    start = time.perf_counter()
    for number, duration in calls:
        price_call(index, rating_key="USD", category="outbound", subject="tenant-1",
                   number=number, started_at=at, duration_s=duration * 3 if multi else duration)
    return len(calls) / (time.perf_counter() - start)


def batch_rate(index: RatingIndex, calls: list[tuple[str, int]], size: int = 1000) -> float:
    t0 = epoch_seconds(datetime(2026, 6, 1, 12, 0, tzinfo=UTC))
    batches = [[(number, t0, duration) for number, duration in calls[i:i + size]]
               for i in range(0, len(calls), size)]
    start = time.perf_counter()
    for batch in batches:
        price_calls(index, rating_key="USD", category="outbound", subject="tenant-1",
                    calls=batch)
    return len(calls) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prefixes", type=int, default=50_000)
    ap.add_argument("--quotes", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-service", action="store_true", help="skip the import through the product on SQLite")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    prefixes = make_prefixes(args.prefixes, rng)
    text, initial = make_ratecard(prefixes, rng)
    index, import_s = import_deck(text)
    update = make_update(prefixes, rng)
    update_s = update_deck(index, update)
    calls = make_calls(prefixes, initial, args.quotes, rng)
    quote_rate(index, calls[:5000])  # warm caches
    qps = quote_rate(index, calls)
    batch_qps = batch_rate(index, calls)
    multi_qps = quote_rate(index, calls[: max(1, args.quotes // 10)], multi=True)
    at = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    auth_calls = calls[:2000]
    start = time.perf_counter()
    for number, _ in auth_calls:
        max_seconds_for(index, rating_key="USD", category="outbound", subject="t",
                        number=number, started_at=at, amount_micros=5_000_000)
    auth_per_s = len(auth_calls) / (time.perf_counter() - start)
    memory = index_bytes(text)
    service = None if args.no_service else service_figures(text, update)
    print(json.dumps({
        "python": platform.python_version(), "machine": platform.machine(),
        "prefixes": len(prefixes), "quotes": len(calls),
        "import_seconds": round(import_s, 3),
        "update_100_rows_seconds": round(update_s, 3),
        "service": service,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "single_span_quotes_per_second": round(qps),
        "batch_single_span_quotes_per_second": round(batch_qps),
        "multi_span_quotes_per_second": round(multi_qps),
        "max_seconds_for_per_second": round(auth_per_s),
        "index_bytes": memory,
        "mb_per_10k_prefixes": round(memory / 1e6 / (len(prefixes) / 10_000), 2),
        "targets": {"quotes_per_second": 200_000, "import_seconds": 5, "update_100_rows_seconds": 1,
                    "mb_per_10k": 30},
    }, indent=2))


if __name__ == "__main__":
    sys.exit(main())
