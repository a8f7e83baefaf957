"""Sending through a real SMTP server (aiosmtpd): exactly once, outages survive."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bdcwatch.cli import main
from bdcwatch.mail.outbox import OutgoingMessage, enqueue, send_pending
from bdcwatch.mail.sender import Attachment, SendError, SmtpSettings, send_message
from bdcwatch.store.migrate import make_engine
from bdcwatch.store.models import outbox
from tests.support import SmtpServer, free_port

NOW = datetime(2026, 4, 1, 1, 10)


def settings(server: SmtpServer) -> SmtpSettings:
    return SmtpSettings(server.host, server.port, None, None, "bdcwatch@example.org", False, False, 5)


def message(key: str = "k1") -> OutgoingMessage:
    return OutgoingMessage(
        dedup_key=key, kind="unit_digest", dag_id="ecert_completeness", run_id="r1", period="2026-03",
        unit_code="YQ00", recipients=("head.yq00@example.org", "deputy.yq00@example.org"),
        subject="【不动产登记监督】测试", html="<p>证件号 14030219800101123X</p>",
        attachments=(Attachment("list.xlsx", b"PK\x03\x04 fake workbook"),),
    )


def test_send_message_delivers_html_and_attachment_masked(smtp_server):
    send_message(settings(smtp_server), to=["a@example.org"], subject="主题", html="<p>14030219800101123X</p>",
                 attachments=[Attachment("a.xlsx", b"data")], message_id="<m1@bdcwatch>")
    (received,) = smtp_server.received
    assert received.envelope_to == ["a@example.org"]
    assert "140*************3X" in received.html and "14030219800101123X" not in received.html
    assert received.attachments == {"a.xlsx": b"data"}
    assert received.message["Message-ID"] == "<m1@bdcwatch>"


def test_refused_connection_is_a_transient_send_error():
    dead = SmtpSettings("127.0.0.1", free_port(), None, None, "bdcwatch@example.org", False, False, 2)
    with pytest.raises(SendError) as error:
        send_message(dead, to=["a@example.org"], subject="s", html="h")
    assert not error.value.permanent


@pytest.fixture
def supervision(sqlite_url):
    engine = make_engine(sqlite_url.migrated())
    return engine


def test_outage_keeps_mail_pending_then_delivers_exactly_once(supervision):
    port = free_port()
    with supervision.begin() as conn:
        assert enqueue(conn, message("k1"), NOW) is not None
        assert enqueue(conn, message("k1"), NOW) is None  # same key: not queued twice
        enqueue(conn, message("k2"), NOW)
    down = SmtpSettings("127.0.0.1", port, None, None, "bdcwatch@example.org", False, False, 2)
    report = send_pending(supervision, down, now=NOW)
    assert (report.sent, report.pending, report.unconfirmed, report.in_flight) == (0, 2, [], 0)
    with supervision.connect() as conn:
        # The refused claim is released: certainly not delivered, so plainly pending again.
        assert set(conn.execute(select(outbox.c.status, outbox.c.claim_token, outbox.c.claimed_at))) == {
            ("pending", None, None)
        }

    server = SmtpServer("127.0.0.1", port)
    server.start()
    try:
        later = send_pending(supervision, down, now=NOW + timedelta(hours=1))
        assert (later.sent, later.pending, later.unconfirmed) == (2, 0, [])
        assert send_pending(supervision, down, now=NOW).sent == 0  # nothing left: no duplicate
        assert len(server.received) == 2
        assert sorted(server.received[0].envelope_to) == ["deputy.yq00@example.org", "head.yq00@example.org"]
    finally:
        server.stop()
    with supervision.connect() as conn:
        assert set(conn.execute(select(outbox.c.status)).scalars()) == {"sent"}


def test_permanent_refusal_marks_failed_and_goes_on(supervision):
    from aiosmtpd.controller import Controller

    class RefuseOne:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if address.startswith("head"):
                return "550 no such user"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            return "250 OK"

    port = free_port()
    controller = Controller(RefuseOne(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with supervision.begin() as conn:
            enqueue(conn, message("k1"), NOW)
        report = send_pending(
            supervision, SmtpSettings("127.0.0.1", port, None, None, "bdcwatch@example.org", False, False, 5), now=NOW
        )
    finally:
        controller.stop()
    assert report.sent == 0 and len(report.failed) == 1 and "head.yq00@example.org" in report.failed[0]
    assert report.unconfirmed == []
    with supervision.connect() as conn:
        row = conn.execute(select(outbox)).one()
    assert row.status == "failed" and "refused" in row.last_error


def test_failed_message_is_resent_by_an_operator(supervision, smtp_server, capsys):
    with supervision.begin() as conn:
        outbox_id = enqueue(conn, message("k1"), NOW)
    with supervision.begin() as conn:
        conn.execute(outbox.update().values(status="failed", last_error="relay refused the message: 550"))
    url = supervision.url.render_as_string(hide_password=False)
    assert send_pending(supervision, settings(smtp_server), now=NOW).sent == 0  # failed stays failed
    assert main(["--url", url, "outbox", "resend", str(outbox_id), "--actor", "王工", "--note", "邮箱已修复"]) == 0
    assert send_pending(supervision, settings(smtp_server), now=NOW).sent == 1
    assert len(smtp_server.received) == 1
    assert main(["--url", url, "outbox", "list"]) == 0
    assert f"{outbox_id}\tsent\t" in capsys.readouterr().out


def test_an_attachment_name_from_source_data_is_cleaned_and_masked(supervision, smtp_server):
    """A DJJG from the source goes into digest file names: CR/LF in it made the email package
    refuse the header while sending, which stopped the batch with the message stuck in
    'sending' and every later unit's digest held back; an ID number in it went out whole."""
    bad = replace(message("bad"), unit_code="YQ21\r\nX-Injected: yes",
                  attachments=(Attachment("digest_YQ21\r\nX-Injected: yes_2026-03.xlsx", b"x"),
                               Attachment("digest_140302800101123\u202e_2026-03.xlsx", b"y")))
    with supervision.begin() as conn:
        enqueue(conn, bad, NOW)
        enqueue(conn, message("next unit"), NOW)
    report = send_pending(supervision, settings(smtp_server), now=NOW)
    assert report.sent == 2 and not report.failed
    names = set().union(*(m.attachments for m in smtp_server.received))
    assert "digest_YQ21X-Injected: yes_2026-03.xlsx" in names and "digest_140**********23_2026-03.xlsx" in names
    assert not any(m.message["X-Injected"] for m in smtp_server.received)


