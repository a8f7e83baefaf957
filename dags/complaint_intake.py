"""
### 投诉举报受理 · complaint intake (plan item 31)

Every hour, and at once when a script's drop announces the asset `bdcwatch://intake/complaints`
(a province's other cities: `bdcwatch://intake/complaints/<code>`, so a drop starts its
city's intake only; `POST /api/v2/assets/events` with that URI; the UI's upload is taken in at once by the
same per-file function, and this run mails it): takes in the 12345 /
好差评 / 信访 exports (CSV in UTF-8, UTF-8 with BOM or GB18030, or XLSX; columns 工单编号,
来源, 受理时间, 被反映单位, 业务号, 内容, 诉求类型) waiting in the policy's
`intake.complaints_dir`. Each row becomes a `COMPLAINT` finding of the unit it names (DJJG
or the unit's name), 内容 kept with ID numbers masked, severity by 诉求类型; the same
工单编号 again updates its finding. Rows naming no known unit are quarantined and reported
to operations. Each file is moved to `archive/<date>/`; a file taken in before changes
nothing. Each unit's heads get the complaints new to them, the mail named by the
complaints' 受理时间 (the run's window only as a secondary line).

**Params** `period_start`/`period_end`/`units` are accepted like every bdcwatch DAG's and
not used: the intake takes whatever files are waiting.
"""

from __future__ import annotations

from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable

from bdcwatch.orchestration.cities import PerCity, city_dags  # airflow.sdk.dag once per city (a province file)
from bdcwatch.orchestration.dag import TIMEZONE, dag_settings
from bdcwatch.orchestration.tasks import audit_task, current_job, prepare_supervision_db, resolve_run, send_mail

COMPLAINTS_UPLOADED = "bdcwatch://intake/complaints"  # a province's other cities: .../complaints/<code>


def schedule(city):  # hourly, or at once when a drop announces the city's own asset
    uri = COMPLAINTS_UPLOADED if city is None or city.home else f"{COMPLAINTS_UPLOADED}/{city.code}"
    return AssetOrTimeSchedule(timetable=CronTriggerTimetable("0 * * * *", timezone=TIMEZONE),
                               assets=[Asset(uri, group="bdcwatch")])


@city_dags("complaint_intake", schedule=PerCity(schedule), **dag_settings(tags=["item-31", "intake"], doc_md=__doc__))
def complaint_intake():
    @audit_task
    def take_in(run: dict, revision: str) -> dict:
        from bdcwatch.intake.complaints import take_in

        return take_in(current_job(run)).to_xcom()

    @audit_task
    def compose(run: dict, intake: dict) -> list[int]:
        from bdcwatch.intake.complaints import TABLE
        from bdcwatch.ledger.findings import Evaluation
        from bdcwatch.reports import quarantine_notice, unit_digest

        job = current_job(run)
        digests = unit_digest.compose(job, Evaluation(), title="群众反映问题转办", plan_items="31",
                                      dated_by_findings=True)  # named by the complaints' 受理时间
        return digests + quarantine_notice.compose(job, [TABLE])

    run = resolve_run("day")
    prepared = prepare_supervision_db()
    run >> prepared  # nothing is read before the run spec is valid
    send_mail(compose(run, take_in(run, prepared)))


complaint_intake()
