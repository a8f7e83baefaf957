"""The finding ledger (问题台账): upsert by fingerprint, lifecycle, hash-chained audit trail.

A finding is keyed by ``rule_code|subject_id|period``. Detecting it again updates
``last_detected_at`` and the detail; it never creates a second row and never changes the
status: only a person (CLI) or ``look_back`` moves a finding along
``open → rectifying → closed`` (``reopened``), and every such move is an audit event.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, TextClause, bindparam, func, select, text, update

from .models import Timestamp, audit_head, finding, finding_event
from .sqlutil import Dialect

GENESIS_HASH = "0" * 64
STATUSES = ("open", "rectifying", "closed", "reopened")
# 挂账销号 by hand: open → rectifying → closed. A finding may be closed straight from open
# (e.g. a false alarm, said in the note), sent back from rectifying to open (the
# rectification was not accepted), and a closed one reopened by a person as look_back does.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "open": ("rectifying", "closed"),
    "rectifying": ("closed", "open"),
    "reopened": ("rectifying", "closed"),
    "closed": ("reopened",),
}


@dataclass(frozen=True)
class RunContext:
    """Who is writing and when (wall clock, local time) — not the as-of of the rules."""

    dag_id: str
    run_id: str
    now: datetime

    @property
    def actor(self) -> str:
        return f"bdcwatch:{self.dag_id}"


@dataclass(frozen=True)
class AuditEvent:
    finding_id: int
    at: datetime
    actor: str
    from_status: str | None
    to_status: str
    note: str


def event_hash(prev_hash: str, event: AuditEvent) -> str:
    """The chain link: sha256 over the previous hash and the event's own fields."""
    payload = json.dumps(
        [prev_hash, event.finding_id, event.at.replace(microsecond=0).isoformat(sep=" "), event.actor,
         event.from_status, event.to_status, event.note],
        ensure_ascii=False,
        separators=(",", ":"),
    )
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
                "prev_hash": prev, "hash": link,
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
        event = AuditEvent(row.finding_id, row.at, row.actor, row.from_status, row.to_status, row.note)
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


def record_findings(
    conn: Connection,
    *,
    rule_code: str,
    severity: str,
    subject_type: str,
    period: str | None,
    due_date: date,
    select_sql: str,
    params: dict[str, Any],
    ctx: RunContext,
) -> tuple[int, int]:
    """Upsert the findings produced by ``select_sql`` (columns subject_id, unit_code,
    detail) in one set-based statement; returns (detected, newly created)."""
    dialect = Dialect(conn.dialect.name)
    fingerprint = dialect.concat(":rule_code", "'|'", "r.subject_id", "'|'", ":period_key")
    insert_sql = f"""
        INSERT INTO finding (fingerprint, rule_code, severity, unit_code, subject_type, subject_id, period,
                             detail, status, first_detected_at, last_detected_at, due_date, dag_id,
                             first_run_id, last_run_id)
        SELECT {fingerprint}, :rule_code, :severity, r.unit_code, :subject_type, r.subject_id, :period,
               r.detail, 'open', :now, :now, :due_date, :dag_id, :run_id, :run_id
        FROM ({select_sql}) r
        WHERE 1 = 1
    """
    if dialect.name == "mysql":
        insert_sql += """ ON DUPLICATE KEY UPDATE last_detected_at = VALUES(last_detected_at),
            last_run_id = VALUES(last_run_id), detail = VALUES(detail)"""
    else:
        insert_sql += """ ON CONFLICT (fingerprint) DO UPDATE SET last_detected_at = excluded.last_detected_at,
            last_run_id = excluded.last_run_id, detail = excluded.detail"""
    bound = {
        **params,
        "rule_code": rule_code, "severity": severity, "subject_type": subject_type, "period": period,
        "period_key": period or "", "now": ctx.now.replace(microsecond=0), "due_date": due_date,
        "dag_id": ctx.dag_id, "run_id": ctx.run_id,
    }
    conn.execute(bind_typed(text(insert_sql), bound), bound)
    detected = conn.execute(
        select(func.count()).select_from(finding)
        .where(finding.c.rule_code == rule_code, finding.c.last_run_id == ctx.run_id)
        .where(finding.c.last_detected_at == bound["now"])
    ).scalar_one()
    new_ids = _findings_without_events(conn, rule_code, ctx.run_id)
    append_events(
        conn,
        [AuditEvent(fid, bound["now"], ctx.actor, None, "open", f"detected by {rule_code} (run {ctx.run_id})")
         for fid in new_ids],
    )
    return detected, len(new_ids)


def bind_typed(statement: TextClause, params: dict[str, Any]) -> TextClause:
    """Give text SQL typed parameters: lists expand for IN, datetimes use the engine's
    timestamp type (so SQLite compares them in the stored text form)."""
    typed = []
    present = set(re.findall(r"(?<!:):(\w+)", statement.text))
    for name, value in params.items():
        if name not in present:
            continue
        if isinstance(value, (list, tuple)):
            typed.append(bindparam(name, expanding=True))
        elif isinstance(value, datetime):
            typed.append(bindparam(name, type_=Timestamp))
    return statement.bindparams(*typed) if typed else statement


def _findings_without_events(conn: Connection, rule_code: str, run_id: str) -> list[int]:
    rows = conn.execute(
        text(
            """SELECT f.id FROM finding f WHERE f.rule_code = :rule_code AND f.first_run_id = :run_id
               AND NOT EXISTS (SELECT 1 FROM finding_event e WHERE e.finding_id = f.id) ORDER BY f.id"""
        ),
        {"rule_code": rule_code, "run_id": run_id},
    )
    return [row[0] for row in rows]


def change_status(
    conn: Connection, finding_ids: Iterable[int], to_status: str, *, actor: str, note: str, now: datetime
) -> int:
    """Move findings to ``to_status`` with an audit entry each; returns how many moved."""
    if to_status not in STATUSES:
        raise ValueError(f"unknown status {to_status!r}; one of {', '.join(STATUSES)}")
    if not actor.strip() or not note.strip():
        raise ValueError("a status change needs the name of the person and a note")
    rows = conn.execute(select(finding.c.id, finding.c.status).where(finding.c.id.in_(list(finding_ids)))).all()
    refused = [f"finding {r.id}: {r.status} → {to_status}" for r in rows
               if r.status != to_status and to_status not in TRANSITIONS.get(r.status, ())]
    if refused:
        raise ValueError("not an allowed status change (open → rectifying → closed; closed → reopened): "
                         + "; ".join(refused))
    events = []
    for row in rows:
        if row.status == to_status:
            continue
        values: dict[str, Any] = {"status": to_status}
        values["closed_at"] = now if to_status == "closed" else None
        conn.execute(update(finding).where(finding.c.id == row.id).values(**values))
        events.append(AuditEvent(row.id, now, actor, row.status, to_status, note))
    append_events(conn, events)
    return len(events)
