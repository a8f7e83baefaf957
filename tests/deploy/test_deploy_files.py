"""What can be checked of the container stack without a Docker engine: the YAML, its
environment, and that the commands it runs exist and parse."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
ENV_FILE = ROOT / "deploy" / "airflow.env"
STACK = ROOT / "scripts" / "stack.sh"
# Settings a single process gets beyond the shared file, because it is one of several of
# its kind on one machine (stack.sh: log-server ports) or for its health check (compose).
PER_PROCESS = {"AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT", "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT",
               "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK", "DUMB_INIT_SETSID"}
# Keys every process shares but no file in git holds: compose's .env, stack.sh's secrets.env.
SECRETS = {"AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET"}


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text(encoding="utf-8"))


AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                    "airflow-worker-1", "airflow-worker-2")


def stack_env(topology: str = "compose") -> dict[str, str]:
    """deploy/airflow.env as a topology sees it: ``compose`` (the file's defaults, the
    service names) or ``stack`` (after the ``export STACK_*`` lines of scripts/stack.sh),
    resolved by bash exactly as stack.sh sources it."""
    script = STACK.read_text(encoding="utf-8")
    exports = re.findall(r"^export (?:STACK_|AIRFLOW_BASE_URL).*$", script, flags=re.MULTILINE) if topology == "stack" else []
    program = "\n".join(["ROOT=/srv/bdcwatch PORT=8280 SMTP_PORT=8325 PREFIX=bdcwatch STACK_HOME=/srv/stack",
                         *exports, "set -a", f"source {ENV_FILE}", "set +a", "env -0"])
    done = subprocess.run(["bash", "-euc", program], capture_output=True, text=True, timeout=30,
                          env={"PATH": "/usr/bin:/bin", "POSTGRES_PASSWORD": "pw"})
    assert done.returncode == 0, done.stderr
    names = set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", ENV_FILE.read_text(encoding="utf-8"), flags=re.MULTILINE))
    pairs = (item.split("=", 1) for item in done.stdout.split("\0") if "=" in item)
    return {key: value for key, value in pairs if key in names}


def started_by_script() -> list[tuple[str, ...]]:
    """The Airflow commands scripts/stack.sh starts, one per process (its worker loop unrolled)."""
    script = STACK.read_text(encoding="utf-8")
    (loop,) = re.findall(r"^  for n in ([\d ]+); do$", script, flags=re.MULTILINE)
    commands = []
    for _name, words in re.findall(r'start_bg "?(\S+?)"? "\$BIN/airflow" (.+)$', script, flags=re.MULTILINE):
        if "$n" in words:
            commands += [tuple(shlex.split(words.replace("$n", n))) for n in loop.split()]
        else:
            commands.append(tuple(shlex.split(words)))
    return commands


def airflow_command(command: list[str]) -> tuple[str, ...]:
    """A compose service's Airflow command without ``airflow``: given as a list, or as the
    ``bash -c "exec airflow …"`` a worker needs to ask ``bdcwatch province queues``."""
    if command[:2] == ["bash", "-c"]:
        words = shlex.split(command[2].removeprefix("exec "))
        assert words[0] == "airflow", command
        return tuple(words[1:])
    assert command[0] == "airflow", command
    return tuple(command[1:])


def started_by_compose() -> list[tuple[str, ...]]:
    return [airflow_command(s["command"]) for name, s in compose()["services"].items() if name in AIRFLOW_SERVICES]


def without_options(commands: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """A command's subcommand and its Celery hostname (what makes it that process)."""
    out = []
    for command in commands:
        words = tuple(w for w in command if not w.startswith("-") and not w.isdigit())
        out.append(words)
    return sorted(out)


