"""Raw source values → the reference types (CONTRACT source_schema.sql), one chunk at a
time. A value that does not parse becomes missing, and ``<COLUMN>__invalid`` keeps its raw
text for the gate and the quarantine reason."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import Date, DateTime, Integer, Numeric, SmallInteger

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


def column_kinds(table_name: str) -> dict[str, str]:
    """Reference column name → kind (timestamp, date, int, number, text)."""
    return {c.name: _kind(c.type) for c in _REFERENCE.tables[table_name].columns}


def coerce(frame: pd.DataFrame, table_name: str) -> pd.DataFrame:
    """Bring raw values to the reference types; unparsable values become missing, and a
    ``<COLUMN>__invalid`` column keeps the raw text for the gate and the reason."""
    out = pd.DataFrame(index=frame.index)
    for name, kind in column_kinds(table_name).items():
        if name not in frame.columns:
            continue  # the table-level expectation on the column set reports it
        raw = frame[name]
        if kind == "text":
            # CHAR columns come back blank-padded from PostgreSQL; trailing blanks carry no meaning.
            # pandas 3 infers a string dtype whose missing value is NaN: test with isna, never
            # ``is None``, or a NULL becomes the text 'nan'.
            out[name] = pd.Series([None if pd.isna(v) else str(v).rstrip() for v in raw], index=frame.index,
                                  dtype=object)
            continue
        if kind == "timestamp":
            parsed = pd.to_datetime(raw, errors="coerce", format="ISO8601")
        elif kind == "date":
            parsed = pd.to_datetime(raw, errors="coerce", format="ISO8601").dt.normalize()
        else:
            parsed = pd.to_numeric(raw, errors="coerce")
            if kind == "int":
                parsed = parsed.where(parsed.isna() | (parsed == parsed.round()))
        bad = raw.notna() & parsed.isna()
        out[name] = parsed
        out[name + INVALID_SUFFIX] = pd.Series(
            [str(v) if b else None for v, b in zip(raw, bad.tolist(), strict=True)], index=frame.index, dtype=object
        )
    return out


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
            values = list(series.dt.to_pydatetime())
            if kind == "date":
                values = [v if m else v.date() for v, m in zip(values, missing, strict=True)]
        elif kind == "int":
            values = series.fillna(0).astype("int64").tolist()
        elif kind == "number":
            values = series.astype("float64").tolist()
        else:
            values = series.tolist()
        out[name] = [None if m else v for v, m in zip(values, missing, strict=True)]
    return out


