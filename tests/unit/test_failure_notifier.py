"""Task-failure alerts reach operations through the same sender, masked."""

from __future__ import annotations

from types import SimpleNamespace

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
    assert "ecert_completeness.load" in mail.message["Subject"]
    assert "140*************3X" in mail.html and "14030219800101123X" not in mail.html


def test_failure_alert_never_raises_when_the_relay_is_down(monkeypatch, caplog):
    from tests.support import free_port

    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", f"smtp://127.0.0.1:{free_port()}?disable_ssl=true&disable_tls=true")
    ti = SimpleNamespace(dag_id="d", task_id="t", run_id="r", try_number=1)
    OperationsFailureNotifier().notify({"ti": ti, "exception": RuntimeError("boom")})
    assert "could not send the failure alert" in caplog.text
