"""Province scale in one run (issue 13 item 5): the 11 cities of Shanxi through the
production stack at once, against one city alone.

    python benchmarks/province.py                  # 11 cities x 300 certificates
    python benchmarks/province.py --size 3000      # 11 cities x 3,000 certificates

1. A province file and a policy per city are generated (``bdcwatch.demo.province``: the
   bundled Yangquan policy with unit codes, 行政区划 codes and mailboxes of each city), and
   ``scripts/stack.sh start`` starts the production stack (PostgreSQL, CeleryExecutor on
   Redis, two workers) with it, as the stack test does: its own home, free ports, databases
   ``bench_province_<pid>_*``, an empty Redis database. stack.sh generates each city's
   sources (``--size`` certificates, a seed per city) into the city's own databases, migrates
   each city's supervision_db, creates a pool per city and has both workers serve every
   city's queue.
2. **One city**: ``ecert_completeness`` of the home city alone, for ``--period-start`` ..
   ``--period-end`` with ``full_scan``, through the REST API.
3. **The province**: all 11 cities' ``ecert_completeness`` DAGs triggered at once (the
   home city's again; ``full_scan`` makes its second run read and judge everything again,
   as a first run does), timed until every run has succeeded.

Times are Airflow's own (the DAG run's queued_at to its end_date; the province's: first
queued to last end), not this script's polling. Printed: each city's certificates, findings
(and the generator's ground truth for the ECERT rules: they must be equal), the queue and
pool its tasks ran in, and throughput in certificates per second of 11 cities against one.
Exits non-zero when a run fails or findings differ from the ground truth. The stack is
stopped and its databases dropped at the end (``--keep``: left running).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text  # noqa: E402

from bdcwatch.config.province import Province, load_province  # noqa: E402
from bdcwatch.demo.province import SHANXI_CITIES, write_province  # noqa: E402
from bdcwatch.store.models import finding  # noqa: E402
from tests.stack.stack import Stack, free_port_block, redis_reachable  # noqa: E402

DAG = "ecert_completeness"


def free_redis_db_from_top() -> int:
    """An empty Redis database claimed for this run, searched from 15 down (the stack test
    searches from 6 up): two stacks on one Redis database take each other's task messages."""
    from tests.stack.stack import free_redis_db

    return free_redis_db(range(15, 5, -1))


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def wait_all(stack: Stack, runs: dict[str, str], timeout: float) -> dict[str, dict[str, Any]]:
    """Poll until every run (dag_id → run_id) has ended; returns each run's API record."""
    deadline = time.monotonic() + timeout
    ended: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline and len(ended) < len(runs):
        for dag_id, run_id in runs.items():
            if dag_id not in ended:
                record = stack.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
                if record["state"] in ("success", "failed"):
                    ended[dag_id] = record
        time.sleep(2)
    for dag_id in set(runs) - set(ended):
        ended[dag_id] = {"state": "timeout", "dag_id": dag_id}
    return ended


def city_urls(stack: Stack, province: Province) -> dict[str, dict[str, str]]:
    """city code → SQLAlchemy URLs of its ``supervision`` and ``registration`` databases."""
    urls = {}
    for city in province.cities:
        infix = "" if city.home else f"c{city.code}_"
        urls[city.code] = {system: stack.env_url(f"{infix}{system}") for system in ("supervision", "registration")}
    return urls


def count(url: str, query: Any) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(query).scalar_one())
    finally:
        engine.dispose()


def expected_ecert(stack: Stack, city_code: str, home: bool) -> int:
    name = "ground_truth.json" if home else f"ground_truth_{city_code}.json"
    truth = json.loads((stack.home / "demo" / name).read_text(encoding="utf-8"))
    return len({(f["rule_code"], f["subject_id"]) for f in truth["findings"] if f["rule_code"].startswith("ECERT_")})


