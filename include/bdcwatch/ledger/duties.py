"""Duties no system records (plan items 3, 4, 11, 19, 30): a leader's visit as a citizen,
special education, the emergency drill, warning education — each at least once a year
unless the policy says otherwise (``duties`` in the policy: frequency, deadline, units,
minimum count).

Operators record evidence (date, note, optional file) with ``record_evidence`` (the UI's
form, ``bdcwatch duty record``); each record is an audited event in the hash chain
(subject ``duty:<code>:<unit>``). ``check_missed`` runs in the daily ledger round
(``case_timeliness_watch``): a duty period whose deadline has passed (as of the run's
as-of) with fewer than ``min_count`` records dated within the period up to its deadline
becomes finding DUTY_MISSED of the unit (subject ``<duty>@<unit>``, period the duty's
period). Periods whose deadline passed more than ``judge_within_days`` ago are not judged
(a new deployment is not blamed for the years before it). Evidence recorded late does
not close the finding: a person does, with a note.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select

from bdcwatch.config.policy import Policy
from bdcwatch.config.run import Job
from bdcwatch.config.sections import Duty
from bdcwatch.dates.workdays import calendar_from_policy
from bdcwatch.errors import PermanentError
from bdcwatch.ledger.audit import AuditEvent, append_events
from bdcwatch.ledger.reported import ReportedFinding, Reporter, report
from bdcwatch.rules.reported import DUTY_MISSED
from bdcwatch.safe_text import typed
from bdcwatch.standards.masking import mask_id_numbers
from bdcwatch.store.models import duty_evidence

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 16 * 1024 * 1024  # the column's size (as outbox attachments)
STATE_TEXT = {"done": "已完成", "missed": "逾期未完成", "open": "未到期"}


class DutyEvidenceError(PermanentError, ValueError):
    """Evidence refused (unknown duty or unit, empty note or actor, a future date, a file
    too large); nothing was recorded."""


@dataclass(frozen=True)
class DutyPeriod:
    """One period a duty must be done in: [start, deadline] (both inclusive)."""

    label: str  # 2026, 2026-H1, 2026-Q3 (CONTRACT §4 labels)
    start: date
    deadline: date


def duty_periods(duty: Duty, year: int) -> list[DutyPeriod]:
    """The duty's periods in ``year``: the year (deadline MM-DD, default 31 Dec), its
    halves or its quarters (deadline the period's last day)."""
    if duty.frequency == "yearly":
        month, day = (int(part) for part in (duty.deadline or "12-31").split("-"))
        return [DutyPeriod(str(year), date(year, 1, 1), date(year, month, day))]
    size = 6 if duty.frequency == "half_yearly" else 3
    periods = []
    for index, first_month in enumerate(range(1, 13, size), start=1):
        end = date(year + (first_month + size > 12), (first_month + size - 1) % 12 + 1, 1)
        label = f"{year}-{'H' if size == 6 else 'Q'}{index}"
        periods.append(DutyPeriod(label, date(year, first_month, 1), end - timedelta(days=1)))
    return periods


def responsible_units(duty: Duty, policy: Policy) -> list[str]:
    """The DJJG codes answering for ``duty`` (every unit when the policy names none)."""
    return sorted(duty.units or policy.units)


def _duty(policy: Policy, code: str) -> Duty:
    for duty in policy.duties.items:
        if duty.code == code:
            return duty
    known = ", ".join(d.code for d in policy.duties.items)
    raise DutyEvidenceError(f"duty {code!r} is not in the policy ({Path(policy.source).name}); known duties: {known}")


def record_evidence(
    engine: Engine, *, duty_code: str, unit_code: str, done_on: date, note: str, actor: str, now: datetime,
    policy: Policy, file_name: str | None = None, file_content: bytes | None = None,
) -> int:
    """Record that ``unit_code`` did ``duty_code`` on ``done_on`` (the UI form, ``bdcwatch
    duty record``); returns the evidence id. The note is stored with ID numbers masked.

    Raises:
        DutyEvidenceError: an unknown duty, a unit not answering for it, an empty note or
            actor, a date after today, a file without a name or over 16 MiB.
    """
    duty = _duty(policy, duty_code)
    if unit_code not in responsible_units(duty, policy):
        raise DutyEvidenceError(f"unit {unit_code!r} does not answer for duty {duty.code} "
                                f"(responsible: {', '.join(responsible_units(duty, policy))})")
    if not note.strip() or not actor.strip():
        raise DutyEvidenceError("evidence needs a note (what was done) and the name of who records it")
    if done_on > now.date():
        raise DutyEvidenceError(f"日期 {done_on} 晚于今天（{now.date()}）：只能登记已经完成的工作")
    if file_content is not None and (not file_name or len(file_content) > MAX_FILE_BYTES):
        raise DutyEvidenceError("an attached file needs its name and at most 16 MiB")
    now = now.replace(microsecond=0)
    # Typed text as kept (a NUL cannot be stored in PostgreSQL text: a 500); the file name
    # masked as the pages show it (§6: a scan named after someone's ID number).
    text = mask_id_numbers(typed(note).strip())
    file_name = mask_id_numbers(typed(file_name)) if file_name else file_name
    with engine.begin() as conn:
        result = conn.execute(duty_evidence.insert().values(
            duty_code=duty.code, unit_code=unit_code, done_on=done_on, note=text,
            file_name=file_name if file_content is not None else None,
            file_sha256=hashlib.sha256(file_content).hexdigest() if file_content is not None else None,
            file_content=file_content, recorded_by=actor.strip(), recorded_at=now))
        key = result.inserted_primary_key
        assert key is not None, "an insert returns its key"
        evidence_id = int(key[0])
        attached = f"；附件 {file_name}" if file_content is not None else ""
        append_events(conn, [AuditEvent(None, now, actor.strip(), None, "recorded",
                                        f"{duty.name} {done_on}：{text}{attached}（记录 {evidence_id}）",
                                        subject=f"duty:{duty.code}:{unit_code}")])
    return evidence_id


def list_evidence(conn: Connection, *, duty_code: str | None = None, unit_code: str | None = None,
                  year: int | None = None) -> list[Any]:
    """Recorded evidence (without file contents), newest first, for the UI and the CLI."""
    query = select(*(c for c in duty_evidence.c if c.name != "file_content")).order_by(
        duty_evidence.c.done_on.desc(), duty_evidence.c.id.desc())
    if duty_code:
        query = query.where(duty_evidence.c.duty_code == duty_code)
    if unit_code:
        query = query.where(duty_evidence.c.unit_code == unit_code)
    if year:
        query = query.where(duty_evidence.c.done_on >= date(year, 1, 1), duty_evidence.c.done_on <= date(year, 12, 31))
    return list(conn.execute(query))


@dataclass(frozen=True)
class DutyStatus:
    """Where one unit stands on one duty period (annual summary, UI)."""

    unit_code: str
    duty: Duty
    period: DutyPeriod
    recorded: int  # records dated in [start, deadline]
    state: str  # done | missed | open (deadline not yet passed)

    @property
    def state_text(self) -> str:
        return STATE_TEXT[self.state]


def _evidence_days(conn: Connection, year: int, units: list[str] | None) -> dict[tuple[str, str], list[date]]:
    """(duty code, unit) → the dates of its evidence in ``year`` (every duty period lies
    within its year), read in one query rather than one per unit and period."""
    query = select(duty_evidence.c.duty_code, duty_evidence.c.unit_code, duty_evidence.c.done_on).where(
        duty_evidence.c.done_on >= date(year, 1, 1), duty_evidence.c.done_on <= date(year, 12, 31))
    if units:
        query = query.where(duty_evidence.c.unit_code.in_(units))
    days: dict[tuple[str, str], list[date]] = defaultdict(list)
    for row in conn.execute(query):
        days[(row.duty_code, row.unit_code)].append(row.done_on)
    return days


def duty_status(engine: Engine, policy: Policy, *, year: int, as_of_day: date,
                units: list[str] | None = None) -> list[DutyStatus]:
    """Every responsible unit's standing on every duty period of ``year`` as of
    ``as_of_day`` (a deadline before that day has passed)."""
    with engine.connect() as conn:
        done = _evidence_days(conn, year, units)
    statuses = []
    for duty in policy.duties.items:
        for unit_code in responsible_units(duty, policy):
            if units and unit_code not in units:
                continue
            for period in duty_periods(duty, year):
                recorded = sum(1 for day in done.get((duty.code, unit_code), ()) if period.start <= day <= period.deadline)
                state = "done" if recorded >= duty.min_count else ("missed" if period.deadline < as_of_day else "open")
                statuses.append(DutyStatus(unit_code, duty, period, recorded, state))
    return statuses


def duty_subject(duty_code: str, unit_code: str) -> str:
    """A DUTY_MISSED finding's subject: the duty and the unit that missed it
    (``LEADER_VISIT@YQ21``)."""
    return f"{duty_code}@{unit_code}"


def check_missed(job: Job) -> list[int]:
    """The daily duty check (module docstring): DUTY_MISSED for each duty period whose
    deadline passed before the run's as-of day (within ``judge_within_days``) without
    enough evidence. Returns the finding ids (new or already there)."""
    policy, ctx = job.policy, job.ctx
    as_of = job.period.as_of
    today = as_of.date()
    oldest = today - timedelta(days=policy.duties.judge_within_days)
    statuses = [s for year in (today.year - 1, today.year)
                for s in duty_status(job.engine, policy, year=year, as_of_day=today, units=list(job.spec.units) or None)
                if s.state == "missed" and s.period.deadline >= oldest]
    if job.dry_run:  # a dry run changes nothing in the ledger (README "Dry runs"): say what it would record
        for s in statuses:
            log.info("DRY RUN: would record DUTY_MISSED %s for %s (%s, deadline %s, %d of %d recorded)",
                     s.duty.code, s.unit_code, s.period.label, s.period.deadline, s.recorded, s.duty.min_count)
        return []
    by = Reporter(actor=ctx.actor, dag_id=ctx.dag_id, run_id=ctx.run_id, now=ctx.now)
    calendar = calendar_from_policy(policy)
    ids = []
    with job.engine.begin() as conn:
        for s in statuses:
            item = ReportedFinding(
                # One finding per unit: with the duty's code alone as subject, the five units'
                # missed duty was one ledger row that moved from unit to unit on every run and
                # was announced to the last one daily (§4 fingerprint, §6 each unit its own).
                rule_code=DUTY_MISSED, subject_id=duty_subject(s.duty.code, s.unit_code), unit_code=s.unit_code,
                period=s.period.label,
                judged_as_of=as_of, severity=s.duty.severity,
                detail={"duty": s.duty.name, "plan_items": s.duty.plan_items, "deadline": s.period.deadline.isoformat(),
                        "required": s.duty.min_count, "recorded": s.recorded},
            )
            finding_id, _ = report(conn, item, by, policy=policy, calendar=calendar,
                                   note=f"{s.duty.name}（{s.period.label}）截至 {s.period.deadline} 未登记佐证")
            ids.append(finding_id)
    return ids
