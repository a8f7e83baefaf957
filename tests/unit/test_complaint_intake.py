"""Complaints intake (CONTRACT §8, plan item 31): 12345 / 好差评 / 信访 exports in GB18030
or UTF-8 (with or without BOM) and XLSX become COMPLAINT findings of the unit they name;
unknown units are quarantined; the same 工单编号 updates; a file taken in twice changes
nothing; processed files are archived by date."""

from __future__ import annotations

import codecs
import hashlib
import io
import json
import zipfile
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
import yaml
from sqlalchemy import func, select

from bdcwatch.config.policy import load_policy, parse_policy
from bdcwatch.config.run import Job, RunContext, RunSpec
from bdcwatch.intake.complaints import complaints_dir, take_in
from bdcwatch.intake.files import IntakeFileError, detect_encoding, drop_file, read_table
from bdcwatch.ledger.audit import verify_chain
from bdcwatch.store.migrate import make_engine
from bdcwatch.store.models import finding, finding_event, intake_file, outbox, quarantine
from tests.support import arrived_earlier

NOW = datetime(2026, 4, 2, 9, 0, 5)
HEADER = "工单编号,来源,受理时间,被反映单位,业务号,内容,诉求类型"
GB_ROWS = [
    "GD2026030001,12345,2026-03-05 10:20:00,YQ21,YWH202603001,窗口人员态度差，要求补交材料（身份证110101199003078515）,投诉",
    "GD2026030002,好差评,2026/3/6 9:05,平定县 不动产登记中心,,办理\x07时间太长,咨询",
    "GD2026030003,信访,2026-03-07,某某县不动产登记中心,,反映登记人员收取好处费,举报",
    "GD2026030001,12345,2026-03-05 10:20:00,YQ21,YWH202603001,窗口人员态度差（二次来电）,投诉",
    ",12345,2026-03-08,YQ22,,没有工单编号的一行,投诉",
]


def policy_with(folder: Path):
    raw = yaml.safe_load(Path(load_policy().source.removesuffix(" (bundled default)")).read_text(encoding="utf-8"))
    raw["intake"] = {**raw.get("intake", {}), "complaints_dir": str(folder)}
    return parse_policy(raw, "test")


@pytest.fixture
def world(tmp_path, database_url):
    folder = tmp_path / "complaints"
    folder.mkdir()
    engine = make_engine(database_url.migrated())
    policy = policy_with(folder)

    def run(run_id: str = "r1", now: datetime = NOW):
        job = Job(RunSpec(period_start="2026-04-01", period_end="2026-04-02"), policy, engine,
                  RunContext("complaint_intake", run_id, now))
        arrived_earlier(folder)  # copied in an hour ago: settled (intake.settle_seconds)
        return take_in(job)

    return folder, engine, run


def complaints(engine):
    with engine.connect() as conn:
        return {r.subject_id: r for r in conn.execute(select(finding).where(finding.c.rule_code == "COMPLAINT"))}


def held(engine):
    with engine.connect() as conn:
        return {(r.row_key, r.column_name): r for r in conn.execute(
            select(quarantine).where(quarantine.c.source_table == "COMPLAINT", quarantine.c.resolved_at.is_(None)))}


def test_a_gb18030_export_becomes_findings_routed_to_their_units(world):
    folder, engine, run = world
    (folder / "12345_0331.csv").write_bytes(("\r\n".join([HEADER, *GB_ROWS]) + "\r\n").encode("gb18030"))
    report = run()
    (outcome,) = report.files
    assert (outcome.encoding, outcome.rows, outcome.new, outcome.updated, outcome.quarantined) == ("gb18030", 5, 2, 1, 2)
    found = complaints(engine)
    assert set(found) == {"GD2026030001", "GD2026030002"}
    first, second = found["GD2026030001"], found["GD2026030002"]
    assert (first.unit_code, first.severity, first.subject_type, first.period) == ("YQ21", "medium", "GDBH", None)
    assert (second.unit_code, second.severity) == ("YQ21", "low")  # named by the unit's name, with a space in it
    assert "\\u0007" not in second.detail and "办理时间太长" in second.detail  # a control character dropped
    assert "二次来电" in first.detail and "110101199003078515" not in first.detail  # updated, masked
    assert first.judged_as_of == datetime(2026, 3, 5, 10, 20)
    assert first.occurred_on == date(2026, 3, 5)  # 受理时间: the ledger's 所属期间 filter reads it
    assert '"source": "12345"' in first.detail and '"ywh": "YWH202603001"' in first.detail
    quarantined = held(engine)
    # A row without 工单编号 is named by its file (and the file's content, another day's file
    # of the same name being another entry) and its row.
    sha = hashlib.sha256((folder / "archive" / "2026-04-02" / "12345_0331.csv").read_bytes()).hexdigest()
    assert set(quarantined) == {("工单编号=GD2026030003", "被反映单位"), (f"12345_0331.csv [{sha[:8]}]#6", "工单编号")}
    assert "某某县不动产登记中心" in quarantined[("工单编号=GD2026030003", "被反映单位")].reason
    assert "第4行" in quarantined[("工单编号=GD2026030003", "被反映单位")].reason
    assert not (folder / "12345_0331.csv").exists()
    assert (folder / "archive" / "2026-04-02" / "12345_0331.csv").is_file()
    with engine.connect() as conn:
        assert verify_chain(conn) == []
        assert conn.execute(select(func.count()).select_from(intake_file)).scalar_one() == 1


