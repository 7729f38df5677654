"""CSV that is safe to open in a spreadsheet.

Below the features because every CSV export uses it (the expiring holds, the audit log,
the disclosure log …): one rule, one place.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_lines(columns: Sequence[str], rows: Iterable[Sequence]) -> Iterator[str]:
    """The header, then one CSV line per row (CRLF ends, every cell spreadsheet-safe), as
    they come: a stream of any length in constant memory."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(values) -> str:
        writer.writerow(values)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield line(columns)
    for row in rows:
        yield line([spreadsheet_safe(value) for value in row])
