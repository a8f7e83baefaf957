"""The ledger API at a bureau's size: filtered pages against a bare indexed SELECT.

    python benchmarks/ledger_api.py [--findings 200000] [--events 1000000] [--backend sqlite|postgresql|both]

Fills a fresh supervision_db (SQLite file, or a throwaway PostgreSQL database on
127.0.0.1:5432) with N findings over five units, every rule, severity and status, two
years of detection times and due dates, and M audit events (a valid hash chain), then
starts Airflow's own app in this process with the bdcwatch plugin (a throwaway
AIRFLOW_HOME, simple auth manager) and asks, with a viewer's Bearer token, the filtered
pages an operator asks for: ``GET /bdcwatch/api/findings?...`` (count + page + JSON, auth
and masking included) and one finding with its history. In the same run and on the same
data, the baseline is a bare indexed ``SELECT * ... ORDER BY id DESC LIMIT 50 OFFSET k``
of the same page through the DBAPI. Prints p50 / p95 per query and overall, and the ratio
API / baseline. Target (issue 12): API p95 < 200 ms.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UNITS = ("YQ00", "YQ11", "YQ21", "YQ22", "YQGX")
STATUSES = (("open", 0.55), ("rectifying", 0.15), ("closed", 0.25), ("reopened", 0.05))
START = datetime(2024, 12, 1, 1, 0)
TODAY = date(2026, 11, 30)  # the generated due dates straddle it: some overdue, most not
QUERIES = [  # (name, query parameters) — what operators filter by
    ("unit", {"unit": "YQ21"}),
    ("unit+status", {"unit": "YQ21", "status": "open"}),
    ("rule", {"rule": "CASE_OVERDUE"}),
    ("severity+overdue", {"severity": "high", "overdue": "true"}),
    ("status", {"status": "rectifying"}),
    ("period", {"period": "2025-06"}),
    ("unit+rule+status", {"unit": "YQ00", "rule": "ECERT_MISSING", "status": "open"}),
    ("subject search", {"q": "0012345"}),
    ("unit, page 100", {"unit": "YQ22", "page": "100"}),
    ("no filter", {}),
]


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    u, total = rng.random(), 0.0
    for value, weight in weighted:
        total += weight
        if u < total:
            return value
    return weighted[-1][0]


def populate(url: str, findings: int, events: int, seed: int = 7) -> None:
    """Findings and a hash-chained audit trail, bulk-loaded (COPY on PostgreSQL)."""
    from bdcwatch import rules
    from bdcwatch.ledger.audit import AuditEvent, event_hash
    from bdcwatch.store.migrate import make_engine, migrate

    engine = make_engine(url)
    migrate(engine)
    rng = random.Random(seed)
    codes = sorted(rules.all_rules())
    step = (TODAY - START.date()).days * 86400 / findings
    finding_rows, event_rows = [], []
    per_finding = max(1, events // findings)
    extra = events - per_finding * findings
    prev = "0" * 64
    event_id = 0
    for i in range(1, findings + 1):
        rule = rules.get(codes[i % len(codes)])
        at = START + timedelta(seconds=int(i * step))
        status = _pick(rng, STATUSES)
        period = f"{at:%Y-%m}" if rule.per_period or i % 2 else None
        subject = f"S{i:07d}"
        due = (at + timedelta(days=rng.randint(10, 400))).date()
        closed = at + timedelta(days=5) if status == "closed" else None
        finding_rows.append((i, f"{rule.code}|{subject}|{period or ''}", rule.code, rule.severity,
                             UNITS[rng.randrange(5)], rule.subject_type, subject, period, json.dumps({"n": i}), status,
                             at, at, due, closed, "benchmark", f"run-{i // 1000}", f"run-{i // 1000}"))
        trail = ["open"] + ["rectifying", "open"] * 10
        count = per_finding + (1 if i <= extra else 0)
        for n in range(count):
            event_id += 1
            frm, to = (None, "open") if n == 0 else (trail[n - 1], trail[n])
            event = AuditEvent(i, at + timedelta(hours=n), "benchmark" if n == 0 else "张科长", frm, to, f"第 {n} 次处理")
            link = event_hash(prev, event)
            event_rows.append((event_id, i, event.at, event.actor, frm, to, event.note, prev, link))
            prev = link
    columns_f = ("id, fingerprint, rule_code, severity, unit_code, subject_type, subject_id, period, detail, status, "
                 "first_detected_at, last_detected_at, due_date, closed_at, dag_id, first_run_id, last_run_id")
    columns_e = "id, finding_id, at, actor, from_status, to_status, note, prev_hash, hash"
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            for table, columns, rows in (("finding", columns_f, finding_rows), ("finding_event", columns_e, event_rows)):
                buffer = io.StringIO()
                writer = csv.writer(buffer)
                for row in rows:
                    writer.writerow(["\\N" if v is None else v for v in row])
                buffer.seek(0)
                cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv, NULL '\\N')", buffer)
            cursor.execute("SELECT setval('finding_id_seq', %s), setval('finding_event_id_seq', %s)",
                           (findings, event_id))
        else:
            def fmt(v: object) -> object:  # the stored text forms (store.base.Timestamp; dates ISO)
                if isinstance(v, datetime):
                    return f"{v:%Y-%m-%d %H:%M:%S}"
                return v.isoformat() if isinstance(v, date) else v

            cursor.executemany(f"INSERT INTO finding ({columns_f}) VALUES ({', '.join('?' * 17)})",
                               [tuple(map(fmt, r)) for r in finding_rows])
            cursor.executemany(f"INSERT INTO finding_event ({columns_e}) VALUES ({', '.join('?' * 9)})",
                               [tuple(map(fmt, r)) for r in event_rows])
        cursor.execute("UPDATE audit_head SET last_hash = %s, last_event_id = %s WHERE id = 1"
                       if engine.dialect.name == "postgresql" else
                       "UPDATE audit_head SET last_hash = ?, last_event_id = ? WHERE id = 1", (prev, event_id))
        raw.commit()
    finally:
        raw.close()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        from sqlalchemy import text

        conn.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))
    engine.dispose()


def airflow_app(home: Path, supervision_url: str):  # type: ignore[no-untyped-def]
    """Airflow's app with the plugin, in this process (set up before Airflow is imported)."""
    (home / "passwords.json").write_text(json.dumps({"viewer": "viewer"}))
    env = {
        "AIRFLOW_HOME": str(home), "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(home), "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "viewer:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__API_AUTH__JWT_SECRET": "benchmark-only-" + "0" * 50, "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING", "AIRFLOW_CONN_SUPERVISION_DB": supervision_url,
    }
    os.environ.update(env)
    subprocess.run([str(Path(sys.executable).with_name("airflow")), "db", "migrate"], check=True, capture_output=True)
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    return TestClient(create_app())


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, int(round(0.95 * len(ordered))) - 1)]


