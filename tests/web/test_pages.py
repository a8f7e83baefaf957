"""The pages as a logged-in user gets them (HTML through Airflow's app): the ledger with
its filters and paging, a finding with its form (or not), unit KPIs against hand-counted
figures, the quarantine, the samples, and the outbox with its resend."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from sqlalchemy import select

from bdcwatch.store.models import outbox, stg_bdc_dzzz_zzxx, stg_bdc_zs, stg_djt_dj_sl
from tests.support import airflow_uri
from tests.web.ledger_world import ID_NUMBER, MASKED_ID, SCRIPT, new_world, standard_ledger

UI = "/bdcwatch/ui"


@pytest.fixture
def world(sqlite_url, monkeypatch):
    url = sqlite_url.migrated("supervision")
    monkeypatch.setenv("AIRFLOW_CONN_SUPERVISION_DB", airflow_uri(url))
    return standard_ledger(new_world(url))


def test_ledger_page_filters_pages_and_links_each_finding_by_id(web, world):
    page = web.session("viewer").get(f"{UI}/", params={"unit": "YQ21", "severity": "", "status": ""})
    assert page.status_code == 200
    shown = [int(i) for i in re.findall(r'<a href="/bdcwatch/ui/findings/(\d+)">#\d+</a>', page.text)]
    assert shown == sorted((world.ids[f"f{i}"] for i in range(30) if i % 5 == 2), reverse=True)
    assert "共 <strong>6</strong> 条" in page.text
    assert '<option value="YQ21" selected>YQ21 平定县不动产登记中心</option>' in page.text
    assert "/bdcwatch/api/findings.xlsx?unit=YQ21" in page.text  # the export keeps the filter
    first = web.session("viewer").get(f"{UI}/")
    assert "第 1 / 1 页" in first.text
    # A link past the last page (a bookmark, a ledger that shrank) shows the last page.
    past = web.session("viewer").get(f"{UI}/", params={"unit": "YQ21", "page": 99}).text
    assert "第 1 / 1 页" in past and "没有符合条件的问题" not in past
    assert [int(i) for i in re.findall(r'<a href="/bdcwatch/ui/findings/(\d+)">#\d+</a>', past)] == shown
    for label in ("问题台账", "登记机构", "问题类型", "风险等级", "是否逾期", "导出 XLSX", "待整改", "整改中", "已销号"):
        assert label in first.text


def test_ledger_page_filters_by_what_belongs_to_a_period(web, world):
    """所属期间 on the page: a finding without a period label shows and is filtered by the
    day its problem happened (here, with no date in its detail and no as-of, the day it was
    first detected); one with a label by the label. The form keeps what was typed."""
    page = web.session("viewer").get(f"{UI}/", params={"within": "2025-01-01..2025-01-11"}).text
    shown = [int(i) for i in re.findall(r'<a href="/bdcwatch/ui/findings/(\d+)">#\d+</a>', page)]
    assert shown == sorted((world.ids[f"f{i}"] for i in (1, 3, 5, 7, 9)), reverse=True)
    assert "<th>所属期间</th>" in page and "<td>2025-01-02</td>" in page  # f1, first detected 2 January
    assert 'name="within" value="2025-01-01..2025-01-11"' in page
    month = web.session("viewer").get(f"{UI}/", params={"within": "2025-01"}).text
    assert "共 <strong>30</strong> 条" in month and "<td>2025-01</td>" in month
    assert "共 <strong>0</strong> 条" in web.session("viewer").get(f"{UI}/", params={"within": "2025-02"}).text


def test_finding_page_in_chinese_with_history_and_a_form_for_op_only(web, world):
    fid = world.ids["f3"]  # ECERT_MISSING, rectifying
    op = web.session("op").get(f"{UI}/findings/{fid}").text
    for label in ("问题编号", "电子证照", "风险等级", "整改期限", "处理记录", "逾期上报", "张科长", "销号"):
        assert label in op, label
    assert f'data-post="/bdcwatch/api/findings/{fid}/status"' in op
    assert 'name="note"' in op and "required" in op
    viewer = web.session("viewer").get(f"{UI}/findings/{fid}").text
    assert "data-post" not in viewer and 'name="note"' not in viewer and "只读" in viewer
    missing = web.session("viewer").get(f"{UI}/findings/999999")
    assert missing.status_code == 404 and "999999" in missing.text


def test_a_direction_override_in_data_is_not_shown_on_the_pages(web, world):
    """U+202E in a complaint's 内容 made the finding page read it backwards (the mails
    already dropped it): every text from data goes through the mails' cleaning."""
    fid = world.add("rlo", "COMPLAINT", "GD2026040199", "YQ21",
                    detail={"content": "正常内容\u202eEVIL\u202c，余下", "kind": "投诉"})
    page = web.session("viewer").get(f"{UI}/findings/{fid}").text
    assert "正常内容EVIL，余下" in page and "\u202e" not in page and "\u202c" not in page
    assert "\u202e" not in web.session("viewer").get(f"{UI}/", params={"q": "GD2026040199"}).text


