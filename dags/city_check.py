"""
### 市级排查 · city check (plan item 34, 2× a year)

On 1 January and 1 July at 05:00 (Asia/Shanghai) the city checks every registration unit's
half-year: all automated case, e-certificate and staff rules on the whole half-year, and a
stratified, reproducible sample of at least max(10 %, 5) completed cases per unit for file
review. Each unit's heads get their part (new findings and checklist); CITY_BUREAU's heads
get one city report (a line per unit, every finding of the check as XLSX). Recorded in
`inspection` / `inspection_sample`.

**Params** `period_start`/`period_end` (default: the half-year just ended), `units`, `full_scan`.
"""

from __future__ import annotations

from airflow.sdk import get_current_context, task

from bdcwatch.dag_defaults import CYCLE_RULES, CYCLE_TABLES, audit_dag
from bdcwatch.tasks import evaluate, load, prepare_supervision_db, resolve_run, send_mail

DAG_ID = "city_check"
SOURCE_TABLES = CYCLE_TABLES
RULES = CYCLE_RULES


@audit_dag(DAG_ID, schedule="0 5 1 1,7 *", tags=["item-34", "cycle"], doc_md=__doc__)
def city_check():
    @task
    def draw_samples(run: dict, evaluation: dict) -> dict:
        from bdcwatch import pipeline

        return pipeline.draw_quality_samples(run, dag_id=DAG_ID, run_id=get_current_context()["run_id"], rule_codes=RULES)

    @task
    def compose(run: dict, evaluation: dict, samples: dict) -> list:
        from bdcwatch import pipeline

        run_id = get_current_context()["run_id"]
        parts = pipeline.compose_quality_digests(
            run, evaluation, samples, dag_id=DAG_ID, run_id=run_id, source_tables=SOURCE_TABLES,
            title="市级排查", plan_items="34",
        )
        return parts + pipeline.compose_city_report(
            run, evaluation, samples, dag_id=DAG_ID, run_id=run_id, rule_codes=RULES, title="市级排查"
        )

    run = resolve_run("half")
    loads = load.expand(table_name=SOURCE_TABLES)
    prepare_supervision_db() >> loads
    evaluation = evaluate(RULES, run, loads)
    send_mail(compose(run, evaluation, draw_samples(run, evaluation)))


city_check()
