"""What every bdcwatch DAG shares: timezone, start date, retries, the failure notifier,
and the contract Params. Imported at parse time, so nothing heavy here."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Param

from .notify import ops_failure_notifier

TIMEZONE = "Asia/Shanghai"
START_DATE = pendulum.datetime(2026, 1, 1, tz=TIMEZONE)


def default_args() -> dict[str, Any]:
    return {
        "owner": "bdcwatch",
        "retries": 2,
        # Overridable so integration tests of failure paths do not wait minutes.
        "retry_delay": timedelta(seconds=int(os.environ.get("BDCWATCH_RETRY_DELAY_SECONDS", "300"))),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(hours=1),
        "on_failure_callback": [ops_failure_notifier()],
    }


def audit_params(**extra: Param) -> dict[str, Param]:
    """period_start / period_end (ISO dates, end exclusive; empty = the natural period
    just ended) and units (DJJG codes; empty = all), as CONTRACT §2 requires."""
    return {
        "period_start": Param(None, type=["null", "string"], description="ISO date, inclusive; empty = default period"),
        "period_end": Param(None, type=["null", "string"], description="ISO date, exclusive; rules judge as of its 00:00"),
        "units": Param([], type="array", items={"type": "string"}, description="DJJG codes; empty = all units"),
        **extra,
    }


# What the DAGs load and judge, named once (CONTRACT §3 rule codes).
ECERT_TABLES = ["BDC_ZS", "DJF_DJ_DB", "BDC_DZZZ_ZZXX"]
CASE_TABLES = ["DJT_DJ_SL", "DJF_DJ_DB", "BDC_BYSL", "QLF_QL_CFDJ"]
# Case steps (受理, 审核, 登簿) are checked against the staff registry.
STAFF_TABLES = ["DJT_DJ_SL", "DJF_DJ_SH", "DJF_DJ_DB", "RY_JBXX", "RY_PXJL"]
ECERT_RULES = ["ECERT_MISSING", "ECERT_LATE", "ECERT_NOT_REVOKED", "ECERT_MISMATCH", "ECERT_DUPLICATE",
               "ECERT_ORPHAN", "ECERT_BAD_ID"]
CASE_RULES = ["CASE_OVERDUE", "CASE_OVERDUE_OPEN", "CASE_QUEUE_JUMP", "RETURN_UNJUSTIFIED", "RETURN_REPEATED",
              "MORTGAGE_WHILE_SEALED", "ONLINE_RATIO_LOW"]
STAFF_RULES = ["STAFF_UNTRAINED_ON_POST", "STAFF_UNKNOWN_HANDLER", "STAFF_INACTIVE_HANDLER", "STAFF_TRAINING_HOURS",
               "STAFF_TRAINING_BEHIND", "STAFF_RECORD_INCOMPLETE", "STAFF_ROTATION_DUE", "STAFF_PLEDGE_MISSING"]
# The inspection cycles (item 34) check everything the machine can: cases, e-certificates, staff.
CYCLE_TABLES = list(dict.fromkeys([*CASE_TABLES, *ECERT_TABLES, *STAFF_TABLES]))
CYCLE_RULES = [*CASE_RULES, *ECERT_RULES, *STAFF_RULES]
# Every table a rule reads (look_back re-runs any rule on fresh staging).
ALL_TABLES = CYCLE_TABLES


def audit_dag(dag_id: str, *, schedule: str, tags: list[str], doc_md: str | None) -> Any:
    """The @dag decorator with everything every bdcwatch DAG shares (DESIGN example 4)."""
    from airflow.sdk import dag

    return dag(
        dag_id=dag_id,
        schedule=schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["bdcwatch", *tags],
        default_args=default_args(),
        doc_md=doc_md,
        params=audit_params(full_scan=Param(False, type="boolean", description="re-read the source tables completely")),
    )
