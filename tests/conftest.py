"""Fixtures of every tier: tiny real databases (SQLite files, throwaway PostgreSQL and
MariaDB databases), migrated supervision databases copied from one template per session,
a real SMTP server, and generated worlds for whole-DAG runs. No mocks of our own code.

Tiers (``pytest -m``): ``unit`` (pure logic and SQLite), ``dialect`` (the same tests on
PostgreSQL and MariaDB), ``deploy`` (files, packaging, the demo's tools), ``integration``
(whole DAG runs through ``airflow dags test``; on a server they are ``dialect`` too). The
marker follows from where a test lives and which database it runs on; ``make check``
runs ``unit``, ``make test`` runs all. ``clock`` marks the whole-DAG tests that involve
"today"; the clock pass runs them (on SQLite) with the unit tier under a shifted clock.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.support import MYSQL, POSTGRES, SYSTEMS, Server, SmtpServer, connections_of, free_port

TESTS = Path(__file__).resolve().parent
SERVER_KINDS = {"postgresql": POSTGRES, "mysql": MYSQL}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Give every test its tier (see the module docstring)."""
    for item in items:
        folder = Path(str(item.fspath)).resolve().relative_to(TESTS).parts[0]
        params = getattr(getattr(item, "callspec", None), "params", {})
        on_server = bool(set(map(str, params.values())) & set(SERVER_KINDS)) or bool(
            {"pg_database", "mysql_database"} & set(getattr(item, "fixturenames", ())))
        if folder in ("integration", "deploy", "stack", "web"):
            item.add_marker(getattr(pytest.mark, folder))
            if on_server:
                item.add_marker(pytest.mark.dialect)
            continue
        item.add_marker(pytest.mark.dialect if on_server else pytest.mark.unit)


class Databases:
    """Fresh databases of one kind: ``databases("source")`` is empty, ``.migrated("x")``
    is a supervision database at the newest revision, copied from the session's template
    (migrating each one from scratch would cost seconds a test)."""

    def __init__(self, kind: str, empty: Callable[[str], str], migrated: Callable[[str], str]) -> None:
        self.kind = kind
        self._empty = empty
        self._migrated = migrated

    def __call__(self, name: str = "db") -> str:
        return self._empty(name)

    def migrated(self, name: str = "supervision") -> str:
        return self._migrated(name)


class _ServerDatabases:
    """Throwaway databases on one server, with a migrated template made on first use."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.admin = create_engine(server.admin_url, isolation_level="AUTOCOMMIT")
        self.created: list[str] = []
        self.template: str | None = None

    def create(self) -> str:
        name = f"bdcw_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            conn.execute(text(self.server.create.format(name=name)))
        self.created.append(name)
        return name

    def url(self, name: str) -> str:
        return self.server.url.format(name=name)

    def migrated(self) -> str:
        from bdcwatch.store.migrate import make_engine, migrate

        if self.template is None:
            self.template = self.create()
            engine = make_engine(self.url(self.template))
            migrate(engine)
            engine.dispose()  # PostgreSQL copies a template only while nobody is connected to it
        name = f"bdcw_{uuid.uuid4().hex[:12]}"
        if self.server is POSTGRES:
            with self.admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
            self.created.append(name)
        else:
            name = self.create()
            self._copy_mysql(self.template, name)
        return self.url(name)

    def _copy_mysql(self, template: str, name: str) -> None:
        """MariaDB has no database templates: replay the template's DDL (foreign keys
        included) and copy its few rows (alembic_version, the audit head)."""
        with self.admin.connect() as conn:
            tables = [row[0] for row in conn.execute(text(f"SHOW TABLES FROM `{template}`"))]
            conn.execute(text("SET FOREIGN_KEY_CHECKS = 0"))
            conn.execute(text(f"USE `{name}`"))
            for table in tables:
                ddl = conn.execute(text(f"SHOW CREATE TABLE `{template}`.`{table}`")).one()[1]
                conn.execute(text(ddl))
                conn.execute(text(f"INSERT INTO `{name}`.`{table}` SELECT * FROM `{template}`.`{table}`"))
            conn.execute(text("SET FOREIGN_KEY_CHECKS = 1"))

    def close(self) -> None:
        """Drop every database made, four at a time: one by one, a session's few hundred
        took minutes (PostgreSQL checkpoints for each DROP DATABASE; concurrent drops share)."""
        from concurrent.futures import ThreadPoolExecutor

        def drop(name: str) -> None:
            with self.admin.connect() as conn:
                conn.execute(text(self.server.drop.format(name=name)))

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(drop, self.created))  # list(): an error in any drop is raised here
        self.admin.dispose()


@pytest.fixture(scope="session")
def _server_databases() -> Iterator[Callable[[str], _ServerDatabases]]:
    opened: dict[str, _ServerDatabases] = {}

    def get(kind: str) -> _ServerDatabases:
        server = SERVER_KINDS[kind]
        if kind not in opened:
            reason = server.reachable()
            if reason:
                pytest.skip(reason)
            opened[kind] = _ServerDatabases(server)
        return opened[kind]

    yield get
    for databases in opened.values():
        databases.close()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from bdcwatch.store.migrate import make_engine, migrate

    path = tmp_path_factory.mktemp("template") / "supervision.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, _sqlite_template: Path) -> Databases:
    """SQLite files in the test's folder: ``sqlite_url("source")``, ``sqlite_url.migrated()``."""

    def empty(name: str) -> str:
        return f"sqlite:///{tmp_path / (name + '.sqlite')}"

    def migrated(name: str) -> str:
        target = tmp_path / (name + ".sqlite")
        shutil.copyfile(_sqlite_template, target)
        return f"sqlite:///{target}"

    return Databases("sqlite", empty, migrated)


