"""Returns and seizure rules on tiny fixtures, through the real extraction and gate."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta

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
from bdcwatch.store.migrate import make_engine, migrate
from bdcwatch.store.models import finding

LOADED_AT = datetime(2026, 6, 1, 9, 0)  # the local clock a load stamps on load_log and quarantine

CASE_RULES = [rules.get(code) for code in rules.select(family="case")]

START, END = date(2026, 3, 1), date(2026, 4, 1)
T = datetime(2026, 3, 10, 10, 0)
UNIT = "140302001001GB00001F00010001"
OTHER_UNIT = "140302001001GB00002F00010001"


class Cases:
    def __init__(self, source_url: str, supervision_url: str) -> None:
        self.source = create_engine(source_url)
        self.metadata = build_metadata()
        self.metadata.create_all(self.source)
        self.supervision = make_engine(supervision_url)
        migrate(self.supervision)
        self._ids = itertools.count(1)

    def _insert(self, table: str, row: dict) -> None:
        with self.source.begin() as conn:
            conn.execute(self.metadata.tables[table].insert(), [row])

    def case(self, *, djjg: str = "YQ00", bdcdyh: str = UNIT, qllx: str | None = None, djdl: str = "200",
             dbsj: datetime | None = None, slsj: datetime | None = None, ajzt: int | None = None,
             jssj: datetime | None = None, gqts: int = 0) -> str:
        ywh = f"YWH{next(self._ids):06d}"
        slsj = slsj or (dbsj or T) - timedelta(hours=3)
        self._insert("DJT_DJ_SL", {
            "YWH": ywh, "DJJG": djjg, "QXDM": "140302", "DJDL": djdl, "QLLX": qllx, "BDCDYH": bdcdyh, "SQFS": 1,
            "SLRYBH": "R1", "SLSJ": slsj, "AJZT": ajzt or (2 if dbsj else 3), "JSSJ": jssj or dbsj, "GQTS": gqts,
            "GXSJ": T})
        if dbsj:
            self._insert("DJF_DJ_DB", {"YWH": ywh, "DBRYBH": "R2", "DBSJ": dbsj, "GXSJ": dbsj})
        return ywh

    def returned(self, ywh: str, *, thsj: datetime, code: str | None = "01", bdcdyh: str = UNIT) -> str:
        ident = f"TH{next(self._ids):06d}"
        self._insert("BDC_BYSL", {"ID": ident, "YWH": ywh, "BDCDYH": bdcdyh, "THSJ": thsj, "THYYDM": code,
                                  "THYY": "测试", "CZRYBH": "R1", "GXSJ": thsj})
        return ident

    def seizure(self, *, bdcdyh: str = UNIT, cfkssj: datetime, jfsj: datetime | None = None) -> None:
        self._insert("QLF_QL_CFDJ", {"YWH": f"CF{next(self._ids):06d}", "BDCDYH": bdcdyh, "CFJG": "阳泉市中级人民法院",
                                     "CFKSSJ": cfkssj, "JFSJ": jfsj, "GXSJ": jfsj or cfkssj})

    def run(self, start: date = START, end: date = END) -> set[tuple[str, str, str | None]]:
        for table in ("DJT_DJ_SL", "DJF_DJ_DB", "BDC_BYSL", "QLF_QL_CFDJ"):
            load_table(self.source, self.supervision, table, run_id="t", full_scan=True, now=LOADED_AT)
        run_rules(self.supervision, CASE_RULES, period=Period(start, end), policy=load_policy(),
                  calendar=WorkCalendar(), ctx=RunContext("monthly_quality_check", "t", datetime(2026, 4, 1, 1)))
        with self.supervision.connect() as conn:
            return {(r.rule_code, r.subject_id, r.unit_code) for r in conn.execute(select(finding))}


@pytest.fixture
def cases(database_url) -> Cases:
    """The same rules must give the same findings on every supported supervision_db."""
    return Cases(database_url("source"), database_url.migrated("supervision"))


def test_return_without_lawful_reason(cases):
    lawful = cases.returned(cases.case(), thsj=T, code="03")
    missing = cases.returned(cases.case(djjg="YQ21"), thsj=T, code=None)
    blank = cases.returned(cases.case(), thsj=T, code="  ")
    unknown = cases.returned(cases.case(), thsj=T, code="99")
    outside = cases.returned(cases.case(), thsj=datetime(2026, 2, 27), code=None)
    found = {(s, u) for r, s, u in cases.run() if r == "RETURN_UNJUSTIFIED"}
    assert found == {(missing, "YQ21"), (blank, "YQ00"), (unknown, "YQ00")}
    assert lawful and outside


def test_repeated_returns_flag_the_second_and_later_by_the_same_unit(cases):
    first = cases.returned(cases.case(), thsj=T - timedelta(days=20))
    second = cases.returned(cases.case(), thsj=T)
    third = cases.returned(cases.case(), thsj=T + timedelta(days=5))
    # a different registration unit returning the same unit number is not a repeat
    other_djjg = cases.returned(cases.case(djjg="YQGX"), thsj=T + timedelta(days=1))
    # more than 30 days after the previous return is not a repeat
    cases.returned(cases.case(bdcdyh=OTHER_UNIT), thsj=datetime(2026, 1, 20), bdcdyh=OTHER_UNIT)
    late = cases.returned(cases.case(bdcdyh=OTHER_UNIT), thsj=datetime(2026, 3, 2), bdcdyh=OTHER_UNIT)
    found = {s for r, s, _ in cases.run() if r == "RETURN_REPEATED"}
    assert found == {second, third}
    assert first and other_djjg and late


def test_mortgage_registered_on_seized_property(cases):
    cases.seizure(cfkssj=T - timedelta(days=10))
    sealed = cases.case(qllx="37", dbsj=T)
    lifted_before = cases.case(qllx="37", dbsj=T, bdcdyh=OTHER_UNIT)
    cases.seizure(bdcdyh=OTHER_UNIT, cfkssj=T - timedelta(days=10), jfsj=T - timedelta(hours=1))
    not_mortgage = cases.case(qllx="4", dbsj=T + timedelta(hours=2))
    third_unit = "140302001001GB00003F00010001"
    seized_after = cases.case(qllx="23", dbsj=datetime(2026, 3, 15, 10), bdcdyh=third_unit)
    cases.seizure(bdcdyh=third_unit, cfkssj=datetime(2026, 3, 20, 9))
    found = {s for r, s, _ in cases.run() if r == "MORTGAGE_WHILE_SEALED"}
    assert found == {sealed}
    assert lifted_before and not_mortgage and seized_after


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour)


def test_overdue_against_the_contract_deadline_vectors(cases):
    on_time = [
        cases.case(djdl="200", slsj=at("2025-09-30"), jssj=at("2025-10-11", 16), ajzt=2),  # makeup Saturday
        cases.case(djdl="700", slsj=at("2026-02-14"), jssj=at("2026-02-24", 16), ajzt=2),
        cases.case(djdl="700", slsj=at("2026-10-03"), jssj=at("2026-10-09", 16), ajzt=2),
        cases.case(djdl="100", slsj=at("2026-04-30"), jssj=at("2026-05-11", 16), ajzt=2),
    ]
    late = [
        cases.case(djdl="200", slsj=at("2025-09-30"), jssj=at("2025-10-13", 9), ajzt=2),
        cases.case(djdl="700", slsj=at("2026-02-14"), jssj=at("2026-02-25", 9), ajzt=2),
        cases.case(djdl="700", slsj=at("2026-10-03"), jssj=at("2026-10-10", 9), ajzt=2),  # makeup Saturday, 1 day late
        cases.case(djdl="100", slsj=at("2026-04-30"), jssj=at("2026-05-12", 9), ajzt=2),
    ]
    found = {s for r, s, _ in cases.run(date(2025, 9, 1), date(2026, 11, 1)) if r == "CASE_OVERDUE"}
    assert found == set(late)
    assert on_time


def test_limit_classes_and_suspension(cases):
    # A mortgage (QLLX 37) filed under DJDL 100 has the mortgage limit (1), not 首次's 5.
    mortgage_late = cases.case(djdl="100", qllx="37", slsj=at("2026-03-02"), jssj=at("2026-03-04"), ajzt=2)
    first_registration = cases.case(djdl="100", slsj=at("2026-03-02"), jssj=at("2026-03-04"), ajzt=2)
    # 查封 is done on the day: limit 0.
    seizure_next_day = cases.case(djdl="800", qllx="37", slsj=at("2026-03-02"), jssj=at("2026-03-03"), ajzt=2)
    # GQTS suspended working days extend the limit: 200 (3) + 2 → Monday 2 March ⇒ Monday 9 March.
    suspended = cases.case(djdl="200", slsj=at("2026-03-02"), jssj=at("2026-03-09"), ajzt=2, gqts=2)
    not_suspended = cases.case(djdl="200", slsj=at("2026-03-02"), jssj=at("2026-03-09"), ajzt=2)
    found = {s for r, s, _ in cases.run() if r == "CASE_OVERDUE"}
    assert found == {mortgage_late, seizure_next_day, not_suspended}
    assert first_registration and suspended


def test_overdue_open_is_judged_as_of_period_end(cases):
    open_late = cases.case(djdl="200", slsj=at("2026-03-20"), ajzt=1)  # deadline 25 March
    open_in_time = cases.case(djdl="200", slsj=at("2026-03-30"), ajzt=1)  # deadline 2 April
    done_after_as_of = cases.case(djdl="200", slsj=at("2026-03-20"), ajzt=2, jssj=at("2026-04-03"))
    suspended_now = cases.case(djdl="200", slsj=at("2026-03-20"), ajzt=4)
    ancient = cases.case(djdl="100", slsj=at("2025-01-06"), ajzt=1)
    accepted_after_as_of = cases.case(djdl="200", slsj=at("2026-04-02"), ajzt=1)
    withdrawn_after_as_of = cases.case(djdl="200", slsj=at("2026-03-20"), ajzt=5, jssj=at("2026-04-02"))
    done_before_as_of = cases.case(djdl="200", slsj=at("2026-03-20"), ajzt=2, jssj=at("2026-03-31"))
    found = {s for r, s, _ in cases.run() if r == "CASE_OVERDUE_OPEN"}
    assert found == {open_late, done_after_as_of, withdrawn_after_as_of, ancient}
    assert open_in_time and suspended_now and accepted_after_as_of and done_before_as_of


def test_online_share_by_unit_level_and_minimum(cases):
    def batch(djjg: str, online: int, window: int, **kind) -> None:
        for i in range(online + window):
            ywh = cases.case(djjg=djjg, slsj=T + timedelta(minutes=i), ajzt=1, **kind)
            if i < online:
                with cases.source.begin() as conn:
                    conn.execute(cases.metadata.tables["DJT_DJ_SL"].update()
                                 .where(ywh == cases.metadata.tables["DJT_DJ_SL"].c.YWH).values(SQFS=2))

    batch("YQ00", online=9, window=11, djdl="700")  # city: 45 % < 50 %
    batch("YQ11", online=6, window=14, djdl="100", qllx="37")  # county: exactly 30 % is not below
    batch("YQ21", online=5, window=15, djdl="700")  # county: 25 % < 30 %
    batch("YQ22", online=0, window=19, djdl="700")  # 19 cases: below the minimum, not judged
    batch("YQGX", online=0, window=20, djdl="200")  # 转移 cases are out of scope
    found = {(s, u) for r, s, u in cases.run() if r == "ONLINE_RATIO_LOW"}
    assert found == {("YQ00", "YQ00"), ("YQ21", "YQ21")}
    with cases.supervision.connect() as conn:
        periods = set(conn.execute(select(finding.c.period).where(finding.c.rule_code == "ONLINE_RATIO_LOW")).scalars())
    assert periods == {"2026-03"}


def test_queue_jump_needs_both_speed_and_overtaking(cases):
    # Ordinary 转移 cases of March: accepted on working days, registered 2-4 working days later.
    for day in (2, 3, 4, 5, 6, 9, 10, 11):
        cases.case(djdl="200", slsj=at(f"2026-03-{day:02d}", 9), dbsj=at(f"2026-03-{day + 3:02d}", 15))
    # Waiting in the queue when B arrives: accepted 10-11 March, registered 16-17 March.
    for day, done in ((10, 16), (10, 17), (11, 16)):
        cases.case(djdl="200", slsj=at(f"2026-03-{day:02d}", 14), dbsj=at(f"2026-03-{done:02d}", 11))
    jumper = cases.case(djdl="200", slsj=at("2026-03-12", 9), dbsj=at("2026-03-12", 16))
    # Just as fast, but only two earlier cases were still waiting: not enough overtaken.
    cases.case(djdl="200", djjg="YQ21", slsj=at("2026-03-09", 9), dbsj=at("2026-03-11", 15))
    cases.case(djdl="200", djjg="YQ21", slsj=at("2026-03-09", 10), dbsj=at("2026-03-11", 15))
    cases.case(djdl="200", djjg="YQ21", slsj=at("2026-03-11", 9), dbsj=at("2026-03-16", 15))
    cases.case(djdl="200", djjg="YQ21", slsj=at("2026-03-11", 10), dbsj=at("2026-03-16", 15))
    fast_but_few = cases.case(djdl="200", djjg="YQ21", slsj=at("2026-03-12", 9), dbsj=at("2026-03-12", 16))
    # 查封 is done on the spot by law: exempt however many it overtakes.
    for day in (2, 3, 4):
        cases.case(djdl="800", slsj=at(f"2026-03-{day:02d}", 9), dbsj=at("2026-03-20", 9))
    seizure = cases.case(djdl="800", slsj=at("2026-03-05", 9), dbsj=at("2026-03-05", 10))
    found = {s for r, s, _ in cases.run() if r == "CASE_QUEUE_JUMP"}
    assert found == {jumper}
    assert fast_but_few and seizure


def test_peers_registered_after_as_of_are_not_yet_overtaken(cases):
    """The peers B overtook must have a DBSJ in the data judged (before as-of): a rerun of
    March in May must not find a jump that March's own run could not (CONTRACT §2)."""
    for day in (2, 3, 4, 5, 6, 9, 10, 11):
        cases.case(djdl="200", slsj=at(f"2026-03-{day:02d}", 9), dbsj=at(f"2026-03-{day + 3:02d}", 15))
    # Waiting when B arrives, registered only in April: after as-of (1 April).
    for day, done in ((27, 2), (30, 3), (30, 2)):
        cases.case(djdl="200", slsj=at(f"2026-03-{day:02d}", 14), dbsj=at(f"2026-04-{done:02d}", 11))
    jumper = cases.case(djdl="200", slsj=at("2026-03-31", 9), dbsj=at("2026-03-31", 16))
    assert {s for r, s, _ in cases.run() if r == "CASE_QUEUE_JUMP"} == set()  # as of 1 April: nobody overtaken yet
    # Judged as of 3 April (the peers' DBSJ now in the data judged), it is a jump.
    assert jumper in {s for r, s, _ in cases.run(START, date(2026, 4, 4)) if r == "CASE_QUEUE_JUMP"}


