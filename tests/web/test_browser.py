"""The operations UI as a person uses it: Debian's chromium driven by Playwright against a
real ``airflow api-server`` started here with the plugin loaded.

An op logs in, opens 问题台账 from Airflow's navigation, filters to one unit, opens a
finding, closes it with a note and sees the history entry; a viewer sees no form and a
forged POST gets 403; a holder name with ``<script>`` shows as text; an op enters a 不合格
verdict on the samples page and finds the REVIEW_DEFECT finding in the ledger. The README's
screenshots come from this run: ``BDCWATCH_SCREENSHOTS=docs`` writes them there.
Skipped, with the reason, where chromium is not installed (``make test`` installs it).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support import airflow_uri, free_port
from tests.web.conftest import AIRFLOW, CHROMIUM, AirflowWebHome
from tests.web.ledger_world import ID_NUMBER, SCRIPT, LedgerWorld, new_world, standard_ledger

pytestmark = [pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                                 "(apt-get install -y chromium fonts-noto-cjk; `make test` does it as root)"),
              pytest.mark.xdist_group("browser")]  # one api-server and browser on one worker (make test's -n 2)


SAMPLED = 77  # the inspection whose sample the op reviews


class ApiServer:
    def __init__(self, base: str, world: LedgerWorld, log: Path) -> None:
        self.base, self.world, self.log = base, world, log


@pytest.fixture(scope="module")
def api_server(airflow_web_home: AirflowWebHome, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    folder = tmp_path_factory.mktemp("browser")
    from bdcwatch.store.migrate import make_engine, migrate

    url = f"sqlite:///{folder / 'supervision.db'}"
    migrate(make_engine(url))
    world = standard_ledger(new_world(url))
    world.add("evil", "RETURN_UNJUSTIFIED", "TH2025010099", "YQ21", severity="medium",
              detail={"ywh": "YQ21-2025-01-000311", "thsj": "2025-01-05 10:12:00", "thyydm": None,
                      "thyy": f"申请人张三{SCRIPT}（身份证 {ID_NUMBER}）材料不全"})
    from datetime import datetime

    from bdcwatch.store.models import inspection, inspection_sample

    with world.engine.begin() as conn:  # a month's sample for the verdict flow
        conn.execute(inspection.insert().values(
            id=SAMPLED, cycle="monthly_quality_check", unit_code="YQ22", period="2025-01", population_size=20,
            sample_size=2, findings_count=0, seed="s", started_at=datetime(2025, 2, 1, 3),
            finished_at=datetime(2025, 2, 1, 3, 5)))
        conn.execute(inspection_sample.insert(), [{"inspection_id": SAMPLED, "ywh": ywh, "djdl": "200"}
                                                  for ywh in ("YQ22-2025-01-000007", "YQ22-2025-01-000012")])
    with running_api_server(airflow_web_home, {"AIRFLOW_CONN_SUPERVISION_DB": airflow_uri(url)}, folder) as base:
        yield ApiServer(base, world, folder / "api-server.log")


@contextmanager
def running_api_server(home: AirflowWebHome, env: dict[str, str], folder: Path) -> Iterator[str]:
    """``airflow api-server`` on a free port with ``home``'s settings and ``env``, its log in
    ``folder``; yields its base URL once it answers, stops it (and its workers) after."""
    port = free_port()
    log = folder / "api-server.log"
    with log.open("w") as out:
        process = subprocess.Popen([AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", str(port), "-w", "1"],
                                   env={**home.env, **env}, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/v2/monitor/health", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"airflow api-server did not come up:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _login(browser, server: ApiServer, user: str):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{server.base}/auth/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", user)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/auth/login" not in url, timeout=30_000)
    return page, dialogs  # a script that ran would have opened a dialog


def _screenshot(page, name: str, tmp_path: Path) -> None:
    page.screenshot(path=str(tmp_path / name))
    target = os.environ.get("BDCWATCH_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tmp_path / name, Path(target) / name)


def test_op_closes_a_finding_from_the_airflow_navigation(api_server, browser, tmp_path):
    api_server.world.move("evil", "rectifying", note="已通知窗口补正")  # closed only from rectifying (§4)
    page, dialogs = _login(browser, api_server, "op")
    page.get_by_role("link", name="问题台账").first.click()
    page.wait_for_url("**/plugin/bdcwatch**")
    frame = page.frame_locator("iframe")
    frame.locator("h1", has_text="问题台账").wait_for()
    frame.locator("select[name=unit]").select_option("YQ21")
    frame.get_by_role("button", name="筛选").click()
    frame.get_by_text("共 7 条").wait_for()
    units = frame.locator("table.grid tbody tr td:nth-child(4)").all_inner_texts()
    assert units and all(text.startswith("YQ21") for text in units)
    _screenshot(page, "ui-ledger.png", tmp_path)

    evil = api_server.world.ids["evil"]
    frame.get_by_role("link", name=f"#{evil}", exact=True).click()
    frame.locator("h1", has_text=f"#{evil}").wait_for()
    details = frame.locator("section.card").nth(1).inner_text()
    assert f"张三{SCRIPT}" in details and ID_NUMBER not in details  # the script is text, the ID masked
    assert "退件理由" in details and "业务号" in details
    frame.get_by_label("销号（已整改并核实）").check()
    frame.locator("textarea[name=note]").fill("已补正退件理由并告知申请人（浏览器测试）")
    _screenshot(page, "ui-finding.png", tmp_path)
    frame.get_by_role("button", name="提交").click()
    frame.locator("h1 .badge", has_text="已销号").wait_for()
    history = frame.locator("section.card", has_text="处理记录").inner_text()
    assert "op" in history and "整改中 → 已销号" in history and "已补正退件理由并告知申请人（浏览器测试）" in history
    assert dialogs == []
    assert api_server.world.row("evil").status == "closed"


def test_a_viewer_gets_no_form_and_a_forged_post_is_refused(api_server, browser):
    page, _dialogs = _login(browser, api_server, "viewer")
    target = api_server.world.ids["f1"]
    page.goto(f"{api_server.base}/bdcwatch/ui/findings/{target}")
    page.locator("h1", has_text=f"#{target}").wait_for()
    assert page.locator("form.status-form").count() == 0 and page.locator("textarea[name=note]").count() == 0
    assert "只读" in page.locator("#status").inner_text()
    forged = page.evaluate("""async (url) => {
        const token = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
        const headers = {"Content-Type": "application/json", "X-CSRF-Token": token};
        const answer = await fetch(url, {method: "POST", headers, body: JSON.stringify({to: "closed", note: "x"})});
        return answer.status;
    }""", f"{api_server.base}/bdcwatch/api/findings/{target}/status")
    assert forged == 403
    assert api_server.world.row("f1").status == "open"


def test_op_enters_a_failed_verdict_and_finds_it_in_the_ledger(api_server, browser, tmp_path):
    page, dialogs = _login(browser, api_server, "op")
    page.goto(f"{api_server.base}/bdcwatch/ui/samples?period=2025-01&inspection={SAMPLED}")
    page.locator("h2", has_text="2 件样本，已评查 0 件").wait_for()
    form = page.locator("form.verdict-form").nth(1)  # the second case, YQ22-2025-01-000012
    assert "000012" in page.locator("tr.verdict-row summary").nth(1).inner_text()
    form.locator("select[name=verdict]").select_option("不合格")
    form.locator("input[name=reviewer]").fill("张评查")
    form.locator("input[name=description]").fill(f"缺询问笔录{SCRIPT}")
    form.get_by_role("button", name="保存结论").click()
    page.locator("h2", has_text="已评查 1 件").wait_for()
    row = page.locator("table.samples tbody tr", has_text="YQ22-2025-01-000012").first.inner_text()
    assert "不合格" in row and f"缺询问笔录{SCRIPT}" in row and "op" in row
    page.get_by_role("link", name="问题台账").click()
    page.locator("select[name=rule]").select_option("REVIEW_DEFECT")
    page.get_by_role("button", name="筛选").click()
    page.get_by_text("共 1 条").wait_for()
    listed = page.locator("table.grid tbody").inner_text()
    assert "YQ22-2025-01-000012" in listed and "案卷质量评查不合格" in listed
    page.locator("table.grid tbody a").first.click()
    history = page.locator("section.card", has_text="处理记录").inner_text()
    assert "op" in history and "缺询问笔录" in history
    assert dialogs == []
