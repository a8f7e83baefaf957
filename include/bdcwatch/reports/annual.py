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
from bdcwatch.config.policy import CYCLE_MONTHS, Person, Policy
from bdcwatch.config.run import Job
from bdcwatch.dates.periods import Period
from bdcwatch.ledger.duties import DutyStatus, duty_status
from bdcwatch.mail.outbox import OutgoingMessage
from bdcwatch.mail.sender import Attachment
from bdcwatch.reports.common import CITY_SUPERVISOR, render_template, workbook
from bdcwatch.reports.dispatch import attempt, isolated, queue
from bdcwatch.reports.figures import LedgerFigures, ledger_figures
from bdcwatch.reports.rates import percent_text
from bdcwatch.rules.ecert import ecert_coverage
from bdcwatch.rules.online import OnlineShare, online_shares
from bdcwatch.safe_text import subject_line
from bdcwatch.standards.masking import mask_id_numbers
from bdcwatch.store.models import finding, finding_escalation, inspection


@dataclass(frozen=True)
class Cycle:
    """An inspection cycle of plan item 34 (and the monthly check of item 32): the DAG that
    holds it and how long one cycle is. Each cycle is held after its period ends (CONTRACT
    §2: the natural period just ended), so the December check, Q4, H2 and the year's
    provincial spot check of year Y run in January of Y + 1."""

    dag_id: str
    label: str
    months: int

    @property
    def per_year(self) -> int:
        return 12 // self.months

    def labels(self, year: int) -> list[str]:
        """The year's natural period labels of this cycle (``2026-03``, ``2026-Q1``, ...)."""
        return [self._period(year, k).label for k in range(self.per_year)]

    def due(self, year: int, as_of_day: date) -> list[str]:
        """Labels of the year's cycles whose period has ended by ``as_of_day``: those that
        can have been held by then."""
        return [p.label for p in (self._period(year, k) for k in range(self.per_year)) if p.end <= as_of_day]

    def _period(self, year: int, index: int) -> Period:
        start = date(year, 1 + index * self.months, 1)
        end = date(year + 1, 1, 1) if index == self.per_year - 1 else date(year, 1 + (index + 1) * self.months, 1)
        return Period(start, end)


# The first table's columns: the period's problems and how many of them are closed (so the
# rate is of one population), closures in the period of any year's problems, open now.
FOUND_HEADERS = ("登记机构", "期内发现问题", "其中已销号", "销号率", "期内销号（含往年问题）", "未销号（全部）")

CYCLES = tuple(Cycle(dag_id, label, CYCLE_MONTHS[dag_id]) for dag_id, label in (
    ("monthly_quality_check", "月度质量评查"), ("county_self_inspection", "县级自查"), ("city_check", "市级排查"),
    ("provincial_spot_check", "省级抽查")))


@dataclass
class AnnualRow:
    code: str
    name: str
    ledger: LedgerFigures
    escalated: int
    ecert: tuple[int, int]
    online: OnlineShare | None
    cycles: dict[str, int] = field(default_factory=dict)  # cycle → the year's cycles held (natural periods)
    by_rule: dict[str, int] = field(default_factory=dict)
    missed: dict[str, int] = field(default_factory=dict)  # cycle → cycles ended by the report day, not held
    closed_of_detected: int = 0  # of the findings detected in the period, those closed now
    city: bool = False  # the city-wide row: its online share has no single target

    @property
    def closure_rate(self) -> str:
        """Of the problems found in the period, the share closed (挂账销号): the same
        problems above and below the line, so never over 100 %."""
        return percent_text(self.closed_of_detected, self.ledger.detected_in_period, digits=0)

    @property
    def ecert_rate(self) -> str:
        total, covered = self.ecert
        return percent_text(covered, total)

    @property
    def online_text(self) -> str:
        if self.online is None or not self.online.cases:
            return "—"
        share = percent_text(self.online.online, self.online.cases)
        if self.city:
            return share
        return f"{share}（目标 {percent_text(self.online.target, digits=0)}，{'达标' if self.online.met else '未达标'}）"

    @property
    def found_cells(self) -> tuple[Any, ...]:
        return (self.name, self.ledger.detected_in_period, self.closed_of_detected, self.closure_rate,
                self.ledger.closed_in_period, self.ledger.open)

    @property
    def other_cells(self) -> tuple[Any, ...]:
        return (self.name, self.ledger.overdue, self.escalated, self.ecert_rate, self.online_text)


