"""``bdcwatch`` command line for operators.

    bdcwatch [--city CODE] migrate [--url URL]    create/upgrade supervision_db (every command takes --city)
    bdcwatch audit verify [--url URL]             check the hash chain of the audit trail
    bdcwatch finding list [--unit YQ21] [--rule R] [--severity high] [--status open] [--overdue true] [--recurred]
                          [--period 2026-03] [--within 2026-Q4] [--q TEXT] [--page N] [--page-size N] [--url URL]
    bdcwatch finding show ID [--url URL]
    bdcwatch finding set-status ID... --to closed --actor 张三 --note "已整改并核实" [--url URL]
    bdcwatch outbox list [--status unconfirmed] [--url URL]
    bdcwatch outbox resend ID... --actor 张三 --note "收件人确认未收到" [--url URL]
    bdcwatch review | duty | complaints ...         verdicts, duty evidence, complaint files (cli_intake)
    bdcwatch province queues | pools --slots N | migrate   a province's deployment (cli_province)

``outbox resend`` queues an ``unconfirmed`` message (its sender was killed mid-send, so
the recipients may or may not have it) or a ``failed`` one again; the next send task
delivers it. Who and why are kept in the message's ``resend_log``.

``finding list`` takes the operations UI's filters (CONTRACT §7) and reads through the same
``ledger.query``; ``set-status`` goes through the same lifecycle as the UI
(``ledger.lifecycle.change_status``) and fails with "no such finding" for an unknown id.

Without ``--url`` the ``supervision_db`` Airflow connection is used (e.g. the
``AIRFLOW_CONN_SUPERVISION_DB`` variable). With a province file in force, ``--city 1401``
works on that city: its connection ``supervision_db__1401`` and its policy (default: the
home city). A missing or unusable database is said in one
line on stderr (exit 2), never as a traceback.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from bdcwatch.config.policy import Policy


class DatabaseUnusableError(Exception):
    """supervision_db is not given, not reachable or not a bdcwatch database (one line)."""


def _engine(url: str | None, *, migrating: bool = False, conn_id: str | None = None) -> Engine:
    """The engine on supervision_db, checked to answer and (unless ``migrating``) to hold
    the bdcwatch tables.

    Raises:
        DatabaseUnusableError: no URL and no connection, a malformed URL, a database that
            does not answer, or one that was never migrated.
    """
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from bdcwatch.store.migrate import current_revision, make_engine

    if url is None:
        try:
            from bdcwatch.orchestration.connections import SUPERVISION_DB, database_url

            conn_id = conn_id or SUPERVISION_DB
            url = database_url(conn_id).render_as_string(hide_password=False)
        except Exception as error:  # Airflow's AirflowNotFoundException, or an unparsable connection
            raise DatabaseUnusableError(
                f"no supervision database: give --url URL or define the {conn_id} connection "
                f"(AIRFLOW_CONN_{str(conn_id).upper()}) ({type(error).__name__}: {error})") from None
    try:
        shown = make_url(url).render_as_string(hide_password=True)
        engine = make_engine(url)
        revision = current_revision(engine)
    except (ArgumentError, ValueError) as error:
        # Not parsable, so SQLAlchemy cannot hide its password: hide whatever sits between
        # "user:" and "@" by hand, in the URL and in the error quoting it.
        def hidden(text: str) -> str:
            return re.sub(r"(?<=:)[^:/@]+(?=@)", "***", text)

        raise DatabaseUnusableError(f"not a database URL: {hidden(url)!r} ({hidden(str(error))})") from None
    except (SQLAlchemyError, ImportError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DatabaseUnusableError(f"cannot reach supervision_db at {shown}: {first}") from None
    if revision is None and not migrating:
        raise DatabaseUnusableError(f"supervision_db at {shown} has no bdcwatch tables (run `bdcwatch migrate`)")
    return engine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bdcwatch", description="bdcwatch operator commands")
    parser.add_argument("--url", help="supervision_db SQLAlchemy URL (default: the supervision_db connection)")
    parser.add_argument("--city", help="a province's city code, e.g. 1401: its supervision_db__<code> and policy "
                                       "(default: the home city)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="create or upgrade supervision_db")
    audit = commands.add_parser("audit", help="audit trail").add_subparsers(dest="action", required=True)
    audit.add_parser("verify", help="detect edited, deleted or reordered audit entries")
    finding = commands.add_parser("finding", help="findings").add_subparsers(dest="action", required=True)
    listing_f = finding.add_parser("list", help="the ledger with the UI's filters, newest first")
    listing_f.add_argument("--unit", help="DJJG code")
    listing_f.add_argument("--rule", help="rule code, e.g. ECERT_MISSING")
    listing_f.add_argument("--severity", choices=["high", "medium", "low"])
    listing_f.add_argument("--status", choices=["open", "rectifying", "closed", "reopened"])
    listing_f.add_argument("--overdue", choices=["true", "false"], help="open past its due date (or not)")
    listing_f.add_argument("--period", help="period label as stored (per-period rules), e.g. 2026-03")
    listing_f.add_argument("--within", help="a period and every finding belonging to it (所属期间), e.g. 2026-11, 2026-Q4")
    listing_f.add_argument("--q", help="part of the subject id (certificate number, case number, ...)")
    listing_f.add_argument("--recurred", action="store_true",
                           help="closed, yet detected again after closing (a fix that did not hold)")
    listing_f.add_argument("--page", type=int, default=1)
    listing_f.add_argument("--page-size", type=int, default=50)
    show = finding.add_parser("show", help="one finding with its history and escalations")
    show.add_argument("id", type=int)
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
    from bdcwatch import cli_intake, cli_province
    from bdcwatch.errors import PolicyError

    cli_intake.add_parsers(commands)
    cli_province.add_parser(commands)
    args = parser.parse_args(argv)
    try:
        if args.command == "province":  # the province file's, not one city's supervision_db
            return cli_province.run(args, lambda conn_id: _engine(None, migrating=True, conn_id=conn_id))
        return _run(args)
    except (DatabaseUnusableError, PolicyError) as error:
        print(f"bdcwatch: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a file named on the command line: missing, a folder, unreadable
        where = f": {error.filename}" if error.filename else ""
        print(f"bdcwatch: 无法读取文件{where}（{error.strerror or error}）", file=sys.stderr)
        return 2


def cli_policy(args: argparse.Namespace) -> Policy:
    """The policy the command works with: ``--city``'s, else the one in force (the home
    city's with a province file)."""
    from bdcwatch.config.policy import cached_policy
    from bdcwatch.config.province import chosen_city

    city = chosen_city(args.city)
    return city.policy if city is not None else cached_policy()


