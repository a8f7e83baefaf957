"""The digest render is pure: check the content people read, not just that it exists."""

from __future__ import annotations

import io
import json
from datetime import date, datetime

import openpyxl
import pytest

from bdcwatch import rules
from bdcwatch.config.policy import load_policy
from bdcwatch.reports.common import DigestContext, FindingRow
from bdcwatch.reports.unit_digest import render_unit_digest

ID_NUMBER = "14030219800101123X"


def row(i: int, rule: str = "ECERT_MISSING", severity: str = "high", unit: str = "YQ00", **detail) -> FindingRow:
    return FindingRow(
        id=i, rule_code=rule, severity=severity, unit_code=unit, subject_type="BDCQZH",
        subject_id=f"晋(2026)阳泉市不动产权第{i:07d}号", period=None,
        detail=json.dumps(detail or {"ywh": f"YWH{i}", "szsj": "2026-03-10 10:00:00"}, ensure_ascii=False),
        status="open", first_detected_at=datetime(2026, 4, 1, 1, 5), due_date=date(2026, 4, 15),
    )


def context() -> DigestContext:
    return DigestContext(
        dag_id="ecert_completeness", run_id="scheduled__2026-04-01", period_label="2026-03",
        period_text="2026-03-01 至 2026-04-01（不含）期间", as_of=datetime(2026, 4, 1), plan_items="16",
        title="电子证照完整性核查", supervisor_name="阳泉市规划和自然资源局", ui_base_url="http://127.0.0.1:8080",
        headline=(("电子证照覆盖率", "98.5%", "#2e7d32"),),
    )


def test_digest_content_counts_table_and_masking():
    policy = load_policy()
    unit = policy.units["YQ00"]
    findings = [row(1), row(2, "ECERT_LATE", "medium"), row(3, "ECERT_BAD_ID", "low", problem=f"持证人 {ID_NUMBER}")]
    digest = render_unit_digest(findings, unit_code="YQ00", unit_name=unit.name, heads=unit.heads, context=context())
    assert "阳泉市不动产登记中心" in digest.subject and "新发现问题 3 条" in digest.subject
    html = digest.html
    assert "王建国" in html and "李晓梅" in html
    assert "98.5%" in html and "电子证照覆盖率" in html
    titles = [rules.title(code) for code in ("ECERT_MISSING", "ECERT_LATE", "ECERT_BAD_ID")]
    assert html.index(titles[0]) < html.index(titles[1]) < html.index(titles[2])  # high first
    assert "晋(2026)阳泉市不动产权第0000001号" in html  # certificate numbers may appear
    assert ID_NUMBER not in html and "140*************3X" in html
    # Each finding carries its id, linked to its page in the operations UI.
    assert '<a href="http://127.0.0.1:8080/bdcwatch/ui/findings/2" style="color:#1f4e79;">2</a>' in html
    assert "/dags/" not in html


def test_a_pasted_document_is_cut_in_the_body_and_kept_in_the_workbook():
    """A 1 MB return reason made an 8 MB message (60 such findings: a digest the relay
    refused for good): the body shows its first 2,000 characters and says so; the
    workbook keeps up to Excel's cell limit."""
    policy = load_policy()
    unit = policy.units["YQ00"]
    pasted = "退件说明" * 250_000  # 1,000,000 characters
    digest = render_unit_digest([row(1, "RETURN_UNJUSTIFIED", "medium", ywh="Y1", thsj="2026-03-11 10:05:00",
                                     thyydm="99", thyy=pasted)], unit_code="YQ00",
                                unit_name=unit.name, heads=unit.heads, context=context())
    assert len(digest.html) < 60_000 and "字，已截断" in digest.html and "退件说明" * 400 in digest.html
    sheet = openpyxl.load_workbook(io.BytesIO(digest.attachments[0].content)).active
    assert max(len(str(c.value or "")) for r in sheet.iter_rows() for c in r) == 32_767


