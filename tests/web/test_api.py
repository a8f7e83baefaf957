"""The JSON API of CONTRACT §7 through Airflow's own app and auth manager, on a real
migrated supervision_db: who may read and change, the lifecycle and its audit trail,
filters and paging, masking and escaping."""

from __future__ import annotations

import io
import json
import re
from datetime import datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from bdcwatch.store.models import finding, finding_event
from tests.web.ledger_world import ID_NUMBER, MASKED_ID, SCRIPT, new_world, standard_ledger

API = "/bdcwatch/api"


@pytest.fixture
def world(sqlite_url, monkeypatch):
    url = sqlite_url.migrated("supervision")
    monkeypatch.setenv("AIRFLOW_CONN_SUPERVISION_DB", _conn(url))
    return standard_ledger(new_world(url))


@pytest.fixture
def any_world(database_url, monkeypatch):
    """The same ledger on SQLite, PostgreSQL and MariaDB (the last two: the dialect tier)."""
    url = database_url.migrated("supervision")
    monkeypatch.setenv("AIRFLOW_CONN_SUPERVISION_DB", _conn(url))
    return standard_ledger(new_world(url))


def _conn(url: str) -> str:
    from tests.support import airflow_uri

    return airflow_uri(url)


def _events(world, name: str) -> list:
    with world.engine.connect() as conn:
        return list(conn.execute(select(finding_event).where(finding_event.c.finding_id == world.ids[name])
                                 .order_by(finding_event.c.id)))


ROUTES = [("GET", f"{API}/findings"), ("GET", f"{API}/findings.xlsx"), ("GET", f"{API}/findings/1"),
          ("POST", f"{API}/findings/1/status"), ("GET", f"{API}/kpis"), ("GET", f"{API}/quarantine"),
          ("GET", f"{API}/samples"), ("GET", f"{API}/outbox"), ("POST", f"{API}/outbox/1/resend"),
          ("GET", "/bdcwatch/ui/"), ("GET", "/bdcwatch/ui/findings/1"), ("GET", "/bdcwatch/ui/kpis"),
          ("GET", "/bdcwatch/ui/quarantine"), ("GET", "/bdcwatch/ui/samples"), ("GET", "/bdcwatch/ui/outbox"),
          ("GET", "/bdcwatch/static/bdcwatch.css"), ("GET", "/bdcwatch/")]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_needs_a_logged_in_user(web, world, method, path):
    answer = web.client.request(method, path, json={"to": "closed", "note": "x"} if method == "POST" else None)
    assert answer.status_code == 401 and "尚未登录" in answer.text  # Airflow's "Not authenticated", in Chinese
    assert "晋(2025)" not in answer.text and "YWH-2025" not in answer.text
    garbage = web.client.request(method, path, headers={"Authorization": "Bearer not-a-token"})
    assert garbage.status_code == 401 and "登录凭据无效" in garbage.text  # no user is logged in by it (§7)
    assert "晋(2025)" not in garbage.text and "YWH-2025" not in garbage.text


def test_viewer_reads_but_may_not_change(web, world):
    assert web.client.get(f"{API}/findings", headers=web.headers("viewer")).json()["total"] == 30
    for user in ("viewer", "user1"):
        answer = web.client.post(f"{API}/findings/{world.ids['f1']}/status", headers=web.headers(user),
                                 json={"to": "closed", "note": "想关掉"})
        assert answer.status_code == 403, user
        assert "变更问题台账需要 op 或 admin 角色" in answer.json()["detail"]
    assert world.row("f1").status == "open" and len(_events(world, "f1")) == 1


@pytest.mark.parametrize("user", ["op", "admin"])
def test_op_and_admin_change_through_the_lifecycle_as_themselves(web, world, user):
    fid = world.ids["f1"]
    answer = web.client.post(f"{API}/findings/{fid}/status", headers=web.headers(user),
                             json={"to": "rectifying", "note": "  已通知窗口补正  "})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "rectifying"
    assert body["events"][-1] | {"at": None} == {"at": None, "actor": user, "from": "open", "to": "rectifying",
                                                 "note": "已通知窗口补正"}
    last = _events(world, "f1")[-1]
    assert (last.actor, last.from_status, last.to_status, last.note) == (user, "open", "rectifying", "已通知窗口补正")
    closed = web.client.post(f"{API}/findings/{fid}/status", headers=web.headers(user),
                             json={"to": "closed", "note": "已补正并核实"})
    assert closed.json()["status"] == "closed" and closed.json()["closed_at"]
    from bdcwatch.ledger.audit import verify_chain

    with world.engine.connect() as conn:
        assert verify_chain(conn) == []


