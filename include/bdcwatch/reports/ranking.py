"""The monthly ranking (plan items 32, 35; CONTRACT §8): each unit's weighted score over
the indicators of ``reports.scorecard``, its rank, and the change since last month —
stored, so a rerun of a month gives the same scores and ranking.

* **Weighted score** = Σ wᵢ·sᵢ / Σ wᵢ over the unit's indicators that are sufficient (not
  样本不足) and weigh more than 0 (policy ``bulletin.weights``), where sᵢ is the indicator's
  score rounded to hundredths as shown; the result is rounded half-up to hundredths. A
  unit with no such indicator is not ranked.
* **Rank**: 1 + the number of units with a higher score (equal scores share a rank:
  1, 2, 2, 4); unranked units come last.
* **Change**: last month's stored score and rank (else last month computed the same way
  now, without storing it, if last month was checked at all: a cycle drew its samples for
  it or a rule judged data of it; a month never checked has no findings, so it would score
  everyone near 100 and show every unit "falling"; then there is no change to show, "—").
  Δrank = last month's rank − this month's (positive = up).
* **Stored** in ``bulletin_score`` / ``bulletin_rank`` the first time a month is computed;
  afterwards that month is read back, never recomputed, unless asked (``recompute``, a
  correction: the month is computed and stored again).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import Engine, delete, select

from bdcwatch.config.policy import Policy
from bdcwatch.config.sections import INDICATORS
from bdcwatch.dates.periods import Period, previous_period
from bdcwatch.dates.workdays import WorkCalendar
from bdcwatch.reports.kpis import month_checked
from bdcwatch.reports.scorecard import CENT, Measure, cents, measure_counts, measures
from bdcwatch.store.models import bulletin_rank, bulletin_score


@dataclass(frozen=True)
class UnitScore:
    unit_code: str
    measures: dict[str, Measure]
    score: Decimal | None  # None: not ranked
    rank: int | None
    prev_score: Decimal | None = None
    prev_rank: int | None = None

    def change_text(self) -> str:
        """较上月: ↑2 / ↓1 / 持平 / — (no rank this month or last)."""
        if self.rank is None or self.prev_rank is None:
            return "—"
        moved = self.prev_rank - self.rank
        return "持平" if moved == 0 else (f"↑{moved}" if moved > 0 else f"↓{-moved}")

    def score_delta(self) -> Decimal | None:
        return None if self.score is None or self.prev_score is None else self.score - self.prev_score


@dataclass(frozen=True)
class Scorecard:
    """A month's published scorecard: every unit, ranked ones first by rank."""

    period: str
    units: list[UnitScore]
    weights: dict[str, float]
    computed_at: datetime
    run_id: str

    def fingerprint(self) -> str:
        """A short hash of what the bulletin shows: same scores ⇒ same mail key."""
        shown = [[u.unit_code, str(u.score), u.rank, str(u.prev_score), u.prev_rank,
                  [[m.indicator, m.numerator, m.denominator, m.sufficient, str(m.score)]
                   for m in u.measures.values()]] for u in self.units]
        return hashlib.sha256(json.dumps(shown, ensure_ascii=False).encode()).hexdigest()[:16]


def weighted_score(scored: Mapping[str, Measure], weights: Mapping[str, float]) -> Decimal | None:
    """Σ wᵢ·sᵢ / Σ wᵢ over sufficient indicators of positive weight (module docstring)."""
    total, weight_sum = Fraction(0), Fraction(0)
    for indicator, measure in scored.items():
        weight = Fraction(str(weights.get(indicator, 0)))
        if measure.sufficient and measure.score is not None and weight > 0:
            total += weight * Fraction(measure.score)
            weight_sum += weight
    return cents(total / weight_sum) if weight_sum else None


def ranks(scores: Mapping[str, Decimal | None]) -> dict[str, int | None]:
    """Competition ranking (1, 2, 2, 4) of the units with a score; None for the others."""
    given = [s for s in scores.values() if s is not None]
    return {unit: (None if score is None else 1 + sum(1 for other in given if other > score))
            for unit, score in scores.items()}


