"""Integration tier: whole DAG runs through `airflow dags test` (which drives dag.test())
in a fresh AIRFLOW_HOME, with connections given only as AIRFLOW_CONN_* variables, exactly
as CONTRACT §2 promises an operator can run them. A run's outcome is read from Airflow's
metadata database (the DagRun and its task instances), not from what it printed."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))


@dataclass(frozen=True)
class DagRunOutcome:
    """What Airflow recorded of one run: its state and each task instance's state."""

    dag_id: str
    run_id: str
    state: str
    tasks: dict[str, str]  # task_id[map_index] -> state
    output: str
    labels: dict[str, str | None] = field(default_factory=dict)  # task_id[map_index] -> label the UI shows

    def failed_tasks(self) -> dict[str, str]:
        return {task: state for task, state in self.tasks.items() if state != "success"}


@dataclass
class AirflowEnv:
    home: Path
    base: dict[str, str]

    def run_dag(self, dag_id: str, logical_date: str, conf: str, connections: dict[str, str],
                expect: str = "success", extra_env: dict[str, str] | None = None) -> DagRunOutcome:
        """Run ``dag_id`` for ``logical_date`` with ``conf``; asserts the new DagRun ended in
        ``expect`` and returns what the metadata database holds of it. ``expect="refused"``:
        Airflow refused the run before creating it (its Params' schema); the outcome then
        has state "refused" and the command's output. ``extra_env``: e.g.
        ``BDCWATCH_POLICY`` for a run under another policy file."""
        # `airflow dags test` deletes an earlier run of the same logical date before it
        # creates its own, so "new" means a run id this DAG never had before the command
        before = self.run_ids(dag_id)
        env = {**self.base, **{f"AIRFLOW_CONN_{k.upper()}": v for k, v in connections.items()}, **(extra_env or {})}
        result = subprocess.run(
            [AIRFLOW, "dags", "test", dag_id, logical_date, "-c", conf],
            env=env, capture_output=True, text=True, timeout=900,
        )
        output = result.stdout + result.stderr
        outcome = self.last_run(dag_id, output)
        if outcome is not None and outcome.run_id in before:
            outcome = None  # no new run: the one found is an earlier test's
        if expect == "refused" and outcome is None and result.returncode != 0:
            return DagRunOutcome(dag_id, "", "refused", {}, output)
        if outcome is None or outcome.state != expect:
            tail = "\n".join(output.splitlines()[-60:])
            state = outcome.state if outcome else "no DagRun recorded"
            raise AssertionError(f"{dag_id} run ended {state}, expected {expect} (exit {result.returncode}):\n{tail}")
        return outcome

    def run_ids(self, dag_id: str) -> set[str]:
        """Every run id the metadata database holds for ``dag_id``."""
        engine = create_engine(f"sqlite:///{self.home / 'airflow.db'}")
        try:
            with engine.connect() as conn:
                return set(conn.execute(text("SELECT run_id FROM dag_run WHERE dag_id = :d"), {"d": dag_id}).scalars())
        except OperationalError:  # no metadata database yet: the first command creates it
            return set()
        finally:
            engine.dispose()

    def last_run(self, dag_id: str, output: str = "") -> DagRunOutcome | None:
        engine = create_engine(f"sqlite:///{self.home / 'airflow.db'}")
        try:
            with engine.connect() as conn:
                run = conn.execute(text("SELECT run_id, state FROM dag_run WHERE dag_id = :d ORDER BY id DESC LIMIT 1"),
                                   {"d": dag_id}).first()
                if run is None:
                    return None
                rows = conn.execute(
                    text("SELECT task_id, map_index, state, rendered_map_index FROM task_instance "
                         "WHERE dag_id = :d AND run_id = :r"), {"d": dag_id, "r": run.run_id}).all()
                tasks = {(t if m < 0 else f"{t}[{m}]"): str(state) for t, m, state, _label in rows}
                labels = {(t if m < 0 else f"{t}[{m}]"): label for t, m, _state, label in rows}
        finally:
            engine.dispose()
        return DagRunOutcome(dag_id, run.run_id, str(run.state), tasks, output, labels)


@pytest.fixture(scope="session")
def airflow_env(tmp_path_factory: pytest.TempPathFactory) -> AirflowEnv:
    home = tmp_path_factory.mktemp("airflow_home")
    base = {
        key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW_", "AIRFLOW__", "BDCWATCH_"))
    }
    base.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "BDCWATCH_RETRY_DELAY_SECONDS": "1",
        }
    )
    subprocess.run([AIRFLOW, "db", "migrate"], env=base, check=True, capture_output=True, timeout=600)
    return AirflowEnv(home, base)
