"""The loops people close in the UI (CONTRACT §7, §8; issue 14) through Airflow's own app
and auth manager on a real migrated supervision_db: review verdicts per case and by the
filled checklist, complaint exports uploaded, yearly-duty evidence. Who may do what, the
same effects and audit trail as the CLI, refusals naming their rows, masking, escaping."""

from __future__ import annotations

import io
import json
import re
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
import yaml
from sqlalchemy import func, select

from bdcwatch.standards.masking import mask, mask_id_numbers
from bdcwatch.store.models import duty_evidence, finding, finding_event, inspection, inspection_sample, quarantine
from tests.support import airflow_uri
from tests.web.ledger_world import ID_NUMBER, MASKED_ID, SCRIPT, new_world, standard_ledger

API = "/bdcwatch/api"
UI = "/bdcwatch/ui"
INSPECTION = 41
SAMPLE = [("YQ21-S1", "200"), ("YQ21-S2", "100"), ("YQ21-S3", "300")]
CHECKLIST = "质量评查抽查清单_YQ21_2025-01.xlsx"


@pytest.fixture
def world(sqlite_url, monkeypatch, tmp_path):
    url = sqlite_url.migrated("supervision")
    monkeypatch.setenv("AIRFLOW_CONN_SUPERVISION_DB", airflow_uri(url))
    # A policy with a complaints folder (the bundled one has none).
    from bdcwatch.config.policy import load_policy

    raw = yaml.safe_load(Path(load_policy().source.removesuffix(" (bundled default)")).read_text(encoding="utf-8"))
    raw["intake"] = {**raw.get("intake", {}), "complaints_dir": str(tmp_path / "complaints")}
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("BDCWATCH_POLICY", str(policy_file))
    world = standard_ledger(new_world(url))
    with world.engine.begin() as conn:
        conn.execute(inspection.insert().values(
            id=INSPECTION, cycle="monthly_quality_check", unit_code="YQ21", period="2025-01", population_size=30,
            sample_size=3, findings_count=0, seed="s", started_at=datetime(2025, 2, 1, 3),
            finished_at=datetime(2025, 2, 1, 3, 5)))
        conn.execute(inspection_sample.insert(), [{"inspection_id": INSPECTION, "ywh": y, "djdl": d} for y, d in SAMPLE])
    world.folder = tmp_path / "complaints"
    return world


def verdict_url(ywh: str) -> str:
    return f"{API}/samples/{INSPECTION}/cases/{ywh}/verdict"


def defects(world) -> list:
    with world.engine.connect() as conn:
        return list(conn.execute(select(finding).where(finding.c.rule_code == "REVIEW_DEFECT")))


