"""The quality gate: Great Expectations suites (expectations/*.json) run on each chunk.

Each expectation in a suite carries ``meta.level``:

* ``row``   - a failing row is quarantined with a reason naming table, row key and column;
  the other rows go on to the rules.
* ``finding`` - a failing row is kept and counted, not quarantined, because a rule of
  CONTRACT §3 judges exactly that defect and reports it to the unit (a staff record whose
  ID number fails GB 11643 is STAFF_RECORD_INCOMPLETE, not unreadable input).
* ``table`` - a failure means the table as a whole cannot be trusted (a column is missing,
  too many rows are broken): the run stops with one error naming the table and the
  failed expectations.

Beside the level, ``meta.why`` words the failure in English (errors and logs) and
``meta.why_zh`` in Chinese (what operations read about the rows held: ``reasons``);
``suites`` finds and reads the suites.

GX is imported lazily: it is heavy, and DAG files must parse fast.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pandas as pd

from bdcwatch.errors import QualityGateError
from bdcwatch.sources.suites import INVALID_SUFFIX, load_suite_json
from bdcwatch.standards.masking import mask_id_numbers
from bdcwatch.standards.normalise import normalize_certificate_number

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RowProblem:
    """One row failing one row-level expectation."""

    key: tuple[Any, ...]
    column: str
    expectation: str
    description: str
    level: str = "row"  # "row": quarantine the row; "finding": keep it, a rule reports it


def gate_settings(table: str) -> dict[str, Any]:
    """Suite-level gate settings (max share of quarantined rows before the run stops)."""
    settings: dict[str, Any] = load_suite_json(table).get("meta", {}).get("gate", {"max_bad_fraction": 0.1,
                                                                                   "min_rows": 50})
    return settings


class TableValidator:
    """Runs one table's suite on DataFrame chunks through an ephemeral GX context."""

    def __init__(self, table: str, key_columns: tuple[str, ...]) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        from bdcwatch.sources import custom_expectations  # noqa: F401  (registers the custom expectations)

        self.table = table
        self.key_columns = key_columns
        raw = load_suite_json(table)
        self._suite = gx_suite(raw["name"], raw["expectations"])
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        asset = context.data_sources.add_pandas(f"src_{table.lower()}").add_dataframe_asset(table.lower())
        self._batch_definition = asset.add_batch_definition_whole_dataframe("chunk")

    def validate(self, frame: pd.DataFrame) -> list[RowProblem]:
        """Validate one chunk. Returns row problems; raises QualityGateError on table ones.

        Two passes over the chunk: every expectation in GX's ``BOOLEAN_ONLY`` result format
        (pass or fail, no lists of values or row indexes to build), then only those that
        failed in ``COMPLETE`` with the key columns named, for the rows to quarantine and the
        observed value a table-level failure reports. Most chunks pass most expectations, so
        the second pass is small; its results are those one ``COMPLETE`` run of the whole
        suite gives for the same expectations (``validate_in_one_pass``, held equal in tests).
        """
        from great_expectations.validator.v1_validator import Validator

        # The validator GX's own ValidationDefinition.run builds, without storing each chunk's
        # result in the context: the batch is built once for both passes. (``Batch.validate``
        # would build it again for each.)
        validator = Validator(
            batch_definition=self._batch_definition,
            batch_parameters={"dataframe": frame},
            result_format={"result_format": "BOOLEAN_ONLY"},
        )
        with _unfingerprinted_batches():
            first = validator.validate_expectation_suite(self._suite).results
            failed = [outcome for outcome in first if not outcome.success]
            configs = [outcome.expectation_config for outcome in failed if outcome.expectation_config is not None]
            if not configs:
                return self._problems(failed)
            validator.result_format = self._detail
            detailed = validator.validate_expectation_suite(
                gx_suite(self._suite.name, [config.to_domain_obj() for config in configs])
            ).results
        return self._problems([outcome for outcome in failed if outcome.expectation_config is None] + detailed)

    def validate_in_one_pass(self, frame: pd.DataFrame) -> list[RowProblem]:
        """``validate`` in one ``COMPLETE`` run of the whole suite: the reference the two
        passes of ``validate`` are held equal to (tests), and slower on clean chunks."""
        from great_expectations.validator.v1_validator import Validator

        validator = Validator(batch_definition=self._batch_definition, batch_parameters={"dataframe": frame},
                              result_format=self._detail)
        with _unfingerprinted_batches():
            return self._problems(validator.validate_expectation_suite(self._suite).results)

    @property
    def _detail(self) -> dict[str, Any]:
        return {
            "result_format": "COMPLETE",
            "unexpected_index_column_names": list(self.key_columns),
            "return_unexpected_index_query": False,
        }

    def _problems(self, results: Sequence[Any]) -> list[RowProblem]:
        """Row problems from GX's results (``ExpectationValidationResult``, COMPLETE for
        every failed one); raises QualityGateError naming the table-level failures."""
        problems: list[RowProblem] = []
        table_failures: list[str] = []
        table_failures_zh: list[str] = []
        for outcome in results:
            if outcome.success:
                continue
            config = outcome.expectation_config
            if config is None:  # GX reports a result without its expectation only on internal errors
                table_failures.append(f"an expectation failed without its configuration: {outcome}")
                table_failures_zh.append("一项检查出错且未给出是哪一项（GX 内部错误，见日志）")
                continue
            meta = config.meta or {}
            why = meta.get("why") or config.type
            column = str(config.kwargs.get("column", "")).removesuffix(INVALID_SUFFIX)
            if outcome.exception_info and outcome.exception_info.get("raised_exception"):
                table_failures.append(
                    f"{config.type}({column or '-'}) raised {outcome.exception_info.get('exception_message')}"
                )
                table_failures_zh.append(f"检查 {config.type}（{column or '整表'}）执行出错（见日志）")
                continue
            if meta.get("level") == "table":
                observed = outcome.result.get("observed_value")
                details = f" (observed: {observed})" if observed is not None else ""
                details_zh = f"（实际：{observed}）" if observed is not None else ""
                expected_columns = config.kwargs.get("column_set")
                if expected_columns and isinstance(observed, list):
                    missing = sorted(set(expected_columns) - set(observed))
                    details = f" (missing columns: {', '.join(missing)})"
                    details_zh = f"：缺少 {'、'.join(missing)}"
                table_failures.append(f"{config.type}({column or '-'}): {why}{details}")
                table_failures_zh.append(f"{meta.get('why_zh') or why}{details_zh}")
                continue
            for row in outcome.result.get("unexpected_index_list") or []:
                key = tuple(row[name] for name in self.key_columns)
                problems.append(RowProblem(key, column, config.type, why, meta.get("level", "row")))
        if table_failures:
            raise QualityGateError(
                f"source table {self.table} failed its quality gate "
                f"(expectations/{self.table.lower()}.json): " + "; ".join(table_failures),
                zh=f"源表 {self.table} 整表未通过质量闸门，本次运行停止（水位线未推进，修正后重新运行会重新读取）：" + "；".join(table_failures_zh),
            )
        return problems


