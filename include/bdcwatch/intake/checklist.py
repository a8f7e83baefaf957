"""The mailed checklist (``reports/quality.quality_checklist``) coming back with its
verdict columns filled in (plan item 32; CONTRACT §8).

``read_checklist`` turns the workbook into ``VerdictInput`` rows, each with its Excel row
number (the header is row 1); rows left without a verdict are cases not reviewed yet and
are skipped (a reviewer's name written ahead is fine), unless they carry a problem
description. ``import_checklist`` finds the
inspection the file belongs to and hands the rows to ``ledger.verdicts.record_verdicts``:
one refused row refuses the file, and nothing is half-applied.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, func, select

from bdcwatch.config.policy import Policy
from bdcwatch.intake.files import HEADER_SEARCH_ROWS, IntakeFileError, header_name, workbook_rows
from bdcwatch.ledger.verdicts import (
    RowProblem,
    VerdictInput,
    VerdictRefusedError,
    VerdictResult,
    check,
    record_verdicts,
)
from bdcwatch.store.models import inspection, inspection_sample

SHEET = "抽查清单"
# The checklist's columns (reports/quality.py writes them); the verdict header is matched
# by its start so "评查结论" and "评查结论（合格/不合格）" both read.
YWH, VERDICT, DESCRIPTION, REVIEWER, REVIEWED_ON = "业务号", "评查结论", "问题描述", "评查人", "评查日期"
# 质量评查抽查清单_{unit}_{period}.xlsx; a browser may add " (1)" to a second download.
FILE_NAME = re.compile(r"^质量评查抽查清单_(?P<unit>[^_]+)_(?P<period>.+?)(\s*\(\d+\))?\.xlsx$")
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d")


@dataclass
class Checklist:
    rows: list[VerdictInput] = field(default_factory=list)
    not_reviewed: int = 0  # rows without a verdict yet
    problems: list[RowProblem] = field(default_factory=list)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


def read_checklist(data: bytes) -> Checklist:
    """Parse a filled checklist. Raises VerdictRefusedError when the file is not a
    workbook or lacks the 业务号 / 评查结论 / 评查人 columns."""
    try:
        numbered = workbook_rows(data, SHEET)
    except IntakeFileError as error:
        raise VerdictRefusedError([RowProblem(None, "", f"不是可读的 XLSX 工作簿（{error}）")]) from None
    return _rows(numbered)


def _rows(numbered: list[tuple[int, list[Any]]]) -> Checklist:
    """The checklist of the sheet's non-empty rows (row number, cells). The header is the
    first of the top rows naming 业务号, 评查结论 and 评查人 (a title a reviewer typed above
    it is skipped), else the first row."""

    def columns_of(cells: list[Any]) -> dict[str, int]:
        found: dict[str, int] = {}
        for index, name in enumerate(header_name(cell) for cell in cells):
            for wanted in (YWH, VERDICT, DESCRIPTION, REVIEWER, REVIEWED_ON):
                if wanted not in found and (name == wanted or (wanted == VERDICT and name.startswith(VERDICT))):
                    found[wanted] = index
        return found

    top = numbered[:HEADER_SEARCH_ROWS] or [(1, [])]
    first = next((i for i, (_, cells) in enumerate(top)
                  if {YWH, VERDICT, REVIEWER} <= set(columns_of(cells))), 0)
    header_number, header_cells = top[first]
    columns = columns_of(header_cells)
    rows = iter(numbered[first + 1:])
    missing = [name for name in (YWH, VERDICT, REVIEWER) if name not in columns]
    if missing:
        raise VerdictRefusedError([RowProblem(header_number, "", f"表头缺少列：{'、'.join(missing)}")])
    checklist = Checklist()
    for number, values in rows:
        def cell(name: str, values: Sequence[Any] = values) -> Any:
            index = columns.get(name)
            return values[index] if index is not None and index < len(values) else None

        ywh, verdict = _text(cell(YWH)), _text(cell(VERDICT))
        description, reviewer = _text(cell(DESCRIPTION)), _text(cell(REVIEWER))
        if not verdict:
            if description:  # a description is a judgement: which one must be said
                checklist.problems.append(RowProblem(number, ywh, "已填写问题描述，但缺评查结论"))
            elif ywh:
                checklist.not_reviewed += 1
            continue
        try:
            reviewed_on = _date(cell(REVIEWED_ON))
        except ValueError as bad:
            checklist.problems.append(RowProblem(number, ywh, f"评查日期“{bad}”不是日期（例如 2026-04-03）"))
            continue
        checklist.rows.append(VerdictInput(ywh, verdict, reviewer, description, reviewed_on, number))
    return checklist


def find_inspection(engine: Engine, *, file_name: str | None, rows: Sequence[VerdictInput]) -> int:
    """The inspection a checklist belongs to: by its file name (unit and period, the
    cycle when only one cycle has that unit and period), else the one inspection whose
    sample holds the most of its cases (the rows outside that sample are then refused,
    each with its row number, CONTRACT §8).

    Raises:
        VerdictRefusedError: no inspection holds any listed case (every row named with its
            row number), or several hold equally many.
    """
    match = FILE_NAME.match(file_name.rsplit("/", 1)[-1]) if file_name else None
    with engine.connect() as conn:
        if match:
            ids = list(conn.execute(select(inspection.c.id).where(
                inspection.c.unit_code == match["unit"], inspection.c.period == match["period"])).scalars())
        else:
            wanted = sorted({r.ywh for r in rows})
            held = conn.execute(
                select(inspection_sample.c.inspection_id, func.count(func.distinct(inspection_sample.c.ywh)))
                .where(inspection_sample.c.ywh.in_(wanted)).group_by(inspection_sample.c.inspection_id)
            ).all() if wanted else []
            most = max((n for _, n in held), default=0)
            ids = [i for i, n in held if n == most]
            if not ids and rows:
                raise VerdictRefusedError([RowProblem(r.row, r.ywh, "该业务号不在任何抽查样本中") for r in rows])
    if len(ids) != 1:
        found = "没有" if not ids else f"{len(ids)} 个（{', '.join(map(str, ids))}）"
        raise VerdictRefusedError([RowProblem(None, "", f"无法确定清单所属的评查批次：符合的批次{found}；"
                                                        f"请按邮件中的文件名（质量评查抽查清单_单位_期间.xlsx）上传")])
    return int(ids[0])


def import_checklist(
    engine: Engine, data: bytes, *, file_name: str | None, actor: str, now: datetime, policy: Policy,
    inspection_id: int | None = None,
) -> tuple[VerdictResult, int]:
    """Record the verdicts of a filled checklist (the UI's upload, ``bdcwatch review
    import``); returns what was recorded and how many rows are still not reviewed.

    Raises:
        VerdictRefusedError: the file is not a checklist, its inspection cannot be told,
            or any row is refused (every refused row named); nothing is recorded.
    """
    checklist = read_checklist(data)
    chosen = inspection_id or find_inspection(engine, file_name=file_name, rows=checklist.rows)
    if checklist.problems:
        # The sample check of the other rows is reported in the same answer.
        with engine.connect() as conn:
            sample = set(conn.execute(select(inspection_sample.c.ywh)
                                      .where(inspection_sample.c.inspection_id == chosen)).scalars())
        problems = checklist.problems + check(checklist.rows, sample, now.date())
        raise VerdictRefusedError(sorted(problems, key=lambda p: p.row or 0), f"{file_name or 'checklist'}: ")
    try:
        return record_verdicts(engine, chosen, checklist.rows, actor=actor, now=now, policy=policy), \
            checklist.not_reviewed
    except VerdictRefusedError as refused:
        raise VerdictRefusedError(refused.problems, f"{file_name or 'checklist'}: ") from None
