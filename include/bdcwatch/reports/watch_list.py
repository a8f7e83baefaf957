"""The daily time-limit warning (plan items 14, 33): per unit, cases already overdue and
cases due within ``due_soon_working_days`` working days (the CASE_DUE_SOON alert)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlalchemy import select

from bdcwatch.config.policy import Person
from bdcwatch.config.run import Job
from bdcwatch.ledger.findings import Evaluation
from bdcwatch.mail.outbox import OutgoingMessage, enqueue
from bdcwatch.mail.sender import Attachment
from bdcwatch.reports.common import (
    DigestContext,
    RenderedDigest,
    calendar_warning,
    operations_desk,
    render_template,
    workbook,
)
from bdcwatch.rules.engine import rule_input
from bdcwatch.rules.time_limits import due_soon_cases
from bdcwatch.standards.masking import mask_id_numbers
from bdcwatch.store.models import finding


def render_watch_list(
    *,
    unit_code: str,
    unit_name: str,
    heads: Sequence[Person],
    overdue: Sequence[dict[str, Any]],
    due_soon: Sequence[dict[str, Any]],
    due_soon_days: int,
    context: DigestContext,
) -> RenderedDigest:
    """The daily time-limit warning of one unit: cases already overdue and cases due within
    ``due_soon_days`` working days (rows: ywh, djdl, slsj, deadline[, days_left])."""
    overdue_rows = [(r["ywh"], r["djdl"], str(r["slsj"])[:16], str(r["deadline"])) for r in overdue]
    soon_rows = [(r["ywh"], r["djdl"], str(r["slsj"])[:16], str(r["deadline"]), r["days_left"]) for r in due_soon]
    sections: list[dict[str, Any]] = [
        {"title": "已超期在办", "columns": ("业务号", "登记大类", "受理时间", "办理期限"), "rows": overdue_rows},
        {"title": "即将到期", "columns": ("业务号", "登记大类", "受理时间", "办理期限", "剩余工作日"), "rows": soon_rows},
    ]
    subject = (f"【不动产登记监督】{unit_name} 办件时限预警（{context.as_of:%Y-%m-%d}）："
               f"超期 {len(overdue_rows)} 件，即将到期 {len(soon_rows)} 件")
    html = render_template("watch_list.html.j2",
        subject=subject, unit_name=unit_name, heads=heads, overdue=overdue_rows, due_soon=soon_rows,
        due_soon_days=due_soon_days, as_of=context.as_of.strftime("%Y-%m-%d %H:%M"), sections=sections,
        calendar_warning=context.calendar_warning, dag_id=context.dag_id, run_id=context.run_id,
    )
    content = workbook({section["title"]: pd.DataFrame(section["rows"], columns=list(section["columns"]))
                        for section in sections})
    filename = f"{context.dag_id}_{unit_code}_{context.as_of:%Y%m%d}.xlsx"
    return RenderedDigest(mask_id_numbers(subject), mask_id_numbers(html), (Attachment(filename, content),))




def compose(job: Job, evaluation: Evaluation) -> list[int]:
    """Queue each unit's warning list of the day: the CASE_OVERDUE_OPEN findings this run
    detected and the cases due soon as of the run's as-of. Returns the outbox ids."""
    policy, spec, engine, ctx = job.policy, job.spec, job.engine, job.ctx
    calendar = job.calendar
    alerts = due_soon_cases(engine, rule_input(engine, spec.period, policy), calendar)
    with engine.connect() as conn:
        overdue = conn.execute(
            select(finding.c.unit_code, finding.c.subject_id, finding.c.detail)
            .where(finding.c.rule_code == "CASE_OVERDUE_OPEN", finding.c.last_run_id == ctx.run_id)
            .where(finding.c.status != "closed")
        ).all()
    overdue_by_unit: dict[str, list[dict[str, Any]]] = {}
    for row in overdue:
        detail = json.loads(row.detail)
        overdue_by_unit.setdefault(row.unit_code, []).append(
            {"ywh": row.subject_id, "djdl": detail.get("djdl"), "slsj": detail.get("slsj"), "deadline": detail.get("deadline")}
        )
    soon_by_unit: dict[str, list[dict[str, Any]]] = {}
    for alert in alerts:
        soon_by_unit.setdefault(alert["djjg"], []).append(alert)
    warning = calendar_warning(sorted(set(evaluation.calendar_fallback_years) | calendar.fallback_years))
    queued = []
    for unit_code in sorted(set(overdue_by_unit) | set(soon_by_unit), key=str):
        if spec.units and unit_code not in spec.units:
            continue
        unit = policy.units.get(unit_code)
        heads = unit.heads if unit else operations_desk(policy)
        context = DigestContext(
            dag_id=ctx.dag_id, run_id=ctx.run_id, period_label=spec.period_label, period_text="",
            as_of=spec.period.as_of, plan_items="14、33", title="办件时限预警", supervisor_name="",
            calendar_warning=warning,
        )
        digest = render_watch_list(
            unit_code=unit_code, unit_name=unit.name if unit else f"未登记机构 {unit_code}", heads=heads,
            overdue=sorted(overdue_by_unit.get(unit_code, []), key=lambda r: str(r["ywh"])),
            due_soon=soon_by_unit.get(unit_code, []), due_soon_days=policy.due_soon_working_days, context=context,
        )
        message = OutgoingMessage(
            dedup_key=f"{ctx.dag_id}|{spec.period_label}|{unit_code}|watch", kind="watch_list", dag_id=ctx.dag_id,
            run_id=ctx.run_id, period=spec.period_label, unit_code=unit_code, recipients=tuple(h.email for h in heads),
            subject=digest.subject, html=digest.html, attachments=digest.attachments,
        )
        with engine.begin() as conn:
            outbox_id = enqueue(conn, message, ctx.now)
        if outbox_id is not None:
            queued.append(outbox_id)
    return queued
