"""
### 回头看 · look-back (plan item 34, yearly)

On 3 January at 07:00 (Asia/Shanghai): every finding closed in the year just ended is
verified again by re-running its detecting rule on today's data. Where the problem is
still there the finding is reopened (closed → reopened) with an audit entry, and the unit's
heads are told which of their closed problems came back. Nothing is closed or deleted
here; nothing new is added to the ledger.

**Params** `period_start`/`period_end` (the closing dates to look back on; default: the
year just ended), `units`, `full_scan`.
"""

from __future__ import annotations

from airflow.sdk import get_current_context, task

from bdcwatch.dag_defaults import ALL_TABLES, audit_dag
from bdcwatch.tasks import load, prepare_supervision_db, resolve_run, send_mail

DAG_ID = "look_back"
SOURCE_TABLES = ALL_TABLES


@audit_dag(DAG_ID, schedule="0 7 3 1 *", tags=["item-34", "cycle"], doc_md=__doc__)
def look_back():
    @task
    def verify(run: dict, loads: list) -> dict:
        from bdcwatch import pipeline

        return pipeline.run_look_back(run, dag_id=DAG_ID, run_id=get_current_context()["run_id"])

    @task
    def compose(run: dict, outcome: dict) -> list:
        from bdcwatch import pipeline

        return pipeline.compose_look_back(
            run, outcome, dag_id=DAG_ID, run_id=get_current_context()["run_id"], source_tables=SOURCE_TABLES
        )

    run = resolve_run("year")
    loads = load.expand(table_name=SOURCE_TABLES)
    prepare_supervision_db() >> loads
    send_mail(compose(run, verify(run, loads)))


look_back()
