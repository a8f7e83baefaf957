"""ecert_completeness end to end on generated data, in SQLite and in PostgreSQL:
findings equal the generator's ground truth, the right heads get their own unit's digest
(masked, with the workbook), and a second run of the period adds nothing and sends nothing."""

from __future__ import annotations

import io
import json
from collections import defaultdict
from datetime import date

import openpyxl
import pytest
from sqlalchemy import create_engine, func, select, text

from bdcwatch import rules
from bdcwatch.config.policy import load_policy
from bdcwatch.store.models import finding, quarantine
from tests.support import ID_NUMBER, unmasked_id

PERIOD_START, PERIOD_END = date(2026, 3, 1), date(2026, 4, 1)
ECERT_TABLES = rules.tables_read(rules.select(family="ecert"))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mysql"])
def test_ecert_completeness_matches_ground_truth_and_mails_each_unit_once(airflow_env, make_world, smtp_server,
                                                                        backend):
    world = make_world(backend, size=400, seed=7, start=PERIOD_START, end=PERIOD_END)
    truth, connections = world.truth, world.connections
    outcome = airflow_env.run_dag("ecert_completeness", PERIOD_END.isoformat(), world.conf, connections)
    assert outcome.failed_tasks() == {} and any(task.startswith("load[") for task in outcome.tasks)
    # Mapped loads are labelled by their table in the UI (map_index_template), not 0, 1, 2.
    assert sorted(label for task, label in outcome.labels.items() if task.startswith("load[")) == sorted(
        ["BDC_ZS", "BDC_DZZZ_ZZXX", "DJF_DJ_DB"])

    supervision = create_engine(world.urls["supervision"])
    with supervision.connect() as conn:
        found = {(r.rule_code, r.subject_id, r.unit_code) for r in conn.execute(select(finding))}
        quarantined = {(r.source_table, r.row_key, r.column_name) for r in conn.execute(select(quarantine))}
    # The generator plants case problems too; this DAG answers for the ECERT rules only.
    expected = {(f.rule_code, f.subject_id, f.unit_code) for f in truth.findings if f.rule_code.startswith("ECERT_")}
    assert {rule for rule, _, _ in expected} == {
        "ECERT_MISSING", "ECERT_LATE", "ECERT_NOT_REVOKED", "ECERT_MISMATCH", "ECERT_DUPLICATE", "ECERT_ORPHAN",
        "ECERT_BAD_ID",
    }, "the generated data must plant every rule"
    assert truth.traps and truth.quarantine
    assert found - expected == set(), "findings the ground truth does not have"
    assert expected - found == set(), "ground-truth findings the engine missed"
    # The generator also plants bad rows in tables this DAG does not read (the staff registry).
    held_back = [row for row in truth.quarantine if row.table in ECERT_TABLES]
    assert held_back
    for row in held_back:
        assert any(t == row.table and row.key in key and c == row.column for t, key, c in quarantined), row

    # One digest per unit with findings, to exactly that unit's heads, about that unit only.
    policy = load_policy()
    by_unit: dict[str, set[str]] = defaultdict(set)
    for _rule, subject, unit in found:
        by_unit[unit].add(subject)
    digests = [m for m in smtp_server.received if m.envelope_to != [policy.operations_email]]
    notices = [m for m in smtp_server.received if m.envelope_to == [policy.operations_email]]
    assert len(digests) == len(by_unit)
    # Operations hear once about the rows held back by the gate, each named by table, key and column
    # (and, while next year's holidays are unknown, once a month about the calendar: rectification
    # due dates count working days into it).
    quarantined_notices = [m for m in notices if "数据质量" in m.message["Subject"]]
    assert all("数据质量" in m.message["Subject"] or "工作日历未配置" in m.message["Subject"] for m in notices)
    (notice,) = quarantined_notices
    for row in held_back:
        assert row.table in notice.html and row.key in notice.html and row.column in notice.html
    assert not unmasked_id(notice.html)
    for mail in digests:
        unit_code = next(code for code, unit in policy.units.items() if unit.name in mail.message["Subject"])
        assert sorted(mail.envelope_to) == sorted(h.email for h in policy.units[unit_code].heads)
        html = mail.html
        for subject in by_unit[unit_code]:
            if subject.startswith("晋"):
                assert subject in html or "完整清单见附件" in html
        for other, subjects in by_unit.items():
            if other != unit_code:
                assert not any(s in html for s in subjects), f"{unit_code}'s digest shows {other}'s findings"
        assert not unmasked_id(html), "an unmasked ID number in a digest"
        (workbook,) = mail.attachments.values()
        sheet = openpyxl.load_workbook(io.BytesIO(workbook)).active
        rows = list(sheet.iter_rows(values_only=True))[1:]
        assert {r[6] for r in rows} == by_unit[unit_code]
        assert not any(ID_NUMBER.search(" ".join(str(v) for v in r)) for r in rows)

    # Rerun of the same period: nothing new in the ledger, no mail.
    with supervision.connect() as conn:
        before = conn.execute(select(func.count()).select_from(finding)).scalar_one()
    sent = len(smtp_server.received)
    airflow_env.run_dag("ecert_completeness", PERIOD_END.isoformat(), world.conf, connections)
    with supervision.connect() as conn:
        assert conn.execute(select(func.count()).select_from(finding)).scalar_one() == before
    assert len(smtp_server.received) == sent, "a rerun sent mail again"