def measure(client, url: str, rounds: int) -> dict[str, tuple[list[float], list[float]]]:  # type: ignore[no-untyped-def]
    """Per query: (API latencies, baseline latencies) in ms, interleaved round by round."""
    from sqlalchemy import create_engine

    from bdcwatch.ledger.query import FindingFilter

    token = client.post("/auth/token", json={"username": "viewer", "password": "viewer"}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    from bdcwatch.config.policy import cached_policy
    from bdcwatch.dates.clock import local_today

    engine = create_engine(url)
    dialect = engine.dialect
    today = local_today(cached_policy().timezone)  # the API judges "overdue" against the same day
    results: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name, _ in [*QUERIES, ("one finding", {})]}
    from sqlalchemy import select

    from bdcwatch.store.models import finding

    for _ in range(rounds + 1):  # the first round warms caches and is not counted
        for name, params in QUERIES:
            started = time.perf_counter()
            answer = client.get("/bdcwatch/api/findings", params=params, headers=headers)
            api_ms = (time.perf_counter() - started) * 1000
            assert answer.status_code == 200, answer.text
            page = int(params.get("page", 1))
            flt = FindingFilter(**{k: v for k, v in params.items() if k != "page"})
            query = (select(finding).where(*flt.conditions(today, dialect.name)).order_by(finding.c.id.desc())
                     .limit(50).offset((page - 1) * 50))
            sql = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
            raw = engine.raw_connection()
            try:
                started = time.perf_counter()
                cursor = raw.cursor()
                cursor.execute(sql)
                cursor.fetchall()
                base_ms = (time.perf_counter() - started) * 1000
            finally:
                raw.close()
            results[name][0].append(api_ms)
            results[name][1].append(base_ms)
        fid = random.randint(1, 1000)
        started = time.perf_counter()
        answer = client.get(f"/bdcwatch/api/findings/{fid}", headers=headers)
        results["one finding"][0].append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200 and answer.json()["events"], answer.text
        raw = engine.raw_connection()
        try:
            started = time.perf_counter()
            cursor = raw.cursor()
            cursor.execute(f"SELECT * FROM finding_event WHERE finding_id = {fid} ORDER BY id")
            cursor.fetchall()
            results["one finding"][1].append((time.perf_counter() - started) * 1000)
        finally:
            raw.close()
    for api, base in results.values():
        del api[0], base[0]
    return results


