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

RULES = rules.select(family="case")
TABLES = rules.tables_read(RULES)


@city_dags("monthly_quality_check", schedule="0 3 1 * *", **dag_settings(full_scan=True, tags=["item-32", "cases", "cycle"], doc_md=__doc__))
def monthly_quality_check():
    @audit_task
    def draw_samples(run: dict, evaluation: dict) -> dict:
        from bdcwatch.ledger.cycles import draw_samples

        return draw_samples(current_job(run), RULES).to_xcom()

    @audit_task
    def compose(run: dict, evaluation: dict, samples: dict) -> list[int]:
        from bdcwatch.ledger.cycles import Samples
        from bdcwatch.ledger.findings import Evaluation
        from bdcwatch.reports import quality, quarantine_notice, six_prohibitions

        job = current_job(run)
        digests = quality.compose(job, Evaluation.from_xcom(evaluation), Samples.from_xcom(samples), tables=TABLES)
        return digests + quarantine_notice.compose(job, TABLES) + six_prohibitions.compose(job)

    run = resolve_run("month")
    loads = load_tables(TABLES)
    run >> prepare_supervision_db() >> loads
    evaluation = evaluate(RULES, run, loads)
    send_mail(compose(run, evaluation, draw_samples(run, evaluation)))


monthly_quality_check()