def test_a_period_in_the_future_is_refused_and_a_dry_run_of_it_mails_nothing(airflow_env, make_world, smtp_server):
    """Issue 11 item 5: a period that ends after now is refused (operations are told why);
    with dry_run the DAG evaluates and renders it, mails nothing, changes no ledger row
    and leaves the mail it would send as .eml files in the run's log folder."""
    from email import message_from_bytes
    from email import policy as email_policy

    from bdcwatch.dates.clock import local_today

    world = make_world("sqlite", size=200, seed=7, start=PERIOD_START, end=PERIOD_END)
    tomorrow = local_today(load_policy().timezone).toordinal() + 1
    end = date.fromordinal(tomorrow).isoformat()
    future = {"period_start": PERIOD_START.isoformat(), "period_end": end}
    refused = airflow_env.run_dag("ecert_completeness", PERIOD_END.isoformat(), json.dumps(future), world.connections,
                                  expect="failed")
    assert refused.tasks["resolve_run"] == "failed"
    (alert,) = smtp_server.received
    assert "ends in the future" in alert.html and "dry_run" in alert.html

    dry = airflow_env.run_dag("ecert_completeness", PERIOD_END.isoformat(), json.dumps({**future, "dry_run": True}),
                              world.connections)
    assert dry.failed_tasks() == {}
    assert len(smtp_server.received) == 1, "a dry run mailed"
    with create_engine(world.urls["supervision"]).connect() as conn:
        assert conn.execute(select(func.count()).select_from(finding)).scalar_one() == 0
        assert conn.execute(text("SELECT COUNT(*) FROM outbox")).scalar_one() == 0
    folder = airflow_env.home / "logs" / "dag_id=ecert_completeness" / f"run_id={dry.run_id}" / "dry_run_mail"
    kept = sorted(folder.glob("*.eml"))
    policy = load_policy()
    heads = {h.email for unit in policy.units.values() for h in unit.heads}
    digests = [message_from_bytes(path.read_bytes(), policy=email_policy.default) for path in kept]
    assert any(set(str(m["To"]).split(",")) <= heads for m in digests), [str(m["To"]) for m in digests]
    assert all(not unmasked_id(m.get_body(preferencelist=("html",)).get_content()) for m in digests)
    assert (folder / "index.tsv").read_text(encoding="utf-8").count("\n") == len(kept)