def compute(engine: Engine, period: Period, policy: Policy, calendar: WorkCalendar) -> list[UnitScore]:
    """Every unit's measures, weighted score and rank for ``period`` (nothing stored)."""
    counts = measure_counts(engine, period, policy, calendar)
    scored = {unit: measures(counts[unit], policy, unit) for unit in sorted(policy.units)}
    totals = {unit: weighted_score(m, policy.bulletin.weights) for unit, m in scored.items()}
    ranked = ranks(totals)
    return [UnitScore(unit, scored[unit], totals[unit], ranked[unit]) for unit in scored]


def _ordered(units: list[UnitScore]) -> list[UnitScore]:
    return sorted(units, key=lambda u: (u.rank is None, u.rank or 0, u.unit_code))


def load(engine: Engine, label: str) -> Scorecard | None:
    """The stored scorecard of month ``label`` (YYYY-MM), or None if never computed."""
    with engine.connect() as conn:
        heads = list(conn.execute(select(bulletin_rank).where(bulletin_rank.c.period == label)))
        if not heads:
            return None
        by_unit: dict[str, dict[str, Measure]] = {}
        for r in conn.execute(select(bulletin_score).where(bulletin_score.c.period == label)):
            by_unit.setdefault(r.unit_code, {})[r.indicator] = Measure(
                r.indicator, int(r.numerator), int(r.denominator), bool(r.sufficient),
                _decimal(r.score))
    units = [UnitScore(h.unit_code, {i: by_unit[h.unit_code][i] for i in INDICATORS if i in by_unit.get(h.unit_code, {})},
                       _decimal(h.score), h.rank, _decimal(h.prev_score), h.prev_rank) for h in heads]
    first = heads[0]
    return Scorecard(label, _ordered(units), json.loads(first.weights), first.computed_at, first.run_id)


def _decimal(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(CENT)


def _store(engine: Engine, card: Scorecard) -> None:
    with engine.begin() as conn:
        conn.execute(delete(bulletin_score).where(bulletin_score.c.period == card.period))
        conn.execute(delete(bulletin_rank).where(bulletin_rank.c.period == card.period))
        conn.execute(bulletin_score.insert(), [
            {"period": card.period, "unit_code": u.unit_code, "indicator": m.indicator, "numerator": m.numerator,
             "denominator": m.denominator, "sufficient": int(m.sufficient), "score": m.score}
            for u in card.units for m in u.measures.values()])
        conn.execute(bulletin_rank.insert(), [
            {"period": card.period, "unit_code": u.unit_code, "score": u.score, "rank": u.rank,
             "prev_score": u.prev_score, "prev_rank": u.prev_rank, "weights": json.dumps(card.weights),
             "computed_at": card.computed_at, "run_id": card.run_id} for u in card.units])


def monthly_scorecard(
    engine: Engine, period: Period, policy: Policy, calendar: WorkCalendar, *, now: datetime, run_id: str,
    recompute: bool = False, store: bool = True,
) -> tuple[Scorecard, bool]:
    """The month's scorecard: the stored one, else computed with last month's change and
    stored (module docstring; a dry run passes ``store=False``). Returns (scorecard,
    whether it was computed now).
    Raises ValueError when ``period`` is not one calendar month."""
    label = period.label
    if not re.fullmatch(r"\d{4}-\d{2}", label):
        raise ValueError(f"the bulletin is monthly: {label} is not one calendar month")
    if not recompute:
        stored = load(engine, label)
        if stored is not None:
            return stored, False
    before = previous_period("month", period.start)
    last = load(engine, before.label)
    if last is not None:
        previous = {u.unit_code: u for u in last.units}
    elif month_checked(engine, before):
        previous = {u.unit_code: u for u in compute(engine, before, policy, calendar)}
    else:
        previous = {}
    units = [UnitScore(u.unit_code, u.measures, u.score, u.rank,
                       previous[u.unit_code].score if u.unit_code in previous else None,
                       previous[u.unit_code].rank if u.unit_code in previous else None)
             for u in compute(engine, period, policy, calendar)]
    card = Scorecard(label, _ordered(units), dict(policy.bulletin.weights), now.replace(microsecond=0), run_id)
    if store:
        _store(engine, card)
    return card, True
