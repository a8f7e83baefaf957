"""Composing on a real (SQLite) supervision database: a dry run evaluates and renders
without touching the ledger or the outbox, one failing digest leaves the others (and the
六不准 report) going out, and one quarantined set is one notice whichever DAG sees it."""

from __future__ import annotations

from datetime import date, datetime
from email import message_from_bytes, policy

import pytest
from sqlalchemy import func, select, text

from bdcwatch import rules
from bdcwatch.config.run import Job, RunContext, RunSpec
from bdcwatch.ledger import preview
from bdcwatch.ledger.findings import evaluate
from bdcwatch.reports import quarantine_notice, six_prohibitions, unit_digest
from bdcwatch.sources.extract import load_table
from bdcwatch.store.models import finding, finding_event, inspection, outbox
from tests.ecert_world import World

ECERT = rules.select(family="ecert")
NOW = datetime(2026, 4, 1, 1, 10)


@pytest.fixture
def world(sqlite_url) -> World:
    made = World(sqlite_url("source"), sqlite_url("supervision"))
    made.cert(1, szsj=datetime(2026, 3, 10, 10), djjg="YQ00")  # no e-certificate: ECERT_MISSING
    made.cert(2, szsj=datetime(2026, 3, 11, 10), djjg="YQ21")
    made.cert(3, szsj=datetime(2026, 3, 12, 10), djjg="YQ21")
    for table in ("BDC_ZS", "DJF_DJ_DB", "BDC_DZZZ_ZZXX"):
        load_table(made.source, made.supervision, table, run_id="load", full_scan=True, now=NOW)
    return made


def job(world: World, run_id: str, *, dag_id: str = "ecert_completeness", dry_dir=None) -> Job:
    spec = RunSpec(period_start=date(2026, 3, 1), period_end=date(2026, 4, 1), dry_run=dry_dir is not None)
    preview.forget(run_id)
    return Job(spec, world.policy, world.supervision, RunContext(dag_id, run_id, NOW), ui_base_url=None,
               dry_run_dir=dry_dir, mail_from="bdcwatch@example.org")


def counts(world: World) -> dict[str, int]:
    with world.supervision.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (finding, finding_event, inspection, outbox)}


def test_a_dry_run_renders_what_a_real_run_would_send_and_changes_nothing(world, tmp_path):
    before = counts(world)
    dry = job(world, "dry-1", dry_dir=tmp_path / "dry_run_mail")
    judged = evaluate(dry, ECERT)
    assert {o.rule_code: (o.detected, o.new) for o in judged.outcomes}["ECERT_MISSING"] == (3, 3)
    assert unit_digest.compose(dry, judged, title="电子证照完整性核查", plan_items="16", figures=("ecert",)) == []
    assert counts(world) == before, "a dry run wrote to the ledger or the outbox"
    index = (tmp_path / "dry_run_mail" / "index.tsv").read_text(encoding="utf-8").splitlines()
    assert len(index) == 2  # one digest per unit with findings
    mails = {}
    for line in index:
        name = line.split("\t")[-1]
        message = message_from_bytes((tmp_path / "dry_run_mail" / name).read_bytes(), policy=policy.default)
        mails[str(message["To"])] = message
    yq21 = ",".join(h.email for h in world.policy.units["YQ21"].heads)
    html = mails[yq21].get_body(preferencelist=("html",)).get_content()
    assert "晋(2026)阳泉市不动产权第0000002号" in html and "问题编号 新" in html
    assert mails[yq21]["X-Bdcwatch-Dry-Run"].startswith("ecert_completeness dry-1")

    real = job(world, "real-1")
    evaluate(real, ECERT)
    queued = unit_digest.compose(real, evaluate(real, ECERT), title="电子证照完整性核查", plan_items="16")
    assert len(queued) == 2
    with world.supervision.connect() as conn:
        recorded = {r.subject_id for r in conn.execute(select(finding.c.subject_id))}
    assert recorded == {f.subject_id for f in preview.detect(dry, ECERT)}  # the dry run saw what the real run recorded

    again = job(world, "dry-2", dry_dir=tmp_path / "second")
    judged = evaluate(again, ECERT)
    assert {o.rule_code: o.new for o in judged.outcomes}["ECERT_MISSING"] == 0
    assert unit_digest.compose(again, judged, title="电子证照完整性核查", plan_items="16") == []
    assert not (tmp_path / "second").exists()  # everything is announced: nothing would be sent


