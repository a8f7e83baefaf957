"""Task-failure alerts reach operations through the same sender, masked."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from bdcwatch.config.policy import load_policy
from bdcwatch.orchestration.notifier import OperationsFailureNotifier


def test_failure_alert_goes_to_operations_masked(smtp_server, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_server.airflow_uri())
    ti = SimpleNamespace(dag_id="ecert_completeness", task_id="load", run_id="scheduled__2026-04-01", try_number=3)
    OperationsFailureNotifier().notify(
        {"ti": ti, "exception": RuntimeError("source row with ZJH 14030219800101123X is broken")}
    )
    (mail,) = smtp_server.received
    assert mail.envelope_to == [load_policy().operations_email]
    assert "ecert_completeness.load" in mail.message["Subject"] and "任务失败" in mail.message["Subject"]
    assert "执行失败" in mail.html and "Airflow 界面" in mail.html  # the operations desk reads Chinese
    assert "140*************3X" in mail.html and "14030219800101123X" not in mail.html


def test_failure_alert_never_raises_when_the_relay_is_down(monkeypatch, caplog):
    from tests.support import free_port

    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", f"smtp://127.0.0.1:{free_port()}?disable_ssl=true&disable_tls=true")
    ti = SimpleNamespace(dag_id="d", task_id="t", run_id="r", try_number=1)
    OperationsFailureNotifier().notify({"ti": ti, "exception": RuntimeError("boom")})
    assert "could not send the failure alert" in caplog.text


def test_a_broken_policy_never_silences_the_alert(smtp_server, monkeypatch, tmp_path):
    """The policy cannot be read: the alert goes to the operations address from the
    environment, and says what is wrong with the policy."""
    broken = tmp_path / "policy.yaml"
    text = (Path(load_policy().source.removesuffix(" (bundled default)"))).read_text(encoding="utf-8")
    broken.write_text(text.replace("email: head.yq21@example.org", "emial: head.yq21@example.org"), encoding="utf-8")
    monkeypatch.setenv("BDCWATCH_POLICY", str(broken))
    monkeypatch.setenv("BDCWATCH_OPERATIONS_EMAIL", "night-desk@example.org")
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_server.airflow_uri())
    ti = SimpleNamespace(dag_id="ecert_completeness", task_id="resolve_run", run_id="r", try_number=1)
    OperationsFailureNotifier().notify({"ti": ti, "exception": RuntimeError("PolicyError: ...")})
    (mail,) = smtp_server.received
    assert mail.envelope_to == ["night-desk@example.org"]
    assert "units.YQ21.heads[0]" in mail.html and "emial" in mail.html and str(broken) in mail.html


def test_without_an_environment_address_the_relay_connection_names_operations(smtp_server, monkeypatch, tmp_path):
    broken = tmp_path / "policy.yaml"
    broken.write_text("units: [\n", encoding="utf-8")  # not even YAML
    monkeypatch.setenv("BDCWATCH_POLICY", str(broken))
    monkeypatch.delenv("BDCWATCH_OPERATIONS_EMAIL", raising=False)
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_server.airflow_uri() + "&operations_email=ops%40example.org")
    ti = SimpleNamespace(dag_id="d", task_id="t", run_id="r", try_number=1)
    OperationsFailureNotifier().notify({"ti": ti, "exception": RuntimeError("boom")})
    (mail,) = smtp_server.received
    assert mail.envelope_to == ["ops@example.org"] and "not valid YAML" in mail.html


def test_a_table_that_fails_the_gate_is_explained_in_chinese_above_the_english(smtp_server, monkeypatch, sqlite_url):
    """A source table without a reference column stops the load; the alert operations get
    names the table and the missing columns in Chinese (the suite's ``why_zh``), with
    GX's English message kept below it, as the task raised it through ``fail_fast``."""
    from sqlalchemy import create_engine, text

    from bdcwatch.orchestration.tasks import fail_fast
    from bdcwatch.sources.extract import load_table
    from bdcwatch.store.migrate import make_engine

    source = create_engine(sqlite_url("source"))
    with source.begin() as conn:
        conn.execute(text("CREATE TABLE bdc_zs (ZSID VARCHAR(40) PRIMARY KEY, YWH VARCHAR(32), GXSJ TIMESTAMP)"))
        conn.execute(text("INSERT INTO bdc_zs VALUES ('1', 'Y1', '2026-03-10 10:00:00')"))
    target = make_engine(sqlite_url.migrated())
    load = fail_fast(lambda: load_table(source, target, "BDC_ZS", run_id="r1", now=datetime(2026, 6, 1, 9)))
    with pytest.raises(Exception) as raised:
        load()
    assert type(raised.value).__name__ == "AirflowFailException"
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_server.airflow_uri())
    ti = SimpleNamespace(dag_id="ecert_completeness", task_id="load", run_id="r1", try_number=1)
    OperationsFailureNotifier().notify({"ti": ti, "exception": raised.value})
    (mail,) = smtp_server.received
    html = mail.html
    summary = html.index("原因：")
    assert "源表 BDC_ZS 整表未通过质量闸门" in html and "源表缺少参照表结构" in html
    assert "缺少 BDCDYH、BDCQZH、DJJG" in html
    assert summary < html.index("expect_table_columns_to_match_set")  # the English follows the Chinese
