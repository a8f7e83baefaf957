"""Closing the loops (CONTRACT §8) end to end through `airflow dags test`: the mailed
checklist filled in and imported with the `bdcwatch` command (a bad file refused whole,
the fixed one recorded), the daily round telling the unit, next month's digest counting
what is still unreviewed; the monthly bulletin over a generated month, scored
independently here; complaint exports in GB18030 and UTF-8 with BOM taken in."""

from __future__ import annotations

import codecs
import io
import json
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import openpyxl
import pandas as pd
import yaml
from sqlalchemy import create_engine, func, select

from bdcwatch.config.policy import load_policy
from bdcwatch.store.models import finding, inspection, inspection_sample, intake_file, quarantine
from tests.support import arrived_earlier, unmasked_id

MARCH_START, MARCH_END = date(2026, 3, 1), date(2026, 4, 1)
BDCWATCH = str(Path(sys.executable).with_name("bdcwatch"))


def fill(checklist: bytes, rows: dict[int, tuple], extra: list[tuple] = ()) -> bytes:
    """The checklist as a reviewer returns it: verdict, description, reviewer per row."""
    book = openpyxl.load_workbook(io.BytesIO(checklist))
    sheet = book["抽查清单"]
    for number, (verdict, description, reviewer) in rows.items():
        sheet.cell(number, 4).value, sheet.cell(number, 5).value, sheet.cell(number, 6).value = verdict, description, reviewer
    for row in extra:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def review_import(url: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BDCWATCH, "--url", url, "review", "import", str(path), "--actor", "质检科 刘洋"],
                          capture_output=True, text=True, timeout=120)


def test_verdicts_bulletin_and_the_next_month(airflow_env, make_world, smtp_server, tmp_path):
    world = make_world("sqlite", size=600, seed=11, start=MARCH_START, end=MARCH_END)
    url, policy = world.urls["supervision"], load_policy()
    airflow_env.run_dag("monthly_quality_check", "2026-04-01", world.conf, world.connections)
    (mail,) = [m for m in smtp_server.received if any(n.startswith("质量评查抽查清单_YQ21") for n in m.attachments)]
    (name,) = [n for n in mail.attachments if n.startswith("质量评查抽查清单_YQ21")]
    blank = mail.attachments[name]
    first, second = [r[1] for r in list(openpyxl.load_workbook(io.BytesIO(blank)).active.iter_rows(values_only=True))[1:3]]

    # A 不合格 row, a row outside the sample and a blank reviewer: refused whole.
    path = tmp_path / name
    path.write_bytes(fill(blank, {2: ("不合格", "缺少抵押合同原件，申请人身份证号 110101199003078515", "张评查"),
                                  3: ("合格", "", "")}, extra=[(99, "YWH-NOT-DRAWN", "200", "合格", "", "张评查")]))
    refused = review_import(url, path)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "第3行" in refused.stderr and "缺评查人" in refused.stderr
    assert "不在本次抽查样本" in refused.stderr and "YWH-NOT-DRAWN" in refused.stderr
    supervision = create_engine(url)
    with supervision.connect() as conn:
        assert conn.execute(select(func.count()).select_from(inspection_sample)
                            .where(inspection_sample.c.verdict.is_not(None))).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(finding)
                            .where(finding.c.rule_code == "REVIEW_DEFECT")).scalar_one() == 0

    # Fixed and imported again: the 不合格 becomes REVIEW_DEFECT; the inspection counts both.
    path.write_bytes(fill(blank, {2: ("不合格", "缺少抵押合同原件，申请人身份证号 110101199003078515", "张评查"),
                                  3: ("合格", "", "张评查")}))
    accepted = review_import(url, path)
    assert accepted.returncode == 0, accepted.stderr
    with supervision.connect() as conn:
        (defect,) = conn.execute(select(finding).where(finding.c.rule_code == "REVIEW_DEFECT")).all()
        (drawn,) = conn.execute(select(inspection).where(inspection.c.unit_code == "YQ21")).all()
    assert (defect.subject_id, defect.unit_code, defect.period, defect.status) == (first, "YQ21", "2026-03", "open")
    assert (drawn.reviewed_count, drawn.defective_count) == (2, 1) and second

    # The bulletin of March, on 5 April.
    sent = len(smtp_server.received)
    airflow_env.run_dag("monthly_bulletin", "2026-04-05", world.conf, world.connections)
    bulletins = smtp_server.received[sent:]
    assert len(bulletins) == 1 + len(policy.units)
    bureau = [m for m in bulletins if sorted(m.envelope_to) == sorted(h.email for h in policy.supervisors["CITY_BUREAU"].heads)]
    assert len(bureau) == 1 and "2026年3月" in bureau[0].message["Subject"]
    check_scores(world, supervision, policy, bureau[0])
    airflow_env.run_dag("monthly_bulletin", "2026-04-05", world.conf, world.connections)
    assert len(smtp_server.received) == sent + len(bulletins), "a rerun of the month sent the bulletin again"

    # The daily round tells YQ21 of its review defect.
    sent = len(smtp_server.received)
    airflow_env.run_dag("case_timeliness_watch", "2026-04-06",
                        json.dumps({"period_start": "2026-04-05", "period_end": "2026-04-06"}), world.connections)
    (told,) = [m for m in smtp_server.received[sent:] if "案卷评查不合格" in m.message["Subject"]]
    assert sorted(told.envelope_to) == sorted(h.email for h in policy.units["YQ21"].heads)
    assert first in told.html and "缺少抵押合同原件" in told.html and unmasked_id(told.html) is None

    # April's monthly check shows each unit what of March's sample is still unreviewed.
    sent = len(smtp_server.received)
    airflow_env.run_dag("monthly_quality_check", "2026-05-01",
                        json.dumps({"period_start": "2026-04-01", "period_end": "2026-05-01"}), world.connections)
    (april,) = [m for m in smtp_server.received[sent:] if "平定县不动产登记中心" in m.message["Subject"]
                and "月度质量评查" in m.message["Subject"]]
    assert "以往抽查尚未评查完毕" in april.html
    # The table's row for March: sampled, reviewed, defective, waiting (the last cell).
    cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", april.html, re.S)]
    march = cells.index("2026-03")
    assert cells[march + 1: march + 5][-1] == str(drawn.sample_size - 2), cells[march - 1: march + 5]


