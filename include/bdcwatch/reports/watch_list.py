"""The daily time-limit warning (plan items 14, 33): per unit, cases already overdue and
cases due within ``due_soon_working_days`` working days (the CASE_DUE_SOON alert)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pandas as pd

from bdcwatch.config.policy import Person
from bdcwatch.config.run import Job
from bdcwatch.ledger.findings import Evaluation
from bdcwatch.ledger.preview import run_findings
from bdcwatch.mail.outbox import OutgoingMessage
from bdcwatch.mail.sender import Attachment
from bdcwatch.reports.common import (
    CodeBook,
    DigestContext,
    RenderedDigest,
    calendar_warning,
    operations_desk,
    render_template,
    workbook,
)
from bdcwatch.reports.dispatch import attempt, isolated, queue
from bdcwatch.reports.labels import value_text
from bdcwatch.rules.engine import rule_input
from bdcwatch.rules.time_limits import due_soon_cases
from bdcwatch.safe_text import subject_line
from bdcwatch.standards.masking import mask_id_numbers


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
    ``due_soon_days`` working days (rows: ywh, djdl, slsj, deadline[, days_left]); 登记大类
    by name (policy ``code_names``)."""
    codes = context.codes

    def accepted(value: Any) -> str:
        return value_text("slsj", str(value), codes)

    overdue_rows = [(r["ywh"], codes.djdl_name(r["djdl"]), accepted(r["slsj"]), str(r["deadline"])[:10])
                    for r in overdue]
    soon_rows = [(r["ywh"], codes.djdl_name(r["djdl"]), accepted(r["slsj"]), str(r["deadline"])[:10], r["days_left"])
                 for r in due_soon]
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
    return RenderedDigest(subject_line(subject), mask_id_numbers(html), (Attachment(filename, content),))




@isolated("办件时限预警")
def compose(job: Job, evaluation: Evaluation) -> list[int]:
    """Queue each unit's warning list of the day: the CASE_OVERDUE_OPEN findings this run
    detected and the cases due soon as of the run's as-of. Returns the outbox ids; one
    unit's list failing is reported and the others still go out."""
    from bdcwatch.reports import ops_notice

    policy, spec, engine, ctx = job.policy, job.spec, job.engine, job.ctx
    calendar = job.calendar
    alerts = due_soon_cases(engine, rule_input(engine, spec.period, policy), calendar)
    overdue_by_unit: dict[str, list[dict[str, Any]]] = {}
    for row in run_findings(job, ["CASE_OVERDUE_OPEN"]):
        if row.status == "closed":
            continue
        detail = json.loads(row.detail)
        overdue_by_unit.setdefault(row.unit_code or "", []).append(
            {"ywh": row.subject_id, "djdl": detail.get("djdl"), "slsj": detail.get("slsj"), "deadline": detail.get("deadline")}
        )
    soon_by_unit: dict[str, list[dict[str, Any]]] = {}
    for alert in alerts:
        soon_by_unit.setdefault(alert["djjg"], []).append(alert)
    years = sorted(set(evaluation.calendar_fallback_years) | calendar.fallback_years)
    warning = calendar_warning(years)
    ops_notice.calendar_gap(job, years)
    codes = CodeBook.from_policy(policy)
    queued = []
    for unit_code in sorted(set(overdue_by_unit) | set(soon_by_unit), key=str):
        if spec.units and unit_code not in spec.units:
            continue
        unit = policy.units.get(unit_code)
        name = unit.name if unit else f"未登记机构 {unit_code}"

        def one(unit_code: str = unit_code, unit: Any = unit, name: str = name) -> int | None:
            heads = unit.heads if unit else operations_desk(policy)
            context = DigestContext(
                dag_id=ctx.dag_id, run_id=ctx.run_id, period_label=spec.period_label, period_text="",
                as_of=spec.period.as_of, plan_items="14、33", title="办件时限预警", supervisor_name="",
                calendar_warning=warning, codes=codes,
            )
            digest = render_watch_list(
                unit_code=unit_code, unit_name=name, heads=heads,
                overdue=sorted(overdue_by_unit.get(unit_code, []), key=lambda r: str(r["ywh"])),
                due_soon=soon_by_unit.get(unit_code, []), due_soon_days=policy.due_soon_working_days, context=context,
            )
            return queue(job, OutgoingMessage(
                # One list per unit and as-of, whichever run composed it: a manual run for a
                # period ending today and the scheduled run of the same day list the same cases.
                dedup_key=f"{ctx.dag_id}|asof {spec.period.as_of:%Y-%m-%d %H:%M}|{unit_code}|watch", kind="watch_list",
                dag_id=ctx.dag_id,
                run_id=ctx.run_id, period=spec.period_label, unit_code=unit_code,
                recipients=tuple(h.email for h in heads), subject=digest.subject, html=digest.html,
                attachments=digest.attachments,
            ))

        outbox_id = attempt(job, f"{name}的办件时限预警", one)
        if outbox_id is not None:
            queued.append(outbox_id)
    return queued
