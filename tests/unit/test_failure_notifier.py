"""Task-failure alerts reach operations through the same sender, masked."""

from __future__ import annotations

from pathlib import Path
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
