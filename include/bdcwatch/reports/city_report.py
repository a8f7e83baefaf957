"""A city-level cycle report (市级排查, 省级抽查) to CITY_BUREAU's heads: one line per unit,
the draw, and every finding of the cycle as XLSX (CONTRACT §6)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bdcwatch import rules
from bdcwatch.config.policy import Person
from bdcwatch.config.run import Job
from bdcwatch.ledger.cycles import Samples
from bdcwatch.ledger.findings import Evaluation
from bdcwatch.ledger.preview import run_findings
from bdcwatch.mail.outbox import OutgoingMessage
from bdcwatch.mail.sender import Attachment
from bdcwatch.reports.common import (
    CITY_SUPERVISOR,
    CodeBook,
    DigestContext,
    FindingRow,
    RenderedDigest,
    calendar_warning,
    findings_workbook,
    render_template,
)
from bdcwatch.reports.dispatch import isolated, queue
from bdcwatch.safe_text import subject_line
from bdcwatch.standards.masking import mask_id_numbers


@dataclass(frozen=True)
class UnitSummary:
    code: str
    name: str
    population: int
    sample: int
    findings: Sequence[FindingRow]


def render_city_report(
    units: Sequence[UnitSummary], *, heads: Sequence[Person], title: str, context: DigestContext,
    whole_city: bool = True,
) -> RenderedDigest:
    """A city-level cycle report (city check, provincial spot check) for the bureau:
    one line per unit, the full list of the cycle's findings as XLSX."""
    rows = []
    for unit in units:
        by_rule: dict[str, int] = {}
        for f in unit.findings:
            by_rule[f.rule_code] = by_rule.get(f.rule_code, 0) + 1
        top = "；".join(f"{rules.title(code)} {n}" for code, n in sorted(by_rule.items(), key=lambda i: -i[1])[:3])
        high = sum(f.severity == "high" for f in unit.findings)
        rows.append({"name": unit.name, "cells": (unit.name, unit.population, unit.sample, len(unit.findings), high,
                                                  top or "无")})
    everything = [f for unit in units for f in unit.findings]
    # ``whole_city`` False: a run for some units only (Param ``units``), said as such.
    scope = "全市" if whole_city else f"所选 {len(units)} 个机构"
    subject = f"【不动产登记监督】{scope}{title}报告（{context.period_label}）：发现问题 {len(everything)} 条"
    html = render_template("city_report.html.j2",
        subject=subject, title=title, heads=heads, period_label=context.period_label,
        scope="全市" if whole_city else "所选的",
        period_text=context.period_text, as_of=context.as_of.strftime("%Y-%m-%d %H:%M"), units=rows,
        total_findings=len(everything), total_high=sum(f.severity == "high" for f in everything),
        total_sample=sum(u.sample for u in units), calendar_warning=context.calendar_warning,
        dag_id=context.dag_id, run_id=context.run_id,
    )
    workbook = findings_workbook(everything, f"全市 {context.period_label}", context.codes)
    filename = f"{context.dag_id}_city_{context.period_label.replace('..', '_')}.xlsx"
    return RenderedDigest(subject_line(subject), mask_id_numbers(html), (Attachment(filename, workbook),))


@isolated("全市检查报告")
def compose(job: Job, evaluation: Evaluation, samples: Samples, *, rule_codes: Sequence[str], title: str) -> list[int]:
    """Queue one city report of a cycle to CITY_BUREAU's heads: every unit's line and all
    findings of the cycle's rules detected by this run (new or again)."""
    policy, spec, ctx = job.policy, job.spec, job.ctx
    by_unit: dict[str | None, list[FindingRow]] = {}
    for row in run_findings(job, rule_codes):
        by_unit.setdefault(row.unit_code, []).append(row)
    units = job.units
    summaries = []
    for code in units:
        drawn = samples.units.get(code)
        summaries.append(UnitSummary(code, policy.units[code].name, drawn.population if drawn else 0,
                                     drawn.sample if drawn else 0, by_unit.get(code, [])))
    bureau = policy.supervisors[CITY_SUPERVISOR]
    context = DigestContext(
        dag_id=ctx.dag_id, run_id=ctx.run_id, period_label=spec.period_label, period_text=spec.period_text,
        as_of=spec.period.as_of, plan_items="34", title=title, supervisor_name=bureau.name,
        calendar_warning=calendar_warning(evaluation.calendar_fallback_years), codes=CodeBook.from_policy(policy),
    )
    report = render_city_report(summaries, heads=bureau.heads, title=title, context=context,
                                whole_city=set(units) >= set(policy.units))
    message = OutgoingMessage(
        dedup_key=f"{ctx.dag_id}|{spec.period_label}|{CITY_SUPERVISOR}|{','.join(units)}", kind="city_report",
        dag_id=ctx.dag_id, run_id=ctx.run_id, period=spec.period_label, unit_code=None,
        recipients=tuple(h.email for h in bureau.heads), subject=report.subject, html=report.html,
        attachments=report.attachments,
    )
    outbox_id = queue(job, message)
    return [outbox_id] if outbox_id is not None else []
