"""The unit digest (CONTRACT §6): each unit's heads get that unit's new findings of a
DAG, headed by the unit's ledger figures, with its six-month trend chart inline.

"New" means not yet announced: a finding is marked with the outbox message that carried
it in the same transaction that queues the message, so a rerun of the period finds
nothing left to announce and queues nothing, and a crash before the commit leaves both
undone. One unit's digest failing to compose is reported to operations and leaves the
other units' digests untouched (``dispatch.attempt``).

What a head reads (issue 11): each finding's id (a phone call can refer to it, and it
links to the finding's page in the operations UI when ``[api] base_url`` is set), its
title, severity, status when not simply 待整改, subject type and subject, the detail with
code lists by name, the period it belongs to (所属期间), the due date, and under the list
one plain explanation per kind of problem, from the rule's declaration.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, select, update

from bdcwatch import rules
from bdcwatch.config.policy import Person
from bdcwatch.config.run import Job
from bdcwatch.ledger import preview
from bdcwatch.ledger.findings import Evaluation
from bdcwatch.ledger.lookback import LookBackResult
from bdcwatch.mail.outbox import OutgoingMessage
from bdcwatch.mail.sender import INLINE_PREFIX, Attachment
from bdcwatch.reports.chart import chart_alt, trend_chart_png
from bdcwatch.reports.common import (
    MAX_ROWS_IN_BODY,
    SEVERITY_COLOR,
    SEVERITY_TEXT,
    Chart,
    CodeBook,
    DigestContext,
    FindingRow,
    RenderedDigest,
    SummaryTable,
    calendar_warning,
    detail_text,
    finding_url,
    finding_when,
    findings_workbook,
    operations_desk,
    render_template,
    sort_findings,
)
from bdcwatch.reports.dispatch import attempt, isolated, queue
from bdcwatch.reports.figures import LedgerFigures, UnitFigures, last_months, ledger_figures, monthly_trend
from bdcwatch.reports.labels import date_span, status_text, subject_type_text
from bdcwatch.rules.ecert import ecert_coverage
from bdcwatch.rules.online import online_shares
from bdcwatch.safe_text import subject_line
from bdcwatch.standards.masking import mask_id_numbers
from bdcwatch.store.models import finding, outbox

log = logging.getLogger(__name__)

Headline = Sequence[tuple[str, Any, str]]  # (label, value, colour) cards


def render_unit_digest(
    findings: Sequence[FindingRow],
    *,
    unit_code: str | None,
    unit_name: str,
    heads: Sequence[Person],
    context: DigestContext,
) -> RenderedDigest:
    """Render one unit's digest of new findings. ``findings`` must all be of that unit."""
    strangers = sorted({f.unit_code for f in findings if f.unit_code != unit_code}, key=str)
    if strangers:
        raise ValueError(f"digest for {unit_code} was given findings of other units: {strangers}")
    ordered = sort_findings(findings)
    rows = [
        {
            "id": f.id or "新", "url": finding_url(context.ui_base_url, f.id, context.ui_city), "title": rules.title(f.rule_code),
            "severity_text": SEVERITY_TEXT.get(f.severity, f.severity),
            "severity_color": SEVERITY_COLOR.get(f.severity, "#222"),
            "status": status_text(f.status) if f.status != "open" else "",
            "subject_type": subject_type_text(f.subject_type), "subject_id": f.subject_id,
            "detail_text": detail_text(f.rule_code, f.detail, context.codes), "when": finding_when(f),
            "due_date": f.due_date.isoformat(),
        }
        for f in ordered[:MAX_ROWS_IN_BODY]
    ]
    explained = [(rules.title(code), rules.all_rules()[code].explanation)
                 for code in dict.fromkeys(f.rule_code for f in ordered) if code in rules.all_rules()]
    high = sum(1 for f in findings if f.severity == "high")
    span = date_span([(f.rule_code, f.detail) for f in findings]) if context.dated_by_findings else None
    when = span.text if span else context.period_label
    subject = f"【不动产登记监督】{unit_name} {context.title}（{when}）：新发现问题 {len(findings)} 条"
    headline = [
        {"label": "新发现问题", "value": len(findings), "color": "#1f4e79"},
        {"label": "其中高风险", "value": high, "color": SEVERITY_COLOR["high"]},
        *({"label": label, "value": value, "color": color} for label, value, color in context.headline),
    ]
    html = render_template("unit_digest.html.j2",
        subject=subject, title=f"{unit_name} · {context.title}", heads=heads, unit_name=unit_name,
        plan_items=context.plan_items, period_text=context.period_text, span=span,
        as_of=context.as_of.strftime("%Y-%m-%d %H:%M"), calendar_warning=context.calendar_warning,
        headline=headline, findings=findings, rows=rows, truncated=len(findings) > len(rows),
        supervisor_name=context.supervisor_name, linked=bool(context.ui_base_url), dag_id=context.dag_id,
        run_id=context.run_id, tables=context.tables, chart=context.chart, explained=explained,
    )
    # The workbook is named as the subject dates the mail: by the findings' own dates when
    # the digest is dated by them (a complaint batch), else by the run's period.
    label = (span.first if span.first == span.last else f"{span.first}..{span.last}") if span else context.period_label
    workbook = findings_workbook(findings, f"{unit_code} {label}", context.codes)
    filename = f"{context.dag_id}_{unit_code}_{label.replace('..', '_')}.xlsx"
    return RenderedDigest(subject_line(subject), mask_id_numbers(html), (Attachment(filename, workbook),))


