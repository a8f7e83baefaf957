"""Daily cost against the day's changes (issue 13 item 3): the daily DAGs on an archive A
and on one ten times smaller, step by step, through the engine functions their tasks call.

    python benchmarks/daily_delta.py                 # A = 100,000 certificates, A/10 = 10,000
    python benchmarks/daily_delta.py --n 1000000     # the issue's figure: 1,000,000 vs 100,000

1. The demo generator writes A = N certificates with their cases, 登簿 rows and
   e-certificates over 1,200 days to a SQLite source. A/10 is a copy of it without the
   rows last changed before its final 120 days: both end on the same days, with the same
   daily volume and the same problems in the daily window; only the archive differs.
2. In each, the ``--delta`` (1,000) newest source rows: 900 rows (by GXSJ) of the tables
   the two DAGs read are taken out into ``day.db``; 100 old completed cases will be
   corrected on the day (a later GXSJ). An index on each source table's GXSJ stands for
   what the incremental read needs (``--no-source-index``: without it, as the reference DDL).
3. **Full run**: the first run on an empty supervision_db (``ecert_completeness``, then
   ``case_timeliness_watch``): every table loaded through the gate, the rules evaluated and
   recorded, the digests and notices composed into the outbox (no SMTP), the duties checked
   and the audit trail verified.
4. **The day**: the held-back rows go back into the source (new rows) and the corrections
   get a later GXSJ (changed rows); then the **daily run**, the same steps a day later.

Each run runs in its own process (as an Airflow task does). Per step it prints the wall
time, the source rows read and the SQLite virtual-machine instructions the step executed
in supervision_db (``kinstr``, thousands, from ``sqlite3``'s progress handler): a measure
of rows scanned that machine load does not disturb. Then the ratios: daily(A) /
daily(A/10) for the engine's share (target ≤ 1.3) and daily / full.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

ECERT_TABLES = ("BDC_ZS", "DJF_DJ_DB", "BDC_DZZZ_ZZXX")
CASE_TABLES = ("DJT_DJ_SL", "DJF_DJ_DB")
DELTA_TABLES = ("BDC_ZS", "DJF_DJ_DB", "BDC_DZZZ_ZZXX", "DJT_DJ_SL")
HISTORY_END = date(2026, 11, 1)  # the generator's period end; its history runs ~10 days past it
SPAN_DAYS = 1200  # the history of archive A; A/10 keeps its last tenth
LEAD_IN_AND_TAIL = 101  # generator.LEAD_IN_DAYS + TAIL_DAYS
COUNTED = 1000  # the progress handler is called every this many SQLite VM instructions


class Counter:
    """SQLite VM instructions executed on the connections of the engines it watches."""

    def __init__(self) -> None:
        self.ticks = 0

    def watch(self, engine: Any) -> Any:
        from sqlalchemy import event

        def tick() -> int:
            self.ticks += 1
            return 0

        @event.listens_for(engine, "connect")
        def _count(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.set_progress_handler(tick, COUNTED)

        return engine


def _generate(workdir: Path, size: int, span_days: int) -> None:
    from bdcwatch.demo.generator import generate

    source = workdir / "source.db"
    period_start = HISTORY_END - timedelta(days=span_days - LEAD_IN_AND_TAIL)
    generate(f"sqlite:///{source}", f"sqlite:///{source}", f"sqlite:///{source}", size=size, seed=13,
             period_start=period_start, period_end=HISTORY_END)


def _hold_back(workdir: Path, delta: int) -> tuple[datetime, datetime]:
    """Cut the history at HISTORY_END (the generator's last days hold only open cases: not
    a typical day), then move the newest ``delta`` × 0.9 rows into day.db; return
    (cutoff, newest) GXSJ."""
    con = sqlite3.connect(workdir / "source.db")
    con.execute(f"ATTACH DATABASE '{workdir / 'day.db'}' AS day")
    for table in DELTA_TABLES:
        con.execute(f"DELETE FROM {table} WHERE GXSJ >= ?", (HISTORY_END.isoformat(),))
    union = " UNION ALL ".join(f"SELECT '{t}' AS t, rowid AS r, GXSJ AS g FROM {t}" for t in DELTA_TABLES)
    newest = con.execute(f"SELECT t, r, g FROM ({union}) ORDER BY g DESC, t, r LIMIT ?", (delta - delta // 10,)).fetchall()
    for table in DELTA_TABLES:
        rowids = [r for t, r, _ in newest if t == table]
        con.execute(f"CREATE TABLE day.{table} AS SELECT * FROM main.{table} WHERE 0")
        for start in range(0, len(rowids), 500):
            chunk = ",".join(str(r) for r in rowids[start:start + 500])
            con.execute(f"INSERT INTO day.{table} SELECT * FROM main.{table} WHERE rowid IN ({chunk})")
            con.execute(f"DELETE FROM main.{table} WHERE rowid IN ({chunk})")
    con.commit()
    con.close()
    return _moment(newest[-1][2]), _moment(newest[0][2])


def _moment(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _apply_day(workdir: Path, delta: int, newest: datetime) -> int:
    """The day's changes reach the source: the held-back rows, and corrections to old cases."""
    con = sqlite3.connect(workdir / "source.db")
    con.execute(f"ATTACH DATABASE '{workdir / 'day.db'}' AS day")
    written = 0
    for table in DELTA_TABLES:
        written += con.execute(f"INSERT INTO main.{table} SELECT * FROM day.{table}").rowcount
    stamp = (newest + timedelta(minutes=5)).isoformat(sep=" ")
    con.execute("DROP TABLE IF EXISTS day.corrected")  # their GXSJ before the day, for _undo_day
    con.execute("CREATE TABLE day.corrected AS SELECT rowid AS r, GXSJ AS g FROM main.DJT_DJ_SL WHERE AJZT = 2 "
                "ORDER BY rowid LIMIT ? OFFSET (SELECT COUNT(*) / 2 FROM main.DJT_DJ_SL)", (delta // 10,))
    written += con.execute("UPDATE DJT_DJ_SL SET GXSJ = ? WHERE rowid IN (SELECT r FROM day.corrected)",
                           (stamp,)).rowcount
    con.commit()
    con.close()
    return written


def _job(engine: Any, dag_id: str, period: Any, now: datetime) -> Any:
    from bdcwatch.config.policy import load_policy
    from bdcwatch.config.run import Job, RunContext, RunSpec

    spec = RunSpec(period_start=period.start, period_end=period.end)
    return Job(spec=spec, policy=load_policy(), engine=engine, ctx=RunContext(dag_id, f"{dag_id}-{now:%Y%m%d}", now))


def _run(workdir: str, today: date, label: str, out: mp.Queue) -> None:
    """One day's ecert_completeness then case_timeliness_watch, as their tasks do them."""
    from sqlalchemy import create_engine, text

    from bdcwatch import rules
    from bdcwatch.dates.periods import previous_period, rolling_window
    from bdcwatch.ledger import audit, duties, findings, verdicts
    from bdcwatch.reports import escalation, quarantine_notice, unit_digest, watch_list
    from bdcwatch.reports.chart import trend_chart_png
    from bdcwatch.sources.extract import load_table
    from bdcwatch.sources.gate import validator_for
    from bdcwatch.sources.schema import SOURCE_TABLES
    from bdcwatch.store.migrate import make_engine, migrate

    logging.disable(logging.WARNING)  # the gate's per-row warnings would drown the figures
    counter, source_counter = Counter(), Counter()
    target = counter.watch(make_engine(f"sqlite:///{Path(workdir) / 'supervision.db'}"))
    source = source_counter.watch(create_engine(f"sqlite:///{Path(workdir) / 'source.db'}"))
    steps: list[tuple[str, float, int, int, str]] = []

    def step(name: str, action: Callable[[], Any], rows: Callable[[Any], int] = lambda _: 0,
             note: Callable[[Any], str] = lambda _: "") -> Any:
        ticks, source_ticks, started = counter.ticks, source_counter.ticks, time.perf_counter()
        result = action()
        read = source_counter.ticks - source_ticks
        steps.append((name, time.perf_counter() - started, rows(result), counter.ticks - ticks,
                      (f"source {read:,} kinstr; " if read else "") + note(result)))
        return result

    # What every task process pays whatever the archive (imports, the GX context, the
    # chart library): timed apart, so the steps below are the engine's share proper.
    started = time.perf_counter()
    for table in {*ECERT_TABLES, *CASE_TABLES}:
        validator_for(table, SOURCE_TABLES[table].key)
    trend_chart_png([("2026-01", 1, 0)])
    startup = time.perf_counter() - started
    step("prepare_supervision_db", lambda: migrate(target))
    for dag_id, tables, codes, period, at in (
        ("ecert_completeness", ECERT_TABLES, rules.select(family="ecert"), rolling_window(today, 7), dtime(1)),
        ("case_timeliness_watch", CASE_TABLES, rules.select(tag="time_limit"), previous_period("day", today),
         dtime(7, 30)),
    ):
        now = datetime.combine(today, at)
        job = _job(target, dag_id, period, now)
        for table in tables:
            step(f"{dag_id[:5]}.load[{table}]",
                 lambda t=table, j=job, n=now: load_table(source, target, t, run_id=j.ctx.run_id, now=n),
                 lambda r: r.rows_read, lambda r: f"loaded {r.rows_loaded}, quarantined {r.rows_quarantined}")
        evaluation = step(f"{dag_id[:5]}.evaluate", lambda j=job, c=codes: findings.evaluate(j, c),
                          note=lambda e: f"{sum(o.detected for o in e.outcomes)} detected, "
                                         f"{sum(o.new for o in e.outcomes)} new")
        if dag_id == "case_timeliness_watch":  # what CASE_OVERDUE_OPEN and the watch list must judge
            with target.connect() as conn:
                backlog = conn.execute(text("SELECT COUNT(*) FROM stg_djt_dj_sl WHERE ajzt = 1")).scalar_one()
            steps[-1] = (*steps[-1][:4], f"{steps[-1][4]}; {backlog} cases in progress (AJZT 1)")
        if dag_id == "ecert_completeness":
            step("ecert.compose", lambda j=job, e=evaluation: unit_digest.compose(
                j, e, title="电子证照完整性核查", plan_items="16", figures=("ecert",))
                + quarantine_notice.compose(j, ECERT_TABLES), note=lambda ids: f"{len(ids)} queued")
        else:
            step("case_.verify_audit", lambda: audit.verify_or_raise(target), note=lambda n: f"{n} entries")
            step("case_.check_duties", lambda j=job: duties.check_missed(j), note=lambda ids: f"{len(ids)} findings")
            step("case_.compose", lambda j=job, e=evaluation: unit_digest.compose(
                j, e, title="办件时限核查", plan_items="14、33") + verdicts.unannounced_defects(j.engine)
                + quarantine_notice.compose(j, CASE_TABLES) + watch_list.compose(j, e) + escalation.compose(j),
                note=lambda ids: f"{len(ids)} queued")
    out.put((label, steps, startup))


def _child(*args: Any) -> Any:
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_run, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def _print(label: str, steps: list[tuple[str, float, int, int, str]], startup: float) -> float:
    total = sum(s for _, s, _, _, _ in steps)
    print(f"  {label}: engine share {total:.2f} s, {sum(k for _, _, _, k, _ in steps):,} kinstr in supervision_db "
          f"(+ {startup:.1f} s process start-up: GX context, chart library)", flush=True)
    for name, seconds, rows, kinstr, note in steps:
        print(f"    {name:<30} {seconds:8.3f} s  {rows:>9,} rows read  {kinstr:>10,} kinstr  {note}")
    return total


def prepare(big: Path, small: Path, size: int, delta: int) -> None:
    """Archive A: the generator's N certificates over SPAN_DAYS. Archive A/10: a copy of A
    without its older nine tenths (rows last changed before the last SPAN_DAYS / 10 days),
    so both end on the same recent days, the same day's changes and the same problems in
    the daily window: only the archive behind them differs."""
    for workdir in (big, small):
        workdir.mkdir(parents=True, exist_ok=True)
        for name in ("source.db", "day.db", "supervision.db"):
            (workdir / name).unlink(missing_ok=True)
    started = time.perf_counter()
    _generate(big, size, SPAN_DAYS)
    shutil.copyfile(big / "source.db", small / "source.db")
    con = sqlite3.connect(small / "source.db")
    for table in DELTA_TABLES:
        con.execute(f"DELETE FROM {table} WHERE GXSJ < ?", ((HISTORY_END - timedelta(days=SPAN_DAYS // 10)).isoformat(),))
    con.commit()
    con.execute("VACUUM")
    con.close()
    for workdir in (big, small):
        cutoff, newest = _hold_back(workdir, delta)
        (workdir / "moments").write_text(f"{cutoff.isoformat()}\n{newest.isoformat()}\n")
    print(f"generated {size:,} certificates over {SPAN_DAYS} days and cut A/10 from them in "
          f"{time.perf_counter() - started:.0f} s; held back the rows after {cutoff}", flush=True)


def archive(workdir: Path, delta: int, source_index: bool) -> dict[str, Any]:
    """Run full, apply the day, run daily; per-step figures."""
    con = sqlite3.connect(workdir / "source.db")
    print(f"archive of {con.execute('SELECT COUNT(*) FROM BDC_ZS').fetchone()[0]:,} certificates "
          f"({con.execute('SELECT MIN(SZSJ) FROM BDC_ZS').fetchone()[0][:10]} on)", flush=True)
    con.close()
    cutoff, newest = (datetime.fromisoformat(x) for x in (workdir / "moments").read_text().split())
    _source_index(workdir, source_index)
    (workdir / "supervision.db").unlink(missing_ok=True)
    full_day = cutoff.date()
    label, full, startup = _child(str(workdir), full_day, "full run")
    full_s = _print(f"{label} (as of {full_day})", full, startup)
    written = _apply_day(workdir, delta, newest)
    daily_day = newest.date() + timedelta(days=1)
    label, daily, startup = _child(str(workdir), daily_day, "daily run")
    daily_s = _print(f"{label} (as of {daily_day}, {written:,} source rows new or changed)", daily, startup)
    _undo_day(workdir)  # the source as generated again, for the next --reuse
    return {"full": full, "daily": daily, "full_s": full_s, "daily_s": daily_s}


def _source_index(workdir: Path, wanted: bool) -> None:
    """An index on each source table's GXSJ, as the incremental read needs (the reference
    DDL declares none: without it the source scans its whole table every day)."""
    con = sqlite3.connect(workdir / "source.db")
    for table in DELTA_TABLES:
        con.execute(f"CREATE INDEX IF NOT EXISTS ix_{table}_gxsj ON {table} (GXSJ)" if wanted
                    else f"DROP INDEX IF EXISTS ix_{table}_gxsj")
    con.commit()
    con.close()


def _undo_day(workdir: Path) -> None:
    con = sqlite3.connect(workdir / "source.db")
    con.execute(f"ATTACH DATABASE '{workdir / 'day.db'}' AS day")
    for table in DELTA_TABLES:
        key = {"BDC_ZS": "ZSID", "DJF_DJ_DB": "YWH", "BDC_DZZZ_ZZXX": "ZZID", "DJT_DJ_SL": "YWH"}[table]
        con.execute(f"DELETE FROM main.{table} WHERE {key} IN (SELECT {key} FROM day.{table})")
    con.execute("UPDATE main.DJT_DJ_SL SET GXSJ = (SELECT g FROM day.corrected WHERE r = DJT_DJ_SL.rowid) "
                "WHERE rowid IN (SELECT r FROM day.corrected)")
    con.commit()
    con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="certificates in archive A (A/10 is the other)")
    parser.add_argument("--delta", type=int, default=1_000, help="source rows new or changed in the day")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--reuse", action="store_true", help="reuse the sources generated in --workdir")
    parser.add_argument("--no-source-index", action="store_true", help="no index on the sources' GXSJ (as the "
                        "reference DDL): the daily read then scans each source table")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bdcwatch-delta-"))
    print(f"daily delta benchmark: A = {args.n:,}, A/10 = {args.n // 10:,} certificates, "
          f"{args.delta:,} rows a day, in {workdir}", flush=True)
    big_dir, small_dir = workdir / "A", workdir / "A10"
    if not (args.reuse and (small_dir / "moments").exists() and (big_dir / "moments").exists()):
        prepare(big_dir, small_dir, args.n, args.delta)
    results = {size: archive(path, args.delta, not args.no_source_index)
               for size, path in ((args.n, big_dir), (args.n // 10, small_dir))}
    big, small = results[args.n], results[args.n // 10]
    print("per step, daily run: A vs A/10")
    for (name, s_big, _, k_big, _), (_, s_small, _, k_small, _) in zip(big["daily"], small["daily"], strict=True):
        print(f"    {name:<30} {s_big / s_small if s_small else 0:6.2f}x time  "
              f"{k_big / k_small if k_small else 0:6.2f}x kinstr")
    ratio = big["daily_s"] / small["daily_s"]
    kin = sum(s[3] for s in big["daily"]) / max(1, sum(s[3] for s in small["daily"]))
    print(f"daily(A) / daily(A/10) = {ratio:.2f} time, {kin:.2f} kinstr   (target <= 1.3)")
    print(f"daily / full: A {big['daily_s'] / big['full_s']:.3f}, A/10 {small['daily_s'] / small['full_s']:.3f}")
    return 0 if ratio <= 1.3 else 1


if __name__ == "__main__":
    sys.exit(main())
