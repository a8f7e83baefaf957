"""The quarantine notice to operations: source rows held back by the quality gate, one
line per row with every reason of that row (table, row key, column, reason; personal data
masked). Each reason is said in Chinese (``BDC_ZS.SZSJ 缮证时间为空或不是有效日期``, with
the value held) and the check's English name beside it (``sources.reasons``).

One notice per change of the quarantined set, whichever DAG sees the change first: the
notice lists every open quarantine entry of every table, and its dedup key is the set of
entry ids, with no DAG in it (issue 11: city_check and county_self_inspection sent the
same "9 条源数据被隔离" 13 s apart). Counts are rows, not entries: a row whose SZSJ cannot
be parsed fails two expectations and is one row with two reasons.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from bdcwatch.config.run import Job
from bdcwatch.mail.outbox import OutgoingMessage
from bdcwatch.reports.common import RenderedDigest, render_template
from bdcwatch.reports.dispatch import isolated, queue
from bdcwatch.safe_text import subject_line
from bdcwatch.sources.reasons import Reason, explain
from bdcwatch.standards.masking import mask_id_numbers
from bdcwatch.store.models import outbox, quarantine


@dataclass(frozen=True)
class QuarantineRow:
    """One quarantine entry (a row, a column, an expectation) as stored."""

    source_table: str
    row_key: str
    column_name: str
    expectation: str
    reason: str  # the stored reason (the log line's words)
    row_json: str  # the kept copy of the row
    first_seen_at: datetime

    @property
    def explained(self) -> Reason:
        return explain(self.source_table, self.column_name, self.expectation, self.reason, self.row_json)


@dataclass(frozen=True)
class HeldRow:
    """One source row in quarantine, with every reason it is held for."""

    source_table: str
    row_key: str
    reasons: tuple[Reason, ...]
    first_seen_at: datetime
    new: bool = False

    @property
    def key_text(self) -> str:
        return f"{self.row_key}{'（新）' if self.new else ''}"


def held_rows(entries: Sequence[QuarantineRow], reported_before: datetime | None = None) -> list[HeldRow]:
    """Entries grouped by source row (table, key), reasons in column order, duplicates once."""
    grouped: dict[tuple[str, str], list[QuarantineRow]] = {}
    for entry in entries:
        grouped.setdefault((entry.source_table, entry.row_key), []).append(entry)
    rows = []
    for (table, key), found in sorted(grouped.items()):
        ordered = sorted(found, key=lambda e: (e.column_name, e.expectation, e.reason))
        reasons = tuple(dict.fromkeys(e.explained for e in ordered))
        first = min(e.first_seen_at for e in found)
        rows.append(HeldRow(table, key, reasons, first, reported_before is not None and first > reported_before))
    return rows


def render_quarantine_report(
    entries: Sequence[QuarantineRow], *, dag_id: str, run_id: str, reported_before: datetime | None = None
) -> RenderedDigest:
    """The operations notice of source rows held back by the quality gate (pure)."""
    rows = held_rows(entries, reported_before)
    tables = "、".join(sorted({r.source_table for r in rows}))
    subject = f"【bdcwatch 数据质量】{len(rows)} 条源数据被隔离（{tables}）"
    html = render_template("quarantine_report.html.j2", subject=subject, rows=rows, tables=tables,
                           new_rows=sum(1 for r in rows if r.new), dag_id=dag_id, run_id=run_id)
    return RenderedDigest(subject_line(subject), mask_id_numbers(html), ())


@isolated("源数据隔离通知")
def compose(job: Job, tables: Sequence[str] = ()) -> list[int]:
    """Queue one notice to operations listing every open quarantine entry, unless the same
    set was already reported by any DAG; returns the outbox ids queued (none or one).
    ``tables`` (what the calling DAG loads) does not narrow the notice."""
    with job.engine.connect() as conn:
        entries = list(conn.execute(
            select(quarantine).where(quarantine.c.resolved_at.is_(None))
            .order_by(quarantine.c.source_table, quarantine.c.row_key, quarantine.c.id)
        ))
        reported_before = conn.execute(
            select(func.max(outbox.c.created_at)).where(outbox.c.kind == "quarantine_report")
        ).scalar()
    if not entries:
        return []
    ctx = job.ctx
    report = render_quarantine_report(
        [QuarantineRow(r.source_table, r.row_key, r.column_name, r.expectation, r.reason, r.row_json, r.first_seen_at)
         for r in entries],
        dag_id=ctx.dag_id, run_id=ctx.run_id, reported_before=reported_before,
    )
    ids = hashlib.sha256(",".join(str(r.id) for r in sorted(entries, key=lambda r: r.id)).encode()).hexdigest()[:16]
    message = OutgoingMessage(
        dedup_key=f"quarantine|{ids}", kind="quarantine_report", dag_id=ctx.dag_id, run_id=ctx.run_id,
        period=None, unit_code=None, recipients=(job.policy.operations_email,), subject=report.subject,
        html=report.html,
    )
    outbox_id = queue(job, message)
    return [outbox_id] if outbox_id is not None else []
