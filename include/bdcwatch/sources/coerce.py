"""Raw source values → the reference types (CONTRACT source_schema.sql, §5 "Source values
as written"), one chunk at a time.

Every value is converted on its own (``sources.values``), never through a column-wide
float or timezone inference: a NULL in an INTEGER column does not turn ``10023`` into
``10023.0``, and one offset in a column does not decide the others. A value that does not
parse becomes missing and ``<COLUMN>__invalid`` keeps its raw text for the gate and the
quarantine reason. A blank or zero date in a nullable timestamp/date column is NULL and
counted; in a required one it is invalid (quarantined, naming table, key and column).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import Date, DateTime, Integer, Numeric, SmallInteger

from bdcwatch.errors import QualityGateError
from bdcwatch.sources import values
from bdcwatch.sources.gate import INVALID_SUFFIX
from bdcwatch.sources.schema import build_metadata

_REFERENCE = build_metadata()


def _kind(col_type: Any) -> str:
    if isinstance(col_type, DateTime):
        return "timestamp"
    if isinstance(col_type, Date):
        return "date"
    if isinstance(col_type, (SmallInteger, Integer)):
        return "int"
    if isinstance(col_type, Numeric):
        return "number"
    return "text"


def _limit(col_type: Any) -> Decimal | None:
    """Exclusive absolute bound of a numeric reference type (what staging can store)."""
    if isinstance(col_type, SmallInteger):
        return Decimal(2**15)
    if isinstance(col_type, Integer):
        return Decimal(2**31)
    if isinstance(col_type, Numeric) and col_type.precision is not None:
        return Decimal(10) ** (col_type.precision - (col_type.scale or 0))
    return None


def column_types(table_name: str) -> dict[str, str]:
    """Reference column name → its declared type as the reference DDL writes it."""
    if table_name not in _REFERENCE.tables:
        return {}
    return {c.name: str(c.type) for c in _REFERENCE.tables[table_name].columns}


def column_kinds(table_name: str) -> dict[str, str]:
    """Reference column name → kind (timestamp, date, int, number, text)."""
    return {c.name: _kind(c.type) for c in _REFERENCE.tables[table_name].columns}


@dataclass
class Coerced:
    """A coerced chunk and what coercion did to it."""

    frame: pd.DataFrame
    nulled: int  # blank or zero dates read as NULL in nullable columns (load_log.values_nulled)


def _text_column(raw: pd.Series, table_name: str, name: str, encoding: str) -> list[str | None]:
    try:
        return [values.as_text(v, encoding) for v in raw]
    except UnicodeDecodeError as error:
        raise QualityGateError(
            f"source table {table_name} column {name}: text cannot be decoded as {encoding} ({error.reason} at "
            f"byte {error.start}); the source's character set is probably another one: set the connection "
            f"extra charset (e.g. {{\"charset\": \"gbk\"}})"
        ) from error


def coerce(frame: pd.DataFrame, table_name: str, zone: tzinfo, encoding: str = "utf-8") -> Coerced:
    """Bring raw values to the reference types (see the module docstring). ``zone`` is the
    policy zone zone-aware timestamps are converted to; ``encoding`` decodes bytes.

    Raises QualityGateError when a text column holds bytes that are not ``encoding``.
    """
    out = pd.DataFrame(index=frame.index)
    nulled = 0
    for col in _REFERENCE.tables[table_name].columns:
        name, kind = col.name, _kind(col.type)
        if name not in frame.columns:
            continue  # the table-level expectation on the column set reports it
        raw = frame[name]
        if kind == "text":
            texts = _text_column(raw, table_name, name, encoding)
            length = getattr(col.type, "length", None)
            # Longer than its reference column: staging could not store it (PostgreSQL and
            # MariaDB refuse), so the row is quarantined with the value shown.
            too_long = [t is not None and length is not None and len(t) > length for t in texts]
            out[name] = pd.Series([None if long else t for t, long in zip(texts, too_long, strict=True)],
                                  index=frame.index, dtype=object)
            if any(too_long):
                out[name + INVALID_SUFFIX] = pd.Series(
                    [t if long else None for t, long in zip(texts, too_long, strict=True)], index=frame.index,
                    dtype=object)
            continue
        results: list[tuple[Any, str]]
        if kind in ("timestamp", "date"):
            results = [values.as_timestamp(v, zone, encoding=encoding) for v in raw]
        else:
            results = [values.as_number(v, integer=kind == "int", limit=_limit(col.type)) for v in raw]
        invalid: list[str | None] = []
        parsed: list[Any] = []
        for value, (result, status) in zip(raw, results, strict=True):
            if status == "nulled" and col.nullable:
                nulled += 1
                status = "ok"
            parsed.append(result)
            invalid.append(None if status == "ok" else _shown(value, encoding))
        if kind in ("timestamp", "date"):
            series = pd.to_datetime(pd.Series(parsed, index=frame.index, dtype=object)).astype("datetime64[ns]")
            out[name] = series.dt.normalize() if kind == "date" else series
        else:
            out[name] = pd.Series(parsed, index=frame.index, dtype="float64")
        out[name + INVALID_SUFFIX] = pd.Series(invalid, index=frame.index, dtype=object)
    return Coerced(out, nulled)


def _shown(value: Any, encoding: str) -> str:
    """The raw value as the quarantine reason shows it."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode(encoding, errors="replace")
    return str(value)


def python_columns(frame: pd.DataFrame, kinds: dict[str, str]) -> dict[str, list[Any]]:
    """Column-wise conversion of a coerced chunk to plain Python values for the driver
    (missing → None, timestamps → datetime, dates → date, integers → int). Vectorised
    per column: element-wise access to pandas arrays costs more than the load itself."""
    out: dict[str, list[Any]] = {}
    for name, kind in kinds.items():
        if name not in frame:
            continue
        series = frame[name]
        missing = series.isna().tolist()
        if kind in ("timestamp", "date"):
            converted = list(series.dt.to_pydatetime())
            if kind == "date":
                converted = [v if m else v.date() for v, m in zip(converted, missing, strict=True)]
        elif kind == "int":
            converted = series.fillna(0).astype("int64").tolist()
        elif kind == "number":
            converted = series.astype("float64").tolist()
        else:
            converted = series.tolist()
        out[name] = [None if m else v for v, m in zip(converted, missing, strict=True)]
    return out
