"""monthly_quality_check and case_timeliness_watch end to end on generated data, on SQLite
and PostgreSQL: case findings equal the ground truth, every unit's sample is at least 10 %
(and 5), stratified and identical on a rerun, checklists and warnings reach the right heads,
and a rerun adds and sends nothing."""

from __future__ import annotations

import io
import json
import math
from collections import Counter
from datetime import date

import openpyxl
import pytest
from sqlalchemy import create_engine, func, select

from bdcwatch.config.policy import load_policy
from bdcwatch.dates.clock import local_today
from bdcwatch.store.models import finding, inspection, inspection_sample, stg_djt_dj_sl

PERIOD_START, PERIOD_END = date(2026, 3, 1), date(2026, 4, 1)
CASE_RULES = {"CASE_OVERDUE", "CASE_OVERDUE_OPEN", "CASE_QUEUE_JUMP", "RETURN_UNJUSTIFIED", "RETURN_REPEATED",
              "MORTGAGE_WHILE_SEALED", "ONLINE_RATIO_LOW"}


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request, make_world):
    made = make_world(request.param, size=600, seed=11, start=PERIOD_START, end=PERIOD_END)
    return made.urls, made.truth, made.connections


CONF = json.dumps({"period_start": PERIOD_START.isoformat(), "period_end": PERIOD_END.isoformat()})


def test_monthly_quality_check(airflow_env, world, smtp_server):
    urls, truth, connections = world
    airflow_env.run_dag("monthly_quality_check", PERIOD_END.isoformat(), CONF, connections)
    supervision = create_engine(urls["supervision"])
    policy = load_policy()
    with supervision.connect() as conn:
        found = {(r.rule_code, r.subject_id, r.unit_code) for r in conn.execute(select(finding))}
        inspections = {r.unit_code: r for r in conn.execute(select(inspection))}
        samples = {
            unit: [(s.ywh, s.djdl) for s in conn.execute(
                select(inspection_sample).where(inspection_sample.c.inspection_id == row.id).order_by(inspection_sample.c.ywh)
            )]
            for unit, row in inspections.items()
        }
        completed = {
            unit: Counter(r.djdl for r in conn.execute(
                select(stg_djt_dj_sl.c.djdl).where(stg_djt_dj_sl.c.djjg == unit, stg_djt_dj_sl.c.ajzt == 2)
                .where(stg_djt_dj_sl.c.jssj >= PERIOD_START, stg_djt_dj_sl.c.jssj < PERIOD_END)
            ))
            for unit in policy.units
        }
    expected = {(f.rule_code, f.subject_id, f.unit_code) for f in truth.findings if f.rule_code in CASE_RULES}
    assert found == expected

    assert set(inspections) == set(policy.units)
    for unit, row in inspections.items():
        population = sum(completed[unit].values())
        assert row.population_size == population and population > 0
        assert row.sample_size == len(samples[unit]) == min(population, max(math.ceil(0.1 * population), 5))
        # stratified: every 登记大类 with at least 10 cases is represented
        drawn = Counter(djdl for _, djdl in samples[unit])
        assert all(drawn[djdl] >= 1 for djdl, n in completed[unit].items() if n >= 10), (unit, drawn, completed[unit])

    checklists = {m.message["Subject"]: m for m in smtp_server.received if any(
        name.startswith("质量评查抽查清单") for name in m.attachments)}
    assert len(checklists) == len(policy.units)
    for mail in checklists.values():
        unit_code = next(code for code, unit in policy.units.items() if unit.name in mail.message["Subject"])
        assert sorted(mail.envelope_to) == sorted(h.email for h in policy.units[unit_code].heads)
        (name,) = [n for n in mail.attachments if n.startswith("质量评查抽查清单")]
        sheet = openpyxl.load_workbook(io.BytesIO(mail.attachments[name])).active
        rows = list(sheet.iter_rows(values_only=True))
        assert "评查结论（合格/不合格）" in rows[0]
        assert sorted(r[1] for r in rows[1:]) == [ywh for ywh, _ in samples[unit_code]]

    # The 六不准 monthly report goes to the bureau, counting what the rules found this month.
    bureau = sorted(h.email for h in policy.supervisors["CITY_BUREAU"].heads)
    (six,) = [m for m in smtp_server.received if "六不准" in m.message["Subject"]]
    assert sorted(six.envelope_to) == bureau
    counted = sum(1 for rule, _, _ in found
                  if rule in {"CASE_OVERDUE", "CASE_OVERDUE_OPEN", "CASE_QUEUE_JUMP", "RETURN_UNJUSTIFIED",
                              "RETURN_REPEATED", "MORTGAGE_WHILE_SEALED"})
    assert f"发现问题 {counted} 项" in six.message["Subject"]

    sent = len(smtp_server.received)
    airflow_env.run_dag("monthly_quality_check", PERIOD_END.isoformat(), CONF, connections)
    with supervision.connect() as conn:
        assert conn.execute(select(func.count()).select_from(finding)).scalar_one() == len(found)
        again = {
            unit: [s.ywh for s in conn.execute(
                select(inspection_sample).where(inspection_sample.c.inspection_id == row.id).order_by(inspection_sample.c.ywh)
            )]
            for unit, row in inspections.items()
        }
    assert again == {unit: [ywh for ywh, _ in rows] for unit, rows in samples.items()}
    assert len(smtp_server.received) == sent, "a rerun sent mail again"


