"""Mail about mail: operations are told of messages the relay refused for good, and of
messages whose delivery is in doubt (their sender was killed mid-send). People must act
on both; neither is ever resent on its own (``mail.outbox``)."""

from __future__ import annotations

import hashlib
import logging

from sqlalchemy import Engine

from bdcwatch.config.policy import Policy
from bdcwatch.dates.clock import local_now
from bdcwatch.mail.outbox import OutgoingMessage, SendReport, enqueue, send_pending
from bdcwatch.mail.sender import SmtpSettings
from bdcwatch.reports.common import render_template
from bdcwatch.standards.masking import mask_id_numbers

log = logging.getLogger(__name__)


class RelayUnavailableError(RuntimeError):
    """Some messages could not be sent because the relay did not answer (a retry may)."""


def compose(engine: Engine, policy: Policy, report: SendReport) -> int | None:
    """Queue one notice to operations_email about ``report``'s failed and unconfirmed
    messages; None when there are none or the same notice was queued before."""
    if not report.failed and not report.unconfirmed:
        return None
    count = len(report.failed) + len(report.unconfirmed)
    subject = f"【bdcwatch 运维】{count} 封邮件未能确认送达"
    html = mask_id_numbers(render_template(
        "delivery_notice.html.j2", subject=subject, failed=report.failed, unconfirmed=report.unconfirmed,
    ))
    # Keyed by what it reports, so the same problems are announced once.
    key = hashlib.sha256(repr((report.failed, [m.outbox_id for m in report.unconfirmed])).encode()).hexdigest()[:24]
    message = OutgoingMessage(
        dedup_key=f"ops|delivery|{key}", kind="ops_notice", dag_id="bdcwatch", run_id=None, period=None,
        unit_code=None, recipients=(policy.operations_email,), subject=subject, html=html,
    )
    with engine.begin() as conn:
        return enqueue(conn, message, local_now(policy.timezone))


def send_and_report(engine: Engine, policy: Policy, settings: SmtpSettings) -> SendReport:
    """The send task: send everything pending (not only this run's: mail left over from an
    outage goes out with the next run), tell operations about what failed or is in doubt.

    Raises:
        RelayUnavailableError: messages stay pending because the relay did not answer;
            they go out on the retry or the next run.
    """
    report = send_pending(engine, settings, now=local_now(policy.timezone))
    if report.failed:
        log.error("permanently refused: %s", report.failed)
    notice = compose(engine, policy, report)
    if notice is not None:
        send_pending(engine, settings, now=local_now(policy.timezone), ids=[notice])
    if report.pending:
        raise RelayUnavailableError(
            f"{report.pending} message(s) could not be sent (SMTP relay unavailable); they stay in the outbox "
            "and go out on the retry or the next run"
        )
    return report