def check_scores(world, supervision, policy, mail) -> None:
    """March's scores computed here from staging, the ground truth and the ledger with plain
    pandas, compared with what the engine stored and mailed."""
    staged = world.urls["supervision"]
    start, end = pd.Timestamp(MARCH_START), pd.Timestamp(MARCH_END)
    grace = pd.Timedelta(hours=policy.ecert.max_delay_hours)
    truth = pd.DataFrame([vars(f) for f in world.truth.findings])
    late = truth[truth.rule_code == "CASE_OVERDUE"].groupby("unit_code").size()
    behind = truth[truth.rule_code == "STAFF_TRAINING_BEHIND"].groupby("unit_code").size()
    cases = pd.read_sql("SELECT * FROM stg_djt_dj_sl", staged, parse_dates=["slsj", "jssj"])
    zs = pd.read_sql("SELECT * FROM stg_bdc_zs", staged, parse_dates=["szsj"])
    ecerts = pd.read_sql("SELECT * FROM stg_bdc_dzzz_zzxx", staged, parse_dates=["zzbfrq"])
    staff = pd.read_sql("SELECT * FROM stg_ry_jbxx", staged, parse_dates=["sgsj", "lgsj"])
    ledger = pd.read_sql("SELECT * FROM finding", staged, parse_dates=["judged_as_of", "due_date", "closed_at"])
    weights, minimum = policy.bulletin.weights, policy.bulletin.min_population
    expected: dict[str, float | None] = {}
    for unit in policy.units:
        # Certificates whose grace ended in March: SZSJ + grace in (start, end].
        printed = zs[(zs.djjg == unit) & (zs.szsj + grace > start) & (zs.szsj + grace <= end)]
        issued = set(ecerts[ecerts.zzbfrq < end].bdcqzh_norm)
        mine = cases[cases.djjg == unit]
        completed = mine[(mine.ajzt == 2) & (mine.jssj >= start) & (mine.jssj < end)]
        accepted = mine[(mine.slsj >= start) & (mine.slsj < end)]
        scope = accepted[(accepted.djdl == "700") | accepted.qllx.isin(list(policy.mortgage_qllx_codes))]
        on_post = staff[(staff.dwdm == unit) & (staff.zt == 1) & (staff.sgsj.isna() | (staff.sgsj < end))
                        & (staff.lgsj.isna() | (staff.lgsj >= end))]
        about = ledger[(ledger.unit_code == unit) & (ledger.judged_as_of > start) & (ledger.judged_as_of <= end)]
        due = ledger[(ledger.unit_code == unit) & (ledger.due_date >= start) & (ledger.due_date < end)]
        closed = due[(due.status == "closed") & (due.closed_at.dt.normalize() <= due.due_date)]
        target = float(policy.online_target(unit))
        counts = {
            "ecert_coverage": (int(printed.bdcqzh_norm.isin(issued).sum()), len(printed)),
            "on_time_completion": (len(completed) - int(late.get(unit, 0)), len(completed)),
            "online_share": (int(scope.sqfs.isin(list(policy.online_handling.online_sqfs)).sum()), len(scope)),
            "findings_per_1000": (len(about), len(accepted)),
            "rectified_on_time": (len(closed), len(due)),
            "training_on_track": (len(on_post) - int(behind.get(unit, 0)), len(on_post)),
        }
        total = weight = 0.0
        for indicator, (num, den) in counts.items():
            if den == 0 or den < minimum[indicator] or not weights[indicator]:
                continue
            rate = num / den
            score = {"online_share": 100 * min(1.0, rate / target) if target else 100.0,
                     "findings_per_1000": 100 * max(0.0, 1 - rate * 1000 / policy.bulletin.findings_per_1000_zero_score),
                     }.get(indicator, 100 * rate)
            total += weights[indicator] * round(score + 1e-9, 2)
            weight += weights[indicator]
        expected[unit] = round(total / weight + 1e-9, 2) if weight else None
        stored = pd.read_sql(f"SELECT * FROM bulletin_score WHERE period = '2026-03' AND unit_code = '{unit}'", staged)
        assert {r.indicator: (r.numerator, r.denominator) for r in stored.itertuples()} == counts, unit
    ranked = pd.read_sql("SELECT * FROM bulletin_rank WHERE period = '2026-03'", staged)
    got = {r.unit_code: (None if pd.isna(r.score) else float(r.score)) for r in ranked.itertuples()}
    assert got == expected
    assert any(v is not None for v in expected.values()), "the generated month ranks no unit"
    scores = [v for v in expected.values() if v is not None]
    for r in ranked.itertuples():
        rank = None if got[r.unit_code] is None else 1 + sum(1 for s in scores if s > got[r.unit_code])
        assert (None if pd.isna(r.rank) else int(r.rank)) == rank, r.unit_code
    best = max(expected, key=lambda u: expected[u] if expected[u] is not None else -1)
    assert policy.units[best].name in mail.html and f"{expected[best]:.2f}" in mail.html
    (workbook,) = [v for k, v in mail.attachments.items() if k.endswith(".xlsx")]
    detail = pd.read_excel(io.BytesIO(workbook), sheet_name="指标明细")
    assert len(detail) == 6 * len(policy.units) and {"分子", "分母", "得分"} <= set(detail.columns)
    assert unmasked_id(mail.html) is None


