"""The JSON API of CONTRACT §7 (``/bdcwatch/api/...``); the pages' forms post here and
scripts may call it with a Bearer token from ``POST /auth/token``.

    GET  /api/findings?unit=&rule=&severity=&status=&overdue=&period=&within=&q=&recurred=&page=&page_size=
         (period: the stored label; within: a period and every finding belonging to it)
         → {"total": N, "page": p, "page_size": n, "items": [finding, ...]}  (newest first)
    GET  /api/findings.xlsx?(same filters)      → the filtered list as XLSX
    GET  /api/findings/{id}                     → finding + "events" + "escalations" (404 unknown)
    POST /api/findings/{id}/status {"to", "note"} → the finding after the change;
         404 unknown, 409 refused by the lifecycle (with the reason), 422 empty note
    GET  /api/kpis?period=YYYY-MM               → {"period", "units": [per-unit KPIs]}
    GET  /api/quarantine?table=&column=&page=   → rows held, by table and reason (stored columns, and
         "reason_zh": the reason in Chinese; items also the "value" held)
    GET  /api/samples?period=&unit=             → inspections with their sampled cases and verdicts
    GET  /api/outbox                            → undelivered messages and counts
    POST /api/outbox/{id}/resend {"note"}       → 404 unknown, 409 not resendable

Verdicts, the checklist upload, complaint uploads and duties: ``web.api_loops``.
Reads need a reader, changes a changer (``web.auth``); the actor is the user's name.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi import status as http
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bdcwatch import safe_text
from bdcwatch.dates.periods import previous_period
from bdcwatch.dates.workdays import calendar_from_policy
from bdcwatch.ledger.lifecycle import (
    STATUS_TEXT,
    NoSuchFindingError,
    RefusedChangeError,
    change_status,
    due_by_severity,
)
from bdcwatch.ledger.query import MAX_PAGE_SIZE, FindingDetail, FindingFilter, find_findings, finding_detail
from bdcwatch.mail.outbox import resend
from bdcwatch.reports.kpis import month_period, unit_kpis
from bdcwatch.web import deps, reads
from bdcwatch.web.auth import Changer, Reader, Supervision
from bdcwatch.web.exports import MAX_EXPORT_ROWS, findings_xlsx

router = APIRouter(prefix="/api")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def finding_filter(
    unit: str | None = None, rule: str | None = None, severity: str | None = None, status: str | None = None,
    overdue: str | None = None, period: str | None = None, within: str | None = None, q: str | None = None,
    recurred: str | None = None,
) -> FindingFilter:
    """The ledger filters from the query string; an empty value means any (the pages'
    select boxes send ``severity=``). Raises HTTPException 422 naming a bad value."""
    raw: dict[str, Any] = {"unit": unit, "rule": rule, "severity": severity or None, "status": status or None,
                           "overdue": overdue or None, "period": period, "within": within,
                           "q": q, "recurred": recurred or None}
    try:
        return FindingFilter.model_validate(raw)
    except ValidationError as error:
        # pydantic prefixes a validator's own words with "Value error, ": the words are ours.
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {str(e['msg']).removeprefix('Value error, ')}"
                             for e in error.errors())
        raise HTTPException(http.HTTP_422_UNPROCESSABLE_CONTENT, problems) from None


Filter = Annotated[FindingFilter, Depends(finding_filter)]


class StatusChange(BaseModel):
    """``POST /api/findings/{id}/status``: the new status and why (required, kept in the
    audit trail). CONTRACT §7: a refused change is 409 with the reason (a status the
    lifecycle does not know included, said by ``change_status``), an empty note 422. Other
    fields are ignored: the actor is always the logged-in user, never a body field."""

    model_config = ConfigDict(extra="ignore")

    to: str = Field(max_length=40)
    note: str = Field(max_length=2000)

    @field_validator("note")
    @classmethod
    def _said_why(cls, value: str) -> str:
        value = safe_text.typed(value).strip()
        if not value:
            raise ValueError("请填写说明：做了什么，或为什么改变状态")
        return value


class Resend(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(max_length=2000)

    @field_validator("note")
    @classmethod
    def _said_why(cls, value: str) -> str:
        value = safe_text.typed(value).strip()
        if not value:
            raise ValueError("请填写说明：为什么重新发送这封邮件")
        return value


def detail_json(found: FindingDetail) -> dict[str, Any]:
    return {
        **found.item.as_json(),
        "events": [{"at": e.at.isoformat(sep=" "), "actor": e.actor, "from": e.from_status, "to": e.to_status,
                    "note": e.note} for e in found.events],
        "escalations": [{"period": e.period, "supervisor": e.supervisor, "at": e.escalated_at.isoformat(sep=" "),
                         "outbox_id": e.outbox_id} for e in found.escalations],
    }


@router.get("/findings")
def list_findings(user: Reader, engine: Supervision, flt: Filter, page: deps.PageNumber = 1,
                  page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50) -> dict[str, Any]:
    with engine.connect() as conn:
        found = find_findings(conn, flt, today=deps.today(), page=page, page_size=page_size)
    return {"total": found.total, "page": found.page, "page_size": found.page_size,
            "items": [item.as_json() for item in found.items]}


@router.get("/findings.xlsx")
def export_findings(user: Reader, engine: Supervision, flt: Filter) -> Response:
    from bdcwatch.ledger.query import count_findings, iter_findings

    today = deps.today()
    names = {code: unit.name for code, unit in deps.policy().units.items()}
    with engine.connect() as conn:
        total = count_findings(conn, flt, today=today)
        note = (f"共 {total} 条，仅导出最新的 {MAX_EXPORT_ROWS} 条；请缩小筛选范围后分批导出。"
                if total > MAX_EXPORT_ROWS else None)
        content = findings_xlsx(iter_findings(conn, flt, today=today, limit=MAX_EXPORT_ROWS), unit_names=names,
                                title="问题台账", truncated_note=note)
    filename = f"findings_{today:%Y%m%d}.xlsx"
    return Response(content, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/findings/{finding_id}")
def get_finding(finding_id: deps.RowId, user: Reader, engine: Supervision) -> dict[str, Any]:
    with engine.connect() as conn:
        found = finding_detail(conn, finding_id, today=deps.today())
    if found is None:
        raise HTTPException(http.HTTP_404_NOT_FOUND, f"no such finding: {finding_id}")
    return detail_json(found)


@router.post("/findings/{finding_id}/status")
def set_status(finding_id: deps.RowId, change: StatusChange, user: Changer, engine: Supervision) -> dict[str, Any]:
    """The §4 lifecycle exactly as the CLI: ``ledger.lifecycle.change_status`` with the
    user's name as the actor; a reopened finding gets a fresh due date by severity."""
    policy, now = deps.policy(), deps.now()
    due = due_by_severity(policy, calendar_from_policy(policy), now.date())
    try:
        with engine.begin() as conn:
            moved = change_status(conn, [finding_id], change.to, actor=user.name, note=change.note, now=now,
                                  reopen_due=due)
            if not moved:
                raise RefusedChangeError(f"问题 {finding_id} 已是“{STATUS_TEXT.get(change.to, change.to)}”，无需变更")
            found = finding_detail(conn, finding_id, today=now.date())
    except NoSuchFindingError as error:
        raise HTTPException(http.HTTP_404_NOT_FOUND, str(error)) from None
    except RefusedChangeError as error:
        raise HTTPException(http.HTTP_409_CONFLICT, str(error)) from None
    assert found is not None  # it was just changed in this transaction
    return detail_json(found)


