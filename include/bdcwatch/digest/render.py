"""Pure rendering of a unit's digest: ``render_unit_digest(...) -> RenderedDigest``.

No database, no SMTP: tests call it with plain data. Every string that reaches the HTML
or the workbook passes through ``mask_id_numbers`` (item 29).
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from ..codes import mask_id_numbers
from ..config import Person
from ..mail import Attachment
from ..rules.registry import rule_title

SEVERITY_TEXT = {"high": "高", "medium": "中", "low": "低"}
SEVERITY_COLOR = {"high": "#c62828", "medium": "#e65100", "low": "#546e7a"}
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}
MAX_ROWS_IN_BODY = 200  # beyond this the workbook carries the list; mail clients choke on huge tables

# Detail keys → Chinese labels shown to heads.
DETAIL_LABELS = {
    "zsid": "证书ID", "ywh": "业务号", "bdcqzh": "证号", "szsj": "缮证时间", "dbsj": "登簿时间",
    "zzid": "电子证照ID", "zzbfrq": "颁发时间", "zxsj": "注销时间", "bdcdyh_differs": "单元号不一致",
    "holders_differ": "权利人不一致", "type_differs": "证照类型不一致", "valid_ecerts": "现势电子证照数",
    "first_zzid": "电子证照ID", "last_zzid": "电子证照ID", "zzbs": "证照标识", "problem": "问题",
    # case rules
    "slsj": "受理时间", "jssj": "办结时间", "djdl": "登记大类", "gqts": "挂起天数", "deadline": "办理期限",
    "elapsed": "用时（工作日）", "median": "同类当月中位数", "overtaken_at_least": "超越先受理案件不少于",
    "overtaken_example": "被超越案件", "limit_class": "时限类别", "bdcdyh": "不动产单元号", "cfjg": "查封机关",
    "cfkssj": "查封时间", "cf_ywh": "查封业务号", "thsj": "退件时间", "thyydm": "退件理由代码", "thyy": "退件理由",
    "previous_id": "前次退件", "previous_thsj": "前次退件时间", "cases": "案件数", "online": "网办数", "target": "目标",
    # staff rules
    "steps": "期内办件环节数", "first_step_at": "首次办件", "last_step_at": "末次办件", "example_case": "案件示例",
    "first_passed_training": "首次培训合格日期", "units": "涉及机构数", "lgsj": "离岗日期",
    "passed_hours": "合格学时", "required": "应达学时", "months": "计入月数", "year_from": "年度起",
    "zjh": "身份证号", "zjh_missing": "缺身份证号", "zjh_invalid": "身份证号校验不通过", "dwdm_missing": "缺单位代码",
    "yglx_missing": "缺用工类型", "gw_missing": "缺岗位", "sgsj_missing": "缺上岗时间",
    "gw": "岗位", "gwkssj": "任现岗起", "due_since": "轮岗界限", "lzcnsj": "廉政承诺签订日期", "pledge_deadline": "签订期限",
}
# Detail keys that are yes/no flags: shown by their label when set, omitted when not.
FLAG_KEYS = {"zjh_missing", "zjh_invalid", "dwdm_missing", "yglx_missing", "gw_missing", "sgsj_missing"}


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


def detail_text(detail_json: str) -> str:
    """A finding's JSON detail as a short Chinese line (flags shown only when set)."""
    try:
        detail = json.loads(detail_json) if detail_json else {}
    except ValueError:
        return mask_id_numbers(str(detail_json))
    parts = []
    for key, value in detail.items():
        flag = key in FLAG_KEYS or key.endswith(("differs", "differ"))
        if value in (None, "", 0) and flag:
            continue
        label = DETAIL_LABELS.get(key, key)
        if flag:
            parts.append(label)
        else:
            parts.append(f"{label}：{'（空）' if value is None or value == '' else value}")
    return mask_id_numbers("；".join(parts))


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("bdcwatch.digest", "templates"),
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
                "问题": rule_title(f.rule_code),
                "规则代码": f.rule_code,
                "等级": SEVERITY_TEXT.get(f.severity, f.severity),
                "单位": f.unit_code or "",
                "对象类型": f.subject_type,
                "对象": mask_id_numbers(f.subject_id),
                "期间": f.period or "",
                "说明": detail_text(f.detail),
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