def compose_unit_digests(
    job: Job,
    *,
    rule_codes: Sequence[str],
    context_for_unit: Callable[[str], DigestContext],
    attachments_for_unit: Callable[[str], Sequence[Attachment]] | None = None,
    always_units: Sequence[str] = (),
    finding_ids: Sequence[int] | None = None,
) -> list[int]:
    """Queue one digest per unit that has unannounced findings of this DAG, and to each of
    ``always_units`` even without (e.g. the monthly checklist must reach every unit).
    Returns the outbox ids queued."""
    by_unit: dict[str | None, list[FindingRow]] = defaultdict(list)
    for code in always_units:
        by_unit[code] = []
    for row in preview.unannounced(job, rule_codes, job.spec.units, finding_ids):
        by_unit[row.unit_code].append(row)
    queued: list[int] = []
    for unit_code, rows in sorted(by_unit.items(), key=lambda item: str(item[0])):
        known = unit_code is not None and unit_code in job.policy.units
        # A DJJG the policy does not know has no heads: operations sort it out, nothing is dropped.
        name = job.policy.units[unit_code].name if known and unit_code else f"未登记机构 {unit_code or '（空）'}"

        def one(unit_code: str | None = unit_code, rows: list[FindingRow] = rows, name: str = name) -> int | None:
            heads = job.policy.units[unit_code].heads if unit_code in job.policy.units else operations_desk(job.policy)
            context = context_for_unit(unit_code or "")
            digest = render_unit_digest(rows, unit_code=unit_code, unit_name=name, heads=heads, context=context)
            key = _digest_key(job, context.period_label, unit_code, rows, unit_code in always_units)
            if key is None:
                return None
            # A cycle unit's attachments (the month's blank checklist) go with its cycle mail
            # only: a later digest of new findings in the same period does not send a blank
            # checklist again to a unit already filling it in.
            with_files = unit_code not in always_units or key.endswith(CYCLE_KEY)
            extra = tuple(attachments_for_unit(unit_code or "")) if attachments_for_unit and with_files else ()
            message = OutgoingMessage(
                dedup_key=key, kind="unit_digest", dag_id=job.ctx.dag_id, run_id=job.ctx.run_id,
                period=context.period_label, unit_code=unit_code, recipients=tuple(p.email for p in heads),
                subject=digest.subject, html=digest.html, attachments=digest.attachments + extra,
            )
            return queue(job, message, then=_marking(rows))

        outbox_id = attempt(job, f"{name}的{job.ctx.dag_id}问题通知", one)
        if outbox_id is not None:
            queued.append(outbox_id)
            log.info("queued digest %s for %s: %d finding(s)", outbox_id, unit_code, len(rows))
    return queued


def _marking(rows: Sequence[FindingRow]) -> Callable[[Connection, int], None]:
    """Marks ``rows`` as announced by the message, in the transaction that queues it."""
    ids = [r.id for r in rows if r.id]

    def mark(conn: Connection, outbox_id: int) -> None:
        for start in range(0, len(ids), 500):  # stay far below any driver's parameter limit
            conn.execute(update(finding).where(finding.c.id.in_(ids[start : start + 500]))
                         .values(notified_outbox_id=outbox_id))

    return mark


CYCLE_KEY = "|cycle"  # the end of the outbox key of a unit's once-a-period cycle mail


def _digest_key(job: Job, period: str, unit_code: str | None, rows: Sequence[FindingRow], always: bool) -> str | None:
    """The outbox key of a unit digest. A digest of new findings is keyed by those findings;
    a cycle's unit mail (``always``: it carries the checklist) is sent once per period, and
    after that only when new findings appear. None: nothing to send."""
    base = f"{job.ctx.dag_id}|{period}|{unit_code}"
    ids = ",".join(str(r.id) if r.id else f"{r.rule_code}:{r.subject_id}" for r in rows)
    content = f"{base}|{hashlib.sha256(ids.encode()).hexdigest()[:16]}"
    if not always:
        return content
    with job.engine.connect() as conn:
        cycle_sent = conn.execute(select(outbox.c.id).where(outbox.c.dedup_key == f"{base}{CYCLE_KEY}")).first()
    if cycle_sent is None:
        return f"{base}{CYCLE_KEY}"
    return content if rows else None