def test_one_failing_digest_is_reported_and_the_others_still_go_out(world):
    real = job(world, "real-1")
    judged = evaluate(real, ECERT)

    def checklist(unit: str) -> list:
        if unit == "YQ21":
            raise ValueError("sample list of YQ21 could not be read")
        return []

    queued = unit_digest.compose(real, judged, title="电子证照完整性核查", plan_items="16", attachments_for=checklist)
    with world.supervision.connect() as conn:
        kinds = dict(conn.execute(select(outbox.c.id, outbox.c.kind)).all())
        notice = conn.execute(select(outbox).where(outbox.c.kind == "ops_notice")).one()
        unannounced = {r.unit_code for r in conn.execute(select(finding).where(finding.c.notified_outbox_id.is_(None)))}
    assert [kinds[i] for i in queued] == ["unit_digest"]  # YQ00's digest went out
    assert "平定县不动产登记中心" in notice.subject and "ValueError: sample list of YQ21 could not be read" in notice.html
    assert notice.recipients == f'["{world.policy.operations_email}"]'
    assert unannounced == {"YQ21"}  # its findings wait for the next run
    # The 六不准 report of the same compose task is not stopped by it.
    assert len(six_prohibitions.compose(real)) == 1

    # A rerun with the same failure reports nothing new; once it is fixed the digest goes out.
    assert unit_digest.compose(real, judged, title="电子证照完整性核查", plan_items="16", attachments_for=checklist) == []
    assert counts(world)["outbox"] == 3
    fixed = unit_digest.compose(real, judged, title="电子证照完整性核查", plan_items="16")
    assert len(fixed) == 1 and counts(world)["outbox"] == 4


def test_a_cycle_mail_carries_the_checklist_once_a_period(world):
    """The monthly cycle mail reaches every unit with its checklist; a later run of the same
    period that finds something new mails the new findings without a blank checklist again."""
    from bdcwatch.mail.mime import Attachment
    from bdcwatch.store.models import outbox_attachment

    def checklist(unit: str) -> list:
        return [Attachment(f"质量评查抽查清单_{unit}_2026-03.xlsx", b"PK blank")]

    def attached() -> list[tuple[str, str]]:
        with world.supervision.connect() as conn:
            return sorted(conn.execute(select(outbox.c.unit_code, outbox_attachment.c.filename)
                                       .join(outbox_attachment, outbox_attachment.c.outbox_id == outbox.c.id)
                                       .where(outbox_attachment.c.filename.like("质量评查抽查清单%"))).all())

    first = job(world, "cycle-1", dag_id="monthly_quality_check")
    nothing = evaluate(first, [])
    cycle = unit_digest.compose(first, nothing, title="质量评查", plan_items="27", attachments_for=checklist,
                                always_units=["YQ00", "YQ21"])
    assert len(cycle) == 2 and [unit for unit, _ in attached()] == ["YQ00", "YQ21"]
    rerun = job(world, "cycle-2", dag_id="monthly_quality_check")
    found = evaluate(rerun, ECERT)  # the same period, now with findings for both units
    later = unit_digest.compose(rerun, found, title="质量评查", plan_items="27", attachments_for=checklist,
                                always_units=["YQ00", "YQ21"])
    assert len(later) == 2  # the new findings go out
    assert [unit for unit, _ in attached()] == ["YQ00", "YQ21"]  # with no second checklist


def test_one_quarantined_set_is_one_notice_whichever_dag_sees_it_and_counts_rows(world):
    with world.source.begin() as conn:  # an unparsable SZSJ: two failed expectations, one row
        conn.execute(text("INSERT INTO BDC_ZS (ZSID, YWH, ZSLX, BDCQZH, BDCDYH, QLRMC, DJJG, SZSJ, ZSZT, GXSJ) VALUES "
                          "('ZSBAD1', 'YWHBAD', 1, '晋(2026)阳泉市不动产权第0000099号', '140302001001GB00001F00010001', "
                          "'张三', 'YQ00', 'soon', 1, '2026-03-20 10:00:00')"))
    load_table(world.source, world.supervision, "BDC_ZS", run_id="load-2", full_scan=True, now=NOW)
    with world.supervision.connect() as conn:
        entries = conn.execute(text("SELECT COUNT(*) FROM quarantine WHERE row_key = 'ZSID=ZSBAD1'")).scalar_one()
    first = quarantine_notice.compose(job(world, "city-1", dag_id="city_check"))
    second = quarantine_notice.compose(job(world, "county-1", dag_id="county_self_inspection"))
    assert len(first) == 1 and second == []
    with world.supervision.connect() as conn:
        (notice,) = conn.execute(select(outbox).where(outbox.c.kind == "quarantine_report")).all()
    assert entries == 2, "the case of the issue: one row, two quarantine entries"
    assert "1 条源数据被隔离" in notice.subject  # rows, not entries
    data_rows = notice.html.count('<tr><td align="left"')
    assert data_rows == 1  # one line, both reasons: in Chinese, the value held, GX's English name beside
    assert notice.html.count("BDC_ZS.SZSJ 缮证时间") == 2 and notice.html.count("（值：“soon”）") == 2
    assert "BDC_ZS.SZSJ 缮证时间为空或不是有效日期" in notice.html and "BDC_ZS.SZSJ 缮证时间不是有效日期" in notice.html
    assert "expect_column_values_to_not_be_null" in notice.html and "expect_column_values_to_be_null" in notice.html
    assert "must be a valid timestamp" not in notice.html and "column SZSJ" not in notice.html
