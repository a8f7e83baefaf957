"""Property (issue 10, CONTRACT §5): over every source column of every source table, any
string, number, date or NULL a source may hold is either staged as written, normalised by
a contract rule, or quarantined with its reason naming table, row key and column; nothing
raises out of a load (a real tiny SQLite source and supervision DB) or a render."""

from __future__ import annotations

import io
import shutil
import tempfile
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import StaticPool

from bdcwatch.errors import QualityGateError
from bdcwatch.reports.workbooks import workbook
from bdcwatch.safe_text import clean
from bdcwatch.sources import values
from bdcwatch.sources.coerce import _REFERENCE, coerce, column_kinds
from bdcwatch.sources.extract import load_table
from bdcwatch.sources.gate import validator_for
from bdcwatch.sources.quarantine import key_text, key_texts
from bdcwatch.sources.schema import SOURCE_TABLES
from bdcwatch.store.migrate import make_engine
from bdcwatch.store.models import STAGING, quarantine

SHANGHAI = ZoneInfo("Asia/Shanghai")
LOADED_AT = datetime(2026, 6, 1, 9, 0)
ZONES = st.sampled_from([UTC, SHANGHAI, timezone(timedelta(hours=-5)), timezone(timedelta(hours=9, minutes=30))])

# What a source column may hold, whatever its declared type (SQLite stores anything).
SOURCE_VALUES = st.one_of(
    st.none(),
    st.text(max_size=24),
    st.sampled_from(["", " ", "\u3000", "0000-00-00", "0000-00-00 00:00:00", "2026-03-01 07:00+08",
                     "2026-02-28T23:00:00Z", "2026-13-45 10:00", "10023", "37.0", "1", "2",
                     "晋(2026)阳泉市不动产权第0001234号", "140302001001GB00001F00010001", "110105491231002",
                     "申请人\x0b110105 19491231 002X", "阿卜来提•如则托合提"]),
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-3, 40_000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-10**8, max_value=10**8),
    st.dates(),
    st.datetimes(),
    st.datetimes(min_value=datetime(1950, 1, 1), max_value=datetime(2100, 1, 1), timezones=ZONES),
)


def _stored(value: Any) -> Any:
    """How the test writes a value into SQLite (the driver's own adapters for the rest)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return value


def rows_of(table: str) -> st.SearchStrategy[list[dict[str, Any]]]:
    columns = [c.name for c in _REFERENCE.tables[table].columns]
    keys = SOURCE_TABLES[table].key
    row = st.fixed_dictionaries({name: SOURCE_VALUES for name in columns if name not in keys})
    key = st.tuples(*[st.text(alphabet="ABCYQ0123456789-", min_size=1, max_size=8) for _ in keys])
    return st.lists(st.tuples(key, row), min_size=1, max_size=3, unique_by=lambda kr: kr[0]).map(
        lambda pairs: [{**dict(zip(keys, k, strict=True)), **r} for k, r in pairs])


def expected(table: str, name: str, raw: Any) -> tuple[Any, str]:
    """The contract's reading of one raw value: (staged value, status)."""
    kind = column_kinds(table)[name]
    if kind == "text":
        written = values.as_text(raw)
        if isinstance(raw, int) and not isinstance(raw, bool):
            assert written == str(raw), raw  # §5, not only the engine's word: 10023 reads '10023', never '10023.0'
        length = getattr(_REFERENCE.tables[table].c[name].type, "length", None)
        return (None, "invalid") if written is not None and length and len(written) > length else (written, "ok")
    if kind in ("timestamp", "date"):
        parsed, status = values.as_timestamp(raw, SHANGHAI)
        if parsed is not None:
            parsed = parsed.date() if kind == "date" else parsed.replace(microsecond=0)
        return parsed, status
    number, status = values.as_number(raw, integer=kind == "int", limit=None)
    return number, status


