"""The annual summary (the plan's closing paragraph: 年底总结): a year's figures per unit and
city-wide, for CITY_BUREAU's heads and each unit's own heads, as HTML and XLSX.

Figures come from the ledger (problems found, closed 挂账销号, still open, overdue,
escalated), from the inspection records (cycles held against the plan's 4/2/1 a year and
12 monthly checks) and from staging (e-certificate coverage, online-handling share).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import Engine, and_, func, select

from bdcwatch import rules
from bdcwatch.config.policy import Person, Policy
from bdcwatch.config.run import Job
from bdcwatch.dates.periods import Period
from bdcwatch.ledger.duties import DutyStatus, duty_status
from bdcwatch.mail.outbox import OutgoingMessage
from bdcwatch.mail.sender import Attachment
from bdcwatch.reports.common import CITY_SUPERVISOR, render_template, workbook
from bdcwatch.reports.dispatch import attempt, isolated, queue
from bdcwatch.reports.figures import LedgerFigures, ledger_figures
from bdcwatch.rules.ecert import ecert_coverage
from bdcwatch.rules.online import OnlineShare, online_shares
from bdcwatch.safe_text import subject_line
from bdcwatch.standards.masking import mask_id_numbers
from bdcwatch.store.models import finding, finding_escalation, inspection

# Cycles of plan item 34 (and the monthly check of item 32) with how many a year are due.
CYCLES = (("monthly_quality_check", "月度质量评查", 12), ("county_self_inspection", "县级自查", 4),
          ("city_check", "市级排查", 2), ("provincial_spot_check", "省级抽查", 1))


@dataclass
class AnnualRow:
    code: str
    name: str
    ledger: LedgerFigures
    escalated: int
    ecert: tuple[int, int]
    online: OnlineShare | None
    cycles: dict[str, int] = field(default_factory=dict)
    by_rule: dict[str, int] = field(default_factory=dict)

    @property
    def closure_rate(self) -> str:
        found = self.ledger.detected_in_period
        return f"{self.ledger.closed_in_period / found:.0%}" if found else "—"

    @property
    def ecert_rate(self) -> str:
        total, covered = self.ecert
        return f"{covered / total:.1%}" if total else "—"

    @property
    def online_text(self) -> str:
        if self.online is None or not self.online.cases:
            return "—"
        return f"{self.online.share:.0%}（目标 {float(self.online.target):.0%}）"

    @property
    def found_cells(self) -> tuple[Any, ...]:
        return (self.name, self.ledger.detected_in_period, self.ledger.closed_in_period, self.closure_rate,
                self.ledger.open)

    @property
    def other_cells(self) -> tuple[Any, ...]:
        return (self.name, self.ledger.overdue, self.escalated, self.ecert_rate, self.online_text)


def annual_rows(engine: Engine, policy: Policy, period: Period, today: date, units: Sequence[str]) -> list[AnnualRow]:
    """One row per unit; the city-wide row is ``city_row`` of these."""
    ledger = ledger_figures(engine, period, today)
    coverage = ecert_coverage(engine, period, policy)
    shares = online_shares(engine, period, policy)
    year = str(period.start.year)
    with engine.connect() as conn:
        escalated: dict[str | None, int] = dict(conn.execute(  # type: ignore[arg-type]
            select(finding.c.unit_code, func.count())
            .select_from(finding_escalation.join(finding, finding.c.id == finding_escalation.c.finding_id))
            .where(finding_escalation.c.escalated_at >= period.start_at, finding_escalation.c.escalated_at < period.as_of)
            .group_by(finding.c.unit_code)
        ).all())
        cycles: dict[str, dict[str, int]] = defaultdict(dict)
        for unit, cycle, n in conn.execute(
            select(inspection.c.unit_code, inspection.c.cycle, func.count(func.distinct(inspection.c.period)))
            .where(inspection.c.period.like(f"{year}%")).group_by(inspection.c.unit_code, inspection.c.cycle)
        ):
            cycles[unit][cycle] = int(n)
        by_rule: dict[str, dict[str, int]] = defaultdict(dict)
        for unit, rule, n in conn.execute(
            select(finding.c.unit_code, finding.c.rule_code, func.count())
            .where(and_(finding.c.first_detected_at >= period.start_at, finding.c.first_detected_at < period.as_of))
            .group_by(finding.c.unit_code, finding.c.rule_code)
        ):
            by_rule[unit or ""][rule] = int(n)
    return [
        AnnualRow(code, policy.units[code].name, ledger.get(code) or LedgerFigures(), int(escalated.get(code, 0)),
                  coverage.get(code, (0, 0)), shares.get(code), cycles.get(code, {}), by_rule.get(code, {}))
        for code in units
    ]


def city_row(rows: Sequence[AnnualRow]) -> AnnualRow:
    ledger = LedgerFigures(
        sum(r.ledger.open for r in rows), sum(r.ledger.overdue for r in rows),
        sum(r.ledger.closed_in_period for r in rows), sum(r.ledger.detected_in_period for r in rows),
    )
    online = [r.online for r in rows if r.online is not None]
    by_rule: dict[str, int] = defaultdict(int)
    for r in rows:
        for rule, n in r.by_rule.items():
            by_rule[rule] += n
    city_online = None
    if online:
        # A city-wide share has no single target: the report shows the share only.
        city_online = OnlineShare(sum(o.online for o in online), sum(o.cases for o in online), online[0].target)
    return AnnualRow("CITY", "全市合计", ledger, sum(r.escalated for r in rows),
                     (sum(r.ecert[0] for r in rows), sum(r.ecert[1] for r in rows)), city_online,
                     {cycle: sum(r.cycles.get(cycle, 0) for r in rows) for cycle, _, _ in CYCLES}, dict(by_rule))


def render_annual(
    rows: Sequence[AnnualRow], *, heads: Sequence[Person], addressee: str, year_label: str, period_text: str,
    dag_id: str, run_id: str, city: AnnualRow | None, duties: Sequence[DutyStatus] = (),
) -> tuple[str, str, bytes]:
    """Subject, HTML and workbook of an annual summary (for the bureau with ``city``, or one
    unit's own). ``duties``: the units' standing on the yearly duties no system records
    (done, missed, not yet due). Pure: no database."""
    shown = [*rows, *([city] if city else [])]
    names = {r.code: r.name for r in rows}
    codes = sorted({rule for r in shown for rule in r.by_rule}, key=lambda code: (-sum(r.by_rule.get(code, 0) for r in rows), code))
    subject = f"【不动产登记监督】{year_label}年度不动产登记监督工作总结（{addressee}）"
    cycle_rows = [[r.name, *(f"{r.cycles.get(cycle, 0)}{'（不足）' if r.cycles.get(cycle, 0) < due else ''}"
                             for cycle, _, due in CYCLES)] for r in rows]
    by_rule = [(rules.title(code), "、".join(f"{r.name} {r.by_rule[code]}" for r in shown if r.by_rule.get(code)))
               for code in codes]
    html = render_template("annual_summary.html.j2",
        subject=subject, heads=heads, addressee=addressee, year_label=year_label, period_text=period_text,
        rows=shown, cycle_headers=[f"{label}（应{due}次）" for _, label, due in CYCLES], cycle_rows=cycle_rows,
        rules=by_rule, dag_id=dag_id, run_id=run_id,
        duties=[{"cells": (names.get(d.unit_code, d.unit_code), d.duty.name + (f"（第{d.duty.plan_items}项）"
                                                                              if d.duty.plan_items else ""),
                           d.period.label, d.period.deadline.isoformat(), d.duty.min_count, d.recorded,
                           d.state_text)} for d in duties],
    )
    summary = pd.DataFrame([
        {"登记机构": r.name, "发现问题": r.ledger.detected_in_period, "已销号": r.ledger.closed_in_period,
         "销号率": r.closure_rate, "未销号": r.ledger.open, "其中逾期": r.ledger.overdue, "逾期上报": r.escalated,
         "电子证照覆盖率": r.ecert_rate, "预告/抵押网办率": r.online_text,
         **{f"{label}（应{due}次）": r.cycles.get(cycle, 0) for cycle, label, due in CYCLES}}
        for r in shown
    ])
    by_rule_sheet = pd.DataFrame([{"问题类型": title, "规则代码": code, **{r.name: r.by_rule.get(code, 0) for r in shown}}
                                  for code, title in ((c, rules.title(c)) for c in codes)])
    duty_sheet = pd.DataFrame([{"登记机构": names.get(d.unit_code, d.unit_code), "事项": d.duty.name,
                                "方案条目": d.duty.plan_items, "期间": d.period.label,
                                "完成期限": d.period.deadline.isoformat(), "应开展次数": d.duty.min_count,
                                "期限内已登记": d.recorded, "状态": d.state_text} for d in duties])
    sheets = {"年度汇总": summary, "按问题类型": by_rule_sheet, **({"履职事项": duty_sheet} if duties else {})}
    return subject_line(subject), mask_id_numbers(html), workbook(sheets)


@isolated("年度工作总结")
def compose(job: Job) -> list[int]:
    """The year's summary: one report for CITY_BUREAU (every unit and the city), and each
    unit its own part (one failing is reported, the others go out); returns the outbox
    ids queued."""
    policy, spec, ctx = job.policy, job.spec, job.ctx
    rows = annual_rows(job.engine, policy, spec.period, ctx.now.date(), job.units)
    year = str(spec.period_start.year)
    period_text = f"{spec.period_start.isoformat()} 至 {spec.period_end.isoformat()}（不含）"
    bureau = policy.supervisors[CITY_SUPERVISOR]
    mails: list[tuple[str, str, tuple[Person, ...], list[AnnualRow], AnnualRow | None]] = [
        (CITY_SUPERVISOR, bureau.name, bureau.heads, rows, city_row(rows))]
    mails += [(row.code, row.name, policy.units[row.code].heads, [row], None) for row in rows]
    duties = duty_status(job.engine, policy, year=spec.period_start.year, as_of_day=spec.period_end, units=job.units)
    queued: list[int] = []
    for key, addressee, heads, shown, city in mails:

        def one(key: str = key, addressee: str = addressee, heads: tuple[Person, ...] = heads,
                shown: list[AnnualRow] = shown, city: AnnualRow | None = city) -> int | None:
            codes = {r.code for r in shown}
            subject, html, content = render_annual(shown, heads=heads, addressee=addressee, year_label=year,
                                                   period_text=period_text, dag_id=ctx.dag_id, run_id=ctx.run_id,
                                                   city=city, duties=[d for d in duties if d.unit_code in codes])
            return queue(job, OutgoingMessage(
                dedup_key=f"{ctx.dag_id}|{spec.period_label}|{key}", kind="annual_summary", dag_id=ctx.dag_id,
                run_id=ctx.run_id, period=spec.period_label, unit_code=None if city else key,
                recipients=tuple(h.email for h in heads), subject=subject, html=html,
                attachments=(Attachment(f"年度总结_{year}_{key}.xlsx", content),),
            ))

        outbox_id = attempt(job, f"{addressee}的年度工作总结", one)
        if outbox_id is not None:
            queued.append(outbox_id)
    return queued
