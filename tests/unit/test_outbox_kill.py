"""A sender killed mid-send: the retry sends no duplicate, the message is reported as
unconfirmed and goes out again only when an operator resends it.

The sender runs in a real child process that is SIGKILLed while a real SMTP server
(aiosmtpd) holds its answer; the supervision database is real (SQLite, PostgreSQL,
MariaDB when reachable).
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from email import message_from_bytes, policy

import pytest
from sqlalchemy import Engine, select

from bdcwatch.cli import main
from bdcwatch.mail.outbox import OutgoingMessage, enqueue, send_pending
from bdcwatch.mail.sender import SmtpSettings
from bdcwatch.store.migrate import make_engine
from bdcwatch.store.models import outbox
from tests.support import Received, SmtpServer, free_port

NOW = datetime(2026, 4, 1, 1, 10)
LATER = NOW + timedelta(minutes=11)  # the claims made at NOW are stale by then (threshold 10 minutes)

# The worker: one send_pending, as the send_mail task runs it, in its own process.
SENDER = """
import sys
from datetime import datetime
from bdcwatch.store.migrate import make_engine
from bdcwatch.mail.sender import SmtpSettings
from bdcwatch.mail.outbox import send_pending

url, port, now = sys.argv[1], int(sys.argv[2]), datetime.fromisoformat(sys.argv[3])
settings = SmtpSettings("127.0.0.1", port, None, None, "bdcwatch@example.org", False, False, 30)
print(send_pending(make_engine(url), settings, now=now).as_dict(), flush=True)
"""


def settings(port: int) -> SmtpSettings:
    return SmtpSettings("127.0.0.1", port, None, None, "bdcwatch@example.org", False, False, 5)


def message(key: str) -> OutgoingMessage:
    return OutgoingMessage(
        dedup_key=key, kind="unit_digest", dag_id="ecert_completeness", run_id="r1", period="2026-03",
        unit_code="YQ00", recipients=("head.yq00@example.org", "deputy.yq00@example.org"),
        subject=f"【不动产登记监督】{key}", html=f"<p>{key}</p>",
    )


class GatedServer:
    """aiosmtpd that records a message when its DATA is complete and, while gated, holds
    its answer at ``hold_at`` (``RCPT``: before the relay has anything; ``DATA``: after
    it has the whole message, before it says 250)."""

    def __init__(self, hold_at: str | None) -> None:
        self.port = free_port()
        self.hold_at = hold_at
        self.received: list[Received] = []
        self.holding = threading.Event()
        self.released = threading.Event()
        self.controller = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        gate = self

        class Handler:
            async def handle_RCPT(self, _server, _session, envelope, address, _options):
                envelope.rcpt_tos.append(address)
                await gate._hold("RCPT")
                return "250 OK"

            async def handle_DATA(self, _server, _session, envelope):
                parsed = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
                gate.received.append(Received(list(envelope.rcpt_tos), parsed))
                await gate._hold("DATA")
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def _hold(self, stage: str) -> None:
        if self.hold_at != stage:
            return
        self.holding.set()
        while not self.released.is_set():  # keeps the server's loop free for other clients
            await asyncio.sleep(0.02)

    def open(self) -> None:
        """Answer normally from now on (and let a held answer go)."""
        self.hold_at = None
        self.released.set()

    def stop(self) -> None:
        self.open()
        if self.controller is not None:
            self.controller.stop()


@pytest.fixture
def gated() -> Iterator[Callable[[str | None], GatedServer]]:
    servers: list[GatedServer] = []

    def make(hold_at: str | None) -> GatedServer:
        server = GatedServer(hold_at)
        server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def supervision(database_url) -> Iterator[tuple[str, Engine]]:
    url = database_url.migrated("supervision")
    engine = make_engine(url)
    yield url, engine
    engine.dispose()


def start_sender(url: str, port: int, now: datetime = NOW) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", SENDER, url, str(port), now.isoformat()],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def wait_until_held(server: GatedServer, sender: subprocess.Popen[str]) -> None:
    if not server.holding.wait(timeout=30):
        sender.kill()
        _, err = sender.communicate()
        pytest.fail(f"the sender never reached the relay's {server.hold_at} step:\n{err}")


def kill(sender: subprocess.Popen[str]) -> None:
    sender.kill()  # SIGKILL: no except, no finally, no atexit runs in the sender
    sender.wait(timeout=30)
    assert sender.returncode == -9


def status(engine: Engine, outbox_id: int) -> str:
    with engine.connect() as conn:
        return conn.execute(select(outbox.c.status).where(outbox.c.id == outbox_id)).scalar_one()


def queue(engine: Engine, *keys: str) -> list[int]:
    with engine.begin() as conn:
        return [enqueue(conn, message(key), NOW) for key in keys]


def test_killed_after_the_relay_accepted_is_unconfirmed_never_resent_until_an_operator_does(
    supervision, gated, caplog, capsys
):
    url, engine = supervision
    (outbox_id,) = queue(engine, "k1")
    relay = gated("DATA")
    sender = start_sender(url, relay.port)
    wait_until_held(relay, sender)
    assert len(relay.received) == 1  # the relay has the whole message ...
    kill(sender)  # ... and the worker dies before it hears the 250
    assert status(engine, outbox_id) == "sending"

    relay.open()  # the relay answers normally for the retry
    with caplog.at_level(logging.ERROR, logger="bdcwatch.outbox"):
        report = send_pending(engine, settings(relay.port), now=LATER)
    assert (report.sent, report.pending, report.failed, report.in_flight) == (0, 0, [], 0)
    (doubt,) = report.unconfirmed
    with engine.connect() as conn:
        row = conn.execute(select(outbox).where(outbox.c.id == outbox_id)).one()
    assert (doubt.outbox_id, doubt.subject, doubt.message_id) == (outbox_id, row.subject, row.message_id)
    assert doubt.recipients == ("head.yq00@example.org", "deputy.yq00@example.org")
    assert doubt.claimed_at is not None and NOW <= doubt.claimed_at < NOW + timedelta(minutes=1)
    assert report.as_dict()["unconfirmed"][0]["outbox_id"] == outbox_id
    json.dumps(report.as_dict())  # goes to XCom
    assert row.status == "unconfirmed" and row.attempts == 1
    assert len(relay.received) == 1  # the retry did not send it again
    logged = "\n".join(r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
    assert f"outbox resend {outbox_id}" in logged and row.message_id in logged

    # Reported once, by the call that found it; later runs leave it alone too.
    again = send_pending(engine, settings(relay.port), now=LATER + timedelta(minutes=1))
    assert (again.sent, again.unconfirmed) == (0, [])
    assert len(relay.received) == 1

    assert main(["--url", url, "outbox", "list", "--status", "unconfirmed"]) == 0
    listed = capsys.readouterr().out
    assert f"{outbox_id}\tunconfirmed\t2026-04-01 01:10:00\t{row.subject}\thead.yq00@example.org" in listed

    assert main(["--url", url, "outbox", "resend", str(outbox_id), "--actor", "李科长", "--note", "收件人未收到"]) == 0
    with engine.connect() as conn:
        row = conn.execute(select(outbox).where(outbox.c.id == outbox_id)).one()
    assert row.status == "pending" and "李科长 (unconfirmed → pending): 收件人未收到" in row.resend_log
    report = send_pending(engine, settings(relay.port), now=LATER + timedelta(minutes=2))
    assert (report.sent, report.unconfirmed) == (1, [])
    assert len(relay.received) == 2  # deliberately, and with the same Message-ID
    assert relay.received[0].message["Message-ID"] == relay.received[1].message["Message-ID"] == row.message_id
    assert status(engine, outbox_id) == "sent"


def test_killed_before_the_relay_accepted_is_unconfirmed_too(supervision, gated):
    # The known cost of never duplicating: the sender cannot tell this from the case above.
    url, engine = supervision
    (outbox_id,) = queue(engine, "k1")
    relay = gated("RCPT")
    sender = start_sender(url, relay.port)
    wait_until_held(relay, sender)
    kill(sender)
    relay.open()
    report = send_pending(engine, settings(relay.port), now=LATER)
    assert report.sent == 0 and [m.outbox_id for m in report.unconfirmed] == [outbox_id]
    assert relay.received == [] and status(engine, outbox_id) == "unconfirmed"

    assert main(["--url", url, "outbox", "resend", str(outbox_id), "--actor", "x", "--note", "y"]) == 0
    assert send_pending(engine, settings(relay.port), now=LATER).sent == 1
    assert len(relay.received) == 1 and status(engine, outbox_id) == "sent"


def test_a_live_senders_fresh_claim_is_not_stolen(supervision, gated):
    url, engine = supervision
    (outbox_id,) = queue(engine, "k1")
    relay = gated("DATA")
    sender = start_sender(url, relay.port)  # a send task of another DAG run, still talking to the relay
    wait_until_held(relay, sender)

    report = send_pending(engine, settings(relay.port), now=NOW + timedelta(minutes=1))
    assert (report.sent, report.pending, report.unconfirmed, report.in_flight) == (0, 0, [], 1)
    assert status(engine, outbox_id) == "sending"

    relay.open()
    out, err = sender.communicate(timeout=60)
    assert sender.returncode == 0, err
    assert "'sent': 1" in out
    assert status(engine, outbox_id) == "sent"
    assert send_pending(engine, settings(relay.port), now=NOW + timedelta(minutes=2)).sent == 0
    assert len(relay.received) == 1


def test_a_slow_sender_declared_stale_still_records_its_delivery(supervision, gated):
    url, engine = supervision
    (outbox_id,) = queue(engine, "k1")
    relay = gated("DATA")
    sender = start_sender(url, relay.port)
    wait_until_held(relay, sender)

    report = send_pending(engine, settings(relay.port), now=LATER)  # the claim looks dead ...
    assert [m.outbox_id for m in report.unconfirmed] == [outbox_id]
    assert status(engine, outbox_id) == "unconfirmed"

    relay.open()  # ... but its sender was only slow: the relay accepts and the sender records it
    _, err = sender.communicate(timeout=60)
    assert sender.returncode == 0, err
    assert status(engine, outbox_id) == "sent"
    assert main(["--url", url, "outbox", "resend", str(outbox_id), "--actor", "x", "--note", "y"]) == 1
    assert status(engine, outbox_id) == "sent" and len(relay.received) == 1


def test_concurrent_senders_send_each_message_once(supervision, gated):
    url, engine = supervision
    ids = queue(engine, *(f"k{n}" for n in range(8)))
    relay = gated(None)
    senders = [start_sender(url, relay.port) for _ in range(3)]
    for sender in senders:
        _, err = sender.communicate(timeout=120)
        assert sender.returncode == 0, err
    message_ids = [m.message["Message-ID"] for m in relay.received]
    assert len(message_ids) == len(set(message_ids)) == len(ids)
    assert {status(engine, i) for i in ids} == {"sent"}


def test_resend_refuses_what_is_not_in_doubt_or_failed(supervision, smtp_server: SmtpServer, capsys):
    url, engine = supervision
    pending_id, sent_id = queue(engine, "k1", "k2")
    assert send_pending(engine, settings(smtp_server.port), now=NOW, ids=[sent_id]).sent == 1
    assert main(["--url", url, "outbox", "resend", str(pending_id), str(sent_id), "999",
                 "--actor", "x", "--note", "y"]) == 1
    out = capsys.readouterr().out
    assert "status is pending" in out and "status is sent" in out and "no such message" in out
    assert main(["--url", url, "outbox", "resend", str(pending_id), "--actor", " ", "--note", "y"]) == 2
    with pytest.raises(SystemExit):
        main(["--url", url, "outbox", "resend", str(pending_id), "--actor", "x"])  # --note is required
    assert (status(engine, pending_id), status(engine, sent_id)) == ("pending", "sent")
    assert len(smtp_server.received) == 1
