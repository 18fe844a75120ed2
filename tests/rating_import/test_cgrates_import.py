"""CGRateS folder import: the public plans load unchanged; bad rows name file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from commcredits.domain.rating import ANY, DeckError
from commcredits.rating_import import load_cgrates_files, load_cgrates_folder

TESTDATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata"
FOLDER = TESTDATA / "cgrates-tutorial"


def files(**changes: str) -> dict[str, str]:
    base = {f.name: f.read_text() for f in FOLDER.glob("*.csv")}
    base.update(changes)
    return base


def test_tutorial_folders_load_as_they_are() -> None:
    deck = load_cgrates_folder(TESTDATA / "cgrates-tutorial2")
    assert (deck.name, deck.currency, deck.format) == ("cgrates-tutorial2", "USD", "cgrates")
    dests = {d.id: d.prefixes for d in deck.destinations}
    assert dests["DST_2030"] == ("20", "30") and dests["DST_VOICEMAIL"] == ("voicemail",)
    rates = {r.id: r for r in deck.rates}
    assert [g.from_s for g in rates["RT_120C"].groups] == [0, 60]
    assert rates["RT_120C"].connect_fee_micros == 200_000
    assert rates["RT_10C_CN"].groups[0].unit_s == 0
    assert rates["RT_1024_1"].groups[0].unit_s == 1024  # a plain count of units
    peak = next(t for t in deck.timings if t.id == "PEAK")
    assert (peak.weekdays, peak.start_s) == (frozenset({1, 2, 3, 4, 5}), 8 * 3600)
    fallback = next(p for p in deck.profiles if p.subject == "1001")
    assert fallback.fallback_subjects == (ANY,)
    tutorial = load_cgrates_folder(FOLDER, currency="EUR")
    disc = next(d for d in tutorial.destination_rates if d.id == "DR_1003_MAXCOST_DISC")
    assert (disc.max_cost_micros, disc.max_cost_strategy) == (120_000, "disconnect")
    assert tutorial.currency == "EUR" and tutorial.row_count == 35


def test_bytes_and_bom_are_accepted() -> None:
    given = {k: ("\ufeff" + v).encode() for k, v in files().items()}
    assert load_cgrates_files(given).rates == load_cgrates_folder(FOLDER).rates


@pytest.mark.parametrize(("name", "text", "line", "reason"), [
    ("Rates.csv", "#h\nRT_A,0,0.1,60s,60s,0s\n\nRT_B,0,abc,60s,1s,0s\n", 4,
     "rate 'abc' is not a decimal number"),
    ("Rates.csv", "RT_A,0,0.1,60s,0s,0s\n", 1, "must be at least 1 s"),
    ("Rates.csv", "RT_A,0,0.1,sixty,1s,0s\n", 1, "not a duration"),
    ("Rates.csv", "RT_A,0,0.1,60s,1s,60s\n", 1, "no group starting at 0s"),
    ("DestinationRates.csv", "#h\nDR_1002_20CNT,DST_1002,RT_NOPE,*up,4,0,\n", 2,
     "rate 'RT_NOPE' is not in Rates.csv"),
    ("DestinationRates.csv", "DR_X,DST_1002,RT_20CNT,*sideways,4,0,\n", 1, "rounding method"),
    ("RatingPlans.csv", "RP_1001,DR_1002_20CNT,NIGHT,10\n", 1,
     "timing 'NIGHT' is not in Timings.csv"),
    ("RatingProfiles.csv", "cgrates.org,call,1001,yesterday,RP_1001,\n", 1,
     "activation time 'yesterday'"),
    ("RatingProfiles.csv", "#h\n\ncgrates.org,call,1001,2014-01-14T00:00:00Z,RP_NOPE,\n", 3,
     "rating plan 'RP_NOPE' is not in RatingPlans.csv"),
    ("Timings.csv", "T1,*any,13,*any,*any,00:00:00\n", 1, "month '13' is out of range"),
])
def test_bad_rows_report_file_line_and_reason(name: str, text: str, line: int,
                                              reason: str) -> None:
    with pytest.raises(DeckError) as err:
        load_cgrates_files(files(**{name: text}))
    assert (err.value.file, err.value.line) == (name, line)
    assert reason in err.value.reason
    assert str(err.value).startswith(f"{name}:{line}: ")


def test_error_message_format_and_all_errors_collected() -> None:
    rates = "#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart\n" \
            "RT_20CNT,0.4,0.2,60s,60s,0s\nRT_20CNT,0,0.1,60s,1s,60s\nRT_X,0,abc,60s,1s,0s\n" \
            "RT_Y,0,-1,60s,1s,0s\n"
    with pytest.raises(DeckError) as err:
        load_cgrates_files(files(**{"Rates.csv": rates}))
    assert str(err.value) == "Rates.csv:4: rate 'abc' is not a decimal number"
    assert [(e.file, e.line) for e in err.value.others] == [("Rates.csv", 5)]
    assert err.value.code == "invalid_deck"


def test_missing_file() -> None:
    given = files()
    del given["Rates.csv"]
    with pytest.raises(DeckError, match=r"Rates\.csv: file is missing"):
        load_cgrates_files(given)
