"""Staff rules (CONTRACT §3) on tiny registries, through the real extraction and gate, on
SQLite, PostgreSQL and MariaDB: each rule positive, negative and its traps."""

from __future__ import annotations

import itertools
import json
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, select

from bdcwatch import rules
from bdcwatch.config.policy import load_policy
from bdcwatch.config.run import RunContext
from bdcwatch.dates.periods import Period
from bdcwatch.dates.workdays import WorkCalendar
from bdcwatch.ledger.findings import run_rules
from bdcwatch.sources.extract import load_table
from bdcwatch.sources.schema import build_metadata
from bdcwatch.standards.identifiers import id_number_check_character
from bdcwatch.store.migrate import make_engine, migrate
from bdcwatch.store.models import finding, quarantine

LOADED_AT = datetime(2026, 6, 1, 9, 0)  # the local clock a load stamps on load_log and quarantine

STAFF_RULES = [rules.get(code) for code in rules.select(family="staff")]

# A weekly period, as the weekly DAG judges it: as of Monday 2026-11-16 00:00.
WEEK = (date(2026, 11, 9), date(2026, 11, 16))
IN_WEEK = datetime(2026, 11, 10, 10, 0)
LONG_AGO = date(2015, 3, 1)


def valid_id(body17: str) -> str:
    return body17 + id_number_check_character(body17)


def id_ending_in_x() -> str:
    for n in range(1000):
        body = f"14030219850101{n:03d}"
        if id_number_check_character(body) == "X":
            return body + "X"
    raise AssertionError("no X check character found")


class Registry:
    """A registration source and a staff registry the test writes row by row."""

    def __init__(self, source_url: str, staff_url: str, supervision_url: str) -> None:
        self.metadata = build_metadata()
        self.source = create_engine(source_url)
        self.staff = create_engine(staff_url)
        for engine in {id(self.source): self.source, id(self.staff): self.staff}.values():
            self.metadata.create_all(engine)
        self.supervision = make_engine(supervision_url)
        migrate(self.supervision)
        self._ids = itertools.count(1)

    def _insert(self, engine, table: str, row: dict) -> None:
        with engine.begin() as conn:
            conn.execute(self.metadata.tables[table].insert(), [row])

    def person(self, rybh: str, *, dwdm: str | None = "YQ00", gw: str | None = "受理", yglx: int | None = 1,
               sgsj: date | None = LONG_AGO, gwkssj: date | None = date(2024, 1, 1), zt: int = 1,
               lgsj: date | None = None, lzcnsj: date | None = date(2026, 1, 15), zjh: str | None = None,
               trained: bool = True) -> str:
        self._insert(self.staff, "RY_JBXX", {
            "RYBH": rybh, "XM": "张伟", "ZJH": zjh if zjh is not None else valid_id(f"14030219800101{next(self._ids):03d}"),
            "DWDM": dwdm, "YGLX": yglx, "GW": gw, "SGSJ": sgsj, "GWKSSJ": gwkssj, "ZT": zt, "LGSJ": lgsj,
            "LZCNSJ": lzcnsj, "GXSJ": datetime(2026, 1, 15, 9)})
        if trained:  # induction before posting, then 4 h a month this year: never behind
            self.training(rybh, (sgsj or LONG_AGO) - timedelta(days=10), 24)
            for month in range(1, 12):
                self.training(rybh, date(2026, month, 5), 4)
        return rybh

    def training(self, rybh: str, day: date, hours: float, passed: int = 1) -> str:
        ident = f"PX{next(self._ids):06d}"
        self._insert(self.staff, "RY_PXJL", {"ID": ident, "RYBH": rybh, "PXMC": "不动产登记业务规范", "PXRQ": day,
                                             "XS": Decimal(str(hours)), "KHJG": passed, "GXSJ": datetime(2026, 1, 1)})
        return ident

    def case(self, *, slrybh: str | None = None, shrybh: str | None = None, dbrybh: str | None = None,
             at: datetime = IN_WEEK, djjg: str = "YQ00", review_started_only: bool = False) -> str:
        ywh = f"YWH{next(self._ids):06d}"
        self._insert(self.source, "DJT_DJ_SL", {
            "YWH": ywh, "DJJG": djjg, "QXDM": "140302", "DJDL": "200", "QLLX": "4",
            "BDCDYH": "140302001001GB00001F00010001", "SQFS": 1, "SLRYBH": slrybh, "SLSJ": at, "AJZT": 2,
            "JSSJ": at + timedelta(hours=5), "GQTS": 0, "GXSJ": at})
        review_end = None if review_started_only else at + timedelta(hours=2)
        self._insert(self.source, "DJF_DJ_SH", {
            "YWH": ywh, "SXH": 1, "JDMC": "初审", "SHRYBH": shrybh, "SHKSSJ": at + timedelta(hours=1),
            "SHJSSJ": review_end, "CZJG": 1, "SHYJ": "同意", "GXSJ": at})
        self._insert(self.source, "DJF_DJ_DB", {"YWH": ywh, "DBRYBH": dbrybh, "DBSJ": at + timedelta(hours=4),
                                                "GXSJ": at})
        return ywh

    def run(self, period: tuple[date, date] = WEEK) -> dict[tuple[str, str], dict]:
        for table in ("DJT_DJ_SL", "DJF_DJ_SH", "DJF_DJ_DB"):
            load_table(self.source, self.supervision, table, run_id="t", full_scan=True, now=LOADED_AT)
        for table in ("RY_JBXX", "RY_PXJL"):
            load_table(self.staff, self.supervision, table, run_id="t", full_scan=True, now=LOADED_AT)
        run_rules(self.supervision, STAFF_RULES, period=Period(*period), policy=load_policy(),
                  calendar=WorkCalendar(), ctx=RunContext("staff_registry_audit", f"t-{period}", datetime(2026, 11, 16, 2)))
        with self.supervision.connect() as conn:
            return {(r.rule_code, r.subject_id): {"unit": r.unit_code, "period": r.period, "detail": json.loads(r.detail)}
                    for r in conn.execute(select(finding))}


