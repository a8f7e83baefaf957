"""Real source systems' quirks on SQLite (issue 10 items 1-4, 6; CONTRACT §5 "Source values
as written" and the look-alike lists): each test is one example of its kind, through the
real extraction, gate and rules."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Integer, create_engine, select, text
from sqlalchemy.engine import make_url

from bdcwatch import rules
from bdcwatch.config.policy import load_policy
from bdcwatch.config.run import RunContext
from bdcwatch.dates.periods import Period
from bdcwatch.dates.workdays import WorkCalendar
from bdcwatch.errors import QualityGateError
from bdcwatch.ledger.findings import run_rules
from bdcwatch.sources.connections import source_engine
from bdcwatch.sources.extract import load_table
from bdcwatch.sources.schema import build_metadata
from bdcwatch.store.migrate import make_engine
from bdcwatch.store.models import finding, load_log, quarantine, stg_bdc_zs, stg_djt_dj_sl
from tests.ecert_world import World, number

LOADED_AT = datetime(2026, 6, 1, 9, 0)
SHANGHAI = ZoneInfo("Asia/Shanghai")
T = datetime(2026, 3, 10, 10, 0)
UNIT = "140302001001GB00001F00010001"


def sl_row(ywh: str, **overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "YWH": ywh, "DJJG": "YQ00", "QXDM": "140302", "DJDL": "200", "QLLX": None, "BDCDYH": UNIT, "SQFS": 1,
        "SLRYBH": "R1", "SLSJ": T, "AJZT": 2, "JSSJ": T + timedelta(hours=5), "GQTS": 0, "GXSJ": T}
    row.update(overrides)
    return row


@pytest.fixture
def supervision(sqlite_url):
    return make_engine(sqlite_url.migrated())


def test_integer_id_and_code_columns_keep_their_text(sqlite_url, supervision):
    """Item 1: SLRYBH and QLLX are INTEGER in the source, RYBH too, and an online
    application leaves both NULL: staging holds '10023' and '37', the handler is known and
    the mortgage keeps its limit class (1 working day: accepted 2 March, done 4 March)."""
    metadata = build_metadata()
    for table, name in (("DJT_DJ_SL", "SLRYBH"), ("DJT_DJ_SL", "QLLX"), ("RY_JBXX", "RYBH"), ("RY_PXJL", "RYBH")):
        metadata.tables[table].c[name].type = Integer()
    source = create_engine(sqlite_url("source"))
    metadata.create_all(source)
    with source.begin() as conn:
        conn.execute(metadata.tables["DJT_DJ_SL"].insert(), [
            sl_row("Y1", DJDL="100", QLLX=37, SLRYBH=10023, SLSJ=datetime(2026, 3, 2, 10),
                   JSSJ=datetime(2026, 3, 4, 10)),
            sl_row("Y2", QLLX=None, SLRYBH=None),
        ])
        conn.execute(metadata.tables["RY_JBXX"].insert(), [{
            "RYBH": 10023, "XM": "张伟", "ZJH": None, "DWDM": "YQ00", "YGLX": 1, "GW": "受理",
            "SGSJ": date(2020, 1, 1), "GWKSSJ": date(2024, 1, 1), "ZT": 1, "LGSJ": None, "LZCNSJ": None,
            "GXSJ": T}])
        conn.execute(metadata.tables["RY_PXJL"].insert(), [{
            "ID": "PX1", "RYBH": 10023, "PXMC": "业务规范", "PXRQ": date(2019, 12, 1), "XS": 24, "KHJG": 1,
            "GXSJ": T}])
    for table in ("DJT_DJ_SL", "RY_JBXX", "RY_PXJL"):
        load_table(source, supervision, table, run_id="t", full_scan=True, now=LOADED_AT)
    with supervision.connect() as conn:
        staged = {r.ywh: (r.slrybh, r.qllx) for r in conn.execute(select(stg_djt_dj_sl))}
    assert staged == {"Y1": ("10023", "37"), "Y2": (None, None)}
    codes = ["STAFF_UNKNOWN_HANDLER", "STAFF_UNTRAINED_ON_POST", "CASE_OVERDUE"]
    run_rules(supervision, [rules.get(c) for c in codes], period=Period(date(2026, 3, 1), date(2026, 4, 1)),
              policy=load_policy(), calendar=WorkCalendar(),
              ctx=RunContext("monthly_quality_check", "t", datetime(2026, 4, 1, 1)))
    with supervision.connect() as conn:
        found = {(r.rule_code, r.subject_id) for r in conn.execute(select(finding))}
    assert found == {("CASE_OVERDUE", "Y1")}


def test_blank_and_zero_dates_are_null_where_nullable_and_quarantined_where_required(sqlite_url, supervision):
    """Item 2: '' / ' ' / MySQL zero dates in the nullable JSSJ are NULL, counted in
    load_log, and 10 of 60 such rows no longer stop the run; in the required SLSJ they are
    quarantined with a reason naming table, row key and column."""
    source = create_engine(sqlite_url("source"))
    metadata = build_metadata()
    metadata.create_all(source)
    with source.begin() as conn:
        conn.execute(metadata.tables["DJT_DJ_SL"].insert(), [sl_row(f"Y{i:02d}", AJZT=1) for i in range(60)])
        conn.execute(text("UPDATE DJT_DJ_SL SET JSSJ = CASE WHEN YWH < 'Y04' THEN '' WHEN YWH < 'Y07' THEN ' ' "
                          "WHEN YWH < 'Y09' THEN '0000-00-00' ELSE '0000-00-00 00:00:00' END WHERE YWH < 'Y10'"))
        conn.execute(text("UPDATE DJT_DJ_SL SET SLSJ = '0000-00-00 00:00:00' WHERE YWH = 'Y59'"))
    result = load_table(source, supervision, "DJT_DJ_SL", run_id="t", full_scan=True, now=LOADED_AT)
    assert (result.rows_loaded, result.rows_quarantined, result.values_nulled) == (59, 1, 10)
    with supervision.connect() as conn:
        assert conn.execute(select(load_log.c.values_nulled)).scalar_one() == 10
        nulls = conn.execute(select(stg_djt_dj_sl.c.ywh).where(stg_djt_dj_sl.c.jssj.is_(None))).scalars().all()
        held = conn.execute(select(quarantine)).all()
    assert sorted(nulls) == [f"Y{i:02d}" for i in range(10)]
    assert {(h.row_key, h.column_name) for h in held} == {("YWH=Y59", "SLSJ")}
    assert all("DJT_DJ_SL [YWH=Y59] column SLSJ: value '0000-00-00 00:00:00'" in h.reason for h in held)


def test_text_timestamps_with_mixed_offsets_are_converted_one_by_one(sqlite_url, supervision):
    """Item 3: offsets differ from row to row in one column; each value is converted to the
    policy zone (2026-03-01 07:00 in Shanghai), a naive one is already local."""
    source = create_engine(sqlite_url("source"))
    metadata = build_metadata()
    metadata.create_all(source)
    written = ["2026-03-01 07:00+08", "2026-02-28T23:00:00Z", "2026-03-01 08:00:00+09:00",
               "2026-02-28 18:00:00-05:00", "2026-03-01 07:00:00"]
    with source.begin() as conn:
        conn.execute(metadata.tables["DJT_DJ_SL"].insert(), [sl_row(f"Y{i}") for i in range(len(written))])
        for i, value in enumerate(written):
            conn.execute(text("UPDATE DJT_DJ_SL SET SLSJ = :v WHERE YWH = :y"), {"v": value, "y": f"Y{i}"})
    load_table(source, supervision, "DJT_DJ_SL", run_id="t", full_scan=True, now=LOADED_AT, zone=SHANGHAI)
    with supervision.connect() as conn:
        staged = conn.execute(select(stg_djt_dj_sl.c.ywh, stg_djt_dj_sl.c.slsj)).tuples().all()
    # Every row staged (none quarantined as unparsable), each at the same local instant.
    assert sorted(staged) == [(f"Y{i}", datetime(2026, 3, 1, 7, 0)) for i in range(len(written))]


def _zs(i: int, bdcqzh: str) -> dict[str, object]:
    return {"ZSID": f"ZS{i:03d}", "YWH": f"Y{i}", "ZSLX": 1, "BDCQZH": bdcqzh, "BDCDYH": UNIT, "QLRMC": "张三",
            "DJJG": "YQ00", "SZSJ": T, "ZSZT": 1, "GXSJ": T}


def test_certificate_numbers_read_in_the_wrong_charset_stop_the_load_naming_the_cause(sqlite_url, supervision):
    """Item 4: GBK bytes decoded as latin1 (what a latin1 MySQL table gives) stop the load
    with an error naming table, column and the likely cause; nothing is staged."""
    source = create_engine(sqlite_url("source"))
    metadata = build_metadata()
    metadata.create_all(source)
    garbled = [number(i).encode("gbk").decode("cp1252", errors="replace") for i in range(12)]
    assert garbled[1].startswith("½ú(2026)")
    with source.begin() as conn:
        conn.execute(metadata.tables["BDC_ZS"].insert(), [_zs(i, g) for i, g in enumerate(garbled)])
    with pytest.raises(QualityGateError) as raised:
        load_table(source, supervision, "BDC_ZS", run_id="t", full_scan=True, now=LOADED_AT)
    message = str(raised.value)
    assert "BDC_ZS column BDCQZH: 12 of 12" in message
    assert "GBK read as latin1" in message and "charset" in message
    with supervision.connect() as conn:
        assert conn.execute(select(stg_bdc_zs)).first() is None


def test_a_few_odd_certificate_numbers_do_not_stop_the_load(sqlite_url, supervision):
    source = create_engine(sqlite_url("source"))
    metadata = build_metadata()
    metadata.create_all(source)
    rows = [_zs(i, number(i)) for i in range(10)] + [_zs(10, "阳房权证字第12345号"), _zs(11, "晋（2026）阳泉市不动产证明第0000011号")]
    with source.begin() as conn:
        conn.execute(metadata.tables["BDC_ZS"].insert(), rows)
    result = load_table(source, supervision, "BDC_ZS", run_id="t", full_scan=True, now=LOADED_AT)
    assert result.rows_loaded == 12


def test_the_charset_extra_decodes_a_legacy_encoded_source(sqlite_url, supervision, tmp_path):
    """Item 4: text stored in GBK; the connection's charset extra decodes it, and without
    the extra the load stops naming the column instead of crashing in the driver."""
    url = make_url(sqlite_url("legacy"))
    plain = create_engine(url)
    metadata = build_metadata()
    metadata.create_all(plain)
    with plain.begin() as conn:
        conn.execute(metadata.tables["BDC_ZS"].insert(), [_zs(1, "placeholder")])
        conn.execute(text("UPDATE BDC_ZS SET BDCQZH = CAST(:b AS TEXT), QLRMC = CAST(:h AS TEXT)"),
                     {"b": number(1).encode("gbk"), "h": "阿卜来提·如则托合提".encode("gbk")})
    plain.dispose()
    load_table(source_engine(url, SHANGHAI, "gbk"), supervision, "BDC_ZS", run_id="t", full_scan=True, now=LOADED_AT)
    with supervision.connect() as conn:
        row = conn.execute(select(stg_bdc_zs)).one()
    assert (row.bdcqzh, row.qlrmc) == (number(1), "阿卜来提·如则托合提")
    for charset in (None, "utf8mb4"):
        with pytest.raises(QualityGateError, match="BDC_ZS column BDCQZH: text cannot be decoded as utf-8"):
            load_table(source_engine(url, SHANGHAI, charset), supervision, "BDC_ZS", run_id="t2", full_scan=True,
                       now=LOADED_AT)


def test_look_alike_characters_are_no_mismatch_and_staging_keeps_the_source_text(sqlite_url):
    """Item 6: middle dots, brackets, invisible characters and separators of §5 on one side
    only: no ECERT_MISMATCH, while staging keeps each source's own text."""
    world = World(sqlite_url("source"), sqlite_url.migrated("supervision"))
    paper = world.cert(1, szsj=T, holders="阿卜来提·如则托合提、李四")
    world.ecert("晋〔2026〕阳泉市不动产权第\u200b0000001号", zzbfrq=T, holders="李四／阿卜来提•如则托合提\ufeff")
    other = world.cert(2, szsj=T, holders="买买提\u30fb艾力")
    world.ecert("晋【2026】阳泉市不动产权第0000002号", zzbfrq=T, holders="买买提\u22c5艾力")
    differs = world.cert(3, szsj=T, holders="王五")
    world.ecert(number(3), zzbfrq=T, holders="王六")
    found = world.run(date(2026, 3, 1), date(2026, 4, 1))
    assert {s for r, s in found if r == "ECERT_MISMATCH"} == {differs}
    assert {s for r, s in found if r == "ECERT_MISSING"} == set()
    with world.supervision.connect() as conn:
        kept = dict(conn.execute(text("SELECT bdcqzh_norm, czzt FROM stg_bdc_dzzz_zzxx")).tuples().all())
    assert kept[paper] == "李四／阿卜来提•如则托合提\ufeff"
    assert kept[other] == "买买提\u22c5艾力"