def test_a_units_mail_names_the_complaints_received_dates_and_goes_once(world):
    """Operator review: the heads' mail names the complaints' 受理时间, not the intake run's
    window; its outbox key is the run's period and findings, so a retried or rerun intake
    queues nothing again."""
    from bdcwatch.ledger.findings import Evaluation
    from bdcwatch.reports import unit_digest

    folder, engine, run = world
    (folder / "12345_0331.csv").write_bytes(("\r\n".join([HEADER, *GB_ROWS]) + "\r\n").encode("gb18030"))
    run()

    def compose(run_id: str) -> list[int]:
        job = Job(RunSpec(period_start="2026-04-01", period_end="2026-04-02"), policy_with(folder), engine,
                  RunContext("complaint_intake", run_id, NOW))
        return unit_digest.compose(job, Evaluation(), title="群众反映问题转办", plan_items="31", dated_by_findings=True)

    assert len(compose("r1")) == 1  # YQ21's two complaints
    with engine.connect() as conn:
        (mail,) = conn.execute(select(outbox)).all()
    assert "群众反映问题转办（受理时间 2026-03-05 至 2026-03-06）" in mail.subject
    assert "2026-04-01..2026-04-02" not in mail.subject and "受理时间 2026-03-05 至 2026-03-06" in mail.html
    assert mail.dedup_key.startswith("complaint_intake|2026-04-01..2026-04-02|YQ21|")
    assert compose("r1") == [] and compose("r2") == []  # a retry, a rerun: nothing queued again


def test_the_same_file_twice_changes_nothing_and_a_fixed_row_leaves_quarantine(world):
    folder, engine, run = world
    content = ("\r\n".join([HEADER, *GB_ROWS]) + "\r\n").encode("gb18030")
    (folder / "export.csv").write_bytes(content)
    run("r1")
    with engine.connect() as conn:
        before = [tuple(r) for r in conn.execute(select(finding).order_by(finding.c.id))]
        events = conn.execute(select(func.count()).select_from(finding_event)).scalar_one()
    (folder / "export.csv").write_bytes(content)  # dropped again by mistake
    (outcome,) = run("r2", NOW.replace(hour=10)).files
    assert outcome.already_processed and outcome.new == outcome.updated == 0
    assert (folder / "archive" / "2026-04-02" / "export-1.csv").is_file()
    with engine.connect() as conn:
        assert [tuple(r) for r in conn.execute(select(finding).order_by(finding.c.id))] == before
        assert conn.execute(select(func.count()).select_from(finding_event)).scalar_one() == events

    # The 12345 office fixes the unit of GD2026030003 and exports it again with BOM UTF-8.
    fixed = "\r\n".join([HEADER, "GD2026030003,信访,2026-03-07,YQ22,,反映登记人员收取好处费,举报",
                         GB_ROWS[1]]).encode("utf-8")
    (folder / "fixed.csv").write_bytes(codecs.BOM_UTF8 + fixed)
    (outcome,) = run("r3", NOW.replace(hour=11)).files
    assert (outcome.encoding, outcome.new, outcome.unchanged) == ("utf-8-sig", 1, 1)
    assert complaints(engine)["GD2026030003"].severity == "high"
    assert set(held(engine)) == {(f"export.csv [{hashlib.sha256(content).hexdigest()[:8]}]#6", "工单编号")}


