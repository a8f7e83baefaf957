"""The figures heads read in the annual summary, the bulletin and the KPIs, as an audit
office would check them (an evaluation adversary's findings): cycles counted against what
was due by the report's day, rates of one population, one problem counted once, each
certificate in one month, December's training judged on the finished year, and rates that
never round up to a target or to 100 %."""

from __future__ import annotations

import io
import re
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction

import openpyxl
import pytest

from bdcwatch.config.policy import load_policy
from bdcwatch.dates.periods import Period
from bdcwatch.dates.workdays import WorkCalendar
from bdcwatch.ledger.escalation import record_escalation
from bdcwatch.mail.outbox import OutgoingMessage, enqueue
from bdcwatch.reports.annual import CYCLES, annual_rows, city_row, render_annual
from bdcwatch.reports.kpis import UnitKpi
from bdcwatch.reports.rates import percent, percent_text
from bdcwatch.reports.scorecard import Measure, measure_counts
from bdcwatch.rules.ecert import ecert_coverage
from bdcwatch.store.migrate import make_engine
from bdcwatch.store.models import (
    finding,
    inspection,
    stg_bdc_dzzz_zzxx,
    stg_bdc_zs,
    stg_djt_dj_sl,
    stg_ry_jbxx,
    stg_ry_pxjl,
)

L = {"_load_id": "t", "gxsj": datetime(2026, 1, 1)}
YEAR_TO_DATE = Period(date(2026, 1, 1), date(2026, 12, 15))  # the annual summary's default period


def found(fid: int, unit: str, *, first: datetime, status: str = "open", closed: datetime | None = None,
          rule: str = "CASE_OVERDUE", subject: str | None = None, period: str | None = None,
          judged: datetime | None = None) -> dict[str, object]:
    return {"id": fid, "fingerprint": f"F{fid}", "rule_code": rule, "severity": "medium", "unit_code": unit,
            "subject_type": "YWH", "subject_id": subject or f"S{fid}", "detail": "{}", "status": status,
            "period": period, "first_detected_at": first, "last_detected_at": first, "due_date": date(2026, 1, 20),
            "closed_at": closed, "dag_id": "d", "first_run_id": "r", "last_run_id": "r", "judged_as_of": judged}


def held(cycle: str, unit: str, label: str) -> dict[str, object]:
    return {"cycle": cycle, "unit_code": unit, "period": label, "population_size": 10, "sample_size": 1,
            "findings_count": 0, "seed": "s", "started_at": datetime(2026, 1, 1), "finished_at": datetime(2026, 1, 1)}


def certificate(zsid: str, szsj: datetime, unit: str = "YQ21") -> dict[str, object]:
    return {"zsid": zsid, "ywh": "C1", "zslx": 1, "bdcqzh": zsid, "bdcqzh_norm": zsid, "bdcdyh": "x" * 28,
            "qlrmc": "张三", "holders_norm": "张三", "djjg": unit, "szsj": szsj, "zszt": 1, **L}


def ecert(number: str, issued: datetime) -> dict[str, object]:
    return {"zzid": f"E{number}", "zzbs": "x", "zzlxdm": "11100000MB03271699001", "bdcqzh": number,
            "bdcqzh_norm": number, "holders_norm": "张三", "zzbfrq": issued, "zzzt": 1, **L}


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_rates_round_down_never_to_a_target_or_to_all():
    assert percent_text(1999, 2000) == "99.9%" and percent_text(2000, 2000) == "100.0%"
    assert percent_text(62, 207) == "29.9%"  # 29.95 %: below a 30 % target, as the rule judges it
    assert percent_text(7, 700) == "1.0%" and percent_text(1, 3) == "33.3%" and percent_text(0, 0) == "—"
    assert percent(Fraction(3, 10), digits=0) == 30.0
    measure = Measure("ecert_coverage", 1999, 2000, True, Decimal("99.95"))
    assert measure.value_text() == "99.9%"
    kpi = UnitKpi("YQ21", "x", "2026-03", 2000, 1999, 0, 0, 62, 207, 30.0, 0, 0, 0)
    assert kpi.ecert_coverage == 99.9 and kpi.online_share == 29.9
    assert kpi.online_met is False  # 62 × 100 < 30 × 207: the unit is not marked as meeting its target
    assert UnitKpi("YQ21", "x", "2026-03", 0, 0, 0, 0, 63, 210, 30.0, 0, 0, 0).online_met is True


