"""回头看 (plan item 34): re-verify the findings closed in a year; reopen those whose
problem is still there, with an audit entry, so 挂账销号 cannot end in a paper closure.

Verification re-runs the detecting rule on today's staging data as of the look-back's
period end: for a rule judged per period (ONLINE_RATIO_LOW) over the finding's own period,
for the others over everything up to as-of. Nothing new is written to the ledger; only
the closed findings that are flagged again move (closed → reopened).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Engine, select, update

from .config import Policy
from .ledger import AuditEvent, RunContext, append_events
from .models import finding
from .periods import Period, parse_period_label
from .rules import detect_subjects
from .rules.registry import ALL_RULES
from .workdays import WorkCalendar

log = logging.getLogger(__name__)

EVERYTHING_FROM = date(2004, 1, 1)  # earliest data the calendar (and a rule) can judge


@dataclass(frozen=True)
class LookBackResult:
    verified: int
    reopened: list[int]


def look_back(
    engine: Engine, *, period: Period, policy: Policy, calendar: WorkCalendar, ctx: RunContext,
    units: list[str] | None = None,
) -> LookBackResult:
    query = (
        select(finding.c.id, finding.c.rule_code, finding.c.subject_id, finding.c.period, finding.c.unit_code)
        .where(finding.c.status == "closed")
        .where(finding.c.closed_at >= period.start_at, finding.c.closed_at < period.as_of)
    )
    if units:
        query = query.where(finding.c.unit_code.in_(units))
    with engine.connect() as conn:
        closed = conn.execute(query).all()
    groups: dict[tuple[str, str | None], list] = defaultdict(list)
    for row in closed:
        groups[(row.rule_code, row.period)].append(row)
    reopened: list[int] = []
    for (rule_code, label), rows in sorted(groups.items(), key=lambda item: (item[0][0], item[0][1] or "")):
        rule = ALL_RULES.get(rule_code)
        if rule is None:
            log.warning("look-back: rule %s is no longer known; %d finding(s) left as they are", rule_code, len(rows))
            continue
        window = parse_period_label(label) if label else Period(EVERYTHING_FROM, period.end)
        still = detect_subjects(engine, rule, period=window, policy=policy, calendar=calendar)
        again = [row.id for row in rows if row.subject_id in still]
        if again:
            _reopen(engine, again, ctx, severity=rule.severity, policy=policy, calendar=calendar)
            reopened.extend(again)
        log.info("look-back %s%s: %d closed, %d still present", rule_code, f" ({label})" if label else "",
                 len(rows), len(again))
    return LookBackResult(len(closed), reopened)


def _reopen(engine: Engine, ids: list[int], ctx: RunContext, *, severity: str, policy: Policy,
            calendar: WorkCalendar) -> None:
    now: datetime = ctx.now.replace(microsecond=0)
    # A reopened finding is a problem to rectify again: it is announced again
    # (notified_outbox_id cleared) with a fresh due date by its severity, not the old one
    # that would make it overdue (and escalated) the day it comes back.
    due = calendar.add_working_days(now.date(), policy.rectification_working_days[severity])
    with engine.begin() as conn:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            conn.execute(update(finding).where(finding.c.id.in_(chunk))
                         .values(status="reopened", closed_at=None, notified_outbox_id=None, last_detected_at=now,
                                 due_date=due))
        append_events(conn, [
            AuditEvent(fid, now, ctx.actor, "closed", "reopened", f"回头看复核：问题仍然存在（run {ctx.run_id}）")
            for fid in ids
        ])
