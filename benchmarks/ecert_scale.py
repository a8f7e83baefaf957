"""E-certificate reconciliation at scale: the engine's path against a one-query baseline.

    python benchmarks/ecert_scale.py --n 1000000

1. The demo generator writes N paper certificates (and their e-certificates, with the
   planted problems) to a SQLite source (not timed in the ratio).
2. Extraction loads them through the GX gate into supervision_db (timed, reported).
3. In the same run, on the same staged data, each in its own process so peak memory is
   its own:
   * engine:   ECERT_MISSING through ``run_rules`` — the reconciliation proper, with the
               ledger upsert and audit entries;
   * engine+:  all seven ECERT rules (informative: six more checks than the baseline does);
   * baseline: one anti-join query counting paper certificates without an e-certificate.
Prints times, the engine/baseline ratio and peak RSS. Target (issue 2): ratio ≤ 2 and
peak < 1 GB at N = 1,000,000 on SQLite.

    python benchmarks/ecert_scale.py --whole-dag --n 500000

The whole DAG (issue 13 item 4): a month of N certificates through ``ecert_completeness``
as an operator starts it (``airflow dags test`` with ``full_scan``, a fresh Airflow home
and supervision_db, a local SMTP sink), against the floor measured in the same run:
reading the two certificate-number columns from the sources and a hash anti-join in
Python. Prints the wall time of the whole run, each task's time (the rest is Airflow's
start-up and scheduling), the peak RSS of the run, and the ratio whole/floor (target
≤ 30, memory < 1 GB).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

LOADED_AT = datetime(2026, 6, 1, 9, 0)  # the local clock a load stamps on load_log and quarantine

PERIOD_START, PERIOD_END = date(2026, 1, 1), date(2027, 1, 1)


def _peak_mb() -> float:
    """Peak resident memory of this process image. VmHWM restarts at exec (ru_maxrss
    would carry over the parent's peak into a spawned child on Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _engine_phase(url: str, rule_codes: list[str], out: mp.Queue) -> None:
    from bdcwatch import rules
    from bdcwatch.config.policy import load_policy
    from bdcwatch.config.run import RunContext
    from bdcwatch.dates.periods import Period
    from bdcwatch.dates.workdays import WorkCalendar
    from bdcwatch.ledger.findings import run_rules
    from bdcwatch.store.migrate import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:  # a fresh ledger each time so both phases insert, not update
        conn.exec_driver_sql("DELETE FROM finding_event")
        conn.exec_driver_sql("DELETE FROM finding_run")
        conn.exec_driver_sql("DELETE FROM finding")
        conn.exec_driver_sql("UPDATE audit_head SET last_hash = '" + "0" * 64 + "', last_event_id = NULL")
    started = time.perf_counter()
    outcomes = run_rules(
        engine, [rules.get(c) for c in rule_codes], period=Period(PERIOD_START, PERIOD_END), policy=load_policy(),
        calendar=WorkCalendar(), ctx=RunContext("benchmark", f"bench-{len(rule_codes)}", datetime(2027, 1, 2, 1)),
    )
    out.put((time.perf_counter() - started, sum(o.detected for o in outcomes), _peak_mb()))


def _baseline_phase(url: str, out: mp.Queue) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    started = time.perf_counter()
    with engine.connect() as conn:
        missing = conn.execute(text(
            "SELECT COUNT(*) FROM stg_bdc_zs z WHERE NOT EXISTS "
            "(SELECT 1 FROM stg_bdc_dzzz_zzxx e WHERE e.bdcqzh_norm = z.bdcqzh_norm)"
        )).scalar_one()
    out.put((time.perf_counter() - started, missing, _peak_mb()))


def _in_child(target, *args):  # type: ignore[no-untyped-def]
    queue: mp.Queue = mp.get_context("spawn").Queue()
    process = mp.get_context("spawn").Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def _floor(source_url: str) -> tuple[float, int]:
    """The floor: both certificate-number columns read from the source, a hash anti-join."""
    import sqlite3

    path = source_url.removeprefix("sqlite:///")
    started = time.perf_counter()
    with sqlite3.connect(path) as conn:
        issued = {row[0] for row in conn.execute("SELECT BDCQZH FROM BDC_DZZZ_ZZXX")}
        missing = sum(1 for row in conn.execute("SELECT BDCQZH FROM BDC_ZS") if row[0] not in issued)
    return time.perf_counter() - started, missing


def _read_everything(source: Path, tables: list[str]) -> float:
    """Every column the gate checks, of every table the DAG loads, read by the driver and
    nothing else done: what any implementation that validates the rows must at least pay."""
    import sqlite3

    from bdcwatch.sources.coerce import column_kinds

    started = time.perf_counter()
    with sqlite3.connect(source) as conn:
        for table in tables:
            cursor = conn.execute(f"SELECT {', '.join(column_kinds(table))} FROM {table}")
            while cursor.fetchmany(50_000):
                pass
    return time.perf_counter() - started


def _generate(source: Path, n: int, reuse: bool, month: tuple[date, date]) -> None:
    url = f"sqlite:///{source}"
    if not (reuse and source.exists()):
        from bdcwatch.demo.generator import generate

        started = time.perf_counter()
        generate(url, url, url, size=n, seed=1, period_start=month[0], period_end=month[1])
        print(f"generate {n:,}  {time.perf_counter() - started:8.1f} s", flush=True)


def _dags_test(airflow: str, env: dict[str, str], source: Path, supervision: Path, month: tuple[date, date],
               logical_date: date) -> tuple[float, list[tuple[str, int, str, float]]] | None:
    """One ``airflow dags test`` of ecert_completeness over ``month`` with a fresh
    supervision_db: (wall seconds, [(task, map index, state, seconds)]), None if it failed."""
    import json
    import sqlite3
    import subprocess

    supervision.unlink(missing_ok=True)
    url = f"sqlite:///{source}"
    env = {**env, "AIRFLOW_CONN_REGISTRATION_DB": url, "AIRFLOW_CONN_ECERT_DB": url,
           "AIRFLOW_CONN_STAFF_REGISTRY_DB": url, "AIRFLOW_CONN_SUPERVISION_DB": f"sqlite:///{supervision}"}
    conf = {"period_start": month[0].isoformat(), "period_end": month[1].isoformat(), "full_scan": True}
    started = time.perf_counter()
    run = subprocess.run([airflow, "dags", "test", "ecert_completeness", logical_date.isoformat(), "-c",
                          json.dumps(conf)], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if run.returncode != 0:
        print(run.stdout[-3000:] + run.stderr[-3000:])
        return None
    with sqlite3.connect(Path(env["AIRFLOW_HOME"]) / "airflow.db") as conn:
        tasks = conn.execute(
            "SELECT task_id, map_index, state, (julianday(end_date) - julianday(start_date)) * 86400 FROM task_instance "
            "WHERE dag_id = 'ecert_completeness' AND run_id = (SELECT run_id FROM dag_run WHERE dag_id = "
            "'ecert_completeness' ORDER BY id DESC LIMIT 1) ORDER BY start_date").fetchall()
    return seconds, [(task, index, state, duration or 0.0) for task, index, state, duration in tasks]


def whole_dag(workdir: Path, n: int, reuse: bool) -> int:
    """A month of ``n`` certificates through the whole ecert_completeness DAG (module docstring).

    Besides the ratio it prints where the time goes, each as a multiple of the floor: the
    same DAG on a month of 1,000 certificates (what a run costs whatever its size: Airflow's
    start-up and scheduling, imports, the GX context, rules and digests on little data), and
    reading every column the gate checks with nothing done to it (what checking the rows at
    all costs at least). Their sum bounds any implementation of this DAG on this machine.
    """
    import os
    import socket
    import sqlite3
    import subprocess

    from bdcwatch import rules
    from bdcwatch.demo import mailsink

    month = (date(2026, 3, 1), date(2026, 4, 1))
    source, tiny = workdir / f"month-{n}.db", workdir / "month-1000.db"
    _generate(source, n, reuse, month)
    _generate(tiny, 1_000, reuse, month)
    mapped = rules.tables_read(rules.select(family="ecert"))  # load.expand(table_name=TABLES), in that order
    with sqlite3.connect(source) as conn:
        counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in mapped}
    print("source rows   " + ", ".join(f"{t} {c:,}" for t, c in counts.items()), flush=True)

    home = workdir / "airflow"
    supervision = workdir / "whole-dag-supervision.db"
    mail = workdir / "mail"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "AIRFLOW__", "BDCWATCH_"))}
    env.update({
        "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(Path(__file__).resolve().parents[1] / "dags"),
        "AIRFLOW_CONN_SMTP_DEFAULT": f"smtp://127.0.0.1:{port}?disable_ssl=true&disable_tls=true"
                                     "&from_email=bdcwatch%40example.org",
    })
    airflow = str(Path(sys.executable).with_name("airflow"))
    if not (home / "airflow.db").exists():
        subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True)

    floors = [_floor(f"sqlite:///{source}") for _ in range(2)]  # best of two: neither side pays for a cold cache
    floor_s, floor_missing = min(floors)
    read_s = min(_read_everything(source, mapped) for _ in range(2))
    sink = mailsink.start(mail, port=port)
    try:
        small = _dags_test(airflow, env, tiny, workdir / "tiny-supervision.db", month, month[1] - timedelta(days=1))
        mails_before = len(list(mail.glob("*.eml")))
        whole = _dags_test(airflow, env, source, supervision, month, month[1])
    finally:
        sink.stop()
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if small is None or whole is None:
        print("the DAG run failed")
        return 1
    small_s, whole_s, tasks = small[0], whole[0], whole[1]
    with sqlite3.connect(supervision) as conn:
        loaded = conn.execute("SELECT source_table, rows_read FROM load_log ORDER BY started_at").fetchall()
        findings = conn.execute("SELECT COUNT(*) FROM finding WHERE rule_code = 'ECERT_MISSING'").fetchone()[0]
    for task_id, map_index, state, seconds in tasks:
        label = task_id if map_index < 0 else f"{task_id}[{mapped[map_index]}]"
        print(f"  task {label:<28} {state:<8} {seconds:8.2f} s")
    in_tasks = sum(seconds for *_, seconds in tasks)
    mails = len(list(mail.glob("*.eml"))) - mails_before
    rows = sum(r for _, r in loaded)

    def times(seconds: float) -> str:
        return f"{seconds:8.2f} s  {seconds / floor_s:6.1f}x floor"

    print(f"floor              {times(floor_s)}   ({floor_missing:,} paper certificates without an e-certificate)")
    print(f"whole DAG          {times(whole_s)}   tasks {in_tasks:.2f} s, Airflow start-up and scheduling "
          f"{whole_s - in_tasks:.2f} s; {rows:,} rows read, {findings:,} ECERT_MISSING, {mails} mails; "
          f"peak RSS {peak_mb:.0f} MB")
    print(f"  fixed: the same DAG on 1,000 certificates       {times(small_s)}")
    print(f"  reading every checked column, nothing else done {times(read_s)}")
    print(f"  bound (fixed + reading), any implementation     {times(small_s + read_s)}")
    print(f"  the engine's work per row read: {(whole_s - small_s) / rows * 1e6:.1f} us "
          f"(reading alone {read_s / rows * 1e6:.1f} us)")
    ratio = whole_s / floor_s
    print(f"ratio whole DAG/floor = {ratio:.1f}  (target <= 30; tasks alone {in_tasks / floor_s:.1f})")
    return 0 if ratio <= 30 and peak_mb < 1024 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--n", type=int, default=None, help="paper certificates (default 1,000,000; "
                                                             "500,000 with --whole-dag)")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--reuse", action="store_true", help="reuse the data already staged in --workdir")
    parser.add_argument("--whole-dag", action="store_true", help="time the whole DAG against the floor")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bdcwatch-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    if args.whole_dag:
        return whole_dag(workdir, args.n or 500_000, args.reuse)
    args.n = args.n or 1_000_000
    source_url = f"sqlite:///{workdir / 'source.db'}"
    supervision_url = f"sqlite:///{workdir / 'supervision.db'}"

    from sqlalchemy import create_engine

    from bdcwatch.demo.generator import generate
    from bdcwatch.sources.extract import load_table
    from bdcwatch.store.migrate import make_engine, migrate

    print(f"N = {args.n:,} paper certificates, SQLite files in {workdir}", flush=True)
    supervision = make_engine(supervision_url)
    if not args.reuse:
        started = time.perf_counter()
        generate(source_url, source_url, source_url, size=args.n, seed=1,
                 period_start=PERIOD_START + timedelta(days=90), period_end=PERIOD_END)
        print(f"generate      {time.perf_counter() - started:8.1f} s", flush=True)
        migrate(supervision)
        source = create_engine(source_url)
        started = time.perf_counter()
        for table in ("BDC_ZS", "DJF_DJ_DB", "BDC_DZZZ_ZZXX"):
            result = load_table(source, supervision, table, run_id="bench", full_scan=True, now=LOADED_AT)
            print(f"  load {table:<14} {result.rows_loaded:>10,} rows, {result.rows_quarantined} quarantined", flush=True)
        print(f"extract+gate  {time.perf_counter() - started:8.1f} s   (peak RSS so far {_peak_mb():.0f} MB)", flush=True)
    migrate(supervision)

    # Each side runs twice and keeps its best time, so neither pays alone for a cold cache.
    base_s, base_missing, base_mb = min(_in_child(_baseline_phase, supervision_url) for _ in range(2))
    missing_s, missing_n, missing_mb = min(
        _in_child(_engine_phase, supervision_url, ["ECERT_MISSING"]) for _ in range(2)
    )
    from bdcwatch import rules

    all_s, all_n, all_mb = _in_child(_engine_phase, supervision_url, rules.select(family="ecert"))
    print(f"baseline      {base_s:8.2f} s   {base_missing:>8,} without e-certificate (any time)   peak {base_mb:6.0f} MB")
    print(f"engine        {missing_s:8.2f} s   {missing_n:>8,} ECERT_MISSING findings recorded   peak {missing_mb:6.0f} MB")
    print(f"engine (all 7 ECERT rules) {all_s:8.2f} s   {all_n:,} findings   peak {all_mb:6.0f} MB")
    ratio = missing_s / base_s if base_s else float("inf")
    print(f"ratio engine/baseline = {ratio:.2f}  (target <= 2.0)   all-rules/baseline = {all_s / base_s:.2f}")
    return 0 if ratio <= 2.0 and max(missing_mb, all_mb) < 1024 else 1


if __name__ == "__main__":
    sys.exit(main())
