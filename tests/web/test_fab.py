"""The operations UI under Airflow's FAB auth manager (CONTRACT §7 "the FAB equivalents";
issue 13 item 5: a province's city staff given their city alone).

A real ``airflow api-server`` with ``FabAuthManager``, the real DAG files under the
example province file (阳泉 home, 太原 1401, 阳泉's neighbour 1404), users made with
Airflow's own CLI and the per-city role made with exactly the commands docs/deploy.md
gives (``FAB_ROLE_COMMANDS``): FAB's Viewer reads every city and changes nothing, Op
changes, and a role given ``can_read`` on ``DAG:ecert_completeness__1401`` reads 太原's
ledger alone, through the API and, logged in on FAB's own sign-in page, from the
问题台账 entry of Airflow's navigation (which FAB shows only to roles that may read
Plugins: the deploy guide says so).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support import airflow_uri
from tests.web.conftest import AIRFLOW, CHROMIUM, CHROMIUM_ARGS, ROOT, AirflowWebHome, web_home_env
from tests.web.ledger_world import LedgerWorld, new_world
from tests.web.test_browser import running_api_server

pytestmark = pytest.mark.xdist_group("fab")  # one FAB home and api-server for the module

PROVINCE = ROOT / "deploy" / "province.example.yaml"
TAIYUAN_ROLE = "太原市问题台账"
# docs/deploy.md, "Each city's staff their own city": the commands an operator runs once the
# dag-processor has parsed the DAGs (FAB makes a DAG's permissions when it is parsed).
FAB_ROLE_COMMANDS = [
    ["roles", "create", TAIYUAN_ROLE],
    ["roles", "add-perms", TAIYUAN_ROLE, "-a", "can_read", "-r", "DAG:ecert_completeness__1401", "Website", "Plugins"],
    ["roles", "add-perms", "Viewer", "User", "-a", "can_read", "-r", "Plugins"],
]
USERS = {"admin": "Admin", "op": "Op", "viewer": "Viewer", "ty": TAIYUAN_ROLE}  # name → FAB role; password = name
YANGQUAN = "晋(2026)阳泉市不动产权第0000001号"
TAIYUAN = "晋(2026)太原市不动产权第0000009号"


@dataclass
class FabServer:
    base: str
    worlds: dict[str, LedgerWorld]  # city code → its ledger
    tokens: dict[str, str]

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}


def _airflow(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"airflow {' '.join(args)}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def fab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FabServer]:
    from bdcwatch.store.migrate import make_engine, migrate

    home = tmp_path_factory.mktemp("airflow_fab")
    worlds: dict[str, LedgerWorld] = {}
    conns: dict[str, str] = {}
    for code, conn_id, subject, unit in (("1403", "SUPERVISION_DB", YANGQUAN, "YQ21"),
                                         ("1401", "SUPERVISION_DB__1401", TAIYUAN, "140100")):
        url = f"sqlite:///{home / f'supervision_{code}.db'}"
        migrate(make_engine(url))
        worlds[code] = new_world(url)
        worlds[code].add("only", "ECERT_MISSING", subject, unit)
        conns[f"AIRFLOW_CONN_{conn_id}"] = airflow_uri(url)
    env = web_home_env(home, dags=ROOT / "dags", **{
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager",
        "AIRFLOW__API__SECRET_KEY": "bdcwatch-fab-tests-only-flask-session-key",
        "BDCWATCH_POLICY": str(PROVINCE),
        **conns,
    })
    _airflow(env, "db", "migrate")
    _airflow(env, "dags", "reserialize")  # as the dag-processor does: FAB makes each DAG's permissions
    for command in FAB_ROLE_COMMANDS:
        _airflow(env, *command)
    for name, role in USERS.items():
        _airflow(env, "users", "create", "--username", name, "--password", name, "--role", role,
                 "--firstname", name, "--lastname", "测试", "--email", f"{name}@example.org")
    with running_api_server(AirflowWebHome(home, env), {}, home) as base:
        tokens = {}
        for name in USERS:
            answer = httpx.post(f"{base}/auth/token", json={"username": name, "password": name}, timeout=60)
            assert answer.status_code == 201, answer.text
            tokens[name] = answer.json()["access_token"]
        yield FabServer(base, worlds, tokens)


def _subjects(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [item["subject_id"] for item in answer.json()["items"]]


def test_fab_roles_read_and_change_the_ledger_as_the_contract_says(fab_server):
    api = f"{fab_server.base}/bdcwatch/api"
    nobody = httpx.get(f"{api}/findings", timeout=30)
    assert nobody.status_code == 401 and "subject_id" not in nobody.text
    viewer = fab_server.headers("viewer")
    assert _subjects(httpx.get(f"{api}/findings", headers=viewer, timeout=30)) == [YANGQUAN]
    assert _subjects(httpx.get(f"{api}/findings", headers=viewer, params={"city": "1401"}, timeout=30)) == [TAIYUAN]
    refused = httpx.post(f"{api}/findings/1/status", headers=viewer, json={"to": "rectifying", "note": "已通知"},
                         timeout=30)
    assert refused.status_code == 403 and "op 或 admin" in refused.json()["detail"]

    changed = httpx.post(f"{api}/findings/1/status", headers={**fab_server.headers("op"), "X-Bdcwatch-City": "1401"},
                         json={"to": "rectifying", "note": "已通知窗口补发"}, timeout=30)
    assert changed.status_code == 200, changed.text
    assert [(e["actor"], e["to"]) for e in changed.json()["events"]][-1] == ("op", "rectifying")
    assert {code: w.row("only").status for code, w in fab_server.worlds.items()} == {
        "1401": "rectifying", "1403": "open"}

    # The per-city role: 太原 alone, by name or by default; 阳泉 named on purpose is a 403 naming it.
    ty = fab_server.headers("ty")
    assert _subjects(httpx.get(f"{api}/findings", headers=ty, timeout=30)) == [TAIYUAN]
    other = httpx.get(f"{api}/findings", headers=ty, params={"city": "1403"}, timeout=30)
    assert other.status_code == 403 and "阳泉" in other.json()["detail"] and YANGQUAN not in other.text
    assert httpx.post(f"{api}/findings/1/status", headers={**ty, "X-Bdcwatch-City": "1401"},
                      json={"to": "closed", "note": "x"}, timeout=30).status_code == 403
    assert fab_server.worlds["1401"].row("only").status == "rectifying"


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                    "(apt-get install -y chromium fonts-noto-cjk; `make test` does it as root)")
def test_a_citys_staff_sign_in_on_fabs_page_and_open_their_ledger_from_the_navigation(fab_server, tmp_path: Path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN").new_page()
            page.goto(f"{fab_server.base}/auth/login/")
            page.fill("input[name=username]", "ty")
            page.fill("input[name=password]", "ty")
            page.click("input[type=submit]")
            page.wait_for_url(lambda url: "/auth/login" not in url, timeout=60_000)
            page.get_by_role("link", name="问题台账").first.click(timeout=60_000)
            page.wait_for_url("**/plugin/bdcwatch**")
            frame = page.frame_locator("iframe")
            frame.locator("h1", has_text="问题台账").wait_for(timeout=60_000)
            table = frame.locator("table.grid").inner_text()
            page.screenshot(path=str(tmp_path / "fab-city-ledger.png"))
        finally:
            browser.close()
    assert "太原市不动产权第0000009号" in table and "阳泉市不动产权" not in table


def test_the_deploy_guide_gives_the_role_commands_this_test_runs():
    guide = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    for command in FAB_ROLE_COMMANDS:
        assert "airflow " + " ".join(command) in guide, command
