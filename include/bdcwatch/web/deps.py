"""What the routes work with: the city, its supervision_db, its policy and the policy
zone's clock.

supervision_db is the ``supervision_db`` Airflow connection (``AIRFLOW_CONN_SUPERVISION_DB``
or the metadata DB), read on each request (a tenth of a millisecond) so a changed
connection is used without a restart; one engine per URL, migrated to the newest schema
on first use like every other entry point (``store.migrate``).

With a province file in force (``config.province``) one Airflow serves every city, and a
request is about one of them (issue 13 item 5): the ``X-Bdcwatch-City`` header (the pages'
script sends the city the page shows, so a change never lands in another city's ledger),
else the ``city`` query parameter (scripts, links), else the ``bdcwatch_city`` cookie the
city picker sets (``/ui/city``; a page opened with ``?city=``, e.g. from a digest's link,
sets it too), else the home city. The city's supervision_db is the
connection ``supervision_db__<code>`` (the plain id for the home city) and its policy the
one its entry names — as for the city's DAGs (``orchestration.cities``). ``CityScope``
puts the requested code in a context variable for the request; ``city()`` resolves it.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Annotated
from urllib.parse import parse_qs

from fastapi import HTTPException, Path, Query, Request, Response, status
from sqlalchemy import Engine
from starlette.types import ASGIApp, Receive, Scope, Send

from bdcwatch.config.policy import Policy, cached_policy
from bdcwatch.dates.clock import local_now

# Numbers a request may carry, bounded: an id or page past what the database holds would
# overflow its driver (a 500) instead of being refused (422) or not found (404).
MAX_ROW_ID = 2**31 - 1
MAX_PAGE = 1_000_000
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
PageNumber = Annotated[int, Query(ge=1, le=MAX_PAGE)]
OptionalRowId = Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)]
Year = Annotated[int | None, Query(ge=1900, le=2200)]

if TYPE_CHECKING:
    from bdcwatch.config.province import City

_migrating = threading.Lock()
CITY_HEADER = "x-bdcwatch-city"
CITY_COOKIE = "bdcwatch_city"


@dataclass
class _Requested:
    """The city one request asks for. ``asked``: (code, where it came from): "header" /
    "query" name a city on purpose (unknown → 404); a cookie may be stale (a city dropped
    from the province file) and then means the home city. ``instead``: the city shown when
    the cookie's is one the user may not read (``auth.reader``). Mutable on purpose: the
    context variable holds the same object in the copies of the request's context that
    Starlette's thread pool gives each sync dependency and handler, so what ``reader``
    decides is what the handler reads."""

    asked: tuple[str, str] | None
    instead: City | None = None


_requested: ContextVar[_Requested | None] = ContextVar("bdcwatch_requested_city", default=None)


class CityScope:
    """Pure ASGI middleware: the city a request names (module docstring), kept in a context
    variable for the request's dependencies and handlers (the thread pool running sync
    handlers gets a copy of the request's context)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = _requested.set(_Requested(requested_city(scope)) if scope["type"] == "http" else None)
        try:
            await self.app(scope, receive, send)
        finally:
            _requested.reset(token)