def test_anonymous_page_says_log_in(web, world):
    page = web.client.get(f"{UI}/")
    assert page.status_code == 401 and "登录 Airflow" in page.text and "/auth/login/" in page.text
    assert "尚未登录，或登录已失效" in page.text and "Not authenticated" in page.text  # Airflow's words kept


def _stage_kpi_world(world) -> None:
    """YQ21 in 2025-01: 4 certificates, 3 with an e-certificate; 4 completed cases, one
    held as CASE_OVERDUE; 10 presale cases, 4 of them online (target 30 %)."""
    base = {"_load_id": "t", "gxsj": datetime(2025, 1, 31)}
    with world.engine.begin() as conn:
        for n in range(4):
            conn.execute(stg_bdc_zs.insert().values(
                zsid=f"Z{n}", ywh=f"C{n}", zslx=1, bdcqzh=f"N{n}", bdcqzh_norm=f"N{n}", bdcdyh="x" * 28, qlrmc="甲",
                holders_norm="甲", djjg="YQ21", szsj=datetime(2025, 1, 10, 9), zszt=1, **base))
        for n in range(3):
            conn.execute(stg_bdc_dzzz_zzxx.insert().values(
                zzid=f"E{n}", zzbs="b", zzlxdm="t", bdcqzh=f"N{n}", bdcqzh_norm=f"N{n}", holders_norm="甲",
                zzbfrq=datetime(2025, 1, 10, 10), zzzt=1, **base))
        for n in range(4):
            conn.execute(stg_djt_dj_sl.insert().values(
                ywh=f"DONE-{n}", djjg="YQ21", qxdm="140321", djdl="200", sqfs=1, slsj=datetime(2025, 1, 2, 9),
                ajzt=2, jssj=datetime(2025, 1, 20, 9), gqts=0, **base))
        for n in range(10):
            conn.execute(stg_djt_dj_sl.insert().values(
                ywh=f"PRE-{n}", djjg="YQ21", qxdm="140321", djdl="700", sqfs=2 if n < 4 else 1,
                slsj=datetime(2025, 1, 3, 9), ajzt=1, gqts=0, **base))
    world.add("late", "CASE_OVERDUE", "DONE-0", "YQ21", as_of=datetime(2025, 2, 1))  # January judged


def test_kpis_for_a_month_with_six_month_trends(web, world):
    _stage_kpi_world(world)
    body = web.client.get("/bdcwatch/api/kpis", headers=web.headers("viewer"), params={"period": "2025-01"}).json()
    assert body["period"] == "2025-01"
    yq21 = next(u for u in body["units"] if u["unit_code"] == "YQ21")
    assert (yq21["ecert_coverage"], yq21["on_time"], yq21["online_share"], yq21["online_target"]) == (75.0, 75.0, 40.0, 30.0)
    assert yq21["online_met"] is True
    # YQ21's findings: f2 f7 f12 f17 f22 f27 (+ late); f12 closed 2025-01-20; none overdue (due dates ahead)
    assert (yq21["open"], yq21["closed_in_period"]) == (6, 1)
    assert {u["unit_code"] for u in body["units"]} == {"YQ00", "YQ11", "YQ21", "YQ22", "YQGX"}
    assert web.client.get("/bdcwatch/api/kpis", headers=web.headers("viewer"), params={"period": "2025-13"}).status_code == 422
    page = web.session("viewer").get(f"{UI}/kpis", params={"period": "2025-01"}).text
    assert "单位指标 · 2025-01" in page and "75.0%" in page and "40.0%" in page
    assert page.count('<svg class="spark"') == 5 * 6  # six trend lines per unit
    assert "2024-08" in page and "2025-01" in page  # the six months ending with January
    # December was never checked: its on-time share is unknown, not 100 %
    december = web.client.get("/bdcwatch/api/kpis", headers=web.headers("viewer"), params={"period": "2024-12"}).json()
    assert {u["on_time"] for u in december["units"]} == {None}


