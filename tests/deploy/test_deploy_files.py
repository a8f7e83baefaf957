"""What can be checked of the container stack without a Docker engine: the YAML, its
environment, and that the commands it runs exist and parse."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text(encoding="utf-8"))


def test_services_and_dependencies():
    services = compose()["services"]
    assert {"postgres", "mailpit", "airflow-init", "airflow-apiserver", "airflow-scheduler",
            "airflow-dag-processor", "airflow-triggerer"} <= set(services)
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"):
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond localhost"


def test_airflow_environment_names_real_settings_and_contract_connections():
    env = compose()["services"]["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__CORE__DEFAULT_TIMEZONE"] == "Asia/Shanghai"
    assert "AIRFLOW_CONN_SUPERVISION_DB" in env and "AIRFLOW_CONN_SMTP_DEFAULT" in env
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    for conn in ("REGISTRATION_DB", "ECERT_DB", "STAFF_REGISTRY_DB"):
        assert f"AIRFLOW_CONN_{conn}=" in example
    from airflow.configuration import conf

    for key in env:
        if key.startswith("AIRFLOW__"):
            section, option = key[len("AIRFLOW__"):].lower().split("__", 1)
            known = conf.configuration_description.get(section, {}).get("options", {})
            assert option in known, f"{key} is not an Airflow setting"


def test_no_secret_literals_in_the_stack():
    text = (ROOT / "docker-compose.yaml").read_text(encoding="utf-8")
    assert "${POSTGRES_PASSWORD" in text and "change-me" not in text


def test_commands_exist():
    services = compose()["services"]
    airflow = str(Path(sys.executable).with_name("airflow"))
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"):
        command = services[name]["command"]
        assert command[0] == "airflow"
        done = subprocess.run([airflow, *command[1:2], "--help"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (name, done.stderr[-500:])
    init = services["airflow-init"]["command"][-1]
    assert "airflow db migrate" in init and "bdcwatch migrate" in init
    bdcwatch = str(Path(sys.executable).with_name("bdcwatch"))
    assert subprocess.run([bdcwatch, "--help"], capture_output=True, timeout=60).returncode == 0


def test_dockerfile_installs_from_the_lock_file():
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "apache/airflow:3.3.2-python3.11" in dockerfile
    assert "--require-hashes -r /opt/bdcwatch/requirements.lock" in dockerfile


def test_demo_script_sets_only_real_airflow_settings():
    import re

    from airflow.configuration import conf

    script = (ROOT / "scripts" / "demo.sh").read_text(encoding="utf-8")
    keys = re.findall(r"^export (AIRFLOW__\w+)=", script, flags=re.MULTILINE)
    assert "AIRFLOW__CORE__EXECUTOR" in keys
    for key in keys:
        section, option = key[len("AIRFLOW__"):].lower().split("__", 1)
        assert option in conf.configuration_description.get(section, {}).get("options", {}), key


def test_demo_keeps_every_dag_paused_and_loads_the_plugin():
    """Issue 12: the demo makes its first runs itself and starts nothing else on a 2-core
    machine; the operations UI is in the navigation."""
    script = (ROOT / "scripts" / "demo.sh").read_text(encoding="utf-8")
    assert "export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=True" in script
    assert "dags unpause" not in script
    assert 'export AIRFLOW__CORE__PLUGINS_FOLDER="$ROOT/plugins"' in script
    assert "op:op" in script and "viewer:viewer" in script
    assert "/bdcwatch/ui/" in script and "问题台账" in script
