"""What a quarantine entry says to operations (the 隔离数据 page, the quarantine notice): in
Chinese, naming table and column and what is wrong in the registration standard's words,
``BDC_ZS.SZSJ 缮证时间为空或不是有效日期``, with the check's English name (GX's
expectation type: what the logs and GX's documentation say) kept beside.

The words are declared once per expectation, as ``meta.why_zh`` in its suite
(``suites.why_zh``; a test requires them on every expectation of every suite). ``KINDS``
words each kind of check once, for the entries no suite words: the gate's own check of
values that do not fit their reference column, the complaint intake's checks, and entries
held by an expectation that is no longer in its suite (or by a suite replaced through
BDCWATCH_EXPECTATIONS without ``why_zh``).

Nothing stored is rewritten, and a gate entry's words come from its table, column and
expectation, not from its stored reason: the quarantine keeps table, row key, column,
expectation and the English reason (the log line's words) as before, and an entry stored
before the words existed reads like a new one. The complaint intake stores its
reasons in Chinese already (naming file and row): an entry of a table that has no suite
shows its stored reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from bdcwatch.sources.schema import SOURCE_TABLES
from bdcwatch.sources.suites import why_zh
from bdcwatch.standards.masking import mask_id_numbers

FITS_REFERENCE = "bdcwatch_value_fits_reference_column"  # the gate's own check (sources.extract)
KEY_UNIQUE = "bdcwatch_key_unique_in_source"  # the load's own: one key, rows with different values
UNWORDED = "未通过数据质量检查"  # a check nobody worded (its English name stands beside)
MAX_VALUE_CHARS = 200

# One phrase per kind of check, said after ``TABLE.COLUMN``. Every kind the gate or the
# complaint intake stores is here (tests check both).
KINDS: dict[str, str] = {
    # GX's expectation types the suites use
    "expect_column_values_to_not_be_null": "为空或无法解析",
    "expect_column_values_to_be_null": "值无法按参照类型解析",  # on <COLUMN>__invalid: what did not parse
    "expect_column_values_to_be_in_set": "不是规定的代码值",
    "expect_column_value_lengths_to_be_between": "长度不符合规定",
    "expect_column_values_to_be_between": "超出允许范围",
    "expect_column_values_to_be_valid_gb11643_id": "不是有效的居民身份证号码（GB 11643）",
    "expect_table_columns_to_match_set": "源表缺少参照表结构中的字段",
    # the gate's own
    FITS_REFERENCE: "超过参照表结构的字段长度或数值范围",
    KEY_UNIQUE: "在源表中重复：多行使用同一主键而内容不同，无法判断以哪一行为准，该主键的各行暂不入库",
    # the complaint intake's (intake/complaints.py, source table COMPLAINT)
    "required": "必填项为空",
    "known_unit": "不是策略中的登记机构",
    "timestamp": "不是有效时间",
    "readable_table": "文件无法读取为表格",
    "row_shape": "该行单元格数与表头不符，无法确定各列",
    "exact_code": "已被 Excel 改写为科学计数法，原编号已丢失",
}


def words(table: str, column: str, expectation: str) -> str:
    """What is wrong, in Chinese: the suite's ``why_zh``, else the kind's phrase."""
    return why_zh(table, column, expectation) or KINDS.get(expectation, UNWORDED)


@dataclass(frozen=True)
class Reason:
    """One quarantine entry's reason as operations read it."""

    text: str  # Chinese, naming table and column: BDC_ZS.SZSJ 缮证时间为空或不是有效日期
    expectation: str  # the check's English name (GX's expectation type), kept beside
    value: str | None  # the value held, as read (masked); None when there is none to show
    stored: str  # the stored reason (the log line's words), masked


def held_value(row_json: str, column: str) -> str | None:
    """The value of ``column`` in the kept copy of a row (personal columns masked when
    kept, any ID number masked here), None when the row has none."""
    try:
        row = json.loads(row_json)
    except ValueError:
        return None
    value = row.get(column) if isinstance(row, dict) else None
    if value is None:
        return None
    text = mask_id_numbers(str(value))
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + "…"


def explain(table: str, column: str, expectation: str, stored: str, row_json: str) -> Reason:
    """The reason of one quarantine entry (its stored table, column, expectation, reason
    and kept row) in Chinese, with the English name and the stored reason beside."""
    stored = mask_id_numbers(stored)
    if table not in SOURCE_TABLES:  # the complaint intake's entry: stored in Chinese, naming file and row
        return Reason(stored, expectation, None, stored)
    return Reason(f"{table}.{column} {words(table, column, expectation)}", expectation,
                  held_value(row_json, column), stored)
