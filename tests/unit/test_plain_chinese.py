"""Every word a head reads is Chinese and means something to a head (issue 11): periods,
statuses, code lists by name, the e-certificate identifier problems, the calendar banner,
and the trend chart by the month the problem happened."""

from __future__ import annotations

import json
import re
from datetime import date, datetime

import pytest
from sqlalchemy import select

from bdcwatch.config.policy import load_policy
from bdcwatch.config.run import RunContext
from bdcwatch.ledger.findings import FindingRow, record_findings
from bdcwatch.reports.common import finding_when
from bdcwatch.reports.figures import last_months, monthly_trend
from bdcwatch.reports.labels import (
    CodeBook,
    calendar_banner,
    detail_text,
    identifier_problem_text,
    period_text,
    status_text,
    subject_type_text,
    when_text,
)
from bdcwatch.standards.identifiers import ecert_identifier_problem, make_ecert_identifier
from bdcwatch.store.migrate import make_engine
from bdcwatch.store.models import finding


def test_periods_statuses_and_subject_types_in_plain_chinese():
    assert [period_text(p) for p in ("2026-03", "2026-Q1", "2026-H2", "2026", "2026-03-01..2026-04-15")] == [
        "2026年3月", "2026年第1季度", "2026年下半年", "2026年", "2026-03-01至2026-04-14"]
    assert [status_text(s) for s in ("open", "rectifying", "closed", "reopened")] == ["待整改", "整改中", "已销号", "复发待整改"]
    assert subject_type_text("BDCQZH") == "不动产权证书/证明号" and subject_type_text("YWH") == "业务号"


def test_the_period_column_is_never_empty():
    detail = json.dumps({"szsj": "2026-10-12 14:02:00"})
    detected = datetime(2026, 12, 3, 1, 0)
    assert when_text("ECERT_MISSING", None, detail, detected) == "2026-10-12"  # the day the problem happened
    assert when_text("ONLINE_RATIO_LOW", "2026-Q3", "{}", detected) == "2026年第3季度"
    assert when_text("STAFF_RECORD_INCOMPLETE", None, "{}", detected) == "2026-12-03（发现）"


@pytest.mark.parametrize("zzbs, zzlxdm", [
    ("", "11100000MB03271699022"),
    ("not-an-identifier", "11100000MB03271699022"),
    (make_ecert_identifier("11100000MB03271699022", "140302", 7), "11100000MB03271699001"),
    (make_ecert_identifier("11100000MB03271699022", "140302", 7)[:-1] + "0", "11100000MB03271699022"),
])
def test_every_identifier_problem_reads_in_chinese(zzbs, zzlxdm):
    problem = ecert_identifier_problem(zzbs, zzlxdm)
    if problem is None:  # the corrupted check character happened to be right
        pytest.skip("vector is valid")
    shown = identifier_problem_text(problem)
    assert shown != problem and not re.search(r"\b[a-z]{3,}\b", shown), shown


def test_code_lists_are_shown_by_name():
    codes = CodeBook.from_policy(load_policy())
    assert codes.djdl_name("200") == "转移登记（200）" and codes.djdl_name(200) == "转移登记（200）"
    assert codes.qllx_name("37") == "抵押权（37）" and codes.qllx_name("23") == "抵押权（23）"
    assert codes.qllx_name("37.0") == "抵押权（37）"  # a float column's code is still the code
    assert codes.reason_name("01") == "申请材料不齐全或不符合法定形式（01）"
    assert codes.reason_name("99") == "代码 99（不在法定退件理由清单中）"
    assert codes.djdl_name(None) == "（空）"
    line = detail_text("CASE_OVERDUE", json.dumps({"slsj": "2026-10-09T09:12:00", "djdl": "800", "gqts": 0}), codes)
    assert line == "受理时间：2026-10-09 09:12；登记大类：查封登记（800）；挂起天数：0"
    behind = detail_text("STAFF_TRAINING_BEHIND", json.dumps({"passed_hours": 8.0, "months": 11,
                                                               "required": 40 * 11 / 12}), codes)
    assert behind == "合格学时：8；计入月数：11；应达学时：36.67"  # not 36.6666666666667
    returned = detail_text("RETURN_UNJUSTIFIED", json.dumps({"thyydm": "07"}), codes)
    assert returned == "退件理由代码：法律、行政法规规定不予登记的其他情形（07）"


def test_the_calendar_banner_speaks_to_heads_not_to_operations():
    banner = calendar_banner([2027])
    assert "部分期限按周一至周五计算，结果可能偏差" in banner and "2027" in banner
    assert "运维" not in banner and "策略文件" not in banner and "calendar" not in banner
    assert calendar_banner([]) is None


def test_the_trend_counts_a_problem_in_the_month_it_happened(database_url):
    engine = make_engine(database_url.migrated())

    def record(rule: str, subject: str, detail: dict, now: datetime, asof: datetime | None = None) -> None:
        params = {"s": subject, "d": json.dumps(detail), **({"asof": asof} if asof else {})}
        with engine.begin() as conn:
            record_findings(conn, rule_code=rule, severity="high", subject_type="BDCQZH", period=None,
                            due_date=date(2027, 1, 5), select_sql="SELECT :s AS subject_id, 'YQ00' AS unit_code, :d AS detail",
                            params=params, ctx=RunContext("ecert_completeness", f"run-{subject}", now))

    december = datetime(2026, 12, 3, 1, 0)
    record("ECERT_MISSING", "Z1", {"zsid": "1", "ywh": "Y1", "bdcqzh": "Z1", "szsj": "2026-10-15 10:00:00"}, december)
    record("CASE_OVERDUE_OPEN", "Y2", {"slsj": "2026-09-01T08:00:00", "deadline": "2026-09-04", "djdl": "200", "gqts": 0},
           december)
    record("STAFF_RECORD_INCOMPLETE", "R3", {"zjh": None}, december)  # a state, no date: the detection month
    # a state judged over November (as of 12-01): November's, as the ledger's 所属期间 says
    record("ECERT_MISMATCH", "Z4", {"bdcqzh": "Z4"}, december, asof=datetime(2026, 12, 1))
    trend = {label: happened for label, happened, _ in monthly_trend(engine, last_months(date(2026, 12, 3)))["YQ00"]}
    assert trend == {"2026-07": 0, "2026-08": 0, "2026-09": 1, "2026-10": 1, "2026-11": 1, "2026-12": 1}
    with engine.connect() as conn:
        row = conn.execute(select(finding).where(finding.c.subject_id == "Z4")).one()
    assert finding_when(FindingRow.from_row(row)) == "2026-11-30"  # the mail's 所属期间 = the UI's