def test_quarantine_by_table_and_reason(web, world):
    from bdcwatch.sources.quarantine import hold

    class Problem:  # what the gate hands over: GX's type and the suite's English words
        def __init__(self, key, column, expectation, description):
            self.key, self.column, self.expectation, self.description = (key,), column, expectation, description

    with world.engine.begin() as conn:
        hold(conn, "BDC_ZS", [
            Problem("Z1", "SZSJ", "expect_column_values_to_not_be_null",
                    "SZSJ is required (NOT NULL in the reference schema) or did not parse"),
            Problem("Z2", "QLRMC", "expect_column_value_lengths_to_be_between", "QLRMC (holder names) must not be blank"),
            # held by an expectation since taken out of the suite: its kind is worded all the same
            Problem("Z3", "BDCQZH", "expect_column_values_to_match_regex", "BDCQZH must match the national format"),
        ], [{"ZSID": "Z1", "SZSJ": None}, {"ZSID": "Z2", "QLRMC": f"{SCRIPT} {ID_NUMBER}"},
            {"ZSID": "Z3", "BDCQZH": "阳(2026)1号"}], [("Z1",), ("Z2",), ("Z3",)], "load-1",
            datetime(2025, 1, 3, 1, 0))
    page = web.session("viewer").get(f"{UI}/quarantine").text
    # Each reason in Chinese naming table and column, GX's English name below it, the value held.
    assert "BDC_ZS.SZSJ 缮证时间为空或不是有效日期" in page and "BDC_ZS.QLRMC 权利人名称为空白" in page
    assert "BDC_ZS.BDCQZH 未通过数据质量检查" in page and "值：“阳(2026)1号”" in page
    assert '缮证时间为空或不是有效日期<div class="code">expect_column_values_to_not_be_null</div></td>' in page  # by reason
    assert '<div class="code">expect_column_value_lengths_to_be_between</div>' in page
    # The stored English reason (the log line's words) is the tooltip, not the text read.
    assert 'title="BDC_ZS [ZSID=Z1] column SZSJ: value None — SZSJ is required' in page
    shown = re.sub(r' title="[^"]*"', "", page)
    assert "is required" not in shown and "must not be blank" not in shown and "column SZSJ" not in shown
    assert ID_NUMBER not in page and MASKED_ID in shown and "<script>alert" not in page
    assert "值：“&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; " + MASKED_ID + "”" in page
    only = web.session("viewer").get(f"{UI}/quarantine", params={"table": "BDC_ZS", "column": "SZSJ"}).text
    assert "ZSID=Z1" in only and "ZSID=Z2" not in only
    past = web.session("viewer").get(f"{UI}/quarantine", params={"table": "BDC_ZS", "page": 7}).text
    assert "ZSID=Z1" in past and "ZSID=Z2" in past  # past the last page: the last page
    api = web.client.get("/bdcwatch/api/quarantine", headers=web.headers("viewer")).json()
    assert {(g["source_table"], g["column_name"], g["rows"]) for g in api["groups"]} == {
        ("BDC_ZS", "SZSJ", 1), ("BDC_ZS", "QLRMC", 1), ("BDC_ZS", "BDCQZH", 1)}
    item = next(i for i in api["items"] if i["row_key"] == "ZSID=Z1")
    assert (item["expectation"], item["reason_zh"]) == ("expect_column_values_to_not_be_null",
                                                        "BDC_ZS.SZSJ 缮证时间为空或不是有效日期")
    assert item["reason"].startswith("BDC_ZS [ZSID=Z1] column SZSJ: value None")  # stored as the gate always stored it


def test_samples_per_unit_with_a_place_for_verdicts(web, world):
    from bdcwatch.dates.periods import Period
    from bdcwatch.ledger.cycles import record_inspection

    inspection_id = record_inspection(
        world.engine, cycle="monthly_quality_check", unit_code="YQ21", period=Period.parse("2025-01-01", "2025-02-01"),
        population=[("A1", "200"), ("A2", "100"), ("A3", "200")], sample=[("A1", "200"), ("A2", "100")], seed="s",
        rule_codes=["CASE_OVERDUE"], run_id="r", started=datetime(2025, 2, 1, 3), finished=datetime(2025, 2, 1, 3, 5))
    page = web.session("viewer").get(f"{UI}/samples", params={"period": "2025-01", "inspection": inspection_id}).text
    assert "月度质量评查" in page and "YQ21" in page and "A1" in page and "100 首次登记" in page
    assert page.count("待评查") == 2  # the verdict column (CONTRACT §8) per sampled case
    api = web.client.get("/bdcwatch/api/samples", headers=web.headers("viewer"), params={"period": "2025-01"}).json()
    assert [c["ywh"] for c in api["inspections"][0]["cases"]] == ["A1", "A2"]


