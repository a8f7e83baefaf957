"""Sources → supervision_db staging, incrementally by GXSJ, in chunks, through the gate.

One call loads one source table:

1. find the table (or view) and its columns in the source whatever case the database
   folds names to (reflection), and read rows changed since the watermark and rows with
   no usable GXSJ (all rows on a full scan), streaming ``chunk_size`` rows at a time so
   memory stays flat;
2. coerce each chunk to the reference types, remembering values that do not parse;
3. run the table's GX suite (``validate``): failing rows go to ``quarantine`` with the
   table, row key, column and reason, and so do all rows of a key read twice with
   different values (a table without a primary key; an exact repeat is staged once and
   counted); the rest are upserted into ``stg_<table>`` with the derived columns the
   rules compare on (normalized certificate number, holder set, ...);
4. advance the watermark only once the whole table is loaded.

Personal data (holder and staff ID numbers) is never copied to staging or quarantine in
full: staging keeps only what the rules need, quarantine keeps a masked copy of the row.
"""

from __future__ import annotations

import gc
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta, tzinfo
from typing import Any

import pandas as pd
from sqlalchemy import (
    Connection,
    Engine,
    LargeBinary,
    String,
    and_,
    bindparam,
    cast,
    column,
    delete,
    func,
    inspect,
    literal,
    or_,
    select,
    table,
    text,
    update,
)
from sqlalchemy.sql.expression import ColumnClause

from bdcwatch.errors import QualityGateError, SourceSchemaError
from bdcwatch.sources import values as values_module
from bdcwatch.sources.coerce import coerce, column_kinds, column_types
from bdcwatch.sources.connections import CHARSET_OPTION
from bdcwatch.sources.gate import CertificateCheck, RowProblem, gate_settings, validator_for
from bdcwatch.sources.quarantine import hold, release_fixed
from bdcwatch.sources.reasons import FITS_REFERENCE, KEY_UNIQUE, words
from bdcwatch.sources.schema import SOURCE_TABLES
from bdcwatch.sources.suites import INVALID_SUFFIX
from bdcwatch.sources.values import python_codec
from bdcwatch.standards import identifiers, masking, normalise
from bdcwatch.store.dialect import upsert, upsert_columns
from bdcwatch.store.locks import load_lock
from bdcwatch.store.models import STAGING, Timestamp, load_log, quarantine, watermark

log = logging.getLogger(__name__)

# Re-read this much before the watermark, whatever GXSJ's type: a source transaction that
# commits hours late carries a GXSJ older than rows already read; a second application
# server writes naive UTC (8 h behind local), or runs its clock behind; a GXSJ held as
# text is compared as text, and an offset (-12:00 to +14:00) moves a local instant up to
# a day from the digits written. One hour lost all of these on typed columns (an
# incremental-load adversary: a missed ECERT_MISMATCH on PostgreSQL and MariaDB that SQLite
# caught). Upserts make the overlap harmless; a daily load reads about two days' changes.
WATERMARK_OVERLAP = timedelta(days=1)
# A GXSJ before this is no change time (zero dates, blanks as text, a mistyped century):
# incremental loads read such rows every time, so the gate keeps them held and counted.
UNDATED_BEFORE = datetime(1900, 1, 1)
DEFAULT_CHUNK_SIZE = 50_000



@dataclass(frozen=True)
class LoadResult:
    table: str
    load_id: str
    full_scan: bool
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    rows_deleted: int
    watermark: str | None
    rows_flagged: int = 0  # kept rows with a defect a rule reports (suite level "finding")
    values_nulled: int = 0  # blank or zero dates read as NULL in nullable columns (§5)
    rows_repeated: int = 0  # exact repeats of a row read earlier in the load: staged once

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SourceTable:
    """A source table as reflected once per load: its real name, reference→real column
    names, and the reference columns the source declares as text (VARCHAR, CHAR, TEXT,
    CLOB: a vendor's GXSJ written as ``2026-03-10T03:30:00+00:00`` is compared as text)."""

    real: str
    columns: dict[str, str]
    text_columns: frozenset[str]


