"""Online handling (plan item 12, 一网通办): ONLINE_RATIO_LOW, and the same population's
share for the digests and the annual summary (``online_shares``)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from sqlalchemy import Engine, text

from bdcwatch.config.policy import Policy, Severity
from bdcwatch.dates.periods import Period
from bdcwatch.rules.base import RuleInput, declare
from bdcwatch.rules.time_limits import CASES, mortgage_params
from bdcwatch.store.dialect import bind_typed

PRESALE_DJDL = "700"  # 预告 (incl. 预抵押): with mortgages, the scope of plan item 12
# ONLINE_RATIO_LOW's population and its online cases; the digest's and the annual
# summary's online share (``online_shares``) use the same two fragments.
ONLINE_POPULATION = f"s.slsj >= :ps AND s.slsj < :pe AND (s.djdl = '{PRESALE_DJDL}' OR s.qllx IN :mortgage_codes)"
ONLINE_COUNT = "SUM(CASE WHEN s.sqfs IN :online_sqfs THEN 1 ELSE 0 END)"


def _online_params(ri: RuleInput) -> dict[str, Any]:
    online = ri.policy.online_handling
    params: dict[str, Any] = {
        "online_sqfs": list(online.online_sqfs),
        "min_cases": online.min_cases,
        **mortgage_params(ri),
    }
    for index, unit in enumerate(sorted(ri.policy.units.values(), key=lambda u: u.code)):
        # The target as an exact fraction: comparing online × den < num × total avoids
        # float noise right at the threshold (0.3 × 20 is not 6 in binary).
        target = online.targets[unit.level]
        params[f"unit_{index}"] = unit.code
        params[f"num_{index}"], params[f"den_{index}"] = target.numerator, target.denominator
    return params


def _online_sql(ri: RuleInput) -> str:
    count = len(ri.policy.units)
    numerator = " ".join(f"WHEN :unit_{i} THEN :num_{i}" for i in range(count))
    denominator = " ".join(f"WHEN :unit_{i} THEN :den_{i}" for i in range(count))
    online = ONLINE_COUNT
    detail = ri.dialect.json_object(
        [("cases", "COUNT(*)"), ("online", online),
         ("target", f"CAST((CASE s.djjg {numerator} END) AS float) / (CASE s.djjg {denominator} END)")]
    )
    return f"""
        SELECT s.djjg AS subject_id, s.djjg AS unit_code, {detail} AS detail
        FROM stg_djt_dj_sl s
        WHERE {ONLINE_POPULATION}
        GROUP BY s.djjg
        HAVING COUNT(*) >= :min_cases
           AND {online} * (CASE s.djjg {denominator} END) < (CASE s.djjg {numerator} END) * COUNT(*)"""


@dataclass(frozen=True)
class OnlineShare:
    """A unit's online-handling share (plan item 12) against its target."""

    online: int
    cases: int
    target: Fraction

    @property
    def share(self) -> float:
        return self.online / self.cases if self.cases else 0.0

    @property
    def met(self) -> bool:
        return self.cases == 0 or self.online * self.target.denominator >= self.target.numerator * self.cases


def online_shares(engine: Engine, period: Period, policy: Policy) -> dict[str, OnlineShare]:
    """Per unit of the policy: cases accepted in ``period`` in ONLINE_RATIO_LOW's
    population, how many of them online, and the unit's target (whatever their number:
    the rule's min_cases decides only whether it judges)."""
    params = {"ps": period.start_at, "pe": period.as_of, "online_sqfs": list(policy.online_handling.online_sqfs),
              "mortgage_codes": list(policy.mortgage_qllx_codes)}
    statement = bind_typed(text(f"""
        SELECT s.djjg, COUNT(*) AS cases, {ONLINE_COUNT} AS online
        FROM stg_djt_dj_sl s
        WHERE {ONLINE_POPULATION}
        GROUP BY s.djjg"""), params)
    with engine.connect() as conn:
        counts = {row.djjg: (int(row.online or 0), int(row.cases)) for row in conn.execute(statement, params)}
    return {code: OnlineShare(*counts.get(code, (0, 0)), policy.online_target(code)) for code in policy.units}


declare(
    code="ONLINE_RATIO_LOW", event=True, severity=Severity.MEDIUM, subject_type="DJJG", family="case", reads=CASES,
    title="预告、抵押登记“一网通办”比例低于目标",
    labels={"cases": "案件数", "online": "网办数", "target": "目标"},
    explanation="本期预告登记和抵押登记中网上申请的比例低于“一网通办”目标。请加强线上渠道的推广和引导。",
    sql=_online_sql, params=_online_params, per_period=True,
)
