"""The per-unit trend chart of a digest: problems per month (by the month they happened)
and findings closed per month, as a PNG that travels inline in the mail (CID), so it
shows in clients that block remote images.

Drawn with matplotlib's Agg backend (no display). Axis text stays ASCII (month labels,
numbers, a two-word legend): servers rarely have a CJK font, and a chart of empty boxes is
worse than none; the Chinese caption is in the mail's HTML above the picture and its
alt text (``chart_alt``) carries every number, for clients that show no images.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

DETECTED_COLOR, CLOSED_COLOR = "#e65100", "#2e7d32"
SCORE_COLOR = "#1f4e79"


def trend_chart_png(points: Sequence[tuple[str, int, int]], *, width_px: int = 640, height_px: int = 220) -> bytes:
    """Grouped bars per month: (label 'YYYY-MM', happened, closed). Returns PNG bytes."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure  # the OO API: no global pyplot state between tasks
    from matplotlib.ticker import MaxNLocator

    dpi = 100
    figure = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    axes = figure.add_subplot()
    positions = range(len(points))
    detected = [p[1] for p in points]
    closed = [p[2] for p in points]
    axes.bar([x - 0.2 for x in positions], detected, width=0.4, color=DETECTED_COLOR, label="problems")
    axes.bar([x + 0.2 for x in positions], closed, width=0.4, color=CLOSED_COLOR, label="closed")
    axes.set_xticks(list(positions), [p[0] for p in points], fontsize=8)
    axes.tick_params(axis="y", labelsize=8)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.legend(fontsize=8, frameon=False, loc="upper left")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def chart_alt(points: Sequence[tuple[str, int, int]]) -> str:
    """The chart's numbers in Chinese, for the ``alt`` text and the text/plain part."""
    months = "；".join(f"{label} 发生 {happened} 件、销号 {closed} 件" for label, happened, closed in points)
    return f"近{len(points)}个月问题趋势：{months}"


def score_chart_png(points: Sequence[tuple[str, float | None]], *, width_px: int = 640, height_px: int = 240) -> bytes:
    """The bulletin's ranking chart: one horizontal bar per unit (label = DJJG code, ASCII),
    its weighted score 0–100, best at the top; a unit without a score gets no bar and
    'n/a'. Returns PNG bytes."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    dpi = 100
    figure = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    axes = figure.add_subplot()
    labels = [p[0] for p in points][::-1]
    values = [p[1] or 0.0 for p in points][::-1]
    bars = axes.barh(range(len(points)), values, color=SCORE_COLOR, height=0.6)
    for bar, point in zip(bars, points[::-1], strict=True):
        axes.text(bar.get_width() + 1, bar.get_y() + bar.get_height() / 2,
                  "n/a" if point[1] is None else f"{point[1]:.2f}", va="center", fontsize=8)
    axes.set_yticks(list(range(len(points))), labels, fontsize=8)
    axes.set_xlim(0, 110)
    axes.tick_params(axis="x", labelsize=8)
    axes.set_xlabel("weighted score (0-100)", fontsize=8)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
