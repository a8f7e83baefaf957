"""The audit trail of the ledger: append-only and hash-chained.

Every status change of a finding (detection, a person's change, look-back) is an event
whose hash covers the previous event's hash, so an edited, deleted or reordered entry
breaks the chain (``verify_chain``; ``bdcwatch audit verify``; plan items 29, 33).

Other audited records share the chain (CONTRACT §8): an event with a ``subject`` and no
finding records a change of a review verdict (``sample:<inspection id>:<YWH>``, from and
to the verdicts) or of a duty's evidence (``duty:<code>:<unit>``). Its hash also covers
the subject; an event without one hashes exactly as before, so older chains still verify.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, func, select, update

from bdcwatch.errors import AuditTrailError
from bdcwatch.store.models import audit_head, finding_event

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class AuditEvent:
    finding_id: int | None  # None: the event is about ``subject``, not a finding
    at: datetime
    actor: str
    from_status: str | None
    to_status: str
    note: str
    subject: str | None = None


def event_hash(prev_hash: str, event: AuditEvent) -> str:
    """The chain link: sha256 over the previous hash and the event's own fields."""
    fields: list[object] = [prev_hash, event.finding_id, event.at.replace(microsecond=0).isoformat(sep=" "),
                            event.actor, event.from_status, event.to_status, event.note]
    if event.subject is not None:
        fields.append(event.subject)
    payload = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def append_events(conn: Connection, events: Sequence[AuditEvent]) -> None:
    """Append events to the audit trail, continuing the hash chain."""
    if not events:
        return
    # Touch the head row first: in PostgreSQL/MySQL this takes its row lock, so two
    # writers serialise here and the chain cannot fork (SQLite locks the whole file).
    conn.execute(update(audit_head).where(audit_head.c.id == 1).values(last_hash=audit_head.c.last_hash))
    prev = conn.execute(select(audit_head.c.last_hash).where(audit_head.c.id == 1)).scalar_one()
    rows = []
    for event in events:
        link = event_hash(prev, event)
        rows.append(
            {
                "finding_id": event.finding_id, "at": event.at, "actor": event.actor,
                "from_status": event.from_status, "to_status": event.to_status, "note": event.note,
                "prev_hash": prev, "hash": link, "subject": event.subject,
            }
        )
        prev = link
    conn.execute(finding_event.insert(), rows)
    last_id = conn.execute(select(finding_event.c.id).where(finding_event.c.hash == prev)).scalar_one()
    conn.execute(update(audit_head).where(audit_head.c.id == 1).values(last_hash=prev, last_event_id=last_id))


def verify_chain(conn: Connection) -> list[str]:
    """Walk the audit trail in id order; return a description of every break found."""
    problems: list[str] = []
    prev = GENESIS_HASH
    last_id = None
    for row in conn.execute(select(finding_event).order_by(finding_event.c.id)):
        event = AuditEvent(row.finding_id, row.at, row.actor, row.from_status, row.to_status, row.note, row.subject)
        if row.prev_hash != prev:
            problems.append(f"event {row.id}: prev_hash does not match the event before it (deleted or reordered)")
        if event_hash(row.prev_hash, event) != row.hash:
            problems.append(f"event {row.id}: content does not match its hash (edited)")
        prev = row.hash
        last_id = row.id
    head = conn.execute(select(audit_head).where(audit_head.c.id == 1)).one()
    if head.last_hash != prev or head.last_event_id != last_id:
        problems.append("audit head does not point at the last event (events removed from the end)")
    return problems


def verify_or_raise(engine: Engine) -> int:
    """``bdcwatch audit verify`` as a task: returns the number of entries checked.

    Raises:
        AuditTrailError: any entry was edited, deleted or reordered (named in the message).
    """
    with engine.connect() as conn:
        problems = verify_chain(conn)
        checked = conn.execute(select(func.count()).select_from(finding_event)).scalar_one()
    if problems:
        raise AuditTrailError(f"audit trail tampered ({len(problems)} problem(s)): " + "; ".join(problems[:20]))
    return int(checked)