def test_outbox_resend_by_op_with_a_note(web, world):
    from bdcwatch.mail.outbox import OutgoingMessage, enqueue

    with world.engine.begin() as conn:
        ids = [enqueue(conn, OutgoingMessage(f"k{n}", "unit_digest", "ecert_completeness", "r", "2025-01", "YQ21",
                                             ("head@example.org",), f"摘要 {n} {ID_NUMBER}", "<p/>"), datetime(2025, 2, 1))
               for n in range(2)]
        conn.execute(outbox.update().where(outbox.c.id == ids[0]).values(status="unconfirmed"))
    page = web.session("op").get(f"{UI}/outbox").text
    assert "发送结果未确认" in page and f'data-post="/bdcwatch/api/outbox/{ids[0]}/resend"' in page
    assert f'data-post="/bdcwatch/api/outbox/{ids[1]}/resend"' not in page  # pending: nothing to resend
    assert ID_NUMBER not in page and MASKED_ID in page
    assert "data-post" not in web.session("viewer").get(f"{UI}/outbox").text
    url = f"/bdcwatch/api/outbox/{ids[0]}/resend"
    assert web.client.post(url, headers=web.headers("viewer"), json={"note": "x"}).status_code == 403
    assert web.client.post(url, headers=web.headers("op"), json={"note": " "}).status_code == 422
    assert web.client.post(url, headers=web.headers("op"), json={"note": "收件人确认未收到"}).status_code == 200
    assert web.client.post(url, headers=web.headers("op"), json={"note": "again"}).status_code == 409
    assert web.client.post("/bdcwatch/api/outbox/9999/resend", headers=web.headers("op"), json={"note": "x"}).status_code == 404
    with world.engine.connect() as conn:
        row = conn.execute(select(outbox.c.status, outbox.c.resend_log).where(outbox.c.id == ids[0])).one()
    assert row.status == "pending" and "op (unconfirmed → pending): 收件人确认未收到" in row.resend_log


def test_the_outbox_lists_what_went_to_whom(web, world):
    from bdcwatch.mail.outbox import OutgoingMessage, enqueue

    with world.engine.begin() as conn:
        ids = [enqueue(conn, OutgoingMessage(f"s{n}", "unit_digest", "ecert_completeness", "r", "2025-01", "YQ21",
                                             (f"head{n}@example.org",), f"已发摘要 {n} {ID_NUMBER}", "<p/>"),
                       datetime(2025, 2, 1)) for n in range(3)]
        conn.execute(outbox.update().where(outbox.c.id.in_(ids[:2])).values(status="sent",
                                                                              sent_at=datetime(2025, 2, 1, 8, 30)))
    page = web.session("viewer").get(f"{UI}/outbox").text
    sent = page.split("最近已发送", 1)[1]
    assert "最新 2 封" in sent and "head0@example.org" in sent and "head1@example.org" in sent
    assert "head2@example.org" not in sent  # still pending: in the first table
    assert sent.index("已发摘要 1") < sent.index("已发摘要 0")  # newest first
    assert "2025-02-01 08:30" in sent and ID_NUMBER not in page


def test_open_and_overdue_are_taken_now_for_the_month_just_ended():
    """The monthly check finds last month's problems on the 1st: at the month's end the
    ledger did not hold them yet, so that month (and the running one) shows the ledger now."""
    from bdcwatch.reports.kpis import ledger_moment, month_period

    now = datetime(2026, 12, 1, 4, 50)
    assert ledger_moment(month_period("2026-11"), now) == now
    assert ledger_moment(month_period("2026-12"), now) == now
    assert ledger_moment(month_period("2026-10"), now) == datetime(2026, 11, 1)


def test_a_link_or_form_address_holding_an_id_shaped_case_number_is_kept_whole():
    """The pages' cleaning must not mask inside an address: an 18-digit YWH in the verdict
    form's data-post became 202*************34 and the verdict went to no case."""
    from bdcwatch.web.render import _finalize

    address = "/bdcwatch/api/inspections/7/cases/202603050000001234/verdict"
    assert _finalize(address) == address
    assert _finalize("内容\u202e倒序") == "内容倒序"
