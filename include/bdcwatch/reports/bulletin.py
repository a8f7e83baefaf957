"""The monthly 通报 (plan items 32, 35; CONTRACT §8): the month's scorecard and ranking
(``reports.ranking``) as an HTML mail with the ranking table and one chart, and an XLSX
with every indicator's numerator and denominator, to CITY_BUREAU's heads and to every
unit's heads (each unit sees the whole ranking, its own row marked). The ranking names
units, never people.

A rerun of a month reads the stored scorecard and queues nothing new: each mail's key
holds the scorecard's fingerprint, so only a recomputed month whose scores changed is
mailed again (as a correction).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pandas as pd

from bdcwatch.config.policy import Person, Policy
from bdcwatch.config.run import Job
from bdcwatch.config.sections import INDICATORS
from bdcwatch.mail.outbox import OutgoingMessage
from bdcwatch.mail.sender import INLINE_PREFIX, Attachment
from bdcwatch.reports.chart import score_chart_png
from bdcwatch.reports.common import CITY_SUPERVISOR, Chart, render_template
from bdcwatch.reports.dispatch import attempt, isolated, queue
from bdcwatch.reports.ranking import Scorecard, UnitScore, monthly_scorecard
from bdcwatch.reports.scorecard import NAMES, NUMERATORS, POPULATIONS
from bdcwatch.reports.workbooks import workbook
from bdcwatch.safe_text import subject_line
from bdcwatch.standards.masking import mask_id_numbers

log = logging.getLogger(__name__)
INSUFFICIENT = "样本不足"


def _month_text(label: str) -> str:
    year, month = label.split("-")
    return f"{year}年{int(month)}月"


def _cell(unit: UnitScore, indicator: str) -> dict[str, str]:
    measure = unit.measures[indicator]
    if not measure.sufficient:
        return {"name": NAMES[indicator], "value": INSUFFICIENT, "score": f"n={measure.denominator}", "muted": "1"}
    return {"name": NAMES[indicator], "value": measure.value_text(), "score": f"{measure.score}", "muted": ""}


def _definitions(policy: Policy) -> list[dict[str, str]]:
    return [{"name": NAMES[i], "numerator": NUMERATORS[i], "denominator": POPULATIONS[i],
             "weight": f"{policy.bulletin.weights.get(i, 0):g}", "minimum": str(policy.bulletin.min_population[i])}
            for i in INDICATORS]


def _unit_name(policy: Policy, code: str) -> str:
    """The unit's name from the policy; its DJJG code if the policy no longer lists it."""
    return policy.units[code].name if code in policy.units else code


def _chart_alt(card: Scorecard, policy: Policy) -> str:
    """The chart's numbers in words (its alt text and the text/plain part), by unit name."""
    return "各单位综合得分：" + "；".join(
        f"{_unit_name(policy, u.unit_code)} "
        f"{u.score if u.score is not None else '不参与排名'}" for u in card.units)


def bulletin_workbook(card: Scorecard, policy: Policy) -> bytes:
    """The XLSX of a bulletin: the ranking, every indicator's numerator and denominator,
    and the definitions."""
    def name(code: str) -> str:
        return _unit_name(policy, code)

    ranking = pd.DataFrame([{
        "名次": u.rank if u.rank is not None else "不参与排名", "登记机构": name(u.unit_code), "代码": u.unit_code,
        "综合得分": float(u.score) if u.score is not None else None,
        "上月得分": float(u.prev_score) if u.prev_score is not None else None, "上月名次": u.prev_rank,
        "较上月": u.change_text()} for u in card.units])
    detail = pd.DataFrame([{
        "登记机构": name(u.unit_code), "代码": u.unit_code, "指标": NAMES[m.indicator], "指标代码": m.indicator,
        "分子": m.numerator, "分子口径": NUMERATORS[m.indicator], "分母": m.denominator,
        "分母口径": POPULATIONS[m.indicator], "数值": m.value_text(),
        "得分": float(m.score) if m.score is not None else None,
        "权重": card.weights.get(m.indicator, 0), "参与排名": "是" if m.sufficient else INSUFFICIENT}
        for u in card.units for m in u.measures.values()])
    definitions = pd.DataFrame([{"指标": d["name"], "分子": d["numerator"], "分母": d["denominator"],
                                 "权重": d["weight"], "最小样本": d["minimum"]} for d in _definitions(policy)])
    return workbook({"排名": ranking, "指标明细": detail, "指标口径": definitions})