@pytest.fixture
def registry(database_url) -> Registry:
    return Registry(database_url("source"), database_url("staff"), database_url.migrated("supervision"))


def codes_of(found: dict, rule: str) -> set[str]:
    return {subject for code, subject in found if code == rule}


def test_clean_registry_has_no_findings(registry: Registry) -> None:
    a, b, c = registry.person("YQ00001"), registry.person("YQ00002", gw="审核"), registry.person("YQ00003", gw="登簿")
    registry.case(slrybh=a, shrybh=b, dbrybh=c)
    registry.case(slrybh=None, shrybh="  ", dbrybh=c)  # null and blank ids are not steps
    assert registry.run() == {}


def test_case_step_rules(registry: Registry) -> None:
    trained = registry.person("YQ00001")
    # Posted on the 10th with the induction that same day: the first step that day is fine.
    same_day = registry.person("YQ00002", sgsj=date(2026, 11, 10), trained=False)
    registry.training(same_day, date(2026, 11, 10), 24)
    # First passed training after the step (a failed course before it does not count).
    late = registry.person("YQ00003", sgsj=date(2026, 11, 1), trained=False)
    registry.training(late, date(2026, 11, 2), 24, passed=0)
    registry.training(late, date(2026, 11, 12), 24)
    never = registry.person("YQ00004", sgsj=date(2026, 11, 1), trained=False)
    # Left on the 10th: a step that day is fine, one on the 11th is not.
    left_today = registry.person("YQ00005", zt=2, lgsj=date(2026, 11, 10))
    left = registry.person("YQ00006", zt=2, lgsj=date(2026, 11, 10))
    registry.case(slrybh=trained, shrybh=same_day, dbrybh=left_today)
    registry.case(slrybh=late, shrybh=never, dbrybh=trained)
    registry.case(slrybh=trained, shrybh=left, dbrybh=trained, at=datetime(2026, 11, 11, 9))
    # An outsider on two cases of YQ11, and one only before the period (not judged now).
    registry.case(slrybh="HN0001", dbrybh=trained, djjg="YQ11")
    registry.case(slrybh=trained, shrybh="HN0001", djjg="YQ11", review_started_only=True)
    registry.case(slrybh="HN0002", at=datetime(2026, 11, 6, 9))
    found = registry.run()

    assert codes_of(found, "STAFF_UNTRAINED_ON_POST") == {late, never}
    assert found[("STAFF_UNTRAINED_ON_POST", late)]["detail"]["first_passed_training"].startswith("2026-11-12")
    assert found[("STAFF_UNTRAINED_ON_POST", never)]["detail"]["first_passed_training"] is None
    assert codes_of(found, "STAFF_INACTIVE_HANDLER") == {left}
    assert codes_of(found, "STAFF_UNKNOWN_HANDLER") == {"HN0001"}
    unknown = found[("STAFF_UNKNOWN_HANDLER", "HN0001")]
    assert unknown["unit"] == "YQ11" and unknown["period"] is None and unknown["detail"]["steps"] == 2
    assert found[("STAFF_INACTIVE_HANDLER", left)]["unit"] == "YQ00"


