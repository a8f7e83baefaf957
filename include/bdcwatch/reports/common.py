"""What every report shares: the finding row, Chinese labels, the Jinja2 templates
(``reports/templates``, read as package resources) and XLSX workbooks.

Rendering is pure (no database, no SMTP): tests call it with plain data. Every string
that reaches HTML or a workbook passes through ``safe_text.clean`` (control characters
out, ID numbers masked: CONTRACT §5, §6); the words heads read come from ``labels``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from bdcwatch import rules
from bdcwatch.config.policy import CITY_SUPERVISOR, Person, Policy
from bdcwatch.ledger.findings import FindingRow
from bdcwatch.mail.sender import Attachment
from bdcwatch.reports.labels import (
    SEVERITY_TEXT,
    CodeBook,
    calendar_banner,
    detail_text,
    status_text,
    subject_type_text,
    when_text,
)
from bdcwatch.reports.workbooks import workbook
from bdcwatch.safe_text import clean

__all__ = [
    "CITY_SUPERVISOR", "MAX_ROWS_IN_BODY", "SEVERITY_COLOR", "SEVERITY_TEXT", "Chart", "CodeBook", "DigestContext",
    "FindingRow", "RenderedDigest", "SummaryTable", "calendar_warning", "detail_text", "finding_url", "finding_when",
    "findings_workbook", "operations_desk", "render_template", "sort_findings", "workbook",
]

SEVERITY_COLOR = {"high": "#c62828", "medium": "#e65100", "low": "#546e7a"}
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}
MAX_ROWS_IN_BODY = 200  # beyond this the workbook carries the list; mail clients choke on huge tables
FINDING_PAGE = "{base}/bdcwatch/ui/findings/{id}"  # the operations UI's page of one finding (CONTRACT §7)


def finding_url(ui_base_url: str | None, finding_id: int, city: str | None = None) -> str | None:
    """The finding's page in the UI, or None when no base URL is configured (then no link)
    or the finding is not in the ledger yet (a dry run's new finding, id 0). ``city``: a
    province's city (each has its own ledger and ids: the link names it, ``?city=1401``,
    so the page opens that city's finding whatever city the reader last looked at)."""
    if not ui_base_url or not finding_id:
        return None
    page = FINDING_PAGE.format(base=ui_base_url.rstrip("/"), id=finding_id)
    return f"{page}?{urlencode({'city': city})}" if city else page


def finding_when(f: FindingRow) -> str:
    """所属期间 of a finding as heads read it (labels.when_text)."""
    return when_text(f.rule_code, f.period, f.detail, f.first_detected_at, f.occurred_on)


@dataclass(frozen=True)
class SummaryTable:
    """A small table shown under the headline (e.g. the staff roster summary)."""

    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


@dataclass(frozen=True)
class Chart:
    """An inline image in a mail: the template writes ``<img src="cid:{content_id}" alt=…>``."""

    content_id: str
    alt: str
    caption: str
    width: int = 600


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
    ui_base_url: str | None = None  # the Airflow UI; findings link to their page there (else no link)
    ui_city: str | None = None  # the city whose ledger the links open (a province's city)
    calendar_warning: str | None = None  # the heads' banner (labels.calendar_banner)
    headline: Sequence[tuple[str, Any, str]] = field(default_factory=tuple)  # (label, value, color)
    tables: Sequence[SummaryTable] = field(default_factory=tuple)
    chart: Chart | None = None  # the trend chart, inline under the findings
    codes: CodeBook = field(default_factory=CodeBook)  # code lists by name
    # The mail names the findings' own dates (a complaint's 受理时间), the run's window only
    # as a secondary line: for forwarded reports, whose run says nothing about when they came in.
    dated_by_findings: bool = False


@dataclass(frozen=True)
class RenderedDigest:
    subject: str
    html: str
    attachments: tuple[Attachment, ...]


def operations_desk(policy: Policy) -> tuple[Person, ...]:
    """Who gets what no unit answers for (a DJJG the policy does not know, engine notices)."""
    return (Person(name="运维值班", role="operations", email=policy.operations_email),)


def calendar_warning(fallback_years: Sequence[int]) -> str | None:
    """The heads' banner for years the working-day calendar does not know (CONTRACT §5:
    said, never guessed silently); operations get the technical notice (reports.ops_notice)."""
    return calendar_banner(fallback_years)


# One value from data shown in a mail's body at most this long: a pasted document in a
# return reason (a 1 MB text made an 8 MB message, and 60 of them a digest the relay refused
# for good). The XLSX attachment keeps up to Excel's 32,767 characters.
HTML_MAX_TEXT = 2_000


def _finalize(value: Any) -> Any:
    """Every ``{{ value }}`` of a template: text cleaned for HTML and ID numbers masked
    (safe_text.clean) before autoescaping, a text from data cut to ``HTML_MAX_TEXT``;
    numbers, dates and None pass. (Markup is the templates' own HTML: never cut.)"""
    if isinstance(value, Markup):
        return Markup(clean(str(value)))
    if isinstance(value, str):
        text = clean(value)
        return text if len(text) <= HTML_MAX_TEXT else f"{text[:HTML_MAX_TEXT]}…（共 {len(text)} 字，已截断）"
    return value


# The plan every report cites, as its own title reads (seeds/: 阳自然资发〔2023〕24号).
PLAN_TITLE = "《阳泉市不动产登记队伍作风常态化建设实施方案》"
PLAN_NUMBER = "阳自然资发〔2023〕24号"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("bdcwatch.reports", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_finalize,
    )
    environment.globals.update(plan_title=PLAN_TITLE, plan_number=PLAN_NUMBER)
    return environment


def render_template(name: str, **context: Any) -> str:
    """One of the report templates (reports/templates), autoescaped and cleaned."""
    return _environment().get_template(name).render(**context)


def sort_findings(findings: Sequence[FindingRow]) -> list[FindingRow]:
    return sorted(findings, key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.rule_code, f.subject_id))


def findings_workbook(findings: Sequence[FindingRow], sheet_title: str, codes: CodeBook | None = None) -> bytes:
    """The full list as an XLSX workbook: Chinese headers, words a head understands
    (status, subject type, period), the rule code for operations, values cleaned and masked."""
    header = ("编号", "问题", "规则代码", "等级", "单位", "对象类型", "对象", "所属期间", "说明", "状态", "首次发现",
              "整改期限")
    rows = [
        (f.id or "新", rules.title(f.rule_code), f.rule_code, SEVERITY_TEXT.get(f.severity, f.severity),
         f.unit_code or "", subject_type_text(f.subject_type), f.subject_id, finding_when(f),
         detail_text(f.rule_code, f.detail, codes), status_text(f.status), f.first_detected_at.strftime("%Y-%m-%d %H:%M"),
         f.due_date.isoformat())
        for f in sort_findings(findings)
    ]
    return workbook({sheet_title: (header, rows)}, widths={sheet_title: (8, 34, 20, 6, 8, 16, 34, 14, 60, 10, 17, 12)})