def test_the_actor_is_never_a_body_field(web, world):
    answer = web.client.post(f"{API}/findings/{world.ids['f1']}/status", headers=web.headers("op"),
                             json={"to": "rectifying", "note": "误报，核实中", "actor": "局长"})
    assert answer.status_code == 200 and world.row("f1").status == "rectifying"
    last = _events(world, "f1")[-1]
    assert (last.actor, last.to_status) == ("op", "rectifying")  # the logged-in user, not the body's "actor"


def test_open_is_not_closed_without_rectifying(web, world):
    """CONTRACT §4: open → rectifying → closed. Skipping rectifying is a refused change."""
    url = f"{API}/findings/{world.ids['f1']}/status"
    before = len(_events(world, "f1"))
    answer = web.client.post(url, headers=web.headers("op"), json={"to": "closed", "note": "误报"})
    assert answer.status_code == 409 and "待整改 → 已销号" in answer.json()["detail"]
    assert world.row("f1").status == "open" and len(_events(world, "f1")) == before
    for step in ("rectifying", "closed"):
        assert web.client.post(url, headers=web.headers("op"), json={"to": step, "note": "误报，已核实"}).status_code == 200
    assert world.row("f1").status == "closed"


def test_a_refused_change_is_409_with_the_reason_and_moves_nothing(web, world):
    fid = world.ids["f12"]  # closed
    answer = web.client.post(f"{API}/findings/{fid}/status", headers=web.headers("op"),
                             json={"to": "rectifying", "note": "再整改"})
    assert answer.status_code == 409
    assert f"问题 {fid}：已销号 → 整改中" in answer.json()["detail"]  # in the words the page uses
    again = web.client.post(f"{API}/findings/{fid}/status", headers=web.headers("op"), json={"to": "closed", "note": "x"})
    assert again.status_code == 409 and "已是“已销号”" in again.json()["detail"]
    assert world.row("f12").status == "closed" and len(_events(world, "f12")) == 3  # detected, rectifying, closed


@pytest.mark.parametrize("body", [{"to": "rectifying", "note": ""}, {"to": "rectifying", "note": "   "},
                                  {"to": "rectifying"}, {"note": "x"}])
def test_an_empty_note_is_422(web, world, body):
    answer = web.client.post(f"{API}/findings/{world.ids['f1']}/status", headers=web.headers("op"), json=body)
    assert answer.status_code == 422
    assert world.row("f1").status == "open"


def test_an_unknown_status_is_a_refused_change(web, world):
    answer = web.client.post(f"{API}/findings/{world.ids['f1']}/status", headers=web.headers("op"),
                             json={"to": "done", "note": "x"})
    assert answer.status_code == 409 and "done" in answer.json()["detail"]
    assert world.row("f1").status == "open"


def test_an_unknown_finding_is_404(web, world):
    assert web.client.get(f"{API}/findings/999999", headers=web.headers("viewer")).status_code == 404
    answer = web.client.post(f"{API}/findings/999999/status", headers=web.headers("op"), json={"to": "closed", "note": "x"})
    assert answer.status_code == 404 and "no such finding" in answer.json()["detail"]


def test_reopening_by_hand_gives_a_fresh_due_date(web, world):
    fid = world.ids["f12"]
    answer = web.client.post(f"{API}/findings/{fid}/status", headers=web.headers("op"),
                             json={"to": "reopened", "note": "复核发现仍未补发"})
    assert answer.status_code == 200
    row = world.row("f12")
    assert row.status == "reopened" and row.closed_at is None and row.due_date > world.row("f0").due_date