def test_cycles_due_by_the_report_day():
    """Each cycle runs after its period: by 15 December, 11 monthly checks, 3 quarters, one
    half-year and no provincial check of the year can have been held."""
    due = {c.dag_id: len(c.due(2026, date(2026, 12, 15))) for c in CYCLES}
    assert due == {"monthly_quality_check": 11, "county_self_inspection": 3, "city_check": 1,
                   "provincial_spot_check": 0}
    assert {c.dag_id: len(c.due(2026, date(2027, 1, 1))) for c in CYCLES} == {
        "monthly_quality_check": 12, "county_self_inspection": 4, "city_check": 2, "provincial_spot_check": 1}
    assert [c.labels(2026) for c in CYCLES][1:] == [["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"],
                                                    ["2026-H1", "2026-H2"], ["2026"]]


@pytest.fixture
def annual_world(database_url):
    """Every unit held every cycle on schedule by 15 December 2026 (the December check, Q4,
    H2 and the year's provincial check run in January), except YQ22, which skipped July's
    check; a partial rerun of November (2026-11-01..2026-11-15) is no extra cycle; YQ21
    closed two of 2025's findings this year and found one, still open, escalated in ten
    months; YQ22's online share is 59 of 200 (29.5 %) against a 30 % target and 1,999 of its
    2,000 certificates have an e-certificate."""
    engine = make_engine(database_url.migrated())
    policy = load_policy()
    rows = []
    for unit in policy.units:
        rows += [held("monthly_quality_check", unit, f"2026-{m:02d}") for m in range(1, 12)
                 if not (unit == "YQ22" and m == 7)]
        rows += [held("county_self_inspection", unit, f"2026-Q{q}") for q in (1, 2, 3)]
        rows += [held("city_check", unit, "2026-H1"), held("provincial_spot_check", unit, "2025")]
    rows.append(held("monthly_quality_check", "YQ22", "2026-11-01..2026-11-15"))
    with engine.begin() as conn:
        conn.execute(inspection.insert(), rows)
        conn.execute(finding.insert(), [
            found(1, "YQ21", first=datetime(2025, 11, 3), status="closed", closed=datetime(2026, 2, 1)),
            found(2, "YQ21", first=datetime(2025, 11, 3), status="closed", closed=datetime(2026, 2, 2)),
            found(3, "YQ21", first=datetime(2026, 1, 3)),
        ])
        outbox_id = enqueue(conn, OutgoingMessage(
            dedup_key="esc", kind="escalation", dag_id="d", run_id="r", period="2026-02", unit_code="YQ21",
            recipients=("a@example.org",), subject="s", html="h"), datetime(2026, 2, 2))
        for month in range(2, 12):
            record_escalation(conn, [3], today=date(2026, month, 2), supervisor="CITY_BUREAU", outbox_id=outbox_id,
                              now=datetime(2026, month, 2, 7, 30))
        conn.execute(stg_djt_dj_sl.insert(), [
            {"ywh": f"O{i}", "djjg": "YQ22", "qxdm": "140321", "djdl": "700", "qllx": None,
             "sqfs": 2 if i < 59 else 1, "slsj": datetime(2026, 5, 6, 9), "ajzt": 2, "jssj": None, "gqts": 0, **L}
            for i in range(200)])
        conn.execute(stg_bdc_zs.insert(), [certificate(f"N{i}", datetime(2026, 5, 6, 9), "YQ22") for i in range(2000)])
        conn.execute(stg_bdc_dzzz_zzxx.insert(), [ecert(f"N{i}", datetime(2026, 5, 6, 10)) for i in range(1999)])
    return engine, policy


