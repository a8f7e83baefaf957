"""One source value → the value staging keeps (CONTRACT §5 "Source values as written").

Drivers hand over whatever the source column holds, whatever its declared type: an
INTEGER where the reference says text, a ``Decimal``, text with a zone offset, a zone-
aware ``datetime`` (PostgreSQL ``timestamptz``), MySQL's zero date as text, bytes from a
column read raw. These functions turn one such value into the reference kind without a
round trip through float, one value at a time so that one odd value never decides how a
whole column is parsed (mixed offsets in one column are fine).

Each returns ``(value, status)``: ``ok`` (value is the staged value, ``None`` for NULL),
``nulled`` (a blank or zero date the contract reads as NULL, or the open-ended 9999-12-31;
the caller counts it or, on a
required column, quarantines it) or ``invalid`` (does not parse; quarantined with reason).
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

Status = Literal["ok", "nulled", "invalid"]

# MySQL's zero date and datetime (sql_mode without NO_ZERO_DATE), with any fraction.
_ZERO_DATE = re.compile(r"^0000-00-00(?:[ T]00:00:00(?:\.0+)?)?$")
# pandas stores timestamps in nanoseconds: 1677-09-22 .. 2262-04-11. Beyond that a value is
# no registration date; it is quarantined rather than silently clipped.
_FIRST = datetime(1678, 1, 1)
_LAST = datetime(2262, 1, 1)
# ``9999-12-31`` is how many registration and HR systems write "no end yet" (a seizure not
# released, a person still on post) in a NOT NULL column: it reads as NULL, counted as a
# blank date is (PostgreSQL's ``infinity`` comes as datetime.max, year 9999: the same open
# end); any other year past _LAST is a typo and stays invalid.
OPEN_ENDED_YEAR = 9999

# MySQL character-set names → Python codecs (anything else is passed to Python as is).
_CODECS = {"utf8mb4": "utf-8", "utf8mb3": "utf-8", "utf8": "utf-8", "latin1": "cp1252", "gbk": "gbk",
           "gb2312": "gb2312", "gb18030": "gb18030", "big5": "big5", "ascii": "ascii"}


def python_codec(charset: str | None) -> str:
    """The Python codec for a connection's ``charset`` extra (MySQL names accepted)."""
    return _CODECS.get((charset or "utf-8").lower(), charset or "utf-8")


def is_missing(value: Any) -> bool:
    """NULL as any driver or pandas writes it (None, NaN, NaT)."""
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN and NaT are the only values unequal to themselves
    except (TypeError, ValueError):
        return False


def as_text(value: Any, encoding: str = "utf-8") -> str | None:
    """A value of a text column as written: integers stay integers (``10023``, never
    ``10023.0``), an integral float from a REAL column reads as the integer it holds,
    an integral decimal too (NUMERIC(20,2) holding 10023.00), other decimals keep their
    digits, dates read ISO. Trailing blanks (CHAR padding) and NUL
    characters (which no staging database can store) are dropped.

    Raises UnicodeDecodeError for bytes that are not text in ``encoding``.
    """
    if is_missing(value):
        return None
    if isinstance(value, (bytes, bytearray, memoryview)):
        text = bytes(value).decode(encoding)
    elif isinstance(value, bool):
        text = str(int(value))
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        text = str(int(value)) if value.is_integer() else repr(value)
    elif isinstance(value, Decimal):
        # NUMERIC(20,2) holding 10023.00 is the id 10023, as an integral float is (§5);
        # other decimals keep their digits.
        if not value.is_finite() or abs(value.adjusted()) > 40:
            text = str(value)  # Infinity, 1E+400000: no id; fixed-point would write 400,000 digits
        else:
            whole = value.to_integral_value()
            text = format(abs(whole) if whole == 0 else whole if whole == value else value, "f")
    elif isinstance(value, (datetime, date)):
        text = value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    elif isinstance(value, (list, tuple, dict)):
        # A json/jsonb or array column (PostgreSQL): its JSON text, not Python's repr.
        text = json.dumps(value, ensure_ascii=False, default=str)
    else:
        text = str(value)
    return text.replace("\x00", "").rstrip()


