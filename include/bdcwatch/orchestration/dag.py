"""What every bdcwatch DAG shares: timezone, start date, retries, the failure notifier,
and the contract Params. Imported at parse time, so nothing heavy here."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pendulum
from airflow.sdk import Param

from bdcwatch.orchestration.notifier import ops_failure_notifier

if TYPE_CHECKING:
    from bdcwatch.config.policy import Policy

TIMEZONE = "Asia/Shanghai"
# Early enough for any past period an operator may judge (last year's checks at go-live:
# a run for a logical date before the start date ran no task and reported success);
# ``catchup`` is off, so switching a DAG on never backfills from here.
START_DATE = pendulum.datetime(2015, 1, 1, tz=TIMEZONE)


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
    (config.run: evaluate and render into the run's log folder, mail nothing), each with
    the Chinese title and help the trigger form shows (dates get its date picker)."""
    return {
        "period_start": Param(
            None, type=["null", "string"], format="date", title="核查期间起始日（含）",
            description="YYYY-MM-DD，含当日。与截止日同时填写；两者都留空则核查本任务的默认期间（上一个自然周期，见任务说明）。",
        ),
        "period_end": Param(
            None, type=["null", "string"], format="date", title="核查期间截止日（不含）",
            description="YYYY-MM-DD，不含当日。规则按该日 0 时（北京时间）的数据状态判断，同一期间重跑结果相同。",
        ),
        "units": units_param(),
        "dry_run": Param(
            False, type=["null", "boolean"], title="试运行（不发邮件、不改台账）",
            description="勾选后只核查并生成邮件，邮件以文件形式保存在本次运行的日志目录中，不发送、不写入问题台账；任何期间都可试运行，包括尚未结束的期间。",
        ),
        **extra,
    }


def units_param(policy: Policy | None = None) -> Param:
    """``units``: a multi-select of the policy's units (names shown, DJJG codes sent; the
    run matches them case-insensitively). Reading the policy costs a few milliseconds of
    parse time; if it cannot be read the field is free text and the run itself fails with
    the policy's error (and the alert), instead of the DAG vanishing with an import error.
    ``policy``: a city's policy (``orchestration.cities``), else the policy in force."""
    try:
        from bdcwatch.config.policy import cached_policy

        units = (policy or cached_policy()).units
    except Exception:  # a broken policy must not hide the DAGs: the run reports it
        units = {}
    help_text = "不选则核查全部登记机构。"
    if not units:
        return Param(None, type=["array", "null"], items={"type": "string"}, title="登记机构（DJJG 代码）",
                     description=help_text + "每行一个 DJJG 代码；可用代码见策略文件 policy.yaml 的 units。")
    return Param(None, type=["array", "null"], items={"type": "string"}, title="登记机构",
                 description=help_text + "可多选；按登记机构代码（DJJG）核查。",
                 examples=sorted(units), values_display={code: f"{code} {unit.name}" for code, unit in units.items()})


def dag_settings(*, tags: list[str], doc_md: str | None, full_scan: bool = False,
                 **extra_params: Param) -> dict[str, Any]:
    """What every bdcwatch DAG shares (DESIGN example 4), as keyword arguments of
    ``airflow.sdk.dag``: start date in Asia/Shanghai, no catch-up, one run at a time, the
    ``bdcwatch`` tag, retries with the failure notifier, and the contract Params (plus a
    DAG's own ``extra_params``, each with a Chinese title and help).

    ``full_scan``: the default of the Param of that name. The daily DAGs read what changed
    since the watermark (their cost follows the day's changes); the weekly, monthly and
    yearly ones read their tables whole by default, which is what shows rows deleted at the
    source, keys changed in place and updates that never moved GXSJ: an incremental read
    cannot see those, so without it they were judged on stale rows until someone ticked it."""
    return {
        "start_date": START_DATE,
        "catchup": False,
        "max_active_runs": 1,
        "tags": ["bdcwatch", *tags],
        "default_args": default_args(),
        "doc_md": doc_md,
        "params": audit_params(full_scan=Param(
            full_scan, type=["boolean", "null"], title="全量重读源表",
            description=("本 DAG 默认完整重读源表（删除源系统已不存在的暂存行，发现未更新 GXSJ 的修改）；取消勾选则只读增量。"
                         if full_scan else
                         "勾选后完整重读源表（并删除源系统已不存在的暂存行），用于首次上线或源系统批量更正后；平时不勾选，只读增量"
                         "（每周、每月、每年的 DAG 默认全量重读）。")),
            **extra_params),
    }