def test_quarantined_person_is_not_an_unknown_handler(registry: Registry) -> None:
    registry.person("YQ00001")
    broken = registry.person("YQ00009", yglx=9)  # out-of-domain 用工类型: quarantined
    registry.case(slrybh=broken, shrybh="YQ00001", dbrybh="YQ00001")
    found = registry.run()
    with registry.supervision.connect() as conn:
        keys = set(conn.execute(select(quarantine.c.row_key).where(quarantine.c.source_table == "RY_JBXX")).scalars())
    assert keys == {f"RYBH={broken}"}
    assert found == {}


def test_record_incomplete_and_gb11643(registry: Registry) -> None:
    fine_x = registry.person("YQ00001", zjh=id_ending_in_x())
    good = valid_id("14030219800101123")
    wrong_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    bad = registry.person("YQ00002", zjh=wrong_check)
    no_id = registry.person("YQ00003", zjh="")
    no_post = registry.person("YQ00004", gw=None)
    no_type = registry.person("YQ00005", yglx=None)
    no_start = registry.person("YQ00006", sgsj=None)
    gone = registry.person("YQ00007", zjh=wrong_check, zt=2, lgsj=date(2026, 6, 30))  # not on post
    found = registry.run()
    assert codes_of(found, "STAFF_RECORD_INCOMPLETE") == {bad, no_id, no_post, no_type, no_start}
    assert fine_x not in codes_of(found, "STAFF_RECORD_INCOMPLETE") and gone not in codes_of(found, "STAFF_RECORD_INCOMPLETE")
    detail = found[("STAFF_RECORD_INCOMPLETE", bad)]["detail"]
    assert detail["zjh_invalid"] == 1 and detail["zjh_missing"] == 0
    assert detail["zjh"] == wrong_check[:3] + "*" * 13 + wrong_check[-2:]  # masked, never whole
    assert found[("STAFF_RECORD_INCOMPLETE", no_post)]["detail"]["gw_missing"] == 1


def test_rotation_due(registry: Registry) -> None:
    # As of 2026-11-16, rotation_years 5: a key post held since before 2021-11-16.
    over = registry.person("YQ00001", gw="审核", gwkssj=date(2021, 11, 15))
    registry.person("YQ00002", gw="登簿", gwkssj=date(2021, 11, 16))  # exactly 5 years: not more
    registry.person("YQ00003", gw="受理", gwkssj=date(2010, 1, 1))  # not a key post
    registry.person("YQ00004", gw="审核", gwkssj=None)
    registry.person("YQ00005", gw="登簿", gwkssj=date(2012, 1, 1), zt=2, lgsj=date(2026, 1, 1))  # left
    found = registry.run()
    assert codes_of(found, "STAFF_ROTATION_DUE") == {over}