HEADER = "工单编号,来源,受理时间,被反映单位,业务号,内容,诉求类型"


def test_complaint_exports_in_gb18030_and_utf8_bom(airflow_env, smtp_server, tmp_path):
    from tests.support import airflow_uri

    folder = tmp_path / "complaints"
    folder.mkdir()
    raw = yaml.safe_load(Path(load_policy().source.removesuffix(" (bundled default)")).read_text(encoding="utf-8"))
    raw["intake"]["complaints_dir"] = "complaints"  # relative: beside the policy file
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    env = {"BDCWATCH_POLICY": str(policy_file)}
    url = f"sqlite:///{tmp_path / 'supervision.db'}"
    connections = {"supervision_db": airflow_uri(url), "smtp_default": smtp_server.airflow_uri()}
    conf = json.dumps({"period_start": "2026-04-01", "period_end": "2026-04-02"})
    gb = "\r\n".join([
        HEADER,
        "GD20260401001,12345,2026-04-01 09:12:00,YQ21,YWH2026030101,反映窗口要求重复提交身份证复印件（身份证号110101199003078515）,投诉",
        "GD20260401002,信访,2026-04-01 10:00:00,阳泉市第九登记所,,反映有人代办收费,举报",
        "GD20260401003,12345,2026/4/1 11:30,盂县不动产登记中心,,咨询抵押登记所需材料,咨询",
    ]).encode("gb18030")
    bom = codecs.BOM_UTF8 + "\r\n".join([
        HEADER,
        "GD20260401001,12345,2026-04-01 09:12:00,YQ21,YWH2026030101,反映窗口要求重复提交身份证复印件（二次来电催办）,投诉",
        "GD20260401004,好差评,2026-04-01 15:40:00,YQ00,YWH2026030777,差评：排队两小时,投诉",
    ]).encode("utf-8")
    (folder / "12345_20260401.csv").write_bytes(gb)
    (folder / "haochaping_20260401.csv").write_bytes(bom)

    arrived_earlier(folder)
    airflow_env.run_dag("complaint_intake", "2026-04-02", conf, connections, extra_env=env)
    supervision = create_engine(url)
    with supervision.connect() as conn:
        found = {r.subject_id: r for r in conn.execute(select(finding).where(finding.c.rule_code == "COMPLAINT"))}
        held = conn.execute(select(quarantine).where(quarantine.c.source_table == "COMPLAINT")).all()
        files = {r.file_name: r for r in conn.execute(select(intake_file))}
    assert set(found) == {"GD20260401001", "GD20260401003", "GD20260401004"}
    assert {k: (v.unit_code, v.severity) for k, v in found.items()} == {
        "GD20260401001": ("YQ21", "medium"), "GD20260401003": ("YQ22", "low"), "GD20260401004": ("YQ00", "medium")}
    assert "二次来电催办" in found["GD20260401001"].detail  # the repeated 工单编号 updated, not duplicated
    assert [(h.row_key, h.column_name) for h in held] == [("工单编号=GD20260401002", "被反映单位")]
    assert {f: (r.encoding, r.findings_new, r.findings_updated, r.rows_quarantined) for f, r in files.items()} == {
        "12345_20260401.csv": ("gb18030", 2, 0, 1), "haochaping_20260401.csv": ("utf-8-sig", 1, 1, 0)}
    archived = sorted(p.relative_to(folder).parts[0] for p in folder.rglob("*.csv"))
    assert archived == ["archive", "archive"] and not list(folder.glob("*.csv"))

    mails = list(smtp_server.received)
    yq21 = [m for m in mails if sorted(m.envelope_to) == sorted(h.email for h in load_policy().units["YQ21"].heads)]
    assert len(yq21) == 1 and "GD20260401001" in yq21[0].html and "12345" in yq21[0].html
    # Named by the complaints' own 受理时间, not by the intake run's window.
    assert "群众反映问题转办（受理时间 2026-04-01）" in str(yq21[0].message["Subject"])
    assert "2026-04-01..2026-04-02" not in str(yq21[0].message["Subject"])
    assert all(unmasked_id(m.html) is None for m in mails)
    (ops,) = [m for m in mails if m.envelope_to == [load_policy().operations_email]]
    assert "GD20260401002" in ops.html and "阳泉市第九登记所" in ops.html

    # The same export dropped again, and another run: nothing changes, nothing is sent.
    with supervision.connect() as conn:
        before = [tuple(r) for r in conn.execute(select(finding).order_by(finding.c.id))]
    (folder / "12345_20260401.csv").write_bytes(gb)
    arrived_earlier(folder)
    airflow_env.run_dag("complaint_intake", "2026-04-02", conf, connections, extra_env=env)
    with supervision.connect() as conn:
        assert [tuple(r) for r in conn.execute(select(finding).order_by(finding.c.id))] == before
    assert len(smtp_server.received) == len(mails)
    assert len(list((folder / "archive").rglob("12345_20260401*.csv"))) == 2
