"""The one way bdcwatch sends mail: yagmail over the ``smtp_default`` relay.

Digests, reports and failure alerts all come through ``send_message``; nothing else in
the project speaks SMTP. yagmail retries a dropped connection itself and then returns
``False`` instead of raising, and returns a dict of refused recipients on partial
success: both are turned into ``SendError`` here so no caller can mistake them for
success.
"""

from __future__ import annotations

import io
import logging
import smtplib
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bdcwatch.standards.masking import mask_id_numbers

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    login: str | None
    password: str | None
    from_email: str
    use_ssl: bool
    use_starttls: bool
    timeout: int = 30
    operations_email: str | None = None  # where alerts go when the policy cannot be read


INLINE_PREFIX = "inline/"  # an attachment stored under this name travels as an inline image


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes

    @property
    def inline(self) -> bool:
        """An image shown in the body (CID) rather than a file to open. Marked by its name,
        so the outbox stores it like any attachment and needs no extra column."""
        return self.filename.startswith(INLINE_PREFIX)


class SendError(RuntimeError):
    """Sending failed. ``permanent`` means retrying the same message will not help."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


def _classify(error: Exception) -> SendError:
    if isinstance(error, (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPAuthenticationError)):
        return SendError(f"relay refused the message: {error}", permanent=True)
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
    """Send one HTML message. Raises SendError (transient or permanent) on any failure."""
    import yagmail

    # Last line of defence for item 29: nothing shaped like an ID number leaves unmasked.
    html = mask_id_numbers(html)
    subject = mask_id_numbers(subject)
    files = []
    for item in attachments:
        if item.inline:
            continue
        handle = io.BytesIO(item.content)
        handle.name = item.filename
        files.append(handle)
    with tempfile.TemporaryDirectory(prefix="bdcwatch-inline-") as folder:
        # yagmail embeds an inline image from a file path and places it after the content
        # before it: the digest's HTML ends with the chart's caption, so the picture follows.
        contents: list[Any] = [html]
        for item in attachments:
            if item.inline:
                path = Path(folder) / Path(item.filename).name
                path.write_bytes(item.content)
                contents.append(yagmail.inline(str(path)))
        _send(settings, to=to, subject=subject, contents=contents, files=files, message_id=message_id)


def _send(settings: SmtpSettings, *, to: Sequence[str], subject: str, contents: list[Any], files: list[Any],
          message_id: str | None) -> None:
    import yagmail

    user = settings.login or settings.from_email
    try:
        client = yagmail.SMTP(
            user=user,
            password=settings.password,
            host=settings.host,
            port=settings.port,
            smtp_ssl=settings.use_ssl,
            smtp_starttls=settings.use_starttls and not settings.use_ssl,
            smtp_skip_login=not settings.login,
            soft_email_validation=False,
            timeout=settings.timeout,
        )
        # prettify_html would rewrite the table markup the digest was tested with.
        result = client.send(
            to=list(to), subject=subject, contents=contents, attachments=files or None,
            prettify_html=False, message_id=message_id,
        )
    except (OSError, smtplib.SMTPException) as error:
        raise _classify(error) from error
    try:
        client.close()
    except (OSError, smtplib.SMTPException) as error:
        # The relay already accepted the message: a failing QUIT must not make it look
        # unsent (the outbox would send it again).
        log.warning("closing the SMTP connection failed after sending: %s", error)
    if result is False:
        raise SendError("yagmail gave up after its retries (the relay kept dropping the connection)", permanent=False)
    if isinstance(result, dict) and result:
        refused = ", ".join(sorted(result))
        raise SendError(f"relay refused some recipients: {refused}", permanent=True)
    log.info("sent %r to %d recipient(s)", subject, len(to))