def test_pledge_missing_only_after_the_deadline(registry: Registry) -> None:
    stale = registry.person("YQ00001", lzcnsj=date(2025, 12, 30))
    missing = registry.person("YQ00002", lzcnsj=None)
    registry.person("YQ00003", lzcnsj=date(2026, 1, 31))
    registry.person("YQ00004", lzcnsj=None, zt=2, lgsj=date(2026, 3, 1))  # left: not on post
    found = registry.run()
    assert codes_of(found, "STAFF_PLEDGE_MISSING") == {stale, missing}
    assert found[("STAFF_PLEDGE_MISSING", stale)]["period"] == "2026"


def test_pledge_not_judged_before_deadline(registry: Registry) -> None:
    # As of 31 January 00:00 the deadline day is still to come: nothing yet; as of 1 Feb, late.
    registry.person("YQ00002", lzcnsj=None)
    found = registry.run((date(2026, 1, 24), date(2026, 1, 31)))
    assert codes_of(found, "STAFF_PLEDGE_MISSING") == set()
    found = registry.run((date(2026, 1, 25), date(2026, 2, 1)))
    assert codes_of(found, "STAFF_PLEDGE_MISSING") == {"YQ00002"}


def test_training_behind_is_pro_rata(registry: Registry) -> None:
    # As of 16 Nov: m = 10 whole months since 1 Jan, so 40 * 10 / 12 = 33.3 h are due.
    behind = registry.person("YQ00001", trained=False)
    registry.training(behind, date(2026, 3, 1), 30)
    registry.training(behind, date(2026, 4, 1), 8, passed=0)  # failed: does not count
    on_track = registry.person("YQ00002", trained=False)
    registry.training(on_track, date(2026, 2, 1), 34)
    # Joined 20 June: m = 4 (20 Oct <= 16 Nov < 20 Nov), 13.3 h due; 14 h is on track.
    joined = registry.person("YQ00003", sgsj=date(2026, 6, 20), trained=False)
    registry.training(joined, date(2026, 6, 20), 14)
    late_joiner = registry.person("YQ00004", sgsj=date(2026, 6, 20), trained=False)
    registry.training(late_joiner, date(2026, 6, 20), 13)
    registry.training(on_track, date(2026, 11, 16), 0.5)  # on the as-of day: not counted, not needed
    found = registry.run()
    assert codes_of(found, "STAFF_TRAINING_BEHIND") == {behind, late_joiner}
    detail = found[("STAFF_TRAINING_BEHIND", late_joiner)]["detail"]
    assert detail["months"] == 4 and float(detail["passed_hours"]) == 13
    assert found[("STAFF_TRAINING_BEHIND", behind)]["period"] == "2026"


def test_training_behind_month_end_clipping(registry: Registry) -> None:
    # Joined 31 Jan; as of 28 Feb (a month end) 31 Jan + 1 month = 28 Feb: m = 1, 3.33 h due.
    person = registry.person("YQ00001", sgsj=date(2026, 1, 31), trained=False)
    registry.training(person, date(2026, 1, 31), 3)
    found = registry.run((date(2026, 2, 21), date(2026, 2, 28)))
    assert codes_of(found, "STAFF_TRAINING_BEHIND") == {person}
    assert found[("STAFF_TRAINING_BEHIND", person)]["detail"]["months"] == 1


