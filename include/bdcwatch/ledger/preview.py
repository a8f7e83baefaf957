"""What a run detected, and what a dry run *would* record, without writing the ledger.

A real run records findings (``findings.run_rules``: each rule's SELECT inside an upsert)
and the reports read them back from ``finding``. A dry run (``RunSpec.dry_run``) runs the
same SELECT of each rule, with the same parameters, joined to the ledger by fingerprint
(``rule|subject|period``) instead of inserted: a subject already in the ledger keeps its
id, status, first detection, due date and announcement; a new one gets id 0, status
``open`` and the due date the real run would give it. The reports are then rendered from
these rows exactly as from the ledger's. Nothing is written but the derived working-day
calendar table (``work_calendar``, rebuilt by every run that counts working days).

The rows are kept per process (one task) so the digests, the warning list and the 六不准
report of one compose task share one evaluation.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import select, text

from bdcwatch.config.run import Job
from bdcwatch.ledger.findings import Evaluation, FindingRow, RuleOutcome, occurred_day
from bdcwatch.rules import get
from bdcwatch.rules.engine import detection, prepare_calendar, rule_input
from bdcwatch.store.dialect import Dialect, bind_typed
from bdcwatch.store.models import finding, finding_run

log = logging.getLogger(__name__)

_DETECTED: dict[tuple[str, str, tuple[str, ...], tuple[str, ...]], list[FindingRow]] = {}


def detect(job: Job, rule_codes: Sequence[str]) -> list[FindingRow]:
    """The findings ``rule_codes`` detect for the job's period and units, merged with the
    ledger, read-only (see the module docstring)."""
    key = (str(job.engine.url), job.ctx.run_id, tuple(rule_codes), tuple(job.spec.units))
    if key in _DETECTED:
        return _DETECTED[key]
    engine, policy = job.engine, job.policy
    ri = rule_input(engine, job.period, policy)
    chosen = [get(code) for code in rule_codes]
    prepare_calendar(engine, chosen, job.calendar, job.period)
    fingerprint = Dialect(engine.dialect.name).concat(":rule_code", "'|'", "r.subject_id", "'|'", ":period_key")
    now = job.ctx.now.replace(microsecond=0)
    rows: list[FindingRow] = []
    for rule in chosen:
        select_sql, params = detection(rule, ri, job.spec.units)
        label = rule.period_label(ri)
        statement = f"""
            SELECT r.subject_id, r.unit_code, r.detail, f.id AS finding_id, f.status, f.first_detected_at,
                   f.due_date, f.notified_outbox_id, f.occurred_on
            FROM ({select_sql}) r LEFT JOIN finding f ON f.fingerprint = {fingerprint}"""
        bound = {**params, "rule_code": rule.code, "period_key": label or ""}
        due = job.calendar.add_working_days(now.date(), policy.rectification_working_days[rule.severity])
        with engine.connect() as conn:
            found = list(conn.execute(bind_typed(text(statement), bound), bound))
        rows.extend(
            FindingRow(int(r.finding_id or 0), rule.code, str(rule.severity.value), r.unit_code, rule.subject_type,
                       str(r.subject_id), label, str(r.detail), r.status or "open", r.first_detected_at or now,
                       r.due_date or due, r.notified_outbox_id,
                       r.occurred_on or occurred_day(rule.code, str(r.detail), ri.period.as_of, now))
            for r in found
        )
        log.info("dry run %s: %d detected, %d new (not recorded)", rule.code, len(found),
                 sum(1 for r in found if r.finding_id is None))
    _DETECTED[key] = rows
    return rows


def evaluation(job: Job, rule_codes: Sequence[str]) -> Evaluation:
    """The evaluate task of a dry run: each rule's outcome, nothing recorded."""
    rows = detect(job, rule_codes)
    outcomes = [RuleOutcome(rule_code=code, detected=sum(1 for r in rows if r.rule_code == code),
                            new=sum(1 for r in rows if r.rule_code == code and not r.id)) for code in rule_codes]
    return Evaluation(outcomes=outcomes, calendar_fallback_years=sorted(job.calendar.fallback_years))


def run_findings(job: Job, rule_codes: Sequence[str]) -> list[FindingRow]:
    """The findings of ``rule_codes`` this run detected, new or again (``finding_run``, so a
    later run detecting them too does not take them from this run's reports; in a dry run,
    what it would record)."""
    if job.dry_run:
        return detect(job, rule_codes)
    query = (select(finding).join(finding_run, finding_run.c.finding_id == finding.c.id)
             .where(finding_run.c.run_id == job.ctx.run_id, finding.c.rule_code.in_(list(rule_codes)))
             .order_by(finding.c.id))
    with job.engine.connect() as conn:
        return [FindingRow.from_row(r) for r in conn.execute(query)]


def unannounced(
    job: Job, rule_codes: Sequence[str], units: Sequence[str] | None, finding_ids: Sequence[int] | None = None
) -> list[FindingRow]:
    """What a digest of the job's DAG announces: its findings not yet announced and not
    closed, or (look-back) exactly ``finding_ids``. In a dry run: what the run would
    record and has not been announced, plus the ledger's unannounced findings of the DAG;
    ``finding_ids`` are the findings look-back would reopen, shown as reopened."""
    query = select(finding).where(finding.c.notified_outbox_id.is_(None), finding.c.status != "closed")
    if finding_ids is not None:
        query = select(finding).where(finding.c.id.in_(list(finding_ids)))
        if not job.dry_run:
            query = query.where(finding.c.notified_outbox_id.is_(None), finding.c.status != "closed")
    else:
        query = query.where(finding.c.dag_id == job.ctx.dag_id)
    if units:
        query = query.where(finding.c.unit_code.in_(list(units)))
    with job.engine.connect() as conn:
        ledger = [FindingRow.from_row(r) for r in conn.execute(query.order_by(finding.c.id))]
    if not job.dry_run:
        return ledger
    if finding_ids is not None:
        return [_reopened(r) for r in ledger]
    would = [r for r in detect(job, rule_codes) if r.notified_outbox_id is None and r.status != "closed"
             and (not units or r.unit_code in units)]
    known = {r.id for r in would if r.id}
    return would + [r for r in ledger if r.id not in known]


def _reopened(row: FindingRow) -> FindingRow:
    return replace(row, status="reopened", notified_outbox_id=None)


def forget(run_id: str) -> None:
    """Drop the kept rows of ``run_id`` (tests run several dry runs in one process)."""
    for key in [k for k in _DETECTED if k[1] == run_id]:
        del _DETECTED[key]

