"""
### 登记人员信息核查 · staff registry audit (plan items 21, 24, 27, 28)

Weekly on Monday at 02:00 (Asia/Shanghai): loads the staff registry (RY_JBXX, RY_PXJL) and
the case steps of the registration system (受理 DJT_DJ_SL, 审核 DJF_DJ_SH, 登簿 DJF_DJ_DB)
through the Great Expectations gate, then runs the eight STAFF_* rules of CONTRACT §3:

* case steps of the week by people not trained yet, not in the registry (a 黄牛 inside the
  workflow) or already gone;
* the registry as of `period_end`: training hours behind the pro-rata 40 h, a finished
  year short of 40 h (judged when `period_end` is 1 January), incomplete records or ID
  numbers failing GB 11643, key posts held past the rotation limit, integrity pledges
  not signed this year.

Each unit's heads get their own people's findings (ID numbers masked) under a roster
summary: head count by 用工类型 and 岗位 and this year's training hours.

**Params** `period_start`/`period_end` (default: last Monday to this Monday), `units`,
`full_scan`.
"""

from __future__ import annotations

from airflow.sdk import get_current_context, task

from bdcwatch.dag_defaults import STAFF_RULES, STAFF_TABLES, audit_dag
from bdcwatch.tasks import evaluate, load, prepare_supervision_db, resolve_run, send_mail

DAG_ID = "staff_registry_audit"
SOURCE_TABLES = STAFF_TABLES
RULES = STAFF_RULES


@audit_dag(DAG_ID, schedule="0 2 * * 1", tags=["item-21", "item-24", "item-27", "item-28", "staff"], doc_md=__doc__)
def staff_registry_audit():
    @task
    def compose_digests(run: dict, evaluation: dict) -> list:
        from bdcwatch import pipeline

        return pipeline.compose_staff_digests(
            run, evaluation, dag_id=DAG_ID, run_id=get_current_context()["run_id"], source_tables=SOURCE_TABLES
        )

    run = resolve_run("week")
    loads = load.expand(table_name=SOURCE_TABLES)
    prepare_supervision_db() >> loads
    send_mail(compose_digests(run, evaluate(RULES, run, loads)))


staff_registry_audit()
