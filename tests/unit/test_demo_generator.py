"""The demo-data generator: determinism, shape of every row, and a truthful ground truth.

The ground truth is checked against a plain reading of the ECERT, case and staff rules
(CONTRACT §3 and §5, as of period_end 00:00) written here independently of the engine, so
that a wrong plant or a trap that accidentally fires is caught by the generator's own tests;
one test then runs the real engine on generated data, which is the final judge.
"""

from __future__ import annotations

import json
import re
import sqlite3
import statistics
import time as wallclock
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import chinese_calendar
import pytest
import yaml
from dateutil.relativedelta import relativedelta
from sqlalchemy import create_engine, inspect, select

from bdcwatch import rules
from bdcwatch.config.policy import load_policy
from bdcwatch.config.run import RunContext
from bdcwatch.dates.periods import Period
from bdcwatch.dates.workdays import WorkCalendar
from bdcwatch.demo import GroundTruth, generate, generator, main
from bdcwatch.ledger.findings import run_rules
from bdcwatch.sources.extract import load_table
from bdcwatch.sources.schema import SOURCE_TABLES, build_metadata
from bdcwatch.standards.identifiers import ecert_identifier_problem, is_valid_id_number, is_valid_unit_number
from bdcwatch.standards.normalise import normalize_certificate_number, normalize_holders
from bdcwatch.store.migrate import make_engine, migrate
from bdcwatch.store.models import finding

LOADED_AT = datetime(2026, 6, 1, 9, 0)  # the local clock a load stamps on load_log and quarantine

CASE_RULES = [rules.get(code) for code in rules.select(family="case")]

PERIOD = {"period_start": date(2026, 1, 1), "period_end": date(2026, 4, 1)}
ECERT_RULES = (
    "ECERT_MISSING",
    "ECERT_LATE",
    "ECERT_NOT_REVOKED",
    "ECERT_MISMATCH",
    "ECERT_DUPLICATE",
    "ECERT_ORPHAN",
    "ECERT_BAD_ID",
)
CASE_RULE_CODES = (
    "CASE_OVERDUE",
    "CASE_OVERDUE_OPEN",
    "CASE_QUEUE_JUMP",
    "RETURN_UNJUSTIFIED",
    "RETURN_REPEATED",
    "MORTGAGE_WHILE_SEALED",
    "ONLINE_RATIO_LOW",
)
UNITS = {"YQ00", "YQ11", "YQ21", "YQ22", "YQGX"}
REFERENCE_SQL = Path(__file__).resolve().parents[3] / "shared" / "contract" / "source_schema.sql"


def _generate(path: Path, size: int = 200, seed: int = 20261125, **kwargs: Any) -> GroundTruth:
    url = f"sqlite:///{path}"
    return generate(url, url, url, size=size, seed=seed, **PERIOD, **kwargs)


