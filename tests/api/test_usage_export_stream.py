"""The streamed exports say what the JSON report says: the CSV file row for row and column for
column, the Excel file with typed cells; text that is markup or control characters survives
the Excel file; an export abandoned by its client stops reading."""

from __future__ import annotations

import asyncio
import csv
import io
import threading
import zipfile
from datetime import datetime

import pytest
from openpyxl import load_workbook
from tests.api.test_reports_api import seeded

from commcredits.services.usage import xlsx_stream as xl
from commcredits.services.usage.reports import COLUMNS
from commcredits.services.usage.usage_export import DEPTH, threaded


def test_csv_export_equals_the_json_report(api, rt) -> None:
    tid, _ = seeded(api, rt)
    items = api.call("GET", f"/v1/tenants/{tid}/usage", params={"limit": 100}).json()["items"]
    r = api.call("GET", f"/v1/tenants/{tid}/usage", params={"format": "csv"})
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == list(COLUMNS)
    expected = sorted(([str(v) for v in i.values()] for i in items), key=lambda row: (row[13], row[0]))
    assert rows[1:] == expected and len(expected) == 4


def test_excel_export_equals_the_json_report_with_types(api, rt) -> None:
    tid, _ = seeded(api, rt)
    items = api.call("GET", f"/v1/tenants/{tid}/usage", params={"limit": 100}).json()["items"]
    by_id = {i["UsageId"]: i for i in items}
    x = api.call("GET", f"/v1/tenants/{tid}/usage", params={"format": "xlsx"})
    assert zipfile.ZipFile(io.BytesIO(x.content)).testzip() is None
    sheet = load_workbook(io.BytesIO(x.content)).active
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0]) == list(COLUMNS) and sheet.auto_filter.ref == "A1:U5"
    for row in values[1:]:
        item = by_id[row[0]]
        for name, value in zip(COLUMNS, row, strict=True):
            if name in ("Start Time", "End Time"):
                assert isinstance(value, datetime) and value.isoformat() + "Z" == item[name]
            elif name in ("Charge", "Connection Fee"):
                assert value == pytest.approx(float(item[name]))
            else:
                assert (value if value is not None else "") == item[name], name


def test_excel_text_keeps_markup_control_characters_and_spaces() -> None:
    awkward = ["a<b>&c", " leading", "trailing ", "bell\x07", "_x0041_ literal", "Zoë 日本", "", "plain"]
    row = "<row>" + "".join(xl.text_cell(v) for v in awkward) + xl.number_cell("2.25", xl.MONEY) + "</row>"
    body = b"".join(xl.stream_xlsx("Sheet 'one'", [f"c{i}" for i in range(9)], [10] * 9, [(row, 1)],
                                   date_format="yyyy-mm-dd", money_format='#,##0.00 "EUR"'))
    sheet = load_workbook(io.BytesIO(body)).active
    got = [c.value for c in sheet[2]]
    assert got[:3] == awkward[:3] and got[5] == awkward[5] and got[6] is None and got[7] == "plain"
    # Excel's own escapes (openpyxl shows them as written; Excel reads the original text back)
    assert got[3] == "bell_x0007_" and got[4] == "_x005F_x0041_ literal"
    assert got[8] == 2.25 and sheet.cell(2, 9).number_format == '#,##0.00 "EUR"'
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:I2" and sheet.cell(1, 1).font.b


def test_column_letters() -> None:
    assert [xl.column_letter(n) for n in (1, 21, 26, 27, 52, 703)] == ["A", "U", "Z", "AA", "AZ", "AAA"]


def test_an_abandoned_export_stops_its_thread() -> None:
    made, closed = [0], threading.Event()

    def pieces():  # type: ignore[no-untyped-def]
        try:
            while True:
                made[0] += 1
                yield b"x" * 10
        finally:
            closed.set()

    async def take_one() -> None:
        stream = threaded(pieces())
        assert await anext(stream) == b"x" * 10
        await asyncio.sleep(0.2)  # the producer fills the queue, then waits
        assert made[0] <= DEPTH + 2  # bounded: it does not run ahead of the client
        await stream.aclose()

    asyncio.run(take_one())
    assert closed.wait(5)  # the generator (and its read transaction) was closed


def test_a_zip64_workbook_reads_back() -> None:
    row = "<row>" + xl.text_cell("x") + xl.number_cell(46032.5, xl.DATE) + "</row>"
    body = b"".join(xl.stream_xlsx("S", ["a", "b"], [10, 20], [(row, 1)] * 3, date_format="yyyy-mm-dd hh:mm:ss",
                                   money_format="0.00", huge=True))
    sheet = load_workbook(io.BytesIO(body)).active
    assert [c.value for c in sheet[4]] == ["x", datetime(2026, 1, 10, 12, 0)] and sheet.auto_filter.ref == "A1:B4"