def test_quarantined_rows_mask_id_numbers_in_any_column(sqlite_url, supervision):
    """Item 7: a legacy 15-digit number in a return reason of a quarantined row."""
    source = create_engine(sqlite_url("source"))
    metadata = build_metadata()
    metadata.create_all(source)
    with source.begin() as conn:
        conn.execute(metadata.tables["BDC_BYSL"].insert(), [{
            "ID": "TH1", "YWH": "Y1", "BDCDYH": UNIT, "THSJ": T, "THYYDM": "01",
            "THYY": "申请人110105491231002与证件不符", "CZRYBH": "110105 19491231 002X", "GXSJ": T}])
        conn.execute(text("UPDATE BDC_BYSL SET THSJ = 'not a date'"))
    load_table(source, supervision, "BDC_BYSL", run_id="t", full_scan=True, now=LOADED_AT)
    with supervision.connect() as conn:
        held = conn.execute(select(quarantine)).first()
    assert held is not None
    kept = json.loads(held.row_json)
    assert kept["THYY"] == "申请人110**********02与证件不符"
    assert kept["CZRYBH"] == "110***************2X"
    assert "110105" not in held.row_json


def test_an_id_number_across_the_clip_of_a_long_kept_value_is_masked(sqlite_url, supervision, caplog):
    """A return reason far longer than its column is held and its kept copy clipped to
    MAX_KEPT_CHARS: an ID number straddling the cut was left with 17 digits the masker no
    longer saw (the 18th follows from them): masked first, then clipped, in the reason,
    the kept row and the log line (§6)."""
    from bdcwatch.sources.quarantine import MAX_KEPT_CHARS

    body = "11010119900307451"
    reason = "材" * (MAX_KEPT_CHARS - 17) + body + "2，材料不全" * 50
    source = create_engine(sqlite_url("source"))
    metadata = build_metadata()
    metadata.create_all(source)
    with source.begin() as conn:
        conn.execute(metadata.tables["BDC_BYSL"].insert(), [{
            "ID": "TH1", "YWH": "Y1", "BDCDYH": UNIT, "THSJ": T, "THYYDM": "01", "THYY": reason, "CZRYBH": "R1",
            "GXSJ": T}])
    with caplog.at_level("WARNING"):
        result = load_table(source, supervision, "BDC_BYSL", run_id="t", full_scan=True, now=LOADED_AT)
    assert result.rows_quarantined == 1
    with supervision.connect() as conn:
        held = conn.execute(select(quarantine)).one()
    assert held.column_name == "THYY" and "共" in held.reason
    for text_shown in (held.reason, held.row_json, caplog.text):
        assert body[:-2] not in text_shown and "110*" in text_shown


