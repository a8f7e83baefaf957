"""The monthly 六不准 report (plan items 26, 27) to CITY_BUREAU: per unit and per
prohibition, what the machine found this month, and an explicit zero report where it found
nothing — the plan's 零报告制度 means "nothing found" must be said, not left unsaid.

Three of the six prohibitions (leaking data, steering clients to agents, taking fees) leave
no trace in the systems bdcwatch reads; the report says so instead of reporting a zero it
cannot vouch for, and leaves them to the units' own monthly return.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, and_, func, or_, select

from .codes import mask_id_numbers
from .config import Person, Policy
from .digest.render import render_template, workbook
from .models import finding


@dataclass(frozen=True)
class Prohibition:
    text: str
    rules: tuple[str, ...]  # empty: not machine-checkable from the source systems


PROHIBITIONS: tuple[Prohibition, ...] = (
    Prohibition("不准违法违规办理不动产登记",
                ("MORTGAGE_WHILE_SEALED", "STAFF_UNKNOWN_HANDLER", "STAFF_INACTIVE_HANDLER", "STAFF_UNTRAINED_ON_POST")),
    Prohibition("不准随意增加登记材料或环节", ("RETURN_UNJUSTIFIED", "RETURN_REPEATED")),
    Prohibition("不准泄露不动产登记资料信息", ()),
    Prohibition("不准指定或变相指定中介服务", ()),
    Prohibition("不准收取“好处费”或乱收费", ()),
    Prohibition("不准“推绕拖”刁难办事群众（含加急、插队，第27项）", ("CASE_OVERDUE", "CASE_OVERDUE_OPEN", "CASE_QUEUE_JUMP")),
)
CASE_RULE_PREFIXES = ("CASE_", "RETURN_", "MORTGAGE_")


def monthly_counts(engine: Engine, *, run_id: str, since: datetime, until: datetime) -> dict[tuple[str, str], int]:
    """(unit, rule) → findings of the 六不准 rules for the month: the case rules this run
    judged on the month's data, plus the staff rules' findings first detected by the weekly
    staff audits from the month's start until now."""
    rules = sorted({rule for p in PROHIBITIONS for rule in p.rules})
    case_rules = [r for r in rules if r.startswith(CASE_RULE_PREFIXES)]
    staff_rules = [r for r in rules if r not in case_rules]
    query = (
        select(finding.c.unit_code, finding.c.rule_code, func.count())
        .where(or_(
            and_(finding.c.rule_code.in_(case_rules), finding.c.last_run_id == run_id),
            and_(finding.c.rule_code.in_(staff_rules), finding.c.first_detected_at >= since,
                 finding.c.first_detected_at < until),
        ))
        .group_by(finding.c.unit_code, finding.c.rule_code)
    )
    with engine.connect() as conn:
        return {(unit or "", rule): int(n) for unit, rule, n in conn.execute(query)}


def render_six_prohibitions(
    counts: dict[tuple[str, str], int], *, policy: Policy, units: Sequence[str], heads: Sequence[Person],
    period_label: str, period_text: str, dag_id: str, run_id: str,
) -> tuple[str, str, bytes]:
    """Subject, HTML and workbook (pure)."""
    import pandas as pd

    table = []
    for code in units:
        cells = []
        for p in PROHIBITIONS:
            cells.append(sum(counts.get((code, rule), 0) for rule in p.rules) if p.rules else None)
        table.append({"code": code, "name": policy.units[code].name, "cells": cells,
                      "total": sum(c for c in cells if c is not None)})
    total = sum(row["total"] for row in table)
    zero = total == 0
    verdict = "零报告" if zero else f"发现问题 {total} 项"
    subject = f"【不动产登记监督】“六不准”月报（{period_label}）：{verdict}"
    html = render_template("six_prohibitions.html.j2",
        subject=subject, heads=heads, prohibitions=PROHIBITIONS, table=table, total=total, zero=zero,
        period_label=period_label, period_text=period_text, dag_id=dag_id, run_id=run_id,
    )
    frame = pd.DataFrame(
        [{"登记机构": row["name"], **{p.text: ("不适用（无系统数据）" if c is None else c)
                                    for p, c in zip(PROHIBITIONS, row["cells"], strict=True)},
          "合计": row["total"], "结论": "零报告" if row["total"] == 0 else "有问题"} for row in table]
    )
    return mask_id_numbers(subject), mask_id_numbers(html), workbook({f"六不准 {period_label}": frame})
