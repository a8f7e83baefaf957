"""Issue 13 item 6: sources on Oracle, not yet supported (bdcwatch.sources.connections
refuses the connection type; docs/deploy.md says what support needs). No Oracle (or 达梦) server can run on this machine
(no Docker, no internet), so what is checked is what SQLAlchemy's built-in Oracle dialect
makes of the reference schema (bdcwatch.sources.schema, the contract's
source_schema.sql as metadata): every table compiles to Oracle DDL with the reference
names unquoted (Oracle folds them to upper case, as the reference DDL would be read there),
types Oracle has, and names within Oracle's 30-character limit of releases before 12.2.
Not a live test: docs/deploy.md says so."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.dialects import oracle
from sqlalchemy.schema import CreateTable

from bdcwatch.sources.schema import build_metadata

METADATA = build_metadata()


@pytest.mark.parametrize("table", sorted(METADATA.tables), ids=str)
def test_reference_table_compiles_to_oracle_ddl(table: str) -> None:
    source = METADATA.tables[table]
    ddl = str(CreateTable(source).compile(dialect=oracle.dialect()))
    assert ddl.startswith(f"\nCREATE TABLE {source.name} (")
    assert '"' not in ddl, "a quoted (case-sensitive) name: Oracle would not find the reference table"
    for column in source.columns:
        assert re.search(rf"^\s+{column.name} \w", ddl, flags=re.MULTILINE), column.name
        assert len(column.name) <= 30
    assert len(source.name) <= 30
    # Oracle types only: VARCHAR2 with character semantics for Chinese text, DATE for timestamps.
    assert "TEXT" not in ddl and "DATETIME" not in ddl and "BOOLEAN" not in ddl
    if any(str(c.type).startswith("VARCHAR") for c in source.columns):
        assert " CHAR)" in ddl  # VARCHAR2(n CHAR): n characters, not bytes, in a UTF-8 database


def test_every_reference_table_is_compiled() -> None:
    """The parametrised test above sees the nine tables of the contract's source_schema.sql."""
    assert set(METADATA.tables) == {"DJT_DJ_SL", "DJF_DJ_SH", "DJF_DJ_DB", "BDC_ZS", "BDC_BYSL", "QLF_QL_CFDJ",
                                    "BDC_DZZZ_ZZXX", "RY_JBXX", "RY_PXJL"}
