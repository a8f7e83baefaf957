"""What operations read about source rows held in quarantine (the 隔离数据 page and the
quarantine notice): each reason in Chinese, naming table and column and what is wrong in
the registration standard's words, with GX's English expectation name beside it. The
words are declared once per expectation in its suite (``meta.why_zh``); a kind of check
no suite words (an entry stored before its expectation left the suite, the gate's own
check, the complaint intake's) still reads in Chinese; what the quarantine stores is
what the gate always stored."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from bdcwatch.config.run import Job, RunContext, RunSpec
from bdcwatch.intake.complaints import take_in
from bdcwatch.sources.extract import load_table
from bdcwatch.sources.reasons import FITS_REFERENCE, KINDS, UNWORDED, explain, words
from bdcwatch.sources.schema import build_metadata
from bdcwatch.sources.suites import EXPECTATIONS_ENV, INVALID_SUFFIX, load_suite_json
from bdcwatch.store.migrate import make_engine
from bdcwatch.store.models import quarantine
from tests.support import arrived_earlier
from tests.unit.test_complaint_intake import HEADER, policy_with

SUITES = sorted((Path(__file__).resolve().parents[2] / "expectations").glob("*.json"))
CHINESE = re.compile("[\u4e00-\u9fff]")
LOADED_AT = datetime(2026, 6, 1, 9, 0)


@pytest.mark.parametrize("path", SUITES, ids=lambda p: p.name)
def test_every_expectation_of_every_suite_says_in_chinese_what_is_wrong(path):
    """An expectation added without its Chinese words fails here."""
    suite = json.loads(path.read_text(encoding="utf-8"))
    table = path.stem.upper()
    declared: set[tuple[str, str]] = set()
    for expectation in suite["expectations"]:
        kind = expectation["type"]
        column = expectation["kwargs"].get("column", "").removesuffix(INVALID_SUFFIX)
        assert (kind, column) not in declared, f"{path.name}: two {kind} on {column}: an entry could not tell which"
        declared.add((kind, column))
        why_zh = expectation["meta"].get("why_zh")
        assert why_zh and CHINESE.search(why_zh), f"{path.name}: {kind}({column}) has no meta.why_zh in Chinese"
        assert words(table, column, kind) == why_zh
        assert kind in KINDS, f"{kind}: an entry stored under it must still read in Chinese once it leaves the suite"


@pytest.fixture
def engines(sqlite_url):
    source = create_engine(sqlite_url("source"))
    metadata = build_metadata()
    metadata.create_all(source)
    return source, make_engine(sqlite_url.migrated())


def test_a_row_the_gate_holds_reads_in_chinese_and_is_stored_as_before(engines):
    source, target = engines
    with source.begin() as conn:  # a timestamp no database type would accept, as a lax SQLite source holds it
        conn.execute(text(
            "INSERT INTO BDC_ZS (ZSID,YWH,ZSLX,BDCQZH,BDCDYH,QLRMC,DJJG,SZSJ,ZSZT,GXSJ) VALUES "
            "('5','Y5',1,'晋(2026)阳泉市不动产权第0000005号','140302001001GB00001F00010001','李四','YQ00',"
            "'2026-13-45 10:00:00',1,'2026-03-10 10:00:00')"
        ))
    load_table(source, target, "BDC_ZS", run_id="r1", now=LOADED_AT)
    with target.connect() as conn:
        held = {r.expectation: r for r in conn.execute(select(quarantine))}
    # Stored as the gate always stored it: GX's type, the column, the English reason of the log line.
    assert set(held) == {"expect_column_values_to_not_be_null", "expect_column_values_to_be_null"}
    assert {(r.source_table, r.row_key, r.column_name) for r in held.values()} == {("BDC_ZS", "ZSID=5", "SZSJ")}
    assert held["expect_column_values_to_be_null"].reason == (
        "BDC_ZS [ZSID=5] column SZSJ: value '2026-13-45 10:00:00' — SZSJ must be a valid timestamp")
    shown = {kind: explain(r.source_table, r.column_name, r.expectation, r.reason, r.row_json)
             for kind, r in held.items()}
    assert shown["expect_column_values_to_not_be_null"].text == "BDC_ZS.SZSJ 缮证时间为空或不是有效日期"
    assert shown["expect_column_values_to_be_null"].text == "BDC_ZS.SZSJ 缮证时间不是有效日期"
    assert {r.value for r in shown.values()} == {"2026-13-45 10:00:00"}
    assert {r.expectation for r in shown.values()} == set(held)  # the English name stays beside
    assert shown["expect_column_values_to_be_null"].stored == held["expect_column_values_to_be_null"].reason


def test_entries_no_suite_words_still_read_in_chinese():
    stored = "BDC_ZS [ZSID=9] column QLRMC: value '张三 14030219800101123X' — QLRMC must be listed"
    row = json.dumps({"ZSID": "9", "QLRMC": "张三 14030219800101123X"}, ensure_ascii=False)
    # Stored under an expectation the suite no longer has on that column: the kind's words.
    left = explain("BDC_ZS", "QLRMC", "expect_column_values_to_be_in_set", stored, row)
    assert left.text == "BDC_ZS.QLRMC 不是规定的代码值"
    assert left.value == "张三 140*************3X" and "14030219800101123X" not in left.stored
    # A kind nobody worded: said so, its English name and the stored reason beside.
    odd = explain("BDC_ZS", "BDCQZH", "expect_column_values_to_match_regex", stored, row)
    assert (odd.text, odd.expectation, odd.value) == (f"BDC_ZS.BDCQZH {UNWORDED}", "expect_column_values_to_match_regex",
                                                      None)
    # The gate's own check of a value too long for its reference column.
    long = explain("BDC_ZS", "YWH", FITS_REFERENCE, "BDC_ZS [ZSID=9] column YWH: value 'Y…' — YWH does not fit", "{}")
    assert long.text == "BDC_ZS.YWH 超过参照表结构的字段长度或数值范围"
    # The complaint intake stores its reasons in Chinese, naming file and row: shown as stored.
    complaint = explain("COMPLAINT", "被反映单位", "known_unit", "COMPLAINT [a.csv 第4行] 列 被反映单位：“某县”不是策略中的登记机构", "{}")
    assert complaint.text == "COMPLAINT [a.csv 第4行] 列 被反映单位：“某县”不是策略中的登记机构"
    assert words("COMPLAINT", "被反映单位", "known_unit") == "不是策略中的登记机构"


@pytest.fixture
def suites_without_words(tmp_path, monkeypatch):
    """A deployment's own suites (BDCWATCH_EXPECTATIONS) written before ``why_zh`` existed."""
    for path in SUITES:
        suite = json.loads(path.read_text(encoding="utf-8"))
        for expectation in suite["expectations"]:
            expectation["meta"].pop("why_zh", None)
        (tmp_path / path.name).write_text(json.dumps(suite), encoding="utf-8")
    monkeypatch.setenv(EXPECTATIONS_ENV, str(tmp_path))
    load_suite_json.cache_clear()
    yield
    monkeypatch.delenv(EXPECTATIONS_ENV)
    load_suite_json.cache_clear()