def _key_value(value: Any) -> Any:
    """An integer key reads as an integer (``SXH=0``, never ``0.0``)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


@pytest.mark.parametrize("table", sorted(SOURCE_TABLES))
def test_any_source_value_is_staged_as_written_or_quarantined_with_its_reason(table: str, _sqlite_template: Path):
    @settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(rows=rows_of(table))
    def check(rows: list[dict[str, Any]]) -> None:
        source = create_engine("sqlite://", poolclass=StaticPool)
        columns = list(rows[0])
        # A lax source: the reference's declared types, none of its constraints.
        declared = {c.name: c.type.compile(source.dialect) for c in _REFERENCE.tables[table].columns}
        with source.begin() as conn:
            conn.execute(text(f"CREATE TABLE {table} ({', '.join(f'{c} {declared[c]}' for c in columns)})"))
        insert = text(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})")
        with source.begin() as conn:
            conn.execute(insert, [{c: _stored(v) for c, v in row.items()} for row in rows])
            # Judge what the source holds: a column's affinity may already have changed the
            # value (SQLite stores the float 1e28 in a CHAR column as the text '1.0e+28').
            rows = [dict(r._mapping) for r in conn.execute(text(f"SELECT {', '.join(columns)} FROM {table}"))]
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "supervision.sqlite"
            shutil.copyfile(_sqlite_template, path)
            supervision = make_engine(f"sqlite:///{path}")
            result = load_table(source, supervision, table, run_id="p", full_scan=True, now=LOADED_AT, zone=SHANGHAI)
            staging = STAGING[table]
            with supervision.connect() as conn:
                staged = {tuple(str(getattr(r, k.lower())) for k in SOURCE_TABLES[table].key): r._mapping
                          for r in conn.execute(select(staging))}
                held = conn.execute(select(quarantine.c.row_key, quarantine.c.column_name, quarantine.c.reason)).all()
            supervision.dispose()
        assert result.rows_read == len(rows)
        for row in rows:
            outcomes = {name: expected(table, name, raw) for name, raw in row.items()}
            key_values = tuple(_key_value(outcomes[k][0]) for k in SOURCE_TABLES[table].key)
            key = tuple(str(v) for v in key_values)
            row_key = key_text(table, key_values)
            reasons = [h for h in held if h.row_key == row_key]
            must_hold = {n for n, (_, status) in outcomes.items() if status == "invalid"} | {
                n for n, (_, status) in outcomes.items()
                if status == "nulled" and not _REFERENCE.tables[table].c[n].nullable}
            if key in staged:
                assert not must_hold, f"staged despite invalid {must_hold}"
                for name, (value, _status) in outcomes.items():
                    if name.lower() in staged[key]:
                        got = staged[key][name.lower()]
                        assert got == value or (isinstance(value, float) and float(got) == value), (name, row[name])
            else:
                assert reasons, f"{row_key} neither staged nor quarantined"
                assert all(h.reason.startswith(f"{table} [{row_key}] column {h.column_name}:") for h in reasons)
                assert must_hold <= {h.column_name for h in reasons}
        # Rendering what was staged and held never raises.
        frame = pd.DataFrame([dict(m) for m in staged.values()] or [{"-": None}])
        openpyxl.load_workbook(io.BytesIO(workbook({table: frame})))
        for h in held:
            for target in ("html", "xlsx", "log"):
                clean(h.reason, target)  # type: ignore[arg-type]

    check()


# What a driver may hand over for one value, bytes included (columns read raw).
DRIVER_VALUES = st.one_of(
    SOURCE_VALUES,
    st.binary(max_size=12),
    st.sampled_from([b"2026-03-01 07:00:00", "晋(2026)".encode("gbk"), b"\xff\xfe", "2026-03-01 07:00:00\x00",
                     "2026-03-01T07:00:00.123456", "20260301T070000", "2026-03-01", "9999-12-31 23:59:59",
                     "1600-01-01 00:00:00"]),
)


@settings(max_examples=300, deadline=None)
@given(column=st.lists(DRIVER_VALUES, max_size=20), zone=ZONES,
       limit=st.sampled_from([None, Decimal(2**15), Decimal(2**31), Decimal(10) ** 8, Decimal("12.5")]),
       integer=st.booleans())
def test_column_functions_equal_the_per_value_functions(column: list[Any], zone: Any, limit: Any, integer: bool):
    """The column-wise forms a load calls (``texts``, ``timestamps``, ``numbers``) take an
    inline path for common driver types: their results equal the per-value functions'
    on any value, and a text that cannot be decoded raises the same error."""
    def same(column_wise: Any, per_value: Any) -> None:
        try:
            expected = per_value()
        except Exception as error:  # the same error from the column-wise form is the property
            with pytest.raises(type(error)):
                column_wise()
            return
        assert column_wise() == expected

    def per_value(converted: tuple[list[Any], dict[int, str]]) -> list[tuple[Any, str]]:
        """A column function's (values, statuses other than ok) as one (value, status) per value."""
        found, problems = converted
        assert set(problems.values()) <= {"nulled", "invalid"}
        return [(value, problems.get(position, "ok")) for position, value in enumerate(found)]

    same(lambda: values.texts(column, "gbk"), lambda: [values.as_text(v, "gbk") for v in column])
    same(lambda: per_value(values.timestamps(column, zone, encoding="utf-8")),
         lambda: [values.as_timestamp(v, zone, encoding="utf-8") for v in column])
    same(lambda: per_value(values.numbers(column, integer=integer, limit=limit)),
         lambda: [values.as_number(v, integer=integer, limit=limit) for v in column])


