"""One message of each kind the engine sends, rendered by the product's own render
functions from sample data that includes what real sources hold (control characters
from Word, ID numbers, markup in free text, formula-looking text, long unbreakable codes).
The mail-client tests send each through a real relay and check what it received."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction

from bdcwatch.config.policy import load_policy
from bdcwatch.ledger.escalation import HistoryLine
from bdcwatch.ledger.findings import FindingRow
from bdcwatch.mail.outbox import UnconfirmedMessage
from bdcwatch.mail.sender import INLINE_PREFIX, Attachment

NASTY = "资料不全\x0b请补正 =HYPERLINK(\"http://x\") <script>alert(1)</script> 14030219800101123X \u202eABC"
LONG_ZZBS = "1.2.156.3005.2.11100000MB03271699022.140321.000004512.001.7"
RUN = "scheduled__2026-11-01T03:00:00+08:00"


@dataclass(frozen=True)
class Sample:
    kind: str
    subject: str
    html: str
    attachments: tuple[Attachment, ...] = ()


def finding(i: int, rule: str, severity: str, subject_type: str, subject: str, status: str = "open",
            unit: str = "YQ21", **detail: object) -> FindingRow:
    return FindingRow(i, rule, severity, unit, subject_type, subject, None, json.dumps(detail, ensure_ascii=False),
                      status, datetime(2026, 11, 2, 3, 5), date(2026, 11, 16))


def findings() -> list[FindingRow]:
    return [
        finding(101, "ECERT_MISSING", "high", "BDCQZH", "晋(2026)平定县不动产权第0004512号", ywh="YQ21-2026-10-000097",
                szsj="2026-10-12 14:02:00"),
        finding(102, "ECERT_BAD_ID", "low", "ZZID", "ZZ-2026-000771", zzbs=LONG_ZZBS,
                problem="check character 7 should be K"),
        finding(103, "RETURN_UNJUSTIFIED", "medium", "BDC_BYSL.ID", "TH202610000045", status="reopened",
                ywh="YQ21-2026-10-000140", thsj="2026-10-11 10:05:00", thyydm="99", thyy=NASTY),
        finding(104, "CASE_OVERDUE", "medium", "YWH", "YQ21-2026-10-000102", slsj="2026-10-09 09:12:00",
                jssj="2026-10-16 17:30:00", deadline="2026-10-14", djdl="200", gqts=0),
        finding(105, "STAFF_RECORD_INCOMPLETE", "low", "RYBH", "YQ21102", zjh="14030219800101123X", zjh_invalid=1),
    ]


def _unit_digest() -> Sample:
    from bdcwatch.reports.chart import chart_alt, trend_chart_png
    from bdcwatch.reports.common import Chart, CodeBook, DigestContext, SummaryTable
    from bdcwatch.reports.figures import LedgerFigures, UnitFigures
    from bdcwatch.reports.unit_digest import render_unit_digest
    from bdcwatch.rules.online import OnlineShare

    policy = load_policy()
    unit = policy.units["YQ21"]
    points = [("2026-06", 7, 4), ("2026-07", 5, 6), ("2026-08", 9, 5), ("2026-09", 4, 8), ("2026-10", 6, 5),
              ("2026-11", 1, 5)]
    chart = Attachment(f"{INLINE_PREFIX}trend_YQ21.png", trend_chart_png(points))
    figures = UnitFigures(LedgerFigures(9, 2, 5), (412, 409), OnlineShare(38, 101, Fraction(3, 10)))
    context = DigestContext(
        dag_id="monthly_quality_check", run_id=RUN, period_label="2026-10", period_text="2026-10-01 至 2026-11-01（不含）期间",
        as_of=datetime(2026, 11, 1), plan_items="32", title="月度质量评查", supervisor_name="平定县自然资源局",
        ui_base_url="http://airflow.example.org", calendar_warning="部分期限按周一至周五计算，结果可能偏差（2027年法定节假日安排尚未纳入系统）。",
        headline=tuple(figures.headline()), chart=Chart(chart.content_id, chart_alt(points), "近6个月问题趋势"),
        codes=CodeBook.from_policy(policy),
        tables=(SummaryTable("在岗人员构成（岗位）", ("岗位", "人数"), (("受理", 3), ("审核", 2))),),
    )
    digest = render_unit_digest(findings(), unit_code="YQ21", unit_name=unit.name, heads=unit.heads, context=context)
    return Sample("unit_digest", digest.subject, digest.html, (*digest.attachments, chart))


def _complaint_digest() -> Sample:
    """The complaint intake's unit mail: named by the complaints' 受理时间, not its run's window."""
    from bdcwatch.reports.common import CodeBook, DigestContext
    from bdcwatch.reports.unit_digest import render_unit_digest

    policy = load_policy()
    unit = policy.units["YQ21"]
    context = DigestContext(
        dag_id="complaint_intake", run_id=RUN, period_label="2026-10-31..2026-11-01",
        period_text="2026-10-31 至 2026-11-01（不含）期间", as_of=datetime(2026, 11, 1), plan_items="31",
        title="群众反映问题转办", supervisor_name="平定县自然资源局", codes=CodeBook.from_policy(policy),
        dated_by_findings=True,
    )
    complaints = [
        finding(111, "COMPLAINT", "medium", "GDBH", "GD20261029001", source="12345", accepted_at="2026-10-29 09:12:00",
                reported_unit="YQ21", ywh="YQ21-2026-10-000140", kind="投诉", content=NASTY),
        finding(112, "COMPLAINT", "high", "GDBH", "GD20261031007", source="信访", accepted_at="2026-10-31 15:40:00",
                reported_unit="平定县不动产登记中心", ywh=None, kind="举报", content="反映有人代办收费"),
    ]
    digest = render_unit_digest(complaints, unit_code="YQ21", unit_name=unit.name, heads=unit.heads, context=context)
    return Sample("complaint_digest", digest.subject, digest.html, digest.attachments)


