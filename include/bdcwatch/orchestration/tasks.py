"""TaskFlow tasks shared by the DAGs, and ``audit_task`` for a DAG's own steps.

Imported at DAG parse time: nothing heavy at module level (each task body imports what
it needs when it runs). Every task fails at once, without retry, on a ``PermanentError``
(a wrong policy, schema, period or input: retrying in five minutes cannot fix it) and
alerts operations through the DAG's failure notifier; anything else (a database or relay
that does not answer) is retried with backoff.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, overload

from airflow.sdk import get_current_context, task

from bdcwatch.orchestration.cities import city_conn_id, city_policy, task_city

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from bdcwatch.config.run import Job

F = TypeVar("F", bound=Callable[..., Any])


def fail_fast(func: F) -> F:
    """Turn the engine's ``PermanentError`` into Airflow's non-retryable failure."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from bdcwatch.errors import PermanentError

        try:
            return func(*args, **kwargs)
        except PermanentError as error:
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(f"{type(error).__name__} (not retried): {error}") from error

    return wrapper  # type: ignore[return-value]


@overload
def audit_task(python_callable: Callable[..., Any]) -> Any: ...


@overload
def audit_task(python_callable: None = None, **task_kwargs: Any) -> Callable[[Callable[..., Any]], Any]: ...


def audit_task(python_callable: Callable[..., Any] | None = None, **task_kwargs: Any) -> Any:
    """``@task`` for bdcwatch steps: the same, plus ``fail_fast``. Returns Airflow's
    decorated task (typed ``Any``: Airflow's task factory is not generic)."""

    def decorate(func: Callable[..., Any]) -> Any:
        return task(**task_kwargs)(fail_fast(func))

    return decorate(python_callable) if python_callable is not None else decorate


def city_supervision_engine() -> Engine:
    """The running task's city's supervision_db (``supervision_db`` for one city)."""
    from bdcwatch.orchestration.connections import SUPERVISION_DB, supervision_engine

    return supervision_engine(city_conn_id(SUPERVISION_DB))


def current_job(run: Mapping[str, Any]) -> Job:
    """The ``Job`` of the running task: the run spec from XCom, the policy, supervision_db,
    the DAG and run ids, and the local wall clock now."""
    from bdcwatch.config.run import Job, RunContext, RunSpec
    from bdcwatch.dates.clock import local_now
    from bdcwatch.orchestration.connections import run_log_folder, smtp_sender, ui_base_url

    context = get_current_context()
    policy = city_policy()
    spec = RunSpec.from_xcom(run)
    dag_id, run_id = context["dag"].dag_id, context["run_id"]
    city = task_city()
    return Job(
        spec=spec, policy=policy, engine=city_supervision_engine(), ctx=RunContext(dag_id, run_id, local_now(policy.timezone)),
        ui_base_url=ui_base_url(), ui_city=city.code if city is not None else None,
        dry_run_dir=run_log_folder(dag_id, run_id) / "dry_run_mail" if spec.dry_run else None,
        mail_from=smtp_sender() if spec.dry_run else "bdcwatch@localhost",
    )


@audit_task
def resolve_run(default_period: str, rolling_days: int = 0, *, one_month: bool = False) -> dict[str, Any]:
    """Params → the run spec. ``default_period`` is the schedule's natural period (day,
    week, month, quarter, half, year, year_to_date) or ``rolling`` (``rolling_days``
    back), used when the run names no period. A conf key that is not a Param of the DAG,
    a bad period, an unknown unit, a period that has not ended (outside a dry run), or
    with ``one_month`` a period that is not one calendar month (the bulletin ranks a
    month), fails the run here, before anything is read."""
    import re

    from bdcwatch.config.run import RunSpec
    from bdcwatch.dates.clock import local_now
    from bdcwatch.dates.periods import local_date, previous_period, rolling_window
    from bdcwatch.errors import RunSpecError

    context = get_current_context()
    policy = city_policy()
    # The date the run stands for: its logical date, or for a manual run triggered without
    # one (Airflow 3 allows that) the moment it was asked to run, in the policy's zone.
    moment = context.get("logical_date") or context["dag_run"].run_after
    today = local_date(moment, policy.timezone)
    default = rolling_window(today, rolling_days) if default_period == "rolling" else previous_period(default_period, today)
    spec = RunSpec.resolve(
        context["params"], default_period=default, policy=policy, conf=context["dag_run"].conf or {},
        known_params=list(context["dag"].params.keys()), now=local_now(policy.timezone),
    )
    if one_month and not re.fullmatch(r"[0-9]{4}-[0-9]{2}", spec.period_label):
        raise RunSpecError(
            f"period {spec.period_label} is not one calendar month: this DAG ranks a month "
            f"(period_start the 1st, period_end the 1st of the next month)",
            zh=f"期间 {spec.period_label} 不是一个自然月：本 DAG 按月排名（period_start 为某月 1 日，period_end 为次月 1 日）")
    return spec.to_xcom()


