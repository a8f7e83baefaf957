"""The JSON API of the loops people close by hand (CONTRACT §7, §8; issue 14):

    POST /api/samples/{inspection_id}/cases/{ywh}/verdict {"verdict", "reviewer", "description", "reviewed_on"?}
         → what was recorded and the case now; 404 unknown inspection, 422 refused (the reasons)
    POST /api/samples/checklist   multipart: file (the mailed checklist XLSX, filled), inspection_id?
         → what was recorded; 422 with every refused row (Excel row numbers), nothing applied
    POST /api/complaints          multipart: file (CSV/XLSX export of 12345 / 好差评 / 信访)
         → the file's outcome: rows, new, updated, unchanged, quarantined;
           422 a file that is not a readable export (it is kept in ``rejected/``)
    GET  /api/duties?year=&unit=  → each unit's standing on each duty period, and the evidence
    POST /api/duties/{duty_code}/evidence  multipart: unit, done_on, note, file?
         → {"id": evidence id}; 422 refused (unknown duty or unit, empty note, future date, big file)

Reads need a reader, changes a changer (``web.auth``: op or admin, the CSRF header for a
cookie session — a cross-site form can send multipart but not that header). The actor of
every change is the logged-in user's name, never a form field; the reviewer of a verdict
is the person named as reviewer. Each route calls the engine's own function, the one the
CLI calls (``ledger.verdicts.record_verdict``, ``intake.checklist.import_checklist``,
``ledger.duties.record_evidence``): one set of refusals, effects and audit events.

Complaints: the upload is written into ``intake.complaints_dir`` (``intake.files.drop_file``,
atomic) and taken in at once by ``intake.complaints.take_in_file`` — the function the
``complaint_intake`` DAG runs on every waiting file — so the answer can say what happened
to each row, the file ends in ``archive/<date>/`` like a dropped one, and a second upload
of the same bytes changes nothing (``intake_file``). The findings carry dag_id
``complaint_intake``: its next hourly run mails them to the units (and the quarantine
notice for held rows) as it does for files it took in itself. Should the web process die
between writing and taking in, that run takes the file in.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, UploadFile
from fastapi import status as http
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from bdcwatch.ledger.verdicts import (
    RowProblem,
    UnknownInspectionError,
    VerdictRefusedError,
    VerdictResult,
    record_verdict,
    sample_cases,
)
from bdcwatch.standards.masking import mask_id_numbers
from bdcwatch.web import deps
from bdcwatch.web.auth import Changer, Reader, Supervision

router = APIRouter(prefix="/api")
MAX_UPLOAD_BYTES = 16 * 1024 * 1024  # as duty evidence files and outbox attachments


class VerdictEntry(BaseModel):
    """``POST .../verdict``: 合格 or 不合格, the reviewer (评查人), the description (required
    for 不合格) and optionally the review date (default today). The word and the rest are
    judged by ``ledger.verdicts.check``, so the answer names the same reasons as the CLI."""

    model_config = ConfigDict(extra="forbid")

    verdict: str = Field(max_length=20)
    reviewer: str = Field(max_length=100)
    description: str = Field(default="", max_length=2000)
    reviewed_on: date | None = None

    @field_validator("reviewed_on", mode="before")
    @classmethod
    def _blank_is_today(cls, value: Any) -> Any:
        return None if value == "" else value  # the page's empty date field


def case_json(case: Any) -> dict[str, Any]:
    """A sampled case with its current verdict (free text masked, CONTRACT §6)."""
    return {
        "ywh": case.ywh, "djdl": case.djdl, "slsj": case.slsj, "jssj": case.jssj, "verdict": case.verdict,
        "description": mask_id_numbers(case.description) if case.description else case.description,
        "reviewer": mask_id_numbers(case.reviewer) if case.reviewer else case.reviewer,
        "reviewed_on": case.reviewed_on, "recorded_by": case.recorded_by, "recorded_at": case.recorded_at,
        "finding_id": case.finding_id,
    }


def refused(error: VerdictRefusedError | RowProblem | str, code: int = http.HTTP_422_UNPROCESSABLE_CONTENT,
            **extra: Any) -> JSONResponse:
    """The refusal: ``detail`` a line per reason (row numbers included), ``problems`` the
    same as data for scripts."""
    problems = error.problems if isinstance(error, VerdictRefusedError) else []
    detail = "；".join(str(p) for p in problems) if problems else str(error)
    return JSONResponse({"detail": mask_id_numbers(detail), **extra, "problems": [
        {"row": p.row, "ywh": mask_id_numbers(p.ywh) if p.ywh else p.ywh, "message": mask_id_numbers(p.message)}
        for p in problems]}, status_code=code)


def result_json(result: VerdictResult) -> dict[str, Any]:
    """What was recorded, with ``summary``: the line the page shows."""
    summary = (f"评查批次 {result.inspection_id}：录入 {result.recorded} 条结论，{result.unchanged} 条未变；"
               f"样本已评查 {result.reviewed} 件，其中不合格 {result.defective} 件")
    if result.defects_opened:
        summary += f"；评查不合格问题 {'、'.join(f'#{i}' for i in result.defects_opened)}"
    if result.defects_closed:
        summary += f"；改为合格后销号 {'、'.join(f'#{i}' for i in result.defects_closed)}"
    return {"inspection_id": result.inspection_id, "recorded": result.recorded, "unchanged": result.unchanged,
            "defects_opened": result.defects_opened, "defects_closed": result.defects_closed,
            "reviewed": result.reviewed, "defective": result.defective, "summary": summary}


def _shown_name(upload: UploadFile) -> str:
    """An uploaded file's name as an answer shows it: an ID number in it masked (§6)."""
    return mask_id_numbers(upload.filename or "")