def _run(args: argparse.Namespace) -> int:
    from bdcwatch.config.province import chosen_city
    from bdcwatch.errors import PolicyError
    from bdcwatch.orchestration.connections import SUPERVISION_DB

    try:
        city = chosen_city(args.city)
    except PolicyError as error:
        raise DatabaseUnusableError(str(error)) from None
    conn_id = city.conn_id(SUPERVISION_DB) if city is not None else None
    engine = _engine(args.url, migrating=args.command == "migrate", conn_id=conn_id)
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
        from bdcwatch.cli_findings import run_finding

        return run_finding(engine, args)
    if args.command == "outbox":
        return _outbox(engine, args)
    from bdcwatch import cli_intake

    if args.command in cli_intake.COMMANDS:
        return int(cli_intake.run(engine, args))
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
    from bdcwatch.dates.clock import local_now

    if not args.actor.strip() or not args.note.strip():
        print("--actor and --note must not be empty", file=sys.stderr)
        return 2
    now = local_now(cli_policy(args).timezone)
    with engine.begin() as conn:
        result = resend(conn, args.ids, actor=args.actor, note=args.note, now=now)
    for outbox_id, why in result.skipped.items():
        print(f"outbox {outbox_id} not resent: {why} (only unconfirmed or failed messages can be resent)")
    print(f"{len(result.moved)} message(s) queued again; the next send task delivers them")
    return 0 if not result.skipped else 1


if __name__ == "__main__":
    sys.exit(main())
