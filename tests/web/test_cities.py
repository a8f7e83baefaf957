"""A province in one Airflow (issue 13 item 5): the operations UI and its API serve each
city's own ledger — picked in the page header, named by ``?city=`` or, for a change from a
page, by the header the page's script sends — through Airflow's app on real databases."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from bdcwatch.store.models import finding_event
from tests.support import airflow_uri
from tests.web.ledger_world import new_world

API = "/bdcwatch/api"
UI = "/bdcwatch/ui"
PROVINCE = Path(__file__).resolve().parents[2] / "deploy" / "province.example.yaml"  # 1403 (home), 1401, 1404


@pytest.fixture
def two_cities(sqlite_url, monkeypatch):
    """阳泉 (home, 1403) and 太原 (1401), each its own supervision_db with one finding —
    both with id 1, so a change landing in the wrong city's ledger shows."""
    monkeypatch.setenv("BDCWATCH_POLICY", str(PROVINCE))
    worlds = {}
    for code, conn_id, subject, unit in (("1403", "SUPERVISION_DB", "晋(2026)阳泉市不动产权第0000001号", "YQ21"),
                                         ("1401", "SUPERVISION_DB__1401", "晋(2026)太原市不动产权第0000009号", "140100")):
        url = sqlite_url.migrated(f"supervision_{code}")
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id}", airflow_uri(url))
        worlds[code] = new_world(url)
        worlds[code].add("only", "ECERT_MISSING", subject, unit)
    assert worlds["1403"].ids["only"] == worlds["1401"].ids["only"] == 1
    return worlds


def _subjects(answer) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [item["subject_id"] for item in answer.json()["items"]]


def test_the_api_reads_the_city_a_request_names(web, two_cities):
    viewer = web.headers("viewer")
    assert _subjects(web.client.get(f"{API}/findings", headers=viewer)) == ["晋(2026)阳泉市不动产权第0000001号"]
    assert _subjects(web.client.get(f"{API}/findings", headers=viewer, params={"city": "1401"})) == [
        "晋(2026)太原市不动产权第0000009号"]
    assert _subjects(web.client.get(f"{API}/findings", headers={**viewer, "X-Bdcwatch-City": "1401"})) == [
        "晋(2026)太原市不动产权第0000009号"]
    unknown = web.client.get(f"{API}/findings", headers=viewer, params={"city": "9999"})
    assert unknown.status_code == 404 and "9999" in unknown.text and "1401 太原市" in unknown.text
    # A city whose connection is not defined says which connection is missing.
    missing = web.client.get(f"{API}/findings", headers=viewer, params={"city": "1404"})
    assert missing.status_code == 503 and "supervision_db__1404" in missing.text


def test_the_picker_remembers_the_city_and_a_change_goes_to_the_city_the_page_shows(web, two_cities):
    browser = web.session("op")
    picked = browser.get(f"{UI}/city", params={"code": "1401", "next": "/ui/?severity=high"}, follow_redirects=False)
    assert picked.status_code == 303 and picked.headers["location"] == "/bdcwatch/ui/?severity=high"
    assert "bdcwatch_city=1401" in picked.headers["set-cookie"] and "HttpOnly" in picked.headers["set-cookie"]
    page = browser.get(f"{UI}/").text
    assert "太原市不动产权第0000009号" in page and "阳泉市不动产权" not in page
    assert '<meta name="bdcwatch-city" content="1401">' in page
    assert '<option value="1401" selected>太原市（1401）</option>' in page
    assert '<input type="hidden" name="next" value="/ui/">' in page
    token = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)">', page).group(1)

    # Another tab switches the cookie back to 阳泉; the page still showing 太原 posts its
    # change with the city it shows, and 太原's finding 1 changes, not 阳泉's.
    browser.get(f"{UI}/city", params={"code": "1403"}, follow_redirects=False)
    changed = browser.post(f"{API}/findings/1/status", json={"to": "rectifying", "note": "已安排补发"},
                           headers={"X-CSRF-Token": token, "Sec-Fetch-Site": "same-origin", "X-Bdcwatch-City": "1401"})
    assert changed.status_code == 200, changed.text
    status = {code: w.row("only").status for code, w in two_cities.items()}
    assert status == {"1401": "rectifying", "1403": "open"}
    with two_cities["1401"].engine.connect() as conn:
        actors = conn.execute(select(finding_event.c.actor).where(finding_event.c.finding_id == 1)).scalars().all()
    assert actors[-1] == "op"
    assert "阳泉市不动产权第0000001号" in browser.get(f"{UI}/").text  # the cookie now says 阳泉


def test_a_link_naming_the_city_switches_the_picker(web, two_cities):
    """A digest's link (…/ui/findings/1?city=1401) opens 太原's finding and the pages
    after it stay on 太原."""
    browser = web.session("viewer")
    opened = browser.get(f"{UI}/findings/1", params={"city": "1401"})
    assert opened.status_code == 200 and "太原市不动产权第0000009号" in opened.text
    assert "bdcwatch_city=1401" in opened.headers["set-cookie"]
    assert "太原市不动产权第0000009号" in browser.get(f"{UI}/").text
    assert "set-cookie" not in browser.get(f"{UI}/").headers  # only a link naming the city sets it