def count(world, table) -> int:
    with world.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def checklist(rows: list[tuple]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "抽查清单"
    sheet.append(["序号", "业务号", "登记大类", "评查结论（合格/不合格）", "问题描述", "评查人", "评查日期"])
    for n, row in enumerate(rows, start=1):
        sheet.append([n, *row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def evidence_form(unit: str = "YQ21", done_on: str = "2025-05-20", note: str = "窗口应急演练") -> dict[str, str]:
    return {"unit": unit, "done_on": done_on, "note": note}


WRITES = [
    ("json", verdict_url("YQ21-S1"), {"verdict": "合格", "reviewer": "张评查"}),
    ("file", f"{API}/samples/checklist", ("file", CHECKLIST)),
    ("file", f"{API}/complaints", ("file", "12345.csv")),
    ("form", f"{API}/duties/EMERGENCY_DRILL/evidence", None),
]


def _post(client, kind, url, payload, headers=None):
    if kind == "json":
        return client.post(url, json=payload, headers=headers)
    if kind == "file":
        field, name = payload
        content = checklist([("YQ21-S1", "", "合格", "", "张评查", "")]) if name.endswith(".xlsx") else \
            "工单编号,被反映单位,内容\nGD1,YQ21,态度差\n".encode()
        return client.post(url, files={field: (name, content)}, headers=headers)
    return client.post(url, data=evidence_form(), headers=headers)


@pytest.mark.parametrize(("kind", "url", "payload"), WRITES)
def test_writes_anonymous_401_viewer_403_op_succeeds(web, world, kind, url, payload):
    before = (count(world, finding_event), count(world, finding), count(world, duty_evidence))
    assert _post(web.client, kind, url, payload).status_code == 401
    for user in ("viewer", "user1"):
        answer = _post(web.client, kind, url, payload, web.headers(user))
        assert answer.status_code == 403, (user, answer.text)
    assert (count(world, finding_event), count(world, finding), count(world, duty_evidence)) == before
    done = _post(web.client, kind, url, payload, web.headers("op"))
    assert done.status_code == 200, done.text
    assert count(world, finding_event) > before[0]  # every change is an audit event


@pytest.mark.parametrize("path", [f"{API}/duties", f"{UI}/duties"])
def test_duty_reads_need_a_reader(web, world, path):
    assert web.client.get(path).status_code == 401
    assert web.client.get(path, headers=web.headers("viewer")).status_code == 200


def test_a_failed_verdict_makes_one_review_defect_with_the_user_as_actor(web, world):
    answer = web.client.post(verdict_url("YQ21-S2"), headers=web.headers("op"), json={
        "verdict": "不合格", "reviewer": "张评查", "description": f"缺询问笔录，申请人 {ID_NUMBER}"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    (defect,) = defects(world)
    assert body["defects_opened"] == [defect.id] and (body["reviewed"], body["defective"]) == (1, 1)
    assert (defect.subject_id, defect.unit_code, defect.period, defect.severity) == ("YQ21-S2", "YQ21", "2025-01",
                                                                                    "medium")
    assert ID_NUMBER not in defect.detail and "张评查" in defect.detail
    detail = web.client.get(f"{API}/findings/{defect.id}", headers=web.headers("viewer")).json()
    assert [e["actor"] for e in detail["events"]] == ["op"]
    with world.engine.connect() as conn:
        sample_event = conn.execute(select(finding_event).where(
            finding_event.c.subject == f"sample:{INSPECTION}:YQ21-S2")).one()
        counts = conn.execute(select(inspection.c.reviewed_count, inspection.c.defective_count)
                              .where(inspection.c.id == INSPECTION)).one()
    assert (sample_event.actor, sample_event.from_status, sample_event.to_status) == ("op", None, "不合格")
    assert tuple(counts) == (1, 1)
    case = body["case"]
    assert (case["verdict"], case["reviewer"], case["recorded_by"], case["finding_id"]) == ("不合格", "张评查", "op",
                                                                                          defect.id)
    assert ID_NUMBER not in answer.text and MASKED_ID in case["description"]
    samples = web.client.get(f"{API}/samples", headers=web.headers("viewer"), params={"period": "2025-01"}).json()
    shown = {c["ywh"]: c for c in samples["inspections"][0]["cases"]}
    assert shown["YQ21-S2"]["verdict"] == "不合格" and shown["YQ21-S2"]["recorded_at"]
    assert shown["YQ21-S1"]["verdict"] is None
    # The same verdict again changes nothing: still one finding, no new event.
    events = count(world, finding_event)
    again = web.client.post(verdict_url("YQ21-S2"), headers=web.headers("admin"), json={
        "verdict": "不合格", "reviewer": "张评查", "description": f"缺询问笔录，申请人 {ID_NUMBER}"})
    assert again.json()["unchanged"] == 1 and count(world, finding_event) == events and len(defects(world)) == 1


def test_changing_a_verdict_is_audited_and_closes_the_defect(web, world):
    web.client.post(verdict_url("YQ21-S3"), headers=web.headers("op"),
                    json={"verdict": "不合格", "reviewer": "张评查", "description": "缺材料"})
    changed = web.client.post(verdict_url("YQ21-S3"), headers=web.headers("admin"),
                              json={"verdict": "合格", "reviewer": "王复核", "description": "补正后合格"})
    assert changed.status_code == 200 and changed.json()["defects_closed"] == [defects(world)[0].id]
    with world.engine.connect() as conn:
        history = list(conn.execute(select(finding_event).where(
            finding_event.c.subject == f"sample:{INSPECTION}:YQ21-S3").order_by(finding_event.c.id)))
        from bdcwatch.ledger.audit import verify_chain

        assert verify_chain(conn) == []
    assert [(e.actor, e.from_status, e.to_status) for e in history] == [("op", None, "不合格"), ("admin", "不合格", "合格")]
    assert "王复核" in history[-1].note
    assert defects(world)[0].status == "closed"


@pytest.mark.parametrize(("ywh", "body", "reason"), [
    ("NOT-SAMPLED", {"verdict": "不合格", "reviewer": "张评查", "description": "x"}, "不在本次抽查样本中"),
    ("YQ21-S1", {"verdict": "基本合格", "reviewer": "张评查"}, "应为“合格”或“不合格”"),
    ("YQ21-S1", {"verdict": "合格", "reviewer": "  "}, "缺评查人"),
    ("YQ21-S1", {"verdict": "不合格", "reviewer": "张评查"}, "须填写问题描述"),
    ("YQ21-S1", {"verdict": "合格", "reviewer": "张评查", "reviewed_on": "2999-01-01"}, "晚于今天"),
    (ID_NUMBER, {"verdict": "合格", "reviewer": "张评查"}, "不在本次抽查样本中"),  # echoed masked (§6)
])
def test_a_refused_verdict_names_why_and_applies_nothing(web, world, ywh, body, reason):
    events = count(world, finding_event)
    answer = web.client.post(verdict_url(ywh), headers=web.headers("op"), json=body)
    assert answer.status_code == 422, answer.text
    assert reason in answer.json()["detail"] and answer.json()["problems"][0]["ywh"] == mask_id_numbers(ywh)
    assert ID_NUMBER not in answer.text
    assert count(world, finding_event) == events and defects(world) == []


def test_the_actor_is_never_a_form_field_and_unknown_inspections_are_404(web, world):
    events = count(world, finding_event)
    forged = web.client.post(verdict_url("YQ21-S1"), headers=web.headers("op"),
                             json={"verdict": "合格", "reviewer": "张评查", "actor": "局长"})
    assert forged.status_code == 422
    missing = web.client.post(f"{API}/samples/999/cases/YQ21-S1/verdict", headers=web.headers("op"),
                              json={"verdict": "合格", "reviewer": "张评查"})
    assert missing.status_code == 404
    assert count(world, finding_event) == events


def test_a_checklist_with_one_bad_row_applies_nothing_and_names_the_row(web, world):
    events = count(world, finding_event)
    bad = checklist([("YQ21-S1", "", "合格", "", "张评查", "2025-02-10"),
                     ("YQ21-S2", "", "不合格", "缺询问笔录", "张评查", "2025-02-10"),
                     ("OUTSIDE-1", "", "不合格", "不在样本", "张评查", "2025-02-10")])
    answer = web.client.post(f"{API}/samples/checklist", headers=web.headers("op"), files={"file": (CHECKLIST, bad)})
    assert answer.status_code == 422, answer.text
    assert "第4行" in answer.json()["detail"] and "OUTSIDE-1" in answer.json()["detail"]
    assert [p["row"] for p in answer.json()["problems"]] == [4]
    assert count(world, finding_event) == events and defects(world) == []
    good = checklist([("YQ21-S1", "", "合格", "", "张评查", "2025-02-10"),
                      ("YQ21-S2", "", "不合格", "缺询问笔录", "张评查", "2025-02-10"), ("YQ21-S3", "", "", "", "", "")])
    done = web.client.post(f"{API}/samples/checklist", headers=web.headers("op"), files={"file": (CHECKLIST, good)})
    assert done.status_code == 200, done.text
    assert (done.json()["recorded"], done.json()["not_reviewed"], len(done.json()["defects_opened"])) == (2, 1, 1)
    assert [d.subject_id for d in defects(world)] == ["YQ21-S2"]


def test_a_gb18030_complaint_export_lands_as_complaint_findings(web, world):
    text = ("工单编号,来源,受理时间,被反映单位,业务号,内容,诉求类型\r\n"
            f"GD2025010001,12345,2025-01-05 10:20:00,YQ21,,窗口人员态度差（身份证{ID_NUMBER}）,投诉\r\n"
            "GD2025010002,好差评,2025-01-06 09:05:00,平定县不动产登记中心,,办理时间太长,举报\r\n"
            "GD2025010003,信访,2025-01-07,某某县不动产登记中心,,反映收取好处费,举报\r\n")
    answer = web.client.post(f"{API}/complaints", headers=web.headers("op"),
                             files={"file": ("12345导出.csv", text.encode("gb18030"))})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["encoding"], body["rows"], body["new"], body["quarantined"]) == ("gb18030", 3, 2, 1)
    assert body["archived_to"].startswith("archive/") and not list(world.folder.glob("*.csv"))
    with world.engine.connect() as conn:
        found = {r.subject_id: r for r in conn.execute(select(finding).where(finding.c.rule_code == "COMPLAINT"))}
        held = conn.execute(select(quarantine).where(quarantine.c.source_table == "COMPLAINT")).all()
        actors = set(conn.execute(select(finding_event.c.actor).where(
            finding_event.c.finding_id.in_([r.id for r in found.values()]))).scalars())
    assert set(found) == {"GD2025010001", "GD2025010002"}
    assert found["GD2025010002"].unit_code == "YQ21" and found["GD2025010002"].severity == "high"
    assert found["GD2025010001"].dag_id == "complaint_intake" and actors == {"op"}
    assert ID_NUMBER not in json.dumps(json.loads(found["GD2025010001"].detail), ensure_ascii=False)
    assert len(held) == 1 and "某某县" in held[0].reason
    again = web.client.post(f"{API}/complaints", headers=web.headers("op"),
                            files={"file": ("12345导出.csv", text.encode("gb18030"))})
    assert again.json()["already_processed"] is True and count(world, finding) == 30 + 2
    refused = web.client.post(f"{API}/complaints", headers=web.headers("op"), files={"file": ("x.txt", b"a")})
    assert refused.status_code == 422 and ".csv" in refused.json()["detail"]
    # A file that cannot be read as an export: 422 naming why, the file kept in rejected/.
    unreadable = web.client.post(f"{API}/complaints", headers=web.headers("op"),
                                 files={"file": ("坏文件.csv", b"\x81\x30\xff\xff")})
    assert unreadable.status_code == 422, unreadable.text
    assert "坏文件.csv" in unreadable.json()["detail"] and "rejected" in unreadable.json()["detail"]
    assert unreadable.json()["archived_to"].startswith("rejected/")


def test_duty_evidence_via_the_api_shows_in_duty_status(web, world):
    def drill() -> dict:
        items = web.client.get(f"{API}/duties", headers=web.headers("viewer"), params={"year": 2025}).json()["items"]
        return next(i for i in items if i["unit_code"] == "YQ21" and i["duty_code"] == "EMERGENCY_DRILL")

    assert drill()["recorded"] == 0 and drill()["state"] == "missed"  # 2025 is over whatever today is
    answer = web.client.post(f"{API}/duties/EMERGENCY_DRILL/evidence", headers=web.headers("op"),
                             data=evidence_form(note=f"应急演练 {SCRIPT} {ID_NUMBER}"),
                             files={"file": (f"签到表_{ID_NUMBER}.pdf", b"%PDF-1.4 sign-in")})
    assert answer.status_code == 200, answer.text
    assert (drill()["recorded"], drill()["state"], drill()["state_text"]) == (1, "done", "已完成")
    listed = web.client.get(f"{API}/duties", headers=web.headers("viewer"), params={"year": 2025}).json()["evidence"]
    # The file's name is data too: an ID number in it is masked like one in the note (§6).
    assert [(e["recorded_by"], e["file_name"]) for e in listed] == [("op", f"签到表_{mask(ID_NUMBER)}.pdf")]
    assert ID_NUMBER not in json.dumps(listed, ensure_ascii=False)
    page = web.session("viewer").get(f"{UI}/duties", params={"year": 2025}).text
    assert "应急演练 &lt;script&gt;" in page and ID_NUMBER not in page and "<script>alert" not in page
    assert f"签到表_{mask(ID_NUMBER)}.pdf" in page
    assert "已完成" in page and "data-upload" not in page  # a viewer gets no form
    for bad, reason in ((evidence_form(done_on="2999-01-01"), "晚于今天"), (evidence_form(unit="XX99"), "XX99"),
                        (evidence_form(note=" "), "note"), (evidence_form(done_on="5月20日"), "不是日期")):
        refused = web.client.post(f"{API}/duties/EMERGENCY_DRILL/evidence", headers=web.headers("op"), data=bad)
        assert refused.status_code == 422 and reason in refused.json()["detail"], refused.text
    unknown = web.client.post(f"{API}/duties/NO_SUCH/evidence", headers=web.headers("op"), data=evidence_form())
    assert unknown.status_code == 422 and count(world, duty_evidence) == 1


def test_samples_page_shows_verdicts_and_forms_for_op_only_text_escaped(web, world):
    web.client.post(verdict_url("YQ21-S2"), headers=web.headers("op"), json={
        "verdict": "不合格", "reviewer": "张评查", "description": f"材料{SCRIPT}不全 {ID_NUMBER}"})
    params = {"period": "2025-01", "inspection": INSPECTION}
    op_page = web.session("op").get(f"{UI}/samples", params=params).text
    assert op_page.count('class="verdict-form') == 3 and 'data-upload="/bdcwatch/api/samples/checklist"' in op_page
    assert f'data-post="/bdcwatch/api/samples/{INSPECTION}/cases/YQ21-S2/verdict"' in op_page
    viewer = web.session("viewer").get(f"{UI}/samples", params=params).text
    assert "verdict-form" not in viewer and "data-upload" not in viewer and "只读" in viewer
    for page in (op_page, viewer):
        assert "材料&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;不全" in page and "<script>alert" not in page
        assert ID_NUMBER not in page and MASKED_ID in page
        assert page.count("待评查") == 2 and "不合格" in page and "张评查" in page
        # the overview: progress of the hand review beside what the rules found
        assert '<td class="num">1 / 3</td><td class="num">1</td>' in page and "规则发现问题" in page
    (defect,) = defects(world)
    assert f'href="/bdcwatch/ui/findings/{defect.id}"' in viewer
    quarantine_page = web.session("op").get(f"{UI}/quarantine").text
    assert 'data-upload="/bdcwatch/api/complaints"' in quarantine_page
    assert 'href="/bdcwatch/ui/duties"' in quarantine_page  # the navigation's new tab


def test_cookie_uploads_need_the_pages_csrf_token(web, world):
    browser = web.session("op")
    token = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)">',
                      browser.get(f"{UI}/duties").text).group(1)
    url = f"{API}/duties/EMERGENCY_DRILL/evidence"
    assert browser.post(url, data=evidence_form()).status_code == 403  # a cross-site form could send this
    forged_actor = {**evidence_form(), "actor": "局长", "recorded_by": "局长"}  # ignored: the actor is the login
    assert browser.post(url, data=forged_actor, headers={"X-CSRF-Token": token}).status_code == 200
    with world.engine.connect() as conn:
        assert conn.execute(select(duty_evidence.c.recorded_by)).scalars().all() == ["op"]