def test_stack_script_and_compose_start_the_same_services_with_the_same_settings():
    """Issue 13 item 1: the two topologies cannot drift. Both start the same Airflow
    processes (two named Celery workers included), both take every setting from
    deploy/airflow.env and set no other Airflow setting than the per-process ones, and the
    file resolves in each to that topology's hosts."""
    assert without_options(started_by_script()) == without_options(started_by_compose())
    script = STACK.read_text(encoding="utf-8")
    assert 'source "$ROOT/deploy/airflow.env"' in script
    assert set(re.findall(r"\b(AIRFLOW__\w+)=", script)) <= PER_PROCESS | SECRETS, "stack.sh sets its own Airflow settings"
    for name, service in compose()["services"].items():
        if name in AIRFLOW_SERVICES or name == "airflow-init":
            assert service["env_file"][0] == "deploy/airflow.env", name
            assert set(service.get("environment") or {}) <= PER_PROCESS, name
    # The machine's services stand in for compose's: PostgreSQL, Redis, the mail catcher.
    assert "bdcwatch.demo.mailsink" in script and "redis.Redis" in script and "5432" in script

    in_compose, on_machine = stack_env("compose"), stack_env("stack")
    assert set(in_compose) == set(on_machine) and len(in_compose) >= 15
    raw = dict(re.findall(r'^([A-Z_][A-Z0-9_]*)="?(.*?)"?$', ENV_FILE.read_text(encoding="utf-8"), flags=re.MULTILINE))
    for key, value in raw.items():
        if "${" not in value:
            assert in_compose[key] == on_machine[key] == value, key
    services = set(compose()["services"])
    assert in_compose["AIRFLOW__CELERY__BROKER_URL"] == "redis://redis:6379/0"
    assert in_compose["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == "postgresql+psycopg2://airflow:pw@postgres:5432/airflow"
    assert in_compose["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    assert "mailpit:1025" in in_compose["AIRFLOW_CONN_SMTP_DEFAULT"]
    assert {"redis", "postgres", "airflow-apiserver", "mailpit"} <= services
    assert on_machine["AIRFLOW__CELERY__BROKER_URL"] == "redis://127.0.0.1:6379/5"
    assert on_machine["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == "postgresql+psycopg2://postgres@127.0.0.1:5432/bdcwatch_airflow"
    assert on_machine["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+postgresql://postgres@127.0.0.1:5432/bdcwatch_airflow"
    assert on_machine["AIRFLOW_CONN_SUPERVISION_DB"] == "postgresql://postgres@127.0.0.1:5432/bdcwatch_supervision"
    assert on_machine["AIRFLOW__CORE__PLUGINS_FOLDER"] == "/srv/bdcwatch/plugins"
    assert in_compose["AIRFLOW__CORE__PLUGINS_FOLDER"] == "/opt/airflow/plugins"  # where the Dockerfile copies it


def test_services_and_dependencies():
    """Issue 13: the official Airflow 3 shape — init service, health checks, PostgreSQL 16,
    Redis, Mailpit, two Celery workers."""
    services = compose()["services"]
    assert {"postgres", "redis", "mailpit", "airflow-init", *AIRFLOW_SERVICES} == set(services)
    assert services["postgres"]["image"] == "postgres:16" and services["redis"]["image"].startswith("redis")
    for name in AIRFLOW_SERVICES:
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
        assert services[name]["healthcheck"]["test"], name
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond localhost"


def test_airflow_environment_names_real_settings_and_contract_connections():
    settings = stack_env()
    assert settings["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert settings["AIRFLOW__CORE__DEFAULT_TIMEZONE"] == "Asia/Shanghai"
    assert "AIRFLOW_CONN_SUPERVISION_DB" in settings and "AIRFLOW_CONN_SMTP_DEFAULT" in settings
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    for conn in ("REGISTRATION_DB", "ECERT_DB", "STAFF_REGISTRY_DB"):
        assert f"AIRFLOW_CONN_{conn}=" in example
    for key in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET"):
        assert f"{key}=" in example  # shared by every container; stack.sh makes its own
    from airflow.configuration import conf

    for key in settings:
        if key.startswith("AIRFLOW__"):
            section, option = key[len("AIRFLOW__"):].lower().split("__", 1)
            known = conf.configuration_description.get(section, {}).get("options", {})
            assert option in known, f"{key} is not an Airflow setting"


def test_no_secret_literals_in_the_stack():
    text = (ROOT / "docker-compose.yaml").read_text(encoding="utf-8")
    assert "${POSTGRES_PASSWORD" in text and "change-me" not in text
    shared = ENV_FILE.read_text(encoding="utf-8")
    assert "FERNET_KEY" not in shared and "JWT_SECRET" not in shared and "change-me" not in shared


def test_commands_exist():
    services = compose()["services"]
    airflow = str(Path(sys.executable).with_name("airflow"))
    for name in AIRFLOW_SERVICES:
        command = airflow_command(services[name]["command"])
        words = command[0:2] if command[0] == "celery" else command[0:1]
        done = subprocess.run([airflow, *words, "--help"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (name, done.stderr[-500:])
    init = services["airflow-init"]["command"][-1]
    assert "airflow db migrate" in init and "bdcwatch province migrate" in init and "bdcwatch province pools" in init
    bdcwatch = str(Path(sys.executable).with_name("bdcwatch"))
    for action in ("migrate", "pools", "queues"):
        assert subprocess.run([bdcwatch, "province", action, "--help"], capture_output=True, timeout=60).returncode == 0


def test_a_province_is_started_by_the_same_commands_in_both_topologies():
    """Issue 13 items 1 and 5: the stack script and compose take a province's queues,
    pools and databases from the same ``bdcwatch province`` commands, so the two cannot
    drift on a province either: every worker serves the queues it prints, and the cities'
    supervision_db and pools are made before any Airflow process starts."""
    script = STACK.read_text(encoding="utf-8")
    services = compose()["services"]
    assert 'QUEUES=$("$BIN/bdcwatch" province queues)' in script
    assert '--queues="$QUEUES"' in script
    for name in ("airflow-worker-1", "airflow-worker-2"):
        assert '--queues="$$(bdcwatch province queues)"' in services[name]["command"][-1], name
    for action in ("province migrate", "province pools --slots"):
        assert f'"$BIN/bdcwatch" {action}' in script and f"bdcwatch {action}" in services["airflow-init"]["command"][-1]
    assert "BDCWATCH_CITY_POOL_SLOTS" in services["airflow-init"]["command"][-1] and "$BDCWATCH_CITY_POOL_SLOTS" in script
    assert stack_env("compose")["BDCWATCH_CITY_POOL_SLOTS"] == stack_env("stack")["BDCWATCH_CITY_POOL_SLOTS"] == "8"


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
