"""The production stack as the stack test drives it: scripts/stack.sh started in a temporary
STACK_HOME with unique databases, ports and Redis database, and Airflow's REST API (/api/v2,
a token from /auth/token). Not a test module: tests/stack/test_production_stack.py uses it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "stack.sh"
CLAIM_KEY = "bdcwatch:stack:claimed"  # + ":<database number>", in Redis database 0
CLAIM_SECONDS = 3 * 3600


def redis_reachable() -> str | None:
    """None when the machine's Redis answers, else why not."""
    try:
        import redis

        redis.Redis(host="127.0.0.1", socket_connect_timeout=3).ping()
        return None
    except Exception as error:  # any failure means: no broker to test against
        return f"Redis at 127.0.0.1:6379 is not reachable ({type(error).__name__}: {error})"


def free_redis_db(numbers: Iterable[int] = range(6, 16)) -> int:
    """An empty Redis database among ``numbers`` (6..15: 5 is make stack's, lower ones other
    users'), claimed for this process: two stacks on one database take each other's task
    messages, so "empty" alone is not enough when two start at once. The claim is a key in
    database 0 set only if absent (``SET NX``), kept for CLAIM_SECONDS (longer than any
    stack run here; it lapses by itself, so a killed run leaves nothing behind for long).

    Raises RuntimeError when every database of ``numbers`` is in use or claimed."""
    import redis

    claims = redis.Redis(host="127.0.0.1", db=0)
    for number in numbers:
        if redis.Redis(host="127.0.0.1", db=number).dbsize() != 0:
            continue
        if claims.set(f"{CLAIM_KEY}:{number}", os.getpid(), nx=True, ex=CLAIM_SECONDS):
            return number
    raise RuntimeError(f"no empty, unclaimed Redis database among {list(numbers)}")