def test_cookie_sessions_need_the_pages_csrf_token(web, world):
    fid = world.ids["f1"]
    browser = web.session("op")
    page = browser.get(f"/bdcwatch/ui/findings/{fid}")
    token = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)">', page.text).group(1)
    url = f"{API}/findings/{fid}/status"
    body = {"to": "rectifying", "note": "已通知"}
    assert browser.post(url, json=body).status_code == 403  # the cookie alone is not enough
    # An empty "Bearer " is no token: Airflow signs in by the cookie, so the CSRF check stands.
    assert browser.post(url, json=body, headers={"Authorization": "Bearer "}).status_code == 403
    assert browser.post(url, json=body, headers={"X-CSRF-Token": "0" * 64}).status_code == 403
    assert browser.post(url, json=body, headers={"X-CSRF-Token": token, "Sec-Fetch-Site": "cross-site"}).status_code == 403
    other = web.session("admin").get(f"/bdcwatch/ui/findings/{fid}").text
    assert token not in other  # bound to the session
    assert browser.post(url, content="to=closed&note=x", headers={
        "X-CSRF-Token": token, "Content-Type": "application/x-www-form-urlencoded"}).status_code == 422
    assert world.row("f1").status == "open"
    done = browser.post(url, json=body, headers={"X-CSRF-Token": token, "Sec-Fetch-Site": "same-origin"})
    assert done.status_code == 200 and _events(world, "f1")[-1].actor == "op"


def _all(web, **query):
    answer = web.client.get(f"{API}/findings", headers=web.headers("viewer"), params={**query, "page_size": 500})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_filters(web, any_world):
    world = any_world
    assert _all(web)["total"] == 30
    assert {i["unit_code"] for i in _all(web, unit="YQ21")["items"]} == {"YQ21"}
    assert _all(web, unit="yq21")["total"] == 6  # codes are upper case whatever is typed
    assert {i["rule_code"] for i in _all(web, rule="CASE_OVERDUE")["items"]} == {"CASE_OVERDUE"}
    assert _all(web, severity="high")["total"] == 10
    assert _all(web, status="rectifying")["total"] == 3 and _all(web, status="closed")["total"] == 2
    overdue = _all(web, overdue="true")
    assert {i["id"] for i in overdue["items"]} == {world.ids[f"f{i}"] for i in (0, 4, 8, 16, 20, 24, 28)}
    assert all(i["overdue"] for i in overdue["items"])
    assert _all(web, overdue="false")["total"] == 23
    assert _all(web, period="2025-01")["total"] == 15
    assert [i["id"] for i in _all(web, q="第0000021号")["items"]] == [world.ids["f21"]]
    assert [i["id"] for i in _all(web, q="ywh-2025-001")["items"]] == [world.ids["f19"], world.ids["f16"],
                                                                          world.ids["f13"], world.ids["f10"]]
    assert _all(web, q="%")["total"] == 0  # a wildcard typed is a character, not a pattern
    combined = _all(web, unit="YQ00", severity="high", overdue="true")
    assert [i["id"] for i in combined["items"]] == [world.ids["f0"]]
    for bad in ({"severity": "urgent"}, {"status": "done"}, {"overdue": "maybe"}, {"page": 0}, {"page_size": 501}):
        assert web.client.get(f"{API}/findings", headers=web.headers("viewer"), params=bad).status_code == 422, bad


