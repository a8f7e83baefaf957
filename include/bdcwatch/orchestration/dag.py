"""What every bdcwatch DAG shares: timezone, start date, retries, the failure notifier,
and the contract Params. Imported at parse time, so nothing heavy here."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Param

from bdcwatch.orchestration.notifier import ops_failure_notifier

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
    just ended) and units (DJJG codes; empty = all), as CONTRACT §2 requires, and dry_run
    (config.run: evaluate and render into the run's log folder, mail nothing)."""
    return {
        "period_start": Param(None, type=["null", "string"], description="ISO date, inclusive; empty = default period"),
        "period_end": Param(None, type=["null", "string"], description="ISO date, exclusive; rules judge as of its 00:00"),
        "units": Param([], type="array", items={"type": "string"}, description="DJJG codes; empty = all units"),
        "dry_run": Param(False, type="boolean", description="evaluate and render only: no mail, no ledger change"),
        **extra,
    }


def dag_settings(*, tags: list[str], doc_md: str | None) -> dict[str, Any]:
    """What every bdcwatch DAG shares (DESIGN example 4), as keyword arguments of
    ``airflow.sdk.dag``: start date in Asia/Shanghai, no catch-up, one run at a time, the
    ``bdcwatch`` tag, retries with the failure notifier, and the contract Params."""
    return {
        "start_date": START_DATE,
        "catchup": False,
        "max_active_runs": 1,
        "tags": ["bdcwatch", *tags],
        "default_args": default_args(),
        "doc_md": doc_md,
        "params": audit_params(full_scan=Param(False, type="boolean", description="re-read the source tables completely")),
    }
