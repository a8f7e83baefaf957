"""Rates as heads read them: percentages with one decimal, rounded down.

Rounded down, never to nearest: 1,999 of 2,000 e-certificates is 99.9 %, not 100.0 % (plan
item 16, 应发尽发、不缺不漏: 100 % must mean none missing), and a share of 29.95 % against a
30 % target reads 29.9 %, below it, as the rule judges it. Exact (Fraction) arithmetic, so
no float makes 7 of 700 read 0.9 %.
"""

from __future__ import annotations

from fractions import Fraction


def percent(part: int | Fraction, whole: int | Fraction = 1, digits: int = 1) -> float | None:
    """``part / whole`` as a percentage with ``digits`` decimals, rounded down; None when
    ``whole`` is 0 (nothing to measure)."""
    if not whole:
        return None
    scale: int = 10**digits
    return int(Fraction(part) * 100 * scale // Fraction(whole)) / scale


def percent_text(part: int | Fraction, whole: int | Fraction = 1, digits: int = 1) -> str:
    """``percent`` as ``99.9%``; ``—`` when there is nothing to measure."""
    value = percent(part, whole, digits)
    return "—" if value is None else f"{value:.{digits}f}%"
