"""The demo's complaint exports and half-filled checklists go through the real intake:
GB18030 and UTF-8-with-BOM files, an unknown unit quarantined, a ticket exported twice
updated once; about half of each sample judged."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import yaml
from sqlalchemy import select

from bdcwatch.config.policy import load_policy, parse_policy
from bdcwatch.config.run import Job, RunContext, RunSpec
from bdcwatch.demo.feedback import fill_checklists, write_complaints
from bdcwatch.demo.generator import generate
from bdcwatch.intake.checklist import import_checklist
from bdcwatch.intake.complaints import take_in
from bdcwatch.store.migrate import make_engine
from bdcwatch.store.models import finding, inspection, inspection_sample
from tests.support import arrived_earlier


def test_demo_complaints_and_checklists(tmp_path):
    start, end = date(2026, 10, 1), date(2026, 11, 1)
    registration = f"sqlite:///{tmp_path / 'registration.db'}"
    generate(registration, registration, registration, size=150, seed=5, period_start=start, period_end=end)
    folder = tmp_path / "complaints"
    hotline, rating = write_complaints(registration, folder, start, end)
    assert hotline.read_bytes().decode("gb18030").startswith("工单编号") and rating.read_bytes()[:3] == b"\xef\xbb\xbf"

    engine = make_engine(f"sqlite:///{tmp_path / 'supervision.db'}")
    from bdcwatch.store.migrate import migrate

    migrate(engine)
    raw = yaml.safe_load(Path(load_policy().source.removesuffix(" (bundled default)")).read_text(encoding="utf-8"))
    raw["intake"] = {"complaints_dir": str(folder)}
    policy = parse_policy(raw, "test")
    arrived_earlier(folder)
    report = take_in(Job(RunSpec(period_start=start, period_end=end), policy, engine,
                         RunContext("complaint_intake", "r", datetime(2026, 11, 2, 9))))
    assert sum(f.new for f in report.files) == 6 and sum(f.updated for f in report.files) == 1
    assert sum(f.quarantined for f in report.files) == 1
    with engine.connect() as conn:
        details = [r.detail for r in conn.execute(select(finding.c.detail))]
    assert any("140***" in d for d in details) and not any("140302198803127719" in d for d in details)

    with engine.begin() as conn:
        conn.execute(inspection.insert().values(id=1, cycle="monthly_quality_check", unit_code="YQ00", period="2026-10",
                                                population_size=100, sample_size=20, findings_count=0, seed="s",
                                                started_at=datetime(2026, 11, 1, 3)))
        conn.execute(inspection_sample.insert(), [{"inspection_id": 1, "ywh": f"Y{i:03d}", "djdl": "200"}
                                                  for i in range(20)])
    (checklist,) = fill_checklists(f"sqlite:///{tmp_path / 'supervision.db'}", tmp_path / "reviews")
    result, not_reviewed = import_checklist(engine, checklist.read_bytes(), file_name=checklist.name, actor="演示",
                                            now=datetime(2026, 11, 3, 10), policy=policy)
    assert 0 < result.recorded < 20 and result.recorded + not_reviewed == 20
    import openpyxl  # every 不合格 the reviewers wrote became a defect, no more

    cells = [c for row in openpyxl.load_workbook(checklist, read_only=True).active.iter_rows(values_only=True) for c in row]
    assert result.defective == cells.count("不合格")
