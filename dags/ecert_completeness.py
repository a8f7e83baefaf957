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

from airflow.sdk import get_current_context, task

from bdcwatch.dag_defaults import ECERT_RULES, ECERT_TABLES, audit_dag
from bdcwatch.tasks import evaluate, load, prepare_supervision_db, resolve_run, send_mail

DAG_ID = "ecert_completeness"
SOURCE_TABLES = ECERT_TABLES
RULES = ECERT_RULES


@audit_dag(DAG_ID, schedule="0 1 * * *", tags=["item-16", "e-certificate"], doc_md=__doc__)
def ecert_completeness():
    @task
    def compose_digests(run: dict, evaluation: dict) -> list:
        from bdcwatch import pipeline

        return pipeline.compose_ecert_digests(
            run, evaluation, dag_id=DAG_ID, run_id=get_current_context()["run_id"], source_tables=SOURCE_TABLES
        )

    run = resolve_run("rolling", 7)
    loads = load.expand(table_name=SOURCE_TABLES)
    prepare_supervision_db() >> loads
    send_mail(compose_digests(run, evaluate(RULES, run, loads)))


ecert_completeness()
