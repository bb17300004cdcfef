"""CSV lines of the audit export and the async chunking Daphne uses (no database)."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import threading

from backend.audit.serializers import EVENT_FIELDS
from backend.core.csv_export import EXPORT_CHUNK_ROWS, async_chunks, csv_cell, csv_lines


def test_cells_a_spreadsheet_would_run_are_escaped() -> None:
    assert [csv_cell(v) for v in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "ok")] == [
        "'=1+1",
        "'+1",
        "'-1",
        "'@SUM(A1)",
        "'\tx",
        "ok",
    ]
    assert csv_cell(None) == "" and csv_cell(7) == "7"
    assert csv_cell({"b": 1, "a": "नाव"}) == '{"a": "नाव", "b": 1}'
    assert csv_cell(dt.datetime(2025, 1, 2, tzinfo=dt.UTC)) == "2025-01-02T00:00:00+00:00"


def test_csv_has_a_header_and_one_line_per_row() -> None:
    rows = [tuple(range(len(EVENT_FIELDS))), tuple("x" * n for n in range(len(EVENT_FIELDS)))]
    parsed = list(csv.reader(io.StringIO("".join(csv_lines(EVENT_FIELDS, rows)))))
    assert parsed[0] == EVENT_FIELDS and len(parsed) == 3 and parsed[1][1] == "1"


def test_async_chunks_yield_everything_in_bounded_chunks() -> None:
    lines = iter([f"line {i}\n" for i in range(EXPORT_CHUNK_ROWS * 2 + 3)])
    chunks: list[str] = []

    async def collect() -> None:
        chunks.extend([chunk async for chunk in async_chunks(lines)])

    # A thread of its own: the test process may already run an event loop (browser tests).
    worker = threading.Thread(target=asyncio.run, args=(collect(),))
    worker.start()
    worker.join(timeout=30)
    assert [chunk.count("\n") for chunk in chunks] == [EXPORT_CHUNK_ROWS, EXPORT_CHUNK_ROWS, 3]
    assert "".join(chunks).splitlines()[-1] == f"line {EXPORT_CHUNK_ROWS * 2 + 2}"