def as_timestamp(value: Any, zone: tzinfo, *, encoding: str = "utf-8") -> tuple[datetime | None, Status]:
    """A value of a timestamp column as a naive local datetime in the policy ``zone``.

    A zone-aware value (``timestamptz``, text with an offset) is converted to ``zone``; a
    naive one is already local. Blank text, MySQL's zero date and the open-ended
    ``9999-12-31`` (any time in year 9999) are ``nulled``.
    """
    if is_missing(value):
        return None, "ok"
    if isinstance(value, (bytes, bytearray, memoryview)):
        try:
            value = bytes(value).decode(encoding)
        except UnicodeDecodeError:
            return None, "invalid"
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        if not text or _ZERO_DATE.match(text):
            return None, "nulled"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None, "invalid"
    else:
        return None, "invalid"  # a number is no timestamp: which epoch, which unit?
    if parsed.year == OPEN_ENDED_YEAR:  # before any zone conversion: 9999-12-31 23:59 UTC is year 10000 in Shanghai
        return None, "nulled"
    if parsed.tzinfo is not None and parsed.utcoffset() is not None:
        try:
            parsed = parsed.astimezone(zone)
        except (OverflowError, ValueError):  # PostgreSQL 'infinity' comes as datetime.max with a zone
            return None, "invalid"
    parsed = parsed.replace(tzinfo=None)
    if parsed.year == OPEN_ENDED_YEAR:
        return None, "nulled"
    if not _FIRST <= parsed < _LAST:
        return None, "invalid"
    return parsed, "ok"


def as_number(value: Any, *, integer: bool, limit: Decimal | None) -> tuple[float | None, Status]:
    """A value of a numeric column (``integer``: whole numbers only), within ``limit``
    (exclusive absolute bound of the reference type, e.g. 32768 for SMALLINT)."""
    if is_missing(value):
        return None, "ok"
    if isinstance(value, int) and not isinstance(value, bool):  # the common case, kept cheap
        return (float(value), "ok") if limit is None or abs(value) < limit else (None, "invalid")
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        # MySQL/MariaDB BIT(n) (how Hibernate stores a Boolean code) reaches us as bytes
        # b'\x01'; a number written in a text column read raw is its ASCII digits.
        bits = bool(raw) and len(raw) <= 8 and any(byte < 0x20 for byte in raw)
        value = str(int.from_bytes(raw, "big")) if bits else raw.decode("ascii", errors="replace")
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except (InvalidOperation, ValueError, TypeError):
        return None, "invalid"
    if not number.is_finite() or (integer and number != number.to_integral_value()):
        return None, "invalid"
    if limit is not None and abs(number) >= limit:
        return None, "invalid"
    result = float(number)
    return (result, "ok") if math.isfinite(result) else (None, "invalid")


# Column-wise forms of the functions above, for a whole chunk at once. The values drivers
# hand over most often (``str`` text, a naive ISO timestamp as text or ``datetime``, an
# ``int``) take an inline path; every other value goes to the per-value function, so the
# result is the per-value function's by construction (tests/unit/test_source_values_property.py
# holds the two equal). The inline path matters: a function call per value was most of
# the cost of a load (issue 13 item 4). ``timestamps`` and ``numbers`` return the values
# and, apart, the position and status of each value that is not ``ok`` (a chunk has few):
# a status per value was a tuple per value and a second pass over the chunk to find them.

Problems = dict[int, Status]  # position in the column -> status other than "ok"
_SLOW = object()  # marks a value the inline path leaves to the per-value function


def texts(column: list[Any], encoding: str = "utf-8") -> list[str | None]:
    """``as_text`` over a column. Raises UnicodeDecodeError as ``as_text`` does."""
    return [
        None if v is None else v.rstrip() if type(v) is str and "\x00" not in v else as_text(v, encoding)
        for v in column
    ]


def timestamps(column: list[Any], zone: tzinfo, *, encoding: str = "utf-8") -> tuple[list[datetime | None], Problems]:
    """``as_timestamp`` over a column: the values, and the statuses other than ``ok``."""
    fromiso = datetime.fromisoformat
    out: list[datetime | None] = []
    append = out.append
    problems: Problems = {}
    for v in column:
        if v is None:
            append(None)
            continue
        kind = type(v)
        if kind is str and v[:1].isdigit() and v[-1:].isdigit():
            try:
                parsed = fromiso(v)
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is None and _FIRST <= parsed < _LAST:
                append(parsed)
                continue
        elif kind is datetime and v.tzinfo is None and _FIRST <= v < _LAST:
            append(v)
            continue
        value, status = as_timestamp(v, zone, encoding=encoding)
        if status != "ok":
            problems[len(out)] = status
        append(value)
    return out, problems


def numbers(column: list[Any], *, integer: bool, limit: Decimal | None) -> tuple[list[float | None], Problems]:
    """``as_number`` over a column: the values, and the statuses other than ``ok``."""
    # An integral limit compares with an int exactly as an int (every reference limit is).
    bound: float | int | Decimal = (math.inf if limit is None
                                    else int(limit) if limit == limit.to_integral_value() else limit)
    out: list[Any] = [
        None if v is None else float(v) if type(v) is int and -bound < v < bound else _SLOW for v in column
    ]
    problems: Problems = {}
    if _SLOW in out:
        for position, value in enumerate(out):
            if value is _SLOW:
                out[position], status = as_number(column[position], integer=integer, limit=limit)
                if status != "ok":
                    problems[position] = status
    return out, problems