def requested_city(scope: Scope) -> tuple[str, str] | None:
    """The city code a request names and where: header, query parameter, cookie; None."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    if headers.get(CITY_HEADER, "").strip():
        return headers[CITY_HEADER].strip(), "header"
    query = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("city", [""])[-1].strip()
    if query:
        return query, "query"
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get("cookie", ""))
    except Exception:  # a malformed Cookie header from another app on the host: no city from it
        return None
    chosen = cookie.get(CITY_COOKIE)
    return (chosen.value.strip(), "cookie") if chosen and chosen.value.strip() else None


def city() -> City | None:
    """The city of this request, or None without a province file (one city).

    Raises:
        HTTPException: 404 when the header or query names a city the province does not
            have (naming the ones it has), or names one without a province file; 503 when
            the province file does not load.
    """
    from bdcwatch.config.province import cached_province
    from bdcwatch.errors import PolicyError

    request = _requested.get()
    if request is not None and request.instead is not None:
        return request.instead
    asked = request.asked if request is not None else None
    try:
        province = cached_province()
    except PolicyError as error:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"province file not usable: {error}") from None
    if province is None:
        if asked is not None and asked[1] != "cookie":
            raise HTTPException(status.HTTP_404_NOT_FOUND,
                                f"本系统只服务一个城市，没有城市 {asked[0]}（no city {asked[0]!r}: one city here）")
        return None
    if asked is None:
        return province.home
    for known in province.cities:
        if known.code == asked[0]:
            return known
    if asked[1] == "cookie":
        return province.home
    listed = "、".join(f"{c.code} {c.name}" for c in province.cities)
    raise HTTPException(status.HTTP_404_NOT_FOUND, f"没有城市 {asked[0]}（no city {asked[0]!r}）；本系统的城市：{listed}")


def city_named_in_address() -> bool:
    """Whether this request named its city with ``?city=`` (a digest's link, a reload
    after a change): the page then also switches the picker to it."""
    request = _requested.get()
    return request is not None and request.asked is not None and request.asked[1] == "query"


def city_from_cookie() -> bool:
    """Whether this request's city comes from the picker's cookie (or is the home city by
    default), not named on purpose by a header or ``?city=``."""
    request = _requested.get()
    return request is None or request.asked is None or request.asked[1] == "cookie"


def show_instead(shown: City) -> None:
    """Show ``shown`` for the rest of this request instead of the city the cookie names
    (``auth.reader``: one the user may not read)."""
    request = _requested.get()
    if request is not None:
        request.instead = shown


def remember_city(response: Response, request: Request, code: str) -> None:
    """Set the city picker's cookie (these pages only; HttpOnly; Secure over HTTPS)."""
    base = str(request.scope.get("root_path", "")).rstrip("/")
    response.set_cookie(CITY_COOKIE, code, path=base or "/", httponly=True, samesite="lax",
                        secure=request.url.scheme == "https")


def cities() -> list[City]:
    """Every city of the province in force (home first); empty for one city."""
    from bdcwatch.config.province import cities_in_force

    return cities_in_force()


def dag_id(base: str) -> str:
    """This request's city's id of DAG ``base`` (``complaint_intake__1401``)."""
    chosen = city()
    return chosen.dag_id(base) if chosen is not None else base


@lru_cache(maxsize=4)
def _engine_for(url: str) -> Engine:
    from bdcwatch.store.migrate import make_engine, migrate

    engine = make_engine(url)
    with _migrating:
        migrate(engine)
    return engine


def supervision() -> Engine:
    """The engine on supervision_db.

    Raises:
        HTTPException: 503 when the connection is not defined or the database does not
            answer (the page says which; no traceback reaches the user).
    """
    from bdcwatch.orchestration.connections import SUPERVISION_DB, database_url

    chosen = city()
    conn_id = chosen.conn_id(SUPERVISION_DB) if chosen is not None else SUPERVISION_DB
    try:
        url = database_url(conn_id).render_as_string(hide_password=False)
    except Exception as error:  # Airflow's AirflowNotFoundException, or a URL it cannot parse
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            f"{conn_id} is not configured ({type(error).__name__}: {error})") from None
    try:
        return _engine_for(url)
    except Exception as error:  # the database does not answer or cannot be migrated
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            f"{conn_id} does not answer ({type(error).__name__})") from None


def policy() -> Policy:
    """This request's city's policy (the one policy without a province file)."""
    chosen = city()
    return chosen.policy if chosen is not None else cached_policy()


def now() -> datetime:
    """The policy zone's wall clock (stored timestamps are local, CONTRACT §2)."""
    return local_now(policy().timezone)


def today() -> date:
    return now().date()
