"""The monthly 六不准 report (plan items 26, 27) to CITY_BUREAU: per unit and per
prohibition, what the machine found this month, and an explicit zero report where it found
nothing — the plan's 零报告制度 means "nothing found" must be said, not left unsaid.

Three of the six prohibitions (leaking data, steering clients to agents, taking fees) leave
no trace in the systems bdcwatch reads; the report says so instead of reporting a zero it
cannot vouch for, and leaves them to the units' own monthly return.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd
from sqlalchemy import select

from bdcwatch import rules
from bdcwatch.config.policy import Person, Policy
from bdcwatch.config.run import Job
from bdcwatch.ledger.preview import run_findings
from bdcwatch.mail.outbox import OutgoingMessage
from bdcwatch.mail.sender import Attachment
from bdcwatch.reports.common import CITY_SUPERVISOR, render_template, workbook
from bdcwatch.reports.dispatch import isolated, queue
from bdcwatch.reports.labels import occurred_on
from bdcwatch.rules import Prohibition
from bdcwatch.safe_text import subject_line
from bdcwatch.standards.masking import mask_id_numbers
from bdcwatch.store.models import finding


@dataclass(frozen=True)
class Group:
    """One prohibition and the rules that detect it (empty: not machine-checkable)."""

    text: str
    rules: tuple[str, ...]


@dataclass(frozen=True)
class UnitLine:
    """One unit's line of the report: a count per prohibition (None: not machine-checkable)."""

    code: str
    name: str
    cells: list[int | None]
    total: int


def groups() -> list[Group]:
    """The six prohibitions in the plan's order, each with the rules declared for it."""
    registry = rules.all_rules().values()
    return [Group(p.text, tuple(r.code for r in registry if r.prohibition is p)) for p in Prohibition]


# Staff findings are counted by when they were first detected, in windows from one
# report's scheduled time to the next: monthly_quality_check runs at 03:00 on the 1st
# (dags/monthly_quality_check.py; a test holds the two equal), after Monday's 02:00 staff
# audit, so what that audit finds on the 1st is in the month just ended, once.
REPORT_CUTOFF = timedelta(hours=3)


def monthly_counts(job: Job, *, until: datetime) -> dict[tuple[str, str], int]:
    """(unit, rule) → findings of the 六不准 rules for the run's month: the case rules this
    run judged on the month's data (in a dry run, what it would record), plus the staff
    rules' findings that the weekly staff audits first detected in the month's window —
    from 03:00 on the month's 1st to 03:00 on the next month's 1st (``REPORT_CUTOFF``), and
    before ``until`` (now) — for an event that happened before the month ended (the rule's
    ``occurred`` date, e.g. the first step handled; when it was found if a finding has
    none). The windows follow one another, so each staff finding is in exactly one month's
    report: an event of 30 March found at 02:00 on 1 April is March's; one of 27 February
    first found on 2 March is March's (found after February's report). A report rerun for
    an old month counts what its window held, never a later month's events.
    """
    codes = sorted({code for group in groups() for code in group.rules})
    case_rules = [code for code in codes if rules.get(code).family == "case"]
    staff_rules = [code for code in codes if code not in case_rules]
    counts: Counter[tuple[str, str]] = Counter((f.unit_code or "", f.rule_code) for f in run_findings(job, case_rules))
    month = job.spec.period
    query = (
        select(finding.c.unit_code, finding.c.rule_code, finding.c.detail, finding.c.first_detected_at)
        .where(finding.c.rule_code.in_(staff_rules), finding.c.first_detected_at >= month.start_at + REPORT_CUTOFF,
               finding.c.first_detected_at < min(until, month.as_of + REPORT_CUTOFF))
    )
    with job.engine.connect() as conn:
        for unit, rule, detail, detected in conn.execute(query):
            day = _occurred_day(rule, detail, detected)
            if day < month.end:
                counts[(unit or "", rule)] += 1
    return dict(counts)


def _occurred_day(rule: str, detail: str | None, detected: datetime) -> date:
    occurred = occurred_on(rule, detail or "{}")
    try:
        return date.fromisoformat(occurred) if occurred else detected.date()
    except ValueError:  # a date-shaped value that is no date (2026-13-45): when it was found
        return detected.date()


def render_six_prohibitions(
    counts: dict[tuple[str, str], int], *, policy: Policy, units: Sequence[str], heads: Sequence[Person],
    period_label: str, period_text: str, dag_id: str, run_id: str,
) -> tuple[str, str, bytes]:
    """Subject, HTML and workbook (pure)."""
    prohibitions = groups()
    table: list[UnitLine] = []
    for code in units:
        cells = [sum(counts.get((code, rule), 0) for rule in p.rules) if p.rules else None for p in prohibitions]
        table.append(UnitLine(code, policy.units[code].name, cells, sum(c for c in cells if c is not None)))
    total = sum(row.total for row in table)
    zero = total == 0
    verdict = "零报告" if zero else f"发现问题 {total} 项"
    # A run for some units only (Param ``units``) reports on those, and says so: it must not
    # read as the city's report with smaller numbers.
    whole_city = set(units) >= set(policy.units)
    scope = "" if whole_city else f"（所选 {len(table)} 个登记机构）"
    subject = f"【不动产登记监督】“六不准”月报（{period_label}）{scope}：{verdict}"
    html = render_template("six_prohibitions.html.j2",
        subject=subject, heads=heads, prohibitions=prohibitions, table=table, total=total, zero=zero,
        scope="全市" if whole_city else "所选的",
        period_label=period_label, period_text=period_text, dag_id=dag_id, run_id=run_id,
    )
    frame = pd.DataFrame(
        [{"登记机构": row.name, **{p.text: ("不适用（无系统数据）" if c is None else c)
                                 for p, c in zip(prohibitions, row.cells, strict=True)},
          "合计": row.total, "结论": "零报告" if row.total == 0 else "有问题"} for row in table]
    )
    return subject_line(subject), mask_id_numbers(html), workbook({f"六不准 {period_label}": frame})


@isolated("“六不准”月报")
def compose(job: Job) -> list[int]:
    """Queue the monthly 六不准 report to CITY_BUREAU, a zero report when nothing was found."""
    policy, spec, ctx = job.policy, job.spec, job.ctx
    counts = monthly_counts(job, until=job.now())
    bureau = policy.supervisors[CITY_SUPERVISOR]
    units = job.units
    subject, html, content = render_six_prohibitions(
        counts, policy=policy, units=units, heads=bureau.heads, period_label=spec.period_label,
        period_text=spec.period_text, dag_id=ctx.dag_id, run_id=ctx.run_id,
    )
    message = OutgoingMessage(
        dedup_key=f"six_prohibitions|{spec.period_label}|{','.join(units)}", kind="six_prohibitions",
        dag_id=ctx.dag_id, run_id=ctx.run_id, period=spec.period_label, unit_code=None,
        recipients=tuple(h.email for h in bureau.heads), subject=subject, html=html,
        attachments=(Attachment(f"六不准月报_{spec.period_label}.xlsx", content),),
    )
    outbox_id = queue(job, message)
    return [outbox_id] if outbox_id is not None else []
