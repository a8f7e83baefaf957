"""The lifecycle of a finding (挂账销号, CONTRACT §4): which status changes are allowed,
and the one function that makes them, with an audit entry each."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from bdcwatch.ledger.audit import AuditEvent, append_events
from bdcwatch.store.models import finding

STATUSES = ("open", "rectifying", "closed", "reopened")
OPEN_STATUSES = ("open", "rectifying", "reopened")  # a problem still to rectify
# The statuses as heads read them (issue 11: never "open" in a mail).
STATUS_TEXT = {"open": "待整改", "rectifying": "整改中", "closed": "已销号", "reopened": "复发待整改"}
# 挂账销号 by hand: open → rectifying → closed. A finding may be closed straight from open
# (e.g. a false alarm, said in the note), sent back from rectifying to open (the
# rectification was not accepted), and a closed one reopened by a person as look_back does.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "open": ("rectifying", "closed"),
    "rectifying": ("closed", "open"),
    "reopened": ("rectifying", "closed"),
    "closed": ("reopened",),
}


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
