"""Every word a head reads, in plain Chinese (issue 11): statuses, subject types, periods,
code lists by name, a finding's detail line and the e-certificate identifier problems
(written in English by ``standards.identifiers`` for engineers), and the calendar banner.

Operations keep their technical words (table, column, policy key) in their own notices;
nothing here is meant for them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from bdcwatch import rules
from bdcwatch.config.policy import Policy
from bdcwatch.config.sections import DJDL_NAMES, QLLX_NAMES
from bdcwatch.ledger.lifecycle import STATUS_TEXT
from bdcwatch.safe_text import clean

SEVERITY_TEXT = {"high": "高", "medium": "中", "low": "低"}
EMPTY = "（空）"


def status_text(status: str) -> str:
    return STATUS_TEXT.get(status, status)


def subject_type_text(subject_type: str) -> str:
    """``BDCQZH`` → 不动产权证书/证明号 (rules.SUBJECT_TYPES)."""
    return rules.SUBJECT_TYPES.get(subject_type, subject_type)


def period_text(label: str | None) -> str:
    """A contract period label as heads say it: ``2026-03`` → 2026年3月, ``2026-Q1`` →
    2026年第1季度, ``2026-H2`` → 2026年下半年, ``2026`` → 2026年,
    ``2026-03-01..2026-04-15`` → 2026-03-01至2026-04-14 (the end made inclusive)."""
    if not label:
        return ""
    text = label.strip()
    if ".." in text:
        from bdcwatch.dates.periods import parse_period_label

        period = parse_period_label(text)
        last = period.end.toordinal() - 1
        return f"{period.start.isoformat()}至{datetime.fromordinal(last).date().isoformat()}"
    match = re.fullmatch(r"(\d{4})(?:-(Q[1-4]|H[12]|\d{2}))?", text)
    if not match:
        return text
    year, part = match.groups()
    if part is None:
        return f"{year}年"
    if part.startswith("Q"):
        return f"{year}年第{part[1]}季度"
    if part.startswith("H"):
        return f"{year}年{'上' if part == 'H1' else '下'}半年"
    return f"{year}年{int(part)}月"


_PROBLEMS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"empty identifier"), lambda m: "证照标识为空"),
    (re.compile(r"does not follow .*"),
     lambda m: "证照标识不符合“1.2.156.3005.2.证照类型代码.颁证单位代码.9位流水号.3位版本号.校验位”的格式"),
    (re.compile(r"type segment (\S+) differs from ZZLXDM (\S+)"),
     lambda m: f"证照标识中的证照类型代码 {m[1]} 与该证照的证照类型代码 {m[2]} 不一致"),
    (re.compile(r"check character (\S+) should be (\S+)"), lambda m: f"校验位为 {m[1]}，按国家标准应为 {m[2]}"),
]


def identifier_problem_text(problem: str) -> str:
    """``standards.identifiers.ecert_identifier_problem``'s English reason in Chinese (an
    unknown reason is shown as written)."""
    for pattern, text in _PROBLEMS:
        match = pattern.fullmatch(problem.strip())
        if match:
            return text(match)
    return problem


@dataclass(frozen=True)
class CodeBook:
    """Names of the code lists heads see (policy ``code_names``, ``return_reason_codes``)."""

    djdl: Mapping[str, str] = field(default_factory=lambda: dict(DJDL_NAMES))
    qllx: Mapping[str, str] = field(default_factory=lambda: dict(QLLX_NAMES))
    return_reasons: Mapping[str, str] = field(default_factory=dict)
    mortgage_qllx: Sequence[str] = ()

    @classmethod
    def from_policy(cls, policy: Policy) -> CodeBook:
        return cls(policy.code_names.djdl, policy.code_names.qllx, policy.return_reason_codes,
                   policy.mortgage_qllx_codes)

    def djdl_name(self, code: Any) -> str:
        return _named(self.djdl, code, "登记大类")

    def qllx_name(self, code: Any) -> str:
        text = _code(code)
        if text not in self.qllx and text in self.mortgage_qllx:
            return f"抵押权（{text}）"
        return _named(self.qllx, code, "权利类型")

    def reason_name(self, code: Any) -> str:
        return _named(self.return_reasons, code, "", unknown="不在法定退件理由清单中")

    def limit_class_name(self, value: Any) -> str:
        """A time-limit class (CONTRACT §5): ``mortgage`` or a DJDL code."""
        return "抵押登记（按权利类型）" if _code(value) == "mortgage" else self.djdl_name(value)


def _code(value: Any) -> str:
    text = str(value).strip()
    return text[:-2] if re.fullmatch(r"\d+\.0", text) else text  # 37.0 from a float column is code 37


def _named(names: Mapping[str, str], value: Any, what: str, unknown: str = "代码表中无此代码") -> str:
    """``转移登记（200）``, or for a code without a name ``代码 201（登记大类代码表中无此代码）``."""
    if value is None or str(value).strip() == "":
        return EMPTY
    code = _code(value)
    name = names.get(code)
    return f"{name}（{code}）" if name else f"代码 {code}（{what}{unknown}）"


_TIMESTAMP = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(:\d{2}(\.\d+)?)?([+-]\d{2}:?\d{2}|Z)?")


def value_text(key: str, value: Any, codes: CodeBook) -> str:
    """One detail value as a head reads it: codes by name, timestamps to the minute,
    fractions to two decimals."""
    if value is None or value == "":
        return EMPTY
    if key == "djdl":
        return codes.djdl_name(value)
    if key == "qllx":
        return codes.qllx_name(value)
    if key == "thyydm":
        return codes.reason_name(value)
    if key == "limit_class":
        return codes.limit_class_name(value)
    if key == "problem":
        return identifier_problem_text(str(value))
    if key == "target" and isinstance(value, (int, float)):
        return f"{value:.0%}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float):
        # 40 hours x 11/12 is 36.666...: a head reads 36.67 (a small share keeps two digits).
        return f"{value:.2f}".rstrip("0").rstrip(".") if abs(value) >= 0.01 else f"{value:.2g}"
    text = str(value)
    match = _TIMESTAMP.fullmatch(text)
    return f"{match[1]} {match[2]}" if match else text


def detail_text(rule_code: str, detail_json: str, codes: CodeBook | None = None) -> str:
    """A finding's JSON detail as a short Chinese line, labelled by the rule's declaration
    (yes/no flags shown by their label only when set), values as ``value_text``; cleaned
    and masked."""
    book = codes or CodeBook()
    try:
        detail = json.loads(detail_json) if detail_json else {}
    except ValueError:
        return clean(str(detail_json))
    if not isinstance(detail, dict):
        return clean(str(detail))
    rule = rules.all_rules().get(rule_code)
    labels = rule.labels if rule else {}
    flags = rule.flags if rule else frozenset()
    parts = []
    for key, value in detail.items():
        if key in flags:
            if value not in (None, "", 0, False):
                parts.append(labels.get(key, key))
            continue
        parts.append(f"{labels.get(key, key)}：{value_text(key, value, book)}")
    return clean("；".join(parts))


def occurred_on(rule_code: str, detail_json: str) -> str | None:
    """The date the problem happened (the rule's ``occurred`` detail value), ``YYYY-MM-DD``."""
    rule = rules.all_rules().get(rule_code)
    day = rule.occurred_on(detail_json) if rule is not None else None
    return day.isoformat() if day else None


def occurred_label(rule_code: str) -> str:
    """What heads call the date a rule's ``occurred`` names (a complaint's 受理时间)."""
    rule = rules.all_rules().get(rule_code)
    if rule is None or rule.occurred is None:
        return "发生时间"
    return rule.labels.get(rule.occurred, "发生时间")


@dataclass(frozen=True)
class DateSpan:
    """The first and last of some findings' own dates (``occurred_on``), under the name heads
    give that date, and how many findings have none."""

    label: str
    first: str  # YYYY-MM-DD
    last: str
    undated: int = 0

    @property
    def text(self) -> str:
        """``受理时间 2026-11-28 至 2026-11-30``, or one day once: ``受理时间 2026-11-30``."""
        return f"{self.label} {self.first if self.first == self.last else f'{self.first} 至 {self.last}'}"


def date_span(findings: Sequence[tuple[str, str]]) -> DateSpan | None:
    """(rule_code, detail JSON) of findings → the span of their own dates; None when none has one."""
    days = sorted(day for code, detail in findings if (day := occurred_on(code, detail)))
    if not days:
        return None
    labels = {occurred_label(code) for code, _ in findings}
    label = labels.pop() if len(labels) == 1 else "发生时间"
    return DateSpan(label, days[0], days[-1], len(findings) - len(days))


def when_text(rule_code: str, period: str | None, detail_json: str, detected: datetime,
              occurred: date | None = None) -> str:
    """The 所属期间 of a finding: its period (per-period rules), else the day the problem
    happened, else the ledger's ``finding.occurred_on`` (for a state such as a mismatching
    e-certificate: the last day of the period first judged, as the UI shows it), else the
    day it was detected (said so)."""
    if period:
        return period_text(period)
    day = occurred_on(rule_code, detail_json)
    if day:
        return day
    return occurred.isoformat() if occurred else f"{detected:%Y-%m-%d}（发现）"


def calendar_banner(fallback_years: Sequence[int]) -> str | None:
    """The heads' banner when deadlines were counted on a year the working-day calendar
    does not know yet: what it means for them, not what operations must do."""
    if not fallback_years:
        return None
    years = "、".join(str(y) for y in fallback_years)
    return f"部分期限按周一至周五计算，结果可能偏差（{years}年法定节假日安排尚未纳入系统）。"