def free_port_block(size: int = 4) -> int:
    """A port p with p .. p+size-1 all free on 127.0.0.1 (api-server, two workers' and the
    triggerer's log servers)."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base + size >= 65000:
            continue
        try:
            for port in range(base, base + size):
                with socket.socket() as sock:
                    sock.bind(("0.0.0.0", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no block of free ports")


@dataclass
class Stack:
    """One started stack: its home, ports and environment, and a REST API session."""

    home: Path
    port: int
    env: dict[str, str]
    token: str = ""
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=60))

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env_url(self, database: str) -> str:
        """SQLAlchemy URL of one of the stack's databases (``supervision``, ``registration``...)."""
        return f"postgresql+psycopg2://postgres@127.0.0.1:5432/{self.env['STACK_DB_PREFIX']}_{database}"

    def script(self, action: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
        """Run ``scripts/stack.sh <action>`` with this stack's settings; after a ``drop``
        that worked, its Redis database's claim (``free_redis_db``) is released."""
        done = subprocess.run(["bash", str(SCRIPT), action], env=self.env, capture_output=True, text=True,
                              timeout=timeout, cwd=ROOT)
        if action == "drop" and done.returncode == 0 and self.env.get("STACK_REDIS_DB"):
            import redis

            redis.Redis(host="127.0.0.1", db=0).delete(f"{CLAIM_KEY}:{self.env['STACK_REDIS_DB']}")
        return done

    def start(self) -> None:
        done = self.script("start")
        if done.returncode != 0:
            raise AssertionError(f"stack.sh start failed ({done.returncode}):\n{done.stdout[-3000:]}\n"
                                 f"{done.stderr[-3000:]}\n{self.log_tails()}")
        reply = self.client.post(f"{self.base}/auth/token", json={"username": "admin", "password": "admin"})
        reply.raise_for_status()
        self.token = reply.json()["access_token"]

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        reply = self.client.request(method, f"{self.base}/api/v2{path}",
                                    headers={"Authorization": f"Bearer {self.token}"}, **kwargs)
        if reply.status_code >= 400:
            raise AssertionError(f"{method} {path}: {reply.status_code} {reply.text[:500]}")
        return reply.json()

    def wait_for_dags(self, dag_ids: list[str], timeout: float = 600) -> None:
        """The dag-processor has parsed the DAG files: each DAG is known to the API."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            known = {d["dag_id"] for d in self.api("GET", "/dags", params={"limit": 100})["dags"]}
            if set(dag_ids) <= known:
                return
            time.sleep(1)
        raise AssertionError(f"DAGs not parsed in {timeout}s: {set(dag_ids) - known}\n{self.log_tails()}")

    def trigger(self, dag_id: str, conf: dict[str, str]) -> str:
        """Switch the DAG on and start a run with ``conf``; returns its run id."""
        self.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        run = self.api("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})
        return str(run["dag_run_id"])

    def tasks(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return list(self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                             params={"limit": 1000})["task_instances"])

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 1200) -> list[dict[str, Any]]:
        """Wait until the run ends; assert success; return its task instances."""
        deadline = time.monotonic() + timeout
        state = "unknown"
        while time.monotonic() < deadline:
            state = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"]
            if state in ("success", "failed"):
                break
            time.sleep(2)
        tasks = self.tasks(dag_id, run_id)
        if state != "success":
            states = {f"{t['task_id']}[{t['map_index']}]": (t["state"], t["try_number"]) for t in tasks}
            raise AssertionError(f"{dag_id} {run_id} ended {state}: {states}\n{self.task_log_tails(dag_id)}\n"
                                 f"{self.log_tails()}")
        return tasks

    def worker_groups(self) -> dict[str, int]:
        """Celery worker name → the process group stack.sh started it in."""
        return {name: int((self.home / "run" / f"{name}.pid").read_text()) for name in ("worker1", "worker2")}

    def kill_worker_running(self, dag_id: str, run_id: str, task_id: str,
                            timeout: float = 600) -> tuple[str, list[dict[str, Any]]]:
        """SIGKILL the whole process group of a Celery worker that is executing a task of
        the run (the worker, its pool and the task, as when its machine dies), found by
        asking the workers over the broker which one holds that task instance. ``task_id``:
        a task that runs for many seconds, so it is still running when the kill lands.
        Returns the worker's name and the run's task instances running just before."""
        from celery import Celery

        control = Celery(broker=f"redis://127.0.0.1:6379/{self.env['STACK_REDIS_DB']}").control
        groups = self.worker_groups()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            running = [t for t in self.tasks(dag_id, run_id) if t["state"] == "running"]
            wanted = [t["id"] for t in running if t["task_id"] == task_id]
            active = (control.inspect(timeout=3).active() or {}) if wanted else {}
            for worker, jobs in active.items():
                name = worker.split("@", 1)[0]
                if name in groups and any(ti in str(job) for job in jobs for ti in wanted):
                    os.killpg(groups[name], signal.SIGKILL)
                    return name, running
            time.sleep(1)
        raise AssertionError(f"no task of {dag_id} {run_id} seen running in {timeout}s\n{self.log_tails()}")

    def mails(self) -> list[Any]:
        return [message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted((self.home / "mail").glob("*.eml"))]

    def truth(self) -> dict[str, Any]:
        return dict(json.loads((self.home / "demo" / "ground_truth.json").read_text(encoding="utf-8")))

    def log_tails(self, lines: int = 25) -> str:
        out = []
        for log in sorted((self.home / "logs").glob("*.log")):
            tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
            out.append(f"--- {log.name}\n" + "\n".join(tail))
        return "\n".join(out)

    def task_log_tails(self, dag_id: str, lines: int = 30) -> str:
        folder = self.home / "airflow" / "logs" / f"dag_id={dag_id}"
        logs = sorted(folder.rglob("*.log"), key=lambda p: p.stat().st_mtime)[-3:] if folder.exists() else []
        return "\n".join(f"--- {p}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-lines:]) for p in logs)
