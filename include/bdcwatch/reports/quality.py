"""The hand-review side of a sampling cycle (plan item 32): each unit's checklist of
sampled cases (XLSX with empty verdict columns) and the cycle's unit digests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from bdcwatch.config.run import Job
from bdcwatch.ledger.cycles import Samples, unit_sample
from bdcwatch.ledger.findings import Evaluation
from bdcwatch.mail.sender import Attachment
from bdcwatch.reports import unit_digest
from bdcwatch.reports.common import CodeBook, SummaryTable
from bdcwatch.reports.workbooks import workbook
from bdcwatch.safe_text import Verbatim
from bdcwatch.store.models import inspection_sample


def quality_checklist(sample: Sequence[tuple[str, str]], unit_code: str, period_label: str,
                      codes: CodeBook | None = None) -> Attachment:
    """The hand-review checklist of a monthly quality check: one row per sampled case
    (登记大类 by name), with empty columns for the reviewer's verdict (item 32)."""
    book = codes or CodeBook()
    header = ("序号", "业务号", "登记大类", "评查结论（合格/不合格）", "问题描述", "评查人", "评查日期")
    # The 业务号 as written (``Verbatim``): an 18-digit vendor case number masked as if an ID
    # number left reviewers unable to find the file and every returned row refused.
    rows = [(i, Verbatim(ywh), book.djdl_name(djdl), "", "", "", "") for i, (ywh, djdl) in enumerate(sample, start=1)]
    content = workbook({"抽查清单": (header, rows)}, widths={"抽查清单": (6, 24, 16, 24, 40, 10, 12)})
    return Attachment(f"质量评查抽查清单_{unit_code}_{period_label}.xlsx", content)




def compose(
    job: Job, evaluation: Evaluation, samples: Samples, *, tables: Sequence[str], title: str = "月度质量评查",
    plan_items: str = "32",
) -> list[int]:
    """A sampling cycle's digests: each unit gets its new findings and its checklist."""
    engine, spec = job.engine, job.spec
    codes = CodeBook.from_policy(job.policy)

    def checklist(unit_code: str) -> list[Attachment]:
        drawn = samples.units.get(unit_code)
        if drawn is None:
            return []
        if not drawn.inspection_id:  # a dry run's draw, not recorded: the same draw again
            return [quality_checklist(unit_sample(job, unit_code)[1], unit_code, spec.period_label, codes)]
        with engine.connect() as conn:
            rows = conn.execute(
                select(inspection_sample.c.ywh, inspection_sample.c.djdl)
                .where(inspection_sample.c.inspection_id == drawn.inspection_id)
                .order_by(inspection_sample.c.ywh)
            ).all()
        return [quality_checklist([(r.ywh, r.djdl) for r in rows], unit_code, spec.period_label, codes)]

    # Earlier samples still waiting for verdicts (CONTRACT §8): the next cycle tells each unit.
    from bdcwatch.ledger.verdicts import CYCLE_NAMES, review_progress

    progress = review_progress(engine, exclude=[d.inspection_id for d in samples.units.values()])

    def headline(unit_code: str) -> list[tuple[str, Any, str]]:
        drawn = samples.units.get(unit_code)
        population, sample = (drawn.population, drawn.sample) if drawn else (0, 0)
        waiting = sum(p.unreviewed for p in progress.get(unit_code, []))
        cards: list[tuple[str, Any, str]] = [("期内办结", population, "#1f4e79"), ("抽查评查", sample, "#2e7d32")]
        return cards + ([("往期待评查", waiting, "#c62828")] if waiting else [])

    def review_tables(unit_code: str) -> list[SummaryTable]:
        waiting = progress.get(unit_code, [])
        if not waiting:
            return []
        return [SummaryTable("以往抽查尚未评查完毕（请评查后上传已填写的抽查清单）",
                             ("评查", "期间", "抽查案件", "已评查", "其中不合格", "待评查"),
                             tuple((CYCLE_NAMES.get(p.cycle, p.cycle), p.period, p.sampled, p.reviewed, p.defective,
                                    p.unreviewed) for p in waiting))]

    return unit_digest.compose(
        job, evaluation, title=title, plan_items=plan_items, headline_for=headline, tables_for=review_tables,
        attachments_for=checklist,
        # A unit gets the cycle's mail when it has a sample to review or earlier ones waiting.
        always_units=sorted({u for u, d in samples.units.items() if d.sample} | set(progress) & set(job.units)),
        figures=[name for name, table in (("ecert", "BDC_ZS"), ("online", "DJT_DJ_SL")) if table in tables],
    )
