"""
### 办件时限预警 · case timeliness watch (plan items 14, 33)

Daily at 07:30 (Asia/Shanghai), before the windows open: loads the changed cases
(DJT_DJ_SL) and 登簿 rows (DJF_DJ_DB), runs CASE_OVERDUE (completed late in the period)
and CASE_OVERDUE_OPEN (still 在办 past the deadline, whatever the acceptance date), and
sends each unit its warning list — cases already overdue and cases due within
`due_soon_working_days` working days (the CASE_DUE_SOON alert, not a ledger finding) — plus
the usual digest of new findings. It is also the daily ledger round: every finding of any
DAG past its rectification due date goes up to the unit's supervising bureau (once a
month while it stays overdue, with its history), and the audit trail's hash chain is
verified (`bdcwatch audit verify`; the task fails if any entry was tampered with). The
round also checks the yearly duties no system records (items 3, 4, 11, 19, 30): a duty
period whose deadline passed without recorded evidence becomes `DUTY_MISSED` of the unit;
and it tells each unit of the review defects (`REVIEW_DEFECT`) reviewers recorded since
the last round. Deadlines count working days on the State Council
calendar (CONTRACT §5); a year it does not know yet is flagged in the log and the mail.

**Params** `period_start`/`period_end` (default: yesterday; as-of = `period_end` 00:00),
`units`, `full_scan`.
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
    verify_audit,
)

RULES = rules.select(tag="time_limit")
TABLES = rules.tables_read(RULES)


@city_dags("case_timeliness_watch", schedule="30 7 * * *", **dag_settings(tags=["item-14", "item-33", "cases"], doc_md=__doc__))
def case_timeliness_watch():
    @audit_task
    def check_duties(run: dict, revision: str) -> list[int]:
        from bdcwatch.ledger.duties import check_missed

        return check_missed(current_job(run))

    @audit_task
    def compose(run: dict, evaluation: dict, duties: list[int]) -> list[int]:
        from bdcwatch.ledger.findings import Evaluation
        from bdcwatch.ledger.verdicts import unannounced_defects
        from bdcwatch.reports import escalation, quarantine_notice, unit_digest, watch_list

        job, judged = current_job(run), Evaluation.from_xcom(evaluation)
        digests = unit_digest.compose(job, judged, title="办件时限核查", plan_items="14、33")
        defects = unannounced_defects(job.engine)
        if defects:  # verdicts recorded in the UI or with the CLI since the last round
            digests += unit_digest.compose(job, Evaluation(), title="案卷评查不合格问题", plan_items="32",
                                           finding_ids=defects)
        notice = quarantine_notice.compose(job, TABLES)
        return digests + notice + watch_list.compose(job, judged) + escalation.compose(job)

    run = resolve_run("day")
    loads = load_tables(TABLES)
    prepared = prepare_supervision_db()
    run >> prepared >> loads
    prepared >> verify_audit()
    send_mail(compose(run, evaluate(RULES, run, loads), check_duties(run, prepared)))


case_timeliness_watch()
