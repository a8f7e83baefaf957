"""``bdcwatch province`` (issue 13 items 1 and 5): the commands scripts/stack.sh and
docker-compose.yaml both run to start a province — the workers' queues, every city's
supervision_db and every city's Airflow pool — against a real Airflow metadata database
and real supervision databases."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, inspect

from tests.support import airflow_uri

ROOT = Path(__file__).resolve().parents[2]
PROVINCE = ROOT / "deploy" / "province.example.yaml"  # 1403 阳泉 (home), 1401 太原, 1404 长治
BDCWATCH = str(Path(sys.executable).with_name("bdcwatch"))
AIRFLOW = str(Path(sys.executable).with_name("airflow"))


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def test_a_provinces_queues_databases_and_pools(airflow_env, tmp_path):
    supervision = {code: tmp_path / f"supervision_{code}.sqlite" for code in ("1403", "1401", "1404")}
    env = {**airflow_env.base, "BDCWATCH_POLICY": str(PROVINCE),
           "AIRFLOW_CONN_SUPERVISION_DB": airflow_uri(f"sqlite:///{supervision['1403']}"),
           "AIRFLOW_CONN_SUPERVISION_DB__1401": airflow_uri(f"sqlite:///{supervision['1401']}"),
           "AIRFLOW_CONN_SUPERVISION_DB__1404": airflow_uri(f"sqlite:///{supervision['1404']}")}

    queues = _run([BDCWATCH, "province", "queues"], env)
    assert queues.returncode == 0, queues.stderr
    assert queues.stdout.strip() == "default,city_1401,city_1404"

    migrated = _run([BDCWATCH, "province", "migrate"], env)
    assert migrated.returncode == 0, migrated.stderr
    for code, path in supervision.items():
        engine = create_engine(f"sqlite:///{path}")
        assert {"finding", "quarantine", "alembic_version"} <= set(inspect(engine).get_table_names()), code
        engine.dispose()
    assert "supervision_db__1401: supervision_db at revision" in migrated.stdout

    for slots in ("5", "6"):  # made, then changed: airflow-init runs at every start
        made = _run([BDCWATCH, "province", "pools", "--slots", slots], env)
        assert made.returncode == 0, made.stderr
        listed = _run([AIRFLOW, "pools", "list", "--output", "json"], env)
        pools = {p["pool"]: int(p["slots"]) for p in json.loads(listed.stdout)}
        assert pools["city_1401"] == pools["city_1404"] == int(slots) and "city_1403" not in pools

    one_city = {k: v for k, v in env.items() if k != "BDCWATCH_POLICY"}
    assert _run([BDCWATCH, "province", "queues"], one_city).stdout.strip() == "default"
    assert _run([BDCWATCH, "province", "pools", "--slots", "8"], one_city).stdout == ""  # no pool to make

    moved = tmp_path / "province.yaml"  # its cities' policy files are not beside it
    moved.write_text(PROVINCE.read_text(encoding="utf-8"), encoding="utf-8")
    refused = _run([BDCWATCH, "province", "queues"], {**env, "BDCWATCH_POLICY": str(moved)})
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.startswith("bdcwatch: ") and "policy_1403.yaml" in refused.stderr