def test_text_longer_than_its_reference_column_is_quarantined_not_crashing_staging(sqlite_url, supervision):
    """A vendor column wider than the reference (SQLite does not enforce VARCHAR lengths):
    PostgreSQL or MariaDB staging would refuse it, so the row is held with its reason."""
    source = create_engine(sqlite_url("source"))
    metadata = build_metadata()
    metadata.create_all(source)
    with source.begin() as conn:
        conn.execute(metadata.tables["DJT_DJ_SL"].insert(), [sl_row("Y1", SLRYBH="R" * 40), sl_row("Y2")])
    result = load_table(source, supervision, "DJT_DJ_SL", run_id="t", full_scan=True, now=LOADED_AT)
    assert (result.rows_loaded, result.rows_quarantined) == (1, 1)
    with supervision.connect() as conn:
        held = conn.execute(select(quarantine)).one()
    assert (held.row_key, held.column_name) == ("YWH=Y1", "SLRYBH")
    assert "does not fit its reference column (VARCHAR(32))" in held.reason


def _written(source_url: str, rows: list[dict[str, object]], gxsj_text: dict[str, str] | None = None) -> None:
    """BDC_ZS rows into a SQLite source; ``gxsj_text``: ZSID → GXSJ stored as that text."""
    writer = create_engine(source_url)
    metadata = build_metadata()
    metadata.create_all(writer)
    with writer.begin() as conn:
        conn.execute(metadata.tables["BDC_ZS"].insert(), rows)
        for zsid, written in (gxsj_text or {}).items():
            conn.execute(text("UPDATE BDC_ZS SET GXSJ = :g WHERE ZSID = :z"), {"g": written, "z": zsid})
    writer.dispose()


