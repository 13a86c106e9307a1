"""Downloads people open in a spreadsheet or a script: CSV and JSON Lines, one writer each.

CSV cells are formula-safe: text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is prefixed with ``'``, so a spreadsheet shows it instead of running it (a key name or a
page path is typed by someone else: OWASP's "CSV injection"). Numbers pass as they are. JSON
Lines needs no such care: nothing evaluates it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import orjson
from starlette.responses import StreamingResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson; charset=utf-8",
}


def safe_cell(value: object) -> object:
    """A CSV cell that no spreadsheet runs as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """RFC 4180 lines (CRLF), the header first, every cell through ``safe_cell``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in _chain(header, rows):
        writer.writerow([safe_cell(cell) for cell in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def jsonl_lines(records: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """One JSON object per line."""
    for record in records:
        yield orjson.dumps(record).decode() + "\n"


def download(lines: Iterable[str], *, fmt: str, filename: str) -> StreamingResponse:
    """An attachment named ``filename.<fmt>``; ``fmt`` is a key of ``FORMATS``."""
    return StreamingResponse(
        (line.encode() for line in lines),
        media_type=FORMATS[fmt],
        headers={"content-disposition": f'attachment; filename="{filename}.{fmt}"'},
    )


def _chain(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[Sequence[object]]:
    yield header
    yield from rows
