"""
### 年度总结 · annual summary (the plan's closing paragraph)

On 15 December at 09:00 (Asia/Shanghai): refreshes staging from every source table, then
sums up the year so far per unit and city-wide — problems found, closed (挂账销号) and
still open, overdue and escalated, e-certificate coverage, the online-handling share
against its target, and the inspection cycles held against the plan (12 monthly checks,
4 county self-inspections, 2 city checks, 1 provincial spot check). CITY_BUREAU's heads
get the whole city, each unit's heads their own part; both as HTML and XLSX.

**Params** `period_start`/`period_end` (default: 1 January to the run date), `units`,
`full_scan`.
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
    verify_audit,
)

TABLES = rules.tables_read(rules.all_rules())  # e-certificate coverage and online share need them fresh


@city_dags("annual_summary", schedule="0 9 15 12 *", **dag_settings(full_scan=True, tags=["summary", "item-34"], doc_md=__doc__))
def annual_summary():
    @audit_task
    def compose(run: dict, loads: list, audit_entries: int) -> list[int]:
        from bdcwatch.reports import annual

        return annual.compose(current_job(run))

    run = resolve_run("year_to_date")
    loads = load_tables(TABLES)
    prepared = prepare_supervision_db()
    run >> prepared >> loads
    audit = verify_audit()
    prepared >> audit
    send_mail(compose(run, loads, audit))


annual_summary()
