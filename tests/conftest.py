"""Shared fixtures: tiny real databases (SQLite files, throwaway PostgreSQL databases) and
a real SMTP server (aiosmtpd) that keeps what it receives. No mocks of our own code."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text


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


def _throwaway_databases(server: Server) -> Iterator[Callable[[], str]]:
    reason = server.reachable()
    if reason:
        pytest.skip(reason)
    admin = create_engine(server.admin_url, isolation_level="AUTOCOMMIT")
    created: list[str] = []

    def make() -> str:
        name = f"bdcw_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(text(server.create.format(name=name)))
        created.append(name)
        return server.url.format(name=name)

    yield make
    with admin.connect() as conn:
        for name in created:
            conn.execute(text(server.drop.format(name=name)))
    admin.dispose()


@pytest.fixture
def pg_database() -> Iterator[Callable[[], str]]:
    """Factory for fresh PostgreSQL databases, dropped after the test."""
    yield from _throwaway_databases(POSTGRES)


@pytest.fixture
def mysql_database() -> Iterator[Callable[[], str]]:
    """Factory for fresh MySQL/MariaDB databases, dropped after the test."""
    yield from _throwaway_databases(MYSQL)


@pytest.fixture
def sqlite_url(tmp_path: Path):
    def make(name: str = "db") -> str:
        return f"sqlite:///{tmp_path / (name + '.sqlite')}"

    return make


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def database_url(request, sqlite_url) -> Callable[[str], str]:
    """Factory of fresh database URLs of one supported kind per parametrised run: SQLite
    files, or throwaway PostgreSQL / MariaDB databases (skipped, with the reason, when that
    server is not running). ``database_url("supervision")`` gives a new database."""
    if request.param == "sqlite":
        return sqlite_url
    make = request.getfixturevalue("pg_database" if request.param == "postgresql" else "mysql_database")
    return lambda _name="db": make()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    envelope_to: list[str]
    message: EmailMessage

    @property
    def html(self) -> str:
        body = self.message.get_body(preferencelist=("html",))
        return body.get_content() if body else ""

    @property
    def attachments(self) -> dict[str, bytes]:
        return {part.get_filename(): part.get_content() for part in self.message.iter_attachments()}


@dataclass
class SmtpServer:
    host: str
    port: int
    received: list[Received] = field(default_factory=list)
    controller: object | None = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        server = self

        class Handler:
            async def handle_DATA(self, _server, _session, envelope):
                message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
                server.received.append(Received(list(envelope.rcpt_tos), message))
                return "250 OK"

        self.controller = Controller(Handler(), hostname=self.host, port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def airflow_uri(self) -> str:
        return f"smtp://{self.host}:{self.port}?disable_ssl=true&disable_tls=true&from_email=bdcwatch%40example.org"


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer("127.0.0.1", free_port())
    server.start()
    yield server
    server.stop()
