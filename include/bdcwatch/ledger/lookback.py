"""回头看 (plan item 34): re-verify the findings closed in a year; reopen those whose
problem is still there, with an audit entry, so 挂账销号 cannot end in a paper closure.

Only a state can be re-verified by data (an e-certificate still missing, a record still
incomplete, a case still open). A finding that records an event (``Rule.event``: a case
finished late, a step by an untrained person, a past month's online share) stays in the
data whatever was done about it; re-running its rule would reopen it every year, so it is
left to people, as reported findings are, and counted as such.

Verification re-runs the detecting rule on today's staging data as of the look-back's
period end: for a rule judged per period (ONLINE_RATIO_LOW) over the finding's own period,
for the others over everything up to as-of. Nothing new is written to the ledger; only
the closed findings that are flagged again move (closed → reopened).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, select, update

from bdcwatch import rules
from bdcwatch.config.policy import Policy
from bdcwatch.config.run import Job, RunContext
from bdcwatch.dates.periods import Period, parse_period_label
from bdcwatch.dates.workdays import WorkCalendar
from bdcwatch.ledger.lifecycle import change_status, due_by_severity
from bdcwatch.rules.engine import detect_subjects
from bdcwatch.store.models import finding
from bdcwatch.xcom import XcomModel

log = logging.getLogger(__name__)

EVERYTHING_FROM = date(2004, 1, 1)  # earliest data the calendar (and a rule) can judge


class LookBackResult(XcomModel):
    """What look-back did: closed findings verified, and the ids it reopened (XCom-sized)."""

    verified: int  # closed findings re-checked with their rule
    reopened: list[int]
    calendar_fallback_years: list[int] = []
    # Closed findings no rule can re-check: reported ones (complaints, review defects) and
    # events (``Rule.event``: a case finished late stays late); people verify those.
    left_to_people: int = 0




def look_back(
    engine: Engine, *, period: Period, policy: Policy, calendar: WorkCalendar, ctx: RunContext,
    units: list[str] | None = None, dry_run: bool = False,
) -> LookBackResult:
    """Verify the findings closed in ``period``; reopen (unless ``dry_run``) those whose
    rule still flags their subject. Returns how many were verified and which (would be)
    reopened."""
    query = (
        select(finding.c.id, finding.c.rule_code, finding.c.subject_id, finding.c.period, finding.c.unit_code)
        .where(finding.c.status == "closed")
        .where(finding.c.closed_at >= period.start_at, finding.c.closed_at < period.as_of)
    )
    if units:
        query = query.where(finding.c.unit_code.in_(units))
    with engine.connect() as conn:
        closed = conn.execute(query).all()
    groups: dict[tuple[str, str | None], list[Any]] = defaultdict(list)
    for row in closed:
        groups[(row.rule_code, row.period)].append(row)
    reopened: list[int] = []
    left_to_people = 0
    for (rule_code, label), rows in sorted(groups.items(), key=lambda item: (item[0][0], item[0][1] or "")):
        rule = rules.all_rules().get(rule_code)
        if rule is None:
            log.warning("look-back: rule %s is no longer known; %d finding(s) left as they are", rule_code, len(rows))
            continue
        if not rule.detected:  # reported by people or an intake (CONTRACT §8): people verify those
            log.info("look-back: %s is reported by %s, not re-checked by machine; %d finding(s) left as they are",
                     rule_code, rule.reporter, len(rows))
            left_to_people += len(rows)
            continue
        if rule.event:  # what happened stays in the data: re-running it proves nothing of the measures taken
            log.info("look-back: %s records an event (it happened and stays in the data), not re-checked by "
                     "machine; %d finding(s) left as they are", rule_code, len(rows))
            left_to_people += len(rows)
            continue
        window = parse_period_label(label) if label else Period(EVERYTHING_FROM, period.end)
        still = detect_subjects(engine, rule, period=window, policy=policy, calendar=calendar)
        again = [row.id for row in rows if row.subject_id in still]
        if again and not dry_run:
            _reopen(engine, again, ctx, policy=policy, calendar=calendar)
        reopened.extend(again)
        log.info("look-back %s%s: %d closed, %d still present", rule_code, f" ({label})" if label else "",
                 len(rows), len(again))
    return LookBackResult(verified=len(closed) - left_to_people, reopened=reopened,
                          calendar_fallback_years=sorted(calendar.fallback_years), left_to_people=left_to_people)


def _reopen(engine: Engine, ids: list[int], ctx: RunContext, *, policy: Policy, calendar: WorkCalendar) -> None:
    now: datetime = ctx.now.replace(microsecond=0)
    # The one lifecycle (closed → reopened, with its audit entries): a reopened finding is
    # a problem to rectify again, announced again with a fresh due date by its severity.
    with engine.begin() as conn:
        change_status(conn, ids, "reopened", actor=ctx.actor, note=f"回头看复核：问题仍然存在（运行 {ctx.run_id}）",
                      now=now, reopen_due=due_by_severity(policy, calendar, now.date()))
        for start in range(0, len(ids), 500):  # detected again now, by this run
            conn.execute(update(finding).where(finding.c.id.in_(ids[start : start + 500])).values(last_detected_at=now))


def run(job: Job) -> LookBackResult:
    """The look_back task: 回头看 over the findings closed in the job's period."""
    return look_back(job.engine, period=job.period, policy=job.policy, calendar=job.calendar, ctx=job.ctx,
                     units=list(job.spec.units) or None, dry_run=job.dry_run)