def render_unit_digest(
    findings: Sequence[FindingRow],
    *,
    unit_code: str,
    unit_name: str,
    heads: Sequence[Person],
    context: DigestContext,
) -> RenderedDigest:
    """Render one unit's digest of new findings. ``findings`` must all be of that unit."""
    strangers = sorted({f.unit_code for f in findings if f.unit_code != unit_code}, key=str)
    if strangers:
        raise ValueError(f"digest for {unit_code} was given findings of other units: {strangers}")
    ordered = sort_findings(findings)
    rows = [
        {
            "title": rule_title(f.rule_code),
            "rule_code": f.rule_code,
            "severity_text": SEVERITY_TEXT.get(f.severity, f.severity),
            "severity_color": SEVERITY_COLOR.get(f.severity, "#222"),
            "subject_id": mask_id_numbers(f.subject_id),
            "detail_text": detail_text(f.detail),
            "due_date": f.due_date.isoformat(),
        }
        for f in ordered[:MAX_ROWS_IN_BODY]
    ]
    high = sum(1 for f in findings if f.severity == "high")
    subject = f"【不动产登记监督】{unit_name} {context.title}（{context.period_label}）：新发现问题 {len(findings)} 条"
    headline = [
        {"label": "新发现问题", "value": len(findings), "color": "#1f4e79"},
        {"label": "其中高风险", "value": high, "color": SEVERITY_COLOR["high"]},
        *({"label": label, "value": value, "color": color} for label, value, color in context.headline),
    ]
    html = _environment().get_template("unit_digest.html.j2").render(
        subject=subject, title=f"{unit_name} · {context.title}", heads=heads, unit_name=unit_name,
        plan_items=context.plan_items, period_text=context.period_text,
        as_of=context.as_of.strftime("%Y-%m-%d %H:%M"), calendar_warning=context.calendar_warning,
        headline=headline, findings=findings, rows=rows, truncated=len(findings) > len(rows),
        supervisor_name=context.supervisor_name, ui_url=context.ui_url, dag_id=context.dag_id,
        run_id=context.run_id, tables=context.tables, chart_caption=context.chart_caption,
    )
    workbook = findings_workbook(findings, f"{unit_code} {context.period_label}".replace(":", "")[:31])
    filename = f"{context.dag_id}_{unit_code}_{context.period_label.replace('..', '_')}.xlsx"
    return RenderedDigest(mask_id_numbers(subject), mask_id_numbers(html), (Attachment(filename, workbook),))


@dataclass(frozen=True)
class QuarantineRow:
    source_table: str
    row_key: str
    column_name: str
    reason: str
    first_seen_at: datetime


def render_quarantine_report(rows: Sequence[QuarantineRow], *, dag_id: str, run_id: str) -> RenderedDigest:
    """The operations notice of source rows held back by the quality gate."""
    tables = "、".join(sorted({r.source_table for r in rows}))
    subject = f"【bdcwatch 数据质量】{len(rows)} 条源数据被隔离（{tables}）"
    html = _environment().get_template("quarantine_report.html.j2").render(
        subject=subject, rows=rows, dag_id=dag_id, run_id=run_id
    )
    return RenderedDigest(mask_id_numbers(subject), mask_id_numbers(html), ())


