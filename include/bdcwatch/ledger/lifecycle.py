"""The lifecycle of a finding (挂账销号, CONTRACT §4): which status changes are allowed,
and the one function that makes them, with an audit entry each.

Every status change goes through ``change_status``, whoever asks: a person in the
operations UI or with the CLI (actor = their name), or ``look_back`` (actor
``bdcwatch:look_back``). A refused change moves nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, select, update

from bdcwatch.config.policy import Policy, Severity
from bdcwatch.dates.workdays import WorkCalendar
from bdcwatch.ledger.audit import AuditEvent, append_events
from bdcwatch.standards.masking import mask_id_numbers
from bdcwatch.store.models import finding

STATUSES = ("open", "rectifying", "closed", "reopened")
OPEN_STATUSES = ("open", "rectifying", "reopened")  # a problem still to rectify
# The statuses as heads read them (issue 11: never "open" in a mail).
STATUS_TEXT = {"open": "待整改", "rectifying": "整改中", "closed": "已销号", "reopened": "复发待整改"}
# 挂账销号 (CONTRACT §4: open → rectifying → closed; reopened): a finding is closed only
# from rectifying, so every closed one has a recorded rectification step (a false alarm
# too: "rectifying" with a note saying so, then closed). A rectification not accepted is
# sent back from rectifying to open; a closed one is reopened by a person as look_back does,
# and a reopened one is rectified again.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "open": ("rectifying",),
    "rectifying": ("closed", "open"),
    "reopened": ("rectifying",),
    "closed": ("reopened",),
}


class RefusedChangeError(ValueError):
    """A status change the lifecycle does not allow, or one without actor or note. The
    message says why (the UI answers 409 with it, the CLI prints it)."""


class NoSuchFindingError(LookupError):
    """A finding id that is not in the ledger (the UI answers 404, the CLI exits non-zero)."""

    def __init__(self, ids: Iterable[int]) -> None:
        self.ids = sorted(ids)
        super().__init__("no such finding: " + ", ".join(str(i) for i in self.ids))


def due_by_severity(policy: Policy, calendar: WorkCalendar, today: date) -> Callable[[str], date]:
    """``reopen_due`` for ``change_status``: rectification_working_days by severity from
    ``today`` on the working-day calendar (CONTRACT §4 due_date)."""

    def due(severity: str) -> date:
        return calendar.add_working_days(today, policy.rectification_working_days[Severity(severity)])

    return due


def change_status(
    conn: Connection,
    finding_ids: Iterable[int],
    to_status: str,
    *,
    actor: str,
    note: str,
    now: datetime,
    reopen_due: Callable[[str], date] | None = None,
) -> int:
    """Move findings to ``to_status`` with an audit entry each; returns how many moved
    (a finding already in ``to_status`` is left alone and not counted).

    ``reopen_due(severity)`` gives a reopened finding its fresh rectification due date
    (else it would be overdue, and escalated, the day it comes back); a reopened finding
    is also announced again (``notified_outbox_id`` cleared).

    Raises:
        NoSuchFindingError: an id is not in the ledger (nothing moved).
        RefusedChangeError: an unknown status, an empty actor or note, or a change the
            lifecycle does not allow (nothing moved; the message names each finding).
    """
    if not actor.strip() or not note.strip():
        raise RefusedChangeError("a status change needs the name of the person and a note")
    wanted = list(dict.fromkeys(finding_ids))
    rows = conn.execute(
        select(finding.c.id, finding.c.status, finding.c.severity).where(finding.c.id.in_(wanted))
    ).all()
    missing = set(wanted) - {row.id for row in rows}
    if missing:
        raise NoSuchFindingError(missing)
    if to_status not in STATUSES:
        raise RefusedChangeError(f"没有“{to_status}”这个状态，可选：{'、'.join(f'{s}（{STATUS_TEXT[s]}）' for s in STATUSES)}"
                                 f"（unknown status {to_status!r}; one of {', '.join(STATUSES)}）")
    refused = [f"问题 {r.id}：{STATUS_TEXT.get(r.status, r.status)} → {STATUS_TEXT.get(to_status, to_status)}" for r in rows
               if r.status != to_status and to_status not in TRANSITIONS.get(r.status, ())]
    if refused:
        raise RefusedChangeError("不允许的状态变更（待整改 → 整改中 → 已销号；整改中可退回待整改，已销号可重新打开，重新打开的再整改）："
                                 + "；".join(refused))
    events = []
    for row in rows:
        if row.status == to_status:
            continue
        values: dict[str, Any] = {"status": to_status}
        values["closed_at"] = now if to_status == "closed" else None
        if to_status == "reopened":
            values["notified_outbox_id"] = None
            if reopen_due is not None:
                values["due_date"] = reopen_due(row.severity)
        conn.execute(update(finding).where(finding.c.id == row.id).values(**values))
        # The trail keeps no full ID number (§6): a note quoting an applicant's, an actor typed as one.
        events.append(AuditEvent(row.id, now, mask_id_numbers(actor.strip()), row.status, to_status,
                                 mask_id_numbers(note.strip())))
    append_events(conn, events)
    return len(events)
