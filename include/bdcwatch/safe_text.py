"""The one sanitiser for text from data on its way out: HTML (mail), XLSX and log lines.

Free text in the sources (return reasons, seizure text, names) may hold any character
(CONTRACT §5 "Free text"): Word's line break ``\\x0b``, NULs, C1 controls, lone
surrogates from a badly decoded byte, bidi overrides that reorder what a reader sees.
Each output drops or replaces what its format cannot hold, so nothing crashes on it and
nothing is shown other than it is:

============  ==============================================================================
``html``      control characters that HTML/XML cannot carry are dropped; line-breaking
              controls (VT, FF, NEL, U+2028/9, the C0 separators) become ``\\n``; lone
              surrogates and noncharacters become U+FFFD; bidi embedding/override/isolate
              controls are dropped (they can make ``123`` read as ``321``)
``xlsx``      the same (openpyxl refuses the C0 controls XML 1.0 forbids), and the cell is
              cut to Excel's 32,767 characters; ``workbooks`` also stores it as text, never
              as a formula
``log``       the same, and line breaks are indented so a value cannot forge a log line
============  ==============================================================================

Every profile also masks ID numbers (``standards.masking.mask_id_numbers``, CONTRACT §6).
``install_log_guard`` applies the ``log`` profile to every record of a ``bdcwatch.*``
logger (the message and its arguments, and the formatted traceback).
"""

from __future__ import annotations

import logging
import numbers
import re
import traceback
from typing import Any, Literal

from bdcwatch.standards.masking import mask_id_numbers

Target = Literal["html", "xlsx", "log"]

XLSX_MAX_CELL = 32_767
_LINE_BREAKS = re.compile("[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
# C0 except TAB, LF, CR; DEL and C1 (NEL handled above); bidi controls; noncharacters and
# lone surrogates (the last two are replaced, not dropped, so a reader sees something was there).
_DROPPED = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_PLANE_NONCHARACTERS = "".join(chr(plane * 0x10000 + low) for plane in range(1, 17) for low in (0xFFFE, 0xFFFF))
_REPLACED = re.compile("[\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff" + _PLANE_NONCHARACTERS + "]")
_CR = re.compile("\r\n?")


def clean(value: Any, target: Target = "html") -> str:
    """``value`` as text safe for ``target`` (see the module docstring); None is ""."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    text = _CR.sub("\n", text)
    text = _LINE_BREAKS.sub("\n", text)
    text = _DROPPED.sub("", text)
    text = _REPLACED.sub("\ufffd", text)
    text = mask_id_numbers(text)
    if target == "xlsx" and len(text) > XLSX_MAX_CELL:
        text = text[: XLSX_MAX_CELL - 1] + "…"
    if target == "log":
        text = text.replace("\n", "\n    ")
    return text


def typed(value: str) -> str:
    """Text a person typed (a note, a filter) as it is kept: line breaks made ``\n``,
    control and bidi characters dropped (a NUL cannot be stored in PostgreSQL text and
    made the API answer 500), lone surrogates replaced; ID numbers are not masked here
    (the outputs do it)."""
    text = _LINE_BREAKS.sub("\n", _CR.sub("\n", value))
    return _REPLACED.sub("\ufffd", _DROPPED.sub("", text))


class Verbatim(str):
    """An identifier of the engine's own shown as written in a workbook cell (a sampled
    case's 业务号 the reviewer must find the file by and the import matches back: §6 lets
    case numbers appear). Only characters XLSX cannot hold are dropped; not masked, so an
    18-digit vendor case number survives the round trip through the mailed checklist."""


def clean_cell(value: Any) -> Any:
    """A workbook cell value: text is cleaned for XLSX, numbers, dates and None pass
    (an integer that is an ID number, e.g. a legacy 15-digit one, is masked as text, §6);
    a ``Verbatim`` text is kept as written."""
    if isinstance(value, Verbatim):
        return typed(str(value))
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        masked = mask_id_numbers(str(value))
        return value if masked == str(value) else masked
    if value is None or isinstance(value, numbers.Number) or hasattr(value, "isoformat"):
        return value  # numpy numbers register as numbers.Number; dates and datetimes have isoformat
    return clean(value, "xlsx")


_INSTALLED = False


def install_log_guard(prefix: str = "bdcwatch") -> None:
    """Make every log record of the ``prefix`` loggers safe (idempotent).

    The record factory formats the message once, cleans it and drops the arguments; a
    record whose arguments do not fit its format is left to logging's own error report.
    """
    global _INSTALLED
    if _INSTALLED:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        name = record.name if isinstance(record.name, str) else ""  # logging.makeLogRecord passes None
        if name == prefix or name.startswith(prefix + "."):
            try:
                record.msg = clean(record.getMessage(), "log")
                record.args = None
                if record.exc_info and record.exc_info[0] is not None:
                    record.exc_text = clean("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"), "log")
            except Exception:  # a bad format string is logging's to report, not ours
                pass
        return record

    logging.setLogRecordFactory(factory)
    _INSTALLED = True


SUBJECT_MAX = 300  # the outbox's subject column; clients cut long subjects anyway


def subject_line(value: Any) -> str:
    """A mail subject from text that may hold data: cleaned, on one line, at most 300 characters."""
    text = re.sub(r"\s*\n\s*", " ", clean(value)).strip()
    return text if len(text) <= SUBJECT_MAX else text[: SUBJECT_MAX - 1] + "…"