def _folded(name: str) -> str:
    """A table or column name compared as the register's: letter case, and the BOM or blanks
    a CSV import into SQLite or Access leaves around it, ignored."""
    return name.strip().lstrip("\ufeff").strip().upper()


def resolve_source_table(engine: Engine, table_name: str) -> SourceTable:
    """Find the real table (or view: vendors often grant the supervision account views
    only) and reference→real column names, ignoring case folding.

    Raises:
        SourceSchemaError: no such table or view, or two whose names differ only in letter
            case (``BDC_ZS`` beside a stale ``bdc_zs``): which one is the register cannot
            be told, and reading the wrong one would drop the other's rows from staging.
    """
    inspector = inspect(engine)
    where = engine.url.render_as_string(hide_password=True)
    candidates: dict[str, list[str]] = {}
    relations = [*inspector.get_table_names(), *inspector.get_view_names()]
    if engine.dialect.name == "postgresql":  # a materialized view or a foreign table (postgres_fdw) is read alike
        relations += [*inspector.get_materialized_view_names(), *inspector.get_foreign_table_names()]  # type: ignore[attr-defined]
    for name in relations:
        candidates.setdefault(_folded(name), []).append(name)
    found = candidates.get(table_name.upper(), [])
    if len(found) > 1:
        names = "、".join(sorted(found))
        raise SourceSchemaError(
            f"source {where} has {len(found)} tables or views named {table_name} in different letter case "
            f"({', '.join(sorted(found))}): which one is the register cannot be told; drop or rename the others",
            zh=f"源库 {where} 中有 {len(found)} 个仅大小写不同的 {table_name} 表或视图（{names}），无法判断哪一个是"
               f"登记簿：请删除或改名其余的表")
    real = found[0] if found else None
    if real is None:
        raise SourceSchemaError(f"source table {table_name} does not exist in {where}",
                                zh=f"源库 {where} 中没有源表 {table_name}（连接指向的库不对，或表名不同）")
    # A name as a CSV import into SQLite or Access leaves it (a BOM, a trailing space) is
    # still that column: "missing ZSID" beside a visible "\ufeffZSID" would mislead.
    reflected: dict[str, Any] = {}
    for reflected_column in inspector.get_columns(real):
        folded = _folded(reflected_column["name"])
        if folded in reflected and folded in column_kinds(table_name):
            both = f"{reflected[folded]['name']}、{reflected_column['name']}"
            raise SourceSchemaError(
                f"source table {real} in {where} has two columns named {folded} in different letter case ({both}): "
                f"which one holds the data cannot be told; drop or rename the stale one",
                zh=f"源库 {where} 的表 {real} 中有两个仅大小写不同的 {folded} 字段（{both}），无法判断哪一个是现用字段："
                   f"请删除或改名过时的字段")
        reflected[folded] = reflected_column
    wanted = [ref for ref in column_kinds(table_name) if ref in reflected]
    if not wanted:
        expected = "、".join(column_kinds(table_name))
        raise SourceSchemaError(
            f"source table {real} in {where} has none of the columns of {table_name} ({expected}): another table "
            f"under that name, or a view granting no columns",
            zh=f"源库 {where} 的表 {real} 中没有 {table_name} 的任何字段（应有 {expected}）：同名的另一张表，"
               f"或视图未授予字段")
    return SourceTable(real, {ref: reflected[ref]["name"] for ref in wanted},
                       frozenset(ref for ref in wanted if isinstance(reflected[ref]["type"], String)))


