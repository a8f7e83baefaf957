"""
### 评价排名通报 · monthly bulletin (plan items 32, 35)

On the 5th of each month at 08:00 (Asia/Shanghai), when the month's checks and the first
reviews are in: loads the changed cases, certificates, e-certificates and staff records,
then scores every unit on the month just ended (as of its last midnight) — e-certificate
coverage, on-time completion, online share against the unit's target, findings per 1,000
cases, rectifications closed on time, staff training on track — weights the scores with
policy `bulletin.weights`, ranks the units and compares with last month. An indicator with
too few cases for a unit is shown as 样本不足 and not scored. The scorecard is stored: a
rerun of the month reads it back and sends nothing again. CITY_BUREAU's heads and every
unit's heads get the 通报 (ranking table, chart, XLSX with each numerator and denominator).

**Params** `period_start`/`period_end` (default: the month just ended; must be one
calendar month), `units` (only these units' heads are mailed; the ranking always covers
every unit), `full_scan`, `recompute` (a correction: compute and store the month again;
mailed again only if the scores changed).
"""

from __future__ import annotations

from airflow.sdk import Param

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

TABLES = ["DJT_DJ_SL", "BDC_ZS", "BDC_DZZZ_ZZXX", "RY_JBXX", "RY_PXJL"]  # reports.scorecard.TABLES (kept light here)
SETTINGS = dag_settings(full_scan=True, tags=["item-32", "item-35", "bulletin"], doc_md=__doc__, recompute=Param(
    False, type=["boolean", "null"], title="重新计算并更正",
    description="勾选后重新计算该月评分并存档；分数有变化时作为更正通报再次发出。平时不勾选：重跑读取已存档的评分，不重复发送。"))


@city_dags("monthly_bulletin", schedule="0 8 5 * *", **SETTINGS)
def monthly_bulletin():
    @audit_task
    def compose(run: dict, loads: list) -> list[int]:
        from airflow.sdk import get_current_context

        from bdcwatch.reports import bulletin

        recompute = bool(get_current_context()["params"].get("recompute", False))
        return bulletin.compose(current_job(run), recompute=recompute)

    run = resolve_run("month", one_month=True)
    loads = load_tables(TABLES)
    run >> prepare_supervision_db() >> loads
    send_mail(compose(run, loads))


monthly_bulletin()
