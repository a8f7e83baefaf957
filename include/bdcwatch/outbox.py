"""The email outbox: digests are rendered once, stored, then sent exactly once.

A message is keyed by ``dedup_key`` (dag, period, unit/recipients, content): composing
the same digest again is a no-op, so a retried or rerun task never queues it twice. The
sender claims one message at a time and marks it ``sent`` only after the relay accepted
it; a relay outage leaves messages ``pending`` for the next run, a permanent refusal
marks them ``failed`` and is reported to operations.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from .mail import Attachment, SendError, SmtpSettings, send_message
from .models import outbox, outbox_attachment

log = logging.getLogger(__name__)

PENDING, SENT, FAILED = "pending", "sent", "failed"


@dataclass(frozen=True)
class OutgoingMessage:
    dedup_key: str
    kind: str
    dag_id: str
    run_id: str | None
    period: str | None
    unit_code: str | None
    recipients: tuple[str, ...]
    subject: str
    html: str
    attachments: tuple[Attachment, ...] = ()


def enqueue(conn: Connection, message: OutgoingMessage, now: datetime) -> int | None:
    """Queue a message unless one with the same key exists; returns the new id or None."""
    exists = conn.execute(select(outbox.c.id).where(outbox.c.dedup_key == message.dedup_key)).scalar()
    if exists is not None:
        return None
    outbox_id = conn.execute(
        outbox.insert().values(
            dedup_key=message.dedup_key, kind=message.kind, dag_id=message.dag_id, run_id=message.run_id,
            period=message.period, unit_code=message.unit_code, recipients=json.dumps(list(message.recipients)),
            subject=message.subject, html=message.html, message_id=_message_id(message.dedup_key),
            status=PENDING, attempts=0, created_at=now,
        )
    ).inserted_primary_key[0]
    if message.attachments:
        conn.execute(
            outbox_attachment.insert(),
            [{"outbox_id": outbox_id, "filename": a.filename, "content": a.content} for a in message.attachments],
        )
    return int(outbox_id)


def _message_id(dedup_key: str) -> str:
    import hashlib

    # A stable Message-ID lets a mail server or client spot a duplicate if one ever slips
    # through (e.g. the worker died between the relay's OK and our 'sent' mark).
    return f"<{hashlib.sha256(dedup_key.encode('utf-8')).hexdigest()[:32]}@bdcwatch>"


@dataclass(frozen=True)
class SendReport:
    sent: int
    pending: int
    failed: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"sent": self.sent, "pending": self.pending, "failed": self.failed}


def send_pending(engine: Engine, settings: SmtpSettings, *, now: datetime, ids: Sequence[int] | None = None) -> SendReport:
    """Send pending messages (all, or only ``ids``). Transient failures stop the batch and
    leave the rest pending; permanent ones mark that message failed and go on."""
    query = select(outbox.c.id).where(outbox.c.status == PENDING).order_by(outbox.c.id)
    if ids is not None:
        query = query.where(outbox.c.id.in_(list(ids)))
    with engine.connect() as conn:
        todo = list(conn.execute(query).scalars())
    sent, failed = 0, []
    for index, outbox_id in enumerate(todo):
        with engine.begin() as conn:
            row = conn.execute(select(outbox).where(outbox.c.id == outbox_id)).one()
            if row.status != PENDING:
                continue  # someone else sent it meanwhile
            attachments = tuple(
                Attachment(a.filename, a.content)
                for a in conn.execute(select(outbox_attachment).where(outbox_attachment.c.outbox_id == outbox_id))
            )
            conn.execute(update(outbox).where(outbox.c.id == outbox_id).values(attempts=outbox.c.attempts + 1))
        try:
            send_message(
                settings, to=json.loads(row.recipients), subject=row.subject, html=row.html,
                attachments=attachments, message_id=row.message_id,
            )
        except SendError as error:
            status = FAILED if error.permanent else PENDING
            with engine.begin() as conn:
                conn.execute(update(outbox).where(outbox.c.id == outbox_id).values(status=status, last_error=str(error)))
            if error.permanent:
                log.error("outbox %s (%s) failed permanently: %s", outbox_id, row.subject, error)
                failed.append(f"{row.subject}: {error}")
                continue
            log.warning("outbox %s not sent, relay problem, %d message(s) stay pending: %s",
                        outbox_id, len(todo) - index, error)
            return SendReport(sent, len(todo) - index, failed)
        with engine.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.id == outbox_id).values(status=SENT, sent_at=now, last_error=None))
        sent += 1
    return SendReport(sent, 0, failed)
