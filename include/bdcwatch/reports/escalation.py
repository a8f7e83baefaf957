"""The escalation mail (plan items 31, 36): a supervising bureau gets its units' findings
that are past their rectification due date, each with its history, once a month while
they stay overdue. Queued together with the ``finding_escalation`` rows in one
transaction, so a rerun or a retried task escalates nothing twice."""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import Connection

from bdcwatch import rules
from bdcwatch.config.policy import Person, Policy
from bdcwatch.config.run import Job
from bdcwatch.ledger.escalation import (
    OPERATIONS,
    HistoryLine,
    escalation_period,
    history,
    overdue_unescalated,
    record_escalation,
)
from bdcwatch.mail.outbox import OutgoingMessage
from bdcwatch.mail.sender import Attachment
from bdcwatch.reports.common import (
    SEVERITY_TEXT,
    CodeBook,
    FindingRow,
    detail_text,
    finding_url,
    operations_desk,
    render_template,
    sort_findings,
    workbook,
)
from bdcwatch.reports.dispatch import attempt, isolated, queue
from bdcwatch.reports.labels import status_text, subject_type_text
from bdcwatch.safe_text import subject_line
from bdcwatch.standards.masking import mask_id_numbers

log = logging.getLogger(__name__)


@isolated("逾期问题上报")
def compose(job: Job) -> list[int]:
    """Queue one escalation per supervisor with their units' overdue findings; returns the
    outbox ids queued (none when everything overdue was escalated this month already).
    One supervisor's mail failing is reported and the others still go out."""
    engine, policy, ctx = job.engine, job.policy, job.ctx
    today = ctx.now.date()
    period = escalation_period(today)
    by_supervisor: dict[str, list[FindingRow]] = defaultdict(list)
    for row in overdue_unescalated(engine, today, job.spec.units):
        unit = policy.units.get(row.unit_code or "")
        by_supervisor[unit.supervisor if unit else OPERATIONS].append(row)
    queued: list[int] = []
    for code, rows in sorted(by_supervisor.items()):
        if code == OPERATIONS:
            name, heads = "运维值班", operations_desk(policy)
        else:
            name, heads = policy.supervisors[code].name, policy.supervisors[code].heads

        def one(code: str = code, rows: list[FindingRow] = rows, name: str = name,
                heads: Sequence[Person] = heads) -> int | None:
            subject, html, workbook = render_escalation(rows, history(engine, [r.id for r in rows]), policy=policy,
                                                        supervisor_name=name, heads=heads, today=today,
                                                        ui_base_url=job.ui_base_url, ui_city=job.ui_city,
                                                        run_id=ctx.run_id,
                                                        dag_id=ctx.dag_id)
            ids = ",".join(str(r.id) for r in rows)
            message = OutgoingMessage(
                dedup_key=f"escalation|{period}|{code}|{hashlib.sha256(ids.encode()).hexdigest()[:16]}",
                kind="escalation", dag_id=ctx.dag_id, run_id=ctx.run_id, period=period, unit_code=None,
                recipients=tuple(h.email for h in heads), subject=subject, html=html,
                attachments=(Attachment(f"逾期问题上报_{code}_{period}.xlsx", workbook),),
            )

            def record(conn: Connection, outbox_id: int) -> None:
                record_escalation(conn, [r.id for r in rows], today=today, supervisor=code, outbox_id=outbox_id,
                                  now=ctx.now)

            return queue(job, message, then=record)

        queued_id = attempt(job, f"报送{name}的逾期问题", one)
        if queued_id is not None:
            queued.append(queued_id)
            log.info("escalated %d overdue finding(s) to %s (outbox %s)", len(rows), name, queued_id)
    queued += _remind_units(job, [r for rows in by_supervisor.values() for r in rows], period)
    return queued


