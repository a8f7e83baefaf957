"""What the DAG tasks call: each function is one task's work, wired to the connections.

DAG files stay thin (wiring only); everything here is plain Python that takes and returns
small JSON-able values (XCom carries counts, ids and period labels, never data).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, create_engine

from . import airflow_io
from .config import Policy, cached_policy
from .db import make_engine, migrate
from .ledger import RunContext
from .periods import Period
from .source_schema import SOURCE_TABLES
from .workdays import WorkCalendar, calendar_from_policy

log = logging.getLogger(__name__)

@lru_cache(maxsize=8)
def source_engine(conn_id: str) -> Engine:
    """A read-only engine on a source system (SQLite files are opened read-only)."""
    return create_engine(airflow_io.read_only(airflow_io.database_url(conn_id)), pool_pre_ping=True)


@lru_cache(maxsize=1)
def supervision_engine() -> Engine:
    return make_engine(airflow_io.database_url(airflow_io.SUPERVISION_DB).render_as_string(hide_password=False))


def local_now(policy: Policy) -> datetime:
    """Wall-clock time in the policy's zone, without zone (as all stored timestamps)."""
    return datetime.now(policy.timezone).replace(tzinfo=None, microsecond=0)


@dataclass(frozen=True)
class RunSpec:
    """The resolved Params of an audit run."""

    period_start: str
    period_end: str
    period_label: str
    units: list[str]

    @property
    def period(self) -> Period:
        return Period.parse(self.period_start, self.period_end)

    def as_dict(self) -> dict[str, Any]:
        return {"period_start": self.period_start, "period_end": self.period_end,
                "period_label": self.period_label, "units": self.units}


def resolve_run(params: dict[str, Any], default_period: Period, policy: Policy) -> dict[str, Any]:
    """Params → period and units, validated, with the schedule's default period."""
    start, end = params.get("period_start"), params.get("period_end")
    if bool(start) != bool(end):
        raise ValueError("give both period_start and period_end, or neither (for the schedule's default period)")
    period = Period.parse(start, end) if start else default_period
    units = [str(u) for u in (params.get("units") or [])]
    unknown = sorted(set(units) - set(policy.units))
    if unknown:
        raise ValueError(f"units {unknown} are not in the policy ({policy.source}); known: {sorted(policy.units)}")
    spec = RunSpec(period.start.isoformat(), period.end.isoformat(), period.label, units)
    log.info("run covers %s (as of %s) for %s", period.label, period.as_of, units or "all units")
    return spec.as_dict()


def run_date(context: Any, policy: Policy) -> date:
    """The local date a run stands for: its logical date, or for a manual run triggered
    without one (Airflow 3 allows that) the moment it was asked to run."""
    moment = context.get("logical_date") or context["dag_run"].run_after
    return moment.astimezone(policy.timezone).date()


def rolling_window(run_date: date, days: int) -> Period:
    """[run_date - days, run_date): for daily DAGs whose rules wait out a grace period."""
    return Period(run_date - timedelta(days=days), run_date)


def prepare_supervision_db() -> str:
    """Create or upgrade supervision_db to the newest schema."""
    revision = migrate(supervision_engine())
    log.info("supervision_db at revision %s", revision)
    return revision


def load_source_table(table_name: str, *, run_id: str, full_scan: bool) -> dict[str, Any]:
    from .extract import load_table

    source = source_engine(SOURCE_TABLES[table_name].system)  # the system name is its connection id
    policy = cached_policy()
    return load_table(
        source, supervision_engine(), table_name, run_id=run_id, full_scan=full_scan, now=local_now(policy)
    ).as_dict()


def work_calendar(policy: Policy) -> WorkCalendar:
    return calendar_from_policy(policy.raw)


def evaluate_rules(rule_codes: Sequence[str], run: dict[str, Any], *, dag_id: str, run_id: str) -> dict[str, Any]:
    """Run rules over the period; returns counts per rule and any calendar fallback."""
    from .rules import run_rules
    from .rules.registry import ALL_RULES

    policy = cached_policy()
    spec = RunSpec(**run)
    calendar = work_calendar(policy)
    outcomes = run_rules(
        supervision_engine(), [ALL_RULES[c] for c in rule_codes], period=spec.period, policy=policy,
        calendar=calendar, ctx=RunContext(dag_id, run_id, local_now(policy)), units=spec.units,
    )
    return {"outcomes": [o.as_dict() for o in outcomes], "calendar_fallback_years": sorted(calendar.fallback_years)}


def calendar_warning(fallback_years: Sequence[int]) -> str | None:
    if not fallback_years:
        return None
    years = "、".join(str(y) for y in fallback_years)
    return (f"{years}年的法定节假日及调休安排尚未配置，本次计算按周一至周五为工作日处理，"
            "相关期限可能不准确。请运维人员在策略文件 calendar 中补充。")


def compose_ecert_digests(
    run: dict[str, Any], evaluation: dict[str, Any], *, dag_id: str, run_id: str, source_tables: Sequence[str]
) -> list[int]:
    """Queue one e-certificate digest per unit with new findings (headline: coverage), and
    a notice to operations when source rows are held in quarantine."""
    from .digest.compose import compose_quarantine_report, compose_unit_digests
    from .digest.render import DigestContext
    from .rules.ecert import ecert_coverage

    policy = cached_policy()
    spec = RunSpec(**run)
    engine = supervision_engine()
    coverage = ecert_coverage(engine, spec.period, policy)
    warning = calendar_warning(evaluation.get("calendar_fallback_years", []))

    def context_for(unit_code: str) -> DigestContext:
        total, covered = coverage.get(unit_code, (0, 0))
        share = f"{covered / total:.1%}" if total else "—"
        supervisor = policy.supervisors[policy.units[unit_code].supervisor].name if unit_code in policy.units else "运维"
        return DigestContext(
            dag_id=dag_id, run_id=run_id, period_label=spec.period_label,
            period_text=f"{spec.period_start} 至 {spec.period_end}（不含）期间",
            as_of=spec.period.as_of, plan_items="16", title="电子证照完整性核查", supervisor_name=supervisor,
            ui_url=airflow_io.ui_url(dag_id), calendar_warning=warning,
            headline=(("电子证照覆盖率", share, "#2e7d32"), ("期内缮证数", total, "#1f4e79")),
        )

    ctx = RunContext(dag_id, run_id, local_now(policy))
    result = compose_unit_digests(engine, policy, ctx=ctx, units=spec.units, context_for_unit=context_for)
    notice = compose_quarantine_report(engine, policy, ctx=ctx, tables=source_tables)
    return result.queued + ([notice] if notice is not None else [])


def send_outbox(ids: Sequence[int] | None = None) -> dict[str, Any]:
    """Send pending mail; raises if the relay is down so Airflow retries with backoff."""
    from .outbox import send_pending

    policy = cached_policy()
    report = send_pending(supervision_engine(), airflow_io.smtp_settings(), now=local_now(policy), ids=ids)
    if report.failed:
        log.error("permanently refused: %s", report.failed)
    if report.pending:
        raise RuntimeError(
            f"{report.pending} message(s) could not be sent (SMTP relay unavailable); they stay in the outbox "
            "and go out on the retry or the next run"
        )
    return report.as_dict()