def test_incremental_read_of_text_gxsj_with_offsets_misses_nothing(sqlite_url, supervision):
    """GXSJ written as text with an offset (``…+00:00``, ``…Z``) compares as text: a row
    changed two hours after the watermark can sort before it. The read reaches back far
    enough that no offset hides a change (upserts make the overlap harmless)."""
    source_url = sqlite_url("source")
    _written(source_url, [_zs(1, number(1))])
    source = source_engine(make_url(source_url), SHANGHAI)
    assert load_table(source, supervision, "BDC_ZS", run_id="t", full_scan=True, now=LOADED_AT).watermark == \
        "2026-03-10 10:00:00"
    # each 2026-03-10 12:00 in Shanghai, two hours after the watermark
    forms = ["2026-03-10 04:00:00+00:00", "2026-03-10 04:00:00Z", "2026-03-10T04:00:00Z", "2026-03-10T12:00:00+08:00"]
    _written(source_url, [_zs(i, number(i)) for i in range(2, 6)],
             {f"ZS{i:03d}": gxsj for i, gxsj in enumerate(forms, start=2)})
    result = load_table(source, supervision, "BDC_ZS", run_id="t", now=LOADED_AT)
    assert result.watermark == "2026-03-10 12:00:00"
    with supervision.connect() as conn:
        assert sorted(conn.execute(select(stg_bdc_zs.c.zsid)).scalars()) == [f"ZS{i:03d}" for i in range(1, 6)]


