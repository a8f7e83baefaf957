"""The unit digest (CONTRACT §6): each unit's heads get that unit's new findings of a
DAG, headed by the unit's ledger figures and ending with its six-month trend chart.

"New" means not yet announced: a finding is marked with the outbox message that carried
it in the same transaction that queues the message, so a rerun of the period finds
nothing left to announce and queues nothing, and a crash before the commit leaves both
undone.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select, update

from bdcwatch import rules
from bdcwatch.config.policy import Person, Policy
from bdcwatch.config.run import Job, RunContext
from bdcwatch.ledger.findings import Evaluation
from bdcwatch.mail.outbox import OutgoingMessage, enqueue
from bdcwatch.mail.sender import INLINE_PREFIX, Attachment
from bdcwatch.reports.chart import trend_chart_png
from bdcwatch.reports.common import (
    MAX_ROWS_IN_BODY,
    SEVERITY_COLOR,
    SEVERITY_TEXT,
    DigestContext,
    FindingRow,
    RenderedDigest,
    SummaryTable,
    calendar_warning,
    detail_text,
    findings_workbook,
    operations_desk,
    render_template,
    sort_findings,
)
from bdcwatch.reports.figures import LedgerFigures, UnitFigures, last_months, ledger_figures, monthly_trend
from bdcwatch.rules.ecert import ecert_coverage
from bdcwatch.rules.online import online_shares
from bdcwatch.standards.masking import mask_id_numbers
from bdcwatch.store.models import finding, outbox

log = logging.getLogger(__name__)

Headline = Sequence[tuple[str, Any, str]]  # (label, value, colour) cards


@dataclass(frozen=True)
class ComposeResult:
    queued: list[int]
    units: list[str]
    findings_announced: int


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
            "title": rules.title(f.rule_code),
            "rule_code": f.rule_code,
            "severity_text": SEVERITY_TEXT.get(f.severity, f.severity),
            "severity_color": SEVERITY_COLOR.get(f.severity, "#222"),
            "subject_id": mask_id_numbers(f.subject_id),
            "detail_text": detail_text(f.rule_code, f.detail),
            "due_date": f.due_date.isoformat(),
        }
        for f in ordered[:MAX_ROWS_IN_BODY]
    ]
    high = sum(1 for f in findings if f.severity == "high")
    subject = f"【不动产登记监督】{unit_name} {context.title}（{context.period_label}）：新发现问题 {len(findings)} 条"
    headline = [
        {"label": "新发现问题", "value": len(findings), "color": "#1f4e79"},
        {"label": "其中高风险", "value": high, "color": SEVERITY_COLOR["high"]},
        *({"label": label, "value": value, "color": color} for label, value, color in context.headline),
    ]
    html = render_template("unit_digest.html.j2",
        subject=subject, title=f"{unit_name} · {context.title}", heads=heads, unit_name=unit_name,
        plan_items=context.plan_items, period_text=context.period_text,
        as_of=context.as_of.strftime("%Y-%m-%d %H:%M"), calendar_warning=context.calendar_warning,
        headline=headline, findings=findings, rows=rows, truncated=len(findings) > len(rows),
        supervisor_name=context.supervisor_name, ui_url=context.ui_url, dag_id=context.dag_id,
        run_id=context.run_id, tables=context.tables, chart_caption=context.chart_caption,
    )
    workbook = findings_workbook(findings, f"{unit_code} {context.period_label}".replace(":", "")[:31])
    filename = f"{context.dag_id}_{unit_code}_{context.period_label.replace('..', '_')}.xlsx"
    return RenderedDigest(mask_id_numbers(subject), mask_id_numbers(html), (Attachment(filename, workbook),))



def _rows(
    engine: Engine, dag_id: str, units: Sequence[str] | None, finding_ids: Sequence[int] | None = None
) -> list[FindingRow]:
    query = select(finding).where(finding.c.notified_outbox_id.is_(None)).where(finding.c.status != "closed")
    # A DAG announces what it detected, or (look-back) exactly the findings it names.
    query = query.where(finding.c.id.in_(list(finding_ids))) if finding_ids is not None else query.where(
        finding.c.dag_id == dag_id
    )
    query = query.order_by(finding.c.id)
    if units:
        query = query.where(finding.c.unit_code.in_(list(units)))
    with engine.connect() as conn:
        return [FindingRow.from_row(r) for r in conn.execute(query)]


def compose_unit_digests(
    engine: Engine,
    policy: Policy,
    *,
    ctx: RunContext,
    units: Sequence[str] | None,
    context_for_unit: Callable[[str], DigestContext],
    attachments_for_unit: Callable[[str], Sequence[Attachment]] | None = None,
    always_units: Sequence[str] = (),
    finding_ids: Sequence[int] | None = None,
) -> ComposeResult:
    """Queue one digest per unit that has unannounced findings of this DAG, and to each of
    ``always_units`` even without (e.g. the monthly checklist must reach every unit)."""
    by_unit: dict[str | None, list[FindingRow]] = defaultdict(list)
    for code in always_units:
        by_unit[code] = []
    for row in _rows(engine, ctx.dag_id, units, finding_ids):
        by_unit[row.unit_code].append(row)
    queued: list[int] = []
    announced = 0
    for unit_code, rows in sorted(by_unit.items(), key=lambda item: str(item[0])):
        heads: Sequence[Person]
        if unit_code is not None and unit_code in policy.units:
            unit = policy.units[unit_code]
            heads = unit.heads
            name = unit.name
        else:
            # A DJJG the policy does not know has no heads: operations must sort it out,
            # the findings are not dropped.
            heads = operations_desk(policy)
            name = f"未登记机构 {unit_code or '（空）'}"
        context = context_for_unit(unit_code or "")
        digest = render_unit_digest(rows, unit_code=unit_code, unit_name=name, heads=heads, context=context)
        extra = tuple(attachments_for_unit(unit_code or "")) if attachments_for_unit else ()
        dedup_key = _digest_key(engine, ctx.dag_id, context.period_label, unit_code, rows, unit_code in always_units)
        if dedup_key is None:
            continue
        message = OutgoingMessage(
            dedup_key=dedup_key,
            kind="unit_digest", dag_id=ctx.dag_id, run_id=ctx.run_id, period=context.period_label,
            unit_code=unit_code, recipients=tuple(p.email for p in heads), subject=digest.subject,
            html=digest.html, attachments=digest.attachments + extra,
        )
        with engine.begin() as conn:
            outbox_id = enqueue(conn, message, ctx.now)
            if outbox_id is None:
                continue
            ids = [r.id for r in rows]
            for start in range(0, len(ids), 500):  # stay far below any driver's parameter limit
                conn.execute(
                    update(finding).where(finding.c.id.in_(ids[start : start + 500])).values(notified_outbox_id=outbox_id)
                )
        queued.append(outbox_id)
        announced += len(rows)
        log.info("queued digest %s for %s: %d finding(s) to %d head(s)", outbox_id, unit_code, len(rows), len(heads))
    return ComposeResult(queued, [str(u) for u in by_unit], announced)


def _digest_key(
    engine: Engine, dag_id: str, period: str, unit_code: str | None, rows: Sequence[FindingRow], always: bool
) -> str | None:
    """The outbox key of a unit digest. A digest of new findings is keyed by those findings;
    a cycle's unit mail (``always``: it carries the checklist) is sent once per period, and
    after that only when new findings appear. None: nothing to send."""
    base = f"{dag_id}|{period}|{unit_code}"
    content = f"{base}|{hashlib.sha256(','.join(str(r.id) for r in rows).encode()).hexdigest()[:16]}"
    if not always:
        return content
    with engine.connect() as conn:
        cycle_sent = conn.execute(select(outbox.c.id).where(outbox.c.dedup_key == f"{base}|cycle")).first()
    if cycle_sent is None:
        return f"{base}|cycle"
    return content if rows else None


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
) -> list[int]:
    """Queue each unit's digest of the DAG's new findings; returns the outbox ids queued.

    ``figures`` adds "ecert" (e-certificate coverage) and/or "online" (online share
    against the target) to the headline, for DAGs that load those tables;
    ``headline_for``, ``tables_for`` and ``attachments_for`` add a DAG's own cards,
    tables and files per unit; ``always_units`` get a mail even without new findings
    (once per period); ``finding_ids`` announces exactly those findings (look-back)."""
    policy, engine, spec = job.policy, job.engine, job.spec
    warning = calendar_warning(evaluation.calendar_fallback_years)
    today = job.ctx.now.date()
    ledger = ledger_figures(engine, spec.period, today)
    coverage = ecert_coverage(engine, spec.period, policy) if "ecert" in figures else {}
    shares = online_shares(engine, spec.period, policy) if "online" in figures else {}
    months = last_months(today)
    trend = monthly_trend(engine, months)

    def unit_figures(unit_code: str) -> UnitFigures:
        return UnitFigures(
            ledger=ledger.get(unit_code or None) or LedgerFigures(),
            ecert=coverage.get(unit_code, (0, 0)) if "ecert" in figures else None,
            online=shares.get(unit_code) if "online" in figures else None,
        )

    def attachments(unit_code: str) -> list[Attachment]:
        points = trend.get(unit_code or None) or [(f"{y}-{m:02d}", 0, 0) for y, m in months]
        chart = Attachment(f"{INLINE_PREFIX}trend_{unit_code or 'none'}.png", trend_chart_png(points))
        return [*(attachments_for(unit_code) if attachments_for else ()), chart]

    def context_for(unit_code: str) -> DigestContext:
        supervisor = policy.supervisors[policy.units[unit_code].supervisor].name if unit_code in policy.units else "运维"
        return DigestContext(
            dag_id=job.ctx.dag_id, run_id=job.ctx.run_id, period_label=spec.period_label,
            period_text=spec.period_text, as_of=spec.period.as_of, plan_items=plan_items, title=title,
            supervisor_name=supervisor, ui_url=f"{job.ui_base_url}/dags/{job.ctx.dag_id}" if job.ui_base_url else None,
            calendar_warning=warning, headline=(*unit_figures(unit_code).headline(), *headline_for(unit_code)),
            tables=tuple(tables_for(unit_code)),
            chart_caption="近6个月问题趋势（橙色：新发现；绿色：已销号），见下图。",
        )

    result = compose_unit_digests(
        engine, policy, ctx=job.ctx, units=spec.units, context_for_unit=context_for,
        attachments_for_unit=attachments, always_units=always_units, finding_ids=finding_ids,
    )
    return result.queued


def compose_reopened(job: Job, verified: int, reopened: Sequence[int]) -> list[int]:
    """Look-back: each unit is told which of its closed findings came back."""
    if not reopened:
        return []
    return compose(
        job, Evaluation(calendar_fallback_years=sorted(job.calendar.fallback_years)), title="回头看：已销号问题复发",
        plan_items="34", finding_ids=reopened, headline_for=lambda unit: [("本年复核已销号问题", verified, "#1f4e79")],
    )