@isolated("单位问题通知")
def compose(
    job: Job,
    evaluation: Evaluation,
    *,
    title: str,
    plan_items: str,
    headline_for: Callable[[str], Headline] = lambda unit: (),
    tables_for: Callable[[str], Sequence[SummaryTable]] = lambda unit: (),
    attachments_for: Callable[[str], Sequence[Attachment]] | None = None,
    always_units: Sequence[str] = (),
    finding_ids: Sequence[int] | None = None,
    figures: Sequence[str] = (),
    dated_by_findings: bool = False,
) -> list[int]:
    """Queue each unit's digest of the DAG's new findings; returns the outbox ids queued.

    ``figures`` adds "ecert" (e-certificate coverage) and/or "online" (online share
    against the target) to the headline, for DAGs that load those tables;
    ``headline_for``, ``tables_for`` and ``attachments_for`` add a DAG's own cards,
    tables and files per unit; ``always_units`` get a mail even without new findings
    (once per period); ``finding_ids`` announces exactly those findings (look-back);
    ``dated_by_findings`` names the findings' own dates in the subject and body (the
    complaint intake: the complaints' 受理时间), the run's window only as a secondary line.
    The outbox key stays the run's period and the findings, whatever the dates say."""
    from bdcwatch.reports import ops_notice

    policy, engine, spec = job.policy, job.engine, job.spec
    warning = calendar_warning(evaluation.calendar_fallback_years)
    ops_notice.calendar_gap(job, evaluation.calendar_fallback_years)
    today = job.ctx.now.date()
    ledger = ledger_figures(engine, spec.period, today)
    coverage = ecert_coverage(engine, spec.period, policy) if "ecert" in figures else {}
    shares = online_shares(engine, spec.period, policy) if "online" in figures else {}
    months = last_months(today)
    trend = monthly_trend(engine, months)
    codes = CodeBook.from_policy(policy)

    def points(unit_code: str) -> list[tuple[str, int, int]]:
        return trend.get(unit_code or None) or [(f"{y}-{m:02d}", 0, 0) for y, m in months]

    def chart_file(unit_code: str) -> str:
        return f"{INLINE_PREFIX}trend_{unit_code or 'none'}.png"

    def attachments(unit_code: str) -> list[Attachment]:
        chart = Attachment(chart_file(unit_code), trend_chart_png(points(unit_code)))
        return [*(attachments_for(unit_code) if attachments_for else ()), chart]

    def context_for(unit_code: str) -> DigestContext:
        supervisor = policy.supervisors[policy.units[unit_code].supervisor].name if unit_code in policy.units else "运维"
        figures_now = UnitFigures(
            ledger=ledger.get(unit_code or None) or LedgerFigures(),
            ecert=coverage.get(unit_code, (0, 0)) if "ecert" in figures else None,
            online=shares.get(unit_code) if "online" in figures else None,
        )
        return DigestContext(
            dag_id=job.ctx.dag_id, run_id=job.ctx.run_id, period_label=spec.period_label,
            period_text=spec.period_text, as_of=spec.period.as_of, plan_items=plan_items, title=title,
            supervisor_name=supervisor, ui_base_url=job.ui_base_url, ui_city=job.ui_city, calendar_warning=warning,
            headline=(*figures_now.headline(), *headline_for(unit_code)), tables=tuple(tables_for(unit_code)),
            chart=Chart(Attachment(chart_file(unit_code), b"").content_id, chart_alt(points(unit_code)),
                        "近6个月问题趋势（橙色：当月发生的问题，按问题发生时间统计；绿色：当月销号）"),
            codes=codes, dated_by_findings=dated_by_findings,
        )

    return compose_unit_digests(
        job, rule_codes=[o.rule_code for o in evaluation.outcomes], context_for_unit=context_for,
        attachments_for_unit=attachments, always_units=always_units, finding_ids=finding_ids,
    )


@isolated("回头看复发问题通知")
def compose_reopened(job: Job, outcome: LookBackResult) -> list[int]:
    """Look-back: each unit is told which of its closed findings came back. The working-day
    warning is the verify task's (its calendar set the reopened findings' due dates: §5
    says a fallback loudly in the digest), not this task's own unused calendar."""
    if not outcome.reopened:
        return []
    result: list[int] = compose(
        job, Evaluation(calendar_fallback_years=sorted(outcome.calendar_fallback_years)), title="回头看：已销号问题复发",
        plan_items="34", finding_ids=outcome.reopened,
        headline_for=lambda unit: [("本年复核已销号问题", outcome.verified, "#1f4e79"),
                                   ("留待人工复核", outcome.left_to_people, "#546e7a")],
    )
    return result
