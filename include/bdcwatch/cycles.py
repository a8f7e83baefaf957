"""Inspection cycles (plan items 32, 34): reproducible stratified samples and the
``inspection`` / ``inspection_sample`` rows that record each cycle run per unit.

The sample is for people (hand review of case files); the rules themselves always run on
the whole population. Reproducible: the seed is derived from cycle, unit and period, and
each case's draw order from the seed and its case number, so the same period and unit
give the same sample whatever order the database returns rows in.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, func, select

from .config import Policy
from .models import finding, inspection, inspection_sample, stg_djt_dj_sl
from .periods import Period
from .sqlutil import upsert

COMPLETED = 2  # AJZT 已办结


@dataclass(frozen=True)
class SampleResult:
    unit_code: str
    population: int
    sample: list[tuple[str, str]]  # (ywh, djdl)
    seed: str


def cycle_seed(cycle: str, unit_code: str, period_label: str) -> str:
    return hashlib.sha256(f"{cycle}|{unit_code}|{period_label}".encode()).hexdigest()[:16]


def sample_size(population: int, policy: Policy) -> int:
    """max(min_sample_fraction × population, min_sample_size), never more than there is."""
    quality = policy.raw["quality_check"]
    wanted = max(math.ceil(float(quality["min_sample_fraction"]) * population), int(quality["min_sample_size"]))
    return min(population, wanted)


def stratified_sample(cases: Sequence[tuple[str, str]], size: int, seed: str) -> list[tuple[str, str]]:
    """Draw ``size`` of ``cases`` (ywh, djdl), allocated to DJDL strata in proportion
    (largest remainder), each stratum taking its cases in seeded hash order."""
    if size <= 0 or not cases:
        return []
    strata: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for case in cases:
        strata[case[1]].append(case)
    total = len(cases)
    quotas = {djdl: size * len(members) / total for djdl, members in strata.items()}
    allocation = {djdl: int(quota) for djdl, quota in quotas.items()}
    leftover = size - sum(allocation.values())
    for djdl in sorted(quotas, key=lambda d: (-(quotas[d] - allocation[d]), d))[:leftover]:
        allocation[djdl] += 1
    drawn: list[tuple[str, str]] = []
    for djdl, members in sorted(strata.items()):
        ordered = sorted(members, key=lambda c: hashlib.sha256(f"{seed}|{c[0]}".encode()).hexdigest())
        drawn.extend(ordered[: allocation[djdl]])
    return sorted(drawn)


def completed_cases(engine: Engine, period: Period, unit_code: str) -> list[tuple[str, str]]:
    """The unit's cases completed in the period (the population a quality check samples)."""
    query = (
        select(stg_djt_dj_sl.c.ywh, stg_djt_dj_sl.c.djdl)
        .where(stg_djt_dj_sl.c.djjg == unit_code)
        .where(stg_djt_dj_sl.c.ajzt == COMPLETED)
        .where(stg_djt_dj_sl.c.jssj >= period.start_at, stg_djt_dj_sl.c.jssj < period.as_of)
    )
    with engine.connect() as conn:
        return [(r.ywh, r.djdl) for r in conn.execute(query)]


def record_inspection(
    engine: Engine,
    *,
    cycle: str,
    unit_code: str,
    period: Period,
    population: Sequence[tuple[str, str]],
    sample: Sequence[tuple[str, str]],
    seed: str,
    rule_codes: Sequence[str],
    run_id: str,
    started: datetime,
    finished: datetime,
) -> int:
    """Upsert the cycle's inspection row for the unit and replace its sample."""
    with engine.begin() as conn:
        findings_count = conn.execute(
            select(func.count()).select_from(finding)
            .where(finding.c.unit_code == unit_code, finding.c.rule_code.in_(list(rule_codes)))
            .where(finding.c.last_run_id == run_id)
        ).scalar_one()
        upsert(conn, inspection, [{
            "cycle": cycle, "unit_code": unit_code, "period": period.label, "population_size": len(population),
            "sample_size": len(sample), "findings_count": findings_count, "seed": seed,
            "started_at": started, "finished_at": finished,
        }], ["cycle", "unit_code", "period"])
        inspection_id = conn.execute(
            select(inspection.c.id).where(inspection.c.cycle == cycle, inspection.c.unit_code == unit_code,
                                          inspection.c.period == period.label)
        ).scalar_one()
        conn.execute(delete(inspection_sample).where(inspection_sample.c.inspection_id == inspection_id))
        if sample:
            conn.execute(inspection_sample.insert(),
                         [{"inspection_id": inspection_id, "ywh": ywh, "djdl": djdl} for ywh, djdl in sample])
    return int(inspection_id)
