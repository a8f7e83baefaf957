"""The column type and the MetaData every supervision_db table shares."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, MetaData
from sqlalchemy.dialects import sqlite
from sqlalchemy.types import TypeDecorator

# Local wall-clock timestamps (Asia/Shanghai, no zone, as in the sources). On SQLite they
# are stored to the second as 'YYYY-MM-DD HH:MM:SS', the format SQLite's own datetime()
# returns, so SQL can compare a column with datetime(other, '+24 hours') as text.
_SQLITE_SECONDS = sqlite.DATETIME(  # type: ignore[no-untyped-call]
    storage_format="%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d",
    regexp=r"(\d+)-(\d+)-(\d+) (\d+):(\d+):(\d+)",
)


class Timestamp(TypeDecorator[datetime]):
    """A zone-less local timestamp, to the second, portable across dialects."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect):  # type: ignore[no-untyped-def]
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_SQLITE_SECONDS)
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value, dialect):  # type: ignore[no-untyped-def]
        return value.replace(microsecond=0) if isinstance(value, datetime) else value

    def bind_processor(self, dialect):  # type: ignore[no-untyped-def]
        """On SQLite a naive datetime is written straight to its stored text: ISO format to
        the second is exactly ``_SQLITE_SECONDS``'s, built in C (a load binds one timestamp
        per row and column; the generic path cost ~2 µs each). Anything else takes the
        generic path (``process_bind_param``, then the impl's processor)."""
        generic = super().bind_processor(dialect)
        if dialect.name != "sqlite" or generic is None:
            return generic

        def process(value):  # type: ignore[no-untyped-def]
            if type(value) is datetime and value.tzinfo is None:
                return value.isoformat(" ", "seconds")
            return generic(value)

        return process


metadata = MetaData()