def _raw_text_columns(conn: Connection, source: SourceTable, text_charset: str | None) -> set[str]:
    """Text columns the server cannot convert, read raw and decoded here (with the
    ``charset`` extra, else UTF-8; a value that does not decode stops the load naming
    table, column and row, §5):

    * MySQL columns declared ``latin1``/``binary``/``ascii`` while the ``charset`` extra says
      the text is written in another character set (a legacy system's GBK bytes in a
      latin1 table);
    * every text column of a PostgreSQL database created ``SQL_ASCII``: it stores whatever
      bytes a client wrote (GBK, UTF-8) and converts nothing, so the driver's decoding
      failed mid-read naming nothing."""
    real_table, columns = source.real, source.columns
    if conn.dialect.name == "postgresql":
        encoding = conn.execute(text("SELECT current_setting('server_encoding')")).scalar()
        return set(source.text_columns) if str(encoding).upper() == "SQL_ASCII" else set()
    if conn.dialect.name != "mysql" or not text_charset or python_codec(text_charset) == python_codec("latin1"):
        return set()
    declared = conn.execute(
        text("SELECT COLUMN_NAME, CHARACTER_SET_NAME FROM information_schema.COLUMNS "
             "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t"), {"t": real_table}
    ).all()
    raw_sets = {"latin1", "binary", "ascii"}
    real_to_ref = {real.upper(): ref for ref, real in columns.items()}
    return {real_to_ref[str(name).upper()] for name, charset in declared
            if charset and str(charset).lower() in raw_sets and str(name).upper() in real_to_ref}


def _raw(conn: Connection, value: ColumnClause[Any]) -> Any:
    """A text column's bytes as stored: PostgreSQL's ``convert_to(…, 'SQL_ASCII')`` (a cast
    to bytea would parse backslashes as escapes), MySQL's ``CAST(… AS BINARY)``."""
    if conn.dialect.name == "postgresql":
        return func.convert_to(value, literal("SQL_ASCII"), type_=LargeBinary)
    return cast(value, LargeBinary)


def _stream(
    engine: Engine, table_name: str, since: datetime | None, chunk_size: int
) -> Iterator[dict[str, list[Any]]]:
    source = resolve_source_table(engine, table_name)
    real_table, columns = source.real, source.columns
    text_charset = engine.get_execution_options().get(CHARSET_OPTION)
    with engine.connect().execution_options(stream_results=True, yield_per=chunk_size) as conn:
        raw_columns = _raw_text_columns(conn, source, text_charset)
        # Select without types: the raw driver values, so a malformed timestamp in a lax
        # database reaches the gate as text instead of crashing the read.
        selected = [
            (_raw(conn, column(real)) if ref in raw_columns else column(real)).label(ref)
            for ref, real in columns.items()
        ]
        query = select(*selected).select_from(table(real_table))
        if since is not None and "GXSJ" in columns:
            gxsj: ColumnClause[Any] = column(columns["GXSJ"])
            if conn.dialect.name == "sqlite" or "GXSJ" in source.text_columns:
                # Text (a VARCHAR GXSJ, or SQLite's), compared as text: an offset (+00:00, Z)
                # may put a later instant on an earlier local day, and PostgreSQL has no
                # varchar >= timestamp. ``since`` is already a day back (WATERMARK_OVERLAP),
                # so no offset hides a change.
                changed = gxsj >= bindparam("since", f"{since:%Y-%m-%d %H:%M:%S}", type_=String)
                # The full text, not '1900': SQLite would read a numeric-looking text as the number
                # 1900 under the column's DATETIME (numeric) affinity, and every text is above a number.
                undated = gxsj < bindparam("undated", f"{UNDATED_BEFORE:%Y-%m-%d %H:%M:%S}", type_=String)
            else:
                changed = gxsj >= bindparam("since", since, type_=Timestamp)
                undated = gxsj < bindparam("undated", UNDATED_BEFORE, type_=Timestamp)
            # A row without a usable GXSJ (NULL, blank, MySQL's zero date, a typo far in the
            # past) is never "changed since": read it every time, so the gate holds and counts
            # it instead of it staying unseen until a full scan. Costs as many rows as are bad.
            query = query.where(or_(changed, gxsj.is_(None), undated))
        result = conn.execute(query)
        names = list(result.keys())
        while rows := result.fetchmany(chunk_size):
            # Column lists of the values exactly as the driver gave them (never a pandas
            # inference, which would turn an INTEGER column with a NULL into '10023.0', §5).
            lists = [list(values) for values in zip(*rows, strict=True)]
            del rows  # the driver's rows go now, not when the next chunk is read (_collected_per_chunk)
            yield dict(zip(names, lists, strict=True))


# Derived staging columns, computed column-wise on one chunk: staging column name (lower
# case) -> values, changed in place. Personal columns the rules do not need are dropped.
Columns = dict[str, list[Any]]


