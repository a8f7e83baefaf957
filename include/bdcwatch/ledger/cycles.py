"""Inspection cycles (plan items 32, 34): reproducible stratified samples and the
``inspection`` / ``inspection_sample`` rows that record each cycle run per unit.

The sample is for people (hand review of case files); the rules themselves always run on
the whole population. Reproducible: the seed is derived from cycle, unit and period, and
each case's draw order from the seed and its case number, so the same period and unit
give the same sample whatever order the database returns rows in.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import Engine, delete, func, select

from bdcwatch.config.policy import Policy
from bdcwatch.config.run import Job
from bdcwatch.dates.periods import Period
from bdcwatch.store.dialect import upsert
from bdcwatch.store.models import finding, inspection, inspection_sample, stg_djt_dj_sl
from bdcwatch.xcom import XcomModel

log = logging.getLogger(__name__)

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
    quality = policy.quality_check
    wanted = max(math.ceil(quality.min_sample_fraction * population), quality.min_sample_size)
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
    """Upsert the cycle's inspection row for the unit and bring its sample to ``sample``
    (cases already drawn keep their row and verdict)."""
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
        # Keep the rows already drawn (they carry reviewers' verdicts, CONTRACT §8): a rerun
        # draws the same sample, so normally nothing moves; only cases no longer drawn (the
        # staged population changed) leave, and newly drawn ones come in.
        drawn = dict(sample)
        kept = set(conn.execute(
            select(inspection_sample.c.ywh).where(inspection_sample.c.inspection_id == inspection_id)).scalars())
        gone = sorted(kept - set(drawn))
        if gone:
            conn.execute(delete(inspection_sample).where(inspection_sample.c.inspection_id == inspection_id)
                         .where(inspection_sample.c.ywh.in_(gone)))
        new = [{"inspection_id": inspection_id, "ywh": ywh, "djdl": djdl} for ywh, djdl in sample if ywh not in kept]
        if new:
            conn.execute(inspection_sample.insert(), new)
    return int(inspection_id)


class Drawn(BaseModel):
    """One unit's draw in a cycle (XCom-sized). ``inspection_id`` 0: a dry run's draw,
    not recorded (``unit_sample`` draws it again, the same)."""

    population: int
    sample: int
    inspection_id: int


class Samples(XcomModel):
    """What a cycle's draw task hands on: each drawn unit's counts and inspection row."""

    units: dict[str, Drawn] = {}




def unit_sample(job: Job, unit_code: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]], str]:
    """(population, sample, seed) of the unit in the job's cycle: the same on every call."""
    population = completed_cases(job.engine, job.spec.period, unit_code)
    seed = cycle_seed(job.ctx.dag_id, unit_code, job.spec.period_label)
    return population, stratified_sample(population, sample_size(len(population), job.policy), seed), seed


def draw_samples(job: Job, rule_codes: Sequence[str], units: Sequence[str] | None = None) -> Samples:
    """Draw each unit's stratified, reproducible sample of completed cases (plan item 32)
    and record the inspection rows (CONTRACT §4); a dry run records nothing."""
    spec, engine, ctx = job.spec, job.engine, job.ctx
    drawn: dict[str, Drawn] = {}
    for unit_code in units if units is not None else job.units:
        started = job.now()
        population, sample, seed = unit_sample(job, unit_code)
        if job.dry_run:
            drawn[unit_code] = Drawn(population=len(population), sample=len(sample), inspection_id=0)
            continue
        inspection_id = record_inspection(
            engine, cycle=ctx.dag_id, unit_code=unit_code, period=spec.period, population=population, sample=sample,
            seed=seed, rule_codes=rule_codes, run_id=ctx.run_id, started=started, finished=job.now(),
        )
        drawn[unit_code] = Drawn(population=len(population), sample=len(sample), inspection_id=inspection_id)
        log.info("%s %s: sampled %d of %d completed cases (seed %s)", ctx.dag_id, unit_code, len(sample),
                 len(population), seed)
    return Samples(units=drawn)


def draw_spot_check(job: Job, rule_codes: Sequence[str]) -> Samples:
    """The provincial spot check's samples: every unit's, as in every cycle (CONTRACT §4:
    "inspection: one row per cycle run and unit"), over the year the rules judged for all
    units. A province that visits only some units picks them among these inspections."""
    return draw_samples(job, rule_codes)
