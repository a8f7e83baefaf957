"""The one way bdcwatch sends mail: yagmail over the ``smtp_default`` relay.

Digests, reports and failure alerts all come through ``send_message``; nothing else in
the project speaks SMTP. The message is built by ``mail.mime`` (yagmail's envelope, our
body parts). yagmail opens the connection (implicit TLS or STARTTLS, login); the message
then goes over that connection **once**, with the SMTP verbs smtplib exposes on it:

* MAIL FROM and every RCPT TO must be accepted, else RSET and nothing was delivered
  (``SendError``: permanent for a 5xx answer, transient for 4xx);
* DATA: a refusal before the body (no 354) or a final 4xx/5xx answer means the relay did
  not take it (``SendError`` again);
* a timeout or a dropped connection *during* DATA leaves the outcome unknown: the relay
  may have stored the message and answered too late (yagmail would reconnect and send it
  again: 3 copies on a slow relay). That is ``OutcomeUnknownError``: the outbox marks the
  message ``unconfirmed`` and never resends it on its own.

TLS is verified by default, for implicit TLS and STARTTLS alike, as Airflow's SMTP
provider does: ``ssl.create_default_context()`` (the system's CAs, the relay's host name).
The connection extra ``ssl_context`` (the provider's name and values) set to ``"none"``
turns verification off for a test relay, and every send logs that it is off.
"""

from __future__ import annotations

import email.errors
import logging
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bdcwatch.mail.mime import INLINE_PREFIX, Attachment, as_bytes, build_message
from bdcwatch.safe_text import subject_line
from bdcwatch.standards.masking import mask_id_numbers

__all__ = ["INLINE_PREFIX", "Attachment", "OutcomeUnknownError", "SendError", "SmtpSettings", "send_message"]

log = logging.getLogger(__name__)

SslContext = Literal["default", "none"]  # the Airflow SMTP provider's extra ``ssl_context``


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    login: str | None
    password: str | None
    from_email: str
    use_ssl: bool
    use_starttls: bool
    timeout: int = 30  # seconds per SMTP step (connect, each reply)
    operations_email: str | None = None  # where alerts go when the policy cannot be read
    ssl_context: SslContext = "default"  # "none": do not verify the relay's certificate (test relays)

    @property
    def verifies_tls(self) -> bool:
        return self.ssl_context != "none"


class SendError(RuntimeError):
    """Sending failed. ``permanent`` means retrying the same message will not help."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class OutcomeUnknownError(SendError):
    """The connection failed after DATA began: the relay may or may not have the message."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=False)


def _classify(error: Exception) -> SendError:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        refused = ", ".join(f"{rcpt} ({code})" for rcpt, (code, _) in sorted(error.recipients.items()))
        return SendError(f"relay refused recipient(s) {refused}; nothing was sent", permanent=min(codes) >= 500)
    if isinstance(error, ssl.SSLCertVerificationError):
        return SendError(f"the relay's TLS certificate is not trusted ({error.verify_message}); nothing was sent. "
                         "Install its CA on this machine, or for a test relay set the smtp_default extra "
                         "ssl_context to none", permanent=True)
    if isinstance(error, (smtplib.SMTPAuthenticationError, smtplib.SMTPNotSupportedError)):
        return SendError(f"relay refused the login or a required extension: {error}", permanent=True)
    if isinstance(error, smtplib.SMTPResponseException):
        return SendError(f"relay answered {error.smtp_code}: {error.smtp_error!r}", permanent=error.smtp_code >= 500)
    return SendError(f"relay unreachable: {type(error).__name__}: {error}", permanent=False)


def send_message(
    settings: SmtpSettings,
    *,
    to: Sequence[str],
    subject: str,
    html: str,
    attachments: Sequence[Attachment] = (),
    message_id: str | None = None,
) -> None:
    """Send one HTML message once. Raises ``SendError`` (transient or permanent) when the
    relay certainly does not have it, ``OutcomeUnknownError`` when it may."""
    # Last line of defence (CONTRACT §6): nothing shaped like an ID number leaves unmasked,
    # no control character reaches a client. Both are no-ops on a rendered report.
    try:
        # Built and serialised before connecting: a message that cannot be written (a header
        # the email package refuses) is this message's permanent failure, not the batch's.
        data = as_bytes(build_message(
            sender=settings.from_email, to=to, subject=subject_line(subject), html=mask_id_numbers(html),
            attachments=attachments, message_id=message_id,
        ))
    except (ValueError, UnicodeError, email.errors.MessageError) as error:
        raise SendError(f"the message cannot be written as MIME ({type(error).__name__}: {error}); nothing was "
                        f"sent", permanent=True) from error
    client = _connect(settings)
    try:
        _deliver(client.smtp, settings.from_email, list(to), data)
    finally:
        try:
            client.close()
        except (OSError, smtplib.SMTPException) as error:
            # The outcome is already decided: a failing QUIT must not change it.
            log.warning("closing the SMTP connection failed: %s", error)
    log.info("sent %r to %d recipient(s)", subject, len(to))


def _connect(settings: SmtpSettings) -> Any:
    """A logged-in yagmail client (``client.smtp`` is the open smtplib connection)."""
    import yagmail

    tls: dict[str, Any] = {}
    context = ssl.create_default_context() if settings.verifies_tls else None
    if settings.use_ssl:
        tls = {"smtp_ssl": True, "smtp_starttls": False, **({"context": context} if context else {})}
    elif settings.use_starttls:
        tls = {"smtp_ssl": False, "smtp_starttls": {"context": context} if context else True}
    else:
        tls = {"smtp_ssl": False, "smtp_starttls": False}
        if settings.login:
            log.warning("smtp_default %s:%s has neither SSL nor STARTTLS: the login travels unencrypted",
                        settings.host, settings.port)
    if not settings.verifies_tls and (settings.use_ssl or settings.use_starttls):
        log.warning("TLS certificate of the relay %s:%s is NOT verified (smtp_default extra ssl_context=none): "
                    "acceptable for a test relay only", settings.host, settings.port)
    try:
        client = yagmail.SMTP(
            user=settings.login or settings.from_email, password=settings.password, host=settings.host,
            port=settings.port, smtp_skip_login=not settings.login, soft_email_validation=False,
            timeout=settings.timeout, **tls,
        )
        client.login()
    except (OSError, smtplib.SMTPException) as error:
        raise _classify(error) from error
    return client


def _deliver(smtp: smtplib.SMTP, sender: str, recipients: list[str], payload: bytes) -> None:
    """One SMTP transaction on ``smtp`` (see the module docstring)."""
    try:
        smtp.ehlo_or_helo_if_needed()
        code, reply = smtp.mail(sender)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, reply, sender)
        refused = {}
        for recipient in recipients:
            code, reply = smtp.rcpt(recipient)
            if code not in (250, 251):
                refused[recipient] = (code, reply)
        if refused:
            smtp.rset()
            raise smtplib.SMTPRecipientsRefused(refused)
    except (OSError, smtplib.SMTPException) as error:
        raise _classify(error) from error
    try:
        code, reply = smtp.data(payload)
    except smtplib.SMTPDataError as error:  # DATA itself refused (no 354): the body was not sent
        raise _classify(error) from error
    except (OSError, smtplib.SMTPException) as error:
        # Covers smtplib's "Connection unexpectedly closed: timed out" after the final '.'.
        raise OutcomeUnknownError(
            f"the connection failed after the message was handed over ({type(error).__name__}: {error}); the relay "
            "may have stored it, so it is not sent again automatically"
        ) from error
    if code != 250:
        raise _classify(smtplib.SMTPDataError(code, reply))
