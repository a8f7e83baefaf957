"""Recording findings that people or intakes report (CONTRACT §8): a reviewer's 不合格,
a complaint, a duty without evidence. They live in the same ``finding`` table as what
the rules detect, with the same fingerprint (``rule_code|subject_id|period``), lifecycle,
due dates and audit trail; ``rules/reported.py`` declares their titles and labels.

``report`` upserts one: a new subject becomes an ``open`` finding with a due date by
severity and a detection event; a subject reported again with the same content changes
nothing at all (a file processed twice is a no-op); with a different content, unit or
severity the finding is updated in place (never duplicated) with an audit entry naming
what changed; an open finding whose severity became graver gets the due date of its new
severity (from its first report) and is announced to its unit again, as one that moved
to another unit is. Status is left alone: only people (and, for detected rules,
look-back) move a finding along its lifecycle.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import Connection, select, update

from bdcwatch.config.policy import Policy, Severity
from bdcwatch.dates.workdays import WorkCalendar
from bdcwatch.ledger.audit import AuditEvent, append_events
from bdcwatch.ledger.findings import occurred_day, subject_shown
from bdcwatch.ledger.lifecycle import OPEN_STATUSES
from bdcwatch.rules import get
from bdcwatch.standards.masking import mask_id_numbers
from bdcwatch.store.models import finding

Outcome = Literal["new", "updated", "unchanged"]
_GRAVITY = {"low": 1, "medium": 2, "high": 3}


@dataclass(frozen=True)
class ReportedFinding:
    """One reported finding. ``detail`` keys are the rule's labels (``rules/reported.py``);
    text values are masked (CONTRACT §6) before they are stored."""

    rule_code: str
    subject_id: str
    unit_code: str | None
    detail: Mapping[str, Any]
    judged_as_of: datetime  # the data time it is about (see store.models.finding)
    period: str | None = None
    severity: Severity | None = None  # None: the declared severity of the rule


@dataclass(frozen=True)
class Reporter:
    """Who reports, from where, and when (local wall clock)."""

    actor: str  # a person's name, or bdcwatch:<dag_id> for an intake
    dag_id: str  # the DAG the finding belongs to (whose digest announces it)
    run_id: str
    now: datetime


def fingerprint(rule_code: str, subject_id: str, period: str | None) -> str:
    """The ledger key, exactly as ``ledger.findings.record_findings`` builds it."""
    return f"{rule_code}|{subject_id}|{period or ''}"


def due_date(policy: Policy, calendar: WorkCalendar, severity: Severity | str, today: date) -> date:
    """rectification_working_days by severity from ``today`` (CONTRACT §4 due_date)."""
    return calendar.add_working_days(today, policy.rectification_working_days[Severity(severity)])


def _masked(detail: Mapping[str, Any]) -> dict[str, Any]:
    return {key: mask_id_numbers(value) if isinstance(value, str) else value for key, value in detail.items()}


def _loads(text: str | None) -> Any:
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return text


def report(
    conn: Connection, item: ReportedFinding, by: Reporter, *, policy: Policy, calendar: WorkCalendar, note: str
) -> tuple[int, Outcome]:
    """Upsert ``item`` in the ledger (see the module docstring); returns (finding id,
    what happened). ``note`` goes into the audit entry of a new or updated finding.

    Raises:
        KeyError: ``item.rule_code`` is not declared.
        ValueError: the rule is a detected one (its findings come from its SQL).
    """
    rule = get(item.rule_code)
    if rule.detected:
        raise ValueError(f"{rule.code} is detected by its SQL; only reported findings are recorded here")
    severity = Severity(item.severity or rule.severity)
    detail = _masked(item.detail)
    detail_text = json.dumps(detail, ensure_ascii=False)
    now = by.now.replace(microsecond=0)
    key = fingerprint(rule.code, item.subject_id, item.period)
    row = conn.execute(select(finding).where(finding.c.fingerprint == key)).first()
    if row is None:
        conn.execute(finding.insert().values(
            fingerprint=key, rule_code=rule.code, severity=severity.value, unit_code=item.unit_code,
            subject_type=rule.subject_type, subject_id=item.subject_id, subject_shown=subject_shown(item.subject_id),
            period=item.period, detail=detail_text,
            status="open", first_detected_at=now, last_detected_at=now,
            due_date=due_date(policy, calendar, severity, now.date()), dag_id=by.dag_id, first_run_id=by.run_id,
            last_run_id=by.run_id, judged_as_of=item.judged_as_of.replace(microsecond=0),
            occurred_on=occurred_day(rule.code, detail_text, item.judged_as_of, now),
        ))
        finding_id = int(conn.execute(select(finding.c.id).where(finding.c.fingerprint == key)).scalar_one())
        append_events(conn, [AuditEvent(finding_id, now, by.actor, None, "open", mask_id_numbers(note))])
        return finding_id, "new"
    changed = [label for label, old, new in (
        ("内容", _loads(row.detail), detail), ("单位", row.unit_code, item.unit_code), ("等级", row.severity, severity.value),
    ) if old != new]
    if not changed:
        return int(row.id), "unchanged"
    values: dict[str, Any] = {"detail": detail_text, "unit_code": item.unit_code, "severity": severity.value,
                              "last_detected_at": now, "last_run_id": by.run_id,
                              "occurred_on": occurred_day(rule.code, detail_text, item.judged_as_of, now)}
    if row.unit_code != item.unit_code:
        values["notified_outbox_id"] = None  # the unit it now belongs to has not been told
    if _GRAVITY[severity.value] > _GRAVITY.get(row.severity, 0) and row.status in OPEN_STATUSES:
        # Graver: its due date follows its severity (CONTRACT §4), counted from when it was
        # first reported; the unit is told again (a 咨询 re-exported as 举报 is a new matter
        # to it). Milder: the earlier, stricter due date stands (a re-export must not make
        # an overdue complaint current again).
        values["due_date"] = due_date(policy, calendar, severity, row.first_detected_at.date())
        values["notified_outbox_id"] = None
    conn.execute(update(finding).where(finding.c.id == row.id).values(**values))
    append_events(conn, [AuditEvent(row.id, now, by.actor, row.status, row.status,
                                    mask_id_numbers(f"更新（{'、'.join(changed)}）：{note}"))])
    return int(row.id), "updated"
