"""Escalation (plan items 31, 36): which findings are past their rectification due date
and not yet sent up this month, their history from the audit trail, and the record of
what went up (``finding_escalation``, one row per finding and month).

The mail itself is ``reports.escalation``; it records the escalation through
``record_escalation`` in the same transaction that queues the mail.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, Engine, and_, exists, select

from bdcwatch.ledger.findings import FindingRow
from bdcwatch.ledger.lifecycle import OPEN_STATUSES, STATUS_TEXT
from bdcwatch.standards.masking import mask_id_numbers
from bdcwatch.store.models import finding, finding_escalation, finding_event

OPERATIONS = "OPERATIONS"  # findings of a unit the policy does not know go to operations


@dataclass(frozen=True)
class HistoryLine:
    at: str
    actor: str
    change: str
    note: str


def escalation_period(today: date) -> str:
    return f"{today:%Y-%m}"


def overdue_unescalated(engine: Engine, today: date, units: Sequence[str] = ()) -> list[FindingRow]:
    """Findings still open past their due date and not yet escalated this month; of
    ``units`` only when given (a run narrowed by its ``units`` Param escalates those)."""
    period = escalation_period(today)
    already = exists().where(and_(finding_escalation.c.finding_id == finding.c.id, finding_escalation.c.period == period))
    query = (select(finding).where(finding.c.status.in_(OPEN_STATUSES), finding.c.due_date < today, ~already)
             .order_by(finding.c.id))
    if units:
        query = query.where(finding.c.unit_code.in_(list(units)))
    with engine.connect() as conn:
        return [FindingRow.from_row(r) for r in conn.execute(query)]


def history(engine: Engine, finding_ids: Sequence[int]) -> dict[int, list[HistoryLine]]:
    """Each finding's audit trail, oldest first, notes masked."""
    lines: dict[int, list[HistoryLine]] = defaultdict(list)
    with engine.connect() as conn:
        for start in range(0, len(finding_ids), 500):
            chunk = list(finding_ids[start : start + 500])
            for e in conn.execute(select(finding_event).where(finding_event.c.finding_id.in_(chunk))
                                  .order_by(finding_event.c.id)):
                # Statuses in the words heads read (a supervisor reads this history).
                to = STATUS_TEXT.get(e.to_status, e.to_status)
                change = f"{STATUS_TEXT.get(e.from_status, e.from_status)} → {to}" if e.from_status else f"→ {to}"
                lines[e.finding_id].append(HistoryLine(e.at.strftime("%Y-%m-%d %H:%M"), e.actor, change,
                                                       mask_id_numbers(e.note)))
    return lines


def record_escalation(conn: Connection, finding_ids: Sequence[int], *, today: date, supervisor: str, outbox_id: int,
                      now: datetime) -> None:
    """Record that ``finding_ids`` went up to ``supervisor`` this month with ``outbox_id``."""
    period = escalation_period(today)
    conn.execute(finding_escalation.insert(), [
        {"finding_id": fid, "period": period, "supervisor": supervisor, "outbox_id": outbox_id, "escalated_at": now}
        for fid in finding_ids
    ])