def test_the_annual_summary_counts_against_what_was_due(annual_world):
    engine, policy = annual_world
    units = sorted(policy.units)
    rows = {r.code: r for r in annual_rows(engine, policy, YEAR_TO_DATE, date(2026, 12, 15), units)}
    assert rows["YQ21"].cycles == {"monthly_quality_check": 11, "county_self_inspection": 3, "city_check": 1,
                                   "provincial_spot_check": 0}
    assert sum(rows["YQ21"].missed.values()) == 0
    assert rows["YQ22"].cycles["monthly_quality_check"] == 10  # July skipped; the partial rerun is no cycle
    assert rows["YQ22"].missed == {"monthly_quality_check": 1, "county_self_inspection": 0, "city_check": 0,
                                   "provincial_spot_check": 0}
    # Of one population: 1 found this year, none of it closed (the two closures were 2025's).
    yq21 = rows["YQ21"]
    assert (yq21.ledger.detected_in_period, yq21.closed_of_detected, yq21.closure_rate) == (1, 0, "0%")
    assert yq21.ledger.closed_in_period == 2
    assert yq21.escalated == 1  # one problem escalated ten times is one problem escalated
    assert rows["YQ22"].ecert_rate == "99.9%"
    assert rows["YQ22"].online_text == "29.5%（目标 30%，未达标）"
    city = city_row(list(rows.values()))
    assert city.online_text == "29.5%" and city.closure_rate == "0%"

    _, html, workbook = render_annual(list(rows.values()), heads=policy.supervisors["CITY_BUREAU"].heads,
                                      addressee="局", year_label="2026", period_text="p", dag_id="annual_summary",
                                      run_id="r", city=city, as_of_day=date(2026, 12, 15))
    text = text_of(html)
    assert "月度质量评查（全年应12次，截至报告日应11次）" in text and "省级抽查（全年应1次，截至报告日应0次）" in text
    assert text.count("（不足）") == 2 and f"{policy.units['YQ22'].name} 10（不足） 3 1 0" in text  # and the footnote
    sheet = openpyxl.load_workbook(io.BytesIO(workbook))["年度汇总"]
    header = [c.value for c in sheet[1]]
    by_name = {r[0]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    yq21_row = by_name[policy.units["YQ21"].name]
    assert yq21_row[header.index("其中已销号")] == 0 and yq21_row[header.index("销号率")] == "0%"
    assert by_name[policy.units["YQ22"].name][header.index("月度质量评查未开展（已到期）")] == 1


def test_each_certificate_counts_in_one_month(database_url):
    """A certificate printed on a month's last day reaches its 24-hour grace in the next
    month and counts there: the months add up to the year, none is left out."""
    engine = make_engine(database_url.migrated())
    policy = load_policy()
    with engine.begin() as conn:
        conn.execute(stg_bdc_zs.insert(), [certificate(f"A{i}", datetime(2026, 3, 10, 9)) for i in range(3)]
                     + [certificate(f"B{i}", datetime(2026, 3, 31, 15)) for i in range(2)])
        conn.execute(stg_bdc_dzzz_zzxx.insert(), [ecert(f"A{i}", datetime(2026, 3, 10, 12)) for i in range(3)])
    march = ecert_coverage(engine, Period(date(2026, 3, 1), date(2026, 4, 1)), policy)
    april = ecert_coverage(engine, Period(date(2026, 4, 1), date(2026, 5, 1)), policy)
    spring = ecert_coverage(engine, Period(date(2026, 3, 1), date(2026, 5, 1)), policy)
    assert march["YQ21"] == (3, 3) and april["YQ21"] == (2, 0)
    assert spring["YQ21"] == (5, 3)


def test_one_problem_recorded_by_several_cycles_counts_once(database_url):
    """June's low online share recorded by the month's, the quarter's and the half-year's
    checks (all judged as of 1 July) is one problem in June's findings per 1,000 cases."""
    engine = make_engine(database_url.migrated())
    policy = load_policy()
    july = datetime(2026, 7, 1)
    with engine.begin() as conn:
        conn.execute(finding.insert(), [
            found(i, "YQ21", first=datetime(2026, 7, 1, 3), rule="ONLINE_RATIO_LOW", subject="YQ21", period=label,
                  judged=july)
            for i, label in enumerate(("2026-06", "2026-Q2", "2026-H1"), start=1)]
            + [found(4, "YQ21", first=datetime(2026, 7, 1, 3), judged=july)])
        conn.execute(stg_djt_dj_sl.insert(), [
            {"ywh": f"C{i}", "djjg": "YQ21", "qxdm": "140321", "djdl": "200", "qllx": None, "sqfs": 1,
             "slsj": datetime(2026, 6, 3, 9), "ajzt": 1, "jssj": None, "gqts": 0, **L} for i in range(25)])
    counts = measure_counts(engine, Period(date(2026, 6, 1), date(2026, 7, 1)), policy, WorkCalendar())
    assert counts["YQ21"]["findings_per_1000"] == (2, 25)


def test_decembers_training_is_judged_on_the_finished_year(database_url):
    """At 1 January STAFF_TRAINING_BEHIND's own year is the new one and flags nobody: the
    December bulletin would score an untrained unit 100. It is judged on the year just
    finished: 40 hours for a person on post all of it, pro rata for one who started."""
    engine = make_engine(database_url.migrated())
    policy = load_policy()

    def person(rybh: str, dwdm: str, sgsj: date) -> dict[str, object]:
        return {"rybh": rybh, "xm": "某", "zjh_valid": 1, "dwdm": dwdm, "yglx": 1, "gw": "受理", "sgsj": sgsj,
                "zt": 1, "lgsj": None, **L}

    with engine.begin() as conn:
        conn.execute(stg_ry_jbxx.insert(), [
            person("P1", "YQ21", date(2020, 1, 1)),  # no training all year: behind
            person("P2", "YQ22", date(2020, 1, 1)),  # 40 h: on track
            person("P3", "YQ22", date(2026, 7, 1)),  # started 1 July: 6 months, 20 h due; has 20 h
            person("P4", "YQ22", date(2026, 7, 1)),  # started 1 July with 19 h: behind
        ])
        conn.execute(stg_ry_pxjl.insert(), [
            {"id": f"T{p}", "rybh": p, "pxrq": date(2026, 9, 10), "xs": Decimal(h), "khjg": 1, **L}
            for p, h in (("P2", "40.0"), ("P3", "20.0"), ("P4", "19.0"))])
    december = measure_counts(engine, Period(date(2026, 12, 1), date(2027, 1, 1)), policy, WorkCalendar())
    assert december["YQ21"]["training_on_track"] == (0, 1)
    assert december["YQ22"]["training_on_track"] == (2, 3)
    november = measure_counts(engine, Period(date(2026, 11, 1), date(2026, 12, 1)), policy, WorkCalendar())
    assert november["YQ21"]["training_on_track"] == (0, 1)  # 11 months: 36.7 h due


def test_reports_cite_the_plan_by_its_title():
    """The plan is 《阳泉市不动产登记队伍作风常态化建设实施方案》 (阳自然资发〔2023〕24号); the
    reports cited a title it does not have."""
    from tests.mail_samples import KINDS

    samples = [make() for make in KINDS.values()]
    assert not [s.kind for s in samples if "作风和业务质量提升" in s.html]
    cited = {s.kind for s in samples if "《阳泉市不动产登记队伍作风常态化建设实施方案》" in s.html}
    assert {"annual_summary", "unit_digest", "escalation"} <= cited  # the bulletin: test_bulletin
