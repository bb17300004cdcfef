"""Streaming CSV exports (the audit log, the match history): cells safe to open in a spreadsheet,
lines produced one at a time, and a response body that keeps streaming under ASGI."""

from __future__ import annotations

import csv
import json
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from rest_framework.request import Request

EXPORT_CHUNK_ROWS = 500
# A cell starting with one of these is a formula to a spreadsheet (CSV injection): it is prefixed
# with a quote so that it stays text.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class LineBuffer:
    """csv.writer writes into this and gets the line back (no buffer grows)."""

    def write(self, value: str) -> str:
        return value


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json.dumps(value, sort_keys=True, ensure_ascii=False)
    elif hasattr(value, "isoformat"):
        value = value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The header line, then one line per row, each produced when asked for."""
    writer = csv.writer(LineBuffer())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([csv_cell(value) for value in row])


def streaming_content(request: Request, lines: Iterator[str]) -> Iterator[str] | AsyncIterator[str]:
    # Under ASGI, Django would read a synchronous iterator into one list before sending it; an
    # async iterator that pulls chunks through sync_to_async keeps a large export streaming.
    if isinstance(request._request, ASGIRequest):
        return async_chunks(lines)
    return lines


async def async_chunks(lines: Iterator[str]) -> AsyncIterator[str]:
    take = sync_to_async(lambda: "".join(islice(lines, EXPORT_CHUNK_ROWS)), thread_sensitive=True)
    while chunk := await take():
        yield chunk
