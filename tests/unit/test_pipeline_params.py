"""Run parameters: the contract Params, their defaults, and manual runs without a logical date."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest

from bdcwatch.config import load_policy
from bdcwatch.pipeline import resolve_run, rolling_window, run_date


def test_explicit_period_and_units():
    policy = load_policy()
    run = resolve_run({"period_start": "2026-01-01", "period_end": "2026-04-01", "units": ["YQ21"]},
                      rolling_window(date(2026, 11, 25), 7), policy)
    assert run == {"period_start": "2026-01-01", "period_end": "2026-04-01", "period_label": "2026-Q1",
                   "units": ["YQ21"]}


def test_default_period_and_bad_params():
    policy = load_policy()
    run = resolve_run({"period_start": None, "period_end": None, "units": []}, rolling_window(date(2026, 11, 25), 7), policy)
    assert (run["period_start"], run["period_end"], run["units"]) == ("2026-11-18", "2026-11-25", [])
    with pytest.raises(ValueError, match="both period_start and period_end"):
        resolve_run({"period_start": "2026-01-01"}, rolling_window(date(2026, 11, 25), 7), policy)
    with pytest.raises(ValueError, match="not in the policy"):
        resolve_run({"units": ["XX99"]}, rolling_window(date(2026, 11, 25), 7), policy)


def test_run_date_in_local_time_with_or_without_logical_date():
    policy = load_policy()
    # 17:00 UTC is 01:00 the next day in Asia/Shanghai: the scheduled run of the 26th.
    scheduled = {"logical_date": datetime(2026, 11, 25, 17, 0, tzinfo=UTC)}
    assert run_date(scheduled, policy) == date(2026, 11, 26)
    manual = {"logical_date": None, "dag_run": SimpleNamespace(run_after=datetime(2026, 11, 25, 3, 0, tzinfo=UTC))}
    assert run_date(manual, policy) == date(2026, 11, 25)


def test_sources_open_read_only(tmp_path):
    import sqlite3

    import pytest
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    from bdcwatch.airflow_io import read_only

    path = tmp_path / "registration.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x INTEGER)").connection.commit()
    engine = create_engine(read_only(make_url(f"sqlite:///{path}")))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM t")).scalar_one() == 0
        with pytest.raises(OperationalError, match="readonly"):
            conn.execute(text("INSERT INTO t VALUES (1)"))
    assert read_only(make_url("postgresql://u@h/db")) == make_url("postgresql://u@h/db")
