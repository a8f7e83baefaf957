"""The roster summary of a unit's staff for the weekly staff digest (plan items 21, 24).

Head counts by 用工类型 and 岗位 of the people on post at as-of, and how this year's passed
training hours are spread (what the unit's heads need to plan training before year end).
Read from staging in one query over the people on post (hundreds of rows, not cases);
no personal data leaves this module.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, text

from .ledger import bind_typed

YGLX_TEXT = {1: "在编", 2: "聘用", 3: "劳务派遣", 4: "党员先锋服务岗人员"}
POSTS = ("受理", "审核", "登簿", "缮证", "发证", "查询", "综合")
# Passed hours this year, as buckets of the yearly minimum (40 h by default).
HOUR_BUCKETS = ((0.25, "不足1/4"), (0.5, "1/4–1/2"), (0.75, "1/2–3/4"), (1.0, "3/4–达标"))


@dataclass
class Roster:
    on_post: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    by_post: dict[str, int] = field(default_factory=dict)
    hours_buckets: dict[str, int] = field(default_factory=dict)
    hours_total: float = 0.0

    @property
    def average_hours(self) -> float:
        return self.hours_total / self.on_post if self.on_post else 0.0


def _bucket(hours: float, minimum: float) -> str:
    for share, label in HOUR_BUCKETS:
        if hours < share * minimum:
            return label
    return f"已达{minimum:g}学时"


def bucket_labels(minimum: float) -> list[str]:
    return [label for _, label in HOUR_BUCKETS] + [f"已达{minimum:g}学时"]


def roster_summary(engine: Engine, as_of: datetime, min_hours: float) -> dict[str, Roster]:
    """Per unit (DWDM; '' when missing), the roster of people on post at ``as_of``."""
    as_of_day = as_of.date()
    params = {"asof_day": as_of_day, "year_start": as_of_day.replace(month=1, day=1)}
    on_post = ("p.zt = 1 AND (p.sgsj IS NULL OR p.sgsj < :asof_day) "
               "AND (p.lgsj IS NULL OR p.lgsj >= :asof_day)")
    people_sql = f"""
        SELECT p.dwdm, p.yglx, p.gw, COALESCE(t.hours, 0) AS hours
        FROM stg_ry_jbxx p
        LEFT JOIN (SELECT rybh, SUM(xs) AS hours FROM stg_ry_pxjl
                   WHERE khjg = 1 AND pxrq >= :year_start AND pxrq < :asof_day GROUP BY rybh) t ON t.rybh = p.rybh
        WHERE {on_post}"""
    rosters: dict[str, Roster] = defaultdict(Roster)
    with engine.connect() as conn:
        statement = bind_typed(text(people_sql), params)
        for dwdm, yglx, gw, hours in conn.execute(statement, params):
            roster = rosters[(dwdm or "").strip()]
            roster.on_post += 1
            type_text = YGLX_TEXT.get(int(yglx), str(yglx)) if yglx is not None else "未填"
            roster.by_type[type_text] = roster.by_type.get(type_text, 0) + 1
            post = (gw or "").strip() or "未填"
            roster.by_post[post] = roster.by_post.get(post, 0) + 1
            label = _bucket(float(hours), min_hours)
            roster.hours_buckets[label] = roster.hours_buckets.get(label, 0) + 1
            roster.hours_total += float(hours)
    return dict(rosters)