def test_a_gxsj_after_the_load_clock_does_not_become_the_watermark(sqlite_url, supervision):
    """A GXSJ typed as 2226 would, as the watermark, hide every later change from the
    incremental loads: the watermark stays at the load's clock."""
    source_url = sqlite_url("source")
    _written(source_url, [_zs(1, number(1)), {**_zs(2, number(2)), "GXSJ": datetime(2226, 3, 10, 10)}])
    source = source_engine(make_url(source_url), SHANGHAI)
    first = load_table(source, supervision, "BDC_ZS", run_id="t", full_scan=True, now=LOADED_AT)
    assert first.watermark == LOADED_AT.isoformat(sep=" ")
    _written(source_url, [{**_zs(3, number(3)), "GXSJ": LOADED_AT + timedelta(hours=2)}])
    later = load_table(source, supervision, "BDC_ZS", run_id="t", now=LOADED_AT + timedelta(days=1))
    assert later.rows_loaded >= 1
    with supervision.connect() as conn:
        assert "ZS003" in set(conn.execute(select(stg_bdc_zs.c.zsid)).scalars())


@pytest.mark.parametrize("gap", ["\u00a0", "\u3000", "\t", "\u200b", "\u2009", "\u202f"])
def test_an_id_number_grouped_by_any_space_is_masked_in_the_quarantine_and_its_log_line(sqlite_url, supervision,
                                                                                         gap, caplog):
    """§6: an ID number with spaces between its digit groups, whatever the space, is masked
    in the quarantine's reason, its kept row and the log line (masked before the value is
    quoted: repr() writes NBSP as an escape the masker would not see)."""
    written = f"140302{gap}19900101{gap}1237"
    source_url = sqlite_url("source")
    _written(source_url, [{**_zs(1, number(1)), "QLRMC": "张三" + written + "张" * 200}])  # over 200 characters
    with caplog.at_level("WARNING", logger="bdcwatch"):
        result = load_table(source_engine(make_url(source_url), SHANGHAI), supervision, "BDC_ZS", run_id="t",
                            full_scan=True, now=LOADED_AT)
    assert result.rows_quarantined == 1
    with supervision.connect() as conn:
        (held,) = conn.execute(select(quarantine)).all()
    for text_ in (held.reason, held.row_json, caplog.text):
        assert "1990" not in text_ and "0101" not in text_, text_[:300]
    assert "140" in held.reason and "张三" in held.reason