def test_workbook_lists_every_finding_masked():
    policy = load_policy()
    unit = policy.units["YQ21"]
    findings = [row(i, unit="YQ21", problem=f"证件 {ID_NUMBER}") for i in range(1, 251)]
    digest = render_unit_digest(findings, unit_code="YQ21", unit_name=unit.name, heads=unit.heads, context=context())
    assert "完整清单见附件" in digest.html  # body truncated, workbook complete
    (attachment,) = digest.attachments
    assert attachment.filename.endswith(".xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(attachment.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("编号", "问题", "规则代码", "等级")
    assert len(rows) == 251
    assert all(ID_NUMBER not in " ".join(str(v) for v in r) for r in rows)
    assert rows[1][2] == "ECERT_MISSING" and rows[1][3] == "高"


def test_a_unit_digest_refuses_other_units_findings():
    policy = load_policy()
    unit = policy.units["YQ00"]
    with pytest.raises(ValueError, match="other units"):
        render_unit_digest([row(1), row(2, unit="YQ11")], unit_code="YQ00", unit_name=unit.name,
                           heads=unit.heads, context=context())


def test_a_provinces_finding_links_name_the_city():
    """In a province each city has its own ledger and ids: a link names its city (CONTRACT
    §7's page, plus ?city=); one city's links stay exactly the contract's."""
    from bdcwatch.reports.common import finding_url

    assert finding_url("https://bdc.example/", 42) == "https://bdc.example/bdcwatch/ui/findings/42"
    assert finding_url("https://bdc.example", 42, "1403") == "https://bdc.example/bdcwatch/ui/findings/42?city=1403"
    assert finding_url(None, 42, "1403") is None and finding_url("https://bdc.example", 0, "1403") is None


def complaint(i: int, accepted_at: str | None) -> FindingRow:
    detail = {"source": "12345", "accepted_at": accepted_at, "reported_unit": "YQ21", "ywh": None, "kind": "投诉",
              "content": f"第{i}件：窗口要求重复提交材料"}
    return FindingRow(
        id=i, rule_code="COMPLAINT", severity="medium", unit_code="YQ21", subject_type="GDBH",
        subject_id=f"GD2026113000{i}", period=None, detail=json.dumps(detail, ensure_ascii=False), status="open",
        first_detected_at=datetime(2026, 12, 1, 0, 5), due_date=date(2026, 12, 15),
    )


def intake_context() -> DigestContext:
    """The hourly complaint intake's run: its window says nothing about when the complaints came in."""
    return DigestContext(
        dag_id="complaint_intake", run_id="scheduled__2026-12-01T00:00:00+08:00", period_label="2026-11-30..2026-12-01",
        period_text="2026-11-30 至 2026-12-01（不含）期间", as_of=datetime(2026, 12, 1), plan_items="31",
        title="群众反映问题转办", supervisor_name="平定县自然资源局", dated_by_findings=True,
    )


def test_a_complaint_digest_is_named_by_the_complaints_received_dates():
    """Operator review: a head wants to know which complaints these are, by their 受理时间,
    not by the intake run's window (kept as a secondary line)."""
    unit = load_policy().units["YQ21"]
    findings = [complaint(1, "2026-11-30 09:12:00"), complaint(2, "2026-11-28 16:40:00"),
                complaint(3, "2026-11-29 10:00:00")]
    digest = render_unit_digest(findings, unit_code="YQ21", unit_name=unit.name, heads=unit.heads,
                                context=intake_context())
    assert digest.subject == f"【不动产登记监督】{unit.name} 群众反映问题转办（受理时间 2026-11-28 至 2026-11-30）：新发现问题 3 条"
    assert "问题转办如下（受理时间 2026-11-28 至 2026-11-30）" in digest.html
    assert "转办批次：2026-11-30 至 2026-12-01（不含）期间" in digest.html and "本次转办问题（3 条）" in digest.html
    assert "数据进行了核查" not in digest.html
    (attachment,) = digest.attachments  # the workbook is named as the mail is dated
    assert attachment.filename == "complaint_intake_YQ21_2026-11-28_2026-11-30.xlsx"

    one_day = render_unit_digest([complaint(1, "2026-11-30 09:12:00"), complaint(2, "2026-11-30 15:00:00"),
                                  complaint(3, None)], unit_code="YQ21", unit_name=unit.name, heads=unit.heads,
                                 context=intake_context())
    assert "（受理时间 2026-11-30）" in one_day.subject and "2026-12-01" not in one_day.subject
    assert one_day.attachments[0].filename == "complaint_intake_YQ21_2026-11-30.xlsx"
    assert "（受理时间 2026-11-30；另有 1 条未注明受理时间）" in one_day.html

    # Without a received date at all, the run's window names the mail as before.
    undated = render_unit_digest([complaint(1, None)], unit_code="YQ21", unit_name=unit.name, heads=unit.heads,
                                 context=intake_context())
    assert "（2026-11-30..2026-12-01）" in undated.subject and "数据进行了核查" in undated.html
