"""The filtered ledger as an XLSX workbook (``GET /bdcwatch/api/findings.xlsx``).

Written row by row (openpyxl's write-only mode), so a big ledger is never held in memory
as a sheet. Every cell is text or a number, never a formula: a subject or note that
starts with ``=`` from a source system stays text. Characters a workbook cannot hold
(control characters, CONTRACT §5 free text) are replaced; texts are masked (§6).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

from bdcwatch.ledger.query import FindingItem
from bdcwatch.reports.common import detail_text
from bdcwatch.web.labels import FIELD_TEXT, severity_text, status_text, subject_type_text

MAX_EXPORT_ROWS = 100_000
COLUMNS = [
    ("id", 10), ("rule_title", 34), ("rule_code", 22), ("severity", 8), ("unit", 10), ("subject_type", 16),
    ("subject_id", 36), ("period", 12), ("occurred_on", 12), ("detail", 60), ("status", 10), ("overdue", 8),
    ("first_detected_at", 18), ("last_detected_at", 18), ("due_date", 12), ("closed_at", 18), ("recurred", 12),
]


def _cell_value(item: FindingItem, key: str, unit_names: dict[str, str]) -> Any:
    values: dict[str, Any] = {
        "id": item.id, "rule_title": item.rule_title, "rule_code": item.rule_code,
        "severity": severity_text(item.severity),
        "unit": f"{item.unit_code} {unit_names.get(item.unit_code, '')}".strip() if item.unit_code else "",
        "subject_type": subject_type_text(item.subject_type), "subject_id": item.subject_id,
        "period": item.period or "",
        "occurred_on": item.occurred_on.isoformat() if item.occurred_on else "", "detail": detail_text(item.rule_code, item.detail),
        "status": status_text(item.status), "overdue": "是" if item.overdue else "否",
        "first_detected_at": f"{item.first_detected_at:%Y-%m-%d %H:%M}",
        "last_detected_at": f"{item.last_detected_at:%Y-%m-%d %H:%M}", "due_date": item.due_date.isoformat(),
        "closed_at": f"{item.closed_at:%Y-%m-%d %H:%M}" if item.closed_at else "",
        "recurred": "是" if item.recurred else "",
    }
    return values[key]


def _text_cell(sheet: Any, value: Any, *, bold: bool = False) -> Any:
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"  # never a formula, whatever the text starts with
    if bold:
        cell.font = Font(bold=True)
    return cell


def findings_xlsx(items: Iterable[FindingItem], *, unit_names: dict[str, str], title: str,
                  truncated_note: str | None = None) -> bytes:
    """A workbook with one sheet: a header row (Chinese), one row per finding (its id
    first), and ``truncated_note`` as a last row when the list was cut at
    ``MAX_EXPORT_ROWS``."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    for index, (_key, width) in enumerate(COLUMNS):
        sheet.column_dimensions[chr(ord("A") + index)].width = width
    sheet.freeze_panes = "A2"
    sheet.append([_text_cell(sheet, FIELD_TEXT[key], bold=True) for key, _width in COLUMNS])
    for item in items:
        sheet.append([_text_cell(sheet, _cell_value(item, key, unit_names)) for key, _width in COLUMNS])
    if truncated_note:
        sheet.append([_text_cell(sheet, truncated_note, bold=True)])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
