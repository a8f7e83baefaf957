"""The sender against real relays started by the tests (aiosmtpd): one attempt per message,
an unknown outcome is ``unconfirmed`` with one copy at the relay, and TLS is verified
(issue 10 items 8 and 9)."""

from __future__ import annotations

import logging
import ssl
from datetime import datetime

import pytest
from sqlalchemy import select

from bdcwatch.mail.outbox import OutgoingMessage, enqueue, send_pending
from bdcwatch.mail.sender import OutcomeUnknownError, SendError, SmtpSettings, send_message
from bdcwatch.store.migrate import make_engine
from bdcwatch.store.models import outbox
from tests.support import Relay, free_port, self_signed_certificate

NOW = datetime(2026, 4, 1, 1, 10)


def plain(port: int, timeout: int = 5) -> SmtpSettings:
    return SmtpSettings("127.0.0.1", port, None, None, "bdcwatch@example.org", False, False, timeout)


def message(key: str) -> OutgoingMessage:
    return OutgoingMessage(
        dedup_key=key, kind="unit_digest", dag_id="ecert_completeness", run_id="r1", period="2026-03",
        unit_code="YQ00", recipients=("head.yq00@example.org",), subject=f"【不动产登记监督】{key}", html=f"<p>{key}</p>",
    )


@pytest.fixture
def supervision(sqlite_url):
    return make_engine(sqlite_url.migrated())


@pytest.fixture
def relay():
    made = Relay(free_port()).start()
    yield made
    made.stop()


def statuses(engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(select(outbox.c.dedup_key, outbox.c.status)).all())


def test_a_late_250_after_the_data_gives_one_copy_and_unconfirmed_never_pending(supervision, relay):
    relay.delay = 3.0  # the relay stores the message at the final '.', then answers after the client gave up
    with supervision.begin() as conn:
        first = enqueue(conn, message("k1"), NOW)
        enqueue(conn, message("k2"), NOW)
    report = send_pending(supervision, plain(relay.port, timeout=1), now=NOW)
    assert len(relay.stored) == 1, "the message was sent again after the timeout"
    assert [m.outbox_id for m in report.unconfirmed] == [first] and report.sent == 0
    assert report.pending == 1  # the batch stops: k2 waits for the next run
    assert statuses(supervision) == {"k1": "unconfirmed", "k2": "pending"}
    with supervision.connect() as conn:
        error = conn.execute(select(outbox.c.last_error).where(outbox.c.id == first)).scalar_one()
    assert "may have stored it" in error

    relay.delay = 0.0
    later = send_pending(supervision, plain(relay.port), now=NOW)
    assert (later.sent, later.unconfirmed) == (1, [])
    assert statuses(supervision) == {"k1": "unconfirmed", "k2": "sent"}
    assert [m["Subject"] for m in relay.messages()] == ["【不动产登记监督】k1", "【不动产登记监督】k2"]


def test_a_relay_that_drops_the_connection_after_the_data_leaves_it_unconfirmed(supervision, relay):
    relay.drop = True
    with supervision.begin() as conn:
        enqueue(conn, message("k1"), NOW)
    report = send_pending(supervision, plain(relay.port), now=NOW)
    assert len(relay.stored) == 1 and len(report.unconfirmed) == 1
    assert statuses(supervision) == {"k1": "unconfirmed"}
    assert send_pending(supervision, plain(relay.port), now=NOW).sent == 0
    assert len(relay.stored) == 1


def test_send_message_raises_outcome_unknown_not_a_retryable_error(relay):
    relay.delay = 3.0
    with pytest.raises(OutcomeUnknownError):
        send_message(plain(relay.port, timeout=1), to=["a@example.org"], subject="s", html="<p>x</p>")
    assert len(relay.stored) == 1


def test_refused_recipient_sends_nothing_to_anyone():
    class RefuseOne(Relay):
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if address.startswith("gone"):
                return "550 5.1.1 no such user"
            envelope.rcpt_tos.append(address)
            return "250 OK"

    relay = RefuseOne(free_port()).start()
    try:
        with pytest.raises(SendError) as error:
            send_message(plain(relay.port), to=["head@example.org", "gone@example.org"], subject="s", html="<p>x</p>")
    finally:
        relay.stop()
    assert error.value.permanent and "gone@example.org (550)" in str(error.value)
    assert relay.stored == []  # RSET before DATA: the others did not get a copy either