def test_an_xlsx_export_and_an_unreadable_file(world):
    folder, engine, run = world
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER.split(","))
    sheet.append(["GD2026040001", "好差评", datetime(2026, 3, 30, 16, 45), "YQGX", None, "差评：窗口无人", "投诉"])
    sheet.append([20260400002, "12345", "2026-03-31 08:00", "yqgx", None, "电话无人接听", "求助"])
    buffer = io.BytesIO()
    book.save(buffer)
    drop_file(folder, "haochaping.xlsx", buffer.getvalue(), now=NOW)
    (folder / "broken.csv").write_bytes(b"\x81\x30\xff\xff")
    report = run()
    by_name = {f.name: f for f in report.files}
    assert by_name["haochaping.xlsx"].new == 2 and by_name["haochaping.xlsx"].encoding is None
    found = complaints(engine)
    assert found["20260400002"].unit_code == "YQGX"  # a numeric cell keeps its digits, no '.0'
    assert by_name["broken.csv"].error and (folder / "rejected" / "2026-04-02" / "broken.csv").is_file()
    broken = hashlib.sha256(b"\x81\x30\xff\xff").hexdigest()[:8]
    assert (f"文件 broken.csv [{broken}]", "（文件）") in held(engine)
    (folder / "broken.csv").write_bytes(b"\x81\x30\xff\xff")  # the same broken file again
    (again,) = run("r2").files
    assert again.already_processed and (folder / "rejected" / "2026-04-02" / "broken-1.csv").is_file()


def test_a_policy_without_intake_takes_complaints_from_a_default_folder_every_type_medium(tmp_path, sqlite_url,
                                                                                        monkeypatch):
    """CONTRACT §8 on a policy shaped as the contract's policy.yaml (no ``intake`` section):
    exports are still taken in (from the default folder, where the UI's upload writes them)
    and every 诉求类型 is medium ("severity from policy intake.complaint_severity …, default
    medium")."""
    monkeypatch.setenv("BDCWATCH_INTAKE_DIR", str(tmp_path / "intake"))
    raw = yaml.safe_load(Path(load_policy().source.removesuffix(" (bundled default)")).read_text(encoding="utf-8"))
    del raw["intake"]
    policy = parse_policy(raw, "test")
    assert policy.intake.complaints_dir is None
    folder = complaints_dir(policy)
    assert folder == tmp_path / "intake" / "complaints"
    unit = next(iter(policy.units))
    rows = [f"GD9{i},12345,2026-03-0{i + 1} 10:00:00,{unit},,内容{i},{kind}"
            for i, kind in enumerate(["举报", "咨询", "建议", "投诉", "其他"])]
    drop_file(folder, "12345.csv", ("\r\n".join([HEADER, *rows]) + "\r\n").encode("utf-8"), now=NOW)
    engine = make_engine(sqlite_url.migrated())
    job = Job(RunSpec(period_start="2026-04-01", period_end="2026-04-02"), policy, engine,
              RunContext("complaint_intake", "r", NOW))
    arrived_earlier(folder)
    (outcome,) = take_in(job).files
    assert (outcome.rows, outcome.new, outcome.quarantined) == (5, 5, 0)
    assert {r.severity for r in complaints(engine).values()} == {"medium"}


def test_a_relative_folder_is_read_beside_the_policy_file(tmp_path):
    raw = yaml.safe_load(Path(load_policy().source.removesuffix(" (bundled default)")).read_text(encoding="utf-8"))
    raw["intake"] = {"complaints_dir": "intake/complaints"}
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    assert complaints_dir(load_policy(path)) == tmp_path / "intake" / "complaints"


@pytest.mark.parametrize(("data", "encoding"), [
    ("工单编号".encode("gb18030"), "gb18030"), ("工单编号".encode(), "utf-8"),
    (codecs.BOM_UTF8 + "工单编号".encode(), "utf-8-sig"), ("工单编号".encode("utf-16"), "utf-16"),
    (b"GD1,12345", "utf-8"),
])
def test_encoding_detection(data, encoding):
    assert detect_encoding(data) == encoding


def test_undecodable_bytes_name_their_offset():
    with pytest.raises(IntakeFileError, match="offset 2"):
        detect_encoding(b"ab\xff\xff")


