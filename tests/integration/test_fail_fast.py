"""What a retry cannot fix fails at once and tells operations (issue 9, point 6): a source
without a table, a period that is no date, a misspelt conf key, a broken policy. The
DagRun fails on the first try of the task that met the problem, and operations get the
failure alert naming it; a broken policy does not silence the alert."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bdcwatch.config.policy import load_policy

PERIOD = {"period_start": "2026-03-01", "period_end": "2026-04-01"}


@pytest.fixture
def world(make_world):
    return make_world("sqlite", size=200, seed=5, start=date(2026, 3, 1), end=date(2026, 4, 1))


def tries(airflow_env, run_id: str, task_id: str) -> int:
    engine = create_engine(f"sqlite:///{airflow_env.home / 'airflow.db'}")
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT MAX(try_number) FROM task_instance WHERE run_id = :r AND task_id = :t"),
                                {"r": run_id, "t": task_id}).scalar_one())


def alerts(smtp_server, to: str) -> list:
    return [m for m in smtp_server.received if m.envelope_to == [to] and "task failed" in m.message["Subject"]]


def test_a_missing_source_table_fails_the_load_at_once_and_alerts(airflow_env, world, smtp_server):
    with create_engine(world.urls["registration"]).begin() as conn:
        conn.execute(text("DROP TABLE BDC_ZS"))
    outcome = airflow_env.run_dag("ecert_completeness", "2026-04-01", world.conf, world.connections, expect="failed")
    (failed_load,) = [task for task, state in outcome.tasks.items() if task.startswith("load[") and state == "failed"]
    assert tries(airflow_env, outcome.run_id, "load") == 1, "a schema error must not be retried"
    (alert,) = alerts(smtp_server, load_policy().operations_email)
    assert "SourceSchemaError" in alert.html and "BDC_ZS" in alert.html and "not retried" in alert.html
    assert failed_load


@pytest.mark.parametrize(("conf", "words"), [
    ({"period_start": "2026-04-01", "period_end": "2026-01-01"}, "must be after"),
    ({**PERIOD, "unit": ["YQ00"]}, "did you mean &#39;units&#39;"),
    ({**PERIOD, "units": ["XX99"]}, "not in the policy"),
])
def test_a_bad_run_request_fails_before_anything_is_read(airflow_env, world, smtp_server, conf, words):
    outcome = airflow_env.run_dag("monthly_quality_check", "2026-04-01", json.dumps(conf), world.connections,
                                  expect="failed")
    assert outcome.tasks["resolve_run"] == "failed"
    assert tries(airflow_env, outcome.run_id, "resolve_run") == 1
    assert not any(state == "success" for task, state in outcome.tasks.items() if task.startswith("load"))
    assert outcome.tasks.get("prepare_supervision_db") != "success"  # nothing was read or written
    (alert,) = alerts(smtp_server, load_policy().operations_email)
    assert "RunSpecError" in alert.html and words in alert.html


def test_a_period_that_is_no_date_is_refused_before_a_run_exists(airflow_env, world):
    """The Params' schema (``format: date``) stops ``2026-13-01`` at the trigger: Airflow
    creates no run at all, and says which Param is wrong."""
    conf = {"period_start": "2026-13-01", "period_end": "2026-04-01"}
    outcome = airflow_env.run_dag("monthly_quality_check", "2026-04-01", json.dumps(conf), world.connections,
                                  expect="refused")
    assert "period_start" in outcome.output and "2026-13-01" in outcome.output


def test_a_broken_policy_fails_at_once_and_still_alerts_operations(airflow_env, world, smtp_server, tmp_path):
    bundled = Path(load_policy().source.removesuffix(" (bundled default)"))
    broken = tmp_path / "policy.yaml"
    broken.write_text(bundled.read_text(encoding="utf-8").replace("email: head.yq22@example.org",
                                                                  "mail: head.yq22@example.org"), encoding="utf-8")
    airflow_env.base.update({"BDCWATCH_POLICY": str(broken), "BDCWATCH_OPERATIONS_EMAIL": "duty@example.org"})
    try:
        outcome = airflow_env.run_dag("staff_registry_audit", "2026-04-06", world.conf, world.connections,
                                      expect="failed")
    finally:
        for key in ("BDCWATCH_POLICY", "BDCWATCH_OPERATIONS_EMAIL"):
            airflow_env.base.pop(key)
    assert outcome.tasks["resolve_run"] == "failed"
    assert tries(airflow_env, outcome.run_id, "resolve_run") == 1
    (alert,) = alerts(smtp_server, "duty@example.org")
    assert "PolicyError" in alert.html and "units.YQ22.heads[0]" in alert.html and "mail" in alert.html


def test_a_bulletin_for_more_than_one_month_is_refused_before_anything_is_read(airflow_env, world, smtp_server):
    """monthly_bulletin ranks a month: two months ran all its loads green and only then
    failed to compose (operations alone heard, nobody got a bulletin)."""
    conf = {"period_start": "2026-02-01", "period_end": "2026-04-01"}
    outcome = airflow_env.run_dag("monthly_bulletin", "2026-04-05", json.dumps(conf), world.connections,
                                  expect="failed")
    assert outcome.tasks["resolve_run"] == "failed" and tries(airflow_env, outcome.run_id, "resolve_run") == 1
    assert not any(state == "success" for task, state in outcome.tasks.items() if task.startswith("load"))
    (alert,) = alerts(smtp_server, load_policy().operations_email)
    assert "不是一个自然月" in alert.html