def test_case_timeliness_watch(airflow_env, world, smtp_server):
    urls, truth, connections = world
    conf = json.dumps({"period_start": "2026-03-31", "period_end": PERIOD_END.isoformat()})
    airflow_env.run_dag("case_timeliness_watch", PERIOD_END.isoformat(), conf, connections)
    supervision = create_engine(urls["supervision"])
    with supervision.connect() as conn:
        open_overdue = {r.subject_id for r in conn.execute(select(finding).where(finding.c.rule_code == "CASE_OVERDUE_OPEN"))}
    expected = {f.subject_id for f in truth.findings if f.rule_code == "CASE_OVERDUE_OPEN"}
    assert open_overdue == expected
    warnings = [m for m in smtp_server.received if "办件时限预警" in m.message["Subject"]]
    for subject in open_overdue:
        assert any(subject in m.html for m in warnings), f"{subject} missing from the warning lists"
    sent = len(smtp_server.received)
    airflow_env.run_dag("case_timeliness_watch", PERIOD_END.isoformat(), conf, connections)
    assert len(smtp_server.received) == sent
    # Another run (another run id: a manual run beside the scheduled one) for the same
    # as-of: the heads already have that day's list, so none is sent again.
    other = airflow_env.run_dag("case_timeliness_watch", f"{PERIOD_END.isoformat()}T06:00:00+00:00", conf, connections)
    assert other.state == "success"
    again = [m for m in smtp_server.received if "办件时限预警" in m.message["Subject"]]
    assert len(again) == len(warnings), "a second run for the same as-of sent the watch lists again"


def test_county_self_inspection_for_one_unit(airflow_env, world, smtp_server):
    urls, truth, connections = world
    conf = json.dumps({"period_start": "2026-01-01", "period_end": "2026-04-01", "units": ["YQ21"]})
    airflow_env.run_dag("county_self_inspection", PERIOD_END.isoformat(), conf, connections)
    supervision = create_engine(urls["supervision"])
    policy = load_policy()
    with supervision.connect() as conn:
        found = {(r.rule_code, r.subject_id, r.unit_code) for r in conn.execute(select(finding))}
        (row,) = conn.execute(select(inspection)).all()
    assert (row.cycle, row.unit_code, row.period) == ("county_self_inspection", "YQ21", "2026-Q1")
    assert row.sample_size >= max(math.ceil(0.1 * row.population_size), 5)
    assert {unit for _, _, unit in found} <= {"YQ21"}
    # The quarter contains the generated month: its YQ21 problems are all found (a share
    # judged per period, ONLINE_RATIO_LOW, is a different question for a quarter; staff
    # rules judge the registry as of the same 1 April and case steps over the quarter).
    march = {(f.rule_code, f.subject_id, f.unit_code) for f in truth.findings
             if f.unit_code == "YQ21" and f.rule_code != "ONLINE_RATIO_LOW"}
    assert march <= found
    assert smtp_server.received and all(
        sorted(m.envelope_to) in (sorted(h.email for h in policy.units["YQ21"].heads), [policy.operations_email])
        for m in smtp_server.received
    )