def render_bulletin(
    card: Scorecard, *, policy: Policy, addressee: str, heads: Sequence[Person], own_unit: str | None, dag_id: str,
    run_id: str,
) -> tuple[str, str, tuple[Attachment, ...]]:
    """Subject, HTML and attachments (workbook, inline chart) of one addressee's bulletin.
    Pure: no database."""
    month = _month_text(card.period)
    subject = f"【不动产登记监督】{month}不动产登记作风和业务质量评价排名通报（{addressee}）"
    rows = [{"rank": u.rank, "code": u.unit_code, "own": u.unit_code == own_unit,
             "name": _unit_name(policy, u.unit_code),
             "score": f"{u.score}" if u.score is not None else "不参与排名", "change": u.change_text(),
             "delta": (f"{u.score_delta():+}" if u.score_delta() is not None else ""),
             "cells": [_cell(u, i) for i in INDICATORS]} for u in card.units]
    png = score_chart_png([(u.unit_code, _unit_name(policy, u.unit_code),
                            float(u.score) if u.score is not None else None) for u in card.units])
    image = Attachment(f"{INLINE_PREFIX}ranking_{card.period}.png", png)
    chart = Chart(image.content_id, _chart_alt(card, policy), "各单位综合得分（按名次排列；无得分的单位不参与排名）：")
    definitions = [{"cells": (d["name"], d["numerator"], d["denominator"], d["weight"], d["minimum"])}
                   for d in _definitions(policy)]
    html = render_template(
        "bulletin.html.j2", subject=subject, month=month, heads=heads, addressee=addressee, rows=rows,
        definitions=definitions, computed_at=card.computed_at, dag_id=dag_id, run_id=run_id, chart=chart,
    )
    attachments = (Attachment(f"评价排名通报_{card.period}.xlsx", bulletin_workbook(card, policy)), image)
    return subject_line(subject), mask_id_numbers(html), attachments


@isolated("月度评价排名通报")
def compose(job: Job, *, recompute: bool = False) -> list[int]:
    """The monthly_bulletin task: the month's scorecard (stored, or computed and stored)
    mailed to CITY_BUREAU's heads and each unit's heads (only the units of the run's
    ``units`` Param when given; the ranking always covers every unit). Returns the
    outbox ids queued (none on a rerun with the same scores)."""
    policy, spec, ctx = job.policy, job.spec, job.ctx
    card, computed = monthly_scorecard(job.engine, spec.period, policy, job.calendar, now=ctx.now, run_id=ctx.run_id,
                                       recompute=recompute, store=not job.dry_run)
    log.info("scorecard %s %s (%s): %s", card.period, "computed and stored" if computed else "read back as stored",
             card.fingerprint(), ", ".join(f"{u.unit_code}={u.score} #{u.rank}" for u in card.units))
    bureau = policy.supervisors[CITY_SUPERVISOR]
    mails: list[tuple[str, str, tuple[Person, ...], str | None]] = [(CITY_SUPERVISOR, bureau.name, bureau.heads, None)]
    mails += [(code, policy.units[code].name, policy.units[code].heads, code) for code in job.units]
    queued: list[int] = []
    for key, addressee, heads, own in mails:

        def one(key: str = key, addressee: str = addressee, heads: tuple[Person, ...] = heads,
                own: str | None = own) -> int | None:
            subject, html, attachments = render_bulletin(card, policy=policy, addressee=addressee, heads=heads,
                                                         own_unit=own, dag_id=ctx.dag_id, run_id=ctx.run_id)
            return queue(job, OutgoingMessage(
                dedup_key=f"{ctx.dag_id}|{card.period}|{key}|{card.fingerprint()}", kind="bulletin",
                dag_id=ctx.dag_id, run_id=ctx.run_id, period=card.period, unit_code=own,
                recipients=tuple(h.email for h in heads), subject=subject, html=html, attachments=attachments,
            ))

        outbox_id = attempt(job, f"{addressee}的月度评价排名通报", one)
        if outbox_id is not None:
            queued.append(outbox_id)
    return queued