def _derive_certificate(columns: Columns) -> None:
    columns["bdcqzh_norm"] = [normalise.normalize_certificate_number(v) for v in columns["bdcqzh"]]
    columns["holders_norm"] = [normalise.normalize_holders(v) for v in columns["qlrmc"]]
    columns.pop("qlrzjh", None)


def _derive_ecert(columns: Columns) -> None:
    columns["bdcqzh_norm"] = [normalise.normalize_certificate_number(v) for v in columns["bdcqzh"]]
    columns["holders_norm"] = [normalise.normalize_holders(v) for v in columns["czzt"]]
    columns["zzbs_problem"] = [identifiers.ecert_identifier_problem(zzbs, zzlxdm)
                               for zzbs, zzlxdm in zip(columns["zzbs"], columns["zzlxdm"], strict=True)]
    columns.pop("czztdm", None)


def _derive_staff(columns: Columns) -> None:
    size = len(next(iter(columns.values())))
    numbers = columns.pop("zjh", None) or [None] * size
    columns["zjh_masked"] = [masking.mask(v) if v else None for v in numbers]
    columns["zjh_valid"] = [1 if identifiers.is_valid_id_number(v) else 0 for v in numbers]


def _as_is(columns: Columns) -> None:
    return None


DERIVE: dict[str, Callable[[Columns], None]] = {
    "BDC_ZS": _derive_certificate,
    "BDC_DZZZ_ZZXX": _derive_ecert,
    "RY_JBXX": _derive_staff,
}


def _unreported_invalid(table_name: str, frame: pd.DataFrame, keys: list[tuple[Any, ...]], problems: list[RowProblem]) -> list[RowProblem]:
    """Values coercion could not take (``<COLUMN>__invalid``) that no expectation of the
    suite reported (a text longer than its reference column, a suite replaced through
    BDCWATCH_EXPECTATIONS without the check): quarantined all the same, never staged."""
    reported = {(p.key, p.column) for p in problems}
    found: list[RowProblem] = []
    for name in frame.columns:
        if not name.endswith(INVALID_SUFFIX):
            continue
        column_name = name.removesuffix(INVALID_SUFFIX)
        for key, value in zip(keys, frame[name].tolist(), strict=True):
            if value is not None and (key, column_name) not in reported:
                found.append(RowProblem(key, column_name, FITS_REFERENCE,
                                        f"{column_name} does not fit its reference column "
                                        f"({column_types(table_name)[column_name]})"))
    return found


def _key(key: tuple[Any, ...]) -> tuple[Any, ...]:
    """A row key as staging and the quarantine name it: an integer key column reads ``0``,
    never ``0.0`` (§5), and a key that did not parse is ``None`` (NaN never equals itself,
    so it could not be matched with the gate's report)."""
    return tuple(
        None if values_module.is_missing(v) else int(v) if isinstance(v, float) and v.is_integer() else v
        for v in key
    )


@contextmanager
def _collected_per_chunk() -> Iterator[Callable[[], None]]:
    """Pause Python's cyclic garbage collector for a load and give the caller one
    collection to run per chunk.

    A chunk allocates about a million objects the collector tracks (the driver's row
    tuples, column lists, key tuples, GX's graphs); reference counting frees them when the
    chunk is done, but meanwhile the collector's automatic passes walk them again and again
    (over a thousand passes per 100,000 rows, a quarter of a certificate load's time, issue
    13 item 4). One young-generation pass per chunk still frees whatever cycles a chunk
    leaves, so memory stays bounded by a chunk as before. The collector is re-enabled (if it
    was) when the load ends or fails.
    """
    def collect() -> None:
        gc.collect(1)

    enabled = gc.isenabled()
    gc.disable()
    try:
        yield collect
    finally:
        if enabled:
            gc.enable()


def _read_watermark(conn: Connection, table_name: str) -> datetime | None:
    return conn.execute(select(watermark.c.gxsj).where(watermark.c.source_table == table_name)).scalar()


