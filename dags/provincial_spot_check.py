"""
### 省级抽查（演练）· provincial spot check rehearsal (plan item 34, 1× a year)

On 2 January at 06:00 (Asia/Shanghai) the city rehearses the provincial spot check of the
year just ended, as a provincial team would make it: every automated case,
e-certificate and staff rule runs on the whole year for all units, then a seeded random half of the
units is drawn and, in each drawn unit, a stratified sample of at least max(10 %, 5)
completed cases for file review. The report goes to CITY_BUREAU's heads (a line per unit,
the draw, every finding as XLSX). Recorded in `inspection` / `inspection_sample`.

**Params** `period_start`/`period_end` (default: the year just ended), `units`, `full_scan`.
"""

from __future__ import annotations

from airflow.sdk import get_current_context, task

from bdcwatch.dag_defaults import CYCLE_RULES, CYCLE_TABLES, audit_dag
from bdcwatch.tasks import evaluate, load, prepare_supervision_db, resolve_run, send_mail

DAG_ID = "provincial_spot_check"
SOURCE_TABLES = CYCLE_TABLES
RULES = CYCLE_RULES


@audit_dag(DAG_ID, schedule="0 6 2 1 *", tags=["item-34", "cycle"], doc_md=__doc__)
def provincial_spot_check():
    @task
    def draw_samples(run: dict, evaluation: dict) -> dict:
        from bdcwatch import pipeline

        return pipeline.draw_spot_check(run, dag_id=DAG_ID, run_id=get_current_context()["run_id"], rule_codes=RULES)

    @task
    def compose(run: dict, evaluation: dict, samples: dict) -> list:
        from bdcwatch import pipeline

        return pipeline.compose_city_report(
            run, evaluation, samples, dag_id=DAG_ID, run_id=get_current_context()["run_id"], rule_codes=RULES,
            title="省级抽查（演练）",
        )

    run = resolve_run("year")
    loads = load.expand(table_name=SOURCE_TABLES)
    prepare_supervision_db() >> loads
    evaluation = evaluate(RULES, run, loads)
    send_mail(compose(run, evaluation, draw_samples(run, evaluation)))


provincial_spot_check()
