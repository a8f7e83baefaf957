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

RULES = rules.select(family=("case", "ecert", "staff"))
TABLES = rules.tables_read(RULES)


@city_dags("city_check", schedule="0 5 1 1,7 *", **dag_settings(full_scan=True, tags=["item-34", "cycle"], doc_md=__doc__))
def city_check():
    @audit_task
    def draw_samples(run: dict, evaluation: dict) -> dict:
        from bdcwatch.ledger.cycles import draw_samples

        return draw_samples(current_job(run), RULES).to_xcom()

    @audit_task
    def compose(run: dict, evaluation: dict, samples: dict) -> list[int]:
        from bdcwatch.ledger.cycles import Samples
        from bdcwatch.ledger.findings import Evaluation
        from bdcwatch.reports import city_report, quality, quarantine_notice

        job, judged, drawn = current_job(run), Evaluation.from_xcom(evaluation), Samples.from_xcom(samples)
        parts = quality.compose(job, judged, drawn, tables=TABLES, title="市级排查", plan_items="34")
        report = city_report.compose(job, judged, drawn, rule_codes=RULES, title="市级排查")
        return parts + quarantine_notice.compose(job, TABLES) + report

    run = resolve_run("half")
    loads = load_tables(TABLES)
    run >> prepare_supervision_db() >> loads
    evaluation = evaluate(RULES, run, loads)
    send_mail(compose(run, evaluation, draw_samples(run, evaluation)))


city_check()
