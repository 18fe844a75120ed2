"""A server rebuilding its rating index after an import gives way to call control between
small steps (`priority.paced`, `decode_document(pause=...)`), and builds the same deck."""

from __future__ import annotations

import pytest

from commcredits.db.rate_decks import decode_document, encode_document
from commcredits.services.access.principal import OPERATOR
from commcredits.services.calls import priority
from commcredits.services.rating import rating
from commcredits.services.rating.rating_live import live_index


def card(price: str, rows: int) -> dict[str, bytes]:
    """A rate card: UK at `price` and `rows` longer UK prefixes at 0.05."""
    from tests.services.test_rating_live import HEADER

    lines = [f"outbound,44{i:05d},UK {i},0.05,0,60,60,2026-01-01\n" for i in range(rows)]
    return {"card.csv": (HEADER + f"outbound,44,UK,{price},0,60,60,2026-01-01\n" + "".join(lines)).encode()}


def test_paced_gives_way_before_each_slice_and_yields_every_item(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(priority, "give_way", lambda *a: calls.append(1) or 0.0)
    assert list(priority.paced(range(1000), every=256)) == list(range(1000))
    assert len(calls) == 4  # before items 0, 256, 512, 768
    assert list(priority.paced([], every=256)) == [] and len(calls) == 4


def test_a_document_decoded_with_pauses_is_the_same_document() -> None:
    document = {"name": "card", "rows": 3, "destinations": [[f"D{i}", f"n{i}", [f"44{i}"]] for i in range(7_000)],
                "rates": [[f"R{i}", 0, [[0, "1/100", 60, 60]]] for i in range(5)]}
    text = encode_document(document)
    pauses: list[int] = []
    assert decode_document(text, pause=lambda: pauses.append(1)) == decode_document(text) == document
    assert len(pauses) == text.count("\n") >= 3  # one before each line of a chunked list


def test_another_process_rebuilds_a_large_deck_giving_way(rt, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process's import: this process's rebuild pauses for call control while it
    decodes and walks the deck, and ends with the new deck pricing."""
    from tests.services.test_rating_live import other_process, uk

    rating.import_deck(rt, OPERATOR, rating.parse_deck(format_="ratecard", files=card("0.10", 10), currency="USD"))
    node = other_process(rt)
    assert uk(rating.rating_index(node)) == 100_000
    waits: list[int] = []
    monkeypatch.setattr(priority, "give_way", lambda *a: waits.append(1) or 0.0)
    rating.import_deck(rt, OPERATOR, rating.parse_deck(format_="ratecard", files=card("0.20", 5_000), currency="USD"))
    holder = live_index(node.caches, node.engine)
    holder.checked = 0.0  # a second has passed: the next call starts a background check
    rating.rating_index(node)
    assert holder._worker is not None
    holder._worker.join(30)
    assert uk(rating.rating_index(node)) == 200_000
    assert len(waits) >= 5_000 // 256  # it gave way through the deck's long lists


def test_the_first_build_never_waits_for_call_control(rt, monkeypatch: pytest.MonkeyPatch) -> None:
    """A process's first index is what its first calls wait for (the desk's writer asks for
    it with those calls in flight): it must not give way to them."""
    from tests.services.test_rating_live import other_process, uk

    rating.import_deck(rt, OPERATOR, rating.parse_deck(format_="ratecard", files=card("0.10", 5_000), currency="USD"))
    waits: list[int] = []
    monkeypatch.setattr(priority, "give_way", lambda *a: waits.append(1) or 0.0)
    node = other_process(rt)
    assert uk(rating.rating_index(node)) == 100_000
    assert waits == []
