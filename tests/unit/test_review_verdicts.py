"""Review verdicts on sampled cases (CONTRACT §8, plan item 32): recorded one by one or
from the mailed checklist filled in; 不合格 becomes REVIEW_DEFECT with its own lifecycle;
refused rows are named and nothing is half-applied; every change is in the audit chain."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime

import openpyxl
import pytest
from sqlalchemy import func, select

from bdcwatch.config.policy import load_policy
from bdcwatch.intake.checklist import import_checklist, read_checklist
from bdcwatch.ledger.audit import verify_chain
from bdcwatch.ledger.verdicts import (
    VerdictInput,
    VerdictRefusedError,
    record_verdicts,
    review_progress,
    sample_cases,
    verdict_history,
)
from bdcwatch.reports.quality import quality_checklist
from bdcwatch.store.migrate import make_engine
from bdcwatch.store.models import finding, finding_event, inspection, inspection_sample

NOW = datetime(2026, 4, 10, 15, 30)
SAMPLE = [("YWH-A", "200"), ("YWH-B", "200"), ("YWH-C", "100"), ("YWH-D", "300"), ("YWH-E", "400")]


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url.migrated())
    with engine.begin() as conn:
        conn.execute(inspection.insert().values(
            id=7, cycle="monthly_quality_check", unit_code="YQ21", period="2026-03", population_size=50,
            sample_size=5, findings_count=0, seed="s", started_at=datetime(2026, 4, 1, 3), finished_at=datetime(2026, 4, 1, 3)))
        conn.execute(inspection_sample.insert(), [{"inspection_id": 7, "ywh": y, "djdl": d} for y, d in SAMPLE])
    return engine


def defects(engine):
    with engine.connect() as conn:
        return {r.subject_id: r for r in conn.execute(select(finding).where(finding.c.rule_code == "REVIEW_DEFECT"))}


def counts(engine):
    with engine.connect() as conn:
        row = conn.execute(select(inspection.c.reviewed_count, inspection.c.defective_count)).one()
    return tuple(row)


def test_a_defect_becomes_a_finding_with_its_own_lifecycle(engine):
    policy = load_policy()
    result = record_verdicts(engine, 7, [
        VerdictInput("YWH-A", "合格", "张评查"),
        VerdictInput("YWH-B", " 不合格 ", "张评查", "缺少申请人身份证明 110101199003078515", date(2026, 4, 9)),
    ], actor="李录入", now=NOW, policy=policy)
    assert (result.recorded, result.reviewed, result.defective) == (2, 2, 1)
    assert counts(engine) == (2, 1)
    (defect,) = defects(engine).values()
    assert (defect.subject_id, defect.unit_code, defect.period, defect.severity, defect.status) == (
        "YWH-B", "YQ21", "2026-03", "medium", "open")
    assert "张评查" in defect.detail and "月度质量评查 2026-03" in defect.detail
    assert "110101199003078515" not in defect.detail and "110***" in defect.detail
    assert defect.due_date > NOW.date() and defect.dag_id == "monthly_quality_check"
    assert defect.judged_as_of == datetime(2026, 4, 1)

    # The same verdicts again: nothing changes, nothing is audited.
    with engine.connect() as conn:
        events = conn.execute(select(func.count()).select_from(finding_event)).scalar_one()
    again = record_verdicts(engine, 7, [VerdictInput("YWH-B", "不合格", "张评查", "缺少申请人身份证明 110101199003078515",
                                                     date(2026, 4, 9))], actor="李录入", now=NOW, policy=policy)
    assert (again.recorded, again.unchanged) == (0, 1)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(finding_event)).scalar_one() == events

    # Changed to 合格: the finding is closed (audited); back to 不合格: reopened with a fresh due date.
    record_verdicts(engine, 7, [VerdictInput("YWH-B", "合格", "王复核", "补正后合格")], actor="王复核", now=NOW, policy=policy)
    assert defects(engine)["YWH-B"].status == "closed" and counts(engine) == (2, 0)
    later = datetime(2026, 5, 6, 9)
    record_verdicts(engine, 7, [VerdictInput("YWH-B", "不合格", "赵组长", "复核仍缺材料")], actor="赵组长", now=later,
                    policy=policy)
    reopened = defects(engine)["YWH-B"]
    assert reopened.status == "reopened" and reopened.due_date > later.date() and reopened.notified_outbox_id is None
    with engine.connect() as conn:
        history = verdict_history(conn, 7, "YWH-B")
        assert [(h.from_status, h.to_status, h.actor) for h in history] == [
            (None, "不合格", "李录入"), ("不合格", "合格", "王复核"), ("合格", "不合格", "赵组长")]
        assert verify_chain(conn) == []
        cases = {c.ywh: c for c in sample_cases(conn, 7)}
    assert cases["YWH-B"].verdict == "不合格" and cases["YWH-B"].finding_id == reopened.id
    assert cases["YWH-C"].verdict is None


def test_refused_rows_are_named_and_nothing_is_half_applied(engine):
    with pytest.raises(VerdictRefusedError) as refused:
        record_verdicts(engine, 7, [
            VerdictInput("YWH-A", "不合格", "张评查", "缺材料", row=2),
            VerdictInput("YWH-X", "合格", "张评查", row=3),
            VerdictInput("YWH-C", "基本合格", "张评查", row=4),
            VerdictInput("YWH-D", "合格", "  ", row=5),
            VerdictInput("YWH-E", "不合格", "张评查", "", row=6),
        ], actor="李录入", now=NOW, policy=load_policy())
    rows = sorted(p.row for p in refused.value.problems)
    assert rows == [3, 4, 5, 6]
    message = str(refused.value)
    assert "第3行" in message and "不在本次抽查样本" in message and "基本合格" in message and "缺评查人" in message
    assert defects(engine) == {} and counts(engine) == (0, 0)
    with engine.connect() as conn:
        assert all(c.verdict is None for c in sample_cases(conn, 7))


def checklist_bytes(filled: dict[str, tuple]) -> bytes:
    """The mailed checklist, filled in as a reviewer would in Excel."""
    blank = quality_checklist(SAMPLE, "YQ21", "2026-03").content
    book = openpyxl.load_workbook(io.BytesIO(blank))
    sheet = book["抽查清单"]
    for row in sheet.iter_rows(min_row=2):
        values = filled.get(row[1].value)
        if values:
            for cell, value in zip(row[3:7], values, strict=False):
                cell.value = value
    for extra in filled.get("extra", ()):
        sheet.append(extra)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_the_filled_checklist_is_imported_by_its_file_name(engine):
    data = checklist_bytes({"YWH-A": ("合格", "", "张评查", datetime(2026, 4, 8)),
                            "YWH-C": ("不合格", "登簿信息与申请不符", "张评查", "2026/4/9"),
                            "YWH-D": ("", "", "张评查", "")})  # the reviewer's name written ahead: not reviewed yet
    result, not_reviewed = import_checklist(engine, data, file_name="质量评查抽查清单_YQ21_2026-03 (1).xlsx",
                                            actor="上传人", now=NOW, policy=load_policy())
    assert (result.recorded, not_reviewed) == (2, 3)
    assert set(defects(engine)) == {"YWH-C"}
    with engine.connect() as conn:
        assert {c.ywh: c.reviewed_on for c in sample_cases(conn, 7) if c.verdict} == {
            "YWH-A": date(2026, 4, 8), "YWH-C": date(2026, 4, 9)}
    assert review_progress(engine)["YQ21"][0].unreviewed == 3
    assert review_progress(engine, exclude=[7]) == {}


def test_a_checklist_with_a_stranger_row_and_a_blank_reviewer_is_refused_whole(engine):
    data = checklist_bytes({"YWH-A": ("不合格", "缺少询问笔录", "张评查", ""),
                            "YWH-B": ("合格", "", "", ""),
                            "extra": [(6, "YWH-ZZZ", "200", "合格", "", "张评查", "")]})
    with pytest.raises(VerdictRefusedError) as refused:
        # no usable file name: the inspection is the one whose sample holds most of its cases
        import_checklist(engine, data, file_name="scan.xlsx", actor="上传人", now=NOW, policy=load_policy())
    assert sorted(p.row for p in refused.value.problems) == [3, 7]  # the stranger named by its row (§8)
    assert any(p.row == 7 and p.ywh == "YWH-ZZZ" and "不在" in p.message for p in refused.value.problems)
    assert defects(engine) == {} and counts(engine) == (0, 0)


def test_a_checklist_of_cases_in_no_sample_names_every_row(engine):
    data = checklist_bytes({"extra": [(6, "YWH-ZZZ", "200", "合格", "", "张评查", ""),
                                      (7, "YWH-YYY", "200", "不合格", "缺材料", "张评查", "")]})
    with pytest.raises(VerdictRefusedError) as refused:
        import_checklist(engine, data, file_name="scan.xlsx", actor="上传人", now=NOW, policy=load_policy())
    assert sorted((p.row, p.ywh) for p in refused.value.problems) == [(7, "YWH-ZZZ"), (8, "YWH-YYY")]
    assert defects(engine) == {} and counts(engine) == (0, 0)


def test_not_a_workbook_and_missing_columns_are_refused():
    with pytest.raises(VerdictRefusedError, match="不是可读的 XLSX"):
        read_checklist(b"not a zip")
    book = openpyxl.Workbook()
    book.active.append(["业务号", "结论"])
    buffer = io.BytesIO()
    book.save(buffer)
    with pytest.raises(VerdictRefusedError, match="评查结论、评查人"):
        read_checklist(buffer.getvalue())


def test_a_checklist_cut_short_is_refused_and_a_reviewer_id_number_is_masked(engine):
    """A workbook whose sheet was cut short in transfer is refused as a file (it crashed the
    import); a reviewer who wrote an ID number after the name has it masked where it is
    kept (the sample and the audit trail, §6)."""
    data = checklist_bytes({"YWH-A": ("合格", "", "张评查 110101199003078515", datetime(2026, 4, 8))})
    cut = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as whole, zipfile.ZipFile(cut, "w") as part:
        for item in whole.infolist():
            content = whole.read(item)
            part.writestr(item, content[: len(content) // 2] if "worksheets/sheet" in item.filename else content)
    with pytest.raises(VerdictRefusedError, match="不是可读的 XLSX"):
        import_checklist(engine, cut.getvalue(), file_name="质量评查抽查清单_YQ21_2026-03.xlsx", actor="上传人",
                         now=NOW, policy=load_policy())
    import_checklist(engine, data, file_name="质量评查抽查清单_YQ21_2026-03.xlsx", actor="上传人", now=NOW,
                     policy=load_policy())
    with engine.connect() as conn:
        reviewers = {c.reviewer for c in sample_cases(conn, 7) if c.verdict}
        notes = " ".join(conn.execute(select(finding_event.c.note)).scalars())
    assert reviewers == {"张评查 110*************15"}
    assert "110101199003078515" not in notes and "张评查 110*************15" in notes


def test_a_title_a_reviewer_typed_above_the_header_is_skipped_and_rows_keep_their_numbers(engine):
    """A checklist re-saved with a title row inserted above the header (and a blank row
    between two cases): read from the header down, each refusal naming the row Excel shows."""
    data = checklist_bytes({"YWH-A": ("合格", "", "张评查", ""), "YWH-B": ("合格", "", "", "")})
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book["抽查清单"]
    sheet.insert_rows(1)
    sheet["A1"] = "阳泉市第一登记所 2026年3月 质量评查抽查清单（已评查）"
    buffer = io.BytesIO()
    book.save(buffer)
    with pytest.raises(VerdictRefusedError) as refused:
        import_checklist(engine, buffer.getvalue(), file_name="质量评查抽查清单_YQ21_2026-03.xlsx", actor="上传人",
                         now=NOW, policy=load_policy())
    assert [(p.row, p.ywh) for p in refused.value.problems] == [(4, "YWH-B")]  # 缺评查人, on row 4 as Excel shows


def test_a_reviewer_longer_than_kept_is_refused_by_row_and_the_same_checklist_later_changes_nothing(engine):
    """A pasted paragraph as 评查人 crashed the import on PostgreSQL/MariaDB (varchar(100)):
    refused naming its row. The same checklist with blank 评查日期 imported again days later
    is unchanged (it rewrote the date to the upload day and logged a change)."""
    from datetime import timedelta

    long = checklist_bytes({"YWH-A": ("合格", "", "张" * 101, "")})
    with pytest.raises(VerdictRefusedError) as refused:
        import_checklist(engine, long, file_name="质量评查抽查清单_YQ21_2026-03.xlsx", actor="上传人", now=NOW,
                         policy=load_policy())
    assert [(p.row, "评查人过长" in p.message) for p in refused.value.problems] == [(2, True)]
    same = checklist_bytes({"YWH-A": ("合格", "", "张评查", ""), "YWH-C": ("不合格", "缺材料", "张评查", "")})
    first, _ = import_checklist(engine, same, file_name="质量评查抽查清单_YQ21_2026-03.xlsx", actor="上传人", now=NOW,
                                policy=load_policy())
    again, _ = import_checklist(engine, same, file_name="质量评查抽查清单_YQ21_2026-03.xlsx", actor="另一人",
                                now=NOW + timedelta(days=4), policy=load_policy())
    assert (first.recorded, again.recorded, again.unchanged) == (2, 0, 2)
    with engine.connect() as conn:
        assert {c.reviewed_on for c in sample_cases(conn, 7) if c.verdict} == {NOW.date()}


def test_control_characters_in_a_verdict_are_dropped_on_every_database(engine):
    """A NUL pasted into a description or reviewer: PostgreSQL refused it (a 500)."""
    record_verdicts(engine, 7, [VerdictInput("YWH-B", "不合格", "张\x00评查", "缺少\x00材料\u202e")],
                    actor="李录入", now=NOW, policy=load_policy())
    with engine.connect() as conn:
        case = next(c for c in sample_cases(conn, 7) if c.ywh == "YWH-B")
    assert (case.reviewer, case.description) == ("张评查", "缺少材料")


def test_an_18_digit_case_number_survives_the_mailed_checklist():
    """A vendor's 18-digit 业务号 (date and serial) was masked in the checklist as if an ID
    number: reviewers could not find the file and every returned row was refused (§6 lets
    case numbers appear)."""
    attachment = quality_checklist([("202610090000000648", "200")], "YQ21", "2026-10")
    sheet = openpyxl.load_workbook(io.BytesIO(attachment.content))["抽查清单"]
    assert sheet["B2"].value == "202610090000000648"
    assert read_checklist(attachment.content).not_reviewed == 1  # read back by the same number