@dataclass
class _Chunks:
    """What one load does to each chunk it reads (steps 2 and 3 of the module docstring),
    and its counts so far. A method of its own so that a chunk's values are freed when it
    returns, before the collector's pass between chunks (``_collected_per_chunk``)."""

    table_name: str
    target: Engine
    zone: tzinfo
    encoding: str
    load_id: str
    started: datetime
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_deleted: int = 0
    rows_flagged: int = 0
    values_nulled: int = 0
    rows_repeated: int = 0
    newest: datetime | None = None
    # Every usable key read so far in this load -> a fingerprint of its first row, and the
    # keys read more than once with different values (``_repeats``).
    seen: dict[tuple[Any, ...], int] = field(default_factory=dict)
    clashing: set[tuple[Any, ...]] = field(default_factory=set)
    # (column, expectation) -> rows held for it: what the gate's stop names as the likely cause.
    failing: Counter[tuple[str, str]] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.staging = STAGING[self.table_name]
        self.key_columns = SOURCE_TABLES[self.table_name].key
        self.staging_columns = {c.name for c in self.staging.columns}
        self.derive = DERIVE.get(self.table_name, _as_is)
        self.validator = validator_for(self.table_name, self.key_columns)
        self.certificates = CertificateCheck(self.table_name)

    def load(self, raw: dict[str, list[Any]]) -> None:
        """Coerce, validate, derive and stage one chunk; quarantine its bad rows."""
        table_name, key_columns, load_id, started = self.table_name, self.key_columns, self.load_id, self.started
        coerced = coerce(raw, table_name, self.zone, self.encoding)
        frame, values = coerced.frame, coerced.values
        self.values_nulled += coerced.nulled
        problems = [replace(p, key=_key(p.key)) for p in self.validator.validate(frame)]  # a missing column stops here
        columns = {name.lower(): column for name, column in values.items()}
        self.derive(columns)  # over the whole chunk: the certificate check reads the normalised numbers
        certificates = self.certificates
        if certificates.column in values:  # a table whose certificate numbers are mostly garbled stops here
            certificates.check(values[certificates.column], columns.get("bdcqzh_norm"))
        flagged = [p for p in problems if p.level == "finding"]
        problems = [p for p in problems if p.level != "finding"]
        self.rows_flagged += len({p.key for p in flagged})
        self.rows_read += len(frame)
        chunk_newest = max((v for v in values.get("GXSJ", ()) if v is not None), default=None)
        if chunk_newest is not None and (self.newest is None or chunk_newest > self.newest):
            self.newest = chunk_newest

        # Key columns hold Python values already (an integer key is an int), as _key makes them.
        keys = list(zip(*(values[k] for k in key_columns), strict=True))
        problems += _unreported_invalid(table_name, frame, keys, problems)
        repeats, clashes, clashed_earlier = self._repeats(keys, raw)
        problems += clashes
        bad_keys = {p.key for p in problems}
        # An exact repeat of a row the gate holds is held again, not skipped: its problem is
        # reported under its key, and the quarantine entry needs the row it names.
        repeats = {p for p in repeats if keys[p] not in bad_keys}
        bad_positions = [i for i, key in enumerate(keys) if key in bad_keys and i not in repeats] if bad_keys else []
        staged = {name: column for name, column in columns.items() if name in self.staging_columns}
        if bad_positions or repeats:
            good = [i for i, key in enumerate(keys) if key not in bad_keys and i not in repeats]
            staged = {name: [column[i] for i in good] for name, column in staged.items()}
        staged["_load_id"] = [load_id] * (len(keys) - len(bad_positions) - len(repeats))
        self.rows_repeated += len(repeats)

        with self.target.begin() as conn:
            self.rows_loaded += upsert_columns(conn, self.staging, staged, [k.lower() for k in key_columns])
            if problems:
                # A key that turned out to be read twice with different values: its first
                # row, staged from an earlier chunk of this load, is held back now too.
                moved = _delete_keys(conn, self.staging, key_columns, clashed_earlier, load_id=load_id)
                self.rows_loaded -= moved
                self.rows_quarantined += moved + len(bad_positions)  # rows: several may share an unusable key
                self.failing.update(_per_cause(problems))
                bad_raw = [{name: column[i] for name, column in raw.items()} for i in bad_positions]
                hold(conn, table_name, problems, bad_raw, [keys[i] for i in bad_positions], load_id, started,
                     self.encoding)
                self.rows_deleted += _delete_keys(conn, self.staging, key_columns, bad_keys)
            release_fixed(conn, table_name, [k for k in keys if k not in bad_keys], started)

    def _repeats(self, keys: list[tuple[Any, ...]], raw: dict[str, list[Any]]
                 ) -> tuple[set[int], list[RowProblem], set[tuple[Any, ...]]]:
        """Keys this load has read before: a source table without a primary key (a vendor's
        view, a copy made without constraints, a replication that applied a change twice).

        Returns (positions of rows that repeat the key's first row exactly: staged once and
        counted in ``rows_repeated``; a problem on the key column for every key read with
        different values, held back whole since the register cannot say which row is the
        case (§5: never one row silently winning); the clashing keys whose first row came in
        an earlier chunk, which ``load`` takes back out of staging). Rows whose key is
        unusable are the gate's already. Memory: one entry per key read, ~100 bytes.
        """
        seen, clashing = self.seen, self.clashing
        repeats: set[int] = set()
        clashes: dict[tuple[Any, ...], RowProblem] = {}
        clashed_earlier: set[tuple[Any, ...]] = set()
        in_chunk: set[tuple[Any, ...]] = set()
        for position, (key, fingerprint) in enumerate(zip(keys, _fingerprints(raw), strict=True)):
            if None in key:
                continue
            first = seen.get(key)
            if first is None:
                seen[key] = fingerprint
                in_chunk.add(key)
                continue
            if key not in clashing and first == fingerprint:
                repeats.add(position)
                continue
            if key not in clashing:
                clashing.add(key)
                if key not in in_chunk:
                    clashed_earlier.add(key)
            if key not in clashes:
                clashes[key] = RowProblem(
                    key, self.key_columns[0], KEY_UNIQUE,
                    "the key of more than one row of the source, with different values "
                    "(a table or view without a primary key?): which row is the register cannot be told, "
                    "so the key is held until the source keeps one row")
        # Every row of a clashing key in this chunk is held, the first one too.
        return {p for p in repeats if keys[p] not in clashing}, list(clashes.values()), clashed_earlier


