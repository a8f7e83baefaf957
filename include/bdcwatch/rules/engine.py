"""Running rules: a rule's detection query for a period, and the subjects it flags.

Recording what a rule finds is the ledger's business (``ledger.findings.run_rules``);
here a rule only becomes SQL with its bound parameters, over staging as of the period end.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, text

from bdcwatch.config.policy import Policy
from bdcwatch.dates.periods import Period
from bdcwatch.dates.workdays import WorkCalendar
from bdcwatch.rules.base import Rule, RuleInput
from bdcwatch.store.dialect import Dialect, bind_typed

log = logging.getLogger(__name__)


def rule_input(engine: Engine, period: Period, policy: Policy) -> RuleInput:
    return RuleInput(period, policy, Dialect(engine.dialect.name), engine)


def prepare_calendar(engine: Engine, rules: Sequence[Rule], calendar: WorkCalendar, period: Period) -> None:
    """Write the working-day calendar table when any of ``rules`` counts working days."""
    if not any(rule.needs_calendar for rule in rules):
        return
    from bdcwatch.rules.calendar_table import refresh_work_calendar

    with engine.begin() as conn:
        first, last = refresh_work_calendar(conn, calendar, period.as_of)
    log.info("working-day calendar %s..%s written%s", first, last,
             f" (weekend fallback for {sorted(calendar.fallback_years)})" if calendar.fallback_years else "")


def detection(rule: Rule, ri: RuleInput, units: Sequence[str] | None = None) -> tuple[str, dict[str, Any]]:
    """The rule's SELECT (subject_id, unit_code, detail) and its parameters. With
    ``units``, only findings of those units; without, every row, including one whose DJJG
    is not in the policy (it still becomes a finding, routed to operations)."""
    sql = rule.detection_sql(ri)
    params = {**ri.base_params, **rule.params(ri)}
    if units:
        sql = f"SELECT * FROM ({sql}) u WHERE u.unit_code IN :units"
        params["units"] = list(units)
    return sql, params


def detect_subjects(
    engine: Engine, rule: Rule, *, period: Period, policy: Policy, calendar: WorkCalendar
) -> set[str]:
    """The subjects ``rule`` flags for ``period`` on the current staging data, without
    touching the ledger (look-back verification)."""
    prepare_calendar(engine, [rule], calendar, period)
    sql, params = detection(rule, rule_input(engine, period, policy))
    statement = text(f"SELECT r.subject_id FROM ({sql}) r")
    with engine.connect() as conn:
        return {str(row[0]) for row in conn.execute(bind_typed(statement, params), params)}