def test_row_numbers_follow_records_not_lines():
    text = HEADER + '\nGD1,12345,,YQ21,,"两行\n内容",投诉\n\nGD2,12345,,YQ21,,内容,投诉\n'
    table = read_table("x.csv", text.encode("gb18030"))
    assert [(n, r["工单编号"]) for n, r in table.rows] == [(2, "GD1"), (4, "GD2")]
    tabbed = read_table("t.csv", HEADER.replace(",", "\t").encode() + b"\nGD3\t12345\t\tYQ21\t\tx\t\xe6\x8a\x95\xe8\xaf\x89\n")
    assert tabbed.rows[0][1]["诉求类型"] == "投诉"


def test_numeric_ticket_numbers_stay_distinct(world):
    """Two 18-digit numeric 工单编号 that mask alike are two tickets, two findings (§8: the
    same 工单编号 updates; a different one never merges into it)."""
    folder, engine, run = world
    rows = ["202603050000001234,12345,2026-03-05 10:20:00,YQ21,,办理慢,投诉",
            "202603050000005634,12345,2026-03-05 11:20:00,YQ21,,态度差,投诉"]
    (folder / "12345_numeric.csv").write_bytes(("\r\n".join([HEADER, *rows]) + "\r\n").encode("utf-8"))
    (outcome,) = run().files
    assert (outcome.new, outcome.updated) == (2, 0)
    assert set(complaints(engine)) == {"202603050000001234", "202603050000005634"}


