"""The operator commands that feed the engine (CONTRACT §8): verdicts, checklists, duty
evidence and complaint files, on a real supervision database."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import openpyxl
import yaml
from sqlalchemy import select

from bdcwatch.cli import main
from bdcwatch.config.policy import load_policy
from bdcwatch.reports.quality import quality_checklist
from bdcwatch.store.migrate import make_engine
from bdcwatch.store.models import duty_evidence, finding, inspection, inspection_sample


def seeded(sqlite_url):
    url = sqlite_url.migrated()
    with make_engine(url).begin() as conn:
        conn.execute(inspection.insert().values(
            id=3, cycle="monthly_quality_check", unit_code="YQ11", period="2026-03", population_size=30,
            sample_size=2, findings_count=0, seed="s", started_at=datetime(2026, 4, 1, 3)))
        conn.execute(inspection_sample.insert(), [{"inspection_id": 3, "ywh": y, "djdl": "200"} for y in ("A1", "A2")])
    return url


def test_review_record_list_and_import(sqlite_url, tmp_path, capsys):
    url = seeded(sqlite_url)
    assert main(["--url", url, "review", "record", "3", "A1", "--verdict", "不合格", "--reviewer", "张三",
                 "--description", "缺少身份证明", "--actor", "李四"]) == 0
    assert "REVIEW_DEFECT findings: 1" in capsys.readouterr().out
    assert main(["--url", url, "review", "record", "3", "ZZ9", "--verdict", "合格", "--reviewer", "张三",
                 "--actor", "李四"]) == 2
    err = capsys.readouterr().err
    assert "不在本次抽查样本" in err and "nothing was recorded" in err
    assert main(["--url", url, "review", "list"]) == 0
    assert "月度质量评查 2026-03（批次 3）\t抽查 2\t已评查 1\t不合格 1" in capsys.readouterr().out
    book = openpyxl.load_workbook(io.BytesIO(quality_checklist([("A1", "200"), ("A2", "200")], "YQ11", "2026-03").content))
    book.active["D3"], book.active["F3"] = "合格", "王五"
    path = tmp_path / "质量评查抽查清单_YQ11_2026-03.xlsx"
    book.save(path)
    assert main(["--url", url, "review", "import", str(path), "--actor", "上传人"]) == 0
    assert "1 verdict(s) recorded" in capsys.readouterr().out
    assert main(["--url", url, "review", "list", "--inspection", "3"]) == 0
    out = capsys.readouterr().out
    assert "A1\t200\t不合格\t张三" in out and "A2\t200\t合格\t王五" in out
    with make_engine(url).connect() as conn:
        assert conn.execute(select(finding.c.rule_code, finding.c.subject_id)).all() == [("REVIEW_DEFECT", "A1")]


def test_duty_record_and_list(sqlite_url, tmp_path, capsys):
    url = sqlite_url.migrated()
    photo = tmp_path / "演练照片.jpg"
    photo.write_bytes(b"\xff\xd8\xff photo")
    assert main(["--url", url, "duty", "record", "EMERGENCY_DRILL", "YQ11", "--date", "2026-05-20", "--note",
                 "窗口应急演练", "--file", str(photo), "--actor", "李四"]) == 0
    assert main(["--url", url, "duty", "record", "NO_SUCH", "YQ11", "--date", "2026-05-20", "--note", "x",
                 "--actor", "李四"]) == 2
    assert main(["--url", url, "duty", "list", "--year", "2026", "--unit", "YQ11"]) == 0
    out = capsys.readouterr().out
    assert "YQ11\tEMERGENCY_DRILL\t窗口应急演练\t2026\t2026-12-31\t1/1\t已完成" in out
    assert "YQ11\tWARNING_EDUCATION" in out
    with make_engine(url).connect() as conn:
        assert conn.execute(select(duty_evidence.c.file_name)).scalar_one() == "演练照片.jpg"


def test_complaints_drop(sqlite_url, tmp_path, monkeypatch, capsys):
    raw = yaml.safe_load(Path(load_policy().source.removesuffix(" (bundled default)")).read_text(encoding="utf-8"))
    raw["intake"] = {"complaints_dir": "inbox"}
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("BDCWATCH_POLICY", str(policy))
    export = tmp_path / "12345.csv"
    export.write_bytes("工单编号,被反映单位,内容\nGD1,YQ11,x\n".encode("gb18030"))
    assert main(["--url", sqlite_url.migrated(), "complaints", "drop", str(export)]) == 0
    assert (tmp_path / "inbox" / "12345.csv").read_bytes() == export.read_bytes()
    assert "waiting for the next complaint_intake run" in capsys.readouterr().out
    export.rename(tmp_path / "notes.txt")
    assert main(["--url", sqlite_url.migrated(), "complaints", "drop", str(tmp_path / "notes.txt")]) == 2


def test_a_missing_or_unreadable_file_is_one_line_not_a_traceback(sqlite_url, tmp_path, capsys):
    url = sqlite_url("supervision")
    assert main(["--url", url, "migrate"]) == 0
    capsys.readouterr()
    for argv in (["review", "import", str(tmp_path / "不存在.xlsx"), "--actor", "李四"],
                 ["complaints", "drop", str(tmp_path)]):
        assert main(["--url", url, *argv]) == 2, argv
        err = capsys.readouterr().err
        assert "无法读取文件" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_a_period_that_is_none_is_refused_not_an_empty_list(sqlite_url, capsys):
    url = sqlite_url("supervision")
    assert main(["--url", url, "migrate"]) == 0
    capsys.readouterr()
    assert main(["--url", url, "review", "list", "--period", "2026-99"]) == 2
    assert "不是期间" in capsys.readouterr().err
    assert main(["--url", url, "finding", "list", "--period", "2026年3月"]) == 2
    assert "不是期间" in capsys.readouterr().err
