"""Small dialect helpers so the rules' SQL reads the same on SQLite, PostgreSQL and MySQL.

Only code constants (column names, SQL keywords) are spliced into SQL here; every value
that comes from data or policy is a bound parameter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, Connection, Table, TextClause, bindparam
from sqlalchemy.dialects import mysql, postgresql, sqlite

from bdcwatch.store.models import Timestamp


class Dialect:
    """SQL fragments for one database dialect."""

    def __init__(self, name: str) -> None:
        if name not in ("sqlite", "postgresql", "mysql", "mariadb"):
            raise ValueError(f"supervision_db dialect {name!r} is not supported (sqlite, postgresql, mysql)")
        self.name = "mysql" if name == "mariadb" else name

    def add_hours(self, column: str, hours_param: str) -> str:
        """``column + :hours_param hours`` as a timestamp (the parameter may be negative)."""
        if self.name == "sqlite":
            return f"datetime({column}, :{hours_param} || ' hours')"
        if self.name == "postgresql":
            return f"({column} + make_interval(hours => CAST(:{hours_param} AS integer)))"
        return f"DATE_ADD({column}, INTERVAL :{hours_param} HOUR)"

    def to_date(self, column: str) -> str:
        """The calendar day of a timestamp column."""
        if self.name == "sqlite":
            return f"date({column})"
        if self.name == "postgresql":
            return f"CAST({column} AS date)"
        return f"DATE({column})"

    def month_key(self, column: str) -> str:
        """A value identifying the calendar month of a timestamp (comparable within a dialect)."""
        if self.name == "sqlite":
            return f"substr({column}, 1, 7)"
        if self.name == "postgresql":
            return f"to_char({column}, 'YYYY-MM')"
        return f"EXTRACT(YEAR_MONTH FROM {column})"

    def month_text(self, column: str) -> str:
        """``'YYYY-MM'`` of a timestamp column, as text on every dialect."""
        if self.name == "sqlite":
            return f"substr({column}, 1, 7)"
        if self.name == "postgresql":
            return f"to_char({column}, 'YYYY-MM')"
        return f"DATE_FORMAT({column}, '%Y-%m')"

    def json_text(self, column: str, key: str) -> str:
        """The text of top-level ``key`` of a JSON text column (NULL when absent or null).
        ``key`` is a code constant (a rule's declared detail key), checked here."""
        if not re.fullmatch(r"\w+", key):
            raise ValueError(f"not a detail key: {key!r}")
        if self.name == "sqlite":
            return f"json_extract({column}, '$.{key}')"
        if self.name == "postgresql":
            return f"(CAST({column} AS json) ->> '{key}')"
        return f"NULLIF(JSON_UNQUOTE(JSON_EXTRACT({column}, '$.{key}')), 'null')"

    def month_of(self, column: str) -> str:
        """The month number (1-12) of a date or timestamp column."""
        if self.name == "sqlite":
            return f"CAST(strftime('%m', {column}) AS INTEGER)"
        if self.name == "postgresql":
            return f"CAST(EXTRACT(MONTH FROM {column}) AS integer)"
        return f"MONTH({column})"

    def day_of(self, column: str) -> str:
        """The day of the month (1-31) of a date or timestamp column."""
        if self.name == "sqlite":
            return f"CAST(strftime('%d', {column}) AS INTEGER)"
        if self.name == "postgresql":
            return f"CAST(EXTRACT(DAY FROM {column}) AS integer)"
        return f"DAYOFMONTH({column})"

    @property
    def materialized(self) -> str:
        """``MATERIALIZED`` for a CTE that must be computed once before the main query uses
        it (SQLite and PostgreSQL would otherwise inline a CTE used once); MySQL/MariaDB
        have no such keyword and materialize derived tables with windows or grouping."""
        return "" if self.name == "mysql" else "MATERIALIZED"

    def unindexed(self, expr: str) -> str:
        """``expr`` (a column) as SQLite's planner cannot use an index for: a unary plus,
        same value. SQLite plans without range statistics, so a rule that knows which access
        path its period needs (``RuleInput.is_wide``) steers it this way; PostgreSQL and
        MySQL/MariaDB weigh their statistics and get the column unchanged."""
        return f"+{expr}" if self.name == "sqlite" else expr

    def concat(self, *parts: str) -> str:
        if self.name == "mysql":
            return "CONCAT(" + ", ".join(parts) + ")"
        return "(" + " || ".join(parts) + ")"

    def json_object(self, pairs: Sequence[tuple[str, str]]) -> str:
        """A JSON object text built in SQL from (literal key, SQL expression) pairs."""
        args = ", ".join(f"'{key}', {expr}" for key, expr in pairs)
        if self.name == "postgresql":
            return f"CAST(json_build_object({args}) AS text)"
        if self.name == "mysql":
            return f"JSON_OBJECT({args})"
        return f"json_object({args})"


def upsert(conn: Connection, table: Table, rows: list[dict[str, Any]], key: Iterable[str]) -> None:
    """Insert ``rows`` into ``table``, replacing the non-key columns of existing keys."""
    if not rows:
        return
    key = list(key)
    given = set(rows[0])  # only the columns the caller gives are written (never a surrogate id)
    name = conn.dialect.name
    if name in ("sqlite", "postgresql"):
        module = sqlite if name == "sqlite" else postgresql
        stmt = module.insert(table)
        updates = {c.name: stmt.excluded[c.name] for c in table.columns if c.name in given and c.name not in key}
        conn.execute(stmt.on_conflict_do_update(index_elements=key, set_=updates), rows)
    elif name in ("mysql", "mariadb"):
        stmt = mysql.insert(table)
        updates = {c.name: stmt.inserted[c.name] for c in table.columns if c.name in given and c.name not in key}
        conn.execute(stmt.on_duplicate_key_update(**updates), rows)
    else:
        raise ValueError(f"upsert is not implemented for dialect {name}")


def upsert_columns(conn: Connection, table: Table, columns: Mapping[str, Sequence[Any]], key: Iterable[str]) -> int:
    """``upsert`` for many rows given column-wise (column name -> values, all of one
    length): a load's bulk path. Returns the number of rows.

    On SQLite the statement is compiled once and the rows go straight to the driver's
    ``executemany``, each column's bind processing (``Timestamp`` to the second, dates as
    text) applied column by column: building a parameter dict per row cost more than the
    insert itself (issue 13 item 4). PostgreSQL and MySQL/MariaDB take ``upsert``, whose
    ``insertmanyvalues`` batching already sends many rows per statement.
    """
    names = list(columns)
    size = len(columns[names[0]]) if names else 0
    if not size:
        return 0
    key = list(key)
    dialect = conn.dialect
    if dialect.name != "sqlite":
        upsert(conn, table, [dict(zip(names, row, strict=True))
                             for row in zip(*(columns[n] for n in names), strict=True)], key)
        return size
    stmt = sqlite.insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=key, set_={c.name: stmt.excluded[c.name] for c in table.columns
                                  if c.name in columns and c.name not in key})
    compiled = stmt.compile(dialect=dialect, column_keys=names)
    ordered: list[Sequence[Any]] = []
    for bind in compiled.positiontup or ():
        values = columns[bind]
        process = table.c[bind].type.dialect_impl(dialect).bind_processor(dialect)
        ordered.append(values if process is None else [process(v) for v in values])
    conn.exec_driver_sql(compiled.string, list(zip(*ordered, strict=True)))
    return size


def bind_typed(statement: TextClause, params: dict[str, Any]) -> TextClause:
    """Give text SQL typed parameters: lists expand for IN, datetimes use the engine's
    timestamp type (so SQLite compares them in the stored text form)."""
    typed: list[BindParameter[Any]] = []
    present = set(re.findall(r"(?<!:):(\w+)", statement.text))
    for name, value in params.items():
        if name not in present:
            continue
        if isinstance(value, (list, tuple)):
            typed.append(bindparam(name, expanding=True))
        elif isinstance(value, datetime):
            typed.append(bindparam(name, type_=Timestamp))
    return statement.bindparams(*typed) if typed else statement


