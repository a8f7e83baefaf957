"""A daily run reads the day, not the archive (issue 13 item 3; benchmarks/daily_delta.py).

SQLite plans without statistics, from the schema and the SQL alone: so on a tiny staging
whose history spans three years, the plan of every statement a daily run sends to the big
tables (staging, the ledger, the quarantine) must read through an index, never scan the
table. And the narrow-window forms of the rules find exactly what the wide forms find.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert, text

from bdcwatch import rules
from bdcwatch.config.policy import load_policy
from bdcwatch.config.run import Job, RunContext, RunSpec
from bdcwatch.dates.periods import Period, rolling_window
from bdcwatch.dates.workdays import WorkCalendar
from bdcwatch.ledger import preview
from bdcwatch.ledger.findings import run_rules
from bdcwatch.reports import quarantine_notice
from bdcwatch.reports.figures import last_months, ledger_figures, monthly_trend
from bdcwatch.rules import base as rule_base
from bdcwatch.rules.engine import rule_input
from bdcwatch.rules.time_limits import due_soon_cases
from bdcwatch.sources.quarantine import release_fixed
from bdcwatch.store.migrate import make_engine
from bdcwatch.store.models import stg_bdc_dzzz_zzxx, stg_bdc_zs, stg_djt_dj_sl

FIRST, TODAY = datetime(2023, 11, 1, 9), date(2026, 11, 20)
BIG_TABLES = ("stg_", "finding", "quarantine")


def _stage(engine: Any) -> None:
    """A certificate with two valid e-certificates and a case every 10 days for three years."""
    zs, ez, sl = [], [], []
    for i in range(110):
        at = FIRST + timedelta(days=10 * i)
        number = f"晋(2026)阳泉市不动产权第{i:07d}号"
        zs.append({"zsid": f"Z{i}", "ywh": f"Y{i}", "zslx": 1, "bdcqzh": number, "bdcqzh_norm": number,
                   "bdcdyh": "140302001001GB00001F00010001", "qlrmc": "张三", "holders_norm": "张三", "djjg": "YQ00",
                   "szsj": at, "zszt": 1, "gxsj": at, "_load_id": "t"})
        for copy in (1, 2):
            ez.append({"zzid": f"E{i}-{copy}", "zzbs": "x", "zzlxdm": "t", "bdcqzh": number, "bdcqzh_norm": number,
                       "holders_norm": "张三", "zzbfjgdm": "YQ00", "zzbfrq": at + timedelta(hours=copy), "zzzt": 1,
                       "gxsj": at, "_load_id": "t"})
        sl.append({"ywh": f"Y{i}", "djjg": "YQ00", "qxdm": "140302", "djdl": "200", "sqfs": 1, "slsj": at,
                   "ajzt": 1 if i % 7 == 0 else 2, "jssj": None if i % 7 == 0 else at + timedelta(days=9),
                   "gqts": 0, "gxsj": at, "_load_id": "t"})
    with engine.begin() as conn:
        conn.execute(insert(stg_bdc_zs), zs)
        conn.execute(insert(stg_bdc_dzzz_zzxx), ez)
        conn.execute(insert(stg_djt_dj_sl), sl)


def _full_scans(engine: Any, action: Callable[[], Any]) -> list[str]:
    """Run ``action``; return the plan lines that scan a big table whole, with their SQL."""
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool) -> None:
        if not many and statement.lstrip().upper().startswith(("SELECT", "INSERT INTO FINDING")):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    scans = []
    with engine.connect() as conn:
        for statement, parameters in seen:
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            for row in cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters):
                line = str(row[-1])
                if line.startswith("SCAN") and ("USING" in line or any(t in line for t in BIG_TABLES)):
                    scans.append(f"{line}  in  {' '.join(statement.split())[:160]}")
    return scans


@pytest.fixture
def engine(sqlite_url: Any) -> Any:
    engine = make_engine(sqlite_url.migrated("supervision"))
    _stage(engine)
    return engine


def test_daily_rules_and_digest_figures_read_through_indexes(engine):
    policy, ctx = load_policy(), RunContext("t", "daily", datetime.combine(TODAY, datetime.min.time()))
    daily = [
        (rules.select(family="ecert"), rolling_window(TODAY, 7)),
        (rules.select(tag="time_limit"), Period(TODAY - timedelta(days=1), TODAY)),
    ]
    for codes, period in daily:
        assert _full_scans(engine, lambda c=codes, p=period: run_rules(
            engine, [rules.get(code) for code in c], period=p, policy=policy, calendar=WorkCalendar(), ctx=ctx,
        )) == [], codes
    day = Period(TODAY - timedelta(days=1), TODAY)
    assert _full_scans(engine, lambda: due_soon_cases(engine, rule_input(engine, day, policy), WorkCalendar())) == []
    assert _full_scans(engine, lambda: ledger_figures(engine, rolling_window(TODAY, 7), TODAY)) == []
    assert _full_scans(engine, lambda: monthly_trend(engine, last_months(TODAY))) == []
    window = rolling_window(TODAY, 7)
    job = Job(spec=RunSpec(period_start=window.start, period_end=window.end), policy=policy, engine=engine, ctx=ctx)
    assert _full_scans(engine, lambda: preview.unannounced(job, rules.select(family="ecert"), None)) == []
    assert _full_scans(engine, lambda: quarantine_notice.compose(job, ())) == []

    def release() -> None:
        with engine.begin() as conn:
            release_fixed(conn, "BDC_ZS", [("Z1",)], ctx.now)

    assert _full_scans(engine, release) == []


@pytest.mark.parametrize("window_days", [7, 400])
def test_duplicate_narrow_and_wide_forms_agree(engine, monkeypatch, window_days):
    """ECERT_DUPLICATE restricted to the period's numbers (a narrow window) finds what the
    one pass over every e-certificate finds (the wide form)."""
    period = rolling_window(TODAY - timedelta(days=30), window_days)
    ctx = RunContext("t", "dup", datetime(2026, 11, 20, 1))

    def found(run_id: str) -> set[str]:
        run_rules(engine, [rules.get("ECERT_DUPLICATE")], period=period, policy=load_policy(),
                  calendar=WorkCalendar(), ctx=RunContext(ctx.dag_id, run_id, ctx.now))
        with engine.connect() as conn:
            return set(conn.execute(text("SELECT subject_id FROM finding WHERE last_run_id = :r"), {"r": run_id})
                       .scalars())

    natural = found("natural")
    monkeypatch.setattr(rule_base, "WIDE_PERIOD_SHARE", -1.0)  # every period takes the wide form
    assert found("wide") == natural
    assert len(natural) == len([d for d in range(110) if period.start_at <= FIRST + timedelta(days=10 * d)
                                < period.as_of])
    assert natural