def test_a_suite_without_chinese_words_falls_back_to_the_kind(suites_without_words):
    shown = explain("BDC_ZS", "SZSJ", "expect_column_values_to_not_be_null",
                    "BDC_ZS [ZSID=5] column SZSJ: value None — SZSJ is required", json.dumps({"SZSJ": None}))
    assert (shown.text, shown.value) == ("BDC_ZS.SZSJ 为空或无法解析", None)


def test_every_kind_the_complaint_intake_holds_reads_in_chinese(tmp_path, sqlite_url):
    folder = tmp_path / "complaints"
    folder.mkdir()
    rows = [",12345,2026-03-08,YQ22,,没有工单编号,投诉", "GD1,12345,2026-03-08,YQ22,,,投诉",
            "GD2,12345,2026-03-08,某某县,,单位不明,投诉", "GD3,12345,下周一,YQ22,,时间不明,投诉"]
    (folder / "a.csv").write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    (folder / "b.csv").write_text("甲,乙\n1,2\n", encoding="utf-8")  # not an export: unreadable as one
    engine = make_engine(sqlite_url.migrated())
    arrived_earlier(folder)
    take_in(Job(RunSpec(period_start="2026-04-01", period_end="2026-04-02"), policy_with(folder), engine,
                RunContext("complaint_intake", "r1", datetime(2026, 4, 2, 9, 0))))
    with engine.connect() as conn:
        held = conn.execute(select(quarantine.c.source_table, quarantine.c.column_name, quarantine.c.expectation)).all()
    assert {kind for _, _, kind in held} == {"required", "known_unit", "timestamp", "readable_table"}
    for table, column, kind in held:
        assert words(table, column, kind) == KINDS[kind] and CHINESE.search(KINDS[kind])