def _remind_units(job: Job, rows: Sequence[FindingRow], period: str) -> list[int]:
    """CONTRACT §6: each unit's heads get that unit's overdue findings (and nothing of
    other units): the findings escalated today go, the same day, to their own unit's heads
    too, saying to whom they went up. Once a month per finding, as the escalation; keyed
    by the findings, so a rerun sends nothing twice. A DJJG the policy does not know has
    no heads: its findings went to operations above."""
    engine, policy, ctx = job.engine, job.policy, job.ctx
    today = ctx.now.date()
    by_unit: dict[str, list[FindingRow]] = defaultdict(list)
    for row in rows:
        if row.unit_code in policy.units:
            by_unit[str(row.unit_code)].append(row)
    queued: list[int] = []
    for code, unit_rows in sorted(by_unit.items()):
        unit = policy.units[code]
        supervisor = policy.supervisors.get(unit.supervisor)

        def one(code: str = code, unit_rows: list[FindingRow] = unit_rows, unit: Any = unit,
                supervisor_name: str = supervisor.name if supervisor else "运维值班") -> int | None:
            subject, html, book = render_escalation(
                unit_rows, history(engine, [r.id for r in unit_rows]), policy=policy, supervisor_name=unit.name,
                heads=unit.heads, today=today, ui_base_url=job.ui_base_url, ui_city=job.ui_city, run_id=ctx.run_id,
                dag_id=ctx.dag_id, escalated_to=supervisor_name)
            ids = ",".join(str(r.id) for r in unit_rows)
            return queue(job, OutgoingMessage(
                dedup_key=f"overdue_reminder|{period}|{code}|{hashlib.sha256(ids.encode()).hexdigest()[:16]}",
                kind="overdue_reminder", dag_id=ctx.dag_id, run_id=ctx.run_id, period=period, unit_code=code,
                recipients=tuple(h.email for h in unit.heads), subject=subject, html=html,
                attachments=(Attachment(f"逾期未整改问题_{code}_{period}.xlsx", book),),
            ))

        queued_id = attempt(job, f"{unit.name}的逾期问题提醒", one)
        if queued_id is not None:
            queued.append(queued_id)
            log.info("reminded %s of %d overdue finding(s) (outbox %s)", code, len(unit_rows), queued_id)
    return queued


def render_escalation(
    rows: Sequence[FindingRow], lines: dict[int, list[HistoryLine]], *, policy: Policy, supervisor_name: str,
    heads: Sequence[Person], today: date, ui_base_url: str | None, run_id: str, dag_id: str,
    ui_city: str | None = None, escalated_to: str | None = None,
) -> tuple[str, str, bytes]:
    """Subject, HTML and workbook of one supervisor's escalation (pure: no database).
    ``escalated_to``: the same list as a reminder to the unit itself (``supervisor_name``
    is then the unit's name), saying which bureau it went up to."""
    codes = CodeBook.from_policy(policy)
    units: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in sort_findings(rows):
        unit = policy.units.get(f.unit_code or "")
        units[unit.name if unit else f"未登记机构 {f.unit_code or '（空）'}"].append({
            "id": f.id, "url": finding_url(ui_base_url, f.id, ui_city), "title": rules.title(f.rule_code),
            "rule_code": f.rule_code, "severity": SEVERITY_TEXT.get(f.severity, f.severity),
            "subject_type": subject_type_text(f.subject_type), "subject_id": mask_id_numbers(f.subject_id),
            "detail": detail_text(f.rule_code, f.detail, codes), "first": f.first_detected_at.strftime("%Y-%m-%d"),
            "due": f.due_date.isoformat(), "days": (today - f.due_date).days, "status": status_text(f.status),
            "history": lines.get(f.id, []),
        })
    subject = (f"【不动产登记监督】逾期未整改问题上报（{today:%Y年%m月}）：{len(rows)} 项" if escalated_to is None else
               f"【不动产登记监督】{supervisor_name} 逾期未整改问题提醒（{today:%Y年%m月}）：{len(rows)} 项")
    html = render_template("escalation.html.j2",
        subject=subject, supervisor_name=supervisor_name, heads=heads, units=units, total=len(rows),
        today=today.isoformat(), linked=bool(ui_base_url), run_id=run_id, dag_id=dag_id, escalated_to=escalated_to,
    )
    frame = pd.DataFrame([
        {"单位": unit, "编号": item["id"], "问题": item["title"], "规则代码": item["rule_code"], "等级": item["severity"],
         "对象类型": item["subject_type"], "对象": item["subject_id"], "说明": item["detail"], "首次发现": item["first"],
         "整改期限": item["due"],
         "逾期天数": item["days"], "状态": item["status"],
         "处理记录": "\n".join(f"{h.at} {h.actor} {h.change} {h.note}" for h in item["history"])}
        for unit, items in units.items() for item in items
    ])
    return subject_line(subject), mask_id_numbers(html), workbook({"逾期问题": frame})