def report(backend: str, findings: int, events: int, results: dict[str, tuple[list[float], list[float]]]) -> None:
    print(f"\n{backend}: {findings:,} findings, {events:,} audit events — ms, p50 / p95")
    print(f"  {'query':<22}{'API':>18}{'bare SELECT':>18}{'ratio p95':>11}")
    everything_api: list[float] = []
    everything_base: list[float] = []
    for name, (api, base) in results.items():
        a50, a95 = _percentiles(api)
        b50, b95 = _percentiles(base)
        everything_api += api
        everything_base += base
        print(f"  {name:<22}{a50:>8.1f} / {a95:>6.1f}{b50:>10.1f} / {b95:>5.1f}{a95 / max(b95, 0.01):>10.1f}")
    a50, a95 = _percentiles(everything_api)
    b50, b95 = _percentiles(everything_base)
    verdict = "OK" if a95 < 200 else "TOO SLOW"
    print(f"  {'all requests':<22}{a50:>8.1f} / {a95:>6.1f}{b50:>10.1f} / {b95:>5.1f}{a95 / max(b95, 0.01):>10.1f}"
          f"   p95 target 200 ms: {verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--findings", type=int, default=200_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=20, help="requests per query (after one warm-up round)")
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    with tempfile.TemporaryDirectory(prefix="bdcwatch-ledger-bench-") as tmp:
        folder = Path(tmp)
        urls: dict[str, str] = {}
        admin = None
        for backend in backends:
            started = time.perf_counter()
            if backend == "sqlite":
                urls[backend] = f"sqlite:///{folder / 'supervision.db'}"
            else:
                from sqlalchemy import create_engine, text

                admin = create_engine("postgresql+psycopg2://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT")
                name = f"bdcw_bench_{uuid.uuid4().hex[:8]}"
                with admin.connect() as conn:
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
                urls[backend] = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
            populate(urls[backend], args.findings, args.events)
            print(f"{backend}: filled in {time.perf_counter() - started:.0f} s")
        try:
            (folder / "airflow").mkdir()
            client = airflow_app(folder / "airflow", "")
            with client:
                for backend in backends:
                    os.environ["AIRFLOW_CONN_SUPERVISION_DB"] = urls[backend].replace("+psycopg2", "")
                    report(backend, args.findings, args.events, measure(client, urls[backend], args.rounds))
        finally:
            if admin is not None:
                from sqlalchemy import text

                with admin.connect() as conn:
                    for backend, url in urls.items():
                        if backend == "postgresql":
                            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    return 0


if __name__ == "__main__":
    sys.exit(main())