def _rows(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Every table's rows, typed by the reference metadata, in primary-key order."""
    metadata = build_metadata()
    engine = create_engine(f"sqlite:///{path}")
    result = {}
    with engine.connect() as conn:
        for name in SOURCE_TABLES:
            table = metadata.tables[name]
            query = select(table).order_by(*table.primary_key.columns)
            result[name] = [dict(row._mapping) for row in conn.execute(query)]
    engine.dispose()
    return result


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[GroundTruth, dict[str, list[dict[str, Any]]]]:
    path = tmp_path_factory.mktemp("demo") / "sources.db"
    truth = _generate(path)
    return truth, _rows(path)


# --------------------------------------------------------------------------------------
# A plain reading of the ECERT rules, as of as-of
# --------------------------------------------------------------------------------------


def raw_policy() -> dict[str, Any]:
    """The policy file as plain YAML: the oracle reads the numbers itself, independently of
    the engine's typed policy."""
    from bdcwatch.config.policy import cached_policy

    return yaml.safe_load(Path(cached_policy().source.removesuffix(" (bundled default)")).read_text(encoding="utf-8"))


def reference_findings(
    truth: GroundTruth, rows: dict[str, list[dict[str, Any]]], exclude: Collection[tuple[str, str]] = ()
) -> set[tuple[str, str, str]]:
    """(rule_code, subject_id, unit_code) that CONTRACT §3 gives for the generated data."""
    start, as_of = truth.period_start, truth.as_of
    ecert_policy = raw_policy()["ecert"]
    grace = timedelta(hours=int(ecert_policy["max_delay_hours"]))
    type_codes = {int(k): v for k, v in ecert_policy["type_codes"].items()}
    papers = [p for p in rows["BDC_ZS"] if ("BDC_ZS", p["ZSID"]) not in exclude]
    ecerts = [e for e in rows["BDC_DZZZ_ZZXX"] if ("BDC_DZZZ_ZZXX", e["ZZID"]) not in exclude]
    dbsj = {r["YWH"]: r["DBSJ"] for r in rows["DJF_DJ_DB"]}

    def in_period(moment: datetime | None) -> bool:
        return moment is not None and datetime.combine(start, datetime.min.time()) <= moment < as_of

    def valid(e: dict[str, Any]) -> bool:
        return e["ZZBFRQ"] < as_of and (e["ZZZT"] == 1 or (e["ZZZT"] == 2 and e["ZXSJ"] >= as_of))

    existing: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in ecerts:
        if e["ZZBFRQ"] < as_of:
            existing[normalize_certificate_number(e["BDCQZH"])].append(e)
    paper_numbers = {normalize_certificate_number(p["BDCQZH"]) for p in papers if p["SZSJ"] < as_of}

    found: set[tuple[str, str, str]] = set()
    for p in papers:
        number = normalize_certificate_number(p["BDCQZH"])
        matching = existing.get(number, [])
        valid_matching = [e for e in matching if valid(e)]
        rules = []
        if in_period(p["SZSJ"]):
            if p["SZSJ"] + grace <= as_of and not matching:
                rules.append("ECERT_MISSING")
            if any(e["ZZBFRQ"] > dbsj[p["YWH"]] + grace for e in matching):
                rules.append("ECERT_LATE")
            if any(
                e["BDCDYH"] != p["BDCDYH"]
                or normalize_holders(e["CZZT"]) != normalize_holders(p["QLRMC"])
                or e["ZZLXDM"] != type_codes.get(p["ZSLX"])
                for e in valid_matching
            ):
                rules.append("ECERT_MISMATCH")
            if len(valid_matching) > 1:
                rules.append("ECERT_DUPLICATE")
        if p["ZSZT"] == 2 and in_period(p["ZXSJ"]) and p["ZXSJ"] + grace <= as_of and valid_matching:
            rules.append("ECERT_NOT_REVOKED")
        found.update((rule, number, p["DJJG"]) for rule in rules)
    for e in ecerts:
        if not in_period(e["ZZBFRQ"]):
            continue
        if valid(e) and e["ZZBFRQ"] + grace <= as_of and normalize_certificate_number(e["BDCQZH"]) not in paper_numbers:
            found.add(("ECERT_ORPHAN", e["ZZID"], e["ZZBFJGDM"]))
        if ecert_identifier_problem(e["ZZBS"], e["ZZLXDM"]) is not None:
            found.add(("ECERT_BAD_ID", e["ZZID"], e["ZZBFJGDM"]))
    return found


def _truth_set(truth: GroundTruth, rules: Collection[str] = ECERT_RULES) -> set[tuple[str, str, str]]:
    return {(f.rule_code, f.subject_id, f.unit_code) for f in truth.findings if f.rule_code in rules}


# --------------------------------------------------------------------------------------
# A plain reading of the case rules, as of as-of
# --------------------------------------------------------------------------------------


def _workday(day: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


class _Days:
    """Working days of [first, last] on the State Council calendar, numbered."""

    def __init__(self, first: date, last: date) -> None:
        self.days: list[date] = []
        self.seq: dict[date, int] = {}  # working days up to and including the day
        day = first
        while day <= last:
            if _workday(day):
                self.days.append(day)
            self.seq[day] = len(self.days)
            day += timedelta(days=1)

    def on_or_after(self, day: date) -> date:
        return day if _workday(day) else self.days[self.seq[day]]

    def nth_after(self, day: date, n: int) -> date:
        """The n-th working day after ``day`` (``day`` itself for n = 0 on a working day)."""
        return day if n == 0 else self.days[self.seq[day] - 1 + n]

    def elapsed(self, start: date, day: date) -> int:
        """Working days d with start < d <= day."""
        return max(0, self.seq[day] - self.seq[start])


@dataclass(frozen=True)
class Reading:
    """The contract's reading of the case rules; each knob turns one point into a wrong one
    (to show that a trap really is a near miss)."""

    exempt: tuple[str, ...] | None = None  # None: the policy's exempt classes
    same_unit_only: bool = True  # RETURN_REPEATED counts only the same DJJG's returns
    repeat_days: int | None = None  # None: the policy's
    start_moves: bool = True  # acceptance on a day off: count from the next working day
    with_gqts: bool = True
    open_states: tuple[int, ...] = (1,)
    lawful_codes: bool = True
    respect_jfsj: bool = True
    respect_cfkssj: bool = True
    strictly_below: bool = True  # ONLINE_RATIO_LOW: below the target, not at it


def case_reference_findings(
    truth: GroundTruth, rows: dict[str, list[dict[str, Any]]], reading: Reading = Reading()
) -> set[tuple[str, str, str]]:
    """(rule_code, subject_id, unit_code) that CONTRACT §3 gives for the case rules."""
    policy = load_policy()
    raw = raw_policy()
    limits = {str(k): int(v) for k, v in raw["time_limits_working_days"].items()}
    mortgage = {str(c) for c in raw["mortgage_qllx_codes"]}
    queue = raw["queue_jump"]
    exempt = set(reading.exempt if reading.exempt is not None else (str(c) for c in queue["exempt_classes"]))
    fraction = Fraction(str(queue["max_fraction_of_median"]))
    start_at, as_of = datetime.combine(truth.period_start, time()), truth.as_of
    cases = rows["DJT_DJ_SL"]
    case_of = {c["YWH"]: c for c in cases}
    dbsj = {r["YWH"]: r["DBSJ"] for r in rows["DJF_DJ_DB"]}
    days = _Days(min(c["SLSJ"].date() for c in cases) - timedelta(days=1), as_of.date() + timedelta(days=120))

    def in_period(moment: datetime | None) -> bool:
        return moment is not None and start_at <= moment < as_of

    def limit_class(c: dict[str, Any]) -> str:
        if c["DJDL"] in ("800", "600", "700"):
            return str(c["DJDL"])
        return "mortgage" if c["QLLX"] in mortgage else str(c["DJDL"])

    def deadline(c: dict[str, Any]) -> date:
        accepted = c["SLSJ"].date()
        start = days.on_or_after(accepted) if reading.start_moves else accepted
        return days.nth_after(start, limits[limit_class(c)] + (c["GQTS"] if reading.with_gqts else 0))

    found: set[tuple[str, str, str]] = set()
    for c in cases:
        if c["AJZT"] == 2 and in_period(c["JSSJ"]) and c["JSSJ"].date() > deadline(c):
            found.add(("CASE_OVERDUE", c["YWH"], c["DJJG"]))
        finished_later = c["AJZT"] in (2, 3, 5) and c["JSSJ"] is not None and c["JSSJ"] >= as_of
        if c["SLSJ"] < as_of and (c["AJZT"] in reading.open_states or finished_later) and deadline(c) < as_of.date():
            found.add(("CASE_OVERDUE_OPEN", c["YWH"], c["DJJG"]))

    # Queue jumps: elapsed, the month's median of the same unit and limit class, overtaken cases.
    registered = [c for c in cases if c["YWH"] in dbsj]
    elapsed = {c["YWH"]: days.elapsed(days.on_or_after(c["SLSJ"].date()), dbsj[c["YWH"]].date()) for c in registered}
    month: dict[tuple[str, str, int, int], list[int]] = defaultdict(list)
    peers: dict[tuple[str, str], list[tuple[datetime, datetime]]] = defaultdict(list)
    for c in registered:
        done = dbsj[c["YWH"]]
        if done < as_of:
            month[(c["DJJG"], limit_class(c), done.year, done.month)].append(elapsed[c["YWH"]])
        peers[(c["DJJG"], limit_class(c))].append((c["SLSJ"], done))
    for b in registered:
        done, cls = dbsj[b["YWH"]], limit_class(b)
        if not in_period(done) or cls in exempt:
            continue
        median = Fraction(statistics.median(month[(b["DJJG"], cls, done.year, done.month)]))
        if not elapsed[b["YWH"]] < fraction * median:
            continue
        overtaken = sum(
            1 for slsj, a_done in peers[(b["DJJG"], cls)]
            if b["SLSJ"] - timedelta(days=90) <= slsj < b["SLSJ"] and a_done > done
        )
        if overtaken >= int(queue["min_overtaken"]):
            found.add(("CASE_QUEUE_JUMP", b["YWH"], b["DJJG"]))

    # Returns: a return's unit is its case's DJJG.
    lawful = {str(code) for code in raw["return_reason_codes"]} if reading.lawful_codes else set()
    window = timedelta(days=reading.repeat_days or int(raw["repeat_return_days"]))
    by_unit_number: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows["BDC_BYSL"]:
        by_unit_number[r["BDCDYH"]].append(r)
    for r in rows["BDC_BYSL"]:
        if not in_period(r["THSJ"]):
            continue
        unit = case_of[r["YWH"]]["DJJG"]
        if (r["THYYDM"] or "").strip() not in lawful:
            found.add(("RETURN_UNJUSTIFIED", r["ID"], unit))
        if (r["BDCDYH"] or "").strip() and any(
            p["ID"] != r["ID"]
            and (case_of[p["YWH"]]["DJJG"] == unit or not reading.same_unit_only)
            and (p["THSJ"] < r["THSJ"] or (p["THSJ"] == r["THSJ"] and p["ID"] < r["ID"]))
            and p["THSJ"] + window >= r["THSJ"]
            for p in by_unit_number[r["BDCDYH"]]
        ):
            found.add(("RETURN_REPEATED", r["ID"], unit))

    seizures: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for seizure in rows["QLF_QL_CFDJ"]:
        seizures[seizure["BDCDYH"]].append(seizure)
    for c in registered:
        done = dbsj[c["YWH"]]
        if c["QLLX"] in mortgage and in_period(done) and any(
            (s["CFKSSJ"] <= done or not reading.respect_cfkssj)
            and (s["JFSJ"] is None or s["JFSJ"] > done or not reading.respect_jfsj)
            for s in seizures[c["BDCDYH"]]
        ):
            found.add(("MORTGAGE_WHILE_SEALED", c["YWH"], c["DJJG"]))

    online = raw["online_handling"]
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for c in cases:
        if in_period(c["SLSJ"]) and (c["DJDL"] == "700" or c["QLLX"] in mortgage):
            tally[c["DJJG"]][0] += 1
            tally[c["DJJG"]][1] += c["SQFS"] in online["online_sqfs"]
    for unit, (total, on_line) in tally.items():
        target = Fraction(str(online["targets"][policy.units[unit].level]))
        share = Fraction(on_line, total)
        if total >= int(online["min_cases"]) and (share < target if reading.strictly_below else share <= target):
            found.add(("ONLINE_RATIO_LOW", unit, unit))
    return found


def engine_case_findings(source_url: str, supervision_url: str, truth: GroundTruth) -> set[tuple[str, str, str]]:
    """What the real engine finds with the case rules: extraction through the gate, then the rules."""
    return engine_findings(source_url, supervision_url, truth, CASE_RULE_CODES)


def engine_findings(
    source_url: str, supervision_url: str, truth: GroundTruth, codes: Collection[str]
) -> set[tuple[str, str, str]]:
    """What the real engine finds with the rules ``codes``: every table they read extracted
    through the gate, then the rules."""
    declared = [rules.get(code) for code in codes]
    supervision = make_engine(supervision_url)
    migrate(supervision)
    source = create_engine(source_url)
    for table in sorted({table for rule in declared for table in rule.reads}):
        load_table(source, supervision, table, run_id="t", full_scan=True, now=LOADED_AT)
    run_rules(supervision, declared, period=Period(truth.period_start, truth.period_end), policy=load_policy(),
              calendar=WorkCalendar(), ctx=RunContext("t", "t", datetime.combine(truth.period_end, time(1))))
    with supervision.connect() as conn:
        found = {(r.rule_code, r.subject_id, r.unit_code) for r in conn.execute(select(finding))}
    source.dispose()
    supervision.dispose()
    return {f for f in found if f[0] in codes}


# --------------------------------------------------------------------------------------
# A plain reading of the staff rules, as of as-of
# --------------------------------------------------------------------------------------

STAFF_RULES = (
    "STAFF_UNTRAINED_ON_POST",
    "STAFF_UNKNOWN_HANDLER",
    "STAFF_INACTIVE_HANDLER",
    "STAFF_TRAINING_HOURS",
    "STAFF_TRAINING_BEHIND",
    "STAFF_RECORD_INCOMPLETE",
    "STAFF_ROTATION_DUE",
    "STAFF_PLEDGE_MISSING",
)


@dataclass(frozen=True)
class StaffReading:
    """The contract's reading of the staff rules; each knob is one plausible mistake."""

    same_day_is_late: bool = False  # UNTRAINED: a step on the day of the first training counts
    leaving_day_is_late: bool = False  # INACTIVE: a step on the LGSJ day counts
    count_failed: bool = False  # KHJG 0 courses count as training
    months_from_january: bool = False  # BEHIND: months counted from 1 January even for a later SGSJ
    anyone_on_post_all_year: bool = False  # HOURS: whoever is on post at as-of is judged on the year
    everyone_on_post: bool = False  # ZT, SGSJ and LGSJ ignored
    rotation_inclusive: bool = False  # ROTATION: exactly rotation_years is already due
    any_post_rotates: bool = False  # ROTATION: not only the key posts


def _steps(rows: dict[str, list[dict[str, Any]]]) -> list[tuple[str | None, datetime, str]]:
    """(staff id, time, YWH) of every case step (CONTRACT §3)."""
    steps = [(c["SLRYBH"], c["SLSJ"], c["YWH"]) for c in rows["DJT_DJ_SL"]]
    steps += [(s["SHRYBH"], s["SHJSSJ"] or s["SHKSSJ"], s["YWH"]) for s in rows["DJF_DJ_SH"]]
    steps += [(d["DBRYBH"], d["DBSJ"], d["YWH"]) for d in rows["DJF_DJ_DB"]]
    return steps


def staff_reference_findings(
    truth: GroundTruth,
    rows: dict[str, list[dict[str, Any]]],
    reading: StaffReading = StaffReading(),
    exclude: Collection[tuple[str, str]] = (),
) -> set[tuple[str, str, str]]:
    """(rule_code, subject_id, unit_code) that CONTRACT §3 gives for the staff rules."""
    staff = raw_policy()["staff"]
    minimum = Decimal(str(staff["min_training_hours_per_year"]))
    today, start_at = truth.as_of.date(), datetime.combine(truth.period_start, time())
    january = date(today.year, 1, 1)
    month, day = (int(part) for part in staff["pledge_deadline"].split("-"))
    rotation_limit = today - relativedelta(years=int(staff["rotation_years"]))
    people = {p["RYBH"]: p for p in rows["RY_JBXX"] if ("RY_JBXX", p["RYBH"]) not in exclude}
    courses: dict[str, list[tuple[date, Decimal]]] = defaultdict(list)
    for t in rows["RY_PXJL"]:
        if ("RY_PXJL", t["ID"]) not in exclude and (t["KHJG"] == 1 or (reading.count_failed and t["KHJG"] == 0)):
            courses[t["RYBH"]].append((t["PXRQ"], Decimal(str(t["XS"]))))
    unit_of = {c["YWH"]: c["DJJG"] for c in rows["DJT_DJ_SL"]}

    found: set[tuple[str, str, str]] = set()
    for rybh, when, ywh in _steps(rows):
        if rybh is None or when is None or not start_at <= when < truth.as_of:
            continue
        person = people.get(rybh)
        if person is None:
            found.add(("STAFF_UNKNOWN_HANDLER", rybh, unit_of[ywh]))
            continue
        first = min((d for d, _ in courses[rybh]), default=None)
        if first is None or when.date() < first or (reading.same_day_is_late and when.date() == first):
            found.add(("STAFF_UNTRAINED_ON_POST", rybh, person["DWDM"]))
        left = person["LGSJ"]
        if left is not None and (when.date() > left or (reading.leaving_day_is_late and when.date() == left)):
            found.add(("STAFF_INACTIVE_HANDLER", rybh, person["DWDM"]))

    def hours(rybh: str, lo: date, hi: date) -> Decimal:
        return sum((xs for d, xs in courses[rybh] if lo <= d < hi), Decimal(0))

    for rybh, p in people.items():
        sgsj, lgsj, unit = p["SGSJ"], p["LGSJ"], p["DWDM"]
        on_post = p["ZT"] == 1 and (sgsj is None or sgsj < today) and (lgsj is None or lgsj >= today)
        if not (on_post or reading.everyone_on_post):
            continue
        if today == january:
            year = january - relativedelta(years=1)
            all_year = reading.anyone_on_post_all_year or (sgsj is not None and sgsj <= year and lgsj is None)
            if all_year and hours(rybh, year, january) < minimum:
                found.add(("STAFF_TRAINING_HOURS", rybh, unit))
        start = january if reading.months_from_january or sgsj is None else max(january, sgsj)
        months = 0
        while start + relativedelta(months=months + 1) <= today:
            months += 1
        if hours(rybh, january, today) < minimum * months / 12:
            found.add(("STAFF_TRAINING_BEHIND", rybh, unit))
        if any(p[c] is None or str(p[c]).strip() == "" for c in ("ZJH", "DWDM", "YGLX", "GW", "SGSJ")) or (
            not is_valid_id_number(p["ZJH"])
        ):
            found.add(("STAFF_RECORD_INCOMPLETE", rybh, unit))
        since = p["GWKSSJ"]
        if (p["GW"] in staff["key_posts"] or reading.any_post_rotates) and since is not None and (
            since < rotation_limit or (reading.rotation_inclusive and since == rotation_limit)
        ):
            found.add(("STAFF_ROTATION_DUE", rybh, unit))
        if today > date(today.year, month, day) and (p["LZCNSJ"] is None or p["LZCNSJ"] < january):
            found.add(("STAFF_PLEDGE_MISSING", rybh, unit))
    return found


# Periods the staff rules are checked on: the module's quarter (as-of 1 April), a month
# ending 1 November (National Day inside) and a month ending 1 January (TRAINING_HOURS).
STAFF_WORLDS = {"2026-Q1": None, "2026-10": (date(2026, 10, 1), date(2026, 11, 1), 8),
                "2026-12": (date(2026, 12, 1), date(2027, 1, 1), 9)}
STAFF_TRAPS = {
    "pro_rata_training", "id_number_check_x", "trained_on_first_day", "step_on_leaving_day",
    "left_without_pledge", "posted_after_as_of", "rotation_on_the_day", "rotation_non_key_post",
    "null_staff_id", "failed_course_not_counted",
}


@pytest.fixture(scope="module")
def staff_worlds(
    tmp_path_factory: pytest.TempPathFactory, demo: Any
) -> dict[str, tuple[GroundTruth, dict[str, list[dict[str, Any]]]]]:
    worlds = {}
    for name, spec in STAFF_WORLDS.items():
        if spec is None:
            worlds[name] = demo
            continue
        start, end, seed = spec
        path = tmp_path_factory.mktemp("staff") / f"{name}.db"
        url = f"sqlite:///{path}"
        worlds[name] = (generate(url, url, url, size=200, seed=seed, period_start=start, period_end=end), _rows(path))
    return worlds


@pytest.mark.parametrize("world", list(STAFF_WORLDS))
def test_staff_ground_truth_is_what_the_rules_give(staff_worlds: Any, world: str) -> None:
    truth, rows = staff_worlds[world]
    expected = _truth_set(truth, STAFF_RULES)
    assert staff_reference_findings(truth, rows) == expected
    # The staff plants leave the other rules' findings as they are.
    assert reference_findings(truth, rows) == _truth_set(truth)
    assert case_reference_findings(truth, rows) == _truth_set(truth, CASE_RULE_CODES)
    planted = {rule for rule, _, _ in expected}
    if truth.period_end.month == 1 and truth.period_end.day == 1:
        # No whole month into the year, before the pledge deadline; the year just ended is judged.
        assert planted == set(STAFF_RULES) - {"STAFF_TRAINING_BEHIND", "STAFF_PLEDGE_MISSING"}
        assert {t.kind for t in truth.traps} >= {"pledge_before_deadline"}
    else:
        assert planted == set(STAFF_RULES) - {"STAFF_TRAINING_HOURS"}
    for rule in planted:
        units = {unit for r, _, unit in expected if r == rule}
        assert len(units) >= 2, rule


@pytest.mark.parametrize("world", list(STAFF_WORLDS))
def test_staff_traps_are_there_and_are_no_findings(staff_worlds: Any, world: str) -> None:
    truth, rows = staff_worlds[world]
    traps = [t for t in truth.traps if t.kind in STAFF_TRAPS]
    assert {t.kind for t in traps} == STAFF_TRAPS
    subjects = {f.subject_id for f in truth.findings}
    people = {p["RYBH"]: p for p in rows["RY_JBXX"]}
    courses = {t["ID"]: t for t in rows["RY_PXJL"]}
    for trap in traps:
        if trap.kind == "failed_course_not_counted":  # the course does not count: its person IS a finding
            course = courses[trap.key]
            assert course["KHJG"] == 0 and course["RYBH"] in subjects
        elif trap.kind == "null_staff_id":
            assert trap.key not in subjects
            assert any(rybh is None and ywh == trap.key for rybh, _, ywh in _steps(rows))
        else:
            assert trap.table == "RY_JBXX" and trap.key in people and trap.key not in subjects, trap
    ids = [people[t.key]["ZJH"] for t in traps if t.kind == "id_number_check_x"]
    assert ids and all(is_valid_id_number(n) and n.endswith("X") for n in ids)
    # One unit per unknown id; no unknown id looks like a planted person's.
    unknown = [f for f in truth.findings if f.rule_code == "STAFF_UNKNOWN_HANDLER"]
    assert len({f.subject_id for f in unknown}) == len(unknown) and not {f.subject_id for f in unknown} & set(people)


# Each trap, read with the one mistake it is built to catch, becomes a finding.
STAFF_NEAR_MISSES = [
    ("trained_on_first_day", StaffReading(same_day_is_late=True), "STAFF_UNTRAINED_ON_POST", None),
    ("step_on_leaving_day", StaffReading(leaving_day_is_late=True), "STAFF_INACTIVE_HANDLER", None),
    ("rotation_on_the_day", StaffReading(rotation_inclusive=True), "STAFF_ROTATION_DUE", None),
    ("rotation_non_key_post", StaffReading(any_post_rotates=True), "STAFF_ROTATION_DUE", None),
    ("pro_rata_training", StaffReading(months_from_january=True), "STAFF_TRAINING_BEHIND", False),
    ("pro_rata_training", StaffReading(anyone_on_post_all_year=True), "STAFF_TRAINING_HOURS", True),
    ("left_without_pledge", StaffReading(everyone_on_post=True), "STAFF_PLEDGE_MISSING", False),
    ("posted_after_as_of", StaffReading(everyone_on_post=True), "STAFF_PLEDGE_MISSING", False),
]


@pytest.mark.parametrize("world", list(STAFF_WORLDS))
@pytest.mark.parametrize(
    ("kind", "reading", "rule", "on_new_year"), STAFF_NEAR_MISSES, ids=[f"{k}-{r}" for k, _, r, _ in STAFF_NEAR_MISSES]
)
def test_staff_traps_are_near_misses(
    staff_worlds: Any, world: str, kind: str, reading: StaffReading, rule: str, on_new_year: bool | None
) -> None:
    truth, rows = staff_worlds[world]
    if on_new_year is not None and on_new_year != ((truth.period_end.month, truth.period_end.day) == (1, 1)):
        pytest.skip("this near miss exists only on the other kind of period end")
    keys = {t.key for t in truth.traps if t.kind == kind}
    assert keys
    wrong = {subject for r, subject, _ in staff_reference_findings(truth, rows, reading) if r == rule}
    assert keys <= wrong


@pytest.mark.parametrize("world", list(STAFF_WORLDS))
def test_failed_courses_are_what_puts_the_lapsed_under(staff_worlds: Any, world: str) -> None:
    truth, rows = staff_worlds[world]
    courses = {t["ID"]: t["RYBH"] for t in rows["RY_PXJL"]}
    lapsed = {courses[t.key] for t in truth.traps if t.kind == "failed_course_not_counted"}
    counted = staff_reference_findings(truth, rows, StaffReading(count_failed=True))
    assert lapsed and not {s for r, s, _ in counted if r in ("STAFF_TRAINING_HOURS", "STAFF_TRAINING_BEHIND")} & lapsed


@pytest.mark.parametrize("world", list(STAFF_WORLDS))
def test_staff_quarantine_rows_are_out_of_domain_and_harmless(staff_worlds: Any, world: str) -> None:
    truth, rows = staff_worlds[world]
    staff = [q for q in truth.quarantine if q.table in ("RY_JBXX", "RY_PXJL")]
    key_of = {"RY_JBXX": "RYBH", "RY_PXJL": "ID"}
    values = {(q.table, q.column, next(r[q.column] for r in rows[q.table] if r[key_of[q.table]] == q.key))
              for q in staff}
    assert values == {("RY_PXJL", "KHJG", 5), ("RY_JBXX", "ZT", 3), ("RY_JBXX", "YGLX", 9)}
    # Set aside or kept, they change no finding; the people take no case step.
    excluded = {(q.table, q.key) for q in truth.quarantine}
    assert staff_reference_findings(truth, rows, exclude=excluded) == _truth_set(truth, STAFF_RULES)
    stepping = {rybh for rybh, _, _ in _steps(rows)}
    assert not {q.key for q in staff if q.table == "RY_JBXX"} & stepping


# --------------------------------------------------------------------------------------
# Determinism
# --------------------------------------------------------------------------------------


def test_same_seed_gives_identical_rows_and_truth(tmp_path: Path, demo: Any) -> None:
    truth, rows = demo
    again = _generate(tmp_path / "again.db", batch_size=37)  # batching must not matter
    assert _rows(tmp_path / "again.db") == rows
    assert again.to_dict() == truth.to_dict()


def test_sqlite_fast_path_stores_what_sqlalchemy_stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = tmp_path / "fast.db"
    _generate(fast)
    monkeypatch.setattr(generator, "_SQLITE_FAST_PATH", False)
    core = tmp_path / "core.db"
    _generate(core)
    for name in SOURCE_TABLES:  # raw stored values, not re-typed: the bytes must agree
        query = f"SELECT * FROM {name} ORDER BY 1, 2"
        with sqlite3.connect(fast) as a, sqlite3.connect(core) as b:
            assert a.execute(query).fetchall() == b.execute(query).fetchall(), name


def test_different_seed_gives_different_rows(tmp_path: Path, demo: Any) -> None:
    _, rows = demo
    _generate(tmp_path / "other.db", seed=7)
    other = _rows(tmp_path / "other.db")
    assert other["BDC_ZS"] != rows["BDC_ZS"]
    assert other["BDC_DZZZ_ZZXX"] != rows["BDC_DZZZ_ZZXX"]


# --------------------------------------------------------------------------------------
# Shape of the rows
# --------------------------------------------------------------------------------------


def test_tables_have_the_reference_columns(tmp_path: Path) -> None:
    reg, ecert, staff = (tmp_path / f"{name}.db" for name in ("reg", "ecert", "staff"))
    generate(f"sqlite:///{reg}", f"sqlite:///{ecert}", f"sqlite:///{staff}", size=200, **PERIOD)
    expected = {name: [c.name for c in table.columns] for name, table in build_metadata().tables.items()}
    if REFERENCE_SQL.is_file():  # the contract text itself, when the shared folder is beside the repo
        sql = REFERENCE_SQL.read_text(encoding="utf-8")
        for name, body in re.findall(r"CREATE TABLE (\w+) \((.*?)\n\);", sql, flags=re.DOTALL):
            columns = [m for m in re.findall(r"^\s{4}([A-Z]+)\s", body, flags=re.MULTILINE) if m != "PRIMARY"]
            assert columns == expected[name], name
    systems = {"registration_db": reg, "ecert_db": ecert, "staff_registry_db": staff}
    for path in systems.values():
        engine = create_engine(f"sqlite:///{path}")
        found = {name: [c["name"] for c in inspect(engine).get_columns(name)] for name in inspect(engine).get_table_names()}
        engine.dispose()
        wanted = {name for name, t in SOURCE_TABLES.items() if systems[t.system] == path}
        assert set(found) == wanted  # each system holds exactly its own tables
        for name in wanted:
            assert found[name] == expected[name]


def test_row_counts(demo: Any) -> None:
    truth, rows = demo
    assert len(rows["BDC_ZS"]) == truth.size == 200
    assert rows["BDC_BYSL"] and rows["QLF_QL_CFDJ"]
    assert len(rows["RY_JBXX"]) >= 5 and len(rows["RY_PXJL"]) > len(rows["RY_JBXX"])


def test_returns_and_seizures_are_consistent_with_their_cases(demo: Any) -> None:
    _, rows = demo
    cases = {c["YWH"]: c for c in rows["DJT_DJ_SL"]}
    dbsj = {r["YWH"]: r["DBSJ"] for r in rows["DJF_DJ_DB"]}
    staff = {r["RYBH"] for r in rows["RY_JBXX"]}
    for r in rows["BDC_BYSL"]:
        case = cases[r["YWH"]]
        assert case["AJZT"] == 3 and case["JSSJ"] == r["THSJ"] > case["SLSJ"] and r["YWH"] not in dbsj
        assert case["BDCDYH"] == r["BDCDYH"] and r["CZRYBH"] in staff
    assert all(r["YWH"] in {b["YWH"] for b in rows["BDC_BYSL"]} for r in cases.values() if r["AJZT"] == 3)
    for seizure in rows["QLF_QL_CFDJ"]:
        case = cases[seizure["YWH"]]
        assert case["DJDL"] == "800" and dbsj[seizure["YWH"]] == seizure["CFKSSJ"]
        assert case["BDCDYH"] == seizure["BDCDYH"] and (seizure["JFSJ"] is None or seizure["JFSJ"] > seizure["CFKSSJ"])
    for case in cases.values():  # 办结 means registered here; the others have no 登簿
        assert (case["YWH"] in dbsj) == (case["AJZT"] == 2), case
        assert (case["JSSJ"] is None) == (case["AJZT"] in (1, 4)), case


def test_ecert_identifiers_are_valid_except_the_planted_bad_ones(demo: Any) -> None:
    truth, rows = demo
    bad = {f.subject_id for f in truth.findings if f.rule_code == "ECERT_BAD_ID"}
    bad |= {t.key for t in truth.traps if t.kind == "before_period_ecert_bad_id"}
    assert len(bad) >= 4
    for e in rows["BDC_DZZZ_ZZXX"]:
        problem = ecert_identifier_problem(e["ZZBS"], e["ZZLXDM"])
        assert (problem is not None) == (e["ZZID"] in bad), (e["ZZBS"], problem)
        assert e["ZZBS"].split(".")[6] in {"140302", "140303", "140311", "140321", "140322"}


def test_id_numbers_pass_the_gb11643_check(demo: Any) -> None:
    truth, rows = demo
    incomplete = {f.subject_id for f in truth.findings if f.rule_code == "STAFF_RECORD_INCOMPLETE"}
    numbers = [n for p in rows["BDC_ZS"] for n in p["QLRZJH"].split("、")]
    numbers += [n.strip() for e in rows["BDC_DZZZ_ZZXX"] for n in re.split(r"[、,，;；]", e["CZZTDM"])]
    numbers += [r["ZJH"] for r in rows["RY_JBXX"] if r["RYBH"] not in incomplete]
    planted = [r["ZJH"] for r in rows["RY_JBXX"] if r["RYBH"] in incomplete]
    assert None in planted and any(n and len(n) == 18 and not is_valid_id_number(n) for n in planted)
    assert all(is_valid_id_number(n) and n[:4] == "1403" for n in numbers)
    assert any(n.endswith("X") for n in numbers)  # the letter check character occurs
    for paper in rows["BDC_ZS"]:
        names = paper["QLRMC"].split("、")
        assert len(names) == len(paper["QLRZJH"].split("、")) and all(2 <= len(n) <= 3 for n in names)


def test_unit_numbers_are_gb37346_shaped(demo: Any) -> None:
    truth, rows = demo
    quarantined = {q.key for q in truth.quarantine if q.column == "BDCDYH"}
    assert len(quarantined) == 2
    tables = (("DJT_DJ_SL", "YWH"), ("BDC_ZS", "ZSID"), ("BDC_DZZZ_ZZXX", "ZZID"), ("BDC_BYSL", "ID"),
              ("QLF_QL_CFDJ", "YWH"))
    for table, key in tables:
        for row in rows[table]:
            if row[key] in quarantined:
                assert len(row["BDCDYH"]) in (0, 27)
                continue
            assert is_valid_unit_number(row["BDCDYH"]) and row["BDCDYH"][19] in "FW", row
            assert row["BDCDYH"][:6] in {"140302", "140303", "140311", "140321", "140322"}


def test_certificate_numbers_follow_the_yangquan_format(demo: Any) -> None:
    _, rows = demo
    pattern = re.compile(r"^晋\((\d{4})\)(阳泉市|平定县|盂县)(不动产权|不动产证明)第\d{7}号$")
    numbers = [normalize_certificate_number(p["BDCQZH"]) for p in rows["BDC_ZS"]]
    for paper, number in zip(rows["BDC_ZS"], numbers, strict=True):
        match = pattern.match(number)
        assert match, number
        assert int(match[1]) == paper["SZSJ"].year
        if paper["ZSLX"] in (1, 2):
            assert match[3] == {1: "不动产权", 2: "不动产证明"}[paper["ZSLX"]]
    assert len(set(numbers)) == len(numbers)


# --------------------------------------------------------------------------------------
# The ground truth
# --------------------------------------------------------------------------------------


def test_ground_truth_has_every_rule_twice_and_lists_the_traps(demo: Any, tmp_path: Path) -> None:
    truth, _ = demo
    per_rule = defaultdict(set)
    for f in truth.findings:
        per_rule[f.rule_code].add(f.unit_code)
    for rule in ECERT_RULES:
        assert sum(f.rule_code == rule for f in truth.findings) >= 2, rule
    assert {f.unit_code for f in truth.findings} == {"YQ00", "YQ11", "YQ21", "YQ22", "YQGX"}
    kinds = {t.kind for t in truth.traps}
    assert {
        "number_format", "cancelled_suffix", "holder_format", "late_within_grace", "fresh_paper",
        "fresh_cancel", "signing_error_reissue", "letter_check_character",
        "asof_revoked_after_asof", "asof_issued_after_asof",
    } <= kinds
    assert {f"before_period_{rule.lower()}" for rule in ECERT_RULES} <= kinds
    assert {(q.table, q.column) for q in truth.quarantine} == {
        ("BDC_ZS", "ZSZT"), ("BDC_ZS", "ZSLX"), ("BDC_ZS", "BDCDYH"),
        ("BDC_DZZZ_ZZXX", "ZZZT"), ("BDC_DZZZ_ZZXX", "BDCQZH"),
        ("RY_PXJL", "KHJG"), ("RY_JBXX", "ZT"), ("RY_JBXX", "YGLX"),
    }
    written = json.loads(truth.write(tmp_path / "truth.json").read_text(encoding="utf-8"))
    assert list(written) == ["period_start", "period_end", "as_of", "seed", "size", "findings", "quarantine", "traps"]
    keys = [(f["rule_code"], f["subject_id"]) for f in written["findings"]]
    assert keys == sorted(keys) and written["as_of"] == "2026-04-01T00:00:00"
    assert GroundTruth.read(tmp_path / "truth.json") == truth


def test_ground_truth_is_what_the_rules_give(demo: Any) -> None:
    truth, rows = demo
    assert reference_findings(truth, rows) == _truth_set(truth)


def test_quarantined_rows_neither_cascade_nor_count(demo: Any) -> None:
    truth, rows = demo
    excluded = {(q.table, q.key) for q in truth.quarantine}
    assert reference_findings(truth, rows, exclude=excluded) == _truth_set(truth)
    zs = {p["ZSID"]: p for p in rows["BDC_ZS"]}
    zz = {e["ZZID"]: e for e in rows["BDC_DZZZ_ZZXX"]}
    values = {(q.column, (zs if q.table == "BDC_ZS" else zz)[q.key][q.column])
              for q in truth.quarantine if q.table in ("BDC_ZS", "BDC_DZZZ_ZZXX")}
    assert {("ZSZT", 9), ("ZSLX", 7), ("ZZZT", 5), ("BDCQZH", ""), ("BDCDYH", "")} <= values


# --------------------------------------------------------------------------------------
# The case rules
# --------------------------------------------------------------------------------------

CASE_TRAPS = {
    "deadline_on_makeup_day", "accepted_on_day_off", "suspension_extends_limit", "exempt_class_fast",
    "busy_day_same_day", "lawful_return", "return_by_other_unit", "return_after_window",
    "mortgage_after_release", "seizure_after_mortgage", "suspended_past_deadline", "online_share_at_target",
}


def test_case_ground_truth_is_what_the_rules_give(demo: Any) -> None:
    truth, rows = demo
    assert case_reference_findings(truth, rows) == _truth_set(truth, CASE_RULE_CODES)


def test_every_case_rule_is_planted_spread_over_units_with_its_traps(demo: Any) -> None:
    truth, _ = demo
    for rule in CASE_RULE_CODES:
        units = [f.unit_code for f in truth.findings if f.rule_code == rule]
        if rule == "ONLINE_RATIO_LOW":
            assert len(units) == 1 and load_policy().units[units[0]].level == "county"
        else:
            assert len(units) >= 2 and len(set(units)) >= 2, rule
    kinds = {t.kind for t in truth.traps}
    assert kinds >= CASE_TRAPS
    assert {f"before_period_{rule.lower()}" for rule in CASE_RULE_CODES[:1] + CASE_RULE_CODES[2:6]} <= kinds
    # A trap is never a finding (ECERT as-of traps are findings by design and say so).
    subjects = {f.subject_id for f in truth.findings}
    assert not {t.key for t in truth.traps if t.kind in CASE_TRAPS or t.kind.startswith("before_period_case")} & subjects


# Each trap, read with the one mistake it is built to catch, becomes a finding: it is a near miss.
NEAR_MISSES = [
    ("exempt_class_fast", Reading(exempt=()), "CASE_QUEUE_JUMP"),
    ("accepted_on_day_off", Reading(start_moves=False), "CASE_OVERDUE"),
    ("suspension_extends_limit", Reading(with_gqts=False), "CASE_OVERDUE"),
    ("suspended_past_deadline", Reading(open_states=(1, 4)), "CASE_OVERDUE_OPEN"),
    ("lawful_return", Reading(lawful_codes=False), "RETURN_UNJUSTIFIED"),
    ("return_by_other_unit", Reading(same_unit_only=False), "RETURN_REPEATED"),
    ("return_after_window", Reading(repeat_days=60), "RETURN_REPEATED"),
    ("mortgage_after_release", Reading(respect_jfsj=False), "MORTGAGE_WHILE_SEALED"),
    ("seizure_after_mortgage", Reading(respect_cfkssj=False), "MORTGAGE_WHILE_SEALED"),
    ("online_share_at_target", Reading(strictly_below=False), "ONLINE_RATIO_LOW"),
]


@pytest.mark.parametrize(("kind", "reading", "rule"), NEAR_MISSES, ids=[k for k, _, _ in NEAR_MISSES])
def test_case_traps_are_near_misses(demo: Any, kind: str, reading: Reading, rule: str) -> None:
    truth, rows = demo
    keys = {t.key for t in truth.traps if t.kind == kind}
    assert keys
    wrong = {subject for r, subject, _ in case_reference_findings(truth, rows, reading) if r == rule}
    assert keys <= wrong


def test_case_ground_truth_holds_for_another_seed_and_a_spring_festival_month(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'feb.db'}"
    truth = generate(url, url, url, size=400, seed=3, period_start=date(2026, 2, 1), period_end=date(2026, 3, 1))
    rows = _rows(tmp_path / "feb.db")
    assert case_reference_findings(truth, rows) == _truth_set(truth, CASE_RULE_CODES)
    assert reference_findings(truth, rows) == _truth_set(truth)
    assert staff_reference_findings(truth, rows) == _truth_set(truth, STAFF_RULES)
    holidays = [t for t in truth.traps if t.kind == "accepted_on_day_off"]
    assert holidays and all(chinese_calendar.is_holiday(_accepted(rows, t.key)) for t in holidays)


def _accepted(rows: dict[str, list[dict[str, Any]]], ywh: str) -> date:
    return next(c["SLSJ"].date() for c in rows["DJT_DJ_SL"] if c["YWH"] == ywh)


def test_the_engine_finds_exactly_the_planted_case_problems(tmp_path: Path) -> None:
    """The final judge: extraction, the quality gate and the engine's case rules."""
    source = f"sqlite:///{tmp_path / 'sources.db'}"
    truth = generate(source, source, source, size=300, seed=41, period_start=date(2026, 2, 1),
                     period_end=date(2026, 3, 1))
    expected = _truth_set(truth, CASE_RULE_CODES)
    assert case_reference_findings(truth, _rows(tmp_path / "sources.db")) == expected
    assert engine_case_findings(source, f"sqlite:///{tmp_path / 'supervision.db'}", truth) == expected


# --------------------------------------------------------------------------------------
# Sources read on the day the period ends: no event from the future
# --------------------------------------------------------------------------------------

# (period_start, period_end, today, seed): the demo on 1 December; a year read on 1 January
# (the roster's pledges are still last year's); a quarter read two days after it ended.
READ_EARLY = [
    (date(2026, 11, 1), date(2026, 12, 1), date(2026, 12, 1), 20261125),
    (date(2026, 12, 1), date(2027, 1, 1), date(2027, 1, 1), 9),
    (date(2026, 1, 1), date(2026, 4, 1), date(2026, 4, 3), 5),
]


def _after(rows: dict[str, list[dict[str, Any]]], moment: datetime) -> list[tuple[str, str, date]]:
    """(table, column, value) of every date or timestamp later than ``moment`` (a date is its 00:00)."""
    later = []
    for table, table_rows in rows.items():
        for row in table_rows:
            for column, value in row.items():
                if isinstance(value, date):
                    at = value if isinstance(value, datetime) else datetime.combine(value, time())
                    if at > moment:
                        later.append((table, column, value))
    return later


@pytest.mark.parametrize(("start", "end", "today", "seed"), READ_EARLY, ids=[str(t) for _, _, t, _ in READ_EARLY])
def test_nothing_happens_after_the_day_the_sources_are_read(
    tmp_path: Path, start: date, end: date, today: date, seed: int
) -> None:
    path = tmp_path / "sources.db"
    url = f"sqlite:///{path}"
    truth = generate(url, url, url, size=300, seed=seed, period_start=start, period_end=end, today=today)
    rows = _rows(path)
    assert _after(rows, datetime.combine(today, time())) == []
    # What would happen later has not happened yet: the truth is still what the rules give,
    # with every rule the world read ten days later plants.
    assert reference_findings(truth, rows) == _truth_set(truth)
    assert case_reference_findings(truth, rows) == _truth_set(truth, CASE_RULE_CODES)
    assert staff_reference_findings(truth, rows) == _truth_set(truth, STAFF_RULES)
    later = tmp_path / "later.db"
    read_later = generate(f"sqlite:///{later}", f"sqlite:///{later}", f"sqlite:///{later}", size=300, seed=seed,
                          period_start=start, period_end=end)
    assert _after(_rows(later), truth.as_of)  # by default the history runs on past as-of
    assert {f.rule_code for f in truth.findings} == {f.rule_code for f in read_later.findings}


def test_the_engine_finds_the_truth_in_sources_read_on_the_period_end(tmp_path: Path) -> None:
    """The demo's case: run on 1 December for November, nothing after 1 December 00:00."""
    source = f"sqlite:///{tmp_path / 'sources.db'}"
    truth = generate(source, source, source, size=300, seed=17, period_start=date(2026, 11, 1),
                     period_end=date(2026, 12, 1), today=date(2026, 12, 1))
    codes = (*ECERT_RULES, *CASE_RULE_CODES, *STAFF_RULES)
    assert engine_findings(source, f"sqlite:///{tmp_path / 'supervision.db'}", truth, codes) == _truth_set(truth, codes)


# --------------------------------------------------------------------------------------
# The bulk is clean for the other rule families too
# --------------------------------------------------------------------------------------


def test_bulk_cases_are_timely_and_never_same_day(demo: Any) -> None:
    _, rows = demo
    policy = raw_policy()
    limits, mortgage = policy["time_limits_working_days"], policy["mortgage_qllx_codes"]
    dbsj = {r["YWH"]: r["DBSJ"] for r in rows["DJF_DJ_DB"]}
    # The bulk: cases that print or cancel a certificate, and those still open when the history ends.
    bulk = {p["YWH"] for p in rows["BDC_ZS"]} | {p["ZXYWH"] for p in rows["BDC_ZS"] if p["ZXYWH"]}
    for case in rows["DJT_DJ_SL"]:
        assert case["GXSJ"] >= max(t for t in (case["SLSJ"], case["JSSJ"]) if t)
        if case["AJZT"] == 1 and case["SLSJ"].date() > PERIOD["period_end"]:
            assert case["YWH"] not in dbsj
            continue
        if case["YWH"] not in bulk:
            continue  # planted for the case rules: judged by the reading below
        cls = case["DJDL"] if case["DJDL"] in ("600", "700", "800") else "mortgage" if case["QLLX"] in mortgage else case["DJDL"]
        start, registered = case["SLSJ"].date(), dbsj[case["YWH"]]
        assert _workday(start) and _workday(registered.date())
        elapsed = sum(_workday(start + timedelta(days=d)) for d in range(1, (registered.date() - start).days + 1))
        assert 1 <= elapsed <= limits[cls], case
        assert case["JSSJ"] >= registered and case["JSSJ"].date() == registered.date()
        assert registered.time() >= datetime.strptime("08:30", "%H:%M").time()
    cases = {c["YWH"]: c for c in rows["DJT_DJ_SL"]}
    for step in rows["DJF_DJ_SH"]:
        case = cases[step["YWH"]]
        assert case["SLSJ"] < step["SHKSSJ"]
        if step["SHJSSJ"]:
            assert step["SHKSSJ"] < step["SHJSSJ"]
            if dbsj.get(step["YWH"], case["JSSJ"]):  # before the 登簿, or the return
                assert step["SHJSSJ"] < dbsj.get(step["YWH"], case["JSSJ"])


def test_online_shares_one_unit_below_one_at_the_target_the_rest_well_above(tmp_path: Path) -> None:
    path = tmp_path / "big.db"
    truth = _generate(path, size=3000)
    rows = _rows(path)
    policy = load_policy()
    raw = raw_policy()  # parsed once, not once per case (that took minutes)
    online, mortgage = raw["online_handling"], raw["mortgage_qllx_codes"]
    shares: dict[str, list[int]] = defaultdict(list)
    for case in rows["DJT_DJ_SL"]:
        in_scope = case["DJDL"] == "700" or case["QLLX"] in mortgage
        if in_scope and PERIOD["period_start"] <= case["SLSJ"].date() < PERIOD["period_end"]:
            shares[case["DJJG"]].append(case["SQFS"] in online["online_sqfs"])
    (low,) = [f.unit_code for f in truth.findings if f.rule_code == "ONLINE_RATIO_LOW"]
    (exact,) = [t.key for t in truth.traps if t.kind == "online_share_at_target"]
    assert policy.units[low].level == policy.units[exact].level == "county" and low != exact
    for unit, flags in shares.items():
        target = Fraction(str(online["targets"][policy.units[unit].level]))
        share = Fraction(sum(flags), len(flags))
        assert len(flags) >= online["min_cases"], unit
        if unit == low:
            assert 0.1 <= share < target
        elif unit == exact:
            assert share == target
        else:
            assert share >= target + Fraction(1, 5), unit


def test_staff_are_known_trained_and_in_post(demo: Any) -> None:
    """Apart from the planted people (findings, traps, quarantine), every handler is clean."""
    truth, rows = demo
    planted = {f.subject_id for f in truth.findings if f.rule_code in STAFF_RULES}
    planted |= {t.key for t in truth.traps if t.table == "RY_JBXX"} | {q.key for q in truth.quarantine}
    staff = {r["RYBH"]: r for r in rows["RY_JBXX"]}
    first_training: dict[str, date] = {}
    for t in rows["RY_PXJL"]:
        if t["KHJG"] == 1:
            first_training[t["RYBH"]] = min(t["PXRQ"], first_training.get(t["RYBH"], t["PXRQ"]))
    null_steps = set()
    for rybh, when, ywh in _steps(rows):
        if rybh is None:
            null_steps.add(ywh)
        elif rybh not in planted:
            assert rybh in staff and first_training[rybh] < when.date() and staff[rybh]["ZT"] == 1
    assert null_steps == {t.key for t in truth.traps if t.kind == "null_staff_id"}
    roster = [person for rybh, person in staff.items() if rybh not in planted]
    assert len(roster) >= 5
    for person in roster:
        assert is_valid_id_number(person["ZJH"]) and person["LGSJ"] is None and person["ZT"] == 1
        assert all(person[c] is not None for c in ("DWDM", "YGLX", "GW", "SGSJ", "LZCNSJ"))
        assert person["LZCNSJ"].year == PERIOD["period_end"].year


# --------------------------------------------------------------------------------------
# Scale, interface, errors
# --------------------------------------------------------------------------------------


def test_generation_at_2000_is_fast_and_truthful(tmp_path: Path) -> None:
    began = wallclock.perf_counter()
    truth = _generate(tmp_path / "2000.db", size=2000, seed=99)
    assert wallclock.perf_counter() - began < 20
    rows = _rows(tmp_path / "2000.db")
    assert len(rows["BDC_ZS"]) == 2000
    assert reference_findings(truth, rows) == _truth_set(truth)
    assert case_reference_findings(truth, rows) == _truth_set(truth, CASE_RULE_CODES)
    assert staff_reference_findings(truth, rows) == _truth_set(truth, STAFF_RULES)
    assert 0.01 <= len(truth.findings) / 2000 <= 0.05


def test_command_line_writes_the_databases_and_truth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    code = main([
        "--registration-url", url, "--size", "200", "--seed", "5",
        "--period-start", "2026-01-01", "--period-end", "2026-04-01",
        "--truth", str(tmp_path / "truth.json"),
    ])
    assert code == 0 and "200 certificates" in capsys.readouterr().out
    truth = GroundTruth.read(tmp_path / "truth.json")
    assert truth.seed == 5 and truth.findings
    assert len(_rows(tmp_path / "cli.db")["BDC_ZS"]) == 200
    assert main(["--registration-url", url, "--size", "200", "--period-start", "2026-01-01",
                 "--period-end", "2026-04-01", "--today", "2026-04-01"]) == 0
    assert _after(_rows(tmp_path / "cli.db"), datetime(2026, 4, 1)) == []


def test_rejects_a_period_or_size_too_small(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    with pytest.raises(ValueError, match="period"):
        generate(url, url, url, size=200, period_start=date(2026, 3, 1), period_end=date(2026, 3, 8))
    with pytest.raises(ValueError, match="too small"):
        generate(url, url, url, size=50, **PERIOD)
    with pytest.raises(ValueError, match="has not ended"):
        generate(url, url, url, size=200, today=date(2026, 3, 31), **PERIOD)
    assert not (tmp_path / "x.db").exists()  # refused before any table is touched
