"""
### 月度质量评查 · monthly quality check (plan items 26, 27, 32)

On the 1st of each month at 03:00 (Asia/Shanghai): loads the month's cases, returns,
seizures and 登簿 rows, runs **every** case rule on the whole month (automated checks
never sample), then draws for each unit a stratified (by 登记大类), reproducible sample of
at least max(10 %, 5) of its completed cases for review by hand. Each unit's heads get
their new findings and the sample as an XLSX checklist with columns for the reviewer's
verdict; the draw is recorded in `inspection` / `inspection_sample` (same month and
unit ⇒ same sample). CITY_BUREAU's heads get the monthly 六不准 report (items 26, 27): per
unit and prohibition what the rules found, and a zero report where they found nothing.

**Params** `period_start`/`period_end` (default: the month just ended), `units`, `full_scan`.
"""

from __future__ import annotations

from airflow.sdk import get_current_context, task

from bdcwatch.dag_defaults import CASE_RULES, CASE_TABLES, audit_dag
from bdcwatch.tasks import evaluate, load, prepare_supervision_db, resolve_run, send_mail

DAG_ID = "monthly_quality_check"
SOURCE_TABLES = CASE_TABLES
RULES = CASE_RULES


@audit_dag(DAG_ID, schedule="0 3 1 * *", tags=["item-32", "cases", "cycle"], doc_md=__doc__)
def monthly_quality_check():
    @task
    def draw_samples(run: dict, evaluation: dict) -> dict:
        from bdcwatch import pipeline

        return pipeline.draw_quality_samples(run, dag_id=DAG_ID, run_id=get_current_context()["run_id"], rule_codes=RULES)

    @task
    def compose(run: dict, evaluation: dict, samples: dict) -> list:
        from bdcwatch import pipeline

        run_id = get_current_context()["run_id"]
        digests = pipeline.compose_quality_digests(
            run, evaluation, samples, dag_id=DAG_ID, run_id=run_id, source_tables=SOURCE_TABLES
        )
        return digests + pipeline.compose_six_prohibitions(run, dag_id=DAG_ID, run_id=run_id)

    run = resolve_run("month")
    loads = load.expand(table_name=SOURCE_TABLES)
    prepare_supervision_db() >> loads
    evaluation = evaluate(RULES, run, loads)
    send_mail(compose(run, evaluation, draw_samples(run, evaluation)))


monthly_quality_check()
