"""staff_registry_audit end to end through `airflow dags test` on generated data: the
STAFF_* findings equal the ground truth, each unit's heads get their own people's findings
with ID numbers masked under a roster summary, bad registry rows are quarantined and
reported, and a rerun adds and sends nothing. On SQLite and PostgreSQL; the year-end run
(TRAINING_HOURS) on SQLite."""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import date

import openpyxl
import pytest
from sqlalchemy import create_engine, func, select

from bdcwatch import rules
from bdcwatch.config.policy import load_policy
from bdcwatch.store.models import finding, quarantine
from tests.support import ID_NUMBER, unmasked_id

STAFF_TABLES = rules.tables_read(rules.select(family="staff"))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_staff_registry_audit_matches_truth_routes_and_masks(make_world, airflow_env, smtp_server, backend):
    world = make_world(backend, size=500, seed=23, start=date(2026, 10, 1), end=date(2026, 11, 1))
    urls, truth, connections, conf = world.urls, world.truth, world.connections, world.conf
    airflow_env.run_dag("staff_registry_audit", "2026-11-02", conf, connections)

    found = world.findings()
    expected = world.expected("STAFF_")
    assert {rule for rule, _, _ in expected} == {
        "STAFF_UNTRAINED_ON_POST", "STAFF_UNKNOWN_HANDLER", "STAFF_INACTIVE_HANDLER", "STAFF_TRAINING_BEHIND",
        "STAFF_RECORD_INCOMPLETE", "STAFF_ROTATION_DUE", "STAFF_PLEDGE_MISSING",
    }, "the generated data must plant every staff rule judged in October"
    assert found - expected == set(), "findings the ground truth does not have"
    assert expected - found == set(), "ground-truth findings the engine missed"

    with create_engine(urls["supervision"]).connect() as conn:
        quarantined = {(r.source_table, r.row_key, r.column_name) for r in conn.execute(select(quarantine))}
    held_back = [q for q in truth.quarantine if q.table in STAFF_TABLES]
    assert any(q.table in ("RY_JBXX", "RY_PXJL") for q in held_back)
    for row in held_back:
        assert any(t == row.table and row.key in key and c == row.column for t, key, c in quarantined), row

    policy = load_policy()
    by_unit: dict[str, set[str]] = defaultdict(set)
    for _rule, subject, unit in found:
        by_unit[unit].add(subject)
    unit_mails = {m.message["Subject"]: m for m in smtp_server.received if m.envelope_to != [policy.operations_email]}
    # Every unit hears weekly (its roster), findings or not; each mail to that unit's heads only.
    assert len(unit_mails) == len(policy.units)
    for mail in unit_mails.values():
        unit_code = next(code for code, unit in policy.units.items() if unit.name in mail.message["Subject"])
        assert sorted(mail.envelope_to) == sorted(h.email for h in policy.units[unit_code].heads)
        html = mail.html
        assert "在岗人员构成（用工类型）" in html and "在岗人员构成（岗位）" in html and "培训学时分布" in html
        assert not unmasked_id(html), "an unmasked ID number in a staff digest"
        for subject in by_unit[unit_code]:
            assert subject in html
        for other, subjects in by_unit.items():
            if other != unit_code:
                assert not any(s in html for s in subjects), f"{unit_code}'s digest shows {other}'s people"
        (workbook,) = [content for name, content in mail.attachments.items() if name.endswith(".xlsx")]
        cells = [" ".join(str(v) for v in row) for row in openpyxl.load_workbook(io.BytesIO(workbook)).active.iter_rows(values_only=True)]
        assert not any(ID_NUMBER.search(line) for line in cells)
    incomplete = [s for r, s, _ in found if r == "STAFF_RECORD_INCOMPLETE"]
    assert incomplete and any("身份证号" in m.html for m in unit_mails.values())

    sent = len(smtp_server.received)
    with create_engine(urls["supervision"]).connect() as conn:
        before = conn.execute(select(func.count()).select_from(finding)).scalar_one()
    airflow_env.run_dag("staff_registry_audit", "2026-11-02", conf, connections)
    with create_engine(urls["supervision"]).connect() as conn:
        assert conn.execute(select(func.count()).select_from(finding)).scalar_one() == before
    assert len(smtp_server.received) == sent, "a rerun sent mail again"


def test_year_end_run_judges_the_finished_year(make_world, airflow_env):
    # A year that has ended (a period in the future is refused): December 2025.
    world = make_world("sqlite", size=500, seed=23, start=date(2025, 12, 1), end=date(2026, 1, 1))
    urls = world.urls
    airflow_env.run_dag("staff_registry_audit", "2026-01-05", world.conf, world.connections)
    found = world.findings()
    expected = world.expected("STAFF_")
    assert any(rule == "STAFF_TRAINING_HOURS" for rule, _, _ in expected)
    assert found == expected
    with create_engine(urls["supervision"]).connect() as conn:
        periods = {r.period for r in conn.execute(select(finding).where(finding.c.rule_code == "STAFF_TRAINING_HOURS"))}
    assert periods == {"2025"}