def _server_factory(kind: str, get: Callable[[str], _ServerDatabases]) -> Databases:
    databases = get(kind)
    return Databases(kind, lambda _name: databases.url(databases.create()), lambda _name: databases.migrated())


@pytest.fixture
def pg_database(_server_databases: Callable[[str], _ServerDatabases]) -> Databases:
    """Fresh PostgreSQL databases, dropped at the end of the session."""
    return _server_factory("postgresql", _server_databases)


@pytest.fixture
def mysql_database(_server_databases: Callable[[str], _ServerDatabases]) -> Databases:
    """Fresh MariaDB databases, dropped at the end of the session."""
    return _server_factory("mysql", _server_databases)


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def database_url(request: pytest.FixtureRequest, sqlite_url: Databases) -> Databases:
    """Fresh databases of one supported kind per parametrised run (the PostgreSQL and
    MariaDB runs are the ``dialect`` tier, skipped with the reason when the server is not
    running): ``database_url("source")``, ``database_url.migrated("supervision")``."""
    if request.param == "sqlite":
        return sqlite_url
    return _server_factory(request.param, request.getfixturevalue("_server_databases"))


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer("127.0.0.1", free_port())
    server.start()
    yield server
    server.stop()


@dataclass
class World:
    """Generated source systems with their ground truth, a supervision database, and the
    Airflow connections that reach them (for whole-DAG runs)."""

    urls: dict[str, str]
    truth: Any  # bdcwatch.demo.GroundTruth
    connections: dict[str, str]
    start: date
    end: date

    @property
    def conf(self) -> str:
        import json

        return json.dumps({"period_start": self.start.isoformat(), "period_end": self.end.isoformat()})

    def findings(self, prefix: str = "") -> set[tuple[str, str, str]]:
        """The supervision database's findings (rule, subject, unit), of rules starting with ``prefix``."""
        from sqlalchemy import select

        from bdcwatch.store.models import finding

        with create_engine(self.urls["supervision"]).connect() as conn:
            return {(r.rule_code, r.subject_id, r.unit_code) for r in conn.execute(select(finding))
                    if r.rule_code.startswith(prefix)}

    def expected(self, prefix: str = "") -> set[tuple[str, str, str]]:
        """The ground truth's findings of rules starting with ``prefix``."""
        return {(f.rule_code, f.subject_id, f.unit_code) for f in self.truth.findings if f.rule_code.startswith(prefix)}


@pytest.fixture
def make_world(request: pytest.FixtureRequest, tmp_path: Path, smtp_server: SmtpServer) -> Callable[..., World]:
    """``make_world(backend, size=, seed=, start=, end=)``: a generated world on SQLite
    files or throwaway PostgreSQL / MariaDB databases, mail to the test's SMTP server."""

    def make(backend: str, *, size: int, seed: int, start: date, end: date) -> World:
        from bdcwatch.demo.generator import generate

        if backend == "sqlite":
            urls = {name: f"sqlite:///{tmp_path / (name + '.db')}" for name in SYSTEMS}
        else:
            databases = request.getfixturevalue("pg_database" if backend == "postgresql" else "mysql_database")
            urls = {name: databases(name) for name in SYSTEMS}
        truth = generate(urls["registration"], urls["ecert"], urls["staff"], size=size, seed=seed,
                         period_start=start, period_end=end)
        return World(urls, truth, connections_of(urls, smtp_server.airflow_uri()), start, end)

    return make
