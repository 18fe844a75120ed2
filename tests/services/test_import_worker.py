"""Large rate-deck uploads are parsed, checked and encoded in a worker process
(`rate_decks.import_upload`): the same lifecycle tests, with every upload sent to the worker,
must give the same answers, errors (file, line, reason), dry runs and coverage guard."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from tests.api.test_rate_deck_lifecycle import (
    test_an_update_changes_one_uk_price_and_france_keeps_its_rate as test_update_in_worker,
)
from tests.api.test_rate_deck_lifecycle import (
    test_bad_uploads_are_422_and_apply_nothing as test_bad_uploads_in_worker,
)
from tests.api.test_rate_deck_lifecycle import (
    test_dry_run_numbers_match_a_hand_count_and_the_guard_refuses as test_dry_run_and_guard_in_worker,
)
from tests.api.test_rating_api import (
    test_bad_row_names_file_line_and_reason_and_applies_nothing as test_bad_row_in_worker,
)
from tests.api.test_rating_api import (
    test_import_cgrates_and_quote_the_worked_examples as test_cgrates_in_worker,
)

from commcredits.services.access.principal import OPERATOR
from commcredits.services.rating import rate_decks, rating

__all__ = ["test_bad_row_in_worker", "test_bad_uploads_in_worker", "test_cgrates_in_worker",
           "test_dry_run_and_guard_in_worker", "test_update_in_worker"]

CARD = ("category,prefix,destination,rate_per_minute,connection_fee,initial_increment,next_increment,"
        "effective_from\n" + "".join(f"outbound,{990000 + i},Synthetic {i},0.0{1 + i % 9},0,60,60,2026-01-01\n"
                                     for i in range(2_000)))


@pytest.fixture(autouse=True)
def every_upload_to_the_worker(monkeypatch: pytest.MonkeyPatch, rt: object) -> Iterator[list[int]]:
    """Send every upload to the worker, count the uploads that went there, and check that
    each test sent some."""
    sent: list[int] = []
    check = rate_decks.check_in_worker

    class Pool:  # the real worker process, counted
        def __init__(self, *args: object, **kwargs: object) -> None:
            from concurrent.futures import ProcessPoolExecutor
            self.pool = ProcessPoolExecutor(*args, **kwargs)  # type: ignore[arg-type]

        def __enter__(self) -> Pool:
            return self

        def __exit__(self, *exc: object) -> None:
            self.pool.shutdown()

        def submit(self, fn: object, *args: object, **kwargs: object) -> object:
            assert fn is check
            sent.append(1)
            return self.pool.submit(fn, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(rate_decks, "OFFLOAD_BYTES", 0)
    monkeypatch.setattr(rate_decks, "ProcessPoolExecutor", Pool)
    yield sent
    assert sent, "no upload of this test went to the worker"


def test_a_worker_import_prices_at_once_in_the_server_and_leaves_the_switch_interval(
        rt, every_upload_to_the_worker: list[int]) -> None:  # type: ignore[no-untyped-def]
    before = sys.getswitchinterval()
    body = rate_decks.import_upload(rt, OPERATOR, format_="ratecard", files={"big.csv": CARD.encode()},
                                    currency="USD", rating_key="synthetic")
    assert every_upload_to_the_worker == [1]
    assert body["rows"] == 2_000 and body["added_count"] == 2_000 and body["rating_keys"] == ["synthetic"]
    quoted = rating.quote(rt, OPERATOR, category="outbound", destination="9900051", started_at=rt.clock.now(),
                          duration_seconds=60, rating_key="synthetic")
    assert quoted.charge_micros == 60_000 and quoted.deck_version == body["version"]
    assert sys.getswitchinterval() == before
    # the same upload in the server's process stores the same deck: the diff is empty
    again = rate_decks.import_files(rt, OPERATOR, format_="ratecard", files={"big.csv": CARD.encode()},
                                    currency="USD", rating_key="synthetic", dry_run=True)
    assert (again["added_count"], again["changed_count"], again["removed_count"]) == (0, 0, 0)
