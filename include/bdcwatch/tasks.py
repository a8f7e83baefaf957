"""TaskFlow tasks shared by the DAGs, so each DAG file is only its own wiring.

Imported at DAG parse time: nothing heavy at module level (each task body imports what
it needs when it runs).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import get_current_context, task


@task
def resolve_run(default_period: str, rolling_days: int = 0) -> dict[str, Any]:
    """Params → period and units. ``default_period`` is the schedule's natural period
    (day, week, month, quarter, half, year) or ``rolling`` (``rolling_days`` back)."""
    from bdcwatch import pipeline
    from bdcwatch.config import cached_policy
    from bdcwatch.periods import previous_period

    context = get_current_context()
    policy = cached_policy()
    today = pipeline.run_date(context, policy)
    default = (
        pipeline.rolling_window(today, rolling_days) if default_period == "rolling" else previous_period(default_period, today)
    )
    return pipeline.resolve_run(context["params"], default, policy)


@task
def prepare_supervision_db() -> str:
    from bdcwatch import pipeline

    return pipeline.prepare_supervision_db()


@task(max_active_tis_per_dagrun=1)  # SQLite allows one writer: load tables one at a time
def load(table_name: str) -> dict[str, Any]:
    from bdcwatch import pipeline

    context = get_current_context()
    full_scan = bool(context["params"].get("full_scan", False))
    return pipeline.load_source_table(table_name, run_id=context["run_id"], full_scan=full_scan)


@task
def evaluate(rule_codes: list[str], run: dict[str, Any], loads: list[Any]) -> dict[str, Any]:
    from bdcwatch import pipeline

    context = get_current_context()
    return pipeline.evaluate_rules(rule_codes, run, dag_id=context["dag"].dag_id, run_id=context["run_id"])


@task
def verify_audit() -> int:
    """The hash chain of the audit trail is intact (else the task fails loudly)."""
    from bdcwatch import pipeline

    return pipeline.verify_audit_trail()


@task(retries=3)
def send_mail(outbox_ids: list[int]) -> dict[str, Any]:
    """Send everything pending, not only this run's: mail left over from an SMTP outage
    goes out with the next run."""
    from bdcwatch import pipeline

    return pipeline.send_outbox()
