"""
### 回头看 · look-back (plan item 34, yearly)

On 3 January at 07:00 (Asia/Shanghai): every finding closed in the year just ended is
verified again by re-running its detecting rule on today's data. Where the problem is
still there the finding is reopened (closed → reopened) with an audit entry, and the unit's
heads are told which of their closed problems came back. A finding that records an event
(a case finished late, a step by an untrained person) or was reported by people is left
to people: no data can show the measures taken. Nothing is closed or deleted here;
nothing new is added to the ledger.

**Params** `period_start`/`period_end` (the closing dates to look back on; default: the
year just ended), `units`, `full_scan`.
"""

from __future__ import annotations

from bdcwatch import rules
from bdcwatch.orchestration.cities import city_dags  # airflow.sdk.dag once per city (a province file)
from bdcwatch.orchestration.dag import dag_settings
from bdcwatch.orchestration.tasks import (
    audit_task,
    current_job,
    load_tables,
    prepare_supervision_db,
    resolve_run,
    send_mail,
)

TABLES = rules.tables_read(rules.all_rules())  # any closed finding's rule may be re-run


@city_dags("look_back", schedule="0 7 3 1 *", **dag_settings(full_scan=True, tags=["item-34", "cycle"], doc_md=__doc__))
def look_back():
    @audit_task
    def verify(run: dict, loads: list) -> dict:
        from bdcwatch.ledger import lookback

        return lookback.run(current_job(run)).to_xcom()

    @audit_task
    def compose(run: dict, outcome: dict) -> list[int]:
        from bdcwatch.ledger.lookback import LookBackResult
        from bdcwatch.reports import quarantine_notice, unit_digest

        job, result = current_job(run), LookBackResult.from_xcom(outcome)
        return unit_digest.compose_reopened(job, result) + quarantine_notice.compose(job, TABLES)

    run = resolve_run("year")
    loads = load_tables(TABLES)
    run >> prepare_supervision_db() >> loads
    send_mail(compose(run, verify(run, loads)))


look_back()