def test_the_picker_goes_back_only_to_a_page_of_the_app(web, two_cities):
    browser = web.session("viewer")
    for elsewhere in ("https://example.org/", "//example.org/ui/", "/api/findings", "/ui\\..\\x"):
        gone = browser.get(f"{UI}/city", params={"code": "1401", "next": elsewhere}, follow_redirects=False)
        assert gone.status_code == 303 and gone.headers["location"] == "/bdcwatch/ui/", elsewhere
    assert browser.get(f"{UI}/city", params={"code": "9999"}, follow_redirects=False).status_code == 404
    assert web.client.get(f"{UI}/city", params={"code": "1401"}, follow_redirects=False).status_code == 401


def test_a_stale_cookie_means_the_home_city_and_one_city_has_no_picker(web, two_cities, sqlite_url, monkeypatch):
    browser = web.session("viewer")
    browser.cookies.set("bdcwatch_city", "9999", path="/bdcwatch")
    page = browser.get(f"{UI}/").text
    assert "阳泉市不动产权第0000001号" in page and '<meta name="bdcwatch-city" content="1403">' in page
    monkeypatch.delenv("BDCWATCH_POLICY")
    url = sqlite_url.migrated("one_city")
    monkeypatch.setenv("AIRFLOW_CONN_SUPERVISION_DB", airflow_uri(url))
    new_world(url).add("only", "ECERT_MISSING", "晋(2026)阳泉市不动产权第0000042号", "YQ21")
    single = browser.get(f"{UI}/").text  # the stale cookie is ignored: the one city's ledger
    assert 'name="code"' not in single and "bdcwatch-city" not in single and "第0000042号" in single
    named = web.client.get(f"{API}/findings", headers=web.headers("viewer"), params={"city": "1401"})
    assert named.status_code == 404 and "one city" in named.text


@pytest.fixture
def per_dag_rights(monkeypatch):
    """Airflow's auth manager answering per DAG, as FAB does with per-DAG permissions: the
    simple auth manager gives every role every DAG, so its answer is narrowed here —
    ``viewer`` may not read 太原's DAGs (``…__1401``), ``user1`` may not read 阳泉's (the
    home city's plain ids). Everything else is the simple auth manager's own answer."""
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

    own = SimpleAuthManager.is_authorized_dag

    def per_dag(self, *, method, user, access_entity=None, details=None):  # type: ignore[no-untyped-def]
        dag = getattr(details, "id", None)
        if dag and user.get_name() == "viewer" and dag.endswith("__1401"):
            return False
        if dag and user.get_name() == "user1" and "__" not in dag:
            return False
        return own(self, method=method, user=user, access_entity=access_entity, details=details)

    monkeypatch.setattr(SimpleAuthManager, "is_authorized_dag", per_dag)


def test_a_citys_ledger_is_read_with_the_right_to_read_that_citys_dags(web, two_cities, per_dag_rights):
    """Province staff can be given their city alone: reading a city's ledger needs the
    right to read its ecert_completeness DAG. A city named on purpose is a 403 naming it;
    the picker offers only the cities the user may read and its cookie falls back to one."""
    viewer = web.headers("viewer")
    refused = web.client.get(f"{API}/findings", headers=viewer, params={"city": "1401"})
    assert refused.status_code == 403
    assert "没有查看太原市（1401）问题台账的权限" in refused.text and "ecert_completeness__1401" in refused.text
    assert _subjects(web.client.get(f"{API}/findings", headers=viewer)) == ["晋(2026)阳泉市不动产权第0000001号"]
    assert _subjects(web.client.get(f"{API}/findings", headers=web.headers("op"), params={"city": "1401"})) == [
        "晋(2026)太原市不动产权第0000009号"]  # op may read every city's DAGs
    # A change posted for 太原 by someone who may not read it is refused before anything changes.
    assert web.client.post(f"{API}/findings/1/status", headers={**viewer, "X-Bdcwatch-City": "1401"},
                           json={"to": "closed", "note": "x"}).status_code == 403

    browser = web.session("viewer")
    assert browser.get(f"{UI}/city", params={"code": "1401"}, follow_redirects=False).status_code == 403
    browser.cookies.set("bdcwatch_city", "1401", path="/bdcwatch")  # set before the right was taken away
    page = browser.get(f"{UI}/")
    assert page.status_code == 200 and "阳泉市不动产权第0000001号" in page.text and "太原市不动产权" not in page.text
    assert 'value="1401"' not in page.text and 'value="1403"' in page.text  # the picker lists what may be read
    assert browser.get("/bdcwatch/static/bdcwatch.css", params={"city": "1401"}).status_code == 200

    # Someone who may read 太原 alone lands on 太原 without naming it.
    taiyuan = web.session("user1")
    page = taiyuan.get(f"{UI}/")
    assert page.status_code == 200 and "太原市不动产权第0000009号" in page.text
    assert '<meta name="bdcwatch-city" content="1401">' in page.text and 'value="1403"' not in page.text
    assert web.client.get(f"{API}/findings", headers=web.headers("user1"), params={"city": "1403"}).status_code == 403
    assert {code: w.row("only").status for code, w in two_cities.items()} == {"1401": "open", "1403": "open"}