async def _read(upload: UploadFile) -> bytes:
    data = await upload.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise HTTPException(http.HTTP_413_CONTENT_TOO_LARGE, f"{_shown_name(upload)}: larger than 16 MiB")
    return data


@router.post("/samples/{inspection_id}/cases/{ywh:path}/verdict", response_model=None)
def enter_verdict(inspection_id: deps.RowId, ywh: str, entry: VerdictEntry, user: Changer,
                  engine: Supervision) -> dict[str, Any] | JSONResponse:
    """One case's verdict through ``ledger.verdicts.record_verdict`` (as ``bdcwatch review
    record``): REVIEW_DEFECT for 不合格, the audit event, the inspection's counts."""
    try:
        result = record_verdict(engine, inspection_id, ywh, entry.verdict, reviewer=entry.reviewer,
                                description=entry.description, reviewed_on=entry.reviewed_on, actor=user.name,
                                now=deps.now(), policy=deps.policy())
    except UnknownInspectionError:
        raise HTTPException(http.HTTP_404_NOT_FOUND, f"no such inspection: {inspection_id}") from None
    except VerdictRefusedError as error:
        return refused(error)
    with engine.connect() as conn:
        case = next(c for c in sample_cases(conn, inspection_id) if c.ywh == ywh.strip())
    return {**result_json(result), "case": case_json(case)}


@router.post("/samples/checklist", response_model=None)
async def upload_checklist(user: Changer, engine: Supervision, file: Annotated[UploadFile, File()],
                           inspection_id: Annotated[int | None, Form()] = None) -> dict[str, Any] | JSONResponse:
    """The mailed checklist, filled in, through ``intake.checklist.import_checklist`` (as
    ``bdcwatch review import``): all rows or none; the inspection from the file's name, else
    from the cases it lists, else ``inspection_id``."""
    from starlette.concurrency import run_in_threadpool

    from bdcwatch.intake.checklist import import_checklist

    data = await _read(file)
    try:
        result, not_reviewed = await run_in_threadpool(
            import_checklist, engine, data, file_name=file.filename, actor=user.name, now=deps.now(),
            policy=deps.policy(), inspection_id=inspection_id)
    except VerdictRefusedError as error:
        return refused(error, file=_shown_name(file))
    answer = result_json(result)
    answer["summary"] += f"；清单中尚未填写结论 {not_reviewed} 行"
    return {**answer, "not_reviewed": not_reviewed, "file": _shown_name(file)}