def test_exports_as_people_save_them_lose_no_row_silently(world):
    """What spreadsheets and hotline systems really write (a fresh adversary's files):
    each row is taken in, or held naming file, row and column; nothing is split silently,
    nothing swallowed, no file stops the others, one ticket in any form is one finding."""
    folder, engine, run = world
    files = {
        # A quote opened in 内容 and never closed would swallow every row after it.
        "a_open_quote.csv": f'{HEADER}\nGD9001,12345,2026-03-05,YQ21,,"加急费要交五百元,投诉\nGD9002,12345,2026-03-05,'
                            f'YQ21,,另一件,投诉\n',
        # An unquoted comma in 内容: one cell too many. A single-quoted text does not make ' the quote.
        "b_shapes.csv": f"{HEADER}\nGD9003,12345,2026-03-05,YQ21,,态度差,要求赔偿,举报\n"
                        f"GD9004,12345,2026-03-05,YQ21,,'办证收加急费',投诉\n"
                        f'GD9005,12345,2026-03-05,YQ21,,"态度差,要求赔偿",投诉\n',
        # Excel re-saved the tickets as numbers; one ticket written four ways.
        "c_forms.csv": f"{HEADER}\n2.02603E+17,12345,2026-03-05,YQ21,,数字工单,投诉\n"
                       f"ＧＤ９００６,12345,2026-03-05,YQ21,,全角,投诉\n"
                       f'"=""GD9006""",12345,2026-03-05,YQ21,,公式文本,投诉\n'
                       f"gd 9006\u200b,12345,2026-03-06,YQ21,,小写带空格,投诉\n",
        # Header names with spaces, a line break and a bracketed note; a spaced 诉求类型.
        "d_headers.csv": '工单编号,来源,"受理\n时间",被反映单位,业务 号,内容,诉求类型（投诉/咨询）\n'
                         "GD9007,12345,2026-03-05 08:30,YQ21,YWH9007,收好处费,举 报\n",
        # A pasted document: a cell over the csv module's 128 KB limit.
        "e_big.csv": f"{HEADER}\nGD9008,12345,2026-03-05,YQ21,,{'很长的内容' * 40000},投诉\n",
    }
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    book = openpyxl.Workbook()
    book.active.append(["2026年3月投诉工单导出"])  # a title row above the header
    book.active.append(HEADER.split(","))
    book.active.append(["GD9009", "好差评", "2026-03-05", "YQ21", None, "标题行下的表", "投诉"])
    buffer = io.BytesIO()
    book.save(buffer)
    (folder / "f_title.xlsx").write_bytes(buffer.getvalue())
    cut = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as whole, zipfile.ZipFile(cut, "w") as part:
        for item in whole.infolist():
            data = whole.read(item)
            part.writestr(item, data[: len(data) // 2] if item.filename.endswith("sheet1.xml") else data)
    (folder / "g_cut_short.xlsx").write_bytes(cut.getvalue())
    (folder / "h_信访_110101199003078515.csv").write_text(f"{HEADER}\n,12345,2026-03-05,YQ21,,无编号,投诉\n",
                                                        encoding="utf-8")

    outcomes = {f.name: f for f in run().files}

    assert outcomes["a_open_quote.csv"].error and "line" in outcomes["a_open_quote.csv"].error
    assert (folder / "rejected" / "2026-04-02" / "a_open_quote.csv").is_file()
    found = complaints(engine)
    assert set(found) == {"GD9004", "GD9005", "GD9006", "GD9007", "GD9008", "GD9009"}
    assert json.loads(found["GD9004"].detail)["kind"] == "投诉"
    assert json.loads(found["GD9005"].detail)["content"] == "态度差,要求赔偿"
    assert (outcomes["c_forms.csv"].new, outcomes["c_forms.csv"].updated + outcomes["c_forms.csv"].unchanged) == (1, 2)
    detail = json.loads(found["GD9007"].detail)
    assert (found["GD9007"].severity, detail["accepted_at"], detail["ywh"]) == ("high", "2026-03-05 08:30:00", "YWH9007")
    assert len(json.loads(found["GD9008"].detail)["content"]) < 1100
    assert outcomes["g_cut_short.xlsx"].error and (folder / "rejected" / "2026-04-02" / "g_cut_short.xlsx").is_file()

    entries = held(engine)
    kinds = {(column, entry.expectation) for (_, column), entry in entries.items()}
    assert {("（整行）", "row_shape"), ("工单编号", "exact_code"), ("（文件）", "readable_table")} <= kinds
    assert ("工单编号=GD9003", "（整行）") in entries and ("工单编号=2.02603E+17", "工单编号") in entries
    assert not any("110101199003078515" in key for key, _ in entries), "an ID number in a file name is masked"
    assert any(key.startswith("h_信访_110") and "#2" in key for key, _ in entries)
    # The task's result (its XCom, and Airflow's "Returned value was" log line) names the file masked.
    masked = outcomes["h_信访_110*************15.csv"]
    assert "110101199003078515" not in masked.model_dump_json()


@pytest.mark.parametrize(("written", "read"), [
    ("2026-03-10 14:05:00.0", datetime(2026, 3, 10, 14, 5)),  # a database's export with its fraction
    ("2026年3月10日 14时05分", datetime(2026, 3, 10, 14, 5)),
    ("2026年3月10日14时05分30秒", datetime(2026, 3, 10, 14, 5, 30)),
    ("2026.3.10 14:05", datetime(2026, 3, 10, 14, 5)),
    ("2026-03-10T06:05:00Z", datetime(2026, 3, 10, 14, 5)),  # an instant in UTC: Beijing time
    ("2026-03-10T14:05:00+08:00", datetime(2026, 3, 10, 14, 5)),
])
def test_accepted_times_in_the_forms_the_systems_export(written, read):
    from zoneinfo import ZoneInfo

    from bdcwatch.intake.complaints import parse_time

    assert parse_time(written, ZoneInfo("Asia/Shanghai")) == read


def test_content_is_kept_as_written_and_an_id_number_in_it_stays_masked(world):
    """CONTRACT §8: 内容 "is kept with personal data masked" — its spaces, case and
    punctuation as written; an ID number followed by a phone number stays an ID number
    (removing the spaces glued the two and the masker no longer saw it: adversary round)."""
    folder, engine, run = world
    content = "Staff said: please come back\n身份证号 110101199003071234 13912345678，联系邮箱 li.si@example.com"
    rows = [f'GD2026040101,12345 热线,2026-04-01 09:00,YQ21,,"{content}",投诉',
            "110101199003078515,12345,2026-04-01 09:00,某某县,,工单编号写成了身份证号,投诉"]
    (folder / "a.csv").write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    run()
    detail = json.loads(complaints(engine)["GD2026040101"].detail)
    assert detail["content"] == content.replace("110101199003071234", "110*************34")
    assert detail["source"] == "12345 热线"
    with engine.connect() as conn:
        stored = conn.execute(select(quarantine.c.row_key, quarantine.c.row_json, quarantine.c.reason)
                              .where(quarantine.c.source_table == "COMPLAINT")).all()
    assert stored and all("110101199003078515" not in " ".join(map(str, row)) for row in stored)  # §6: quarantine rows


def test_a_file_still_being_copied_in_waits_for_the_next_run(world):
    """An export copied over a share under its final name: a run that finds it modified
    within intake.settle_seconds (by the folder's own clock) leaves it; the next run after
    the copy ended takes every row in."""
    folder, engine, _ = world
    (folder / "12345_0401.csv").write_bytes(("\r\n".join([HEADER, *GB_ROWS]) + "\r\n").encode("gb18030"))
    job = Job(RunSpec(period_start="2026-04-01", period_end="2026-04-02"), policy_with(folder), engine,
              RunContext("complaint_intake", "r1", NOW))
    report = take_in(job)
    assert report.files == [] and report.waiting == ["12345_0401.csv"]
    assert (folder / "12345_0401.csv").is_file() and complaints(engine) == {}
    arrived_earlier(folder)
    (outcome,) = take_in(job).files
    assert outcome.new == 2 and not (folder / "12345_0401.csv").exists()


class _GrowingExport(type(Path())):  # type: ignore[misc]
    """A file another process is still writing: it grows right after it was read."""

    def read_bytes(self) -> bytes:
        data = super().read_bytes()
        with open(self, "ab") as more:
            more.write("GD2026030099,12345,2026-03-05,YQ21,,后半截,投诉\r\n".encode("gb18030"))
        return data


def test_a_file_that_grows_while_it_is_taken_in_records_nothing_and_stays(world, sqlite_url):
    from bdcwatch.intake.complaints import take_in_file
    from bdcwatch.ledger.reported import Reporter

    folder, engine, _ = world
    path = folder / "12345_0401.csv"
    path.write_bytes(("\r\n".join([HEADER, *GB_ROWS]) + "\r\n").encode("gb18030"))
    outcome = take_in_file(engine, _GrowingExport(path), policy=policy_with(folder),
                           by=Reporter("bdcwatch:complaint_intake", "complaint_intake", "r1", NOW), root=folder)
    assert outcome.still_writing and outcome.new == 0
    assert path.is_file() and complaints(engine) == {} and held(engine) == {}
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(intake_file)).scalar_one() == 0


def test_one_file_that_cannot_be_read_stops_neither_the_run_nor_the_files_after_it(world):
    """A UTF-16 export cut short (odd byte count) is refused into rejected/; a file this
    process cannot read (an I/O error, here /proc/self/mem behind a link) is held in the
    quarantine naming the cause and left; the file after both is taken in."""
    folder, engine, run = world
    (folder / "a_cut.csv").write_bytes(codecs.BOM_UTF16_LE + HEADER.encode("utf-16-le") + b"\x00")
    (folder / "b_unreadable.csv").symlink_to("/proc/self/mem")
    (folder / "c_good.csv").write_text(f"{HEADER}\nGD2026040201,12345,2026-04-01,YQ21,,内容,投诉\n", encoding="utf-8")
    report = run()
    by_name = {f.name: f for f in report.files}
    assert "utf-16" in by_name["a_cut.csv"].error and (folder / "rejected" / "2026-04-02" / "a_cut.csv").is_file()
    assert "无法读取该文件" in by_name["b_unreadable.csv"].error and (folder / "b_unreadable.csv").is_symlink()
    assert by_name["c_good.csv"].new == 1 and "GD2026040201" in complaints(engine)
    reasons = [r.reason for r in held(engine).values()]
    assert any("b_unreadable.csv" in r and "Input/output error" in r for r in reasons)
    # Readable the next run (its permissions fixed): taken in, and the entry is over.
    (folder / "b_unreadable.csv").unlink()
    (folder / "b_unreadable.csv").write_text(f"{HEADER}\nGD2026040202,12345,2026-04-01,YQ21,,内容,投诉\n",
                                             encoding="utf-8")
    run("r2")
    assert not any("b_unreadable.csv" in r.reason for r in held(engine).values())


def test_a_workbook_declaring_every_cell_of_the_sheet_is_read_by_what_it_holds():
    """A 5 KB workbook whose sheet declares A1:XFD… (one stray cell far out) was filled in
    cell by cell: gigabytes. Rows are cut after their last value and at MAX_COLUMNS, empty
    rows are not built."""
    from bdcwatch.intake.files import MAX_COLUMNS, MAX_SHEET_ROW, workbook_rows

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER.split(","))
    sheet.append(["GD1", "12345", "2026-04-01", "YQ21", None, "内容", "投诉"])
    sheet.cell(row=3000, column=16384, value="x")  # XFD3000
    buffer = io.BytesIO()
    book.save(buffer)
    rows = workbook_rows(buffer.getvalue())
    assert [number for number, _ in rows] == [1, 2]  # the stray cell is beyond every column read
    assert all(len(cells) <= MAX_COLUMNS for _, cells in rows) and len(rows[1][1]) == 7
    far = openpyxl.Workbook()
    far.active.append(HEADER.split(","))
    far.active.cell(row=MAX_SHEET_ROW + 1, column=1, value="x")
    buffer = io.BytesIO()
    far.save(buffer)
    with pytest.raises(IntakeFileError, match="goes on past row"):
        workbook_rows(buffer.getvalue())


