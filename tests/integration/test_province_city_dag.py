"""A province's second city end to end (issue 13 item 5): `airflow dags test` of
ecert_completeness__1401 reads that city's sources through registration_db__1401 & co.,
and its findings and mail land in supervision_db__1401, never in the home city's."""

from __future__ import annotations

import json
import re
from datetime import date

from sqlalchemy import create_engine, func, select

from bdcwatch.config.province import load_province
from bdcwatch.demo.generator import generate
from bdcwatch.demo.province import write_province
from bdcwatch.store.migrate import make_engine, migrate
from bdcwatch.store.models import finding, outbox
from tests.support import SYSTEMS, connections_of

PERIOD_START, PERIOD_END = date(2026, 3, 1), date(2026, 4, 1)


def test_second_city_run_uses_its_own_databases(airflow_env, smtp_server, tmp_path):
    province_file = write_province(tmp_path / "province", [("1403", "阳泉市"), ("1401", "太原市")])
    province = load_province(province_file)
    assert province is not None
    home, taiyuan = province.cities
    city_urls = {name: f"sqlite:///{tmp_path / f'taiyuan_{name}.db'}" for name in SYSTEMS}
    home_urls = {name: f"sqlite:///{tmp_path / f'home_{name}.db'}" for name in SYSTEMS}
    truth = generate(city_urls["registration"], city_urls["ecert"], city_urls["staff"], size=300, seed=11,
                     period_start=PERIOD_START, period_end=PERIOD_END, policy=taiyuan.policy)
    migrate(make_engine(home_urls["supervision"]))  # the home city's ledger exists, and must stay empty
    connections = {
        **{conn_id: uri for conn_id, uri in connections_of(home_urls, smtp_server.airflow_uri()).items()},
        **{taiyuan.conn_id(conn_id): uri for conn_id, uri in connections_of(city_urls, "unused").items()
           if conn_id != "smtp_default"},
    }
    conf = json.dumps({"period_start": PERIOD_START.isoformat(), "period_end": PERIOD_END.isoformat()})

    outcome = airflow_env.run_dag("ecert_completeness__1401", PERIOD_END.isoformat(), conf, connections,
                                  extra_env={"BDCWATCH_POLICY": str(province_file),
                                             "AIRFLOW__API__BASE_URL": "https://bdc.example.gov.cn"})
    assert outcome.failed_tasks() == {} and any(task.startswith("load[") for task in outcome.tasks)

    with create_engine(city_urls["supervision"]).connect() as conn:
        found = {(r.rule_code, r.subject_id, r.unit_code) for r in conn.execute(select(finding))}
        queued = conn.execute(select(func.count()).select_from(outbox)).scalar_one()
    expected = {(f.rule_code, f.subject_id, f.unit_code) for f in truth.findings if f.rule_code.startswith("ECERT_")}
    assert expected and found == expected
    assert {unit for _, _, unit in found} <= set(taiyuan.policy.units)
    with create_engine(home_urls["supervision"]).connect() as conn:
        assert conn.execute(select(func.count()).select_from(finding)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(outbox)).scalar_one() == 0
    # Mail went to the city's own heads and operations (its policy), through the shared relay.
    assert queued and smtp_server.received
    city_mailboxes = {h.email for u in taiyuan.policy.units.values() for h in u.heads} | {taiyuan.policy.operations_email}
    for mail in smtp_server.received:
        assert set(mail.envelope_to) <= city_mailboxes, mail.envelope_to
    # A finding's link opens it in 太原's ledger (its ids are 太原's own, as the home city's are).
    links = {link for mail in smtp_server.received
             for link in re.findall(r'href="(https://bdc\.example\.gov\.cn/bdcwatch/ui/findings/[^"]+)"', mail.html)}
    assert links and all(re.fullmatch(r".*/findings/\d+\?city=1401", link) for link in links), links
