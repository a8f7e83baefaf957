"""Case rules at province scale: the engine's path against a one-query baseline.

    python benchmarks/cases_scale.py --cases 2000000

Writes a year of synthetic cases straight into supervision_db staging (the rules are what
is measured, not extraction): N cases over five units with realistic acceptance times,
registration 1..limit working days after acceptance (the State Council calendar), 0.5 %
same-day and 1 % overdue outliers, 2 % returns, a seizure per 查封 and 1 % of mortgages on
a seized unit. Then, in the same run and on the same
data, each in its own process:
  * baseline: CASE_QUEUE_JUMP, the heaviest rule, as one plain SELECT COUNT(*) query;
  * engine:   all seven case rules through ``run_rules`` (calendar table, ledger upserts,
              audit entries).
Prints times, the ratio and each process's peak memory. Target (issue 3): ratio ≤ 2,
memory flat in the number of cases.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

PERIOD = (date(2026, 1, 1), date(2027, 1, 1))
UNITS = (("YQ00", 0.4), ("YQ11", 0.15), ("YQ21", 0.15), ("YQ22", 0.15), ("YQGX", 0.15))
DJDL = (("200", 0.35), ("300", 0.15), ("100", 0.15), ("400", 0.1), ("700", 0.1), ("800", 0.03), ("600", 0.02),
        ("900", 0.1))


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    u, total = rng.random(), 0.0
    for value, weight in weighted:
        total += weight
        if u < total:
            return value
    return weighted[-1][0]


def populate(url: str, cases: int, seed: int = 1) -> None:
    from bdcwatch.config.policy import load_policy
    from bdcwatch.dates.workdays import WorkCalendar
    from bdcwatch.store.migrate import make_engine, migrate
    from bdcwatch.store.models import stg_bdc_bysl, stg_djf_dj_db, stg_djt_dj_sl, stg_qlf_ql_cfdj

    engine = make_engine(url)
    migrate(engine)
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, 8, 30)
    seconds = int((datetime(2026, 12, 31, 17, 30) - start).total_seconds())
    batch_sl, batch_db, batch_th, batch_cf = [], [], [], []
    sealed: list[str] = []  # unit numbers under a 查封 (the last few hundred)

    def flush() -> None:
        with engine.begin() as conn:
            conn.execute(stg_djt_dj_sl.insert(), batch_sl)
            if batch_db:
                conn.execute(stg_djf_dj_db.insert(), batch_db)
            if batch_th:
                conn.execute(stg_bdc_bysl.insert(), batch_th)
            if batch_cf:
                conn.execute(stg_qlf_ql_cfdj.insert(), batch_cf)
        batch_cf.clear()
        batch_sl.clear()
        batch_db.clear()
        batch_th.clear()

    calendar = WorkCalendar()
    limits = dict(load_policy().time_limits_working_days)
    for i in range(cases):
        slsj = start + timedelta(seconds=rng.randrange(seconds))
        slsj = slsj.replace(hour=8 + slsj.hour % 9, microsecond=0)
        djdl = _pick(rng, DJDL)
        unit = _pick(rng, UNITS)
        ywh = f"B{i:09d}"
        qllx = "37" if djdl == "100" and rng.random() < 0.3 else None
        limit = limits["mortgage"] if qllx else limits[djdl]
        returned = rng.random() < 0.02
        # Registered on a working day after acceptance, within the limit: a realistic
        # office. Rare outliers give every rule work: same-day cases (queue-jump
        # candidates; 查封/异议 always are) and cases past their limit.
        u = rng.random()
        if limit == 0 or u < 0.005:
            days = 0
        elif u < 0.015:
            days = limit + rng.randint(1, 3)
        else:
            days = rng.randint(1, max(1, limit))
        registered_on = calendar.add_working_days(calendar.on_or_after(slsj.date()), days)
        dbsj = None if returned else datetime.combine(registered_on, slsj.time()) + timedelta(hours=rng.random() * 4)
        dbsj = None if dbsj is None else max(dbsj, slsj + timedelta(minutes=30))
        bdcdyh = f"140302{rng.randrange(10**6):06d}GB{rng.randrange(10**5):05d}F00010001"
        if qllx and sealed and rng.random() < 0.01:  # a mortgage on a seized unit (the rule's finding)
            bdcdyh = rng.choice(sealed)
        batch_sl.append({
            "ywh": ywh, "djjg": unit, "qxdm": "140302", "djdl": djdl, "djxl": None, "qllx": qllx,
            "bdcdyh": bdcdyh, "sqfs": rng.choice((1, 2)),
            "slrybh": "R1", "slsj": slsj, "ajzt": 3 if returned else 2, "jssj": slsj + timedelta(hours=2) if returned else dbsj,
            "gqts": 0, "gxsj": slsj, "_load_id": "bench",
        })
        if dbsj:
            batch_db.append({"ywh": ywh, "dbrybh": "R2", "dbsj": dbsj, "gxsj": dbsj, "_load_id": "bench"})
            if djdl == "800":  # 查封 registered: the unit stays sealed (most seizures outlast a year)
                batch_cf.append({"ywh": ywh, "bdcdyh": bdcdyh, "cfjg": "阳泉市中级人民法院", "cfkssj": dbsj,
                                 "jfsj": None, "gxsj": dbsj, "_load_id": "bench"})
                sealed = [*sealed[-500:], bdcdyh]
        else:
            batch_th.append({"id": f"T{i:09d}", "ywh": ywh, "bdcdyh": batch_sl[-1]["bdcdyh"],
                             "thsj": slsj + timedelta(hours=2), "thyydm": rng.choice(("01", "03", None)), "thyy": None,
                             "czrybh": "R1", "gxsj": slsj, "_load_id": "bench"})
        if len(batch_sl) >= 20_000:
            flush()
    if batch_sl:
        flush()


def _baseline(url: str, out: mp.Queue) -> None:
    from sqlalchemy import text

    from bdcwatch import rules
    from bdcwatch.config.policy import load_policy
    from bdcwatch.dates.periods import Period
    from bdcwatch.dates.workdays import WorkCalendar
    from bdcwatch.rules import RuleInput
    from bdcwatch.rules.calendar_table import refresh_work_calendar
    from bdcwatch.store.dialect import Dialect, bind_typed
    from bdcwatch.store.migrate import make_engine

    engine = make_engine(url)
    period = Period(*PERIOD)
    with engine.begin() as conn:  # the baseline gets the calendar table for free
        refresh_work_calendar(conn, WorkCalendar(), period.as_of)
    rule = rules.get("CASE_QUEUE_JUMP")
    ri = RuleInput(period, load_policy(), Dialect(engine.dialect.name), engine)
    params = {**ri.base_params, **rule.params(ri)}
    started = time.perf_counter()
    with engine.connect() as conn:
        count = conn.execute(bind_typed(text(f"SELECT COUNT(*) FROM ({rule.sql(ri)}) q"), params), params).scalar_one()
    out.put((time.perf_counter() - started, count, _peak_mb()))


def _engine(url: str, out: mp.Queue) -> None:
    from bdcwatch import rules
    from bdcwatch.config.policy import load_policy
    from bdcwatch.config.run import RunContext
    from bdcwatch.dates.periods import Period
    from bdcwatch.dates.workdays import WorkCalendar
    from bdcwatch.ledger.findings import run_rules
    from bdcwatch.store.migrate import make_engine

    engine = make_engine(url)
    started = time.perf_counter()
    case_rules = [rules.get(code) for code in rules.select(family="case")]
    outcomes = run_rules(engine, case_rules, period=Period(*PERIOD), policy=load_policy(), calendar=WorkCalendar(),
                         ctx=RunContext("benchmark", "bench-cases", datetime(2027, 1, 2, 1)))
    out.put((time.perf_counter() - started, {o.rule_code: o.detected for o in outcomes}, _peak_mb()))


def _child(target, url):  # type: ignore[no-untyped-def]
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(url, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2_000_000)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bdcwatch-cases-"))
    workdir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{workdir / 'supervision.db'}"
    started = time.perf_counter()
    populate(url, args.cases)
    print(f"{args.cases:,} cases staged in {time.perf_counter() - started:.1f} s ({workdir})", flush=True)
    base_s, base_n, base_mb = _child(_baseline, url)
    engine_s, detected, engine_mb = _child(_engine, url)
    print(f"baseline  CASE_QUEUE_JUMP as one query   {base_s:8.2f} s   {base_n:,} queue jumps   peak {base_mb:.0f} MB")
    print(f"engine    all seven case rules          {engine_s:8.2f} s   {detected}   peak {engine_mb:.0f} MB")
    print(f"ratio engine/baseline = {engine_s / base_s:.2f}  (target <= 2.0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