def test_training_hours_judged_at_year_end_only(registry: Registry) -> None:
    short = registry.person("YQ00001", trained=False)
    for month in range(1, 13):
        registry.training(short, date(2026, month, 5), 3)  # 36 h
    registry.training(short, date(2026, 6, 1), 10, passed=0)  # failed: would make 46
    enough = registry.person("YQ00002", trained=False)
    for month in range(1, 11):
        registry.training(enough, date(2026, month, 5), 4)  # 40 h
    joined = registry.person("YQ00003", sgsj=date(2026, 7, 1), trained=False)  # not on post all year
    registry.training(joined, date(2026, 7, 1), 20)
    # On post all of 2026 too: one left on 31 December (a leaving day is a day on post),
    # one has a leaving date already recorded for next June. One who left in November was not.
    left_on_31st = registry.person("YQ00004", zt=2, lgsj=date(2026, 12, 31), trained=False)
    leaves_later = registry.person("YQ00005", lgsj=date(2027, 6, 30), trained=False)
    left_in_november = registry.person("YQ00006", zt=2, lgsj=date(2026, 11, 30), trained=False)
    for person in (left_on_31st, leaves_later, left_in_november):
        registry.training(person, date(2026, 3, 5), 10)
    weekly = registry.run()
    assert codes_of(weekly, "STAFF_TRAINING_HOURS") == set()
    year_end = registry.run((date(2026, 12, 25), date(2027, 1, 1)))
    assert codes_of(year_end, "STAFF_TRAINING_HOURS") == {short, left_on_31st, leaves_later}
    assert year_end[("STAFF_TRAINING_HOURS", short)]["period"] == "2026"
    assert float(year_end[("STAFF_TRAINING_HOURS", short)]["detail"]["passed_hours"]) == 36


def test_roster_summary_and_staff_digest_content(registry: Registry) -> None:
    """The weekly digest's roster: head counts by 用工类型 and 岗位 and hours, and the
    findings of the unit's own people with ID numbers masked."""
    from bdcwatch.reports.common import DigestContext, FindingRow, SummaryTable
    from bdcwatch.reports.staff_digest import bucket_labels, roster_summary
    from bdcwatch.reports.unit_digest import render_unit_digest

    registry.person("YQ00001", gw="受理", yglx=1)
    registry.person("YQ00002", gw="审核", yglx=2)
    bad_id = valid_id("14030219800101777")[:-1] + "0"
    if bad_id == valid_id("14030219800101777"):
        bad_id = bad_id[:-1] + "1"
    registry.person("YQ00003", gw="审核", yglx=3, zjh=bad_id, trained=False)
    registry.person("YQ11001", dwdm="YQ11", gw="登簿")
    registry.person("YQ00009", zt=2, lgsj=date(2026, 5, 1))  # gone: not on the roster
    registry.run()
    rosters = roster_summary(registry.supervision, datetime(2026, 11, 16), 40.0)
    yq00 = rosters["YQ00"]
    assert (yq00.on_post, yq00.by_type, yq00.by_post) == (3, {"在编": 1, "聘用": 1, "劳务派遣": 1}, {"受理": 1, "审核": 2})
    labels = bucket_labels(40.0)
    # Trained people have 4 h x 10 months before 16 Nov = 40 h; the untrained one none.
    assert yq00.hours_buckets == {labels[-1]: 2, labels[0]: 1} and rosters["YQ11"].on_post == 1

    with registry.supervision.connect() as conn:
        rows = [FindingRow(r.id, r.rule_code, r.severity, r.unit_code, r.subject_type, r.subject_id, r.period,
                           r.detail, r.status, r.first_detected_at, r.due_date)
                for r in conn.execute(select(finding).where(finding.c.unit_code == "YQ00"))]
    assert {r.rule_code for r in rows} == {"STAFF_RECORD_INCOMPLETE", "STAFF_TRAINING_BEHIND"}
    context = DigestContext(
        dag_id="staff_registry_audit", run_id="t", period_label="2026-11-09..2026-11-16", period_text="本周",
        as_of=datetime(2026, 11, 16), plan_items="21、24", title="登记人员信息核查", supervisor_name="市局",
        tables=(SummaryTable("在岗人员构成（用工类型）", ("用工类型", "人数"), tuple(sorted(yq00.by_type.items()))),),
    )
    policy = load_policy()
    digest = render_unit_digest(rows, unit_code="YQ00", unit_name=policy.units["YQ00"].name,
                                heads=policy.units["YQ00"].heads, context=context)
    assert "在岗人员构成（用工类型）" in digest.html and "劳务派遣" in digest.html
    assert "身份证号校验不通过" in digest.html and bad_id not in digest.html
    assert bad_id[:3] + "*" * 13 + bad_id[-2:] in digest.html