def annual_rows(engine: Engine, policy: Policy, period: Period, today: date, units: Sequence[str]) -> list[AnnualRow]:
    """One row per unit; the city-wide row is ``city_row`` of these."""
    ledger = ledger_figures(engine, period, today)
    coverage = ecert_coverage(engine, period, policy)
    shares = online_shares(engine, period, policy)
    year = period.start.year
    with engine.connect() as conn:
        # Problems escalated, not escalation-months: one finding overdue all year is one.
        escalated: dict[str | None, int] = dict(conn.execute(  # type: ignore[arg-type]
            select(finding.c.unit_code, func.count(func.distinct(finding_escalation.c.finding_id)))
            .select_from(finding_escalation.join(finding, finding.c.id == finding_escalation.c.finding_id))
            .where(finding_escalation.c.escalated_at >= period.start_at, finding_escalation.c.escalated_at < period.as_of)
            .group_by(finding.c.unit_code)
        ).all())
        # The year's natural cycles only: a rerun of part of a month (2026-11-01..2026-11-15)
        # is no extra cycle. A cycle is held once per unit however often it is rerun.
        held: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for c in CYCLES:
            for unit, label in conn.execute(
                select(inspection.c.unit_code, inspection.c.period).distinct()
                .where(inspection.c.cycle == c.dag_id, inspection.c.period.in_(c.labels(year)))
            ):
                held[unit][c.dag_id].add(label)
        closed_of_detected: dict[str | None, int] = dict(conn.execute(  # type: ignore[arg-type]
            select(finding.c.unit_code, func.count())
            .where(finding.c.first_detected_at >= period.start_at, finding.c.first_detected_at < period.as_of,
                   finding.c.status == "closed")
            .group_by(finding.c.unit_code)
        ).all())
        by_rule: dict[str, dict[str, int]] = defaultdict(dict)
        for unit, rule, n in conn.execute(
            select(finding.c.unit_code, finding.c.rule_code, func.count())
            .where(and_(finding.c.first_detected_at >= period.start_at, finding.c.first_detected_at < period.as_of))
            .group_by(finding.c.unit_code, finding.c.rule_code)
        ):
            by_rule[unit or ""][rule] = int(n)
    due = {c.dag_id: c.due(year, period.end) for c in CYCLES}
    return [
        AnnualRow(code, policy.units[code].name, ledger.get(code) or LedgerFigures(), int(escalated.get(code, 0)),
                  coverage.get(code, (0, 0)), shares.get(code),
                  {c.dag_id: len(held[code][c.dag_id]) for c in CYCLES}, by_rule.get(code, {}),
                  {c.dag_id: len(set(due[c.dag_id]) - held[code][c.dag_id]) for c in CYCLES},
                  int(closed_of_detected.get(code, 0)))
        for code in units
    ]


def city_row(rows: Sequence[AnnualRow], *, whole_city: bool = True) -> AnnualRow:
    """The total line: 全市合计, or 所选机构合计 for a run narrowed to some units."""
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
        # A city-wide share has no single target (each unit's level has its own): the row
        # shows the share only (``AnnualRow.city``); the target field is a placeholder.
        city_online = OnlineShare(sum(o.online for o in online), sum(o.cases for o in online), online[0].target)
    return AnnualRow("CITY", "全市合计" if whole_city else f"所选 {len(rows)} 个机构合计", ledger, sum(r.escalated for r in rows),
                     (sum(r.ecert[0] for r in rows), sum(r.ecert[1] for r in rows)), city_online,
                     {c.dag_id: sum(r.cycles.get(c.dag_id, 0) for r in rows) for c in CYCLES}, dict(by_rule),
                     {c.dag_id: sum(r.missed.get(c.dag_id, 0) for r in rows) for c in CYCLES},
                     sum(r.closed_of_detected for r in rows), city=True)


