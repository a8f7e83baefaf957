"""The weekly staff digest (plan items 21, 24, 27, 28): each unit's findings about its own
people under a roster summary of the unit's staff.

Head counts by 用工类型 and 岗位 of the people on post at as-of, and how this year's passed
training hours are spread (what the unit's heads need to plan training before year end).
Read from staging in one query over the people on post (hundreds of rows, not cases);
no personal data leaves this module.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, text

from bdcwatch.config.run import Job
from bdcwatch.ledger.findings import Evaluation
from bdcwatch.reports import unit_digest
from bdcwatch.reports.common import SummaryTable
from bdcwatch.reports.dispatch import isolated
from bdcwatch.rules.staff import on_post_sql, passed_hours_sql
from bdcwatch.store.dialect import bind_typed

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
    people_sql = f"""
        SELECT p.dwdm, p.yglx, p.gw, COALESCE(t.hours, 0) AS hours
        FROM stg_ry_jbxx p
        LEFT JOIN {passed_hours_sql(":year_start", ":asof_day")} t ON t.rybh = p.rybh
        WHERE {on_post_sql("p")}"""
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


@isolated("人员信息核查通知")
def compose(job: Job, evaluation: Evaluation) -> list[int]:
    """The weekly staff digest: each unit's new findings about its own people (ID numbers
    masked) under a roster summary. Every unit gets it once a week, findings or not: the
    roster is what its heads plan training and rotation with."""
    min_hours = job.policy.staff.min_training_hours_per_year
    as_of = job.period.as_of
    rosters = roster_summary(job.engine, as_of, min_hours)

    def headline(unit_code: str) -> list[tuple[str, Any, str]]:
        roster = rosters.get(unit_code, Roster())
        done = roster.hours_buckets.get(bucket_labels(min_hours)[-1], 0)
        return [("在岗人数", roster.on_post, "#1f4e79"), ("本年人均已获学时", f"{roster.average_hours:.1f}", "#2e7d32"),
                (f"已达{min_hours:g}学时", f"{done}/{roster.on_post}", "#546e7a")]

    def tables(unit_code: str) -> list[SummaryTable]:
        roster = rosters.get(unit_code, Roster())
        return [
            SummaryTable("在岗人员构成（用工类型）", ("用工类型", "人数"), tuple(sorted(roster.by_type.items()))),
            SummaryTable("在岗人员构成（岗位）", ("岗位", "人数"), tuple(sorted(roster.by_post.items()))),
            SummaryTable(f"本年度培训学时分布（截至 {as_of:%Y-%m-%d}，合格学时）", ("学时区间", "人数"),
                         tuple((label, roster.hours_buckets.get(label, 0)) for label in bucket_labels(min_hours))),
        ]

    result: list[int] = unit_digest.compose(
        job, evaluation, title="登记人员信息核查", plan_items="21、24、27、28", headline_for=headline,
        tables_for=tables, always_units=job.units,
    )
    return result