def test_no_queue_jump_when_everyone_is_fast(cases):
    # A quiet month where everything is registered on the day: median 0, nothing is "fast".
    for hour in range(9, 16):
        cases.case(djdl="200", slsj=at("2026-03-10", hour), dbsj=at("2026-03-10", 16))
    cases.case(djdl="200", slsj=at("2026-03-10", 16), dbsj=at("2026-03-10", 16))
    assert {r for r, _, _ in cases.run()} == set()


def test_due_soon_alert_counts_working_days_left(cases):
    from bdcwatch.rules import RuleInput
    from bdcwatch.rules.time_limits import due_soon_cases
    from bdcwatch.store.dialect import Dialect

    # As of Wednesday 1 April 2026 00:00; 转移 limit 3 working days.
    due_today = cases.case(djdl="200", slsj=at("2026-03-27"), ajzt=1)  # deadline Wed 1 April
    due_tomorrow = cases.case(djdl="200", slsj=at("2026-03-30"), ajzt=1)  # deadline Thu 2 April
    later = cases.case(djdl="200", slsj=at("2026-03-31"), ajzt=1)  # deadline Fri 3 April: 2 left
    overdue = cases.case(djdl="200", slsj=at("2026-03-20"), ajzt=1)  # past due: an overdue finding instead
    done = cases.case(djdl="200", slsj=at("2026-03-30"), ajzt=2, jssj=at("2026-03-31"))
    cases.run()
    ri = RuleInput(Period(START, END), load_policy(), Dialect(cases.supervision.dialect.name), cases.supervision)
    alerts = {row["ywh"]: row["days_left"] for row in due_soon_cases(cases.supervision, ri, WorkCalendar())}
    assert alerts == {due_today: 0, due_tomorrow: 1}
    assert later and overdue and done
