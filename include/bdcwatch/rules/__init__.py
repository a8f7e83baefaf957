"""Rules: each is one set-based SQL query over staging, recorded into the ledger.

A rule's SQL returns ``subject_id``, ``unit_code`` and ``detail`` (JSON text); the ledger
turns rows into findings. Parameters shared by all rules:

* ``:ps`` / ``:pe``  period start / end (end exclusive) as timestamps;
* ``:asof``          = ``:pe``: data are judged as they stood then (CONTRACT §2);
* rule-specific parameters from the policy, always bound, never spliced.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, text

from ..config import Policy
from ..ledger import RunContext, record_findings
from ..periods import Period
from ..sqlutil import Dialect
from ..workdays import WorkCalendar

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RuleInput:
    """Everything a rule may read besides staging."""

    period: Period
    policy: Policy
    dialect: Dialect
    engine: Engine | None = None
    _shares: dict[tuple[str, str], float] = field(default_factory=dict, compare=False, repr=False)

    @property
    def base_params(self) -> dict[str, Any]:
        return {"ps": self.period.start_at, "pe": self.period.as_of, "asof": self.period.as_of}

    def period_share(self, table: str, column: str) -> float:
        """The share (0..1) of ``table``'s time span, by ``column``, that the period covers.

        SQLite plans without range statistics: for a period covering most of the archive
        (a yearly cycle, a benchmark) a scan in key order beats the time index, for a
        daily window the reverse. Rules use this to choose; ``table`` and ``column`` are
        code constants. Read once per run from the column's index (min/max).
        """
        key = (table, column)
        if key not in self._shares:
            share = 0.0
            if self.engine is not None:
                with self.engine.connect() as conn:
                    # Two statements: SQLite answers a lone MIN or MAX from the index, not both.
                    low = conn.execute(text(f"SELECT MIN({column}) FROM {table}")).scalar()
                    high = conn.execute(text(f"SELECT MAX({column}) FROM {table}")).scalar()
                if low is not None and high is not None:
                    low, high = _as_datetime(low), _as_datetime(high)
                    span = (high - low).total_seconds() or 1.0
                    overlap = (min(high, self.period.as_of) - max(low, self.period.start_at)).total_seconds()
                    share = max(0.0, min(1.0, overlap / span))
            self._shares[key] = share
        return self._shares[key]


def _as_datetime(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


@dataclass(frozen=True)
class Rule:
    code: str
    severity: str
    subject_type: str
    per_period: bool  # findings carry the period label (else period is null)
    sql: Callable[[RuleInput], str]
    params: Callable[[RuleInput], dict[str, Any]]
    description: str
    needs_calendar: bool = False  # reads supervision_db.work_calendar (deadlines)
    # The period label of a per-period rule when it is not the run's period (a yearly
    # obligation judged by a weekly run is labelled with its year).
    label: Callable[[RuleInput], str] | None = None

    def period_label(self, rule_input: RuleInput) -> str | None:
        if not self.per_period:
            return None
        return self.label(rule_input) if self.label else rule_input.period.label


@dataclass(frozen=True)
class RuleOutcome:
    rule_code: str
    detected: int
    new: int

    def as_dict(self) -> dict[str, Any]:
        return {"rule_code": self.rule_code, "detected": self.detected, "new": self.new}


def run_rules(
    engine: Engine,
    rules: Sequence[Rule],
    *,
    period: Period,
    policy: Policy,
    calendar: WorkCalendar,
    ctx: RunContext,
    units: Sequence[str] | None = None,
) -> list[RuleOutcome]:
    """Run each rule over the whole population of the period and record its findings."""
    rule_input = RuleInput(period, policy, Dialect(engine.dialect.name), engine)
    if any(rule.needs_calendar for rule in rules):
        from ..calendar_table import refresh_work_calendar

        with engine.begin() as conn:
            first, last = refresh_work_calendar(conn, calendar, period.as_of)
        log.info("working-day calendar %s..%s written%s", first, last,
                 f" (weekend fallback for {sorted(calendar.fallback_years)})" if calendar.fallback_years else "")
    outcomes = []
    for rule in rules:
        select_sql = rule.sql(rule_input)
        params = {**rule_input.base_params, **rule.params(rule_input)}
        if units:
            # Filter on the finding's unit only when the operator narrowed the run: with
            # all units, a row whose DJJG is not in the policy still becomes a finding.
            select_sql = f"SELECT * FROM ({select_sql}) u WHERE u.unit_code IN :units"
            params["units"] = list(units)
        due = calendar.add_working_days(ctx.now.date(), policy.rectification_working_days[rule.severity])
        with engine.begin() as conn:
            detected, new = record_findings(
                conn,
                rule_code=rule.code,
                severity=rule.severity,
                subject_type=rule.subject_type,
                period=rule.period_label(rule_input),
                due_date=due,
                select_sql=select_sql,
                params=params,
                ctx=ctx,
            )
        log.info("%s: %d detected, %d new (period %s, as of %s)", rule.code, detected, new, period.label,
                 period.as_of.isoformat(sep=" "))
        outcomes.append(RuleOutcome(rule.code, detected, new))
    return outcomes



def detect_subjects(
    engine: Engine, rule: Rule, *, period: Period, policy: Policy, calendar: WorkCalendar
) -> set[str]:
    """The subjects ``rule`` flags for ``period`` on the current staging data, without
    touching the ledger (look-back verification)."""
    from sqlalchemy import text

    from ..ledger import bind_typed

    rule_input = RuleInput(period, policy, Dialect(engine.dialect.name), engine)
    if rule.needs_calendar:
        from ..calendar_table import refresh_work_calendar

        with engine.begin() as conn:
            refresh_work_calendar(conn, calendar, period.as_of)
    params = {**rule_input.base_params, **rule.params(rule_input)}
    statement = text(f"SELECT r.subject_id FROM ({rule.sql(rule_input)}) r")
    with engine.connect() as conn:
        return {str(row[0]) for row in conn.execute(bind_typed(statement, params), params)}
