"""XLSX attachments, written safely (issue 10 item 5).

Every workbook the engine mails goes through ``workbook``: each text cell passes
``safe_text.clean_cell`` (openpyxl raises on Word's ``\\x0b`` and the other C0 controls;
Excel stops at 32,767 characters) and is stored as text, so a value from data such as
``=HYPERLINK(…)`` or ``=1+1`` is shown, never evaluated. Sheet titles drop the characters
Excel forbids and are cut to 31 characters.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from typing import Any

from bdcwatch.safe_text import clean, clean_cell

_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def sheet_title(title: str, taken: set[str] | None = None) -> str:
    """A valid, unique Excel sheet title for ``title``."""
    base = _SHEET_FORBIDDEN.sub(" ", clean(title, "xlsx").replace("\n", " ")).strip().strip("'")[:31] or "Sheet"
    name, number = base, 2
    while taken is not None and name.lower() in {t.lower() for t in taken}:
        suffix = f" ({number})"
        name, number = base[: 31 - len(suffix)] + suffix, number + 1
    if taken is not None:
        taken.add(name)
    return name


def workbook(sheets: Mapping[str, Any], widths: Mapping[str, Sequence[float]] | None = None) -> bytes:
    """An XLSX file: one sheet per entry, from a pandas DataFrame or a ``(header, rows)``
    pair; header row frozen; optional column widths per sheet title (in characters).

    Written in openpyxl's write-only mode: rows stream to the file instead of a cell object
    being kept per value (a digest of 8,000 findings took 4 s to write, half of composing
    the day's mail at 500,000 certificates: issue 13 item 4).
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ERROR_CODES

    book = Workbook(write_only=True)
    taken: set[str] = set()
    for title, data in sheets.items():
        header, rows = _table(data)
        sheet = book.create_sheet(sheet_title(title, taken))
        for column_number, width in enumerate((widths or {}).get(title, ()), start=1):
            sheet.column_dimensions[_column_letter(column_number)].width = width
        sheet.freeze_panes = "A2"
        for values in [header, *rows]:
            row: list[Any] = []
            for value in values:
                value = clean_cell(value)
                if isinstance(value, str) and (value.startswith("=") or value in ERROR_CODES):
                    # openpyxl would store it as a formula or an error value (#N/A): a text
                    # from data is only ever text.
                    cell = WriteOnlyCell(sheet, value)
                    cell.data_type = "s"
                    value = cell
                row.append(value)
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _table(data: Any) -> tuple[list[Any], list[list[Any]]]:
    if isinstance(data, tuple):
        header, rows = data
        return list(header), [list(row) for row in rows]
    frame = data.astype(object).where(data.notna(), None)
    return [str(c) for c in frame.columns], [list(row) for row in frame.itertuples(index=False, name=None)]


def _column_letter(number: int) -> str:
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(number))