def render_watch_list(
    *,
    unit_code: str,
    unit_name: str,
    heads: Sequence[Person],
    overdue: Sequence[dict[str, Any]],
    due_soon: Sequence[dict[str, Any]],
    due_soon_days: int,
    context: DigestContext,
) -> RenderedDigest:
    """The daily time-limit warning of one unit: cases already overdue and cases due within
    ``due_soon_days`` working days (rows: ywh, djdl, slsj, deadline[, days_left])."""
    overdue_rows = [(r["ywh"], r["djdl"], str(r["slsj"])[:16], str(r["deadline"])) for r in overdue]
    soon_rows = [(r["ywh"], r["djdl"], str(r["slsj"])[:16], str(r["deadline"]), r["days_left"]) for r in due_soon]
    sections = [
        {"title": "已超期在办", "columns": ("业务号", "登记大类", "受理时间", "办理期限"), "rows": overdue_rows},
        {"title": "即将到期", "columns": ("业务号", "登记大类", "受理时间", "办理期限", "剩余工作日"), "rows": soon_rows},
    ]
    subject = (f"【不动产登记监督】{unit_name} 办件时限预警（{context.as_of:%Y-%m-%d}）："
               f"超期 {len(overdue_rows)} 件，即将到期 {len(soon_rows)} 件")
    html = _environment().get_template("watch_list.html.j2").render(
        subject=subject, unit_name=unit_name, heads=heads, overdue=overdue_rows, due_soon=soon_rows,
        due_soon_days=due_soon_days, as_of=context.as_of.strftime("%Y-%m-%d %H:%M"), sections=sections,
        calendar_warning=context.calendar_warning, dag_id=context.dag_id, run_id=context.run_id,
    )
    import pandas as pd

    content = workbook({section["title"]: pd.DataFrame(section["rows"], columns=list(section["columns"]))
                        for section in sections})
    filename = f"{context.dag_id}_{unit_code}_{context.as_of:%Y%m%d}.xlsx"
    return RenderedDigest(mask_id_numbers(subject), mask_id_numbers(html), (Attachment(filename, content),))


def quality_checklist(sample: Sequence[tuple[str, str]], unit_code: str, period_label: str) -> Attachment:
    """The hand-review checklist of a monthly quality check: one row per sampled case,
    with empty columns for the reviewer's verdict (item 32)."""
    import pandas as pd

    frame = pd.DataFrame(
        [{"序号": i, "业务号": ywh, "登记大类": djdl, "评查结论（合格/不合格）": "", "问题描述": "", "评查人": "",
          "评查日期": ""} for i, (ywh, djdl) in enumerate(sample, start=1)],
        columns=["序号", "业务号", "登记大类", "评查结论（合格/不合格）", "问题描述", "评查人", "评查日期"],
    )
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        frame.to_excel(writer, sheet_name="抽查清单", index=False)
        sheet = writer.sheets["抽查清单"]
        for column, width in zip("ABCDEFG", (6, 24, 10, 24, 40, 10, 12), strict=True):
            sheet.column_dimensions[column].width = width
    return Attachment(f"质量评查抽查清单_{unit_code}_{period_label}.xlsx", buffer.getvalue())


@dataclass(frozen=True)
class UnitSummary:
    code: str
    name: str
    population: int
    sample: int
    findings: Sequence[FindingRow]


def render_city_report(
    units: Sequence[UnitSummary], *, heads: Sequence[Person], title: str, context: DigestContext
) -> RenderedDigest:
    """A city-level cycle report (city check, provincial spot check) for the bureau:
    one line per unit, the full list of the cycle's findings as XLSX."""
    rows = []
    for unit in units:
        by_rule: dict[str, int] = {}
        for f in unit.findings:
            by_rule[f.rule_code] = by_rule.get(f.rule_code, 0) + 1
        top = "；".join(f"{rule_title(code)} {n}" for code, n in sorted(by_rule.items(), key=lambda i: -i[1])[:3])
        rows.append({"name": unit.name, "population": unit.population, "sample": unit.sample,
                     "findings": len(unit.findings), "high": sum(f.severity == "high" for f in unit.findings),
                     "top": top or "无"})
    everything = [f for unit in units for f in unit.findings]
    subject = f"【不动产登记监督】全市{title}报告（{context.period_label}）：发现问题 {len(everything)} 条"
    html = _environment().get_template("city_report.html.j2").render(
        subject=subject, title=title, heads=heads, period_label=context.period_label,
        period_text=context.period_text, as_of=context.as_of.strftime("%Y-%m-%d %H:%M"), units=rows,
        total_findings=len(everything), total_high=sum(f.severity == "high" for f in everything),
        total_sample=sum(u.sample for u in units), calendar_warning=context.calendar_warning,
        dag_id=context.dag_id, run_id=context.run_id,
    )
    workbook = findings_workbook(everything, f"全市 {context.period_label}")
    filename = f"{context.dag_id}_city_{context.period_label.replace('..', '_')}.xlsx"
    return RenderedDigest(mask_id_numbers(subject), mask_id_numbers(html), (Attachment(filename, workbook),))
