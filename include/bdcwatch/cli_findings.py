"""``bdcwatch finding list | show | set-status``: the ledger for an operator at a shell,
read through ``ledger.query`` and changed through ``ledger.lifecycle`` exactly as the
operations UI does (same filters, same lifecycle, same audit trail). Texts are masked
(CONTRACT §6)."""

from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError
from sqlalchemy import Engine

from bdcwatch.cli import cli_policy
from bdcwatch.dates.clock import local_now


def run_finding(engine: Engine, args: argparse.Namespace) -> int:
    """Exit codes: 0 done; 1 no such finding; 2 refused or bad arguments."""
    if args.action == "list":
        return _list(engine, args)
    if args.action == "show":
        return _show(engine, args)
    return _set_status(engine, args)


def _list(engine: Engine, args: argparse.Namespace) -> int:
    from bdcwatch.ledger.query import FindingFilter, find_findings

    try:
        flt = FindingFilter(unit=args.unit, rule=args.rule, severity=args.severity, status=args.status,
                            overdue=None if args.overdue is None else args.overdue == "true", period=args.period,
                            within=args.within, q=args.q, recurred=True if args.recurred else None)
    except ValidationError as error:
        print(f"bad filter: {error.errors()[0]['msg']}", file=sys.stderr)
        return 2
    today = local_now(cli_policy(args).timezone).date()
    try:
        with engine.connect() as conn:
            page = find_findings(conn, flt, today=today, page=args.page, page_size=args.page_size)
    except ValueError as error:
        print(f"bad paging: {error}", file=sys.stderr)
        return 2
    print("\t".join(["id", "severity", "status", "unit", "rule", "subject", "period", "due", "overdue"]))
    for item in page.items:
        print("\t".join([str(item.id), item.severity, item.status, item.unit_code or "-", item.rule_code,
                         item.subject_id, item.period or "-", item.due_date.isoformat(),
                         "OVERDUE" if item.overdue else "RECURRED" if item.recurred else ""]))
    print(f"{page.total} finding(s); page {page.page} of {page.pages} ({page.page_size} a page, newest first)")
    return 0


def _show(engine: Engine, args: argparse.Namespace) -> int:
    from bdcwatch.ledger.query import finding_detail
    from bdcwatch.web.labels import FIELD_TEXT, detail_pairs, severity_text, status_text

    finding_id = int(args.id)
    today = local_now(cli_policy(args).timezone).date()
    with engine.connect() as conn:
        found = finding_detail(conn, finding_id, today=today)
    if found is None:
        print(f"no such finding: {finding_id}", file=sys.stderr)
        return 1
    item = found.item
    lines = [
        ("id", str(item.id)), ("rule_title", f"{item.rule_title} ({item.rule_code})"),
        ("severity", f"{severity_text(item.severity)} ({item.severity})"), ("unit", item.unit_code or "-"),
        ("subject_id", f"{item.subject_id} ({item.subject_type})"), ("period", item.period or "-"),
        ("occurred_on", item.occurred_on.isoformat() if item.occurred_on else "-"),
        ("status", f"{status_text(item.status)} ({item.status})"),
        ("first_detected_at", f"{item.first_detected_at:%Y-%m-%d %H:%M}"),
        ("last_detected_at", f"{item.last_detected_at:%Y-%m-%d %H:%M}"),
        ("due_date", item.due_date.isoformat() + ("  OVERDUE" if item.overdue else "")),
        ("closed_at", f"{item.closed_at:%Y-%m-%d %H:%M}" if item.closed_at else "-"), ("dag_id", item.dag_id),
    ]
    for key, value in lines:
        print(f"{FIELD_TEXT[key]}\t{value}")
    for label, value in detail_pairs(item.rule_code, item.detail):
        print(f"  {label}\t{value}")
    print("history:")
    for event in found.events:
        change = f"{event.from_status} → {event.to_status}" if event.from_status else f"→ {event.to_status}"
        print(f"  {event.at:%Y-%m-%d %H:%M}\t{event.actor}\t{change}\t{event.note}")
    print("escalations:" if found.escalations else "escalations: none")
    for up in found.escalations:
        print(f"  {up.period}\t{up.supervisor}\t{up.escalated_at:%Y-%m-%d %H:%M}\toutbox {up.outbox_id}")
    return 0


def _set_status(engine: Engine, args: argparse.Namespace) -> int:
    from bdcwatch.dates.workdays import calendar_from_policy
    from bdcwatch.ledger.lifecycle import NoSuchFindingError, RefusedChangeError, change_status, due_by_severity

    policy = cli_policy(args)
    now = local_now(policy.timezone)
    due = due_by_severity(policy, calendar_from_policy(policy), now.date())
    try:
        with engine.begin() as conn:
            moved = change_status(conn, args.ids, args.to, actor=args.actor, note=args.note, now=now, reopen_due=due)
    except NoSuchFindingError as error:  # nothing moved (one transaction)
        print(f"{error}; nothing moved", file=sys.stderr)
        return 1
    except RefusedChangeError as error:  # a refused change moves nothing
        print(f"refused: {error}", file=sys.stderr)
        return 2
    print(f"{moved} finding(s) moved to {args.to}")
    return 0
