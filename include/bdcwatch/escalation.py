"""Escalation (plan items 31, 36): a finding past its rectification due date goes up to the
unit's supervising bureau (policy ``supervisors``), once per calendar month while it stays
overdue, with its history from the audit trail.

One mail per supervisor per run, through the outbox. The findings it carries are recorded
in ``finding_escalation`` in the same transaction that queues the mail, so a rerun or a
retried task finds nothing left to escalate this month and queues nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine, and_, exists, select

from .codes import mask_id_numbers
from .config import Person, Policy
from .digest.render import SEVERITY_TEXT, FindingRow, detail_text, render_template, sort_findings, workbook
from .figures import OPEN_STATUSES
from .ledger import RunContext
from .mail import Attachment
from .models import finding, finding_escalation, finding_event
from .outbox import OutgoingMessage, enqueue
from .rules.registry import rule_title

log = logging.getLogger(__name__)

OPERATIONS = "OPERATIONS"  # findings of a unit the policy does not know go to operations


@dataclass(frozen=True)
class HistoryLine:
    at: str
    actor: str
    change: str
    note: str


def escalation_period(today: date) -> str:
    return f"{today:%Y-%m}"


def overdue_unescalated(engine: Engine, today: date) -> list[FindingRow]:
    """Findings still open past their due date and not yet escalated this month."""
    period = escalation_period(today)
    already = exists().where(and_(finding_escalation.c.finding_id == finding.c.id, finding_escalation.c.period == period))
    query = (select(finding).where(finding.c.status.in_(OPEN_STATUSES), finding.c.due_date < today, ~already)
             .order_by(finding.c.id))
    with engine.connect() as conn:
        return [FindingRow(r.id, r.rule_code, r.severity, r.unit_code, r.subject_type, r.subject_id, r.period,
                           r.detail, r.status, r.first_detected_at, r.due_date) for r in conn.execute(query)]


def history(engine: Engine, finding_ids: Sequence[int]) -> dict[int, list[HistoryLine]]:
    lines: dict[int, list[HistoryLine]] = defaultdict(list)
    with engine.connect() as conn:
        for start in range(0, len(finding_ids), 500):
            chunk = list(finding_ids[start : start + 500])
            for e in conn.execute(select(finding_event).where(finding_event.c.finding_id.in_(chunk))
                                  .order_by(finding_event.c.id)):
                change = f"{e.from_status} → {e.to_status}" if e.from_status else f"→ {e.to_status}"
                lines[e.finding_id].append(HistoryLine(e.at.strftime("%Y-%m-%d %H:%M"), e.actor, change,
                                                       mask_id_numbers(e.note)))
    return lines


def escalate_overdue(engine: Engine, policy: Policy, *, ctx: RunContext, today: date,
                     ui_url: str | None = None) -> list[int]:
    """Queue one escalation per supervisor with their units' overdue findings; returns the
    outbox ids queued (none when everything overdue was escalated this month already)."""
    period = escalation_period(today)
    by_supervisor: dict[str, list[FindingRow]] = defaultdict(list)
    for row in overdue_unescalated(engine, today):
        unit = policy.units.get(row.unit_code or "")
        by_supervisor[unit.supervisor if unit else OPERATIONS].append(row)
    queued: list[int] = []
    for code, rows in sorted(by_supervisor.items()):
        if code == OPERATIONS:
            name, heads = "运维值班", (Person("运维值班", "operations", policy.operations_email),)
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
            conn.execute(finding_escalation.insert(), [
                {"finding_id": r.id, "period": period, "supervisor": code, "outbox_id": outbox_id,
                 "escalated_at": ctx.now} for r in rows
            ])
        queued.append(outbox_id)
        log.info("escalated %d overdue finding(s) to %s (outbox %s)", len(rows), name, outbox_id)
    return queued


def render_escalation(
    rows: Sequence[FindingRow], lines: dict[int, list[HistoryLine]], *, policy: Policy, supervisor_name: str,
    heads: Sequence[Person], today: date, ui_url: str | None, run_id: str, dag_id: str,
) -> tuple[str, str, bytes]:
    """Subject, HTML and workbook of one supervisor's escalation (pure: no database)."""
    import pandas as pd

    units: dict[str, list[dict]] = defaultdict(list)
    for f in sort_findings(rows):
        unit = policy.units.get(f.unit_code or "")
        units[unit.name if unit else f"未登记机构 {f.unit_code or '（空）'}"].append({
            "title": rule_title(f.rule_code), "rule_code": f.rule_code,
            "severity": SEVERITY_TEXT.get(f.severity, f.severity), "subject_id": mask_id_numbers(f.subject_id),
            "detail": detail_text(f.detail), "first": f.first_detected_at.strftime("%Y-%m-%d"),
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
