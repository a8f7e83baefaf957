"""The monthly scorecard, ranking and 通报 (CONTRACT §8, plan items 32, 35) on a tiny
hand-made month whose every numerator and denominator is worked out below by hand."""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import openpyxl
import pytest
import yaml
from sqlalchemy import func, select

from bdcwatch.config.policy import load_policy, parse_policy
from bdcwatch.config.run import Job, RunContext, RunSpec
from bdcwatch.dates.periods import Period
from bdcwatch.dates.workdays import calendar_from_policy
from bdcwatch.reports import bulletin
from bdcwatch.reports.ranking import monthly_scorecard, ranks, weighted_score
from bdcwatch.reports.scorecard import Measure, indicator_score
from bdcwatch.store.migrate import make_engine
from bdcwatch.store.models import (
    finding,
    outbox,
    stg_bdc_dzzz_zzxx,
    stg_bdc_zs,
    stg_djt_dj_sl,
    stg_ry_jbxx,
    stg_ry_pxjl,
)

MARCH = Period(date(2026, 3, 1), date(2026, 4, 1))
NOW = datetime(2026, 4, 5, 8, 0, 3)
L = {"_load_id": "t", "gxsj": datetime(2026, 4, 1)}


def policy():
    raw = yaml.safe_load(Path(load_policy().source.removesuffix(" (bundled default)")).read_text(encoding="utf-8"))
    raw["bulletin"] = {"min_population": {name: 2 for name in raw["bulletin"]["min_population"]}}
    return parse_policy(raw, "test")


def case(ywh, djjg, djdl, slsj, *, jssj=None, ajzt=2, sqfs=1, qllx=None):
    return {"ywh": ywh, "djjg": djjg, "qxdm": "140321", "djdl": djdl, "qllx": qllx, "sqfs": sqfs, "slsj": slsj,
            "ajzt": ajzt, "jssj": jssj, "gqts": 0, **L}


def certificate(zsid, szsj, number):
    return {"zsid": zsid, "ywh": "C1", "zslx": 1, "bdcqzh": number, "bdcqzh_norm": number, "bdcdyh": "x" * 28,
            "qlrmc": "张三", "holders_norm": "张三", "djjg": "YQ21", "szsj": szsj, "zszt": 1, **L}


def person(rybh, dwdm, **extra):
    return {"rybh": rybh, "xm": "某", "zjh_valid": 1, "dwdm": dwdm, "yglx": 1, "gw": "受理", "sgsj": date(2020, 1, 1),
            "zt": 1, "lgsj": None, **L, **extra}  # every row the same keys (one executemany)


def found(fid, unit, *, judged=None, first=datetime(2026, 2, 1), due=date(2026, 6, 1), status="open", closed=None):
    return {"id": fid, "fingerprint": f"F{fid}", "rule_code": "CASE_OVERDUE", "severity": "medium", "unit_code": unit,
            "subject_type": "YWH", "subject_id": f"S{fid}", "detail": "{}", "status": status,
            "first_detected_at": first, "last_detected_at": first, "due_date": due, "closed_at": closed,
            "dag_id": "d", "first_run_id": "r", "last_run_id": "r", "judged_as_of": judged}


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url.migrated())
    with engine.begin() as conn:
        conn.execute(stg_djt_dj_sl.insert(), [
            # YQ21: 转移 limit 3 → accepted Mon 2 Mar, deadline Thu 5 Mar
            case("C1", "YQ21", "200", datetime(2026, 3, 2, 9), jssj=datetime(2026, 3, 4, 16)),  # on time
            case("C2", "YQ21", "200", datetime(2026, 3, 2, 9), jssj=datetime(2026, 3, 20, 10)),  # late
            case("C3", "YQ21", "700", datetime(2026, 3, 10, 9), jssj=datetime(2026, 3, 10, 15), sqfs=2),  # 预告, online
            case("C4", "YQ21", "300", datetime(2026, 3, 11, 9), ajzt=1, qllx="37"),  # mortgage, still open
            case("C5", "YQ22", "200", datetime(2026, 3, 3, 9), jssj=datetime(2026, 3, 4, 9)),
            case("C6", "YQ21", "200", datetime(2026, 2, 27, 9), jssj=datetime(2026, 3, 2, 9)),  # Feb case done in March
        ])
        conn.execute(stg_bdc_zs.insert(), [
            certificate("Z1", datetime(2026, 3, 4, 17), "N1"), certificate("Z2", datetime(2026, 3, 11, 9), "N2"),
            certificate("Z3", datetime(2026, 3, 20, 11), "N3"),
            certificate("Z4", datetime(2026, 3, 31, 12), "N4"),  # grace (24 h) not over at as-of: not counted
        ])
        conn.execute(stg_bdc_dzzz_zzxx.insert(), [
            {"zzid": f"E{n}", "zzbs": "x", "zzlxdm": "11100000MB03271699001", "bdcqzh": f"N{n}", "bdcqzh_norm": f"N{n}",
             "holders_norm": "张三", "zzbfrq": datetime(2026, 3, 4 + n, 18), "zzzt": 1, **L} for n in (1, 2)])
        conn.execute(stg_ry_jbxx.insert(), [
            person("P1", "YQ21"), person("P2", "YQ21"), person("P3", "YQ21", lgsj=date(2026, 2, 1)),  # P3 left
            person("P4", "YQ22"), person("P5", "YQ22"),
        ])
        # as of 1 April: 3 whole months → 40 × 3 / 12 = 10 hours due
        conn.execute(stg_ry_pxjl.insert(), [
            {"id": f"T{p}", "rybh": p, "pxrq": date(2026, 2, 10), "xs": Decimal("12.0"), "khjg": 1, **L}
            for p in ("P1", "P4", "P5")])
        conn.execute(finding.insert(), [
            found(1, "YQ21", judged=datetime(2026, 4, 1)),  # judged as of the month's end: March
            found(2, "YQ21", judged=datetime(2026, 3, 1)),  # as of 1 March: February's
            found(3, "YQ21", first=datetime(2026, 3, 15)),  # recorded before judged_as_of existed
            found(4, "YQ21", due=date(2026, 3, 20), status="closed", closed=datetime(2026, 3, 19, 17)),
            found(5, "YQ21", due=date(2026, 3, 25), status="closed", closed=datetime(2026, 3, 27, 9)),
            found(6, "YQ21", due=date(2026, 3, 30)),
        ])
    return engine


