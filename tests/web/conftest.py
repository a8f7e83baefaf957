"""The web tier: the operations UI (CONTRACT §7) against Airflow's own auth.

* ``airflow_web_home`` — a throwaway AIRFLOW_HOME with a migrated metadata database (the
  auth manager checks revoked tokens there) and four simple-auth-manager users, one per
  role: ``admin``, ``op``, ``viewer`` and ``user1`` (role ``user``: may trigger DAGs,
  may not change the ledger). Password = user name.
* ``web`` — Airflow's whole FastAPI app built in this process (``create_app()``, with the
  ``plugins/`` folder, so the plugin is loaded as the api-server loads it) in a
  TestClient, and a token per user from ``POST /auth/token``.
* ``ledger`` — a migrated supervision_db for one test, made the ``supervision_db``
  connection (``AIRFLOW_CONN_SUPERVISION_DB``), with helpers to fill it through the
  engine's own functions.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
USERS = {"admin": "admin", "op": "op", "viewer": "viewer", "user1": "user"}  # name → role


@dataclass(frozen=True)
class AirflowWebHome:
    home: Path
    env: dict[str, str]  # what an Airflow process of these tests runs with


def web_home_env(home: Path, *, dags: Path, **settings: str) -> dict[str, str]:
    """The environment of an Airflow process of these tests: this process's without its
    Airflow and bdcwatch settings, an AIRFLOW_HOME with a SQLite metadata database, the
    plugins folder, and ``settings`` (the auth manager and its own)."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("AIRFLOW_", "AIRFLOW__", "BDCWATCH_"))}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__API_AUTH__JWT_SECRET": "bdcwatch-web-tests-only-" + "0" * 48,  # 64 bytes: no key-length warning
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Shanghai",
        **settings,
    })
    return env


@pytest.fixture(scope="session")
def airflow_web_home(tmp_path_factory: pytest.TempPathFactory) -> AirflowWebHome:
    home = tmp_path_factory.mktemp("airflow_web")
    (home / "passwords.json").write_text(json.dumps({name: name for name in USERS}))
    env = web_home_env(home, dags=home / "dags", **{
        "AIRFLOW__CORE__AUTH_MANAGER":
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{n}:{r}" for n, r in USERS.items()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
    })
    (home / "dags").mkdir()
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True, timeout=600)
    return AirflowWebHome(home, env)


class Web:
    """Airflow's app with the plugin, in a TestClient; ``headers(user)`` gives a Bearer
    header, ``session(user)`` a client logged in through the cookie like the browser."""

    def __init__(self, app: Any) -> None:
        from fastapi.testclient import TestClient

        self.app = app
        self.client = TestClient(app, raise_server_exceptions=False)
        self.tokens = {name: self.token(name) for name in USERS}

    def token(self, user: str, password: str | None = None) -> str:
        answer = self.client.post("/auth/token", json={"username": user, "password": password or user})
        assert answer.status_code == 201, answer.text
        return str(answer.json()["access_token"])

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def session(self, user: str) -> Any:
        """A fresh client carrying ``user``'s UI cookie (``_token``), nothing else."""
        from fastapi.testclient import TestClient

        client = TestClient(self.app, raise_server_exceptions=False)
        client.cookies.set("_token", self.tokens[user])
        return client


@pytest.fixture(scope="session")
def web(airflow_web_home: AirflowWebHome) -> Iterator[Web]:
    """Airflow's FastAPI app built in this process from ``airflow_web_home``'s settings.
    Airflow may already be imported by other tiers' tests: its settings are re-read and
    its plugin and app caches cleared, and restored afterwards."""
    patch = pytest.MonkeyPatch()
    for key in [k for k in os.environ if k.startswith(("AIRFLOW_", "AIRFLOW__"))]:
        patch.delenv(key)
    for key, value in airflow_web_home.env.items():
        if key.startswith(("AIRFLOW_", "AIRFLOW__")):
            patch.setenv(key, value)
    from airflow import plugins_manager, settings
    from airflow.api_fastapi.app import create_app, purge_cached_app

    def reset() -> None:
        settings.configure_vars()
        settings.reconfigure_orm()
        for cached in (plugins_manager._get_plugins, plugins_manager._get_ui_plugins,
                       plugins_manager.get_fastapi_plugins, plugins_manager.get_flask_plugins):
            cached.cache_clear()
        purge_cached_app()

    reset()
    try:
        built = Web(create_app())
        with built.client:  # runs the apps' lifespans, as uvicorn does
            yield built
    finally:
        patch.undo()
        reset()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# As the machine notes say: a closed network, root, no GPU.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium through Playwright (the browser tests skip where it is missing)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