def test_city_check_reports_to_the_bureau_and_each_unit(airflow_env, world, smtp_server):
    urls, truth, connections = world
    conf = json.dumps({"period_start": "2026-01-01", "period_end": "2026-07-01"})
    airflow_env.run_dag("city_check", "2026-07-01", conf, connections)
    policy = load_policy()
    bureau = sorted(h.email for h in policy.supervisors["CITY_BUREAU"].heads)
    (report,) = [m for m in smtp_server.received if sorted(m.envelope_to) == bureau]
    assert "市级排查" in report.message["Subject"]
    for unit in policy.units.values():
        assert unit.name in report.html
    (workbook,) = report.attachments.values()
    sheet = openpyxl.load_workbook(io.BytesIO(workbook)).active
    supervision = create_engine(urls["supervision"])
    with supervision.connect() as conn:
        detected = conn.execute(select(func.count()).select_from(finding)).scalar_one()
        assert {r.unit_code for r in conn.execute(select(inspection))} == set(policy.units)
    assert sheet.max_row - 1 == detected  # every finding of the check is in the bureau's list
    unit_mails = [m for m in smtp_server.received if any(n.startswith("质量评查抽查清单") for n in m.attachments)]
    assert len(unit_mails) == len(policy.units)
    sent = len(smtp_server.received)
    airflow_env.run_dag("city_check", "2026-07-01", conf, connections)
    assert len(smtp_server.received) == sent


def test_provincial_spot_check_samples_every_unit_reproducibly(airflow_env, world, smtp_server):
    urls, truth, connections = world
    # A year that has ended (the generated month is its last): a period in the future is refused.
    conf = json.dumps({"period_start": "2025-04-01", "period_end": "2026-04-01"})
    airflow_env.run_dag("provincial_spot_check", "2026-04-02", conf, connections)
    policy = load_policy()
    supervision = create_engine(urls["supervision"])
    with supervision.connect() as conn:
        drawn = sorted(r.unit_code for r in conn.execute(select(inspection)))
    assert drawn == sorted(policy.units)  # one inspection per cycle run and unit (CONTRACT §4)
    bureau = sorted(h.email for h in policy.supervisors["CITY_BUREAU"].heads)
    received = Counter(tuple(sorted(m.envelope_to)) for m in smtp_server.received
                       if m.envelope_to != [policy.operations_email])
    # The city report to the bureau, and each unit its own findings and sample (§6): the
    # findings this run detects first were announced to no one (a DAG adversary).
    assert received == Counter([tuple(bureau)] + [tuple(sorted(h.email for h in unit.heads))
                                                   for unit in policy.units.values()])
    with supervision.connect() as conn:
        assert conn.execute(select(func.count()).select_from(finding).where(
            finding.c.notified_outbox_id.is_(None), finding.c.unit_code.in_(list(policy.units)))).scalar_one() == 0
    airflow_env.run_dag("provincial_spot_check", "2026-04-02", conf, connections)
    with supervision.connect() as conn:
        assert sorted(r.unit_code for r in conn.execute(select(inspection))) == drawn
    assert len([m for m in smtp_server.received if m.envelope_to != [policy.operations_email]]) == sum(
        received.values())  # a rerun sends nothing again


@pytest.mark.clock
def test_look_back_reopens_what_is_still_wrong_and_leaves_fixed_problems_closed(airflow_env, world, smtp_server):
    """回头看 through `airflow dags test`: two findings were closed by an operator yesterday
    (through the ledger's lifecycle function, with yesterday's time: look-back only judges
    periods that have ended); the source fixes one of them; look_back reopens only the
    other, with an audit entry and a note to its unit's heads; the audit chain stays
    intact; a rerun changes nothing."""
    from datetime import datetime, time, timedelta

    from sqlalchemy import update

    from bdcwatch.dates.clock import local_now
    from bdcwatch.ledger.audit import verify_chain
    from bdcwatch.ledger.lifecycle import change_status
    from bdcwatch.sources.schema import build_metadata
    from bdcwatch.store.models import finding_event

    urls, truth, connections = world
    policy = load_policy()
    airflow_env.run_dag("monthly_quality_check", PERIOD_END.isoformat(), CONF, connections)
    supervision = create_engine(urls["supervision"])
    with supervision.connect() as conn:
        returns = conn.execute(select(finding).where(finding.c.rule_code == "RETURN_UNJUSTIFIED")
                               .order_by(finding.c.subject_id)).all()
    assert len(returns) >= 2, "the generator plants several unjustified returns"
    fixed, still = returns[0], returns[1]
    # Closed yesterday at noon in the policy's zone: whatever the hour now, that day has ended.
    today = local_today(policy.timezone)
    yesterday_noon = datetime.combine(today - timedelta(days=1), time(12))
    with supervision.begin() as conn:
        change_status(conn, [fixed.id, still.id], "rectifying", actor="王建国", note="已整改", now=yesterday_noon)
        change_status(conn, [fixed.id, still.id], "closed", actor="王建国", note="已整改并核实",
                      now=yesterday_noon + timedelta(hours=1))
    # The unit really fixed one return: its reason code is now a lawful one.
    source = create_engine(urls["registration"])
    bysl = build_metadata().tables["BDC_BYSL"]
    with source.begin() as conn:
        conn.execute(update(bysl).where(fixed.subject_id == bysl.c.ID)
                     .values(THYYDM="01", THYY="申请材料不齐全", GXSJ=local_now(policy.timezone)))

    sent = len(smtp_server.received)
    # Closing dates to look back on: from 1 January of yesterday's year up to today 00:00
    # in the policy's zone (the machine's own date differs for 8 hours a day).
    conf = json.dumps({"period_start": f"{yesterday_noon.year}-01-01", "period_end": today.isoformat()})
    airflow_env.run_dag("look_back", today.isoformat(), conf, connections)
    with supervision.connect() as conn:
        status = dict(conn.execute(select(finding.c.id, finding.c.status).where(finding.c.id.in_([fixed.id, still.id]))).all())
        events = conn.execute(select(finding_event).where(finding_event.c.finding_id == still.id)
                              .order_by(finding_event.c.id)).all()
        assert verify_chain(conn) == []
    assert status == {fixed.id: "closed", still.id: "reopened"}
    assert [(e.from_status, e.to_status) for e in events][-1] == ("closed", "reopened")
    new_mail = smtp_server.received[sent:]
    heads = sorted(h.email for h in policy.units[still.unit_code].heads)
    (notice,) = [m for m in new_mail if sorted(m.envelope_to) == heads]
    assert still.subject_id in notice.html and fixed.subject_id not in notice.html and "回头看" in notice.message["Subject"]

    sent = len(smtp_server.received)
    airflow_env.run_dag("look_back", today.isoformat(), conf, connections)
    with supervision.connect() as conn:
        assert conn.execute(select(finding.c.status).where(finding.c.id == fixed.id)).scalar_one() == "closed"
    assert len(smtp_server.received) == sent


