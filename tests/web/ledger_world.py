"""A small supervision_db for the web tests, filled through the engine's own functions
(``record_findings``, ``change_status``, ``enqueue``, ``record_inspection``,
``quarantine.hold``) plus a few staging rows for the KPIs. Helpers, not tests."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, select

from bdcwatch.config.run import RunContext
from bdcwatch.ledger.findings import record_findings
from bdcwatch.ledger.lifecycle import change_status
from bdcwatch.store.migrate import make_engine
from bdcwatch.store.models import finding

LONG_AGO = date(2020, 1, 6)  # a due date every "today" is after: overdue while open
FAR_AHEAD = date(2099, 12, 31)  # never overdue
SCRIPT = "<script>alert('x')</script>"
ID_NUMBER = "110101199003074578"  # a GB 11643-shaped ID number: must never be shown whole
MASKED_ID = "110*************78"


@dataclass
class LedgerWorld:
    url: str
    engine: Engine
    ids: dict[str, int] = field(default_factory=dict)  # a name → finding id

    def add(self, name: str, rule: str, subject: str, unit: str | None, *, severity: str = "medium",
            period: str | None = None, due: date = FAR_AHEAD, detail: dict[str, Any] | None = None,
            at: datetime = datetime(2025, 1, 5, 9, 0), as_of: datetime | None = None) -> int:
        """One finding as a DAG run records it (with its detection event); ``as_of``: the
        run's as-of (the end of the period it judged), None as for a run without one."""
        with self.engine.begin() as conn:
            record_findings(
                conn, rule_code=rule, severity=severity, subject_type=_subject_type(rule), period=period, due_date=due,
                select_sql="SELECT :s AS subject_id, :u AS unit_code, :d AS detail",
                params={"s": subject, "u": unit, "d": json.dumps(detail or {}, ensure_ascii=False), "asof": as_of},
                ctx=RunContext("test_dag", f"run-{name}", at),
            )
            found = conn.execute(select(finding.c.id).where(finding.c.subject_id == subject,
                                                            finding.c.rule_code == rule)).scalar_one()
        self.ids[name] = int(found)
        return int(found)

    def move(self, name: str, to: str, *, actor: str = "张科长", note: str = "已整改",
             at: datetime = datetime(2025, 1, 20, 10, 0)) -> None:
        with self.engine.begin() as conn:
            change_status(conn, [self.ids[name]], to, actor=actor, note=note, now=at)

    def row(self, name: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(select(finding).where(finding.c.id == self.ids[name])).one()


def _subject_type(rule: str) -> str:
    from bdcwatch import rules

    return rules.get(rule).subject_type


def new_world(url: str) -> LedgerWorld:
    return LedgerWorld(url, make_engine(url))


def standard_ledger(world: LedgerWorld) -> LedgerWorld:
    """Thirty findings across units, rules, severities, statuses, periods and due dates,
    first detected one a day in January 2025 (so id order is detection order)."""
    units = ["YQ00", "YQ11", "YQ21", "YQ22", "YQGX"]
    rule_cycle = [("ECERT_MISSING", "high"), ("CASE_OVERDUE", "medium"), ("STAFF_RECORD_INCOMPLETE", "low")]
    for i in range(30):
        rule, severity = rule_cycle[i % 3]
        subject = f"晋(2025)阳泉市不动产权第{i:07d}号" if rule.startswith("ECERT") else f"YWH-2025-{i:04d}"
        if rule.startswith("STAFF"):
            subject = f"RY{i:04d}"
        world.add(f"f{i}", rule, subject, units[i % 5], severity=severity,
                  period="2025-01" if i % 2 == 0 else None, due=LONG_AGO if i % 4 == 0 else FAR_AHEAD,
                  at=datetime(2025, 1, 1 + i, 8, 0))
    for i in (3, 6, 9):
        world.move(f"f{i}", "rectifying")
    for i in (12, 15):
        world.move(f"f{i}", "rectifying", at=datetime(2025, 1, 18, 10, 0))
        world.move(f"f{i}", "closed")
    return world
