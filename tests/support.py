"""Helpers the tests share (not fixtures, not tests): real servers the tests start, the
contract's URL forms, and the ID-number check applied to everything that leaves the engine.
Fixtures live in ``conftest.py``; test modules import from here, never from each other."""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

# The four databases of a generated world; "staff" is reached as staff_registry_db.
SYSTEMS = ("registration", "ecert", "staff", "supervision")
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
# yagmail names an inline image by a decimal hash (``cid:879907891518344272``): a content
# id, not personal data, and sometimes 18 digits long.
CONTENT_ID = re.compile(r"cid:\d+")


def unmasked_id(html: str) -> re.Match[str] | None:
    """An ID-number-shaped token in a mail's HTML, content ids of inline images aside."""
    return ID_NUMBER.search(CONTENT_ID.sub("cid:", html))


def airflow_uri(sqlalchemy_url: str) -> str:
    """A SQLAlchemy URL as an operator writes the Airflow connection (CONTRACT §1)."""
    url = make_url(sqlalchemy_url)
    if url.get_backend_name() == "sqlite":
        return f"sqlite:///{url.database}"  # an absolute path gives the contract's sqlite:////path form
    scheme = "postgresql" if url.get_backend_name() == "postgresql" else "mysql"
    return url.set(drivername=scheme, query={}).render_as_string(hide_password=False)


def connections_of(urls: dict[str, str], smtp_uri: str) -> dict[str, str]:
    """The Airflow connections of a world: conn id → URI."""
    named = {f"{name}_db" if name != "staff" else "staff_registry_db": airflow_uri(url) for name, url in urls.items()}
    return {**named, "smtp_default": smtp_uri}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Server:
    """A database server the tests may create throwaway databases on."""

    label: str
    admin_url: str
    create: str  # SQL with {name}
    drop: str
    url: str  # SQLAlchemy URL of a database {name}

    def reachable(self) -> str | None:
        try:
            engine = create_engine(self.admin_url, connect_args={"connect_timeout": 3})
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            engine.dispose()
            return None
        except Exception as error:  # any failure means: no server to test against
            return f"{self.label} is not reachable ({type(error).__name__}: {error})"


POSTGRES = Server(
    "PostgreSQL at 127.0.0.1:5432", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres",
    'CREATE DATABASE "{name}"', 'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
    "postgresql+psycopg2://postgres@127.0.0.1:5432/{name}",
)
MYSQL = Server(
    "MySQL/MariaDB at 127.0.0.1:3306", "mysql+pymysql://root@127.0.0.1:3306/test?charset=utf8mb4",
    "CREATE DATABASE `{name}` CHARACTER SET utf8mb4", "DROP DATABASE IF EXISTS `{name}`",
    "mysql+pymysql://root@127.0.0.1:3306/{name}?charset=utf8mb4",
)


@dataclass
class Received:
    """One message as the relay received it."""

    envelope_to: list[str]
    message: EmailMessage

    @property
    def html(self) -> str:
        body = self.message.get_body(preferencelist=("html",))
        return str(body.get_content()) if body else ""

    @property
    def attachments(self) -> dict[str, bytes]:
        return {part.get_filename(): part.get_content() for part in self.message.iter_attachments()}


@dataclass
class SmtpServer:
    """A real SMTP server (aiosmtpd) that keeps every message it accepts."""

    host: str
    port: int
    received: list[Received] = field(default_factory=list)
    controller: Any = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        server = self

        class Handler:
            async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
                message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
                server.received.append(Received(list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
                return "250 OK"

        self.controller = Controller(Handler(), hostname=self.host, port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def airflow_uri(self) -> str:
        return f"smtp://{self.host}:{self.port}?disable_ssl=true&disable_tls=true&from_email=bdcwatch%40example.org"


def self_signed_certificate(folder: Any) -> tuple[str, str]:
    """A self-signed certificate for localhost and 127.0.0.1 (usable as its own CA):
    (certificate file, key file) in ``folder``."""
    import datetime
    import ipaddress
    from pathlib import Path

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    # The certificate's own validity window is the only clock here (the TLS library checks it).
    start = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=365 * 30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = Path(folder) / "relay-cert.pem", Path(folder) / "relay-key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


@dataclass
class Relay:
    """A real SMTP relay (aiosmtpd) whose behaviour after the data a test chooses: answer
    late (``delay`` seconds after storing the message) or drop the connection
    (``drop``). Keeps the raw bytes of every message it stored and every login it saw."""

    port: int
    delay: float = 0.0
    drop: bool = False
    stored: list[bytes] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    controller: Any = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        import asyncio

        self.stored.append(envelope.original_content or envelope.content)  # stored at the final '.'
        if self.drop:
            server.transport.close()
            return "250 OK (never heard)"
        if self.delay:
            await asyncio.sleep(self.delay)
        return "250 OK queued"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult

        self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=True)

    def start(self, **kwargs: Any) -> Relay:
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **kwargs)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def messages(self) -> list[EmailMessage]:
        return [message_from_bytes(raw, policy=policy.default) for raw in self.stored]  # type: ignore[misc]


def arrived_earlier(folder: Path, seconds: int = 3600) -> None:
    """Every file in ``folder`` (not below it) as if copied in ``seconds`` ago: its
    modification time moved back from its own, so the complaint intake's settling
    (policy ``intake.settle_seconds``, judged by the folder's clock) takes it in whatever
    clock the test runs under."""
    for path in folder.iterdir():
        if path.is_file():
            stat = path.stat()
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns - seconds * 1_000_000_000))