def test_a_ticket_exported_again_with_a_graver_type_gets_its_due_date_and_is_announced_again(world):
    """The same 工单编号 re-exported as 举报 (high) after the unit was told of it as 咨询
    (low): its due date follows the new severity from the day it was first reported
    (CONTRACT §4) and the unit's next digest carries it again."""
    from datetime import timedelta

    from sqlalchemy import update

    from bdcwatch.dates.workdays import calendar_from_policy

    folder, engine, run = world
    row = "GD2026040301,12345,2026-04-01 09:00,YQ21,,咨询抵押材料,{kind}"
    (folder / "a.csv").write_text(f"{HEADER}\n{row.format(kind='咨询')}\n", encoding="utf-8")
    run()
    first = complaints(engine)["GD2026040301"]
    with engine.begin() as conn:  # its unit's digest went out
        conn.execute(update(finding).where(finding.c.id == first.id).values(notified_outbox_id=1))
    (folder / "b.csv").write_text(f"{HEADER}\n{row.format(kind='举报')}\n", encoding="utf-8")
    run("r2", NOW + timedelta(days=3))
    again = complaints(engine)["GD2026040301"]
    calendar = calendar_from_policy(policy_with(folder))
    assert (first.severity, again.severity) == ("low", "high")
    assert first.due_date == calendar.add_working_days(NOW.date(), 30)
    assert again.due_date == calendar.add_working_days(NOW.date(), 10) and again.notified_outbox_id is None
    # Exported once more as 咨询: the stricter due date stands (a milder re-export must not
    # make an overdue complaint current again), nothing announced again.
    with engine.begin() as conn:
        conn.execute(update(finding).where(finding.c.id == first.id).values(notified_outbox_id=1))
    (folder / "c.csv").write_text(f"{HEADER}\n{row.format(kind='咨询')}\n".replace("材料", "材料（再次来电）"),
                                  encoding="utf-8")
    run("r3", NOW + timedelta(days=20))
    milder = complaints(engine)["GD2026040301"]
    assert (milder.severity, milder.due_date, milder.notified_outbox_id) == ("low", again.due_date, 1)


