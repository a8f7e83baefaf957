"""Building a message: yagmail's envelope, our own body parts.

yagmail 0.16 cannot carry an HTML document untouched through ``contents``: it turns every
newline into ``<br>`` and wraps each item in a ``<div>`` (message.py 143-146), its
text/plain part is that same markup, and an inline image gets a per-process random
Content-ID and an extra ``<img>`` after the body (research notes: yagmail.md §1). Mail
clients then move the stray ``<br>`` out of the tables (blank screens above the lists)
and show the chart after the footer. So yagmail builds what it does well (headers with
an encoded subject and sender name, Message-ID, Date, the file attachments, the
``mixed > alternative > [plain, related > html]`` skeleton) and we put in the parts::

    multipart/mixed
     ├ multipart/alternative
     │  ├ text/plain   our text version (mail.plaintext), UTF-8, base64
     │  └ multipart/related; type="text/html"
     │     ├ text/html  the rendered HTML, byte for byte (UTF-8, base64)
     │     └ image/png  each inline image: Content-ID <name@bdcwatch>, inline, alt in the HTML
     └ application/…  each file attachment (yagmail)

Base64 keeps smtplib's line-ending fixes and the relay's line-length limits away from the
HTML: what the template rendered is what the client decodes.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from email.header import Header
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path
from typing import Any

from bdcwatch.mail.plaintext import html_to_text
from bdcwatch.standards.masking import mask_id_numbers

INLINE_PREFIX = "inline/"  # an attachment stored under this name travels as an inline image
SENDER_NAME = "不动产登记监督系统"  # the From display name heads see
CID_DOMAIN = "bdcwatch"


@dataclass(frozen=True)
class Attachment:
    """A file of a message. Named ``inline/…`` it is an image shown in the body (the outbox
    stores it like any attachment and needs no extra column)."""

    filename: str
    content: bytes

    @property
    def inline(self) -> bool:
        return self.filename.startswith(INLINE_PREFIX)

    @property
    def content_id(self) -> str:
        """The stable Content-ID of an inline image (without <>), e.g. ``trend_YQ00@bdcwatch``:
        the template writes ``cid:`` + this, so it cannot depend on the process."""
        return content_id(self.filename)


# Unicode categories a file name shown by a client must not hold: controls (CR/LF), format
# (bidi overrides, zero-width), surrogates, private use, unassigned, line/paragraph separators.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def attachment_name(filename: str) -> str:
    """The file name a client shows (CONTRACT §6): an ID number in it masked (a DJJG from
    the source goes into digest file names), control, format and bidi characters dropped
    (an RLO would show the name reversed; CR/LF is a header the email package refuses),
    path separators made ``_`` (yagmail keeps only the last part of a path)."""
    cleaned = "".join(ch for ch in mask_id_numbers(filename) if unicodedata.category(ch) not in _INVISIBLE)
    return re.sub(r"[/\\]", "_", cleaned).strip() or "attachment"



def content_id(filename: str) -> str:
    """``inline/trend_YQ00.png`` → ``trend_YQ00@bdcwatch`` (ASCII, stable)."""
    stem = Path(filename).stem
    return f"{re.sub(r'[^A-Za-z0-9._-]', '-', stem) or 'image'}@{CID_DOMAIN}"


def build_message(
    *,
    sender: str,
    to: Sequence[str],
    subject: str,
    html: str,
    attachments: Sequence[Attachment] = (),
    message_id: str | None = None,
) -> MIMEMultipart:
    """The whole MIME message (see the module docstring). ``html`` arrives unchanged;
    the text part is derived from it. Raises ValueError for an inline image that is not
    PNG, JPEG or GIF (no client shows others inline)."""
    from email.utils import make_msgid

    from yagmail.headers import resolve_addresses
    from yagmail.message import prepare_message

    files = []
    for item in attachments:
        if not item.inline:
            handle = io.BytesIO(item.content)
            handle.name = attachment_name(item.filename)
            files.append(handle)
    addresses = resolve_addresses(sender, SENDER_NAME, list(to), None, None)
    message: MIMEMultipart = prepare_message(
        sender, SENDER_NAME, addresses, subject, None, files or None, None, "utf-8", prettify_html=False,
        message_id=message_id or make_msgid(domain=CID_DOMAIN),
    )
    skeleton: Any = message  # the email package's payload types are unions; the shape is checked below
    alternative = skeleton.get_payload()[0]
    plain, related = alternative.get_payload()
    if plain.get_content_type() != "text/plain" or related.get_content_type() != "multipart/related":
        raise RuntimeError("yagmail's message skeleton changed; check mail/mime.py against its version")
    alternative.get_payload()[0] = MIMEText(html_to_text(html), "plain", "utf-8")
    related.get_payload()[0] = MIMEText(html, "html", "utf-8")
    related.set_param("type", "text/html")
    for item in attachments:
        if item.inline:
            related.attach(_inline_image(item))
    _name_for_older_clients(message)
    return message


def _name_for_older_clients(message: MIMEMultipart) -> None:
    """A Chinese attachment name also as an RFC 2047 ``name=`` of its Content-Type: the
    email package writes only RFC 2231 (``filename*=utf-8''%E5…``), which older Outlook
    and many OA webmail systems the bureaus use show as ``ATT00001``. The Disposition's
    ``filename*`` stays for the clients that read it."""
    for part in message.walk():
        name = part.get_filename()
        if name and not name.isascii() and part.get_content_disposition() == "attachment":
            part.del_param("name", header="Content-Type")
            part.set_param("name", Header(name, "utf-8").encode(maxlinelen=998), header="Content-Type")


def _inline_image(item: Attachment) -> MIMEImage:
    kinds = {b"\x89PNG": "png", b"\xff\xd8\xff": "jpeg", b"GIF8": "gif"}
    subtype = next((kind for magic, kind in kinds.items() if item.content.startswith(magic)), None)
    if subtype is None:
        raise ValueError(f"inline image {item.filename} is not PNG, JPEG or GIF")
    image = MIMEImage(item.content, subtype)
    image.add_header("Content-ID", f"<{item.content_id}>")
    image.add_header("Content-Disposition", "inline", filename=attachment_name(Path(item.filename).name))
    return image


def as_bytes(message: MIMEMultipart) -> bytes:
    """The message as it goes over SMTP (CRLF line ends) or into an .eml file."""
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
