"""The failure alert to operations (a task failed for good). Pure rendering; the notifier
in ``orchestration.notifier`` decides the recipient and sends it."""

from __future__ import annotations

from dataclasses import dataclass

from bdcwatch.reports.common import render_template
from bdcwatch.standards.masking import mask_id_numbers

MAX_ERROR_CHARS = 4000


@dataclass(frozen=True)
class FailureAlert:
    subject: str
    html: str


def render_failure_alert(
    *, dag_id: str, task_id: str, run_id: str, try_number: object, error: str, retried: bool,
    recipient: str, policy_problem: str | None = None, summary_zh: str | None = None,
) -> FailureAlert:
    """Subject and HTML of one alert, in Chinese for the operations desk with the English
    words of Airflow and the error kept beside (what an operator searches the logs for);
    ``summary_zh``, the engine's own Chinese wording of the error (``BdcwatchError.zh``),
    goes above it. The error, the summary and any policy problem are masked."""
    subject = f"【不动产登记监督·运维】任务失败 task failed: {dag_id}.{task_id}"
    html = render_template(
        "failure_alert.html.j2", subject=subject, dag_id=dag_id, task_id=task_id, run_id=run_id,
        try_number=try_number, error=mask_id_numbers(error)[:MAX_ERROR_CHARS], retried=retried,
        recipient=recipient, policy_problem=mask_id_numbers(policy_problem) if policy_problem else None,
        summary_zh=mask_id_numbers(summary_zh)[:MAX_ERROR_CHARS] if summary_zh else None,
    )
    return FailureAlert(subject, html)