@audit_task
def prepare_supervision_db() -> str:
    """Create or upgrade supervision_db to the newest schema (Alembic)."""
    import logging

    from bdcwatch.store.migrate import migrate

    revision = migrate(city_supervision_engine())
    logging.getLogger(__name__).info("supervision_db at revision %s", revision)
    return revision


PARALLEL_LOADS_ENV = "BDCWATCH_PARALLEL_LOADS"


def parallel_loads() -> int:
    """How many source tables one DAG run loads at once: ``BDCWATCH_PARALLEL_LOADS``, read
    when the DAG file is parsed, default 1. SQLite has one writer, so the embedded default
    loads one table at a time; with supervision_db on PostgreSQL each load writes its own
    staging table and quarantine rows, and deploy/airflow.env lets the loads of a run go
    to the Celery workers side by side.

    Raises:
        ValueError: the variable is set to anything but a positive integer (the DAG files
            then fail to import with this message, shown in the UI's import errors).
    """
    import os

    raw = os.environ.get(PARALLEL_LOADS_ENV, "1").strip()
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise ValueError(f"{PARALLEL_LOADS_ENV} must be a positive integer (tables loaded at once), not {raw!r}")
    return int(raw)


def load_tables(tables: list[str]) -> Any:
    """The run's loads: ``load`` mapped over ``tables``, ``parallel_loads()`` of them at
    once (read each time a DAG file is parsed). Returns Airflow's mapped task."""
    return load.override(max_active_tis_per_dagrun=parallel_loads()).expand(table_name=tables)


# Mapped instances show their table. One at a time unless load_tables says otherwise.
@audit_task(max_active_tis_per_dagrun=1, map_index_template="{{ task.op_kwargs['table_name'] }}")
def load(table_name: str) -> dict[str, Any]:
    """Extract one source table into staging through the quality gate."""
    from bdcwatch.dates.clock import local_now
    from bdcwatch.orchestration.connections import source_engine
    from bdcwatch.sources.extract import load_table
    from bdcwatch.sources.schema import SOURCE_TABLES

    context = get_current_context()
    full_scan = bool(context["params"].get("full_scan", False))
    zone = city_policy().timezone
    # The system name is its connection id (a city's: registration_db__1401).
    source = source_engine(city_conn_id(SOURCE_TABLES[table_name].system), zone)
    return load_table(source, city_supervision_engine(), table_name, run_id=context["run_id"], full_scan=full_scan,
                      now=local_now(zone), zone=zone).as_dict()


@audit_task
def evaluate(rule_codes: list[str], run: dict[str, Any], loads: list[Any]) -> dict[str, Any]:
    """Run the rules over the run's period and record their findings in the ledger."""
    from bdcwatch.ledger.findings import evaluate as evaluate_rules

    return evaluate_rules(current_job(run), rule_codes).to_xcom()


@audit_task
def verify_audit() -> int:
    """The hash chain of the audit trail is intact (else the task fails loudly)."""
    import logging

    from bdcwatch.ledger.audit import verify_or_raise

    checked = verify_or_raise(city_supervision_engine())
    logging.getLogger(__name__).info("audit trail intact: %d entries verified", checked)
    return checked


@audit_task(retries=3)
def send_mail(outbox_ids: list[int]) -> dict[str, Any]:
    """Send everything pending, not only this run's: mail left over from an SMTP outage
    goes out with the next run. A dry run sends nothing at all."""
    import logging

    from bdcwatch.orchestration.connections import smtp_settings
    from bdcwatch.reports.delivery_notice import send_and_report

    if get_current_context()["params"].get("dry_run"):
        logging.getLogger(__name__).warning("dry run: nothing is sent (the rendered mail is in the run's log folder)")
        return {"dry_run": True, "sent": 0}
    return send_and_report(city_supervision_engine(), city_policy(), smtp_settings()).as_dict()
