"""What every report shares: the finding row, Chinese labels, the Jinja2 templates
(``reports/templates``, read as package resources) and XLSX workbooks.

Rendering is pure (no database, no SMTP): tests call it with plain data. Every string
that reaches HTML or a workbook passes through ``mask_id_numbers`` (CONTRACT §6).
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from bdcwatch import rules
from bdcwatch.config.policy import Person, Policy
from bdcwatch.mail.sender import Attachment
from bdcwatch.standards.masking import mask_id_numbers

SEVERITY_TEXT = {"high": "高", "medium": "中", "low": "低"}
SEVERITY_COLOR = {"high": "#c62828", "medium": "#e65100", "low": "#546e7a"}
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}
CITY_SUPERVISOR = "CITY_BUREAU"  # CONTRACT §6: city-level reports go to this body's heads
MAX_ROWS_IN_BODY = 200  # beyond this the workbook carries the list; mail clients choke on huge tables


@dataclass(frozen=True)
class FindingRow:
    """A finding as the digest needs it."""

    id: int
    rule_code: str
    severity: str
    unit_code: str | None
    subject_type: str
    subject_id: str
    period: str | None
    detail: str
    status: str
    first_detected_at: datetime
    due_date: date

    @classmethod
    def from_row(cls, row: Any) -> FindingRow:
        """From a row of the ``finding`` table."""
        return cls(row.id, row.rule_code, row.severity, row.unit_code, row.subject_type, row.subject_id, row.period,
                   row.detail, row.status, row.first_detected_at, row.due_date)


@dataclass(frozen=True)
class SummaryTable:
    """A small table shown under the headline (e.g. the staff roster summary)."""

    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


@dataclass(frozen=True)
class DigestContext:
    dag_id: str
    run_id: str
    period_label: str
    period_text: str
    as_of: datetime
    plan_items: str
    title: str
    supervisor_name: str
    ui_url: str | None = None
    calendar_warning: str | None = None
    headline: Sequence[tuple[str, Any, str]] = field(default_factory=tuple)  # (label, value, color)
    tables: Sequence[SummaryTable] = field(default_factory=tuple)
    chart_caption: str | None = None  # shown last: the inline trend chart follows the body


@dataclass(frozen=True)
class RenderedDigest:
    subject: str
    html: str
    attachments: tuple[Attachment, ...]


def operations_desk(policy: Policy) -> tuple[Person, ...]:
    """Who gets what no unit answers for (a DJJG the policy does not know, engine notices)."""
    return (Person(name="运维值班", role="operations", email=policy.operations_email),)


def calendar_warning(fallback_years: Sequence[int]) -> str | None:
    """The banner of a mail whose deadlines were counted on a year the calendar does not
    know yet (CONTRACT §5: said loudly, never guessed silently)."""
    if not fallback_years:
        return None
    years = "、".join(str(y) for y in fallback_years)
    return (f"{years}年的法定节假日及调休安排尚未配置，本次计算按周一至周五为工作日处理，"
            "相关期限可能不准确。请运维人员在策略文件 calendar 中补充。")


def detail_text(rule_code: str, detail_json: str) -> str:
    """A finding's JSON detail as a short Chinese line, labelled by the rule's declaration
    (yes/no flags shown by their label only when set)."""
    try:
        detail = json.loads(detail_json) if detail_json else {}
    except ValueError:
        return mask_id_numbers(str(detail_json))
    rule = rules.all_rules().get(rule_code)
    labels = rule.labels if rule else {}
    flags = rule.flags if rule else frozenset()
    parts = []
    for key, value in detail.items():
        if key in flags:
            if value not in (None, "", 0):
                parts.append(labels.get(key, key))
            continue
        label = labels.get(key, key)
        parts.append(f"{label}：{'（空）' if value is None or value == '' else value}")
    return mask_id_numbers("；".join(parts))


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("bdcwatch.reports", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_template(name: str, **context: Any) -> str:
    """One of the digest templates (digest/templates), autoescaped."""
    return _environment().get_template(name).render(**context)


def workbook(sheets: Mapping[str, Any]) -> bytes:
    """An XLSX file of pandas DataFrames, one sheet each (titles cut to Excel's 31
    characters), header row frozen."""
    import pandas as pd

    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for title, frame in sheets.items():
            frame.to_excel(writer, sheet_name=title[:31], index=False)
            writer.sheets[title[:31]].freeze_panes = "A2"
    return buffer.getvalue()


def sort_findings(findings: Sequence[FindingRow]) -> list[FindingRow]:
    return sorted(findings, key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.rule_code, f.subject_id))


def findings_workbook(findings: Sequence[FindingRow], sheet_title: str) -> bytes:
    """The full list as an XLSX workbook (Chinese headers, masked values)."""
    import pandas as pd

    frame = pd.DataFrame(
        [
            {
                "序号": i,
                "问题": rules.title(f.rule_code),
                "规则代码": f.rule_code,
                "等级": SEVERITY_TEXT.get(f.severity, f.severity),
                "单位": f.unit_code or "",
                "对象类型": f.subject_type,
                "对象": mask_id_numbers(f.subject_id),
                "期间": f.period or "",
                "说明": detail_text(f.rule_code, f.detail),
                "状态": f.status,
                "首次发现": f.first_detected_at.strftime("%Y-%m-%d %H:%M"),
                "整改期限": f.due_date.isoformat(),
            }
            for i, f in enumerate(sort_findings(findings), start=1)
        ],
        columns=["序号", "问题", "规则代码", "等级", "单位", "对象类型", "对象", "期间", "说明", "状态", "首次发现", "整改期限"],
    )
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        frame.to_excel(writer, sheet_name=sheet_title[:31], index=False)
        sheet = writer.sheets[sheet_title[:31]]
        for column, width in zip("ABCDEFGHIJKL", (6, 34, 20, 6, 8, 10, 34, 12, 60, 10, 17, 12), strict=True):
            sheet.column_dimensions[column].width = width
        sheet.freeze_panes = "A2"
    return buffer.getvalue()