def _fingerprints(raw: dict[str, list[Any]]) -> Iterator[int]:
    """A hash of each row's values as the driver gave them (a value Python cannot hash,
    such as PostgreSQL's ``memoryview`` for bytea, by its text)."""
    for row in zip(*raw.values(), strict=True):
        try:
            yield hash(row)
        except TypeError:
            yield hash(repr(row))


def load_table(
    source: Engine,
    target: Engine,
    table_name: str,
    *,
    run_id: str | None = None,
    full_scan: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    now: datetime,
    zone: tzinfo | None = None,
) -> LoadResult:
    """Load one source table into staging. See the module docstring for the steps.
    ``now`` is the local wall clock (policy zone) stamped on load_log and quarantine rows;
    ``zone`` (default: the policy's) is the zone zone-aware timestamps are converted to.

    One load of a table at a time (``store.locks.load_lock``): a second waits for the first.

    Raises:
        SourceSchemaError: the table or a required column is missing in the source.
        QualityGateError: a table-level expectation failed, or too many rows are bad (the
            good rows are staged and the bad held, but the watermark stays: a rerun reads
            them again and stops again until the source is fixed).
        LoadLockTimeoutError: another load of the table held its lock too long (retryable).
    """
    load_id = uuid.uuid4().hex
    started = now
    clock = time.perf_counter()
    if zone is None:
        from bdcwatch.config.policy import cached_policy

        zone = cached_policy().timezone
    chunks = _Chunks(table_name, target, zone, python_codec(source.get_execution_options().get(CHARSET_OPTION)),
                     load_id, started)

    with load_lock(target, table_name):
        return _load_locked(source, target, table_name, chunks, run_id=run_id, full_scan=full_scan,
                            chunk_size=chunk_size, clock=clock)


