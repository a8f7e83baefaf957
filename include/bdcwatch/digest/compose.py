"""Compose digests from the ledger into the outbox (one per unit with new findings).

"New" means not yet announced: a finding is marked with the outbox message that carried
it in the same transaction that queues the message, so a rerun of the period finds
nothing left to announce and queues nothing, and a crash before the commit leaves both
undone.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, select, update

from ..config import Person, Policy
from ..ledger import RunContext
from ..mail import Attachment
from ..models import finding, outbox, quarantine
from ..outbox import OutgoingMessage, enqueue
from .render import DigestContext, FindingRow, QuarantineRow, render_quarantine_report, render_unit_digest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ComposeResult:
    queued: list[int]
    units: list[str]
    findings_announced: int


def _rows(
    engine: Engine, dag_id: str, units: Sequence[str] | None, finding_ids: Sequence[int] | None = None
) -> list[FindingRow]:
    query = select(finding).where(finding.c.notified_outbox_id.is_(None)).where(finding.c.status != "closed")
    # A DAG announces what it detected, or (look-back) exactly the findings it names.
    query = query.where(finding.c.id.in_(list(finding_ids))) if finding_ids is not None else query.where(
        finding.c.dag_id == dag_id
    )
    query = query.order_by(finding.c.id)
    if units:
        query = query.where(finding.c.unit_code.in_(list(units)))
    with engine.connect() as conn:
        return [
            FindingRow(
                r.id, r.rule_code, r.severity, r.unit_code, r.subject_type, r.subject_id, r.period, r.detail,
                r.status, r.first_detected_at, r.due_date,
            )
            for r in conn.execute(query)
        ]


def compose_unit_digests(
    engine: Engine,
    policy: Policy,
    *,
    ctx: RunContext,
    units: Sequence[str] | None,
    context_for_unit: Callable[[str], DigestContext],
    attachments_for_unit: Callable[[str], Sequence[Attachment]] | None = None,
    always_units: Sequence[str] = (),
    finding_ids: Sequence[int] | None = None,
) -> ComposeResult:
    """Queue one digest per unit that has unannounced findings of this DAG, and to each of
    ``always_units`` even without (e.g. the monthly checklist must reach every unit)."""
    by_unit: dict[str | None, list[FindingRow]] = defaultdict(list)
    for unit_code in always_units:
        by_unit[unit_code] = []
    for row in _rows(engine, ctx.dag_id, units, finding_ids):
        by_unit[row.unit_code].append(row)
    queued: list[int] = []
    announced = 0
    for unit_code, rows in sorted(by_unit.items(), key=lambda item: str(item[0])):
        if unit_code in policy.units:
            unit = policy.units[unit_code]
            heads: Sequence[Person] = unit.heads
            name = unit.name
        else:
            # A DJJG the policy does not know has no heads: operations must sort it out,
            # the findings are not dropped.
            heads = (Person("运维值班", "operations", policy.operations_email),)
            name = f"未登记机构 {unit_code or '（空）'}"
        context = context_for_unit(unit_code or "")
        digest = render_unit_digest(rows, unit_code=unit_code, unit_name=name, heads=heads, context=context)
        extra = tuple(attachments_for_unit(unit_code or "")) if attachments_for_unit else ()
        dedup_key = _digest_key(engine, ctx.dag_id, context.period_label, unit_code, rows, unit_code in always_units)
        if dedup_key is None:
            continue
        message = OutgoingMessage(
            dedup_key=dedup_key,
            kind="unit_digest", dag_id=ctx.dag_id, run_id=ctx.run_id, period=context.period_label,
            unit_code=unit_code, recipients=tuple(p.email for p in heads), subject=digest.subject,
            html=digest.html, attachments=digest.attachments + extra,
        )
        with engine.begin() as conn:
            outbox_id = enqueue(conn, message, ctx.now)
            if outbox_id is None:
                continue
            ids = [r.id for r in rows]
            for start in range(0, len(ids), 500):  # stay far below any driver's parameter limit
                conn.execute(
                    update(finding).where(finding.c.id.in_(ids[start : start + 500])).values(notified_outbox_id=outbox_id)
                )
        queued.append(outbox_id)
        announced += len(rows)
        log.info("queued digest %s for %s: %d finding(s) to %d head(s)", outbox_id, unit_code, len(rows), len(heads))
    return ComposeResult(queued, [str(u) for u in by_unit], announced)


def _digest_key(
    engine: Engine, dag_id: str, period: str, unit_code: str | None, rows: Sequence[FindingRow], always: bool
) -> str | None:
    """The outbox key of a unit digest. A digest of new findings is keyed by those findings;
    a cycle's unit mail (``always``: it carries the checklist) is sent once per period, and
    after that only when new findings appear. None: nothing to send."""
    base = f"{dag_id}|{period}|{unit_code}"
    content = f"{base}|{hashlib.sha256(','.join(str(r.id) for r in rows).encode()).hexdigest()[:16]}"
    if not always:
        return content
    with engine.connect() as conn:
        cycle_sent = conn.execute(select(outbox.c.id).where(outbox.c.dedup_key == f"{base}|cycle")).first()
    if cycle_sent is None:
        return f"{base}|cycle"
    return content if rows else None


def compose_quarantine_report(
    engine: Engine, policy: Policy, *, ctx: RunContext, tables: Sequence[str]
) -> int | None:
    """Queue one notice to operations listing the open quarantine entries of ``tables``,
    unless the same set was already reported (the dedup key is the set of entry ids)."""
    query = (
        select(quarantine)
        .where(quarantine.c.source_table.in_(list(tables)))
        .where(quarantine.c.resolved_at.is_(None))
        .order_by(quarantine.c.source_table, quarantine.c.row_key)
    )
    with engine.connect() as conn:
        rows = list(conn.execute(query))
    if not rows:
        return None
    report = render_quarantine_report(
        [QuarantineRow(r.source_table, r.row_key, r.column_name, r.reason, r.first_seen_at) for r in rows],
        dag_id=ctx.dag_id, run_id=ctx.run_id,
    )
    ids = hashlib.sha256(",".join(str(r.id) for r in rows).encode()).hexdigest()[:16]
    message = OutgoingMessage(
        dedup_key=f"{ctx.dag_id}|quarantine|{ids}", kind="quarantine_report", dag_id=ctx.dag_id, run_id=ctx.run_id,
        period=None, unit_code=None, recipients=(policy.operations_email,), subject=report.subject, html=report.html,
    )
    with engine.begin() as conn:
        return enqueue(conn, message, ctx.now)
