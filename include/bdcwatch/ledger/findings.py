"""Findings: what rules detect, upserted into the ledger by fingerprint.

A finding is keyed by ``rule_code|subject_id|period``. Detecting it again updates
``last_detected_at`` and the detail; it never creates a second row and never changes the
status: only a person (CLI, UI) or ``look_back`` moves a finding along its lifecycle
(``ledger.lifecycle``), and every such move is an audit event (``ledger.audit``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, Engine, bindparam, delete, select, text, update

from bdcwatch import rules
from bdcwatch.config.policy import Policy
from bdcwatch.config.run import Job, RunContext
from bdcwatch.dates.periods import Period
from bdcwatch.dates.workdays import WorkCalendar
from bdcwatch.ledger.audit import AuditEvent, append_events
from bdcwatch.rules import Rule, get
from bdcwatch.rules.engine import detection, prepare_calendar, rule_input
from bdcwatch.standards.masking import mask_id_numbers
from bdcwatch.store.dialect import Dialect, bind_typed
from bdcwatch.store.models import finding, finding_run
from bdcwatch.xcom import XcomModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FindingRow:
    """A finding as reports need it (a row of ``finding``). ``id`` 0 is a finding a dry run
    would record (not in the ledger yet)."""

    id: int
    rule_code: str
    severity: str
    unit_code: str | None
    subject_type: str
    subject_id: str
    period: str | None
    detail: str
    status: str
    first_detected_at: datetime
    due_date: date
    notified_outbox_id: int | None = None  # the message that announced it (None: not yet)
    occurred_on: date | None = None  # finding.occurred_on: the day the problem happened (occurred_day)

    @classmethod
    def from_row(cls, row: Any) -> FindingRow:
        """From a row of the ``finding`` table."""
        return cls(row.id, row.rule_code, row.severity, row.unit_code, row.subject_type, row.subject_id, row.period,
                   row.detail, row.status, row.first_detected_at, row.due_date,
                   getattr(row, "notified_outbox_id", None), getattr(row, "occurred_on", None))


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
                             first_run_id, last_run_id, judged_as_of)
        SELECT {fingerprint}, :rule_code, :severity, r.unit_code, :subject_type, r.subject_id, :period,
               r.detail, 'open', :now, :now, :due_date, :dag_id, :run_id, :run_id, :judged_as_of
        FROM ({select_sql}) r
        WHERE 1 = 1
    """
    # A finding detected again takes the unit the source now names (a case's DJJG corrected,
    # a person transferred): the unit answering for it is the one its heads, digests and
    # escalations go to (§6), and that unit has not been told yet, so it is announced again.
    if dialect.name == "mysql":  # MySQL assigns left to right: compare before unit_code changes
        insert_sql += """ ON DUPLICATE KEY UPDATE last_detected_at = VALUES(last_detected_at),
            last_run_id = VALUES(last_run_id), detail = VALUES(detail),
            notified_outbox_id = IF(finding.unit_code <=> VALUES(unit_code), finding.notified_outbox_id, NULL),
            unit_code = VALUES(unit_code)"""
    else:
        same_unit = ("finding.unit_code IS NOT DISTINCT FROM excluded.unit_code" if dialect.name == "postgresql"
                     else "finding.unit_code IS excluded.unit_code")
        insert_sql += f""" ON CONFLICT (fingerprint) DO UPDATE SET last_detected_at = excluded.last_detected_at,
            last_run_id = excluded.last_run_id, detail = excluded.detail, unit_code = excluded.unit_code,
            notified_outbox_id = CASE WHEN {same_unit} THEN finding.notified_outbox_id ELSE NULL END"""
    bound = {
        **params,
        "rule_code": rule_code, "severity": severity, "subject_type": subject_type, "period": period,
        "period_key": period or "", "now": ctx.now.replace(microsecond=0), "due_date": due_date,
        "dag_id": ctx.dag_id, "run_id": ctx.run_id,
        # The data time the finding is about: the as-of the rule judged (kept from the first
        # detection; the monthly bulletin counts findings per month by it).
        "judged_as_of": params.get("asof"),
    }
    conn.execute(bind_typed(text(insert_sql), bound), bound)
    _record_run(conn, rule_code, ctx.run_id, bound["now"])
    detected = _stamp_occurred(conn, rule_code, ctx.run_id, bound["now"])
    new_ids = _findings_without_events(conn, rule_code, ctx.run_id)
    append_events(
        conn,
        [AuditEvent(fid, bound["now"], ctx.actor, None, "open",
                    f"规则 {rule_code} 自动发现（运行 {ctx.run_id}）")
         for fid in new_ids],
    )
    return detected, len(new_ids)


def occurred_day(rule_code: str, detail: str | None, judged_as_of: datetime | None,
                 first_detected_at: datetime) -> date:
    """``finding.occurred_on``: the day the problem happened (the rule's ``occurred``
    detail value: a certificate's SZSJ, a case's JSSJ, a complaint's 受理时间); for a rule
    without one (a state such as a mismatching e-certificate), the last day of the period
    the first run judged (the day before its as-of, ``judged_as_of``); else the day first
    detected. Migration 0011 fills existing rows the same way."""
    rule = rules.all_rules().get(rule_code)
    day = rule.occurred_on(detail) if rule is not None else None
    if day is not None:
        return day
    if judged_as_of is not None:
        return (judged_as_of - timedelta(seconds=1)).date()
    return first_detected_at.date()


