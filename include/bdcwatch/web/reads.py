"""What the operations pages show besides the ledger: the quarantine (source rows held by
the quality gate), the inspection samples (plan item 32) and the outbox. Read-only
queries on supervision_db; every text from data masked (CONTRACT §6)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, select

from bdcwatch.mail.outbox import FAILED, PENDING, SENDING, SENT, UNCONFIRMED
from bdcwatch.sources.reasons import explain, words
from bdcwatch.standards.masking import mask_id_numbers
from bdcwatch.store.models import inspection, outbox, quarantine

QUARANTINE_PAGE = 100


@dataclass(frozen=True)
class QuarantineGroup:
    """Open quarantine entries of one table, column and expectation (the reason kind);
    ``reason_zh`` says what is wrong in Chinese (``sources.reasons``)."""

    source_table: str
    column_name: str
    expectation: str
    rows: int
    first_seen_at: datetime
    last_seen_at: datetime
    reason_zh: str


def quarantine_groups(conn: Connection) -> list[QuarantineGroup]:
    """Rows held now (not resolved), by table and reason, biggest first."""
    query = (
        select(quarantine.c.source_table, quarantine.c.column_name, quarantine.c.expectation,
               func.count(func.distinct(quarantine.c.row_key)), func.min(quarantine.c.first_seen_at),
               func.max(quarantine.c.last_seen_at))
        .where(quarantine.c.resolved_at.is_(None))
        .group_by(quarantine.c.source_table, quarantine.c.column_name, quarantine.c.expectation)
    )
    groups = [QuarantineGroup(t, c, e, int(n), first, last, words(t, c, e))
              for t, c, e, n, first, last in conn.execute(query)]
    return sorted(groups, key=lambda g: (g.source_table, -g.rows, g.column_name, g.expectation))


def quarantine_entries(conn: Connection, *, table: str | None, column: str | None, page: int) -> tuple[int, list[Any]]:
    """(how many, one page of) open entries, newest first, reason and row masked; each with
    ``reason_zh`` (what operations read, ``sources.reasons``) and the ``value`` held."""
    where: list[ColumnElement[bool]] = [quarantine.c.resolved_at.is_(None)]
    if table:
        where.append(quarantine.c.source_table == table)
    if column:
        where.append(quarantine.c.column_name == column)
    total = conn.execute(select(func.count()).select_from(quarantine).where(*where)).scalar_one()
    rows = conn.execute(select(quarantine).where(*where).order_by(quarantine.c.id.desc())
                        .limit(QUARANTINE_PAGE).offset((max(page, 1) - 1) * QUARANTINE_PAGE)).all()
    entries = []
    for r in rows:
        reason = explain(r.source_table, r.column_name, r.expectation, r.reason, r.row_json)
        entries.append(
            {"id": r.id, "source_table": r.source_table, "row_key": mask_id_numbers(r.row_key),
             "column_name": r.column_name, "expectation": r.expectation, "reason": reason.stored,
             "reason_zh": reason.text, "value": reason.value, "first_seen_at": r.first_seen_at,
             "last_seen_at": r.last_seen_at}
        )
    return int(total), entries


def inspection_periods(conn: Connection) -> list[str]:
    """Period labels that have inspections, newest first."""
    periods = conn.execute(select(inspection.c.period).distinct()).scalars()
    return sorted(periods, reverse=True)


def inspections(conn: Connection, *, period: str | None, unit: str | None) -> list[Any]:
    """Inspection rows (one per cycle run and unit) of ``period`` (and ``unit``)."""
    query = select(inspection).order_by(inspection.c.cycle, inspection.c.unit_code)
    if period:
        query = query.where(inspection.c.period == period)
    if unit:
        query = query.where(inspection.c.unit_code == unit)
    return list(conn.execute(query.limit(500)))


OUTBOX_SHOWN = (PENDING, SENDING, UNCONFIRMED, FAILED)


@dataclass(frozen=True)
class OutboxRow:
    id: int
    status: str
    kind: str
    dag_id: str
    unit_code: str | None
    subject: str
    recipients: list[str]
    created_at: datetime
    attempts: int
    last_error: str | None
    resend_log: str | None
    sent_at: datetime | None = None

    @property
    def resendable(self) -> bool:
        return self.status in (UNCONFIRMED, FAILED)


def outbox_messages(conn: Connection, statuses: tuple[str, ...] = OUTBOX_SHOWN) -> list[OutboxRow]:
    """Messages not (yet) delivered — pending, being sent, unconfirmed, failed — oldest first."""
    query = (select(outbox.c.id, outbox.c.status, outbox.c.kind, outbox.c.dag_id, outbox.c.unit_code, outbox.c.subject,
                    outbox.c.recipients, outbox.c.created_at, outbox.c.attempts, outbox.c.last_error,
                    outbox.c.resend_log)
             .where(outbox.c.status.in_(statuses)).order_by(outbox.c.id).limit(1000))
    return [
        OutboxRow(int(r.id), r.status, r.kind, r.dag_id, r.unit_code, mask_id_numbers(r.subject),
                  list(json.loads(r.recipients)), r.created_at, int(r.attempts),
                  mask_id_numbers(r.last_error) if r.last_error else None,
                  mask_id_numbers(r.resend_log) if r.resend_log else None)
        for r in conn.execute(query)
    ]


RECENT_SENT = 50


def recently_sent(conn: Connection, limit: int = RECENT_SENT) -> list[OutboxRow]:
    """The newest ``limit`` messages delivered, newest first: what went to whom and when
    (the page's second table; the full record is the outbox table and the relay's log)."""
    query = (select(outbox.c.id, outbox.c.status, outbox.c.kind, outbox.c.dag_id, outbox.c.unit_code, outbox.c.subject,
                    outbox.c.recipients, outbox.c.created_at, outbox.c.attempts, outbox.c.sent_at)
             .where(outbox.c.status == SENT).order_by(outbox.c.id.desc()).limit(limit))
    return [
        OutboxRow(int(r.id), r.status, r.kind, r.dag_id, r.unit_code, mask_id_numbers(r.subject),
                  list(json.loads(r.recipients)), r.created_at, int(r.attempts), None, None, r.sent_at)
        for r in conn.execute(query)
    ]


def outbox_counts(conn: Connection) -> dict[str, int]:
    counts = {status: 0 for status in (*OUTBOX_SHOWN, SENT)}
    for status, n in conn.execute(select(outbox.c.status, func.count()).group_by(outbox.c.status)):
        counts[status] = int(n)
    return counts
