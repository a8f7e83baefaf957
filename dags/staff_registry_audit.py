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

from bdcwatch import rules
from bdcwatch.orchestration.cities import city_dags  # airflow.sdk.dag once per city (a province file)
from bdcwatch.orchestration.dag import dag_settings
from bdcwatch.orchestration.tasks import (
    audit_task,
    current_job,
    evaluate,
    load_tables,
    prepare_supervision_db,
    resolve_run,
    send_mail,
)

RULES = rules.select(family="staff")
TABLES = rules.tables_read(RULES)


@city_dags("staff_registry_audit", schedule="0 2 * * 1", **dag_settings(full_scan=True, tags=["item-21", "item-24", "item-27", "item-28", "staff"], doc_md=__doc__))
def staff_registry_audit():
    @audit_task
    def compose(run: dict, evaluation: dict) -> list[int]:
        from bdcwatch.ledger.findings import Evaluation
        from bdcwatch.reports import quarantine_notice, staff_digest

        job = current_job(run)
        return staff_digest.compose(job, Evaluation.from_xcom(evaluation)) + quarantine_notice.compose(job, TABLES)

    run = resolve_run("week")
    loads = load_tables(TABLES)
    run >> prepare_supervision_db() >> loads
    send_mail(compose(run, evaluate(RULES, run, loads)))


staff_registry_audit()