def test_a_message_that_cannot_be_written_fails_alone(supervision, smtp_server):
    """A message the MIME builder refuses (here an inline image that is no image) is that
    message's permanent failure, nothing sent; the batch goes on to the next."""
    with supervision.begin() as conn:
        enqueue(conn, replace(message("a"), attachments=(Attachment("inline/trend_YQ00.png", b"not a picture"),)),
                NOW)
        enqueue(conn, message("b"), NOW)
    report = send_pending(supervision, settings(smtp_server), now=NOW)
    assert report.sent == 1 and len(report.failed) == 1 and len(smtp_server.received) == 1
    assert "cannot be written as MIME" in report.failed[0]
    with supervision.connect() as conn:
        assert [r.status for r in conn.execute(select(outbox.c.status).order_by(outbox.c.id))] == ["failed", "sent"]


def test_a_chinese_attachment_name_reaches_older_clients_too(smtp_server):
    """RFC 2231 (filename*) for current clients, and the RFC 2047 name= that older Outlook
    and OA webmail read (they showed ATT00001): both decode to the same name."""
    import email.header

    send_message(settings(smtp_server), to=["a@example.org"], subject="主题", html="<p>x</p>",
                 attachments=[Attachment("六不准月报_2026-03.xlsx", b"PK")], message_id="<m2@bdcwatch>")
    (part,) = smtp_server.received[0].message.iter_attachments()
    assert part.get_filename() == "六不准月报_2026-03.xlsx"  # from filename*, as current clients read it
    # The header as written on the wire, as an older client reads it: name="=?utf-8?b?…?=".
    written = part.as_bytes().decode("ascii").split("\n\n", 1)[0].replace("\r", "")
    encoded = re.search(r'name="(=\?utf-8\?b\?[^"]+\?=)"', written, re.IGNORECASE)
    assert encoded, written
    assert str(email.header.make_header(email.header.decode_header(encoded.group(1)))) == "六不准月报_2026-03.xlsx"
