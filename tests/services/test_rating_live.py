"""The rating index is built off the request path and swapped in atomically."""

from __future__ import annotations

import threading
import time
from datetime import datetime

from commcredits.config import Settings
from commcredits.domain.rating import RatingIndex, price_call
from commcredits.services.access.principal import OPERATOR
from commcredits.services.rating import rating
from commcredits.services.rating.rating_live import live_index
from commcredits.services.runtime import Runtime

HEADER = "category,prefix,destination,rate_per_minute,connection_fee,initial_increment,next_increment,effective_from\n"
AT = datetime.fromisoformat("2026-01-15T10:00:00+00:00")


def card(price: str) -> dict[str, bytes]:
    return {"card.csv": (HEADER + f"outbound,44,UK,{price},0,60,60,2026-01-01\n").encode()}


def uk(index: RatingIndex) -> int:
    return price_call(index, rating_key="USD", category="outbound", subject="t", number="+442079460000",
                      started_at=AT, duration_s=60, currency="USD").charge_micros


def other_process(rt: Runtime) -> Runtime:
    settings = Settings(database_url=str(rt.engine.url), sandbox=True)
    return Runtime.from_settings(settings, engine=rt.engine)


def test_requests_keep_the_old_index_while_a_new_one_builds(rt) -> None:
    rating.import_deck(rt, OPERATOR, rating.parse_deck(format_="ratecard", files=card("0.10"), currency="USD"))
    node = other_process(rt)
    first = rating.rating_index(node)  # the very first build of a process is the only wait
    assert uk(first) == 100_000
    holder = live_index(node.caches, node.engine)
    started, release = threading.Event(), threading.Event()

    def slow_build(decks):  # type: ignore[no-untyped-def]
        started.set()
        assert release.wait(10)
        return RatingIndex.build(decks)

    holder.build = slow_build
    rating.import_deck(rt, OPERATOR, rating.parse_deck(format_="ratecard", files=card("0.20"), currency="USD"))
    assert uk(rating.rating_index(rt)) == 200_000  # the importing process sees its import at once
    holder.checked = 0.0  # a second has passed: the next call starts a check
    t0 = time.perf_counter()
    assert rating.rating_index(node) is first
    assert started.wait(5)  # the background build runs, blocked ...
    for _ in range(20):  # ... and every request meanwhile gets the previous index at once
        holder.checked = 0.0
        assert rating.rating_index(node) is first
    assert time.perf_counter() - t0 < 5
    release.set()
    assert holder._worker is not None
    holder._worker.join(10)
    swapped = rating.rating_index(node)
    assert swapped is not first and uk(swapped) == 200_000


def test_no_change_means_no_rebuild_and_rollback_is_seen_by_other_processes(rt) -> None:
    v1 = rating.import_deck(rt, OPERATOR, rating.parse_deck(format_="ratecard", files=card("0.10"), currency="USD"))
    rating.import_deck(rt, OPERATOR, rating.parse_deck(format_="ratecard", files=card("0.20"), currency="USD"))
    node = other_process(rt)
    holder = live_index(node.caches, node.engine)
    before = rating.rating_index(node)
    holder.checked = 0.0
    rating.rating_index(node)
    assert holder._worker is not None
    holder._worker.join(10)
    assert rating.rating_index(node) is before  # the heads did not change: nothing rebuilt
    from commcredits.services.rating import rate_decks

    rate_decks.activate(rt, OPERATOR, v1["id"])
    assert uk(rating.rating_index(rt)) == 100_000
    holder.checked = 0.0
    rating.rating_index(node)
    holder._worker.join(10)
    assert uk(rating.rating_index(node)) == 100_000