def gx_suite(name: str, expectations: list[Any]) -> Any:
    """A GX ``ExpectationSuite`` of ``expectations`` (dicts or Expectation objects)."""
    import great_expectations as gx

    return gx.ExpectationSuite(name=name, expectations=expectations)


@contextmanager
def _unfingerprinted_batches() -> Iterator[None]:
    """GX's pandas engine builds a batch with a fingerprint of the whole DataFrame
    (``pd.util.hash_pandas_object`` over every value, then MD5), kept only as a marker in
    the validation result's meta, which the gate never reads; it skips it for frames of
    ``HASH_THRESHOLD`` bytes and more. Hashing a chunk cost more than validating it (a
    fifth of a certificate load, issue 13 item 4), so while the gate builds its batches the
    threshold is 0: the same expectations run on the same frame, without the marker.
    Restored after, so any other use of GX in the process keeps its fingerprints."""
    from great_expectations.execution_engine import pandas_execution_engine

    threshold = pandas_execution_engine.HASH_THRESHOLD
    pandas_execution_engine.HASH_THRESHOLD = 0
    try:
        yield
    finally:
        pandas_execution_engine.HASH_THRESHOLD = threshold


@lru_cache(maxsize=32)
def validator_for(table: str, key_columns: tuple[str, ...]) -> TableValidator:
    """One validator (and GX context) per table per process: building one costs ~1 s."""
    return TableValidator(table, key_columns)