def test_rows_without_a_usable_key_are_each_counted(sqlite_url, supervision):
    """A vendor table without a primary key: rows with a NULL or over-long ZSID all read as
    the key None. Each is counted in load_log (read = loaded + quarantined) and their one
    quarantine entry says how many rows it stands for."""
    source_url = sqlite_url("source")
    writer = create_engine(source_url)
    with writer.begin() as conn:
        conn.execute(text("CREATE TABLE BDC_ZS (ZSID TEXT, YWH TEXT, ZSLX INT, BDCQZH TEXT, YSXLH TEXT, BDCDYH TEXT, "
                          "QLRMC TEXT, QLRZJH TEXT, DJJG TEXT, SZSJ TEXT, ZSZT INT, ZXSJ TEXT, ZXYWH TEXT, GXSJ TEXT)"))
        rows = [{**_zs(i, number(i)), "SZSJ": "2026-03-10 10:00:00", "GXSJ": "2026-03-10 10:00:00"} for i in range(6)]
        rows[3]["ZSID"] = rows[4]["ZSID"] = None
        rows[5]["ZSID"] = "ZS" + "0" * 45  # longer than the reference VARCHAR(40)
        conn.execute(text("INSERT INTO BDC_ZS (ZSID, YWH, ZSLX, BDCQZH, BDCDYH, QLRMC, DJJG, SZSJ, ZSZT, GXSJ) VALUES "
                          "(:ZSID, :YWH, :ZSLX, :BDCQZH, :BDCDYH, :QLRMC, :DJJG, :SZSJ, :ZSZT, :GXSJ)"), rows)
    writer.dispose()
    result = load_table(source_engine(make_url(source_url), SHANGHAI), supervision, "BDC_ZS", run_id="t",
                        full_scan=True, now=LOADED_AT)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (6, 3, 3)
    with supervision.connect() as conn:
        held = conn.execute(select(quarantine).where(quarantine.c.column_name == "ZSID")).all()
        assert conn.execute(select(load_log.c.rows_quarantined)).scalar_one() == 3
    assert len(held) == 1 and "3 rows of this chunk have this key" in held[0].reason


