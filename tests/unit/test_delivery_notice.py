"""The send task (delivery_notice.send_and_report, with connections from AIRFLOW_CONN_*
variables as in production): a permanent refusal is reported to operations_email by mail, not only logged."""

from __future__ import annotations

from datetime import datetime
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from bdcwatch.config.policy import load_policy
from bdcwatch.mail.outbox import OutgoingMessage, enqueue
from bdcwatch.orchestration.connections import smtp_settings
from bdcwatch.reports.delivery_notice import send_and_report
from bdcwatch.store.migrate import make_engine
from tests.support import free_port


class RefuseHeads:
    """A relay that refuses one mailbox and keeps everything else it accepts."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], bytes]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == "gone@example.org":
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def wired(sqlite_url, monkeypatch):
    url = sqlite_url.migrated("supervision")
    engine = make_engine(url)
    handler, port = RefuseHeads(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("AIRFLOW_CONN_SUPERVISION_DB", url)  # sqlite:////abs/path, the contract form
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT",
                       f"smtp://127.0.0.1:{port}?disable_ssl=true&disable_tls=true&from_email=bdcwatch%40example.org")
    yield engine, handler
    controller.stop()


def test_permanent_refusal_reaches_operations(wired):
    engine, handler = wired
    with engine.begin() as conn:
        enqueue(conn, OutgoingMessage("k-gone", "unit_digest", "ecert_completeness", "r1", "2026-10", "YQ00",
                                      ("gone@example.org",), "某单位 电子证照完整性核查", "<p>x</p>"), datetime(2026, 11, 1))
    report = send_and_report(engine, load_policy(), smtp_settings())
    assert report.sent == 0 and len(report.failed) == 1
    operations = load_policy().operations_email
    (notice,) = [content for to, content in handler.received if to == [operations]]
    message = message_from_bytes(notice, policy=policy.default)
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "永久拒收" in html and "某单位 电子证照完整性核查" in html and "gone@example.org" in html
    # The same problem is reported once, not on every run.
    send_and_report(engine, load_policy(), smtp_settings())
    assert len([1 for to, _ in handler.received if to == [operations]]) == 1