def seconds(record: dict[str, Any]) -> float:
    return (_when(record["end_date"]) - _when(record["queued_at"])).total_seconds()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=300, help="certificates per city (default 300)")
    parser.add_argument("--cities", type=int, default=11, help="how many of Shanxi's 11 cities (default all)")
    parser.add_argument("--period-start", type=date.fromisoformat, default=date(2026, 3, 1))
    parser.add_argument("--period-end", type=date.fromisoformat, default=date(2026, 4, 1))
    parser.add_argument("--worker-concurrency", type=int, default=4, help="task slots per Celery worker (2 workers)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for the runs")
    parser.add_argument("--keep", action="store_true", help="leave the stack running (stop: stack.sh drop with its env)")
    args = parser.parse_args(argv)
    if not 1 <= args.cities <= len(SHANXI_CITIES):
        parser.error(f"--cities must be 1..{len(SHANXI_CITIES)}")
    if reason := redis_reachable():
        print(reason, file=sys.stderr)
        return 2

    home = Path(tempfile.mkdtemp(prefix="bdcwatch-province-"))
    province_file = write_province(home / "province", SHANXI_CITIES[: args.cities])
    province = load_province(province_file)
    assert province is not None
    overrides = home / "overrides.env"
    overrides.write_text("AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE=False\n", encoding="utf-8")  # triggered runs only
    port = free_port_block()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "AIRFLOW__"))},
        "STACK_HOME": str(home / "stack"), "STACK_API_PORT": str(port), "STACK_SMTP_PORT": str(free_port_block(1)),
        "STACK_DB_PREFIX": f"bench_province_{os.getpid()}", "STACK_REDIS_DB": str(free_redis_db_from_top()),
        "STACK_SIZE": str(args.size), "STACK_SEED": "7", "STACK_PERIOD_START": args.period_start.isoformat(),
        "STACK_PERIOD_END": args.period_end.isoformat(), "STACK_OVERRIDES": str(overrides),
        "STACK_WORKER_CONCURRENCY": str(args.worker_concurrency), "BDCWATCH_RETRY_DELAY_SECONDS": "5",
        "BDCWATCH_POLICY": str(province_file),
    }
    stack = Stack(home / "stack", port, env)
    conf = {"period_start": args.period_start.isoformat(), "period_end": args.period_end.isoformat(),
            "full_scan": True}
    dag_ids = [city.dag_id(DAG) for city in province.cities]
    failed = False
    print(f"province: {len(province.cities)} cities x {args.size} certificates, period {conf['period_start']} .. "
          f"{conf['period_end']}; 2 Celery workers x {args.worker_concurrency} slots; machine: {os.cpu_count()} cores")
    try:
        clock = time.monotonic()
        stack.start()
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            known = {d["dag_id"] for d in stack.api("GET", "/dags", params={"dag_id_pattern": DAG, "limit": 100})["dags"]}
            if set(dag_ids) <= known:
                break
            time.sleep(3)
        else:
            raise AssertionError(f"DAGs not parsed: {set(dag_ids) - known}\n{stack.log_tails()}")
        print(f"stack started and {len(dag_ids)} city DAGs parsed in {time.monotonic() - clock:.0f} s")

        alone = wait_all(stack, {dag_ids[0]: stack.trigger(dag_ids[0], conf)}, args.timeout)[dag_ids[0]]
        if alone["state"] != "success":
            print(f"FAILED: {dag_ids[0]} alone ended {alone['state']}\n{stack.task_log_tails(dag_ids[0])}")
            return 1
        runs = {dag_id: stack.trigger(dag_id, conf) for dag_id in dag_ids}
        ended = wait_all(stack, runs, args.timeout)

        urls = city_urls(stack, province)
        certificates = {c.code: count(urls[c.code]["registration"], text("SELECT count(*) FROM bdc_zs"))
                        for c in province.cities}
        print(f"\n{'city':<14}{'certs':>7}{'findings':>10}{'truth':>7}{'run s':>8}  queue / pool of its tasks")
        for city in province.cities:
            dag_id = city.dag_id(DAG)
            record = ended[dag_id]
            found = count(urls[city.code]["supervision"], select(func.count()).select_from(finding))
            truth = expected_ecert(stack, city.code, city.home)
            tis = stack.tasks(dag_id, runs[dag_id])
            placed = sorted({f"{t['queue']} / {t['pool']}" for t in tis})
            took = f"{seconds(record):8.1f}" if record["state"] == "success" else f"{record['state']:>8}"
            mark = "" if found == truth else "  <-- differs from the ground truth"
            print(f"{city.code} {city.name:<8}{certificates[city.code]:>7}{found:>10}{truth:>7}{took}  "
                  f"{', '.join(placed)}{mark}")
            failed |= record["state"] != "success" or found != truth
            if record["state"] != "success":
                print(stack.task_log_tails(dag_id))

        if not failed:
            t_alone = seconds(alone)
            first = min(_when(r["queued_at"]) for r in ended.values())
            last = max(_when(r["end_date"]) for r in ended.values())
            t_all = (last - first).total_seconds()
            one, total = certificates[province.home.code], sum(certificates.values())
            print(f"\none city alone    {one:>7} certificates in {t_alone:7.1f} s = {one / t_alone:8.1f} cert/s")
            print(f"{len(dag_ids)} cities at once {total:>7} certificates in {t_all:7.1f} s = {total / t_all:8.1f} cert/s")
            print(f"province / one city: {t_all / t_alone:.2f}x the wall time for {total / one:.1f}x the certificates; "
                  f"throughput {(total / t_all) / (one / t_alone):.2f}x")
    except AssertionError as error:
        print(f"FAILED: {error}")
        failed = True
    finally:
        if not args.keep:
            done = stack.script("drop", timeout=300)
            if done.returncode != 0:
                print(f"stack.sh drop failed:\n{done.stdout}\n{done.stderr}")
                failed = True
        else:
            print(f"stack left running: STACK_HOME={env['STACK_HOME']} (drop it with scripts/stack.sh drop, same env)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
