"""Complaints intake (plan item 31; CONTRACT §8): exports of 12345, 好差评 and 信访
dropped into policy ``intake.complaints_dir`` become COMPLAINT findings of the unit they
name, in the same ledger as everything the rules find.

Columns (header row, names as the systems export them): 工单编号, 来源, 受理时间,
被反映单位, 业务号, 内容, 诉求类型; 工单编号, 被反映单位 and 内容 must be present.
Each row becomes finding COMPLAINT with subject 工单编号, unit the DJJG that 被反映单位
names (its code, or the unit's name in the policy, compared without spaces and with
full-width letters and digits read as ASCII), severity by 诉求类型 (policy
``intake.complaint_severity``, else ``default_severity``), and detail 来源, 受理时间,
被反映单位 as written, 业务号, 诉求类型 and 内容 (ID numbers masked, control characters
dropped, a pasted document cut to its first 1,000 characters). The same 工单编号 again
updates that finding (``ledger.reported``), never a second one; 工单编号 is read as one
ticket however it was exported (``code``: full width, spaces, case, Excel's ``="…"``).

A row that names no known unit, has no 工单编号 or 内容, an unreadable 受理时间, a
工单编号 Excel turned into a rounded number (``2.02603E+17``), or more or fewer cells than
the header (an unquoted comma), is held in the quarantine (table ``COMPLAINT``, the file
and row, the column and the reason; personal data masked) and reported to operations by
the quarantine notice; it leaves the quarantine when the same 工单编号 is taken in
correctly. A file is processed in one transaction and then moved to ``archive/<date>/``; a
file whose bytes were already taken in (``intake_file``, by sha256) is archived again and
changes nothing; a file that is not a readable table (a quote never closed, a workbook cut
short) goes to ``rejected/<date>/`` with a quarantine entry, and the files after it are
still taken in.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, Engine, select, update

from bdcwatch import safe_text
from bdcwatch.config.policy import Policy, Severity
from bdcwatch.config.run import Job
from bdcwatch.dates.workdays import calendar_from_policy
from bdcwatch.intake.files import (
    ARCHIVE,
    REJECTED,
    IntakeFileError,
    Table,
    destination,
    move_to,
    pending_files,
    read_table,
    settled,
)
from bdcwatch.ledger.reported import ReportedFinding, Reporter, report
from bdcwatch.rules.reported import COMPLAINT
from bdcwatch.sources.quarantine import clip, stored_key
from bdcwatch.standards.masking import mask_id_numbers
from bdcwatch.standards.normalise import code_key
from bdcwatch.store.dialect import upsert
from bdcwatch.store.models import intake_file, quarantine
from bdcwatch.xcom import XcomModel

log = logging.getLogger(__name__)

TABLE = "COMPLAINT"  # the quarantine's source_table for complaint rows
GDBH, SOURCE, ACCEPTED, UNIT, YWH, CONTENT, KIND = "工单编号", "来源", "受理时间", "被反映单位", "业务号", "内容", "诉求类型"
REQUIRED = (GDBH, UNIT, CONTENT)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CHINESE_TIME = re.compile(r"(?<=\d)[时分](?=\d|$)")  # 14时05分 → 14:05
_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%dT%H:%M:%S",
                 "%Y年%m月%d日 %H:%M:%S", "%Y年%m月%d日 %H:%M", "%Y年%m月%d日%H:%M:%S", "%Y年%m月%d日%H:%M",
                 "%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "%Y%m%d%H%M%S", "%Y.%m.%d %H:%M:%S", "%Y.%m.%d %H:%M",
                 "%Y.%m.%d")


INTAKE_DIR_ENV = "BDCWATCH_INTAKE_DIR"


def complaints_dir(policy: Policy) -> Path:
    """The folder complaint exports are dropped into and archived under.

    Policy ``intake.complaints_dir`` when set (a relative one is read relative to the policy
    file's folder); otherwise ``$BDCWATCH_INTAKE_DIR/complaints``, or
    ``$AIRFLOW_HOME/bdcwatch/intake/complaints`` (``~/airflow`` when AIRFLOW_HOME is unset):
    CONTRACT §8 takes exports "dropped into policy intake.complaints_dir or uploaded in the
    UI", and the contract's own policy.yaml names no folder, so an upload must still have
    one to be archived in. A province whose cities share a machine sets the folder per city.
    """
    configured = policy.intake.complaints_dir
    if not configured:
        base = os.environ.get(INTAKE_DIR_ENV) or str(
            Path(os.environ.get("AIRFLOW_HOME") or "~/airflow") / "bdcwatch" / "intake")
        return Path(base).expanduser() / "complaints"
    folder = Path(configured).expanduser()
    source = Path(policy.source)
    return folder if folder.is_absolute() or not source.is_file() else source.parent / folder


_FORMULA_TEXT = re.compile(r'^="(.*)"$')  # ="GD2026…": how exports keep Excel from turning codes into numbers
# What Excel made of a long number in a number cell: 2.02603E+17, 2.02603050000001E+17.
_SCIENTIFIC = re.compile(r"^\d(\.\d+)?E\+?\d+$", re.IGNORECASE)




def unit_lookup(policy: Policy) -> dict[str, str]:
    """被反映单位 as written (normalised) → DJJG: each unit's code and name."""
    lookup: dict[str, str] = {}
    for unit in policy.units.values():
        lookup[code_key(unit.code)] = unit.code
        lookup[code_key(unit.name)] = unit.code
    return lookup


def parse_time(value: Any, zone: tzinfo | None = None) -> datetime | None:
    """受理时间 as a local timestamp; None when empty. The forms the systems export: ISO
    with or without ``T``, fractions (``14:05:00.0``) or an offset (converted to ``zone``,
    the policy's), ``/`` and ``.`` dates, Chinese ``2026年3月10日 14时05分``. Raises
    ValueError when unreadable."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None, microsecond=0)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    text = _CHINESE_TIME.sub(":", unicodedata.normalize("NFKC", str(value)).strip()).rstrip(":").replace("秒", "")
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(text.replace(".", "-", 2) if re.match(r"^\d{4}\.\d", text) else text)
    except ValueError:
        raise ValueError(str(value).strip()) from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(zone).replace(tzinfo=None) if zone else parsed.replace(tzinfo=None)
    return parsed.replace(microsecond=0)


def clean(value: Any) -> str:
    """Free text kept for the ledger as written (CONTRACT §8 "内容 is kept with personal data
    masked"): line breaks made ``\n``, control and direction-override characters dropped
    (``safe_text.clean``), ID numbers masked, the ends trimmed. Never the identifier form
    ``code`` gives: removing its spaces would glue an ID number to the digits after it,
    where no masker can tell it any more."""
    return safe_text.clean(value).strip()


def code(value: Any) -> str:
    """An identifier (工单编号, 业务号) as one ticket or case, however it was exported:
    full-width letters and digits as ASCII, spaces, invisible and control characters
    dropped, letters upper case, Excel's ``="…"`` unwrapped (``ＧＤ２０２６ ０３０００１``,
    ``="gd2026030001"`` and ``GD2026030001`` are one ticket: §8, the same 工单编号 updates).
    Never masked: §6 lets case numbers appear, and a numeric 18-digit ticket number masked
    here would merge distinct tickets into one finding (``202603050000001234`` and ``…5634``
    both ``202*************34``). Outputs still mask what looks like an ID number."""
    text = _CONTROL.sub("", str(value or "")).strip()
    unwrapped = _FORMULA_TEXT.match(text)
    return code_key(unwrapped.group(1) if unwrapped else text)


@dataclass(frozen=True)
class Held:
    """A row held back: where it is, which column, why."""

    row_key: str
    column: str
    expectation: str
    reason: str
    row: dict[str, Any]


class FileOutcome(BaseModel):
    """What one file did (XCom-sized)."""

    name: str
    encoding: str | None = None
    rows: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    already_processed: bool = False
    still_writing: bool = False  # it grew or changed while it was read: left for the next run, nothing recorded
    archived_to: str | None = None
    error: str | None = None


class IntakeReport(XcomModel):
    """What a complaint intake run did (XCom-sized); ``folder`` None = none configured."""

    folder: str | None = None
    files: list[FileOutcome] = []
    waiting: list[str] = []  # files modified within intake.settle_seconds: left for the next run



def file_key(name: str, sha: str, number: int | None = None) -> str:
    """The quarantine key of a file (``number`` None) or of one of its rows without a
    工单编号: the name and the first characters of its content's sha256 (another day's
    file of the same name is another entry), an ID number in the name masked (§6)."""
    key = f"{name} [{sha[:8]}]" + (f"#{number}" if number is not None else "")
    return stored_key(key if number is not None else f"文件 {key}")[:200]


def ticket_key(gdbh: str) -> str:
    """The quarantine key of a ticket's row: ``工单编号=<number>``, an ID number typed as the
    ticket number masked (§6: no full ID number in a quarantine row; ``stored_key``)."""
    return stored_key(f"工单编号={gdbh}")[:200]


def severity_of(kind: str, policy: Policy) -> Severity:
    """Severity by 诉求类型 (policy ``intake.complaint_severity``), the type compared as
    codes are (spaces, full width, case); ``举报类`` reads as ``举报`` when only one
    configured type starts it; else ``default_severity``."""
    mapping = {code_key(k): v for k, v in policy.intake.complaint_severity.items()}
    written = code_key(kind)
    if written in mapping:
        return mapping[written]
    starting = [v for k, v in mapping.items() if k and written.startswith(k)]
    return starting[0] if len(starting) == 1 else policy.intake.default_severity


def _map_row(name: str, number: int, row: dict[str, Any], units: dict[str, str], policy: Policy,
             now: datetime, *, sha: str, cells: int | None = None, header: int = 0) -> ReportedFinding | Held:
    """One export row as a COMPLAINT finding, or held back (``cells``: how many cells a
    CSV row had when that differs from the header's ``header``)."""
    gdbh = code(row.get(GDBH))
    where = f"{name} 第{number}行"
    row_key = ticket_key(gdbh) if gdbh else file_key(name, sha, number)
    kept = {k: clip(clean(v)) if not isinstance(v, datetime) else v.isoformat(sep=" ") for k, v in row.items()}

    def held(column: str, expectation: str, why: str) -> Held:
        return Held(row_key, column, expectation, mask_id_numbers(f"{TABLE} [{where}] 列 {column}：{why}"), kept)

    if cells is not None:
        return held("（整行）", "row_shape", f"该行有 {cells} 个单元格，表头有 {header} 列（内容中可能有未加引号的"
                                         f"逗号或分号），无法确定各列：请在导出时为文本加引号，或另存为 XLSX")
    if not gdbh:
        return held(GDBH, "required", "工单编号为空")
    if _SCIENTIFIC.match(gdbh):
        return held(GDBH, "exact_code", f"工单编号“{gdbh}”已被 Excel 改写为科学计数法，原编号的末几位已丢失："
                                        f"请把该列设为文本后从原系统重新导出")
    if not clean(row.get(CONTENT)):
        return held(CONTENT, "required", f"工单 {gdbh} 的内容为空")
    written = clean(row.get(UNIT))
    unit_code = units.get(code_key(written)) if written else None
    if unit_code is None:
        return held(UNIT, "known_unit", f"“{written or '（空）'}”不是策略中的登记机构（应为 DJJG 代码或机构名称）")
    try:
        accepted = parse_time(row.get(ACCEPTED), policy.timezone)
    except ValueError as bad:
        return held(ACCEPTED, "timestamp", f"“{clean(bad)}”不是时间（例如 2026-03-05 10:20:00）")
    kind = clean(row.get(KIND))
    return ReportedFinding(
        rule_code=COMPLAINT, subject_id=gdbh[:100], unit_code=unit_code, judged_as_of=accepted or now,
        severity=severity_of(kind, policy),
        detail={"source": clean(row.get(SOURCE)), "accepted_at": accepted.isoformat(sep=" ") if accepted else None,
                "reported_unit": written, "ywh": code(row.get(YWH)) or None, "kind": kind,
                "content": clip(clean(row.get(CONTENT)))},
    )


def _hold(conn: Connection, entries: list[Held], run_id: str, now: datetime) -> None:
    existing = {(r.row_key, r.column_name, r.expectation): r.first_seen_at for r in conn.execute(
        select(quarantine.c.row_key, quarantine.c.column_name, quarantine.c.expectation, quarantine.c.first_seen_at)
        .where(quarantine.c.source_table == TABLE).where(quarantine.c.row_key.in_({e.row_key for e in entries})))}
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for e in entries:
        identity = (e.row_key, e.column, e.expectation)
        if identity in rows:  # one ticket held twice in a file: one entry naming both rows
            rows[identity]["reason"] += f"；{e.reason}"
            continue
        rows[identity] = {
            "source_table": TABLE, "row_key": e.row_key, "column_name": e.column, "expectation": e.expectation,
            "reason": e.reason, "row_json": mask_id_numbers(json.dumps(e.row, ensure_ascii=False, default=str)),
            "first_seen_at": existing.get(identity, now), "last_seen_at": now,
            "last_load_id": run_id[:64], "resolved_at": None}
    upsert(conn, quarantine, list(rows.values()), ["source_table", "row_key", "column_name", "expectation"])


def _release(conn: Connection, tickets: list[str], now: datetime) -> None:
    """A ticket taken in correctly closes its open quarantine entries (the export was fixed)."""
    keys = [ticket_key(t) for t in tickets]
    for start in range(0, len(keys), 500):
        conn.execute(update(quarantine).where(quarantine.c.source_table == TABLE)
                     .where(quarantine.c.row_key.in_(keys[start:start + 500]))
                     .where(quarantine.c.resolved_at.is_(None)).values(resolved_at=now))


def _read(name: str, data: bytes) -> Table:
    """The export's table, its header the row naming the required columns. Raises
    IntakeFileError: unreadable, or no row names them."""
    table = read_table(name, data, REQUIRED)
    missing = [c for c in REQUIRED if c not in table.header]
    if missing:
        raise IntakeFileError(f"header lacks {'、'.join(missing)} (found: {'、'.join(h for h in table.header if h)})")
    return table


def take_in_file(engine: Engine, path: Path, *, policy: Policy, by: Reporter, root: Path) -> FileOutcome:
    """Take in one export (module docstring) and move it out of the folder. A file that
    changes while it is read (still being copied in) is left as it is, nothing recorded
    (``FileOutcome.still_writing``)."""
    outcome = FileOutcome(name=mask_id_numbers(path.name))  # the task's XCom and log: a file name may hold an ID
    before = path.stat()
    data = path.read_bytes()
    if len(data) != before.st_size:
        outcome.still_writing = True
        log.warning("%s: changed while it was read (still being written?); left for the next run", outcome.name)
        return outcome
    sha = hashlib.sha256(data).hexdigest()
    day = by.now.date()
    with engine.connect() as conn:
        seen = conn.execute(select(intake_file.c.processed_at, intake_file.c.archived_to)
                            .where(intake_file.c.sha256 == sha)).first()
    if seen is not None:
        outcome.already_processed = True
        place = REJECTED if f"/{REJECTED}/" in (seen.archived_to or "") else ARCHIVE  # where its twin went
        outcome.archived_to = mask_id_numbers(str(move_to(path, root, place, day)))
        log.info("%s: the same content was taken in on %s; archived, nothing changed", path.name, seen.processed_at)
        return outcome
    table: Table | None = None
    try:
        table = _read(path.name, data)
    except IntakeFileError as error:
        # Masked: the error may quote a data row taken for the header, and it is the task's XCom.
        table, outcome.error = None, mask_id_numbers(str(error))
    units, calendar = unit_lookup(policy), calendar_from_policy(policy)
    try:
        target = _record_file(engine, path, data, sha, table, outcome, policy=policy, by=by, root=root,
                              units=units, calendar=calendar, before=before)
    except _StillWritingError:
        log.warning("%s: changed while it was taken in (still being written?); nothing recorded, left for the "
                    "next run", outcome.name)
        return FileOutcome(name=outcome.name, still_writing=True)
    os.replace(path, target)
    log.info("%s (%s): %d rows, %d new, %d updated, %d unchanged, %d quarantined → %s", path.name,
             outcome.encoding or ("xlsx" if table is not None else "unreadable"), outcome.rows, outcome.new, outcome.updated, outcome.unchanged,
             outcome.quarantined, target)
    return outcome


class _StillWritingError(Exception):
    """The file changed while it was taken in (``take_in_file``)."""


def _record_file(engine: Engine, path: Path, data: bytes, sha: str, table: Table | None, outcome: FileOutcome, *,
                 policy: Policy, by: Reporter, root: Path, units: dict[str, str], calendar: Any,
                 before: os.stat_result) -> Path:
    """One file's rows into the ledger and the quarantine, and its intake_file record, in
    one transaction; ``outcome`` filled in. Returns where the file is to go (moved by the
    caller after the commit). Raises _StillWritingError (everything rolled back) when the file
    is no longer what was read (``before``)."""
    now, day = by.now.replace(microsecond=0), by.now.date()
    with engine.begin() as conn:
        if table is None:
            _hold(conn, [Held(file_key(path.name, sha), "（文件）", "readable_table",
                              mask_id_numbers(f"{TABLE} [{path.name}]：{outcome.error}"), {"file": path.name})],
                  by.run_id, now)
            outcome.quarantined = 1
        else:
            outcome.encoding, outcome.rows = table.encoding, len(table.rows)
            held: list[Held] = []
            taken: list[str] = []
            for number, row in table.rows:
                mapped = _map_row(path.name, number, row, units, policy, now, sha=sha,
                                  cells=table.misshapen.get(number), header=len(table.header))
                if isinstance(mapped, Held):
                    held.append(mapped)
                    continue
                _, result = report(conn, mapped, by, policy=policy, calendar=calendar,
                                   note=f"{COMPLAINT} 受理自 {path.name} 第{number}行")
                setattr(outcome, result, getattr(outcome, result) + 1)
                taken.append(mapped.subject_id)
            if held:
                _hold(conn, held, by.run_id, now)
            # A ticket held on one row of this file (another unit named on its twin row) stays
            # held: operations must hear of the conflict whichever row came first.
            still_held = {h.row_key for h in held}
            _release(conn, [t for t in taken if ticket_key(t) not in still_held], now)
            outcome.quarantined = len(held)
        after = path.stat()
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
            raise _StillWritingError  # a writer is still at it: what was read is not the file; roll back
        # Moved after the commit: a crash in between leaves the file in the folder, and the
        # next run recognises its content (intake_file) and only archives it.
        target = destination(path, root, ARCHIVE if table is not None else REJECTED, day)
        outcome.archived_to = mask_id_numbers(str(target))
        conn.execute(intake_file.insert().values(
            sha256=sha, kind="complaints", file_name=path.name[:255], encoding=outcome.encoding, processed_at=now,
            rows_read=outcome.rows, findings_new=outcome.new, findings_updated=outcome.updated,
            rows_unchanged=outcome.unchanged, rows_quarantined=outcome.quarantined, archived_to=str(target)[:500],
            run_id=by.run_id))
    return target


def preview_file(path: Path, *, policy: Policy, now: datetime) -> FileOutcome:
    """What ``take_in_file`` would do with one export, changing nothing (a dry run): the
    file is read and every row mapped; ``new`` counts the rows that would become or update
    a COMPLAINT finding, ``quarantined`` those that would be held. The file stays."""
    outcome = FileOutcome(name=mask_id_numbers(path.name))  # the task's XCom and log: a file name may hold an ID
    data = path.read_bytes()
    try:
        table = _read(path.name, data)
    except IntakeFileError as error:
        outcome.error, outcome.quarantined = mask_id_numbers(str(error)), 1
        return outcome
    outcome.encoding, outcome.rows = table.encoding, len(table.rows)
    units, sha = unit_lookup(policy), hashlib.sha256(data).hexdigest()
    for number, row in table.rows:
        if isinstance(_map_row(path.name, number, row, units, policy, now, sha=sha,
                               cells=table.misshapen.get(number), header=len(table.header)), Held):
            outcome.quarantined += 1
        else:
            outcome.new += 1
    return outcome


def _take_in_one(engine: Engine, path: Path, *, policy: Policy, by: Reporter, root: Path) -> FileOutcome | None:
    """``take_in_file``, one file's trouble kept to that file (the files after it are still
    taken in): gone meanwhile (an upload in the UI took it in) → None; not readable by
    this process (permissions, a share that went away) → held in the quarantine naming the
    file and the cause, left where it is for the next run, reported to operations."""
    shown = mask_id_numbers(path.name)
    unreadable = stored_key(f"文件 {path.name} [无法读取]")[:200]
    try:
        outcome = take_in_file(engine, path, policy=policy, by=by, root=root)
        with engine.begin() as conn:  # readable now: an earlier run's "cannot be read" is over
            conn.execute(update(quarantine).where(quarantine.c.source_table == TABLE, quarantine.c.row_key == unreadable,
                                                  quarantine.c.resolved_at.is_(None))
                         .values(resolved_at=by.now.replace(microsecond=0)))
        return outcome
    except FileNotFoundError:
        log.info("%s: gone before it was read (taken in by an upload meanwhile)", shown)
        return None
    except OSError as error:
        why = f"无法读取该文件（{error.strerror or type(error).__name__}），已留在文件夹中，下次运行再取：请检查文件权限"
        log.error("%s: cannot be read (%s); left in the folder", shown, error.strerror or error)
        with engine.begin() as conn:
            _hold(conn, [Held(unreadable, "（文件）", "readable_file",
                              mask_id_numbers(f"{TABLE} [{path.name}]：{why}"), {"file": path.name})],
                  by.run_id, by.now.replace(microsecond=0))
        return FileOutcome(name=shown, quarantined=1, error=why)


def take_in(job: Job) -> IntakeReport:
    """The complaint_intake task: every export waiting in the folder, oldest name first. A
    dry run only reads and maps them (``preview_file``): nothing recorded, nothing moved."""
    folder = complaints_dir(job.policy)
    ready, young = settled(pending_files(folder), folder, job.policy.intake.settle_seconds)
    waiting = [mask_id_numbers(path.name) for path in young]
    if waiting:
        log.info("complaints folder %s: %d file(s) written to within the last %d s (still being copied in?), left "
                 "for the next run: %s", folder, len(waiting), job.policy.intake.settle_seconds, "、".join(waiting))
    if job.dry_run:
        previews = [preview_file(path, policy=job.policy, now=job.ctx.now) for path in ready]
        log.info("complaints folder %s: DRY RUN, %d file(s) read, nothing taken in", folder, len(previews))
        return IntakeReport(folder=str(folder), files=previews, waiting=waiting)
    by = Reporter(actor=job.ctx.actor, dag_id=job.ctx.dag_id, run_id=job.ctx.run_id, now=job.ctx.now)
    files = [outcome for path in ready
             if (outcome := _take_in_one(job.engine, path, policy=job.policy, by=by, root=folder)) is not None]
    log.info("complaints folder %s: %d file(s) taken in", folder, len(files))
    return IntakeReport(folder=str(folder), files=files, waiting=waiting)