def _load_locked(source: Engine, target: Engine, table_name: str, chunks: _Chunks, *, run_id: str | None,
                 full_scan: bool, chunk_size: int, clock: float) -> LoadResult:
    """``load_table`` once it holds the table's load lock."""
    staging, load_id, started = STAGING[table_name], chunks.load_id, chunks.started
    with target.connect() as conn:
        since = None if full_scan else _read_watermark(conn, table_name)
    if since is not None:
        since -= WATERMARK_OVERLAP
    with _collected_per_chunk() as collect:
        for raw in _stream(source, table_name, since, chunk_size):
            chunks.load(raw)
            del raw  # the chunk's values go before the collector's pass
            collect()
    # Judged before anything is committed: a table stopped by the gate keeps its watermark
    # (a rerun reads the same rows and stops again until the source is fixed; it passed
    # before, reading only the few rows changed since) and a full scan deletes nothing.
    gate_failure = _bad_fraction_error(table_name, chunks.rows_read, chunks.rows_quarantined, chunks.failing)
    newest = chunks.newest
    if newest is not None and newest > started:
        # A GXSJ after the load's own clock is a typo (2226 for 2026): as the watermark it
        # would hide every later change from incremental loads. Keep the watermark at now.
        log.warning("%s: GXSJ %s is after the load's clock %s; watermark kept at %s",
                    table_name, newest, started, started)
        newest = started

    if full_scan and gate_failure is None:
        gate_failure = _vanished_error(target, table_name, staging, load_id, chunks.rows_read)
    with target.begin() as conn:
        if full_scan and gate_failure is None:
            # Rows the source no longer has (or that are bad now) leave staging, and a
            # quarantined row the source no longer has is no longer an open problem.
            chunks.rows_deleted += conn.execute(delete(staging).where(staging.c._load_id != load_id)).rowcount or 0
            conn.execute(
                update(quarantine)
                .where(quarantine.c.source_table == table_name)
                .where(quarantine.c.last_load_id != load_id)
                .where(quarantine.c.resolved_at.is_(None))
                .values(resolved_at=started)
            )
        if newest is not None and gate_failure is None:
            upsert(conn, watermark, [{"source_table": table_name, "gxsj": newest, "updated_at": started}], ["source_table"])
        conn.execute(
            load_log.insert().values(
                load_id=load_id, run_id=run_id, source_table=table_name, full_scan=int(full_scan),
                rows_read=chunks.rows_read, rows_loaded=chunks.rows_loaded, rows_quarantined=chunks.rows_quarantined,
                rows_deleted=chunks.rows_deleted, values_nulled=chunks.values_nulled,
                rows_repeated=chunks.rows_repeated, started_at=started,
                finished_at=started + timedelta(seconds=time.perf_counter() - clock),
            )
        )
    result = LoadResult(
        table_name, load_id, full_scan, chunks.rows_read, chunks.rows_loaded, chunks.rows_quarantined,
        chunks.rows_deleted, newest.isoformat(sep=" ") if newest else None, chunks.rows_flagged, chunks.values_nulled,
        chunks.rows_repeated,
    )
    log.info("loaded %s: %s", table_name, result)
    if result.rows_flagged:
        # Kept on purpose (meta.level "finding"): the rules report these rows to their unit.
        log.warning("%s: %d rows kept with defects that a rule reports (see the suite's 'finding' "
                    "expectations)", table_name, result.rows_flagged)
    if result.rows_repeated:
        log.warning("%s: %d rows repeat an earlier row of the source exactly (same key, same values; a table "
                    "without a primary key?): each key staged once", table_name, result.rows_repeated)
    if gate_failure is not None:
        raise gate_failure
    return result


