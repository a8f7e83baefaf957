"""The per-unit trend chart of a digest: problems per month (by the month they happened)
and findings closed per month, as a PNG that travels inline in the mail (CID), so it
shows in clients that block remote images.

Drawn with matplotlib's Agg backend (no display). Heads read Chinese, so the legend, axis
title and unit names are Chinese whenever a CJK font is installed (``fonts-noto-cjk`` on
Debian, in the Docker image and installed by ``make system-packages``); on a server
without one the text falls back to ASCII (codes and two English words), because a chart
of empty boxes is worse than none, and a warning says which package to install. The
Chinese caption above the picture and its alt text (``chart_alt``) carry every number in
any case, for clients that show no images.
"""

from __future__ import annotations

import functools
import io
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

DETECTED_COLOR, CLOSED_COLOR = "#e65100", "#2e7d32"
SCORE_COLOR = "#1f4e79"
_DPI = 100

# Families that carry simplified Chinese, best first; the file-name stems find them even
# when matplotlib's font cache was built before the font was installed.
_CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "WenQuanYi Zen Hei",
                 "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei")
_CJK_FILE_STEMS = ("NotoSansCJK", "SourceHanSans", "wqy-zenhei", "wqy-microhei", "simhei", "msyh")


class Words(NamedTuple):
    """The text drawn inside a chart, in the language the installed fonts can show."""

    happened: str
    closed: str
    score_axis: str
    unranked: str


CHINESE = Words("发生", "销号", "综合得分（0–100）", "不参与排名")
ASCII = Words("problems", "closed", "weighted score (0-100)", "n/a")


@functools.cache
def cjk_font() -> str | None:
    """The family name of an installed CJK font matplotlib can draw with, or None.

    Looks in matplotlib's font list first, then among the system's font files (a cache
    built before ``fonts-noto-cjk`` was installed does not list it) and registers the file
    found. Cached for the process."""
    from matplotlib import font_manager

    def listed() -> str | None:
        names = {entry.name for entry in font_manager.fontManager.ttflist}
        return next((family for family in _CJK_FAMILIES if family in names), None)

    found = listed()
    if found is None:
        for path in font_manager.findSystemFonts(fontext="ttf"):  # "ttf" covers .otf and .ttc too
            if Path(path).name.startswith(_CJK_FILE_STEMS):
                font_manager.fontManager.addfont(path)
        found = listed()
    if found is None:
        log.warning("no CJK font installed (apt-get install fonts-noto-cjk): chart text falls back to ASCII")
    return found


@contextmanager
def _drawing() -> Iterator[Words]:
    """matplotlib on the Agg backend with the CJK font first in the family list, for the
    duration of one drawing (``rc_context`` restores the settings afterwards)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    family = cjk_font()
    families = [family, "DejaVu Sans"] if family else ["DejaVu Sans"]
    with matplotlib.rc_context({"font.family": "sans-serif", "font.sans-serif": families}):
        yield CHINESE if family else ASCII


def _png(figure: Figure) -> bytes:
    for side in ("top", "right"):
        figure.axes[0].spines[side].set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def trend_chart_png(points: Sequence[tuple[str, int, int]], *, width_px: int = 640, height_px: int = 220) -> bytes:
    """Grouped bars per month: (label 'YYYY-MM', happened, closed). Returns PNG bytes of
    ``width_px`` × ``height_px`` pixels."""
    from matplotlib.figure import Figure  # the OO API: no global pyplot state between tasks
    from matplotlib.ticker import MaxNLocator

    with _drawing() as words:
        figure = Figure(figsize=(width_px / _DPI, height_px / _DPI), dpi=_DPI)
        axes = figure.add_subplot()
        positions = range(len(points))
        axes.bar([x - 0.2 for x in positions], [p[1] for p in points], width=0.4, color=DETECTED_COLOR,
                 label=words.happened)
        axes.bar([x + 0.2 for x in positions], [p[2] for p in points], width=0.4, color=CLOSED_COLOR,
                 label=words.closed)
        axes.set_xticks(list(positions), [p[0] for p in points], fontsize=8)
        axes.tick_params(axis="y", labelsize=8)
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.legend(fontsize=8, frameon=False, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2)
        return _png(figure)


def chart_alt(points: Sequence[tuple[str, int, int]]) -> str:
    """The chart's numbers in Chinese, for the ``alt`` text and the text/plain part."""
    months = "；".join(f"{label} 发生 {happened} 件、销号 {closed} 件" for label, happened, closed in points)
    return f"近{len(points)}个月问题趋势：{months}"


def score_chart_png(points: Sequence[tuple[str, str, float | None]], *, width_px: int = 640,
                    height_px: int = 240) -> bytes:
    """The bulletin's ranking chart: one horizontal bar per unit, given as (DJJG code, unit
    name, weighted score 0–100 or None), best first; drawn best at the top, labelled with
    the name (the code where no CJK font is installed). A unit without a score gets no bar
    and the word for "not ranked". Returns PNG bytes."""
    from matplotlib.figure import Figure

    with _drawing() as words:
        figure = Figure(figsize=(width_px / _DPI, height_px / _DPI), dpi=_DPI)
        axes = figure.add_subplot()
        ordered = list(points)[::-1]
        bars = axes.barh(range(len(ordered)), [p[2] or 0.0 for p in ordered], color=SCORE_COLOR, height=0.6)
        for bar, (_, _, score) in zip(bars, ordered, strict=True):
            axes.text(bar.get_width() + 1, bar.get_y() + bar.get_height() / 2,
                      words.unranked if score is None else f"{score:.2f}", va="center", fontsize=8)
        labels = [name if words is CHINESE else code for code, name, _ in ordered]
        axes.set_yticks(list(range(len(ordered))), labels, fontsize=8)
        axes.set_xlim(0, 110)
        axes.tick_params(axis="x", labelsize=8)
        axes.set_xlabel(words.score_axis, fontsize=8)
        return _png(figure)
