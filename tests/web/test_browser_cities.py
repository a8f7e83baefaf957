"""A province's cities in the operations UI as a person uses them: Debian's chromium
against a real ``airflow api-server`` serving 阳泉 (home) and 太原, each with its own
supervision_db whose first finding has id 1.

An op switches to 太原 in the page header, opens finding 1, and — after a second tab
switched the picker back to 阳泉 — closes it from the first tab: the page's script sends
the city it shows, so 太原's finding changes and 阳泉's does not, and the page reloads
still showing 太原. Skipped, with the reason, where chromium is not installed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import airflow_uri
from tests.web.conftest import CHROMIUM, AirflowWebHome
from tests.web.ledger_world import LedgerWorld, new_world
from tests.web.test_browser import ApiServer, _login, running_api_server

pytestmark = [pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                                 "(apt-get install -y chromium fonts-noto-cjk; `make test` does it as root)"),
              pytest.mark.xdist_group("browser")]
PROVINCE = Path(__file__).resolve().parents[2] / "deploy" / "province.example.yaml"  # 1403 (home), 1401, 1404
SUBJECTS = {"1403": "晋(2026)阳泉市不动产权第0000001号", "1401": "晋(2026)太原市不动产权第0000009号"}


@pytest.fixture(scope="module")
def province_server(airflow_web_home: AirflowWebHome,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ApiServer, dict[str, LedgerWorld]]]:
    from bdcwatch.store.migrate import make_engine, migrate

    folder = tmp_path_factory.mktemp("province_browser")
    worlds: dict[str, LedgerWorld] = {}
    env = {"BDCWATCH_POLICY": str(PROVINCE)}
    for code, unit in (("1403", "YQ21"), ("1401", "140100")):
        url = f"sqlite:///{folder / f'supervision_{code}.db'}"
        migrate(make_engine(url))
        worlds[code] = new_world(url)
        worlds[code].add("only", "ECERT_MISSING", SUBJECTS[code], unit)
        env["AIRFLOW_CONN_SUPERVISION_DB" + ("" if code == "1403" else f"__{code}")] = airflow_uri(url)
    with running_api_server(airflow_web_home, env, folder) as base:
        yield ApiServer(base, worlds["1403"], folder / "api-server.log"), worlds


def test_a_change_goes_to_the_city_the_page_shows(browser, province_server):
    server, worlds = province_server
    page, dialogs = _login(browser, server, "op")
    page.goto(f"{server.base}/bdcwatch/ui/")
    assert SUBJECTS["1403"] in page.content()
    page.select_option("form.city select[name=code]", "1401")
    page.click("form.city button[type=submit]")
    page.wait_for_load_state()
    assert SUBJECTS["1401"] in page.content() and SUBJECTS["1403"] not in page.content()
    page.click("a[href$='/ui/findings/1']")
    page.wait_for_url("**/ui/findings/1")
    assert SUBJECTS["1401"] in page.content()

    other = page.context.new_page()  # another tab of the same browser switches back to 阳泉
    other.goto(f"{server.base}/bdcwatch/ui/city?code=1403")
    assert SUBJECTS["1403"] in other.content()

    page.check("form[data-post] input[name=to][value=rectifying]")
    page.fill("form[data-post] textarea[name=note]", "太原已补发，核实无误")
    page.click("form[data-post] button[type=submit]")
    page.wait_for_url("**/ui/findings/1?city=1401")
    page.wait_for_load_state()
    assert SUBJECTS["1401"] in page.content() and "太原已补发，核实无误" in page.content()
    assert {code: world.row("only").status for code, world in worlds.items()} == {"1401": "rectifying", "1403": "open"}
    assert dialogs == []
