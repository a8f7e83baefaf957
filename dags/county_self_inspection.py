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


@city_dags("county_self_inspection", schedule="0 4 1 1,4,7,10 *", **dag_settings(full_scan=True, tags=["item-34", "cycle"], doc_md=__doc__))
def county_self_inspection():
    @audit_task
    def draw_samples(run: dict, evaluation: dict) -> dict:
        from bdcwatch.ledger.cycles import draw_samples

        return draw_samples(current_job(run), RULES).to_xcom()

    @audit_task
    def compose(run: dict, evaluation: dict, samples: dict) -> list[int]:
        from bdcwatch.ledger.cycles import Samples
        from bdcwatch.ledger.findings import Evaluation
        from bdcwatch.reports import quality, quarantine_notice

        job = current_job(run)
        digests = quality.compose(job, Evaluation.from_xcom(evaluation), Samples.from_xcom(samples), tables=TABLES,
                                  title="县级自查", plan_items="34")
        return digests + quarantine_notice.compose(job, TABLES)

    run = resolve_run("quarter")
    loads = load_tables(TABLES)
    run >> prepare_supervision_db() >> loads
    evaluation = evaluate(RULES, run, loads)
    send_mail(compose(run, evaluation, draw_samples(run, evaluation)))


county_self_inspection()