# How long a run's detections are kept in ``finding_run``: a compose task retried (an Airflow
# clear) within this long still reads its own run's findings.
RUN_RECORD_DAYS = 60


def _record_run(conn: Connection, rule_code: str, run_id: str, now: datetime) -> None:
    """Record which findings of ``rule_code`` this run detected (``finding_run``), in the
    upsert's transaction (no later run can have overwritten ``last_run_id`` yet), and drop
    records older than ``RUN_RECORD_DAYS``. Set-based: as many rows as detections."""
    params = {"run_id": run_id, "rule_code": rule_code, "now": now}
    conn.execute(bind_typed(text("""
        INSERT INTO finding_run (run_id, finding_id, recorded_at)
        SELECT :run_id, f.id, :now FROM finding f
        WHERE f.rule_code = :rule_code AND f.last_run_id = :run_id AND f.last_detected_at = :now
          AND NOT EXISTS (SELECT 1 FROM finding_run r WHERE r.run_id = :run_id AND r.finding_id = f.id)"""), params),
        params)
    conn.execute(delete(finding_run).where(finding_run.c.recorded_at < now - timedelta(days=RUN_RECORD_DAYS)))


def subject_shown(subject_id: str) -> str | None:
    """``finding.subject_shown``: the subject as every output shows it (ID numbers masked,
    §6) where that differs from it, else None (the subject search reads it, migration 0017)."""
    shown = mask_id_numbers(subject_id)
    return shown if shown != subject_id else None


def _stamp_occurred(conn: Connection, rule_code: str, run_id: str, now: datetime) -> int:
    """Set ``occurred_on`` and ``subject_shown`` of the findings this run detected where
    missing or where the detail now says otherwise (a source corrected); returns how many
    it detected. Reads the run's detections only, so a daily run's cost follows what it
    found, not the ledger's size."""
    rows = conn.execute(
        select(finding.c.id, finding.c.detail, finding.c.judged_as_of, finding.c.first_detected_at,
               finding.c.occurred_on, finding.c.subject_id, finding.c.subject_shown)
        .where(finding.c.rule_code == rule_code, finding.c.last_run_id == run_id, finding.c.last_detected_at == now)
    ).all()
    changed = []
    for r in rows:
        day = occurred_day(rule_code, r.detail, r.judged_as_of, r.first_detected_at)
        shown = subject_shown(r.subject_id)
        if (day, shown) != (r.occurred_on, r.subject_shown):
            changed.append({"row_id": r.id, "day": day, "shown": shown})
    if changed:
        conn.execute(update(finding).where(finding.c.id == bindparam("row_id"))
                     .values(occurred_on=bindparam("day"), subject_shown=bindparam("shown")), changed)
    return len(rows)


def _findings_without_events(conn: Connection, rule_code: str, run_id: str) -> list[int]:
    rows = conn.execute(
        text(
            """SELECT f.id FROM finding f WHERE f.rule_code = :rule_code AND f.first_run_id = :run_id
               AND NOT EXISTS (SELECT 1 FROM finding_event e WHERE e.finding_id = f.id) ORDER BY f.id"""
        ),
        {"rule_code": rule_code, "run_id": run_id},
    )
    return [row[0] for row in rows]


class RuleOutcome(BaseModel):
    """What one rule did in a run (XCom-sized)."""

    rule_code: str
    detected: int
    new: int


class Evaluation(XcomModel):
    """What the evaluate task hands on: each rule's outcome, and the years whose working
    days were counted Monday to Friday because the calendar does not know them yet."""

    outcomes: list[RuleOutcome] = []
    calendar_fallback_years: list[int] = []




def run_rules(
    engine: Engine,
    rules: Sequence[Rule],
    *,
    period: Period,
    policy: Policy,
    calendar: WorkCalendar,
    ctx: RunContext,
    units: Sequence[str] | None = None,
) -> list[RuleOutcome]:
    """Run each rule over the whole population of the period and record its findings
    (one transaction per rule); returns what each detected and how many were new."""
    ri = rule_input(engine, period, policy)
    prepare_calendar(engine, rules, calendar, period)
    outcomes = []
    for rule in rules:
        select_sql, params = detection(rule, ri, units)
        due = calendar.add_working_days(ctx.now.date(), policy.rectification_working_days[rule.severity])
        with engine.begin() as conn:
            detected, new = record_findings(
                conn, rule_code=rule.code, severity=rule.severity, subject_type=rule.subject_type,
                period=rule.period_label(ri), due_date=due, select_sql=select_sql, params=params, ctx=ctx,
            )
        log.info("%s: %d detected, %d new (period %s, as of %s)", rule.code, detected, new, period.label,
                 period.as_of.isoformat(sep=" "))
        outcomes.append(RuleOutcome(rule_code=rule.code, detected=detected, new=new))
    return outcomes


def evaluate(job: Job, rule_codes: Sequence[str]) -> Evaluation:
    """The evaluate task: run ``rule_codes`` over the job's period and units and record
    what they find; a dry run records nothing (``ledger.preview``)."""
    if job.dry_run:
        from bdcwatch.ledger import preview

        return preview.evaluation(job, rule_codes)
    outcomes = run_rules(
        job.engine, [get(code) for code in rule_codes], period=job.period, policy=job.policy,
        calendar=job.calendar, ctx=job.ctx, units=job.spec.units,
    )
    return Evaluation(outcomes=outcomes, calendar_fallback_years=sorted(job.calendar.fallback_years))
