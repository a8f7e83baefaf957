"""
### 电子证照完整性核查 · e-certificate completeness (plan item 16)

Every paper certificate or proof (BDC_ZS) must have a matching e-certificate in the
provincial system, issued at 登簿 and cancelled with the paper one. Daily at 01:00
(Asia/Shanghai) this DAG loads the changed rows of BDC_ZS, DJF_DJ_DB and BDC_DZZZ_ZZXX,
passes them through the Great Expectations gate (bad rows quarantined), runs the seven
ECERT_* rules and emails each unit's heads their new findings.

**Params** `period_start`/`period_end` (ISO dates, end exclusive) and `units`; by default
a rolling 7-day window ending today 00:00 — the rules wait out a 24-hour grace, so a
one-day window would never see yesterday's certificates, and findings are per
certificate, so overlapping windows update rather than duplicate. `full_scan` re-reads
the source tables completely (and drops staging rows the source no longer has).
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

RULES = rules.select(family="ecert")
TABLES = rules.tables_read(RULES)


@city_dags("ecert_completeness", schedule="0 1 * * *", **dag_settings(tags=["item-16", "e-certificate"], doc_md=__doc__))
def ecert_completeness():
    @audit_task
    def compose(run: dict, evaluation: dict) -> list[int]:
        from bdcwatch.ledger.findings import Evaluation
        from bdcwatch.reports import quarantine_notice, unit_digest

        job = current_job(run)
        digests = unit_digest.compose(job, Evaluation.from_xcom(evaluation), title="电子证照完整性核查",
                                      plan_items="16", figures=("ecert",))
        return digests + quarantine_notice.compose(job, TABLES)

    run = resolve_run("rolling", 7)
    loads = load_tables(TABLES)
    run >> prepare_supervision_db() >> loads
    send_mail(compose(run, evaluate(RULES, run, loads)))


ecert_completeness()
