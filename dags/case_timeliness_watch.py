"""
### 办件时限预警 · case timeliness watch (plan items 14, 33)

Daily at 07:30 (Asia/Shanghai), before the windows open: loads the changed cases
(DJT_DJ_SL) and 登簿 rows (DJF_DJ_DB), runs CASE_OVERDUE (completed late in the period)
and CASE_OVERDUE_OPEN (still 在办 past the deadline, whatever the acceptance date), and
sends each unit its warning list — cases already overdue and cases due within
`due_soon_working_days` working days (the CASE_DUE_SOON alert, not a ledger finding) — plus
the usual digest of new findings. It is also the daily ledger round: every finding of any
DAG past its rectification due date goes up to the unit's supervising bureau (once a
month while it stays overdue, with its history), and the audit trail's hash chain is
verified (`bdcwatch audit verify`; the task fails if any entry was tampered with). Deadlines count working days on the State Council
calendar (CONTRACT §5); a year it does not know yet is flagged in the log and the mail.

**Params** `period_start`/`period_end` (default: yesterday; as-of = `period_end` 00:00),
`units`, `full_scan`.
"""

from __future__ import annotations

from airflow.sdk import get_current_context, task

from bdcwatch.dag_defaults import audit_dag
from bdcwatch.tasks import evaluate, load, prepare_supervision_db, resolve_run, send_mail, verify_audit

DAG_ID = "case_timeliness_watch"
SOURCE_TABLES = ["DJT_DJ_SL", "DJF_DJ_DB"]
RULES = ["CASE_OVERDUE", "CASE_OVERDUE_OPEN"]


@audit_dag(DAG_ID, schedule="30 7 * * *", tags=["item-14", "item-33", "cases"], doc_md=__doc__)
def case_timeliness_watch():
    @task
    def compose(run: dict, evaluation: dict) -> list:
        from bdcwatch import pipeline

        run_id = get_current_context()["run_id"]
        digests = pipeline.compose_digests(
            run, evaluation, dag_id=DAG_ID, run_id=run_id, source_tables=SOURCE_TABLES,
            title="办件时限核查", plan_items="14、33",
        )
        watch_lists = pipeline.compose_watch_lists(run, evaluation, dag_id=DAG_ID, run_id=run_id)
        return digests + watch_lists + pipeline.escalate(dag_id=DAG_ID, run_id=run_id)

    run = resolve_run("day")
    loads = load.expand(table_name=SOURCE_TABLES)
    prepared = prepare_supervision_db()
    prepared >> loads
    prepared >> verify_audit()
    send_mail(compose(run, evaluate(RULES, run, loads)))


case_timeliness_watch()