def test_column_names_with_a_bom_or_trailing_space_are_those_columns(sqlite_url, supervision):
    """A table made by a CSV import (SQLite, Access): the first column's name carries the
    file's BOM and another a trailing space. They are still ZSID and QLRMC."""
    source_url = sqlite_url("source")
    writer = create_engine(source_url)
    with writer.begin() as conn:
        conn.execute(text('CREATE TABLE BDC_ZS ("\ufeffZSID" TEXT, YWH TEXT, ZSLX INT, BDCQZH TEXT, YSXLH TEXT, '
                          'BDCDYH TEXT, "QLRMC " TEXT, QLRZJH TEXT, DJJG TEXT, SZSJ TEXT, ZSZT INT, ZXSJ TEXT, '
                          'ZXYWH TEXT, GXSJ TEXT)'))
        conn.execute(text('INSERT INTO BDC_ZS ("\ufeffZSID", YWH, ZSLX, BDCQZH, BDCDYH, "QLRMC ", DJJG, SZSJ, ZSZT, '
                          "GXSJ) VALUES ('ZS1', 'Y1', 1, :n, :u, '张三', 'YQ00', '2026-03-10 10:00:00', 1, "
                          "'2026-03-10 10:00:00')"), {"n": number(1), "u": UNIT})
    writer.dispose()
    result = load_table(source_engine(make_url(source_url), SHANGHAI), supervision, "BDC_ZS", run_id="t",
                        full_scan=True, now=LOADED_AT)
    assert (result.rows_loaded, result.rows_quarantined) == (1, 0)
    with supervision.connect() as conn:
        assert conn.execute(select(stg_bdc_zs.c.zsid, stg_bdc_zs.c.qlrmc)).one() == ("ZS1", "张三")


def test_a_staff_row_keyed_by_an_id_number_is_held_under_a_masked_key(sqlite_url, supervision):
    """§6: no full ID number in any quarantine row, the row key included (a registry that
    numbers its staff by 身份证号). The masked key carries a digest of the real one, so
    two people whose masked numbers look alike stay apart and a fixed row is released."""
    source_url = sqlite_url("source")
    writer = create_engine(source_url)
    metadata = build_metadata()
    metadata.create_all(writer)
    people = ["140302199001011237", "140302198512121237"]  # both 140*************37 once masked
    with writer.begin() as conn:
        conn.execute(metadata.tables["RY_JBXX"].insert(), [
            {"RYBH": rybh, "XM": "王五", "ZJH": rybh, "DWDM": "YQ00", "YGLX": 9, "GW": "受理", "ZT": 1, "GXSJ": T}
            for rybh in people])
    source = source_engine(make_url(source_url), SHANGHAI)
    assert load_table(source, supervision, "RY_JBXX", run_id="t", full_scan=True, now=LOADED_AT).rows_quarantined == 2
    with supervision.connect() as conn:
        keys = sorted(conn.execute(select(quarantine.c.row_key)).scalars())
    assert len(keys) == 2 and all(k.startswith("RYBH=140*************37 #") for k in keys)
    assert not any(rybh in k for k in keys for rybh in people)
    with writer.begin() as conn:  # the first person's 用工类型 corrected at the source
        conn.execute(text("UPDATE RY_JBXX SET YGLX = 1 WHERE RYBH = :r"), {"r": people[0]})
    writer.dispose()
    load_table(source, supervision, "RY_JBXX", run_id="t", now=LOADED_AT + timedelta(days=1))
    with supervision.connect() as conn:
        still_open = conn.execute(select(quarantine.c.row_key).where(quarantine.c.resolved_at.is_(None))).all()
    assert len(still_open) == 1


