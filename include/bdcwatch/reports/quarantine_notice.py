"""The quarantine notice to operations: source rows held back by the quality gate, with
table, row key, column and reason (personal data masked)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from bdcwatch.config.run import Job
from bdcwatch.mail.outbox import OutgoingMessage, enqueue
from bdcwatch.reports.common import RenderedDigest, render_template
from bdcwatch.standards.masking import mask_id_numbers
from bdcwatch.store.models import quarantine


@dataclass(frozen=True)
class QuarantineRow:
    source_table: str
    row_key: str
    column_name: str
    reason: str
    first_seen_at: datetime


def render_quarantine_report(rows: Sequence[QuarantineRow], *, dag_id: str, run_id: str) -> RenderedDigest:
    """The operations notice of source rows held back by the quality gate (pure)."""
    tables = "、".join(sorted({r.source_table for r in rows}))
    subject = f"【bdcwatch 数据质量】{len(rows)} 条源数据被隔离（{tables}）"
    html = render_template("quarantine_report.html.j2", subject=subject, rows=rows, dag_id=dag_id, run_id=run_id)
    return RenderedDigest(mask_id_numbers(subject), mask_id_numbers(html), ())


def compose(job: Job, tables: Sequence[str]) -> list[int]:
    """Queue one notice to operations listing the open quarantine entries of ``tables``,
    unless the same set was already reported (the dedup key is the set of entry ids);
    returns the outbox ids queued (none or one)."""
    query = (
        select(quarantine)
        .where(quarantine.c.source_table.in_(list(tables)))
        .where(quarantine.c.resolved_at.is_(None))
        .order_by(quarantine.c.source_table, quarantine.c.row_key)
    )
    with job.engine.connect() as conn:
        rows = list(conn.execute(query))
    if not rows:
        return []
    ctx = job.ctx
    report = render_quarantine_report(
        [QuarantineRow(r.source_table, r.row_key, r.column_name, r.reason, r.first_seen_at) for r in rows],
        dag_id=ctx.dag_id, run_id=ctx.run_id,
    )
    ids = hashlib.sha256(",".join(str(r.id) for r in rows).encode()).hexdigest()[:16]
    message = OutgoingMessage(
        dedup_key=f"{ctx.dag_id}|quarantine|{ids}", kind="quarantine_report", dag_id=ctx.dag_id, run_id=ctx.run_id,
        period=None, unit_code=None, recipients=(job.policy.operations_email,), subject=report.subject,
        html=report.html,
    )
    with job.engine.begin() as conn:
        outbox_id = enqueue(conn, message, ctx.now)
    return [outbox_id] if outbox_id is not None else []