def _watch_list() -> Sample:
    from bdcwatch.reports.common import CodeBook, DigestContext
    from bdcwatch.reports.watch_list import render_watch_list

    policy = load_policy()
    unit = policy.units["YQ21"]
    context = DigestContext(dag_id="case_timeliness_watch", run_id=RUN, period_label="2026-10-31..2026-11-01",
                            period_text="", as_of=datetime(2026, 11, 1), plan_items="14、33", title="办件时限预警",
                            supervisor_name="", codes=CodeBook.from_policy(policy))
    digest = render_watch_list(
        unit_code="YQ21", unit_name=unit.name, heads=unit.heads,
        overdue=[{"ywh": "YQ21-2026-10-000311", "djdl": "200", "slsj": "2026-10-20T15:40:00", "deadline": "2026-10-23"}],
        due_soon=[{"ywh": "YQ21-2026-10-000400", "djdl": "700", "slsj": datetime(2026, 10, 30, 9), "deadline": date(2026, 11, 2),
                   "days_left": 1}],
        due_soon_days=1, context=context,
    )
    return Sample("watch_list", digest.subject, digest.html, digest.attachments)


def _escalation() -> Sample:
    from bdcwatch.reports.escalation import render_escalation

    policy = load_policy()
    rows = findings()[:3]
    lines = {103: [HistoryLine("2026-10-20 09:00", "孙丽华", "待整改 → 整改中", f"已约谈经办人 {NASTY}")]}
    subject, html, workbook = render_escalation(
        rows, lines, policy=policy, supervisor_name="平定县自然资源局", heads=policy.supervisors["PINGDING_BUREAU"].heads,
        today=date(2026, 11, 26), ui_base_url="http://airflow.example.org", run_id=RUN, dag_id="case_timeliness_watch")
    return Sample("escalation", subject, html, (Attachment("逾期问题上报.xlsx", workbook),))


def _city_report() -> Sample:
    from bdcwatch.reports.city_report import UnitSummary, render_city_report
    from bdcwatch.reports.common import DigestContext

    policy = load_policy()
    units = [UnitSummary(code, unit.name, 120, 12, findings() if code == "YQ21" else []) for code, unit in policy.units.items()]
    context = DigestContext(dag_id="city_check", run_id=RUN, period_label="2026-H1", period_text="2026年上半年",
                            as_of=datetime(2026, 7, 1), plan_items="34", title="市级排查", supervisor_name="市局")
    report = render_city_report(units, heads=policy.supervisors["CITY_BUREAU"].heads, title="市级排查", context=context)
    return Sample("city_report", report.subject, report.html, report.attachments)


def _six_prohibitions() -> Sample:
    from bdcwatch.reports.six_prohibitions import render_six_prohibitions

    policy = load_policy()
    subject, html, workbook = render_six_prohibitions(
        {("YQ21", "CASE_QUEUE_JUMP"): 2, ("YQ11", "RETURN_UNJUSTIFIED"): 1}, policy=policy, units=sorted(policy.units),
        heads=policy.supervisors["CITY_BUREAU"].heads, period_label="2026-10", period_text="2026年10月",
        dag_id="monthly_quality_check", run_id=RUN)
    return Sample("six_prohibitions", subject, html, (Attachment("六不准月报.xlsx", workbook),))


