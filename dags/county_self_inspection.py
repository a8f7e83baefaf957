"""
### 县级自查 · county self-inspection (plan item 34, 4× a year)

On the 1st day of each quarter at 04:00 (Asia/Shanghai) every registration unit inspects
its own quarter: all automated case, e-certificate and staff rules run on the whole quarter, and
a stratified, reproducible sample of at least max(10 %, 5) of the unit's completed cases is
drawn for file review by hand. Each unit's heads get their new findings and the checklist;
the cycle is recorded in `inspection` / `inspection_sample`.

**Params** `period_start`/`period_end` (default: the quarter just ended), `units`, `full_scan`.
"""

from __future__ import annotations

from airflow.sdk import get_current_context, task

from bdcwatch.dag_defaults import CYCLE_RULES, CYCLE_TABLES, audit_dag
from bdcwatch.tasks import evaluate, load, prepare_supervision_db, resolve_run, send_mail

DAG_ID = "county_self_inspection"
SOURCE_TABLES = CYCLE_TABLES
RULES = CYCLE_RULES


@audit_dag(DAG_ID, schedule="0 4 1 1,4,7,10 *", tags=["item-34", "cycle"], doc_md=__doc__)
def county_self_inspection():
    @task
    def draw_samples(run: dict, evaluation: dict) -> dict:
        from bdcwatch import pipeline

        return pipeline.draw_quality_samples(run, dag_id=DAG_ID, run_id=get_current_context()["run_id"], rule_codes=RULES)

    @task
    def compose(run: dict, evaluation: dict, samples: dict) -> list:
        from bdcwatch import pipeline

        return pipeline.compose_quality_digests(
            run, evaluation, samples, dag_id=DAG_ID, run_id=get_current_context()["run_id"],
            source_tables=SOURCE_TABLES, title="县级自查", plan_items="34",
        )

    run = resolve_run("quarter")
    loads = load.expand(table_name=SOURCE_TABLES)
    prepare_supervision_db() >> loads
    evaluation = evaluate(RULES, run, loads)
    send_mail(compose(run, evaluation, draw_samples(run, evaluation)))


county_self_inspection()
