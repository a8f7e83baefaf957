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
from bdcwatch.sources.quarantine import key_text
from bdcwatch.sources.schema import SOURCE_TABLES, build_metadata
from bdcwatch.sources.suites import INVALID_SUFFIX

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
    """A coerced chunk and what coercion did to it.

    ``frame`` is what the gate validates (reference columns in pandas dtypes, plus
    ``<COLUMN>__invalid`` text of values that did not parse); ``values`` holds the same
    reference columns as plain Python values for the driver (missing -> None, timestamps
    -> datetime, dates -> date, integers -> int), so staging needs no conversion back.
    """

    frame: pd.DataFrame
    values: dict[str, list[Any]]
    nulled: int  # blank or zero dates read as NULL in nullable columns (load_log.values_nulled)


# A few undecodable values (at most 3, or this share, and fewer than half) among decodable
# ones read as damaged values, not as a wrong character set (which garbles nearly every
# non-ASCII value).
DAMAGED_SHARE = 0.05


def _text_column(raw: list[Any], table_name: str, name: str, encoding: str,
                 chunk: dict[str, list[Any]] | None = None) -> list[str | None]:
    """The column's values as text (``values.texts``); ``chunk``: the whole chunk, whose
    key columns name the row of a value that cannot be decoded.

    Raises:
        QualityGateError: a value cannot be decoded as ``encoding`` (CONTRACT §5: the load
            stops naming table, column and the likely cause): the first row's key and how
            many values fail; a few among many decodable ones are damaged values (cut in
            the middle of a character), many mean the connection's charset is wrong.
    """
    try:
        return values.texts(raw, encoding)
    except UnicodeDecodeError as error:
        failing = []
        for position, value in enumerate(raw):
            try:
                values.as_text(value, encoding)
            except UnicodeDecodeError:
                failing.append(position)
        written = sum(1 for v in raw if isinstance(v, (bytes, bytearray, memoryview)))
        first = failing[0] if failing else 0
        key_names = SOURCE_TABLES[table_name].key
        if chunk is not None and all(k in chunk for k in key_names):
            where = where_zh = key_text(table_name, tuple(  # a key read raw is shown decoded, damaged or not
                bytes(v).decode(encoding, errors="replace") if isinstance(v, (bytes, bytearray, memoryview)) else v
                for v in (chunk[k][first] for k in key_names)))
        else:
            where, where_zh = f"value {first + 1} of the chunk", f"本批第 {first + 1} 个值"
        counted = f"{len(failing)} of {written} values read as bytes, first: {where}, {error.reason} at byte {error.start}"
        counted_zh = f"{len(failing)} / {written} 个值（首个：{where_zh}）"
        if failing and len(failing) <= max(3, DAMAGED_SHARE * written) and len(failing) < written / 2:
            raise QualityGateError(
                f"source table {table_name} column {name}: text cannot be decoded as {encoding} ({counted}); the "
                f"others decode, so these values are damaged in the source (cut in the middle of a character), not "
                f"in another character set: correct them at the source and run again",
                zh=f"源表 {table_name} 的字段 {name} 中有 {counted_zh}不能按 {encoding} 解码，其余均正常：这些值在源库中"
                   f"已损坏（多为截断了半个汉字），并非字符集设置错误；请在源系统中更正后重新运行",
            ) from error
        raise QualityGateError(
            f"source table {table_name} column {name}: text cannot be decoded as {encoding} ({counted}); the "
            f"source's character set is probably another one: set the connection extra charset "
            f"(e.g. {{\"charset\": \"gbk\"}})",
            zh=f"源表 {table_name} 的字段 {name} 中有 {counted_zh}不能按 {encoding} 解码：源库的字符集很可能是另一种，"
               f"请在源库连接的 extra 中设置 charset（例如 {{\"charset\": \"gbk\"}}）",
        ) from error


def coerce(raw: dict[str, list[Any]], table_name: str, zone: tzinfo, encoding: str = "utf-8") -> Coerced:
    """Bring raw values (reference column name -> the driver's values, one list per column,
    all of one length) to the reference types (see the module docstring). ``zone`` is the
    policy zone zone-aware timestamps are converted to; ``encoding`` decodes bytes.

    Raises QualityGateError when a text column holds bytes that are not ``encoding``.
    """
    size = len(next(iter(raw.values()))) if raw else 0
    index = pd.RangeIndex(size)
    columns: dict[str, pd.Series] = {}
    python: dict[str, list[Any]] = {}
    nulled = 0
    for col in _REFERENCE.tables[table_name].columns:
        name, kind = col.name, _kind(col.type)
        if name not in raw:
            continue  # the table-level expectation on the column set reports it
        column = raw[name]
        if kind == "text":
            texts = _text_column(column, table_name, name, encoding, raw)
            length = getattr(col.type, "length", None)
            # Longer than its reference column: staging could not store it (PostgreSQL and
            # MariaDB refuse), so the row is quarantined with the value shown.
            if length is not None and max(map(len, filter(None, texts)), default=0) > length:
                too_long = [t is not None and len(t) > length for t in texts]
                columns[name + INVALID_SUFFIX] = pd.Series(
                    [t if long else None for t, long in zip(texts, too_long, strict=True)], index=index, dtype=object)
                texts = [None if long else t for t, long in zip(texts, too_long, strict=True)]
            columns[name] = pd.Series(texts, index=index, dtype=object)
            python[name] = texts
            continue
        converted: tuple[list[Any], values.Problems] = (
            values.timestamps(column, zone, encoding=encoding) if kind in ("timestamp", "date")
            else values.numbers(column, integer=kind == "int", limit=_limit(col.type)))
        parsed, problems = converted
        invalid: list[str | None] = [None] * size
        for position, status in problems.items():
            if status == "nulled" and col.nullable:
                nulled += 1
            else:
                invalid[position] = _shown(column[position], encoding)
        if kind == "date":
            parsed = [None if v is None else v.replace(hour=0, minute=0, second=0, microsecond=0) for v in parsed]
            python[name] = [None if v is None else v.date() for v in parsed]
        elif kind == "int":
            python[name] = [None if v is None else int(v) for v in parsed]
        else:
            python[name] = parsed
        if kind in ("timestamp", "date"):
            columns[name] = pd.Series(pd.to_datetime(parsed), index=index).astype("datetime64[ns]")
        else:
            columns[name] = pd.Series(parsed, index=index, dtype="float64")
        columns[name + INVALID_SUFFIX] = pd.Series(invalid, index=index, dtype=object)
    return Coerced(pd.DataFrame(columns, index=index), python, nulled)


def _shown(value: Any, encoding: str) -> str:
    """The raw value as the quarantine reason shows it."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode(encoding, errors="replace")
    return str(value)