def _annual() -> Sample:
    from bdcwatch.reports.annual import AnnualRow, city_row, render_annual
    from bdcwatch.reports.figures import LedgerFigures
    from bdcwatch.rules.online import OnlineShare

    policy = load_policy()
    rows = [AnnualRow(code, unit.name, LedgerFigures(9, 2, 30, 41), 3, (4120, 4090), OnlineShare(380, 1010, Fraction(3, 10)),
                      {"monthly_quality_check": 11, "county_self_inspection": 3}, {"CASE_OVERDUE": 12, "ECERT_MISSING": 4},
                      {"city_check": 1, "provincial_spot_check": 0}, closed_of_detected=28)
            for code, unit in policy.units.items()]
    subject, html, workbook = render_annual(rows, heads=policy.supervisors["CITY_BUREAU"].heads, addressee="阳泉市规划和自然资源局",
                                            year_label="2026", period_text="2026-01-01 至 2026-12-15（不含）",
                                            dag_id="annual_summary", run_id=RUN, city=city_row(rows),
                                            as_of_day=date(2026, 12, 15))
    return Sample("annual_summary", subject, html, (Attachment("年度总结.xlsx", workbook),))


def _quarantine() -> Sample:
    from bdcwatch.reports.quarantine_notice import QuarantineRow, render_quarantine_report

    when = datetime(2026, 11, 1, 1, 5)
    zs = json.dumps({"ZSID": "ZS000123", "SZSJ": NASTY}, ensure_ascii=False)
    ry = json.dumps({"RYBH": "YQ21102", "GW": LONG_ZZBS * 2}, ensure_ascii=False)
    entries = [QuarantineRow("BDC_ZS", "ZSID=ZS000123", "SZSJ", "expect_column_values_to_be_null",
                             f"BDC_ZS [ZSID=ZS000123] column SZSJ: value {NASTY!r} — SZSJ must be a valid timestamp", zs, when),
               QuarantineRow("BDC_ZS", "ZSID=ZS000123", "SZSJ", "expect_column_values_to_not_be_null",
                             f"BDC_ZS [ZSID=ZS000123] column SZSJ: value {NASTY!r} — SZSJ is required", zs, when),
               QuarantineRow("RY_JBXX", "RYBH=YQ21102", "GW", "bdcwatch_value_fits_reference_column",
                             f"RY_JBXX [RYBH=YQ21102] column GW: value {LONG_ZZBS * 2!r} — GW does not fit", ry, when),
               QuarantineRow("COMPLAINT", "工单编号=GD2026110003", "被反映单位", "known_unit",
                             f"COMPLAINT [12345.csv 第4行] 列 被反映单位：“{NASTY}”不是策略中的登记机构", "{}", when)]
    report = render_quarantine_report(entries, dag_id="ecert_completeness", run_id=RUN)
    return Sample("quarantine_report", report.subject, report.html)


def _delivery_notice() -> Sample:
    from bdcwatch.reports.common import render_template

    doubt = UnconfirmedMessage(7, "【不动产登记监督】平定县 月度质量评查", ("head.yq21@example.org",), "<x@bdcwatch>",
                               datetime(2026, 11, 1, 3, 10), reason="the connection failed after the message was handed over")
    html = render_template("delivery_notice.html.j2", subject="【bdcwatch 运维】2 封邮件未能确认送达",
                           failed=["某单位 电子证照完整性核查: relay refused recipient(s) gone@example.org (550)"],
                           unconfirmed=[doubt])
    return Sample("delivery_notice", "【bdcwatch 运维】2 封邮件未能确认送达", html)


def _failure_alert() -> Sample:
    from bdcwatch.reports.failure_alert import render_failure_alert

    alert = render_failure_alert(dag_id="ecert_completeness", task_id="load", run_id=RUN, try_number=3,
                                 error=f"SourceSchemaError: BDC_ZS lacks column SZSJ {NASTY}", retried=False,
                                 recipient="ops@example.org")
    return Sample("failure_alert", alert.subject, alert.html)


def _ops_notice() -> Sample:
    from bdcwatch.reports.ops_notice import render_ops_notice

    subject = "【bdcwatch 运维】邮件未能生成：平定县不动产登记中心的问题通知（monthly_quality_check，2026-10）"
    html = render_ops_notice(subject=subject, lead="生成时出错，该邮件本次未发出。", items=["下次运行会再次尝试。"],
                             detail=f"IllegalCharacterError: {NASTY}", dag_id="monthly_quality_check", run_id=RUN,
                             period="2026-10")
    return Sample("ops_notice", subject, html)


KINDS: dict[str, Callable[[], Sample]] = {
    "unit_digest": _unit_digest, "complaint_digest": _complaint_digest, "watch_list": _watch_list, "escalation": _escalation, "city_report": _city_report,
    "six_prohibitions": _six_prohibitions, "annual_summary": _annual, "quarantine_report": _quarantine,
    "delivery_notice": _delivery_notice, "failure_alert": _failure_alert, "ops_notice": _ops_notice,
}