# CONTRACT §5: certificate numbers that in bulk do not look like certificate numbers stop
# the load. The shape is the national one after normalisation: 晋(2026)阳泉市不动产权第0001234号
# (证明: 不动产证明); any province character, place and serial length are accepted.
CERTIFICATE_COLUMNS = {"BDC_ZS": "BDCQZH", "BDC_DZZZ_ZZXX": "BDCQZH"}
_CERTIFICATE_SHAPE = re.compile(r"^\w\(\d{4}\)\w*不动产(?:权|证明)第\d+号$")
CERTIFICATE_MIN_VALUES = 10  # fewer values are no evidence about the table
CERTIFICATE_MAX_BAD_SHARE = 0.5


def looks_like_gbk_read_as_latin1(value: str) -> bool:
    """True when ``value`` is Chinese text whose GBK bytes were decoded as latin1 (the
    mojibake a MySQL ``latin1`` table holding GBK bytes gives: ``½ú(2026)ÑôÈªÊÐ…``)."""
    raw = bytearray()
    for char in value:
        if ord(char) < 256:
            raw.append(ord(char))
        else:
            try:
                raw += char.encode("cp1252")  # MySQL's latin1 is Windows-1252
            except UnicodeEncodeError:
                return False
    try:
        decoded = raw.decode("gbk")
    except UnicodeDecodeError:
        return False
    return any("\u4e00" <= c <= "\u9fff" for c in decoded)


class CertificateCheck:
    """Table-level gate check on a table's certificate-number column (CONTRACT §5),
    counted over the chunks read so far so that a load stops before it stages garbage.

    Raises QualityGateError naming table, column, the share that fails and the likely
    cause (GBK read as latin1, undecodable bytes replaced, or not certificate numbers).
    """

    def __init__(self, table: str) -> None:
        self.table = table
        self.column = CERTIFICATE_COLUMNS.get(table)
        self.seen = 0
        self.bad: list[str] = []

    def check(self, texts: Sequence[str | None], normalized: Sequence[str | None] | None = None) -> None:
        """Count one chunk's values of the column (``normalized``: the same values already
        normalised per §5, when the caller has them) and stop when most do not fit."""
        if normalized is None:
            normalized = [None if v is None else normalize_certificate_number(str(v)) for v in texts]
        for value, norm in zip(texts, normalized, strict=True):
            if value is None or not str(value).strip():
                continue  # a missing number is a row-level problem, quarantined by the suite
            self.seen += 1
            if not _CERTIFICATE_SHAPE.match(norm or ""):
                self.bad.append(str(value))
        if self.seen >= CERTIFICATE_MIN_VALUES and len(self.bad) > CERTIFICATE_MAX_BAD_SHARE * self.seen:
            cause, cause_zh = self._cause()
            example = mask_id_numbers(self.bad[0])  # a column mapped wrongly may hold ID numbers (§6)
            raise QualityGateError(
                f"source table {self.table} column {self.column}: {len(self.bad)} of {self.seen} values do not "
                f"look like certificate numbers (e.g. {example!r}); {cause}",
                zh=f"源表 {self.table} 的 {self.column}（不动产权证书号）已读 {self.seen} 个值，其中 {len(self.bad)} "
                   f"个不像证书号（例：{example}），本次运行停止：{cause_zh}",
            )

    def _cause(self) -> tuple[str, str]:
        """The likely cause of garbled certificate numbers, in English and in Chinese."""
        sample = self.bad[:50]
        if any(looks_like_gbk_read_as_latin1(v) for v in sample):
            return ("the text looks like GBK read as latin1 (a legacy table declared latin1 holding GBK bytes): "
                    "set the connection extra charset, e.g. {\"charset\": \"gbk\"}",
                    "文字像是按 latin1 读出的 GBK 字节（旧系统把 GBK 文字存在声明为 latin1 的表中），"
                    "请在源库连接的 extra 中设置 charset，例如 {\"charset\": \"gbk\"}")
        if any("\ufffd" in v or "??" in v for v in sample):
            return ("characters were replaced while decoding: the source's character set differs from the "
                    "connection's; set the connection extra charset",
                    "解码时有字符被替换：源库的字符集与连接的不同，请在源库连接的 extra 中设置 charset")
        return ("the column does not hold certificate numbers in the national format (wrong column or source?)",
                "该列存的不是国家格式的证书号（字段或源库是否接错？）")