@router.get("/kpis")
def kpis(user: Reader, engine: Supervision, period: str | None = None) -> dict[str, Any]:
    """Per unit for a month (default: the month just ended)."""
    try:
        month = month_period(period) if period else previous_period("month", deps.today())
    except ValueError as error:
        raise HTTPException(http.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    found = unit_kpis(engine, deps.policy(), month, deps.now())
    return {"period": month.label, "units": [kpi.as_json() for kpi in found]}


@router.get("/quarantine")
def quarantine(user: Reader, engine: Supervision, table: str | None = None, column: str | None = None,
               page: deps.PageNumber = 1) -> dict[str, Any]:
    with engine.connect() as conn:
        groups = reads.quarantine_groups(conn)
        total, entries = reads.quarantine_entries(conn, table=table or None, column=column or None, page=page)
    return {"groups": [g.__dict__ for g in groups], "total": total, "page": page, "items": entries}


@router.get("/samples")
def samples(user: Reader, engine: Supervision, period: str | None = None, unit: str | None = None) -> dict[str, Any]:
    """Inspections with their sampled cases, each with its current verdict, description,
    reviewer, review date, who recorded it and when, and its REVIEW_DEFECT finding id."""
    from bdcwatch.ledger.verdicts import sample_cases
    from bdcwatch.web.api_loops import case_json

    with engine.connect() as conn:
        rows = reads.inspections(conn, period=period or None, unit=unit or None)
        return {"inspections": [
            {**row._asdict(), "cases": [case_json(case) for case in sample_cases(conn, row.id)]} for row in rows
        ]}


@router.get("/outbox")
def outbox(user: Reader, engine: Supervision) -> dict[str, Any]:
    with engine.connect() as conn:
        return {"counts": reads.outbox_counts(conn), "items": [m.__dict__ for m in reads.outbox_messages(conn)]}


@router.post("/outbox/{outbox_id}/resend")
def resend_message(outbox_id: deps.RowId, body: Resend, user: Changer, engine: Supervision) -> dict[str, Any]:
    """``mail.outbox.resend`` (as ``bdcwatch outbox resend``): unconfirmed or failed →
    pending, who and why kept in the message's resend log; the next send task delivers."""
    with engine.begin() as conn:
        result = resend(conn, [outbox_id], actor=user.name, note=body.note, now=deps.now())
    if outbox_id in result.skipped:
        why = result.skipped[outbox_id]
        code = http.HTTP_404_NOT_FOUND if why == "no such message" else http.HTTP_409_CONFLICT
        raise HTTPException(code, f"outbox {outbox_id} not resent: {why} (only unconfirmed or failed messages)")
    return {"id": outbox_id, "status": "pending"}
