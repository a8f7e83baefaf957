"""The demo-data generator: determinism, shape of every row, and a truthful ground truth.

The ground truth is checked against a plain reading of the ECERT rules (CONTRACT §3, as of
period_end 00:00) written here independently of the engine, so that a wrong plant or a
trap that accidentally fires is caught by the generator's own tests.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time as wallclock
from collections import defaultdict
from collections.abc import Collection
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import chinese_calendar
import pytest
from sqlalchemy import create_engine, inspect, select

from bdcwatch.codes import (
    ecert_identifier_problem,
    is_valid_id_number,
    is_valid_unit_number,
    normalize_certificate_number,
    normalize_holders,
)
from bdcwatch.config import load_policy
from bdcwatch.demo import GroundTruth, generate, generator, main
from bdcwatch.source_schema import SOURCE_TABLES, build_metadata

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


def reference_findings(
    truth: GroundTruth, rows: dict[str, list[dict[str, Any]]], exclude: Collection[tuple[str, str]] = ()
) -> set[tuple[str, str, str]]:
    """(rule_code, subject_id, unit_code) that CONTRACT §3 gives for the generated data."""
    policy = load_policy()
    start, as_of = truth.period_start, truth.as_of
    grace = timedelta(hours=policy.ecert_max_delay_hours)
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
                or e["ZZLXDM"] != policy.ecert_type_codes.get(p["ZSLX"])
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


def _truth_set(truth: GroundTruth) -> set[tuple[str, str, str]]:
    return {(f.rule_code, f.subject_id, f.unit_code) for f in truth.findings}


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
    assert rows["BDC_BYSL"] == [] and rows["QLF_QL_CFDJ"] == []
    assert len(rows["RY_JBXX"]) >= 5 and len(rows["RY_PXJL"]) > len(rows["RY_JBXX"])


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
    _, rows = demo
    numbers = [n for p in rows["BDC_ZS"] for n in p["QLRZJH"].split("、")]
    numbers += [n.strip() for e in rows["BDC_DZZZ_ZZXX"] for n in re.split(r"[、,，;；]", e["CZZTDM"])]
    numbers += [r["ZJH"] for r in rows["RY_JBXX"]]
    assert all(is_valid_id_number(n) and n[:4] == "1403" for n in numbers)
    assert any(n.endswith("X") for n in numbers)  # the letter check character occurs
    for paper in rows["BDC_ZS"]:
        names = paper["QLRMC"].split("、")
        assert len(names) == len(paper["QLRZJH"].split("、")) and all(2 <= len(n) <= 3 for n in names)


def test_unit_numbers_are_gb37346_shaped(demo: Any) -> None:
    truth, rows = demo
    quarantined = {q.key for q in truth.quarantine if q.column == "BDCDYH"}
    assert len(quarantined) == 2
    for table, key in (("DJT_DJ_SL", "YWH"), ("BDC_ZS", "ZSID"), ("BDC_DZZZ_ZZXX", "ZZID")):
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
    values = {(q.column, (zs if q.table == "BDC_ZS" else zz)[q.key][q.column]) for q in truth.quarantine}
    assert {("ZSZT", 9), ("ZSLX", 7), ("ZZZT", 5), ("BDCQZH", ""), ("BDCDYH", "")} <= values


# --------------------------------------------------------------------------------------
# The bulk is clean for the other rule families too
# --------------------------------------------------------------------------------------


def _workday(day: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


def test_cases_are_timely_and_never_same_day(demo: Any) -> None:
    _, rows = demo
    policy = load_policy().raw
    limits, mortgage = policy["time_limits_working_days"], policy["mortgage_qllx_codes"]
    dbsj = {r["YWH"]: r["DBSJ"] for r in rows["DJF_DJ_DB"]}
    for case in rows["DJT_DJ_SL"]:
        assert case["GXSJ"] >= max(t for t in (case["SLSJ"], case["JSSJ"]) if t)
        if case["AJZT"] == 1:
            assert case["YWH"] not in dbsj and case["SLSJ"].date() > PERIOD["period_end"]
            continue
        cls = case["DJDL"] if case["DJDL"] in ("600", "700", "800") else "mortgage" if case["QLLX"] in mortgage else case["DJDL"]
        start, registered = case["SLSJ"].date(), dbsj[case["YWH"]]
        assert _workday(start) and _workday(registered.date())
        elapsed = sum(_workday(start + timedelta(days=d)) for d in range(1, (registered.date() - start).days + 1))
        assert 1 <= elapsed <= limits[cls], case
        assert case["JSSJ"] >= registered and case["JSSJ"].date() == registered.date()
        assert registered.time() >= datetime.strptime("08:30", "%H:%M").time()
    for step in rows["DJF_DJ_SH"]:
        if step["SHJSSJ"]:
            assert step["SHKSSJ"] < step["SHJSSJ"] < dbsj[step["YWH"]]


def test_online_share_of_mortgage_cases_clears_the_target(tmp_path: Path) -> None:
    path = tmp_path / "big.db"
    _generate(path, size=3000)
    rows = _rows(path)
    policy = load_policy()
    online = policy.raw["online_handling"]
    shares: dict[str, list[int]] = defaultdict(list)
    for case in rows["DJT_DJ_SL"]:
        in_scope = case["DJDL"] == "700" or case["QLLX"] in policy.raw["mortgage_qllx_codes"]
        if in_scope and date(2026, 2, 1) <= case["SLSJ"].date() < date(2026, 3, 1):
            shares[case["DJJG"]].append(case["SQFS"] in online["online_sqfs"])
    assert any(len(v) >= online["min_cases"] for v in shares.values())
    for unit, flags in shares.items():
        assert sum(flags) / len(flags) >= online["targets"][policy.units[unit].level], unit


def test_staff_are_known_trained_and_in_post(demo: Any) -> None:
    _, rows = demo
    staff = {r["RYBH"]: r for r in rows["RY_JBXX"]}
    first_training: dict[str, date] = {}
    for t in rows["RY_PXJL"]:
        if t["KHJG"] == 1:
            first_training[t["RYBH"]] = min(t["PXRQ"], first_training.get(t["RYBH"], t["PXRQ"]))
    steps = [(c["SLRYBH"], c["SLSJ"]) for c in rows["DJT_DJ_SL"]]
    steps += [(s["SHRYBH"], s["SHJSSJ"] or s["SHKSSJ"]) for s in rows["DJF_DJ_SH"]]
    steps += [(d["DBRYBH"], d["DBSJ"]) for d in rows["DJF_DJ_DB"]]
    for rybh, when in steps:
        assert rybh in staff and first_training[rybh] < when.date() and staff[rybh]["ZT"] == 1
    for person in staff.values():
        assert is_valid_id_number(person["ZJH"]) and person["LGSJ"] is None
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


def test_rejects_a_period_or_size_too_small(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    with pytest.raises(ValueError, match="period"):
        generate(url, url, url, size=200, period_start=date(2026, 3, 1), period_end=date(2026, 3, 8))
    with pytest.raises(ValueError, match="too small"):
        generate(url, url, url, size=50, **PERIOD)
    assert not (tmp_path / "x.db").exists()  # refused before any table is touched