def test_within_takes_every_finding_that_belongs_to_a_period(web, database_url, monkeypatch):
    """所属期间: a per-period finding by its period label (inside the period asked for),
    any other by the day its problem happened — the rule's date in the detail (SZSJ, JSSJ),
    else the last day the first run judged — whenever the run that found it ran."""
    url = database_url.migrated("supervision")
    monkeypatch.setenv("AIRFLOW_CONN_SUPERVISION_DB", _conn(url))
    world = new_world(url)
    december_run = datetime(2026, 12, 1, 2, 0)
    world.add("nov_cert", "ECERT_MISSING", "晋(2026)阳泉市不动产权第0000001号", "YQ21",
              detail={"szsj": "2026-11-30 23:10:00"}, at=december_run, as_of=datetime(2026, 12, 1))
    world.add("dec_cert", "ECERT_MISSING", "晋(2026)阳泉市不动产权第0000002号", "YQ21",
              detail={"szsj": "2026-12-01 00:05:00"}, at=datetime(2026, 12, 3, 2, 0), as_of=datetime(2026, 12, 3))
    world.add("mismatch", "ECERT_MISMATCH", "晋(2026)阳泉市不动产权第0000003号", "YQ21",
              at=december_run, as_of=datetime(2026, 12, 1))
    world.add("oct_case", "CASE_OVERDUE", "YWH-2026-0001", "YQ21", detail={"jssj": "2026-10-31 17:00:00"},
              at=december_run, as_of=datetime(2026, 12, 1))
    world.add("online", "ONLINE_RATIO_LOW", "YQ21", "YQ21", period="2026-11", at=december_run)
    world.add("ad_hoc", "ONLINE_RATIO_LOW", "YQ22", "YQ22", period="2026-11-01..2026-11-16", at=december_run)
    world.add("training", "STAFF_TRAINING_HOURS", "RY0001", "YQ21", period="2025", at=datetime(2026, 1, 5, 2, 0))

    def within(label: str) -> set[str]:
        names = {found: name for name, found in world.ids.items()}
        return {names[item["id"]] for item in _all(web, within=label)["items"]}

    assert within("2026-11") == {"nov_cert", "mismatch", "online", "ad_hoc"}
    assert within("2026-12") == {"dec_cert"}
    assert within("2026-10") == {"oct_case"}
    assert within("2026-Q4") == within("2026-q4") == within("2026-H2") == within("2026") == {
        "nov_cert", "dec_cert", "mismatch", "oct_case", "online", "ad_hoc"}
    assert within("2025") == {"training"}
    assert within("2026-11-10..2026-11-20") == set()  # the ad hoc period is not inside it
    assert within("2026-11-01..2026-11-16") == {"ad_hoc"}
    assert _all(web, period="2026-11")["total"] == 1  # period stays the stored label (CONTRACT §7)
    item = next(i for i in _all(web, within="2026-11")["items"] if i["id"] == world.ids["nov_cert"])
    assert item["occurred_on"] == "2026-11-30" and item["period"] is None
    for bad in ("2026-13", "next month", "2026-Q5", "2026-H3"):
        answer = web.client.get(f"{API}/findings", headers=web.headers("viewer"), params={"within": bad})
        assert answer.status_code == 422 and "within" in answer.text, bad


def test_paging_is_newest_first_and_complete(web, any_world):
    world = any_world
    seen = []
    for page in (1, 2, 3, 4):
        body = web.client.get(f"{API}/findings", headers=web.headers("viewer"),
                              params={"page": page, "page_size": 8}).json()
        assert body["total"] == 30
        seen += [item["id"] for item in body["items"]]
    assert seen == sorted(world.ids.values(), reverse=True)
    first = web.client.get(f"{API}/findings", headers=web.headers("viewer"), params={"page_size": 1}).json()["items"][0]
    assert first["first_detected_at"] == "2025-01-30 08:00:00"
    assert {"id", "fingerprint", "rule_code", "severity", "unit_code", "subject_type", "subject_id", "period", "detail",
            "status", "first_detected_at", "last_detected_at", "due_date", "closed_at"} <= set(first)


def test_detail_has_history_and_escalations(web, world):
    from datetime import date, datetime

    from bdcwatch.ledger.escalation import record_escalation
    from bdcwatch.mail.outbox import OutgoingMessage, enqueue

    with world.engine.begin() as conn:
        outbox_id = enqueue(conn, OutgoingMessage("esc-1", "escalation", "case_timeliness_watch", "r", "2025-02", None,
                                                  ("boss@example.org",), "逾期上报", "<p>x</p>"), datetime(2025, 2, 3))
        record_escalation(conn, [world.ids["f3"]], today=date(2025, 2, 3), supervisor="CITY_BUREAU",
                          outbox_id=outbox_id, now=datetime(2025, 2, 3, 7, 40))
    body = web.client.get(f"{API}/findings/{world.ids['f3']}", headers=web.headers("viewer")).json()
    assert [(e["actor"], e["from"], e["to"]) for e in body["events"]] == [
        ("bdcwatch:test_dag", None, "open"), ("张科长", "open", "rectifying")]
    assert body["escalations"] == [{"period": "2025-02", "supervisor": "CITY_BUREAU", "at": "2025-02-03 07:40:00",
                                    "outbox_id": outbox_id}]