def test_a_full_read_that_would_empty_staging_deletes_nothing_and_stops(sqlite_url, supervision):
    """A replica view that returns no rows, or most of them gone: a full read would delete
    what staging holds and every certificate would be ECERT_MISSING to the heads. It stops
    naming the table, deletes nothing and keeps the watermark; a few rows really gone from
    the source still leave staging."""
    source_url = sqlite_url("source")
    _written(source_url, [_zs(i, number(i)) for i in range(1, 61)])
    source = source_engine(make_url(source_url), SHANGHAI)
    load_table(source, supervision, "BDC_ZS", run_id="t", full_scan=True, now=LOADED_AT)
    writer = create_engine(source_url)

    def staged() -> int:
        with supervision.connect() as conn:
            return len(conn.execute(select(stg_bdc_zs.c.zsid)).all())

    with writer.begin() as conn:
        conn.execute(text("DELETE FROM BDC_ZS WHERE ZSID > 'ZS020'"))  # 40 of 60 gone
    with pytest.raises(QualityGateError, match="40 of the 60 rows staged") as stopped:
        load_table(source, supervision, "BDC_ZS", run_id="t", full_scan=True, now=LOADED_AT)
    assert "未删除任何数据" in stopped.value.zh and staged() == 60
    with writer.begin() as conn:
        conn.execute(text("DELETE FROM BDC_ZS"))
    with pytest.raises(QualityGateError, match="a full read found 0 rows"):
        load_table(source, supervision, "BDC_ZS", run_id="t", full_scan=True, now=LOADED_AT)
    assert staged() == 60
    _written(source_url, [_zs(i, number(i)) for i in range(1, 51)])  # the replica back, 10 really gone
    assert load_table(source, supervision, "BDC_ZS", run_id="t", full_scan=True, now=LOADED_AT).rows_deleted == 10
    assert staged() == 50


def test_a_small_load_whose_every_row_is_bad_stops_naming_the_likely_column(sqlite_url, supervision):
    """A daily read of a few dozen rows, all in a date format the vendor just switched to:
    below the gate's min_rows it passed with every row held. It stops, and the stop names
    the column and check most rows failed."""
    source_url = sqlite_url("source")
    _written(source_url, [_zs(i, number(i)) for i in range(1, 13)])
    with create_engine(source_url).begin() as conn:
        conn.execute(text("UPDATE BDC_ZS SET SZSJ = '2026/03/10 10:00'"))
    with pytest.raises(QualityGateError, match=r"12 of 12 rows.*most of them on column SZSJ") as stopped:
        load_table(source_engine(make_url(source_url), SHANGHAI), supervision, "BDC_ZS", run_id="t",
                   full_scan=True, now=LOADED_AT)
    assert "字段 SZSJ" in stopped.value.zh


def test_a_stored_key_keeps_too_little_of_an_id_number_to_hash_it_back():
    """The digest beside a masked key tells entries apart; 12 hex characters let a reader
    of the quarantine page hash the few million likely middles and find the number (an
    adversary did in seconds). Three leave thousands of candidates."""
    from bdcwatch.sources.quarantine import stored_key

    masked, digest = stored_key("RYBH=110105198807213410").split(" #")
    assert masked == "RYBH=110*************10" and len(digest) == 3
    assert stored_key("RYBH=110105198807213410") == stored_key("RYBH=110105198807213410")  # found again
    assert stored_key("RYBH=110105198807213410") != stored_key("RYBH=110105198807214410")


def test_an_id_number_in_a_real_column_is_masked_in_the_reason_too(supervision):
    """A handler id typed into a REAL column holding an ID number: the kept row was masked,
    the reason showed repr's ``1.1010119900307451e+17`` — 17 digits the masker could not
    see through the dot."""
    from types import SimpleNamespace

    from bdcwatch.sources.quarantine import hold

    problem = SimpleNamespace(key=("Y1",), column="SLRYBH", expectation="max_length", description="longer than 32",
                              level="row")
    with supervision.begin() as conn:
        hold(conn, "DJT_DJ_SL", [problem], [{"YWH": "Y1", "SLRYBH": float(110101199003074512)}], [("Y1",)], "L1",
             LOADED_AT)
    with supervision.connect() as conn:
        held = conn.execute(select(quarantine.c.reason, quarantine.c.row_json)).one()
    assert "1101011990030" not in held.reason and "1.101" not in held.reason and "110*" in held.reason