def test_the_month_scored_by_hand(engine):
    card, computed = monthly_scorecard(engine, MARCH, policy(), calendar_from_policy(policy()), now=NOW, run_id="r1")
    assert computed and card.period == "2026-03"
    yq21 = {m.indicator: (m.numerator, m.denominator, m.sufficient, m.score)
            for m in next(u for u in card.units if u.unit_code == "YQ21").measures.values()}
    assert yq21 == {
        "ecert_coverage": (2, 3, True, Decimal("66.67")),
        # C1, C3 and C6 (accepted Fri 27 Feb, due Tue 3 Mar: Sat 28 Feb is a makeup working day) on time;
        # C2 late (CASE_OVERDUE)
        "on_time_completion": (3, 4, True, Decimal("75.00")),
        "online_share": (1, 2, True, Decimal("100.00")),  # 50 % against the county target 30 %
        "findings_per_1000": (2, 4, True, Decimal("0.00")),  # 500 per 1,000 (C1–C4 accepted) ≥ 200: zero
        "rectified_on_time": (1, 3, True, Decimal("33.33")),
        "training_on_track": (1, 2, True, Decimal("50.00")),
    }
    by_unit = {u.unit_code: u for u in card.units}
    # (20×66.67 + 20×75 + 15×100 + 15×0 + 20×33.33 + 10×50) / 100 = 55.0
    assert by_unit["YQ21"].score == Decimal("55.00")
    # YQ22: one case only (样本不足 everywhere but training, 2 of 2 on track): ranked on training alone.
    assert [m.indicator for m in by_unit["YQ22"].measures.values() if m.sufficient] == ["training_on_track"]
    assert by_unit["YQ22"].score == Decimal("100.00")
    assert [(u.unit_code, u.rank) for u in card.units] == [
        ("YQ22", 1), ("YQ21", 2), ("YQ00", None), ("YQ11", None), ("YQGX", None)]
    # February, computed now (never published): YQ21 ranked 2nd on training alone (P2 behind).
    assert (by_unit["YQ21"].prev_score, by_unit["YQ21"].prev_rank, by_unit["YQ21"].change_text()) == (
        Decimal("50.00"), 2, "持平")
    assert by_unit["YQ00"].change_text() == "—"


def test_no_change_against_a_month_never_checked(engine):
    """February was never checked (no sample drawn, nothing judged on its data): it scores
    no one and the change since then is "—", not a fall from a near-perfect month."""
    with engine.begin() as conn:
        conn.execute(finding.delete().where(finding.c.id == 2))  # the one finding judged on February's data
    card, _ = monthly_scorecard(engine, MARCH, policy(), calendar_from_policy(policy()), now=NOW, run_id="r1")
    yq21 = next(u for u in card.units if u.unit_code == "YQ21")
    assert (yq21.score, yq21.prev_score, yq21.prev_rank, yq21.change_text()) == (Decimal("55.00"), None, None, "—")


def test_a_month_is_stored_and_read_back_unless_recomputed(engine):
    p = policy()
    first, _ = monthly_scorecard(engine, MARCH, p, calendar_from_policy(p), now=NOW, run_id="r1")
    with engine.begin() as conn:  # a late-loaded case would change March's figures
        conn.execute(stg_djt_dj_sl.insert(), [case("C9", "YQ21", "200", datetime(2026, 3, 9, 9),
                                                   jssj=datetime(2026, 3, 30, 9))])
    again, computed = monthly_scorecard(engine, MARCH, p, calendar_from_policy(p), now=NOW.replace(day=6), run_id="r2")
    assert not computed and again == first
    corrected, computed = monthly_scorecard(engine, MARCH, p, calendar_from_policy(p), now=NOW.replace(day=7),
                                            run_id="r3", recompute=True)
    assert computed and corrected.fingerprint() != first.fingerprint()
    april, _ = monthly_scorecard(engine, Period(date(2026, 4, 1), date(2026, 5, 1)), p, calendar_from_policy(p),
                                 now=NOW.replace(month=5), run_id="r4")
    yq21 = next(u for u in april.units if u.unit_code == "YQ21")
    assert (yq21.prev_score, yq21.prev_rank) == (next(u for u in corrected.units if u.unit_code == "YQ21").score, 2)
    with pytest.raises(ValueError, match="monthly"):
        monthly_scorecard(engine, Period(date(2026, 1, 1), date(2026, 4, 1)), p, calendar_from_policy(p), now=NOW,
                          run_id="r5")


