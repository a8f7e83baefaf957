"""The email outbox: digests are rendered once, stored, then sent at most once on their own.

A message is keyed by ``dedup_key`` (dag, period, unit/recipients, content): composing
the same digest again is a no-op, so a retried or rerun task never queues it twice.

States of a message (``outbox.status``)::

    pending ──claim──▶ sending ──relay accepted──▶ sent
                          │ ├──transient SendError──▶ pending      (kept; next run sends it)
                          │ ├──permanent SendError──▶ failed       (reported to operations)
                          │ └──outcome unknown──────▶ unconfirmed  (reported; resend by hand)
                          └──claimer died mid-send──▶ unconfirmed  (reported; resend by hand)
    unconfirmed | failed ──``bdcwatch outbox resend ID --actor --note``──▶ pending

* **Claim.** Before talking to the relay the sender moves the message ``pending`` →
  ``sending`` in its own committed transaction, with ``claimed_at`` and a random
  ``claim_token``. The claim is one conditional UPDATE (``WHERE status = 'pending'``), so
  of two concurrent senders exactly one wins; only the holder of the token may finish it.
* **Finish.** After ``send_message`` returns (the relay answered 250 to the whole message)
  the claimer marks it ``sent``. A transient ``SendError`` (relay down, connection refused,
  4xx before the data) puts it back to ``pending``: an SMTP outage never loses a message.
  A permanent one (5xx, refused recipients) marks it ``failed``.
* **Outcome unknown.** The connection failed after DATA began (the relay answered 250 too
  late, or dropped the line after the data): it may have the message. It becomes
  ``unconfirmed`` at once, is reported like a dead sender's, and the batch stops (the rest
  stay pending for the next run): one copy at most, never a retry.
* **In doubt.** If the claimer is killed between the claim and its finishing mark, the row
  stays ``sending`` and nobody can tell whether the relay has the message. A later
  ``send_pending`` that finds a claim older than ``stale_after`` (default
  ``STALE_CLAIM_AFTER``, 10 minutes; a live send is bounded by the SMTP timeout, 30 s per
  step, one try) moves it to ``unconfirmed`` and reports it in
  ``SendReport.unconfirmed`` and at ERROR in the task log. It is never resent
  automatically (that would be the duplicate digest); an operator checks and resends it
  deliberately. A younger claim may belong to a live sender of a concurrent DAG run and is
  left alone (counted in ``SendReport.in_flight``). The known cost: a worker killed
  *before* the relay accepted also leaves its message ``unconfirmed``; the sender cannot
  tell the two apart, and never duplicating is the rule. A slow but live claimer that
  finishes after its claim was declared stale still records the truth (``sent``, or back
  to ``pending``/``failed``) through its token, unless an operator has resent it meanwhile.

The stable Message-ID (from ``dedup_key``) lets a mail server or client spot a duplicate
if one ever slips through outside this module's control.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update

from bdcwatch.mail.sender import Attachment, OutcomeUnknownError, SendError, SmtpSettings, send_message
from bdcwatch.store.models import outbox, outbox_attachment

log = logging.getLogger(__name__)

PENDING, SENDING, SENT, FAILED, UNCONFIRMED = "pending", "sending", "sent", "failed", "unconfirmed"
STATUSES = (PENDING, SENDING, SENT, FAILED, UNCONFIRMED)
RESENDABLE = (UNCONFIRMED, FAILED)
# A claim older than this belongs to a dead sender. It must exceed the longest live send:
# one try of a few SMTP steps, each bounded by SmtpSettings.timeout (30 s).
STALE_CLAIM_AFTER = timedelta(minutes=10)


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
    inserted = conn.execute(
        outbox.insert().values(
            dedup_key=message.dedup_key, kind=message.kind, dag_id=message.dag_id, run_id=message.run_id,
            period=message.period, unit_code=message.unit_code, recipients=json.dumps(list(message.recipients)),
            subject=message.subject, html=message.html, message_id=_message_id(message.dedup_key),
            status=PENDING, attempts=0, created_at=now,
        )
    )
    key = inserted.inserted_primary_key
    if key is None:  # every supported dialect returns the new id; never silently lose track
        raise RuntimeError("the database did not return the new outbox id")
    outbox_id = int(key[0])
    if message.attachments:
        conn.execute(
            outbox_attachment.insert(),
            [{"outbox_id": outbox_id, "filename": a.filename, "content": a.content} for a in message.attachments],
        )
    return outbox_id


def _message_id(dedup_key: str) -> str:
    # A stable Message-ID lets a mail server or client spot a duplicate if one ever slips
    # through (e.g. an operator resends a message the recipients did get).
    return f"<{hashlib.sha256(dedup_key.encode('utf-8')).hexdigest()[:32]}@bdcwatch>"


@dataclass(frozen=True)
class UnconfirmedMessage:
    """A message whose delivery is in doubt (its sender died mid-send, or the relay failed
    after taking the data): the relay may or may not have it."""

    outbox_id: int
    subject: str
    recipients: tuple[str, ...]
    message_id: str
    claimed_at: datetime | None
    reason: str = "the task sending it was killed before it could record the relay's answer"

    @property
    def resend_command(self) -> str:
        return f'bdcwatch outbox resend {self.outbox_id} --actor NAME --note "why"'

    def describe(self) -> str:
        return (
            f"outbox {self.outbox_id} {self.subject!r} to {', '.join(self.recipients)} "
            f"(Message-ID {self.message_id}, claimed {self.claimed_at:%Y-%m-%d %H:%M:%S})"
            if self.claimed_at else
            f"outbox {self.outbox_id} {self.subject!r} to {', '.join(self.recipients)} (Message-ID {self.message_id})"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "outbox_id": self.outbox_id, "subject": self.subject, "recipients": list(self.recipients),
            "message_id": self.message_id,
            "claimed_at": self.claimed_at.isoformat(sep=" ") if self.claimed_at else None, "reason": self.reason,
        }


@dataclass(frozen=True)
class SendReport:
    sent: int
    pending: int
    failed: list[str]
    # Moved to 'unconfirmed' by this call (each is reported once, by the call that finds it).
    unconfirmed: list[UnconfirmedMessage] = field(default_factory=list)
    # Claimed by another sender less than stale_after ago: left alone, not counted in pending.
    in_flight: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent, "pending": self.pending, "failed": self.failed,
            "unconfirmed": [m.as_dict() for m in self.unconfirmed], "in_flight": self.in_flight,
        }


def send_pending(
    engine: Engine,
    settings: SmtpSettings,
    *,
    now: datetime,
    ids: Sequence[int] | None = None,
    stale_after: timedelta = STALE_CLAIM_AFTER,
) -> SendReport:
    """Send pending messages (all, or only ``ids``). Transient failures stop the batch and
    leave the rest pending; permanent ones mark that message failed and go on. Messages
    whose sender died mid-send (claim older than ``stale_after``) become ``unconfirmed``
    and are reported, never resent. ``now`` is the local wall clock at the start."""
    started = time.monotonic()

    def clock() -> datetime:
        return now + timedelta(seconds=round(time.monotonic() - started))

    unconfirmed, in_flight = _sweep_stale_claims(engine, clock() - stale_after, ids)
    query = select(outbox.c.id).where(outbox.c.status == PENDING).order_by(outbox.c.id)
    if ids is not None:
        query = query.where(outbox.c.id.in_(list(ids)))
    with engine.connect() as conn:
        todo = list(conn.execute(query).scalars())
    sent, failed = 0, list[str]()
    for index, outbox_id in enumerate(todo):
        claimed = _claim(engine, outbox_id, clock)
        if claimed is None:
            continue  # another sender claimed it meanwhile
        token, row, attachments = claimed
        try:
            send_message(
                settings, to=json.loads(row.recipients), subject=row.subject, html=row.html,
                attachments=attachments, message_id=row.message_id,
            )
        except OutcomeUnknownError as error:
            _finish(engine, outbox_id, token, status=UNCONFIRMED, last_error=str(error))
            doubt = UnconfirmedMessage(int(row.id), row.subject, tuple(json.loads(row.recipients)), row.message_id,
                                       clock(), reason=str(error))
            log.error("%s: %s. NOT resent automatically; check with the recipients or the relay log; to send it "
                      "again: %s", doubt.describe(), error, doubt.resend_command)
            return SendReport(sent, len(todo) - index - 1, failed, [*unconfirmed, doubt], in_flight)
        except SendError as error:
            # The SMTP exchange failed before the relay accepted the message: not delivered.
            status = FAILED if error.permanent else PENDING
            _finish(engine, outbox_id, token, status=status, last_error=str(error))
            if error.permanent:
                log.error("outbox %s (%s) failed permanently: %s", outbox_id, row.subject, error)
                failed.append(f"{row.subject}: {error}")
                continue
            log.warning("outbox %s not sent, relay problem, %d message(s) stay pending: %s",
                        outbox_id, len(todo) - index, error)
            return SendReport(sent, len(todo) - index, failed, unconfirmed, in_flight)
        # Any other exception (or the process being killed) leaves the claim 'sending':
        # the message is in doubt and a later call reports it as unconfirmed.
        _finish(engine, outbox_id, token, status=SENT, sent_at=clock(), last_error=None)
        sent += 1
    return SendReport(sent, 0, failed, unconfirmed, in_flight)


def _sweep_stale_claims(
    engine: Engine, cutoff: datetime, ids: Sequence[int] | None
) -> tuple[list[UnconfirmedMessage], int]:
    """Claims older than ``cutoff`` → unconfirmed (returned); younger ones are counted."""
    query = select(outbox).where(outbox.c.status == SENDING).order_by(outbox.c.id)
    if ids is not None:
        query = query.where(outbox.c.id.in_(list(ids)))
    found: list[UnconfirmedMessage] = []
    in_flight = 0
    with engine.connect() as conn:
        rows = list(conn.execute(query))
    for row in rows:
        if row.claimed_at is not None and row.claimed_at >= cutoff:
            in_flight += 1
            log.info("outbox %s is being sent by another task (claimed %s): left alone", row.id, row.claimed_at)
            continue
        with engine.begin() as conn:
            moved = conn.execute(
                update(outbox)
                .where(outbox.c.id == row.id, outbox.c.status == SENDING, outbox.c.claim_token == row.claim_token)
                .values(status=UNCONFIRMED,
                        last_error=f"sender died mid-send (claimed {row.claimed_at}); the relay may or may not have it")
            ).rowcount
        if moved != 1:
            continue  # its claimer finished meanwhile
        message = UnconfirmedMessage(
            int(row.id), row.subject, tuple(json.loads(row.recipients)), row.message_id, row.claimed_at
        )
        log.error(
            "%s: the task sending it was killed before it could record the relay's answer; the "
            "recipients may or may not have it, so it is NOT resent automatically. Check with the "
            "recipients or the relay log; to send it again: %s",
            message.describe(), message.resend_command,
        )
        found.append(message)
    return found, in_flight


def _claim(
    engine: Engine, outbox_id: int, clock: Callable[[], datetime]
) -> tuple[str, Any, tuple[Attachment, ...]] | None:
    """pending → sending in its own committed transaction; None if someone else has it."""
    token = uuid.uuid4().hex
    with engine.begin() as conn:
        won = conn.execute(
            update(outbox)
            .where(outbox.c.id == outbox_id, outbox.c.status == PENDING)
            .values(status=SENDING, claim_token=token, claimed_at=clock(), attempts=outbox.c.attempts + 1)
        ).rowcount
        if won != 1:
            return None
        row = conn.execute(select(outbox).where(outbox.c.id == outbox_id)).one()
        attachments = tuple(
            Attachment(a.filename, a.content)
            for a in conn.execute(
                select(outbox_attachment).where(outbox_attachment.c.outbox_id == outbox_id).order_by(outbox_attachment.c.id)
            )
        )
    return token, row, attachments


def _finish(engine: Engine, outbox_id: int, token: str, *, status: str, **values: Any) -> None:
    """The claimer records the outcome; a claim declared stale meanwhile (unconfirmed) is
    corrected too, but not once an operator has resent the message (token cleared)."""
    released = {"claim_token": None, "claimed_at": None} if status == PENDING else {}
    with engine.begin() as conn:
        done = conn.execute(
            update(outbox)
            .where(outbox.c.id == outbox_id, outbox.c.claim_token == token,
                   outbox.c.status.in_([SENDING, UNCONFIRMED]))
            .values(status=status, **released, **values)
        ).rowcount
    if done != 1:
        log.warning("outbox %s: outcome %r not recorded, an operator resent it meanwhile", outbox_id, status)


@dataclass(frozen=True)
class ResendResult:
    moved: list[int]
    skipped: dict[int, str]  # id → why (unknown id, or its status)


def resend(conn: Connection, ids: Sequence[int], *, actor: str, note: str, now: datetime) -> ResendResult:
    """An operator's deliberate resend: unconfirmed or failed → pending, recording who and
    why in ``resend_log`` (one line per resend) and in the log."""
    if not actor.strip() or not note.strip():
        raise ValueError("a resend needs the operator's name and a reason")
    moved: list[int] = []
    skipped: dict[int, str] = {}
    for outbox_id in dict.fromkeys(ids):
        status = conn.execute(select(outbox.c.status).where(outbox.c.id == outbox_id)).scalar()
        if status not in RESENDABLE:
            skipped[outbox_id] = "no such message" if status is None else f"status is {status}"
            continue
        line = f"{now:%Y-%m-%d %H:%M:%S} {actor.strip()} ({status} → {PENDING}): {note.strip()}\n"
        done = conn.execute(
            update(outbox)
            .where(outbox.c.id == outbox_id, outbox.c.status == status)
            .values(status=PENDING, claim_token=None, claimed_at=None,
                    resend_log=func.coalesce(outbox.c.resend_log, "") + line)
        ).rowcount
        if done != 1:
            skipped[outbox_id] = "changed meanwhile"
            continue
        log.warning("outbox %s queued again by %s (was %s): %s", outbox_id, actor, status, note)
        moved.append(outbox_id)
    return ResendResult(moved, skipped)


def list_messages(conn: Connection, status: str | None = None) -> list[Any]:
    """Outbox rows (without body) for the operator, oldest first."""
    query = select(
        outbox.c.id, outbox.c.status, outbox.c.created_at, outbox.c.sent_at, outbox.c.attempts,
        outbox.c.subject, outbox.c.recipients, outbox.c.message_id, outbox.c.last_error,
    ).order_by(outbox.c.id)
    if status is not None:
        query = query.where(outbox.c.status == status)
    return list(conn.execute(query))
