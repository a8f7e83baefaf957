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
from bdcwatch.mail.outbox import OutgoingMessage, enqueue
from bdcwatch.mail.sender import Attachment
from bdcwatch.reports.common import (
    SEVERITY_TEXT,
    FindingRow,
    detail_text,
    operations_desk,
    render_template,
    sort_findings,
    workbook,
)
from bdcwatch.standards.masking import mask_id_numbers

log = logging.getLogger(__name__)


def compose(job: Job) -> list[int]:
    """Queue one escalation per supervisor with their units' overdue findings; returns the
    outbox ids queued (none when everything overdue was escalated this month already)."""
    engine, policy, ctx = job.engine, job.policy, job.ctx
    today = ctx.now.date()
    ui_url = f"{job.ui_base_url}/dags/{ctx.dag_id}" if job.ui_base_url else None
    period = escalation_period(today)
    by_supervisor: dict[str, list[FindingRow]] = defaultdict(list)
    for row in overdue_unescalated(engine, today):
        unit = policy.units.get(row.unit_code or "")
        by_supervisor[unit.supervisor if unit else OPERATIONS].append(row)
    queued: list[int] = []
    for code, rows in sorted(by_supervisor.items()):
        if code == OPERATIONS:
            name, heads = "运维值班", operations_desk(policy)
        else:
            name, heads = policy.supervisors[code].name, policy.supervisors[code].heads
        subject, html, workbook = render_escalation(rows, history(engine, [r.id for r in rows]), policy=policy,
                                                    supervisor_name=name, heads=heads, today=today, ui_url=ui_url,
                                                    run_id=ctx.run_id, dag_id=ctx.dag_id)
        ids = ",".join(str(r.id) for r in rows)
        message = OutgoingMessage(
            dedup_key=f"escalation|{period}|{code}|{hashlib.sha256(ids.encode()).hexdigest()[:16]}",
            kind="escalation", dag_id=ctx.dag_id, run_id=ctx.run_id, period=period, unit_code=None,
            recipients=tuple(h.email for h in heads), subject=subject, html=html,
            attachments=(Attachment(f"逾期问题上报_{code}_{period}.xlsx", workbook),),
        )
        with engine.begin() as conn:
            outbox_id = enqueue(conn, message, ctx.now)
            if outbox_id is None:
                continue
            record_escalation(conn, [r.id for r in rows], today=today, supervisor=code, outbox_id=outbox_id,
                              now=ctx.now)
        queued.append(outbox_id)
        log.info("escalated %d overdue finding(s) to %s (outbox %s)", len(rows), name, outbox_id)
    return queued


def render_escalation(
    rows: Sequence[FindingRow], lines: dict[int, list[HistoryLine]], *, policy: Policy, supervisor_name: str,
    heads: Sequence[Person], today: date, ui_url: str | None, run_id: str, dag_id: str,
) -> tuple[str, str, bytes]:
    """Subject, HTML and workbook of one supervisor's escalation (pure: no database)."""
    units: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in sort_findings(rows):
        unit = policy.units.get(f.unit_code or "")
        units[unit.name if unit else f"未登记机构 {f.unit_code or '（空）'}"].append({
            "title": rules.title(f.rule_code), "rule_code": f.rule_code,
            "severity": SEVERITY_TEXT.get(f.severity, f.severity), "subject_id": mask_id_numbers(f.subject_id),
            "detail": detail_text(f.rule_code, f.detail), "first": f.first_detected_at.strftime("%Y-%m-%d"),
            "due": f.due_date.isoformat(), "days": (today - f.due_date).days, "status": f.status,
            "history": lines.get(f.id, []),
        })
    subject = f"【不动产登记监督】逾期未整改问题上报（{today:%Y年%m月}）：{len(rows)} 项"
    html = render_template("escalation.html.j2",
        subject=subject, supervisor_name=supervisor_name, heads=heads, units=units, total=len(rows),
        today=today.isoformat(), ui_url=ui_url, run_id=run_id, dag_id=dag_id,
    )
    frame = pd.DataFrame([
        {"单位": unit, "问题": item["title"], "规则代码": item["rule_code"], "等级": item["severity"],
         "对象": item["subject_id"], "说明": item["detail"], "首次发现": item["first"], "整改期限": item["due"],
         "逾期天数": item["days"], "状态": item["status"],
         "处理记录": "\n".join(f"{h.at} {h.actor} {h.change} {h.note}" for h in item["history"])}
        for unit, items in units.items() for item in items
    ])
    return mask_id_numbers(subject), mask_id_numbers(html), workbook({"逾期问题": frame})