def render_annual(
    rows: Sequence[AnnualRow], *, heads: Sequence[Person], addressee: str, year_label: str, period_text: str,
    dag_id: str, run_id: str, city: AnnualRow | None, duties: Sequence[DutyStatus] = (), as_of_day: date,
) -> tuple[str, str, bytes]:
    """Subject, HTML and workbook of an annual summary (for the bureau with ``city``, or one
    unit's own). ``duties``: the units' standing on the yearly duties no system records
    (done, missed, not yet due). ``as_of_day``: the report's day (the period's end), which
    decides how many cycles of the year were due by then. Pure: no database."""
    shown = [*rows, *([city] if city else [])]
    names = {r.code: r.name for r in rows}
    codes = sorted({rule for r in shown for rule in r.by_rule}, key=lambda code: (-sum(r.by_rule.get(code, 0) for r in rows), code))
    subject = f"【不动产登记监督】{year_label}年度不动产登记监督工作总结（{addressee}）"
    year = int(year_label)
    cycle_headers = [f"{c.label}（全年应{c.per_year}次，截至报告日应{len(c.due(year, as_of_day))}次）" for c in CYCLES]
    cycle_rows = [[r.name, *(f"{r.cycles.get(c.dag_id, 0)}{'（不足）' if r.missed.get(c.dag_id) else ''}"
                             for c in CYCLES)] for r in rows]
    by_rule = [(rules.title(code), "、".join(f"{r.name} {r.by_rule[code]}" for r in shown if r.by_rule.get(code)))
               for code in codes]
    html = render_template("annual_summary.html.j2",
        subject=subject, heads=heads, addressee=addressee, year_label=year_label, period_text=period_text,
        rows=shown, found_headers=FOUND_HEADERS, cycle_headers=cycle_headers, cycle_rows=cycle_rows,
        rules=by_rule, dag_id=dag_id, run_id=run_id,
        duties=[{"cells": (names.get(d.unit_code, d.unit_code), d.duty.name + (f"（第{d.duty.plan_items}项）"
                                                                              if d.duty.plan_items else ""),
                           d.period.label, d.period.deadline.isoformat(), d.duty.min_count, d.recorded,
                           d.state_text)} for d in duties],
    )
    summary = pd.DataFrame([
        {"登记机构": r.name, FOUND_HEADERS[1]: r.ledger.detected_in_period, FOUND_HEADERS[2]: r.closed_of_detected,
         FOUND_HEADERS[3]: r.closure_rate, FOUND_HEADERS[4]: r.ledger.closed_in_period, FOUND_HEADERS[5]: r.ledger.open, "其中逾期": r.ledger.overdue, "逾期上报": r.escalated,
         "电子证照覆盖率": r.ecert_rate, "预告/抵押网办率": r.online_text,
         **{header: r.cycles.get(c.dag_id, 0) for c, header in zip(CYCLES, cycle_headers, strict=True)},
         **{f"{c.label}未开展（已到期）": r.missed.get(c.dag_id, 0) for c in CYCLES}}
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
    # A run narrowed to some units sends the bureau those units' report under its own key:
    # it neither passes for the city's summary nor stops the whole city's from going out.
    whole_city = set(job.units) >= set(policy.units)
    city_key = CITY_SUPERVISOR if whole_city else f"{CITY_SUPERVISOR}|{','.join(job.units)}"
    mails: list[tuple[str, str, tuple[Person, ...], list[AnnualRow], AnnualRow | None]] = [
        (city_key, bureau.name, bureau.heads, rows, city_row(rows, whole_city=whole_city))]
    mails += [(row.code, row.name, policy.units[row.code].heads, [row], None) for row in rows]
    duties = duty_status(job.engine, policy, year=spec.period_start.year, as_of_day=spec.period_end, units=job.units)
    queued: list[int] = []
    for key, addressee, heads, shown, city in mails:

        def one(key: str = key, addressee: str = addressee, heads: tuple[Person, ...] = heads,
                shown: list[AnnualRow] = shown, city: AnnualRow | None = city) -> int | None:
            codes = {r.code for r in shown}
            subject, html, content = render_annual(shown, heads=heads, addressee=addressee, year_label=year,
                                                   period_text=period_text, dag_id=ctx.dag_id, run_id=ctx.run_id,
                                                   city=city, duties=[d for d in duties if d.unit_code in codes],
                                                   as_of_day=spec.period_end)
            return queue(job, OutgoingMessage(
                dedup_key=f"{ctx.dag_id}|{spec.period_label}|{key}", kind="annual_summary", dag_id=ctx.dag_id,
                run_id=ctx.run_id, period=spec.period_label, unit_code=None if city else key,
                recipients=tuple(h.email for h in heads), subject=subject, html=html,
                attachments=(Attachment(f"年度总结_{year}_{key.replace('|', '_').replace(',', '-')}.xlsx", content),),
            ))

        outbox_id = attempt(job, f"{addressee}的年度工作总结", one)
        if outbox_id is not None:
            queued.append(outbox_id)
    return queued
