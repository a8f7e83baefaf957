"""``bdcwatch`` commands that feed the engine what people know (CONTRACT §8):

    bdcwatch review list [--inspection ID] [--unit YQ21] [--period 2026-03]
    bdcwatch review record INSPECTION_ID YWH --verdict 不合格 --reviewer 张三 --description "缺询问笔录"
                           [--date 2026-04-03] --actor 李四
    bdcwatch review import 质量评查抽查清单_YQ21_2026-03.xlsx [--inspection ID] --actor 李四
    bdcwatch duty list [--year 2026] [--unit YQ21]
    bdcwatch duty record EMERGENCY_DRILL YQ21 --date 2026-05-20 --note "窗口应急演练" [--file 照片.pdf] --actor 李四
    bdcwatch complaints drop 12345导出.csv          (into policy intake.complaints_dir, atomically)

A refused verdict, checklist or evidence prints every reason (with row numbers) and
records nothing (exit 2). The UI calls the same functions (``ledger.verdicts``,
``intake.checklist``, ``ledger.duties``, ``intake.files.drop_file``).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

COMMANDS = ("review", "duty", "complaints")


def add_parsers(commands: Any) -> None:
    """Register the ``review``, ``duty`` and ``complaints`` commands on the main parser."""
    review = commands.add_parser("review", help="verdicts on sampled cases (item 32)").add_subparsers(
        dest="action", required=True)
    listing = review.add_parser("list", help="inspections, or one inspection's cases with their verdicts")
    listing.add_argument("--inspection", type=int)
    listing.add_argument("--unit")
    listing.add_argument("--period")
    record = review.add_parser("record", help="record one case's verdict")
    record.add_argument("inspection", type=int)
    record.add_argument("ywh")
    record.add_argument("--verdict", required=True, help="合格 or 不合格")
    record.add_argument("--reviewer", required=True, help="who reviewed the case file (评查人)")
    record.add_argument("--description", default="", help="问题描述 (required for 不合格)")
    record.add_argument("--date", type=date.fromisoformat, help="评查日期 (default today)")
    record.add_argument("--actor", required=True, help="your name (recorded in the audit trail)")
    imported = review.add_parser("import", help="import a filled checklist XLSX")
    imported.add_argument("file", type=Path)
    imported.add_argument("--inspection", type=int, help="default: from the file name or the cases it lists")
    imported.add_argument("--actor", required=True, help="your name (recorded in the audit trail)")
    duty = commands.add_parser("duty", help="yearly duties and their evidence (items 3, 4, 11, 19, 30)")
    duty_actions = duty.add_subparsers(dest="action", required=True)
    duty_list = duty_actions.add_parser("list", help="each unit's standing on each duty")
    duty_list.add_argument("--year", type=int)
    duty_list.add_argument("--unit")
    evidence = duty_actions.add_parser("record", help="record evidence that a duty was done")
    evidence.add_argument("duty")
    evidence.add_argument("unit")
    evidence.add_argument("--date", type=date.fromisoformat, required=True)
    evidence.add_argument("--note", required=True)
    evidence.add_argument("--file", type=Path, help="a photo, minutes or sign-in sheet (at most 16 MiB)")
    evidence.add_argument("--actor", required=True, help="your name (recorded in the audit trail)")
    complaints = commands.add_parser("complaints", help="complaint exports (item 31)").add_subparsers(
        dest="action", required=True)
    complaints.add_parser("drop", help="put an export into the intake folder").add_argument("file", type=Path)


def run(engine: Engine, args: argparse.Namespace) -> int:
    """Run a command registered by ``add_parsers``; returns the exit code."""
    from bdcwatch.cli import cli_policy
    from bdcwatch.dates.clock import local_now
    from bdcwatch.errors import PermanentError
    from bdcwatch.standards.masking import mask_id_numbers

    policy = cli_policy(args)
    now = local_now(policy.timezone)
    try:
        if args.command == "review":
            return _review(engine, args, policy, now)
        if args.command == "duty":
            return _duty(engine, args, policy, now)
        return _complaints(args, policy, now)
    except PermanentError as refused:
        problems = getattr(refused, "problems", None)
        for problem in problems or [refused]:
            print(f"refused: {mask_id_numbers(str(problem))}", file=sys.stderr)
        print("nothing was recorded", file=sys.stderr)
        return 2


def _review(engine: Engine, args: argparse.Namespace, policy: Any, now: Any) -> int:
    from bdcwatch.intake.checklist import import_checklist
    from bdcwatch.ledger.verdicts import VerdictInput, inspection_text, record_verdicts, sample_cases
    from bdcwatch.store.models import inspection

    if args.action == "list":
        with engine.connect() as conn:
            if args.inspection is not None:
                for case in sample_cases(conn, args.inspection):
                    print("\t".join([case.ywh, case.djdl or "", case.verdict or "待评查", case.reviewer or "",
                                     str(case.reviewed_on or ""), case.description or "",
                                     f"finding {case.finding_id}" if case.finding_id else ""]))
                return 0
            query = select(inspection).order_by(inspection.c.period.desc(), inspection.c.unit_code)
            if args.unit:
                query = query.where(inspection.c.unit_code == args.unit)
            if args.period:
                from bdcwatch.dates.periods import parse_period_label
                from bdcwatch.standards.masking import mask_id_numbers

                try:
                    label = parse_period_label(args.period).label
                except ValueError:
                    print(f"refused: “{mask_id_numbers(args.period)}”不是期间，应写作 2026-03、2026-Q1、2026-H1 或 2026 "
                          f"(not a period)", file=sys.stderr)
                    return 2
                query = query.where(inspection.c.period == label)
            for row in conn.execute(query):
                print(f"{row.id}\t{row.unit_code}\t{inspection_text(row)}\t抽查 {row.sample_size}\t"
                      f"已评查 {row.reviewed_count}\t不合格 {row.defective_count}")
        return 0
    if args.action == "record":
        result = record_verdicts(engine, args.inspection, [VerdictInput(
            args.ywh, args.verdict, args.reviewer, args.description, args.date)], actor=args.actor, now=now,
            policy=policy)
        not_reviewed = None
    else:
        result, not_reviewed = import_checklist(engine, args.file.read_bytes(), file_name=args.file.name,
                                                actor=args.actor, now=now, policy=policy, inspection_id=args.inspection)
    print(f"inspection {result.inspection_id}: {result.recorded} verdict(s) recorded, {result.unchanged} unchanged"
          + (f", {not_reviewed} row(s) not reviewed yet" if not_reviewed is not None else ""))
    if result.defects_opened:
        print(f"REVIEW_DEFECT findings: {', '.join(map(str, result.defects_opened))}")
    if result.defects_closed:
        print(f"REVIEW_DEFECT findings closed (verdict now 合格): {', '.join(map(str, result.defects_closed))}")
    print(f"sample reviewed {result.reviewed}, of which 不合格 {result.defective}")
    return 0


def _duty(engine: Engine, args: argparse.Namespace, policy: Any, now: Any) -> int:
    from bdcwatch.ledger.duties import duty_status, record_evidence

    if args.action == "record":
        content = args.file.read_bytes() if args.file else None
        evidence_id = record_evidence(
            engine, duty_code=args.duty, unit_code=args.unit, done_on=args.date, note=args.note, actor=args.actor,
            now=now, policy=policy, file_name=args.file.name if args.file else None, file_content=content)
        print(f"evidence {evidence_id} recorded: {args.duty} {args.unit} {args.date}")
        return 0
    year = args.year or now.year
    for status in duty_status(engine, policy, year=year, as_of_day=now.date(), units=[args.unit] if args.unit else None):
        print(f"{status.unit_code}\t{status.duty.code}\t{status.duty.name}\t{status.period.label}\t"
              f"{status.period.deadline}\t{status.recorded}/{status.duty.min_count}\t{status.state_text}")
    return 0


def _complaints(args: argparse.Namespace, policy: Any, now: Any) -> int:
    from bdcwatch.intake.complaints import complaints_dir
    from bdcwatch.intake.files import drop_file

    folder = complaints_dir(policy)
    target = drop_file(folder, args.file.name, args.file.read_bytes(), now=now)
    print(f"{target} is waiting for the next complaint_intake run")
    return 0