@router.post("/complaints", response_model=None)
async def upload_complaints(user: Changer, engine: Supervision,
                            file: Annotated[UploadFile, File()]) -> dict[str, Any] | JSONResponse:
    """A complaints export: written into the intake folder and taken in at once by the
    DAG's own per-file function (module docstring)."""
    from starlette.concurrency import run_in_threadpool

    from bdcwatch.intake.complaints import complaints_dir, take_in_file
    from bdcwatch.intake.files import IntakeFileError, drop_file
    from bdcwatch.ledger.reported import Reporter

    policy, now = deps.policy(), deps.now()
    folder = complaints_dir(policy)
    data = await _read(file)
    try:
        path = drop_file(folder, file.filename or "", data, now=now)
    except IntakeFileError as error:
        return refused(str(error))
    # The city's complaint_intake (complaint_intake__1401 in a province) mails what the upload took in.
    by = Reporter(actor=user.name, dag_id=deps.dag_id("complaint_intake"), run_id=f"ui:{user.name}:{now:%Y%m%dT%H%M%S}", now=now)
    try:
        outcome = await run_in_threadpool(take_in_file, engine, path, policy=policy, by=by, root=folder)
    except FileNotFoundError:  # the hourly run picked it up in the same instant
        raise HTTPException(http.HTTP_409_CONFLICT, f"{path.name} was taken in by a complaint_intake run at the "
                                                    "same moment: see the ledger") from None
    body = outcome.model_dump(mode="json")
    if outcome.archived_to:  # where in the intake folder, not the server's paths
        body["archived_to"] = "/".join(Path(outcome.archived_to).parts[-3:])
    if outcome.error:
        body.pop("error")  # said in ``detail``; ``refused`` takes ``error`` as its own argument
        return refused(f"{outcome.name}：{outcome.error}（文件已移入 rejected 文件夹并报告运维）", **body)
    body["summary"] = (f"{outcome.name}：已处理过的文件，未作任何变更" if outcome.already_processed else
                       f"{outcome.name}：共 {outcome.rows} 行，新登记 {outcome.new} 条、更新 {outcome.updated} 条、"
                       f"未变 {outcome.unchanged} 条，隔离 {outcome.quarantined} 行（见本页隔离数据 COMPLAINT）")
    return body


@router.get("/duties")
def duties(user: Reader, engine: Supervision, year: deps.Year = None, unit: str | None = None) -> dict[str, Any]:
    """Each responsible unit's standing on each duty period of ``year`` (default this year)
    as of today, and the evidence recorded in that year (newest first, without files)."""
    from bdcwatch.ledger.duties import duty_status, list_evidence

    today = deps.today()
    chosen = year or today.year
    statuses = duty_status(engine, deps.policy(), year=chosen, as_of_day=today, units=[unit] if unit else None)
    with engine.connect() as conn:
        evidence = list_evidence(conn, unit_code=unit or None, year=chosen)
    return {"year": chosen, "as_of": today, "items": [
        {"unit_code": s.unit_code, "duty_code": s.duty.code, "duty_name": s.duty.name, "plan_items": s.duty.plan_items,
         "period": s.period.label, "start": s.period.start, "deadline": s.period.deadline,
         "required": s.duty.min_count, "recorded": s.recorded, "state": s.state, "state_text": s.state_text}
        for s in statuses
    ], "evidence": [evidence_json(e) for e in evidence]}


def evidence_json(row: Any) -> dict[str, Any]:
    return {"id": row.id, "duty_code": row.duty_code, "unit_code": row.unit_code, "done_on": row.done_on,
            "note": mask_id_numbers(row.note), "file_name": mask_id_numbers(row.file_name) if row.file_name else None,
            "recorded_by": row.recorded_by,
            "recorded_at": row.recorded_at}


@router.post("/duties/{duty_code}/evidence", response_model=None)
async def record_duty_evidence(
    duty_code: str, user: Changer, engine: Supervision, unit: Annotated[str, Form(max_length=20)],
    done_on: Annotated[str, Form(max_length=20)], note: Annotated[str, Form(max_length=2000)],
    file: Annotated[UploadFile | None, File()] = None,
) -> dict[str, Any] | JSONResponse:
    """Evidence that ``unit`` did the duty on ``done_on`` (YYYY-MM-DD), through
    ``ledger.duties.record_evidence`` (as ``bdcwatch duty record``), audited."""
    from starlette.concurrency import run_in_threadpool

    from bdcwatch.ledger.duties import DutyEvidenceError, record_evidence

    try:
        day = date.fromisoformat(done_on.strip())
    except ValueError:
        return refused(f"done_on: “{done_on}”不是日期（例如 2026-05-20）")
    content = await _read(file) if file is not None and file.filename else None
    try:
        evidence_id = await run_in_threadpool(
            record_evidence, engine, duty_code=duty_code, unit_code=unit.strip(), done_on=day, note=note,
            actor=user.name, now=deps.now(), policy=deps.policy(),
            file_name=file.filename if content is not None and file is not None else None, file_content=content)
    except DutyEvidenceError as error:
        return refused(str(error))
    return {"id": evidence_id, "duty_code": duty_code, "unit_code": unit.strip(), "done_on": day,
            "summary": f"已登记佐证 {evidence_id}"}