def _vanished_error(target: Engine, table_name: str, staging: Any, load_id: str,
                    rows_read: int) -> QualityGateError | None:
    """The stop of a full read after which staging would lose most of what it holds: none
    of its rows read at all, or more than half of at least the gate's ``min_rows``. A
    registration system does not purge its history; an empty replica, a view that now
    filters everything or a connection to the wrong schema does, and deleting would turn
    every certificate into ECERT_MISSING mailed to the heads. Nothing is deleted; None
    when the read is plausible."""
    with target.connect() as conn:
        held = int(conn.execute(select(func.count()).select_from(staging)).scalar_one())
        gone = int(conn.execute(select(func.count()).select_from(staging)
                                .where(staging.c._load_id != load_id)).scalar_one())
    min_rows = int(gate_settings(table_name)["min_rows"])
    if not gone or not ((rows_read == 0 and held) or (held >= min_rows and gone * 2 > held)):
        return None
    return QualityGateError(
        f"source table {table_name}: a full read found {rows_read} rows; {gone} of the {held} rows staged from it "
        f"would be deleted as gone from the source. Nothing was deleted: check that the connection reads the right "
        f"database and schema and that the table or view is complete (a replica being rebuilt?); if the source "
        f"really dropped them, delete them from {staging.name} by hand",
        zh=f"源表 {table_name} 全量读取仅得 {rows_read} 行，暂存的 {held} 行中有 {gone} 行将被视为已从源系统删除。"
           f"为防误判，本次未删除任何数据、未更新水位：请核实连接所指的数据库和模式、该表或视图是否完整"
           f"（副本是否正在重建）；如源系统确已删除这些数据，请手工从 {staging.name} 中删除",
    )


ALL_BAD_MIN_ROWS = 10  # a load where every row is bad stops from this many rows, below the gate's min_rows


def _per_cause(problems: list[RowProblem]) -> Counter[tuple[str, str]]:
    """Rows held per (column, expectation) in one chunk (a row counted once per cause)."""
    return Counter((column, expectation) for _, column, expectation in {(p.key, p.column, p.expectation)
                                                                          for p in problems})


def _bad_fraction_error(table_name: str, rows_read: int, rows_quarantined: int,
                        failing: Counter[tuple[str, str]] | None = None) -> QualityGateError | None:
    """The gate's stop when more rows are bad than the table's ``max_bad_fraction`` allows
    (from ``min_rows`` rows read), or when every row read is bad (from ``ALL_BAD_MIN_ROWS``:
    a daily read of a few dozen rows all in a new date format or character set); else
    None. The message names the column and check most rows failed: the likely cause."""
    gate = gate_settings(table_name)
    share = float(gate["max_bad_fraction"])
    over = rows_read >= int(gate["min_rows"]) and rows_quarantined > share * rows_read
    every = rows_read >= ALL_BAD_MIN_ROWS and rows_quarantined >= rows_read
    if not (over or every):
        return None
    top = (failing or Counter()).most_common(1)
    cause = f"; most of them on column {top[0][0][0]} ({top[0][0][1]}, {top[0][1]} rows)" if top else ""
    cause_zh = (f"；其中最多的是字段 {top[0][0][0]}（{words(table_name, *top[0][0])}，{top[0][1]} 行）"
                if top else "")
    return QualityGateError(
        f"source table {table_name}: {rows_quarantined} of {rows_read} rows failed row-level expectations, "
        f"more than the gate allows ({share:.0%}){cause}; see table quarantine for each row and reason",
        zh=f"源表 {table_name} 读取 {rows_read} 行，其中 {rows_quarantined} 行未通过行级检查，超过质量闸门允许的 "
           f"{share:.0%}{cause_zh}：这些行已隔离（每行的原因见“隔离数据”页），本次运行停止，"
           f"请核实源系统的数据（日期格式、字符集）后重新运行",
    )


def _delete_keys(conn: Connection, staging: Any, key_columns: tuple[str, ...], keys: set[tuple[Any, ...]],
                 *, load_id: str | None = None) -> int:
    """Delete the staging rows of ``keys`` (only those this load staged when ``load_id``
    is given); returns how many went."""
    if not keys:
        return 0
    condition = and_(*[staging.c[k.lower()] == bindparam(f"k_{k.lower()}") for k in key_columns])
    if load_id is not None:
        condition = and_(condition, staging.c._load_id == load_id)
    params = [{f"k_{k.lower()}": v for k, v in zip(key_columns, key, strict=True)} for key in keys]
    return conn.execute(delete(staging).where(condition), params).rowcount or 0