def test_a_4xx_answer_to_the_data_is_transient_and_known():
    class Busy(Relay):
        async def handle_DATA(self, server, session, envelope):
            return "451 4.3.0 try again later"

    relay = Busy(free_port()).start()
    try:
        with pytest.raises(SendError) as error:
            send_message(plain(relay.port), to=["a@example.org"], subject="s", html="<p>x</p>")
    finally:
        relay.stop()
    assert not error.value.permanent and not isinstance(error.value, OutcomeUnknownError)


@pytest.fixture
def certificate(tmp_path):
    cert, key = self_signed_certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return cert, context


def tls_settings(port: int, *, implicit: bool, ssl_context: str = "default") -> SmtpSettings:
    return SmtpSettings("127.0.0.1", port, "sender@example.org", "auth-code-123", "sender@example.org",
                        use_ssl=implicit, use_starttls=not implicit, timeout=5, ssl_context=ssl_context)  # type: ignore[arg-type]


@pytest.mark.parametrize("implicit", [True, False], ids=["implicit-tls", "starttls"])
def test_a_self_signed_relay_is_refused_before_the_login(certificate, implicit):
    cert, context = certificate
    relay = Relay(free_port())
    relay.start(**_tls_kwargs(relay, context, implicit))
    try:
        with pytest.raises(SendError) as error:
            send_message(tls_settings(relay.port, implicit=implicit), to=["a@example.org"], subject="s", html="<p>x</p>")
    finally:
        relay.stop()
    assert error.value.permanent and "not trusted" in str(error.value) and "ssl_context" in str(error.value)
    assert relay.logins == [] and relay.stored == []  # the authorisation code never left


@pytest.mark.parametrize("implicit", [True, False], ids=["implicit-tls", "starttls"])
def test_verification_is_on_and_passes_for_a_trusted_relay(certificate, implicit, monkeypatch):
    cert, context = certificate
    monkeypatch.setenv("SSL_CERT_FILE", cert)  # the relay's certificate is now a trusted CA of this machine
    relay = Relay(free_port())
    relay.start(**_tls_kwargs(relay, context, implicit))
    try:
        send_message(tls_settings(relay.port, implicit=implicit), to=["a@example.org"], subject="s", html="<p>x</p>")
    finally:
        relay.stop()
    assert relay.logins == [("sender@example.org", "auth-code-123")] and len(relay.stored) == 1


@pytest.mark.parametrize("implicit", [True, False], ids=["implicit-tls", "starttls"])
def test_the_extra_ssl_context_none_turns_verification_off_and_says_so(certificate, implicit, caplog):
    cert, context = certificate
    relay = Relay(free_port())
    relay.start(**_tls_kwargs(relay, context, implicit))
    try:
        with caplog.at_level(logging.WARNING, logger="bdcwatch"):
            send_message(tls_settings(relay.port, implicit=implicit, ssl_context="none"), to=["a@example.org"],
                         subject="s", html="<p>x</p>")
    finally:
        relay.stop()
    assert len(relay.stored) == 1
    assert "is NOT verified (smtp_default extra ssl_context=none)" in caplog.text


def _tls_kwargs(relay: Relay, context: ssl.SSLContext, implicit: bool) -> dict:
    auth = {"authenticator": relay.authenticate, "auth_required": True}
    if implicit:
        # aiosmtpd 1.4 does not see an implicit-TLS session as TLS when it offers AUTH.
        return {"ssl_context": context, "auth_require_tls": False, **auth}
    return {"tls_context": context, "require_starttls": True, **auth}


def test_the_connection_extra_selects_the_ssl_context(monkeypatch):
    from bdcwatch.errors import ConnectionConfigError
    from bdcwatch.orchestration.connections import smtp_settings

    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", "smtp://relay.example.org:465?from_email=a%40example.org")
    assert smtp_settings().ssl_context == "default" and smtp_settings().verifies_tls
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", "smtp://relay.example.org:465?ssl_context=none")
    assert smtp_settings().ssl_context == "none"
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", "smtp://relay.example.org:465?ssl_context=off")
    with pytest.raises(ConnectionConfigError, match="ssl_context"):
        smtp_settings()
