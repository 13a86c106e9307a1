"""Downloads people open in a spreadsheet or a script: CSV and JSON Lines, one writer each,
and ZIP archives of CSV files.

CSV cells are formula-safe: text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is prefixed with ``'``, so a spreadsheet shows it instead of running it (a key name or a
page path is typed by someone else: OWASP's "CSV injection"). Numbers pass as they are. JSON
Lines needs no such care: nothing evaluates it. Names of files, inside an archive or offered
to the browser, keep only letters, digits, ``.``, ``_`` and ``-`` (``safe_filename``): a name
made from a custom property's key is typed by a site's visitors.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import orjson
from starlette.responses import Response, StreamingResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson; charset=utf-8",
}
ZIP_TYPE = "application/zip"
MAX_NAME = 100
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


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


def safe_filename(text: str, *, default: str = "export") -> str:
    """``text`` as a file name no archive tool or browser reads as a path or a switch."""
    name = _UNSAFE.sub("_", text).strip("._-")[:MAX_NAME]
    return name or default


def zip_archive(files: Iterable[tuple[str, Iterable[str]]]) -> bytes:
    """A ZIP of text files (UTF-8), each ``(name, lines)``; names pass ``safe_filename`` and
    a repeated name gets ``-2``, ``-3`` ... before its extension."""
    buffer = io.BytesIO()
    taken: set[str] = set()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for wanted, lines in files:
            stem, dot, extension = safe_filename(wanted).rpartition(".")
            stem, extension = (stem, dot + extension) if dot else (extension, "")
            name, n = stem + extension, 1
            while name in taken:
                n += 1
                name = f"{stem}-{n}{extension}"
            taken.add(name)
            archive.writestr(name, "".join(lines).encode())
    return buffer.getvalue()


def zip_download(data: bytes, *, filename: str) -> Response:
    """An attachment named ``filename.zip``."""
    return Response(
        data,
        media_type=ZIP_TYPE,
        headers={"content-disposition": f'attachment; filename="{safe_filename(filename)}.zip"'},
    )


def _chain(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[Sequence[object]]:
    yield header
    yield from rows