@pytest.mark.clock
def test_annual_summary_sums_the_ledger_for_the_bureau_and_each_unit(airflow_env, world, smtp_server):
    """annual_summary after a month's check: the bureau's report has every unit and the
    city total, each unit gets only its own part, figures equal the ledger's."""
    from collections import Counter
    from datetime import datetime, time, timedelta

    from sqlalchemy import update

    urls, truth, connections = world
    airflow_env.run_dag("monthly_quality_check", PERIOD_END.isoformat(), CONF, connections)
    supervision = create_engine(urls["supervision"])
    # The year so far ends today 00:00 in the policy's zone (a period in the future is
    # refused): the check that found these ran "yesterday" for the summary to count them.
    today = local_today(load_policy().timezone)
    yesterday_noon = datetime.combine(today - timedelta(days=1), time(12))
    with supervision.begin() as conn:
        conn.execute(update(finding).values(first_detected_at=yesterday_noon, last_detected_at=yesterday_noon))
    with supervision.connect() as conn:
        detected = Counter(r.unit_code for r in conn.execute(select(finding.c.unit_code)))
    sent = len(smtp_server.received)
    year = yesterday_noon.year
    conf = json.dumps({"period_start": f"{year}-01-01", "period_end": today.isoformat()})
    airflow_env.run_dag("annual_summary", today.isoformat(), conf, connections)
    mails = smtp_server.received[sent:]
    policy = load_policy()
    bureau = sorted(h.email for h in policy.supervisors["CITY_BUREAU"].heads)
    (report,) = [m for m in mails if sorted(m.envelope_to) == bureau]
    assert "年度不动产登记监督工作总结" in report.message["Subject"] and "全市合计" in report.html
    (workbook,) = report.attachments.values()
    book = openpyxl.load_workbook(io.BytesIO(workbook))
    rows = {r[0]: r for r in book["年度汇总"].iter_rows(values_only=True)}
    header = rows["登记机构"]
    (monthly,) = [h for h in header if str(h).startswith("月度质量评查（全年应12次")]
    for code, unit in policy.units.items():
        assert rows[unit.name][header.index("期内发现问题")] == detected.get(code, 0)
        assert rows[unit.name][header.index(monthly)] == (1 if year == PERIOD_START.year else 0)
    assert rows["全市合计"][header.index("期内发现问题")] == sum(detected[c] for c in policy.units)
    for code, unit in policy.units.items():
        heads = sorted(h.email for h in unit.heads)
        (own,) = [m for m in mails if sorted(m.envelope_to) == heads]
        assert unit.name in own.html and "全市合计" not in own.html
        assert not any(other.name in own.html for other_code, other in policy.units.items() if other_code != code)
    airflow_env.run_dag("annual_summary", today.isoformat(), conf, connections)
    assert len(smtp_server.received) == sent + len(mails), "a rerun sent the summary again"
