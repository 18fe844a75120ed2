"""Arrays go to PostgreSQL as array literals (`raw.pg_array`): any text survives the trip,
and a lookup by a list of keys finds exactly the rows whose keys are listed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from commcredits.db.raw import Raw, pg_array

ON_POSTGRES = pytest.mark.parametrize("engine", ["postgres"], indirect=True)
# what a switch may send as a call id: any text without NUL (API bounds: 1-200 characters)
TEXT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=40)


@ON_POSTGRES
def test_awkward_text_integers_nulls_and_instants_round_trip(engine: Engine) -> None:
    texts = ['a"b', "c\\d", "e,f", "{g}", " h ", "", "NULL", "null", "ü€😀", "\\\"", "x\ty\nz"]
    at = datetime(2026, 3, 1, 12, 30, 15, 123456)
    with engine.connect() as conn:
        raw = Raw.of(conn)
        assert raw.rows("SELECT ?::text[]", [pg_array(texts)])[0][0] == texts
        assert raw.rows("SELECT ?::varchar[]", [pg_array(["a", None, "b"])])[0][0] == ["a", None, "b"]
        assert raw.rows("SELECT ?::bigint[]", [pg_array([0, -5, 2**62])])[0][0] == [0, -5, 2**62]
        aware = (at + timedelta(hours=2)).replace(tzinfo=timezone(timedelta(hours=2)))
        assert raw.rows("SELECT ?::timestamp[]", [pg_array([at, aware, at.replace(tzinfo=UTC)])])[0][0] == [at] * 3
        assert raw.rows("SELECT 5 = ANY(?), 6 = ANY(?)", [pg_array([1, 5]), pg_array([1, 5])])[0] == (True, False)


def test_other_types_are_refused() -> None:
    with pytest.raises(TypeError):
        pg_array([1.5])


@ON_POSTGRES
# (the engine is shared on purpose: each example empties its temporary table and rolls back)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keys=st.lists(TEXT, min_size=1, max_size=6, unique=True), other=TEXT)
def test_a_lookup_by_keys_finds_exactly_the_listed_rows(engine: Engine, keys: list[str], other: str) -> None:
    with engine.connect() as conn:
        raw = Raw.of(conn)
        raw.run("CREATE TEMP TABLE IF NOT EXISTS keyed (k text PRIMARY KEY)")
        raw.run("DELETE FROM keyed")
        stored = set(keys) | {other}
        raw.many("INSERT INTO keyed VALUES (?)", [(k,) for k in stored])
        cond, params = raw.among("k", keys)
        assert {r[0] for r in raw.rows(f"SELECT k FROM keyed WHERE {cond}", params)} == set(keys)
        conn.rollback()
