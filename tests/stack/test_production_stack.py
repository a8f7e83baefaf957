"""Issue 13 item 2: the engine on the production topology — Airflow on PostgreSQL, the
CeleryExecutor on Redis with two workers — started by the same scripts/stack.sh as
``make stack``, in a temporary home with its own databases (``stack_test_<pid>_*``, dropped
afterwards), ports and Redis database. Runs are started through the REST API as an
operator's script would. The findings must equal the generator's ground truth and each
mail must arrive exactly once, also when a worker dies with a task (SIGKILL of its whole
process group) in the middle of a run: the task it held is finished by the other worker
(a scheduler retry after the heartbeat timeout, or the broker's redelivery of the same attempt)."""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from bdcwatch.store.models import finding, outbox
from tests.stack.stack import Stack, free_port_block, free_redis_db, redis_reachable
from tests.support import POSTGRES

PERIOD = {"period_start": "2026-03-01", "period_end": "2026-04-01"}
ECERT_AND_CASES = ("ecert_completeness", "monthly_quality_check")
CASE_RULES = ("CASE_", "RETURN_", "MORTGAGE_", "ONLINE_")
# Under pytest-xdist (make test) the module stays on one worker: one stack, started once.
pytestmark = pytest.mark.xdist_group("stack")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    for reason in (POSTGRES.reachable(), redis_reachable()):
        if reason:
            pytest.skip(reason)
    home = tmp_path_factory.mktemp("stack")
    port = free_port_block()
    overrides = home / "overrides.env"
    # Only the triggered runs: the scheduler makes no runs of its own (a daily run of
    # "yesterday" would judge another period than the ground truth's).
    overrides.write_text("AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE=False\n", encoding="utf-8")
    env = {
        **os.environ,
        "STACK_HOME": str(home), "STACK_API_PORT": str(port), "STACK_SMTP_PORT": str(free_port_block(1)),
        "STACK_DB_PREFIX": f"stack_test_{os.getpid()}", "STACK_REDIS_DB": str(free_redis_db()),
        "STACK_SIZE": "300", "STACK_SEED": "7", "STACK_PERIOD_START": PERIOD["period_start"],
        "STACK_PERIOD_END": PERIOD["period_end"], "STACK_OVERRIDES": str(overrides),
        # A lost task is noticed after 30 s without a heartbeat and retried 5 s later
        # (production: 120 s and 300 s), and each worker runs two tasks at a time.
        "STACK_HEARTBEAT_TIMEOUT": "30", "BDCWATCH_RETRY_DELAY_SECONDS": "5", "STACK_WORKER_CONCURRENCY": "2",
    }
    started = Stack(home, port, env)
    try:
        started.start()
        yield started
    finally:
        done = started.script("drop", timeout=300)  # every process it started, its databases, its Redis db
        assert done.returncode == 0, done.stdout + done.stderr


def findings_of(stack: Stack) -> set[tuple[str, str, str]]:
    with create_engine(stack.env_url("supervision")).connect() as conn:
        return {(r.rule_code, r.subject_id, r.unit_code) for r in conn.execute(select(finding))}


def expected_of(stack: Stack, prefixes: tuple[str, ...]) -> set[tuple[str, str, str]]:
    return {(f["rule_code"], f["subject_id"], f["unit_code"]) for f in stack.truth()["findings"]
            if f["rule_code"].startswith(prefixes)}


def assert_each_mail_once(stack: Stack) -> None:
    """Every outbox message was delivered, and arrived exactly once; nothing else arrived."""
    with create_engine(stack.env_url("supervision")).connect() as conn:
        rows = conn.execute(select(outbox.c.message_id, outbox.c.status, outbox.c.subject)).all()
    arrived = Counter(str(m["Message-ID"]).strip("<>") for m in stack.mails())
    assert rows, "no mail was queued"
    assert [r for r in rows if r.status != "sent"] == [], "mail not delivered"
    sent = Counter(r.message_id.strip("<>") for r in rows)
    assert arrived == sent, f"arrived {arrived - sent} extra, {sent - arrived} missing"


@contextmanager
def hold_staff_tables_locked(stack: Stack) -> Iterator[None]:
    """The stack's staff registry with RY_JBXX and RY_PXJL locked (ACCESS EXCLUSIVE: a read
    waits) until the block ends."""
    engine = create_engine(stack.env_url("staff"))
    try:
        with engine.begin() as conn:  # one transaction: the locks last until the block ends
            tables = conn.execute(text(
                "SELECT quote_ident(table_name) FROM information_schema.tables WHERE table_schema = 'public' "
                "AND upper(table_name) IN ('RY_JBXX', 'RY_PXJL')")).scalars().all()
            assert len(tables) == 2, f"staff tables not found: {tables}"
            conn.execute(text(f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE"))
            yield
    finally:
        engine.dispose()


def test_production_stack_runs_match_the_truth_and_survive_a_lost_worker(stack: Stack) -> None:
    # The test's stack never touches make stack's var/stack (or its databases). Asserted
    # here, not in a test of its own: under pytest-xdist a second test of this module
    # could be scheduled apart and start a second stack.
    assert Path(stack.env["STACK_HOME"]) == stack.home and "var/stack" not in str(stack.home)
    assert stack.env["STACK_DB_PREFIX"].startswith("stack_test_")
    stack.wait_for_dags([*ECERT_AND_CASES, "staff_registry_audit"])

    # Two audits side by side on the two workers.
    runs = {dag_id: stack.trigger(dag_id, PERIOD) for dag_id in ECERT_AND_CASES}
    for dag_id, run_id in runs.items():
        stack.wait_for_run(dag_id, run_id)
    expected = expected_of(stack, ("ECERT_", *CASE_RULES))
    assert {rule for rule, _, _ in expected} >= {"ECERT_MISSING", "CASE_OVERDUE"}, "the world plants problems"
    assert findings_of(stack) == expected
    assert_each_mail_once(stack)

    # The weekly staff audit, with the worker running one of its tasks killed outright. The
    # staff registry holds its tables locked (as a source system in a long transaction
    # does), so the first load is surely still running when the kill lands, however fast
    # a load is; the lock goes once the worker is dead, so the retry reads the tables.
    with hold_staff_tables_locked(stack):
        run_id = stack.trigger("staff_registry_audit", PERIOD)
        worker, running = stack.kill_worker_running("staff_registry_audit", run_id, "load")
    tasks = {(t["task_id"], t["map_index"]): t for t in stack.wait_for_run("staff_registry_audit", run_id)}
    # The task the dead worker held was finished by the surviving one, whichever way it got
    # there: a retry by the scheduler after the heartbeat timeout (a later attempt), or the
    # broker handing the unacknowledged message on (the same attempt, run again). Its log
    # names the attempt it executed; the task process itself was killed (its own group).
    survivor = ({"worker1", "worker2"} - {worker}).pop()
    log = (stack.home / "logs" / f"{survivor}.log").read_text(encoding="utf-8", errors="replace")
    for t in running:
        final = tasks[(t["task_id"], t["map_index"])]
        assert final["try_number"] >= t["try_number"]
        assert re.search(rf"task_id={t['task_id']}/(map_index={t['map_index']}/)?attempt={final['try_number']}\.log",
                         log), f"{survivor} did not run {t['task_id']}[{t['map_index']}] after {worker} died: {running}"
    assert all(t["state"] == "success" for t in tasks.values())
    assert findings_of(stack) == expected | expected_of(stack, ("STAFF_",))
    assert_each_mail_once(stack)

