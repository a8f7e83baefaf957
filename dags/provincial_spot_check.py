"""
### 省级抽查（演练）· provincial spot check rehearsal (plan item 34, 1× a year)

On 2 January at 06:00 (Asia/Shanghai) the city rehearses the provincial spot check of the
year just ended, as a provincial team would make it: every automated case,
e-certificate and staff rule runs on the whole year for all units, then in every unit a
stratified sample of at least max(10 %, 5) completed cases is drawn for file review (one
inspection per unit, CONTRACT §4). The report goes to CITY_BUREAU's heads (a line per unit,
the draw, every finding as XLSX); each unit's heads get their new findings and their sample
(§6), operations the quarantine notice. Recorded in `inspection` / `inspection_sample`.

**Params** `period_start`/`period_end` (default: the year just ended), `units`, `full_scan`.
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


@city_dags("provincial_spot_check", schedule="0 6 2 1 *", **dag_settings(full_scan=True, tags=["item-34", "cycle"], doc_md=__doc__))
def provincial_spot_check():
    @audit_task
    def draw_samples(run: dict, evaluation: dict) -> dict:
        from bdcwatch.ledger.cycles import draw_spot_check

        return draw_spot_check(current_job(run), RULES).to_xcom()

    @audit_task
    def compose(run: dict, evaluation: dict, samples: dict) -> list[int]:
        from bdcwatch.ledger.cycles import Samples
        from bdcwatch.ledger.findings import Evaluation
        from bdcwatch.reports import city_report, quality, quarantine_notice

        # Each unit is told of its new findings and its sample (§6), as city_check does: the
        # findings this run detects first are no other DAG's to announce.
        job, judged, drawn = current_job(run), Evaluation.from_xcom(evaluation), Samples.from_xcom(samples)
        parts = quality.compose(job, judged, drawn, tables=TABLES, title="省级抽查（演练）", plan_items="34")
        report = city_report.compose(job, judged, drawn, rule_codes=RULES, title="省级抽查（演练）")
        return parts + quarantine_notice.compose(job, TABLES) + report

    run = resolve_run("year")
    loads = load_tables(TABLES)
    run >> prepare_supervision_db() >> loads
    evaluation = evaluate(RULES, run, loads)
    send_mail(compose(run, evaluation, draw_samples(run, evaluation)))


provincial_spot_check()
