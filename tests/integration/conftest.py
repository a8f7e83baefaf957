"""Integration tier: whole DAG runs through `airflow dags test` (which drives dag.test())
in a fresh AIRFLOW_HOME, with connections given only as AIRFLOW_CONN_* variables, exactly
as CONTRACT §2 promises an operator can run them."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))

pytestmark = pytest.mark.integration


@dataclass
class AirflowEnv:
    home: Path
    base: dict[str, str]

    def run_dag(self, dag_id: str, logical_date: str, conf: str, connections: dict[str, str]) -> str:
        env = {**self.base, **{f"AIRFLOW_CONN_{k.upper()}": v for k, v in connections.items()}}
        result = subprocess.run(
            [AIRFLOW, "dags", "test", dag_id, logical_date, "-c", conf],
            env=env, capture_output=True, text=True, timeout=900,
        )
        output = result.stdout + result.stderr
        if result.returncode != 0 or "state=success" not in output:
            tail = "\n".join(output.splitlines()[-60:])
            raise AssertionError(f"{dag_id} run failed (exit {result.returncode}):\n{tail}")
        return output


@pytest.fixture(scope="session")
def airflow_env(tmp_path_factory) -> AirflowEnv:
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