def test_weights_and_ties():
    def m(indicator, score, sufficient=True):
        return Measure(indicator, 1, 1, sufficient, Decimal(score) if sufficient else None)

    scored = {"ecert_coverage": m("ecert_coverage", "80"), "online_share": m("online_share", "40"),
              "training_on_track": m("training_on_track", "0", sufficient=False)}
    assert weighted_score(scored, {"ecert_coverage": 3, "online_share": 1, "training_on_track": 5}) == Decimal("70.00")
    assert weighted_score(scored, {"training_on_track": 1}) is None
    # findings per 1,000 cases: 100 at none, 0 at findings_per_1000_zero_score (200) and beyond
    assert indicator_score("findings_per_1000", 1, 20, load_policy(), "YQ21") == Fraction(75)
    assert indicator_score("findings_per_1000", 9, 20, load_policy(), "YQ21") == 0
    assert indicator_score("online_share", 3, 20, load_policy(), "YQ00") == 30  # 15 % of the city's 50 %
    assert ranks({"A": Decimal("90"), "B": Decimal("80"), "C": Decimal("90"), "D": None, "E": Decimal("10")}) == {
        "A": 1, "C": 1, "B": 3, "E": 4, "D": None}


def test_the_bulletin_mail_and_workbook(engine):
    p = policy()
    job = Job(RunSpec(period_start=MARCH.start, period_end=MARCH.end), p, engine,
              RunContext("monthly_bulletin", "run-1", NOW), ui_base_url="http://airflow.example")
    queued = bulletin.compose(job)
    assert len(queued) == 1 + len(p.units)
    with engine.connect() as conn:
        messages = {m.unit_code: m for m in conn.execute(select(outbox).where(outbox.c.id.in_(queued)))}
    bureau = messages[None]
    assert "2026年3月" in bureau.subject and "阳泉市规划和自然资源局" in bureau.subject
    assert bureau.html.index("盂县不动产登记中心") < bureau.html.index("平定县不动产登记中心")  # YQ22 #1, YQ21 #2
    assert "样本不足" in bureau.html and "55.00" in bureau.html and "本单位" not in bureau.html
    assert "《阳泉市不动产登记队伍作风常态化建设实施方案》（阳自然资发〔2023〕24号）" in bureau.html
    assert "本单位" in messages["YQ21"].html
    _, html, attachments = bulletin.render_bulletin(
        monthly_scorecard(engine, MARCH, p, calendar_from_policy(p), now=NOW, run_id="x")[0], policy=p,
        addressee="x", heads=p.units["YQ21"].heads, own_unit="YQ21", dag_id="monthly_bulletin", run_id="r")
    workbook, chart = attachments
    assert chart.inline and chart.content[:4] == b"\x89PNG"
    sheet = openpyxl.load_workbook(io.BytesIO(workbook.content))["指标明细"]
    header, *rows = list(sheet.iter_rows(values_only=True))
    row = dict(zip(header, next(r for r in rows if r[1] == "YQ21" and r[3] == "on_time_completion"), strict=True))
    assert (row["分子"], row["分母"], row["得分"]) == (3, 4, 75.0)
    # A rerun of the month sends nothing again.
    assert bulletin.compose(Job(job.spec, p, engine, RunContext("monthly_bulletin", "run-2", NOW))) == []
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(outbox)).scalar_one() == len(queued)


def test_a_complaint_accepted_on_the_first_counts_in_its_own_month(sqlite_url):
    """findings_per_1000: a detected finding judged as of 1 March 00:00 is February's (the
    check of February found it); a complaint accepted on 1 March (written as a date,
    00:00) happened in March and is March's, not February's."""
    from bdcwatch.reports.scorecard import _ledger_counts
    from tests.web.ledger_world import new_world

    world = new_world(sqlite_url.migrated())
    world.add("late", "CASE_OVERDUE", "YQ21-2026-02-000001", "YQ21", as_of=datetime(2026, 3, 1))
    world.add("ticket", "COMPLAINT", "GD2026030101", "YQ21", as_of=datetime(2026, 3, 1))
    february, _ = _ledger_counts(world.engine, Period(date(2026, 2, 1), date(2026, 3, 1)))
    march, _ = _ledger_counts(world.engine, Period(date(2026, 3, 1), date(2026, 4, 1)))
    assert (february, march) == ({"YQ21": 1}, {"YQ21": 1})