@settings(max_examples=200, deadline=None)
@given(table=st.sampled_from(sorted(SOURCE_TABLES)), data=st.data())
def test_key_texts_equal_key_text_per_key(table: str, data: st.DataObject):
    """The chunk-wise key formatting that matches good rows with open quarantine entries
    (a fast path for one-column keys) names every key as ``key_text`` does."""
    width = len(SOURCE_TABLES[table].key)
    key_value = st.one_of(st.none(), st.text(max_size=12), st.integers(), st.floats(allow_nan=False))
    keys = data.draw(st.lists(st.tuples(*[key_value] * width), max_size=20))
    assert key_texts(table, keys) == [key_text(table, key) for key in keys]


@pytest.mark.parametrize("table", sorted(SOURCE_TABLES))
def test_the_gate_in_two_passes_reports_what_one_complete_pass_reports(table: str):
    """``validate`` (pass/fail for every expectation, then detail only for those that
    failed) quarantines, flags and stops a table exactly as one COMPLETE run of the suite
    does, over chunks any source may hold and with a column missing."""
    validator = validator_for(table, SOURCE_TABLES[table].key)

    def outcome(run: Any, frame: pd.DataFrame) -> Any:
        try:
            return sorted(map(repr, run(frame)))
        except QualityGateError as error:
            return str(error)

    @settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(rows=rows_of(table), drop=st.booleans(), data=st.data())
    def check(rows: list[dict[str, Any]], drop: bool, data: st.DataObject) -> None:
        raw = {name: [row[name] for row in rows] for name in rows[0]}
        if drop:  # a table-level expectation fails too (the column set)
            raw.pop(data.draw(st.sampled_from(sorted(set(raw) - set(SOURCE_TABLES[table].key)))))
        frame = coerce(raw, table, SHANGHAI, "utf-8").frame
        two_passes = outcome(validator.validate, frame)
        assert two_passes == outcome(validator.validate_in_one_pass, frame)
        if drop:
            assert isinstance(two_passes, str) and "failed its quality gate" in two_passes

    check()


def test_the_open_ended_date_reads_as_null_and_other_far_years_stay_invalid():
    """``9999-12-31`` is how vendors write "not released yet" / "still on post" in a NOT
    NULL column: NULL (counted as a blank date is), where it was quarantined as invalid
    (a mortgage on a seizure so written went unreported). A typed year 3026 stays invalid."""
    from datetime import date, datetime
    from zoneinfo import ZoneInfo

    from bdcwatch.sources.values import as_timestamp, timestamps

    zone = ZoneInfo("Asia/Shanghai")
    for written in ("9999-12-31 23:59:59", "9999-12-31", date(9999, 12, 31), datetime(9999, 12, 31, 23, 59, 59),
                    datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), "9999-12-31T23:59:59+00:00"):  # UTC: 10000 here
        assert as_timestamp(written, zone) == (None, "nulled"), written
    assert timestamps(["9999-12-31 00:00:00", "3026-03-10 10:00:00", "2026-03-10 10:00:00"], zone) == (
        [None, None, datetime(2026, 3, 10, 10)], {0: "nulled", 1: "invalid"})
