"""Failure alerts to operations, sent through the project's one mail sender (yagmail).

Kept light at import time: DAG files import it at parse time.
"""

from __future__ import annotations

import html
import logging
from typing import Any

from airflow.sdk import BaseNotifier

from .codes import mask_id_numbers

log = logging.getLogger(__name__)


class OperationsFailureNotifier(BaseNotifier):
    """Emails ``operations_email`` from the policy when a task fails for good."""

    def notify(self, context: dict[str, Any]) -> None:
        from .airflow_io import smtp_settings
        from .config import cached_policy
        from .mail import SendError, send_message

        ti = context.get("ti") or context.get("task_instance")
        dag_id = getattr(ti, "dag_id", "?")
        task_id = getattr(ti, "task_id", "?")
        run_id = getattr(ti, "run_id", "?")
        error = mask_id_numbers(str(context.get("exception") or "unknown error"))
        body = (
            f"<p>bdcwatch task <b>{html.escape(dag_id)}.{html.escape(task_id)}</b> failed "
            f"(run {html.escape(run_id)}, try {getattr(ti, 'try_number', '?')}).</p>"
            f"<pre style='white-space:pre-wrap'>{html.escape(error)[:4000]}</pre>"
            "<p>Open the task log in the Airflow UI for the full trace.</p>"
        )
        try:
            policy = cached_policy()
            send_message(
                smtp_settings(), to=[policy.operations_email],
                subject=f"[bdcwatch] task failed: {dag_id}.{task_id}", html=body,
            )
        except (SendError, Exception) as problem:  # an alert must never mask the original failure
            log.error("could not send the failure alert for %s.%s: %s", dag_id, task_id, problem)


def ops_failure_notifier() -> OperationsFailureNotifier:
    return OperationsFailureNotifier()