def test_personal_data_masked_and_scripts_shown_as_text(web, world):
    fid = world.add("evil", "ECERT_MISMATCH", "晋(2025)阳泉市不动产权第9999999号", "YQ00", severity="high",
                    detail={"qlrmc": f"张三{SCRIPT}", "czzt": f"张三 {ID_NUMBER}"})
    world.add("staff", "STAFF_UNKNOWN_HANDLER", ID_NUMBER, "YQ11", severity="high")
    world.move("evil", "rectifying", note=f"核对身份证 {ID_NUMBER} 后处理{SCRIPT}")
    for path in (f"{API}/findings/{fid}", f"{API}/findings?q=2025&page_size=500", f"{API}/findings?unit=YQ11"):
        text = web.client.get(path, headers=web.headers("viewer")).text
        assert ID_NUMBER not in text, path
    assert MASKED_ID in web.client.get(f"{API}/findings/{fid}", headers=web.headers("viewer")).text
    page = web.session("viewer").get(f"/bdcwatch/ui/findings/{fid}").text
    assert ID_NUMBER not in page and MASKED_ID in page
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    ledger = web.session("viewer").get("/bdcwatch/ui/", params={"unit": "YQ11"}).text
    assert ID_NUMBER not in ledger and MASKED_ID in ledger
    answer = web.session("viewer").get(f"/bdcwatch/ui/findings/{fid}")
    assert "script-src 'self'" in answer.headers["content-security-policy"]