def test_one_ticket_naming_two_units_in_one_file_stays_held_for_operations(world):
    """The same 工单编号 twice in a file, one row naming an unknown unit: the other row takes
    the ticket in, and the held row stays in the quarantine (it was released in the same
    transaction and operations never heard of the conflict)."""
    folder, engine, run = world
    rows = ["GD2026040501,12345,2026-04-01,YQ21,,内容,投诉", "GD2026040501,12345,2026-04-01,某某县,,内容,投诉"]
    (folder / "a.csv").write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    run()
    assert "GD2026040501" in complaints(engine)
    assert ("工单编号=GD2026040501", "被反映单位") in held(engine)


@pytest.mark.parametrize(("name", "kept"), [
    (".hidden.csv", "hidden.csv"), ("~$12345.xlsx", "12345.xlsx"), ("..csv", "upload.csv"),
    ("投诉" * 60 + ".csv", "投诉" * 32 + "投.csv"), ("~$~$x.csv", "x.csv"), (".~$.~$x.csv", "x.csv"),
    ("a\x00b.csv", "ab.csv"),
])
def test_a_dropped_file_gets_a_name_a_run_takes_and_the_file_system_accepts(tmp_path, name, kept):
    path = drop_file(tmp_path, name, b"x", now=NOW)
    assert path.name == kept and path.read_bytes() == b"x"


def test_a_file_stamped_ahead_of_the_folders_clock_is_at_rest(world):
    """Copied from a PC whose clock runs a year ahead, keeping its time stamp: it is not
    being written (it waited a year)."""
    import os

    from bdcwatch.intake.files import settled

    folder, _, _ = world
    path = folder / "ahead.csv"
    path.write_text(HEADER + "\n", encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 365 * 86400 * 10**9))
    assert settled([path], folder, 60) == ([path], [])
