"""Failure alerts to operations, sent through the project's one mail sender (yagmail).

A broken policy must never silence the alert: when the policy cannot be read, the alert
goes to ``$BDCWATCH_OPERATIONS_EMAIL``, else to the ``operations_email`` extra of
``smtp_default``, else to its ``from_email`` (the mailbox operations run), and says what is
wrong with the policy. Kept light at import time: DAG files import it at parse time.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from airflow.sdk import BaseNotifier, Context

log = logging.getLogger(__name__)

OPERATIONS_EMAIL_ENV = "BDCWATCH_OPERATIONS_EMAIL"


def operations_recipient(settings: Any, dag_id: str | None = None) -> tuple[str, str | None]:
    """(address, policy problem or None): the policy's operations_email when the policy
    loads (with a province file: the policy of ``dag_id``'s city), else the fallback
    chain of the module docstring."""
    from bdcwatch.config.policy import cached_policy
    from bdcwatch.config.province import cached_province
    from bdcwatch.errors import PolicyError

    try:
        province = cached_province()
        if province is not None and dag_id:
            return province.city_of_dag(dag_id).policy.operations_email, None
        return cached_policy().operations_email, None
    except PolicyError as problem:
        fallback = os.environ.get(OPERATIONS_EMAIL_ENV) or settings.operations_email or settings.from_email
        return fallback, str(problem)


class OperationsFailureNotifier(BaseNotifier):
    """Emails operations when a task fails for good (after its retries, or at once for a
    non-retryable failure)."""

    def notify(self, context: Context) -> None:
        try:
            self._send(context)
        except Exception as problem:  # an alert must never mask the original failure
            ti = context.get("ti") or context.get("task_instance")
            log.error("could not send the failure alert for %s.%s: %s", getattr(ti, "dag_id", "?"),
                      getattr(ti, "task_id", "?"), problem)

    @staticmethod
    def _send(context: Context) -> None:
        from bdcwatch.mail.sender import send_message
        from bdcwatch.orchestration.connections import smtp_settings
        from bdcwatch.reports.failure_alert import render_failure_alert

        ti = context.get("ti") or context.get("task_instance")
        exception = context.get("exception")
        # fail_fast raises Airflow's AirflowFailException from the engine's error: its
        # Chinese wording (BdcwatchError.zh) is on the cause.
        summary_zh = getattr(exception, "zh", None) or getattr(getattr(exception, "__cause__", None), "zh", None)
        settings = smtp_settings()
        recipient, policy_problem = operations_recipient(settings, str(getattr(ti, "dag_id", "") or "") or None)
        alert = render_failure_alert(
            dag_id=str(getattr(ti, "dag_id", "?")), task_id=str(getattr(ti, "task_id", "?")),
            run_id=str(getattr(ti, "run_id", "?")), try_number=getattr(ti, "try_number", "?"),
            error=str(exception or "unknown error"),
            retried=type(exception).__name__ != "AirflowFailException", recipient=recipient,
            policy_problem=policy_problem, summary_zh=summary_zh,
        )
        send_message(settings, to=[recipient], subject=alert.subject, html=alert.html)


def ops_failure_notifier() -> OperationsFailureNotifier:
    return OperationsFailureNotifier()