def test_xlsx_export_is_the_filtered_list_with_ids(web, world):
    world.add("formula", "CASE_OVERDUE", "=HYPERLINK(\"http://x\")\x0b", "YQ22", detail={"slsj": ID_NUMBER})
    answer = web.client.get(f"{API}/findings.xlsx", headers=web.headers("viewer"), params={"unit": "YQ22"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(answer.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "问题编号" and rows[0][1] == "问题类型"
    expected = _all(web, unit="YQ22")
    assert [r[0] for r in rows[1:]] == [i["id"] for i in expected["items"]] and len(rows) - 1 == expected["total"]
    formula_row = next(r for r in rows if r[0] == world.ids["formula"])
    assert formula_row[6].startswith("=HYPERLINK") and "\x0b" not in formula_row[6]
    cells = {c.coordinate: c for row in sheet.iter_rows() for c in row}
    assert all(c.data_type != "f" for c in cells.values())
    assert all(ID_NUMBER not in str(v) for r in rows for v in r)


def test_the_audit_trail_counts_every_change(web, world):
    with world.engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(finding_event)).scalar_one()
    for name in ("f2", "f5"):
        for step in ("rectifying", "closed"):
            web.client.post(f"{API}/findings/{world.ids[name]}/status", headers=web.headers("op"),
                            json={"to": step, "note": "误报，已核实"})
    with world.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(finding_event)).scalar_one() == before + 4
        assert conn.execute(select(func.count()).select_from(finding).where(finding.c.status == "closed")).scalar_one() == 4


def test_an_id_number_written_with_tabs_is_masked_in_the_api_detail(web, world):
    """The detail is JSON: a tab between an ID number's groups is stored as ``\\t`` there,
    which masking the raw text did not see; the decoded value went out whole (§6)."""
    tabbed = "110101\t19900307\t4578"
    fid = world.add("tabbed", "CASE_OVERDUE", "YWH-TAB", "YQ21", detail={"thyy": f"身份证 {tabbed}"})
    for path in (f"{API}/findings/{fid}", f"{API}/findings"):
        answer = web.client.get(path, headers=web.headers("viewer"), params={"q": "YWH-TAB"})
        assert answer.status_code == 200
        assert "19900307" not in answer.text
        found = answer.json()
        item = found["items"][0] if "items" in found else found
        assert "19900307" not in json.loads(item["detail"])["thyy"]


@pytest.mark.parametrize(("path", "code"), [
    (f"{API}/findings?page=100000000000000000000", 422), (f"{API}/findings/100000000000000000000", 422),
    (f"{API}/findings?within=99999999999", 422), ("/bdcwatch/ui/quarantine?page=1000000000000000000000", 422),
    ("/bdcwatch/ui/kpis?period=99999999999", 422), ("/bdcwatch/ui/duties?year=99999", 422),
    (f"{API}/kpis?period=2026-Q4", 422), ("/bdcwatch/ui/kpis?period=2026-H2", 422),  # 7 characters, not months
    (f"{API}/kpis?period=0001-01", 422), ("/bdcwatch/ui/kpis?period=9999-11", 422),  # months no trend can hold
])
def test_numbers_past_what_the_database_holds_are_refused_not_a_500(web, world, path, code):
    answer = web.client.get(path, headers=web.headers("viewer"))
    assert answer.status_code == code, (path, answer.status_code, answer.text[:300])


def test_a_bad_period_is_echoed_masked(web, world):
    answer = web.client.get(f"{API}/findings", headers=web.headers("viewer"), params={"within": f"ID {ID_NUMBER}"})
    assert answer.status_code == 422 and ID_NUMBER not in answer.text and MASKED_ID in answer.text


def test_an_oversized_upload_is_refused_before_it_is_read(web, world):
    """FastAPI reads a whole form before any route checks who sent it: without the limit,
    anyone could make the server spool an arbitrarily large body."""
    answer = web.client.post(f"{API}/complaints", headers={"Content-Length": str(64 * 1024 * 1024),
                                                            "Content-Type": "multipart/form-data; boundary=x"},
                             content=b"--x\r\n")
    assert answer.status_code == 413 and "请求过大" in answer.text


def test_a_closed_finding_detected_again_is_shown_and_found(web, any_world):
    """挂账销号 must not end in a paper closure: a closed finding whose rule detects it again
    after the closing (an e-certificate still missing) is marked 销号后仍被发现 in the API,
    the list and the finding's page, and the filter recurred=true finds it. A rerun finding
    a past event again (a case finished late) is no such sign; neither is a closure that
    held (f12: not detected since)."""
    world = any_world
    closed_at = datetime(2025, 1, 20, 10, 0)
    world.add("f15", "ECERT_MISSING", "晋(2025)阳泉市不动产权第0000015号", "YQ00", at=datetime(2025, 2, 3, 1, 0))
    world.add("late", "CASE_OVERDUE", "YWH-LATE", "YQ21", at=datetime(2025, 1, 10, 8, 0))
    world.move("late", "rectifying", at=datetime(2025, 1, 18, 10, 0))
    world.move("late", "closed", at=closed_at)
    world.add("late", "CASE_OVERDUE", "YWH-LATE", "YQ21", at=datetime(2025, 2, 3, 1, 0))  # a rerun of January
    ecert_item = next(i for i in _all(web)["items"] if i["id"] == world.ids["f15"])
    assert ecert_item["status"] == "closed" and ecert_item["recurred"] is True
    assert [i["id"] for i in _all(web, recurred="true")["items"]] == [world.ids["f15"]]
    assert _all(web, recurred="false")["total"] == _all(web)["total"] - 1
    page = web.client.get("/bdcwatch/ui/", headers=web.headers("viewer"), params={"recurred": "true"}).text
    assert "销号后仍被发现" in page and "YWH-LATE" not in page
    detail = web.client.get(f"/bdcwatch/ui/findings/{world.ids['f15']}", headers=web.headers("viewer")).text
    assert "销号后仍被发现（最近 2025-02-03 01:00）" in detail


def test_a_note_with_control_characters_is_kept_without_them():
    """A NUL typed or pasted into a note: PostgreSQL stores no NUL in text (a 500); the note
    is kept without it (and without bidi overrides that would reorder what is read)."""
    from bdcwatch.web.api import Resend, StatusChange

    assert StatusChange(to="rectifying", note="已\x00通知\u202e窗口\x0b补正").note == "已通知窗口\n补正"
    assert Resend(note=" \x00 重发 ").note == "重发"
    with pytest.raises(ValueError, match="请填写说明"):
        StatusChange(to="rectifying", note="\x00\u202e ")
