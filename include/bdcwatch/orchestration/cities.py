"""One DAG per city, and which city a running task belongs to (issue 13 item 5).

With a province file in force (``config.province``) each DAG file builds one DAG per
city through ``city_dags``: the home city keeps the contract id (``ecert_completeness``),
every other city gets ``<dag_id>__<code>`` (``ecert_completeness__1401``), its own
``units`` Param (that city's units) and, through ``default_args``, the Celery queue and
Airflow pool of its entry (``city_<code>`` unless the file says otherwise), so every task
of it, mapped ones included, runs there. Without a province file ``city_dags`` builds
exactly the one DAG ``airflow.sdk.dag`` would.

At run time ``task_city`` finds the running task's city from its DAG id, and
``city_policy`` / ``city_conn_id`` give that city's policy and connection ids
(``supervision_db__1401``...; the home city's are the contract's plain ids). The shared
tasks (``orchestration.tasks``) resolve through these, nowhere else.

Imported at DAG parse time: light imports only.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airflow.sdk import dag

if TYPE_CHECKING:
    from bdcwatch.config.policy import Policy
    from bdcwatch.config.province import City, Province

log = logging.getLogger(__name__)

__all__ = ["PerCity", "city_conn_id", "city_dag_kwargs", "city_dags", "city_policy", "parse_time_province", "task_city"]


def parse_time_province() -> Province | None:
    """The province in force at parse time, or None (one city). A province file that does
    not load leaves only the home city's contract DAGs (whose runs then fail with the
    policy's error and alert operations) rather than hiding every DAG behind an import
    error."""
    from bdcwatch.config.province import cached_province
    from bdcwatch.errors import PolicyError

    try:
        return cached_province()
    except PolicyError as problem:
        log.error("province file not usable, only the home city's DAGs are built: %s", problem)
        return None


def city_dag_kwargs(city: City, dag_kwargs: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of ``airflow.sdk.dag`` for ``city``: ``dag_kwargs`` (as
    ``orchestration.dag.dag_settings`` makes them) with the city's queue and pool in
    ``default_args``, its units in the ``units`` Param, a ``city_<code>`` tag, and for a
    non-home city a display name with the city's name. ``dag_kwargs`` is not changed."""
    from bdcwatch.orchestration.dag import units_param

    kwargs = dict(dag_kwargs)
    default_args = dict(kwargs.get("default_args") or {})
    if city.queue:
        default_args["queue"] = city.queue
    if city.pool:
        default_args["pool"] = city.pool
    kwargs["default_args"] = default_args
    params = dict(kwargs.get("params") or {})
    if "units" in params:
        params["units"] = units_param(city.policy)
    kwargs["params"] = params
    kwargs["tags"] = [*kwargs.get("tags", []), f"city_{city.code}"]
    return kwargs


class PerCity:
    """A schedule that differs by city (``city_dags``): ``of(city)`` gives it; ``city`` is
    None without a province file."""

    def __init__(self, of: Callable[[City | None], Any]) -> None:
        self.of = of


def _schedule(schedule: Any, city: City | None) -> Any:
    return schedule.of(city) if isinstance(schedule, PerCity) else schedule


def city_dags(dag_id: str, *, schedule: Any, **dag_kwargs: Any) -> Callable[[Callable[..., Any]], Callable[[], list[Any]]]:
    """Like ``@airflow.sdk.dag(dag_id, schedule=schedule, **dag_kwargs)``, once per city of the province in
    force. Calling the decorated function builds the DAGs and returns them (a list: one
    DAG without a province file). Each DAG's ``fileloc`` is the DAG file's, so the
    DagBag and the workers find every city's DAG in that file. ``schedule`` may be a
    ``PerCity``: its function gives each city's schedule (None: one city), e.g. a city's
    own asset, so an event announced for one city starts that city's DAG only."""

    def decorate(func: Callable[..., Any]) -> Callable[[], list[Any]]:
        fileloc = inspect.getfile(func)

        @functools.wraps(func)
        def build() -> list[Any]:
            province = parse_time_province()
            if province is None:
                built = [dag(dag_id, schedule=_schedule(schedule, None), **dag_kwargs)(func)()]
            else:
                built = []
                for city in province.cities:
                    kwargs = city_dag_kwargs(city, dag_kwargs)
                    if not city.home:
                        kwargs.setdefault("dag_display_name", f"{dag_id} · {city.name}")
                    built.append(dag(city.dag_id(dag_id), schedule=_schedule(schedule, city), **kwargs)(func)())
            for built_dag in built:
                built_dag.fileloc = fileloc
            return built

        return build

    return decorate


def task_city() -> City | None:
    """The city of the running task (from its DAG id), or None without a province file.

    Raises:
        PolicyError: the province file does not load.
    """
    from airflow.sdk import get_current_context

    from bdcwatch.config.province import cached_province

    province = cached_province()
    if province is None:
        return None
    return province.city_of_dag(str(get_current_context()["dag"].dag_id))


def city_policy() -> Policy:
    """The running task's city's policy (the one policy without a province file).

    Raises:
        PolicyError: the policy or province file does not load.
    """
    from bdcwatch.config.policy import cached_policy

    city = task_city()
    return city.policy if city is not None else cached_policy()


def city_conn_id(base: str) -> str:
    """The running task's city's id of connection ``base`` (``supervision_db`` →
    ``supervision_db__1401``); ``base`` itself for the home city or one city.
    ``smtp_default`` is shared by every city and never passes through here."""
    city = task_city()
    return city.conn_id(base) if city is not None else base
