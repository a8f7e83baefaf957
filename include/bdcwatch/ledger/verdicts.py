"""Review verdicts on sampled cases (plan item 32; CONTRACT §8).

Each case of an inspection's sample (``inspection_sample``) gets a verdict — 合格 or
不合格 — with a description and the reviewer, from the samples page of the UI, the CLI
(``bdcwatch review record``) or an uploaded checklist (``intake.checklist``). All of them
call ``record_verdicts``, which:

* refuses, before writing anything, a case that is not in the sample, a verdict word other
  than 合格 / 不合格, a missing reviewer, a 不合格 without a description, a review date in
  the future, and the same case twice; each refusal names its row (``RowProblem``), and
  one refusal refuses the whole batch (nothing is half-applied);
* writes the verdicts in one transaction, each change an audited event in the hash chain
  (subject ``sample:<inspection id>:<YWH>``, from and to the verdict); the same verdict
  entered again changes nothing;
* turns a 不合格 into finding REVIEW_DEFECT (subject YWH, unit the inspection's DJJG, period
  the inspection's, detail: reviewer, description, inspection) with its own due date; a
  verdict changed to 合格 closes that finding (audited), changed back reopens it with a
  fresh due date;
* recounts the inspection's ``reviewed_count`` and ``defective_count``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, case, func, select, update

from bdcwatch.config.policy import Policy
from bdcwatch.dates.periods import parse_period_label
from bdcwatch.dates.workdays import WorkCalendar, calendar_from_policy
from bdcwatch.errors import PermanentError
from bdcwatch.ledger.audit import AuditEvent, append_events
from bdcwatch.ledger.lifecycle import OPEN_STATUSES, change_status
from bdcwatch.ledger.reported import ReportedFinding, Reporter, due_date, fingerprint, report
from bdcwatch.rules.reported import REVIEW_DEFECT
from bdcwatch.safe_text import typed
from bdcwatch.standards.masking import mask_id_numbers
from bdcwatch.standards.normalise import without_blanks
from bdcwatch.store.models import finding, finding_event, inspection, inspection_sample, stg_djt_dj_sl

PASS, FAIL = "合格", "不合格"
VERDICTS = (PASS, FAIL)
CYCLE_NAMES = {"monthly_quality_check": "月度质量评查", "county_self_inspection": "县级自查",
               "city_check": "市级排查", "provincial_spot_check": "省级抽查"}


@dataclass(frozen=True)
class VerdictInput:
    """One verdict as entered. ``row``: the checklist row (None when entered one by one)."""

    ywh: str
    verdict: str
    reviewer: str
    description: str = ""
    reviewed_on: date | None = None  # None: the day it is recorded
    row: int | None = None


MAX_REVIEWER = 100  # inspection_sample.reviewer's width


@dataclass(frozen=True)
class RowProblem:
    """Why one entered verdict is refused; ``str()`` is the line a reviewer reads."""

    row: int | None
    ywh: str
    message: str

    def __str__(self) -> str:
        where = f"第{self.row}行" if self.row is not None else "录入"
        return f"{where}（业务号 {self.ywh or '（空）'}）：{self.message}"


class VerdictRefusedError(PermanentError, ValueError):
    """Verdicts refused: nothing was written. ``problems`` lists each refused row."""

    def __init__(self, problems: Sequence[RowProblem], context: str = "") -> None:
        self.problems = list(problems)
        lines = "; ".join(str(p) for p in self.problems)
        super().__init__(f"{context}{len(self.problems)} row(s) refused, nothing recorded: {lines}")


class UnknownInspectionError(VerdictRefusedError):
    """The inspection named does not exist (the UI answers 404 rather than 422)."""


@dataclass
class VerdictResult:
    """What ``record_verdicts`` did (the CLI prints it, the UI shows it)."""

    inspection_id: int
    recorded: int = 0  # verdicts new or changed
    unchanged: int = 0
    defects_opened: list[int] = field(default_factory=list)  # REVIEW_DEFECT finding ids new, updated or reopened
    defects_closed: list[int] = field(default_factory=list)
    reviewed: int = 0  # the inspection's counts afterwards
    defective: int = 0


def normalise_verdict(text: str) -> str:
    """The verdict word without whitespace or invisible characters (CONTRACT §5's lists):
    " 不合格 " reads 不合格."""
    return without_blanks(text)


def _inspection(conn: Connection, inspection_id: int) -> Any:
    row = conn.execute(select(inspection).where(inspection.c.id == inspection_id)).first()
    if row is None:
        raise UnknownInspectionError([RowProblem(None, "", f"评查批次 {inspection_id} 不存在")])
    return row


def check(inputs: Sequence[VerdictInput], sample: set[str], today: date) -> list[RowProblem]:
    """Every reason to refuse ``inputs`` against the sample's case numbers (pure)."""
    problems: list[RowProblem] = []
    seen = Counter(i.ywh.strip() for i in inputs)
    for item in inputs:
        ywh, verdict = item.ywh.strip(), normalise_verdict(item.verdict)
        if ywh not in sample:
            problems.append(RowProblem(item.row, ywh, "该业务号不在本次抽查样本中"))
        if seen[ywh] > 1:
            problems.append(RowProblem(item.row, ywh, f"同一业务号出现 {seen[ywh]} 次"))
        if verdict not in VERDICTS:
            problems.append(RowProblem(item.row, ywh, f"评查结论“{verdict or '（空）'}”应为“合格”或“不合格”"))
        if not typed(item.reviewer).strip():
            problems.append(RowProblem(item.row, ywh, "缺评查人"))
        elif len(mask_id_numbers(typed(item.reviewer).strip())) > MAX_REVIEWER:  # the column's width (a pasted paragraph)
            problems.append(RowProblem(item.row, ywh, f"评查人过长（{len(item.reviewer.strip())} 字，最多 {MAX_REVIEWER} 字）"))
        if verdict == FAIL and not item.description.strip():
            problems.append(RowProblem(item.row, ywh, "评查不合格须填写问题描述"))
        if item.reviewed_on is not None and item.reviewed_on > today:
            problems.append(RowProblem(item.row, ywh, f"评查日期 {item.reviewed_on} 晚于今天"))
    return problems


def record_verdicts(
    engine: Engine, inspection_id: int, inputs: Sequence[VerdictInput], *, actor: str, now: datetime, policy: Policy,
) -> VerdictResult:
    """Record reviewers' verdicts on cases of one inspection's sample (module docstring).
    ``actor`` is who enters them (the UI user, the CLI's --actor, the uploader).

    Raises:
        VerdictRefusedError: an unknown inspection (``UnknownInspectionError``), an empty
            actor, or any refused row (all of them listed); nothing is written.
    """
    if not actor.strip():
        raise VerdictRefusedError([RowProblem(None, "", "缺录入人（actor）")])
    now = now.replace(microsecond=0)
    with engine.begin() as conn:
        insp = _inspection(conn, inspection_id)
        current = {r.ywh: r for r in conn.execute(
            select(inspection_sample).where(inspection_sample.c.inspection_id == inspection_id))}
        problems = check(inputs, set(current), now.date())
        if problems:
            raise VerdictRefusedError(problems, f"inspection {inspection_id}: ")
        result = VerdictResult(inspection_id)
        calendar = calendar_from_policy(policy)
        for item in inputs:
            _apply(conn, insp, current[item.ywh.strip()], item, result, actor=actor.strip(), now=now, policy=policy,
                   calendar=calendar)
        counts = _counts(conn, inspection_id)
        result.reviewed, result.defective = counts
        conn.execute(update(inspection).where(inspection.c.id == inspection_id)
                     .values(reviewed_count=counts[0], defective_count=counts[1]))
    return result


def record_verdict(
    engine: Engine, inspection_id: int, ywh: str, verdict: str, *, reviewer: str, description: str = "",
    reviewed_on: date | None = None, actor: str, now: datetime, policy: Policy,
) -> VerdictResult:
    """One case's verdict (the samples page's form, ``bdcwatch review record``): the same
    rules, refusals and effects as ``record_verdicts``. Raises VerdictRefusedError."""
    return record_verdicts(engine, inspection_id, [VerdictInput(ywh, verdict, reviewer, description, reviewed_on)],
                           actor=actor, now=now, policy=policy)


def _counts(conn: Connection, inspection_id: int) -> tuple[int, int]:
    """(reviewed, defective) cases of the inspection's sample."""
    rows = conn.execute(
        select(inspection_sample.c.verdict, func.count()).where(inspection_sample.c.inspection_id == inspection_id)
        .where(inspection_sample.c.verdict.is_not(None)).group_by(inspection_sample.c.verdict)
    ).all()
    by_verdict = {verdict: int(n) for verdict, n in rows}
    return sum(by_verdict.values()), by_verdict.get(FAIL, 0)


def inspection_text(insp: Any) -> str:
    """An inspection as heads read it: 月度质量评查 2026-03（批次 12）."""
    return f"{CYCLE_NAMES.get(insp.cycle, insp.cycle)} {insp.period}（批次 {insp.id}）"


def _apply(
    conn: Connection, insp: Any, old: Any, item: VerdictInput, result: VerdictResult, *, actor: str, now: datetime,
    policy: Policy, calendar: WorkCalendar,
) -> None:
    ywh, verdict = old.ywh, normalise_verdict(item.verdict)
    description = mask_id_numbers(typed(item.description).strip())  # a NUL cannot be stored in PostgreSQL text
    reviewer, reviewed_on = mask_id_numbers(typed(item.reviewer).strip()), item.reviewed_on or now.date()
    # A blank review date means "not said", not "today": the same checklist imported again a
    # few days later changes nothing (it rewrote the date and logged a change).
    kept_on = old.reviewed_on if item.reviewed_on is None and old.reviewed_on is not None else reviewed_on
    if (old.verdict, old.description or "", old.reviewer, old.reviewed_on) == (verdict, description, reviewer, kept_on):
        result.unchanged += 1
        return
    conn.execute(update(inspection_sample).where(and_(inspection_sample.c.inspection_id == insp.id,
                                                      inspection_sample.c.ywh == ywh))
                 .values(verdict=verdict, description=description, reviewer=reviewer, reviewed_on=reviewed_on,
                         recorded_by=actor, recorded_at=now))
    append_events(conn, [AuditEvent(None, now, actor, old.verdict, verdict,
                                    f"评查人 {reviewer}（{reviewed_on}）：{description or '—'}",
                                    subject=f"sample:{insp.id}:{ywh}")])
    result.recorded += 1
    key = fingerprint(REVIEW_DEFECT, ywh, insp.period)
    defect = conn.execute(select(finding.c.id, finding.c.status).where(finding.c.fingerprint == key)).first()
    if verdict == FAIL:
        by = Reporter(actor=actor, dag_id=insp.cycle, run_id=f"review:{now:%Y%m%dT%H%M%S}", now=now)
        item_ = ReportedFinding(
            rule_code=REVIEW_DEFECT, subject_id=ywh, unit_code=insp.unit_code, period=insp.period,
            judged_as_of=parse_period_label(insp.period).as_of,
            detail={"reviewer": reviewer, "description": description, "inspection": inspection_text(insp),
                    "reviewed_on": reviewed_on.isoformat()},
        )
        finding_id, _ = report(conn, item_, by, policy=policy, calendar=calendar, note=f"评查不合格：{description}")
        # A case judged 合格 earlier had its finding closed: judged 不合格 again, it is a
        # problem to rectify again (a closed finding whose verdict stayed 不合格 was rectified).
        if defect is not None and defect.status == "closed" and old.verdict != FAIL:
            change_status(conn, [finding_id], "reopened", actor=actor, now=now, note=f"评查结论改为不合格：{description}")
            conn.execute(update(finding).where(finding.c.id == finding_id).values(
                notified_outbox_id=None, due_date=due_date(policy, calendar, "medium", now.date())))
        result.defects_opened.append(finding_id)
    elif defect is not None and defect.status in OPEN_STATUSES:
        # The lifecycle's own steps (CONTRACT §4: open → rectifying → closed), each audited:
        # the verdict changed to 合格 is both the rectification and its verification.
        note = f"评查结论改为合格（评查人 {reviewer}）：{description or '—'}"
        if defect.status != "rectifying":
            change_status(conn, [defect.id], "rectifying", actor=actor, now=now, note=note)
        change_status(conn, [defect.id], "closed", actor=actor, now=now, note=note)
        result.defects_closed.append(int(defect.id))


@dataclass(frozen=True)
class SampleCase:
    """One sampled case with its verdict, for the samples page and the CLI."""

    ywh: str
    djdl: str | None
    slsj: datetime | None
    jssj: datetime | None
    verdict: str | None  # None: not reviewed yet
    description: str | None
    reviewer: str | None
    reviewed_on: date | None
    recorded_by: str | None
    recorded_at: datetime | None
    finding_id: int | None  # its REVIEW_DEFECT finding, if judged 不合格 at some point


def sample_cases(conn: Connection, inspection_id: int) -> list[SampleCase]:
    """The sampled cases of an inspection with their verdicts, by case number."""
    insp = _inspection(conn, inspection_id)
    defects: dict[str, int] = {r.subject_id: int(r.id) for r in conn.execute(
        select(finding.c.subject_id, finding.c.id)
        .where(finding.c.rule_code == REVIEW_DEFECT, finding.c.period == insp.period,
               finding.c.unit_code == insp.unit_code)
    )}
    rows = conn.execute(
        select(inspection_sample, stg_djt_dj_sl.c.slsj, stg_djt_dj_sl.c.jssj)
        .select_from(inspection_sample.outerjoin(stg_djt_dj_sl, stg_djt_dj_sl.c.ywh == inspection_sample.c.ywh))
        .where(inspection_sample.c.inspection_id == inspection_id).order_by(inspection_sample.c.ywh)
    )
    return [SampleCase(r.ywh, r.djdl, r.slsj, r.jssj, r.verdict, r.description, r.reviewer, r.reviewed_on,
                       r.recorded_by, r.recorded_at, defects.get(r.ywh)) for r in rows]


def verdict_history(conn: Connection, inspection_id: int, ywh: str) -> list[Any]:
    """The audited verdict changes of one sampled case, oldest first (at, actor,
    from_status, to_status, note)."""
    return list(conn.execute(
        select(finding_event.c.at, finding_event.c.actor, finding_event.c.from_status, finding_event.c.to_status,
               finding_event.c.note)
        .where(finding_event.c.subject == f"sample:{inspection_id}:{ywh}").order_by(finding_event.c.id)
    ))


@dataclass(frozen=True)
class ReviewProgress:
    """One inspection's review progress (the monthly digest's 待评查 table)."""

    inspection_id: int
    cycle: str
    period: str
    sampled: int
    reviewed: int
    defective: int

    @property
    def unreviewed(self) -> int:
        return self.sampled - self.reviewed


def review_progress(engine: Engine, *, exclude: Sequence[int] = ()) -> dict[str, list[ReviewProgress]]:
    """Per unit, its inspections whose sample still has unreviewed cases (oldest first),
    leaving out the inspections ``exclude`` (e.g. the ones a run has just drawn)."""
    reviewed = func.count(inspection_sample.c.verdict)
    query = (
        select(inspection.c.id, inspection.c.unit_code, inspection.c.cycle, inspection.c.period,
               func.count().label("sampled"), reviewed.label("reviewed"),
               func.sum(case((inspection_sample.c.verdict == FAIL, 1), else_=0)).label("defective"))
        .select_from(inspection.join(inspection_sample, inspection_sample.c.inspection_id == inspection.c.id))
        .group_by(inspection.c.id, inspection.c.unit_code, inspection.c.cycle, inspection.c.period)
        .having(func.count() > reviewed).order_by(inspection.c.started_at, inspection.c.id)
    )
    if exclude:
        query = query.where(inspection.c.id.not_in(list(exclude)))
    progress: dict[str, list[ReviewProgress]] = {}
    with engine.connect() as conn:
        for row in conn.execute(query):
            progress.setdefault(row.unit_code, []).append(ReviewProgress(
                row.id, row.cycle, row.period, int(row.sampled), int(row.reviewed), int(row.defective or 0)))
    return progress


def unannounced_defects(engine: Engine) -> list[int]:
    """REVIEW_DEFECT findings no digest has carried yet (recorded from the UI or the CLI,
    outside any DAG run): the daily ledger round announces them to their units."""
    with engine.connect() as conn:
        return [int(i) for i in conn.execute(
            select(finding.c.id).where(finding.c.rule_code == REVIEW_DEFECT, finding.c.notified_outbox_id.is_(None),
                                       finding.c.status != "closed").order_by(finding.c.id)).scalars()]
