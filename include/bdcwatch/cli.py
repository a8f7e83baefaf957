"""``bdcwatch`` command line for operators.

    bdcwatch migrate [--url URL]                  create/upgrade supervision_db
    bdcwatch audit verify [--url URL]             check the hash chain of the audit trail
    bdcwatch finding set-status ID... --to closed --actor 张三 --note "已整改并核实" [--url URL]
    bdcwatch outbox list [--status unconfirmed] [--url URL]
    bdcwatch outbox resend ID... --actor 张三 --note "收件人确认未收到" [--url URL]

``outbox resend`` queues an ``unconfirmed`` message (its sender was killed mid-send, so
the recipients may or may not have it) or a ``failed`` one again; the next send task
delivers it. Who and why are kept in the message's ``resend_log``.

Without ``--url`` the ``supervision_db`` Airflow connection is used (e.g. the
``AIRFLOW_CONN_SUPERVISION_DB`` variable).
"""

from __future__ import annotations

import argparse
import sys

from sqlalchemy import Engine


def _engine(url: str | None) -> Engine:
    from bdcwatch.store.migrate import make_engine

    if url is None:
        from bdcwatch.orchestration.connections import SUPERVISION_DB, database_url

        url = database_url(SUPERVISION_DB).render_as_string(hide_password=False)
    return make_engine(url)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bdcwatch", description="bdcwatch operator commands")
    parser.add_argument("--url", help="supervision_db SQLAlchemy URL (default: the supervision_db connection)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="create or upgrade supervision_db")
    audit = commands.add_parser("audit", help="audit trail").add_subparsers(dest="action", required=True)
    audit.add_parser("verify", help="detect edited, deleted or reordered audit entries")
    finding = commands.add_parser("finding", help="findings").add_subparsers(dest="action", required=True)
    set_status = finding.add_parser("set-status", help="move findings along open → rectifying → closed")
    set_status.add_argument("ids", nargs="+", type=int)
    set_status.add_argument("--to", required=True, choices=["open", "rectifying", "closed", "reopened"])
    set_status.add_argument("--actor", required=True, help="your name (recorded in the audit trail)")
    set_status.add_argument("--note", required=True, help="why (recorded in the audit trail)")
    mail = commands.add_parser("outbox", help="the email outbox").add_subparsers(dest="action", required=True)
    listing = mail.add_parser("list", help="show queued, sent, failed and unconfirmed messages")
    listing.add_argument("--status", choices=["pending", "sending", "sent", "failed", "unconfirmed"])
    again = mail.add_parser("resend", help="queue unconfirmed or failed messages again (deliberately)")
    again.add_argument("ids", nargs="+", type=int)
    again.add_argument("--actor", required=True, help="your name (recorded with the message)")
    again.add_argument("--note", required=True, help="why (recorded with the message)")
    args = parser.parse_args(argv)
    engine = _engine(args.url)

    if args.command == "migrate":
        from bdcwatch.store.migrate import migrate

        print(f"supervision_db at revision {migrate(engine)}")
        return 0
    if args.command == "audit":
        from bdcwatch.ledger.audit import verify_chain

        with engine.connect() as conn:
            problems = verify_chain(conn)
        for problem in problems:
            print(f"TAMPERED: {problem}")
        print("audit trail intact" if not problems else f"{len(problems)} problem(s) in the audit trail")
        return 0 if not problems else 1
    if args.command == "finding":
        from bdcwatch.config.policy import cached_policy
        from bdcwatch.dates.clock import local_now
        from bdcwatch.ledger.lifecycle import change_status

        now = local_now(cached_policy().timezone)
        try:
            with engine.begin() as conn:
                moved = change_status(conn, args.ids, args.to, actor=args.actor, note=args.note, now=now)
        except ValueError as error:  # a refused change moves nothing (one transaction)
            print(f"refused: {error}", file=sys.stderr)
            return 2
        print(f"{moved} finding(s) moved to {args.to}")
        return 0
    if args.command == "outbox":
        return _outbox(engine, args)
    return 2


def _outbox(engine: Engine, args: argparse.Namespace) -> int:
    import json

    from bdcwatch.mail.outbox import list_messages, resend

    if args.action == "list":
        with engine.connect() as conn:
            rows = list_messages(conn, args.status)
        for row in rows:
            print("\t".join([
                str(row.id), row.status, f"{row.created_at:%Y-%m-%d %H:%M:%S}", row.subject,
                ", ".join(json.loads(row.recipients)),
            ]))
        print(f"{len(rows)} message(s)")
        return 0
    from bdcwatch.config.policy import cached_policy
    from bdcwatch.dates.clock import local_now

    if not args.actor.strip() or not args.note.strip():
        print("--actor and --note must not be empty", file=sys.stderr)
        return 2
    now = local_now(cached_policy().timezone)
    with engine.begin() as conn:
        result = resend(conn, args.ids, actor=args.actor, note=args.note, now=now)
    for outbox_id, why in result.skipped.items():
        print(f"outbox {outbox_id} not resent: {why} (only unconfirmed or failed messages can be resent)")
    print(f"{len(result.moved)} message(s) queued again; the next send task delivers them")
    return 0 if not result.skipped else 1


if __name__ == "__main__":
    sys.exit(main())
