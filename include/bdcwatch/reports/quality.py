"""The hand-review side of a sampling cycle (plan item 32): each unit's checklist of
sampled cases (XLSX with empty verdict columns) and the cycle's unit digests."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlalchemy import select

from bdcwatch.config.run import Job
from bdcwatch.ledger.cycles import Samples
from bdcwatch.ledger.findings import Evaluation
from bdcwatch.mail.sender import Attachment
from bdcwatch.reports import unit_digest
from bdcwatch.store.models import inspection_sample


def quality_checklist(sample: Sequence[tuple[str, str]], unit_code: str, period_label: str) -> Attachment:
    """The hand-review checklist of a monthly quality check: one row per sampled case,
    with empty columns for the reviewer's verdict (item 32)."""
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




def compose(
    job: Job, evaluation: Evaluation, samples: Samples, *, tables: Sequence[str], title: str = "月度质量评查",
    plan_items: str = "32",
) -> list[int]:
    """A sampling cycle's digests: each unit gets its new findings and its checklist."""
    engine, spec = job.engine, job.spec

    def checklist(unit_code: str) -> list[Attachment]:
        drawn = samples.units.get(unit_code)
        if drawn is None:
            return []
        with engine.connect() as conn:
            rows = conn.execute(
                select(inspection_sample.c.ywh, inspection_sample.c.djdl)
                .where(inspection_sample.c.inspection_id == drawn.inspection_id)
                .order_by(inspection_sample.c.ywh)
            ).all()
        return [quality_checklist([(r.ywh, r.djdl) for r in rows], unit_code, spec.period_label)]

    def headline(unit_code: str) -> list[tuple[str, Any, str]]:
        drawn = samples.units.get(unit_code)
        population, sample = (drawn.population, drawn.sample) if drawn else (0, 0)
        return [("期内办结", population, "#1f4e79"), ("抽查评查", sample, "#2e7d32")]

    return unit_digest.compose(
        job, evaluation, title=title, plan_items=plan_items, headline_for=headline, attachments_for=checklist,
        always_units=[u for u, d in samples.units.items() if d.sample],
        figures=[name for name, table in (("ecert", "BDC_ZS"), ("online", "DJT_DJ_SL")) if table in tables],
    )
