"""Who is asking, and what they may do (CONTRACT §7 Auth).

Plugin apps are not protected by Airflow: every route of ours depends on ``reader`` or
``changer``. The user is resolved by Airflow itself (``get_user``: an ``Authorization:
Bearer`` token from ``POST /auth/token`` wins, else the UI's ``_token`` cookie) and
checked through the auth manager, so the simple auth manager, FAB or any other answer
the same way:

* no, an expired or an invalid token → 401 (CONTRACT §7: "without it 401 and no data";
  Airflow's own routes answer 403 for a malformed or forged token, ours say 401 since no
  user is logged in by it);
* reading needs the right to read DAGs (viewer and up);
* changing needs the right to edit Variables — the permission Airflow gives the ``op``
  and ``admin`` roles (simple auth manager) and Op and Admin (FAB) — else 403;
* in a province (several cities in one Airflow, ``web.deps``), a city's ledger is read
  with the right to read that city's ``ecert_completeness`` DAG (``ecert_completeness__1401``;
  with FAB the ``DAG:ecert_completeness__1401`` read permission), so a city's staff can be
  given their city alone. A city named on purpose (``?city=``, the pages' header) that the
  user may not read is a 403 naming it; the picker's cookie falls back to a city they may
  read, and the picker lists only those. The simple auth manager gives every role every
  DAG: there everyone who may read reads every city.

CSRF. A browser sends the cookie with any request to our origin, also one a foreign
page makes it send. A change made with the cookie therefore needs a token in the
``X-CSRF-Token`` header that only our own pages know: an HMAC keyed by the session's
JWT (``csrf_token``), put in the page's ``<meta name="csrf-token">``. A foreign page can
neither read it nor set the header without a CORS preflight Airflow does not grant.
Changes are JSON bodies (a plain HTML form cannot send one) or, for uploads, multipart
bodies (which a foreign form can send, but never with the header), never GETs, and a
request the browser marks as cross-site (``Sec-Fetch-Site``) is refused. A request with
an explicit Bearer token carries no ambient credential and needs no CSRF token.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails
from airflow.api_fastapi.core_api.security import bearer_scheme, get_user
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import Engine

from bdcwatch.web import deps

CSRF_HEADER = "X-CSRF-Token"
CITY_DAG = "ecert_completeness"  # the DAG whose read right opens a city's ledger (module docstring)


@dataclass(frozen=True)
class Operator:
    """The logged-in user as our routes see them."""

    name: str  # the audit trail's actor: Airflow's user name, never a form field
    can_change: bool
    csrf_token: str | None  # for the page's forms (cookie sessions); None with a Bearer token
    cities: tuple[str, ...] = ()  # codes of the province's cities the user may read (none: one city)


def _bearer(request: Request) -> bool:
    """A request carrying a token of its own (a script), not the browser's cookie: an empty
    ``Bearer `` is no token (Airflow then signs in by the cookie, which needs the CSRF check)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


def csrf_token(request: Request) -> str | None:
    """The CSRF token of the request's cookie session (None without one)."""
    session = request.cookies.get(COOKIE_NAME_JWT_TOKEN)
    if not session:
        return None
    return hmac.new(session.encode("utf-8"), b"bdcwatch-csrf-v1", hashlib.sha256).hexdigest()


async def logged_in(
    request: Request, bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
) -> BaseUser:
    """The logged-in Airflow user, resolved by Airflow's ``get_user`` (Bearer token, else
    the UI's cookie).

    Raises:
        HTTPException: 401 without a token, with an expired one, or with one that is not a
            valid token at all (Airflow says 403 "Invalid JWT token" there; no user is logged
            in by it, and CONTRACT §7 gives 401 to every request without a logged-in user).
    """
    try:
        return await get_user(request, None, bearer)
    except HTTPException as error:
        if error.status_code != status.HTTP_403_FORBIDDEN:
            raise
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, error.detail,
                            headers={"WWW-Authenticate": "Bearer"}) from error


def signed_in(user: Annotated[BaseUser, Depends(logged_in)]) -> BaseUser:
    """A logged-in user who may read DAGs (viewer and up), whichever city: what the app's
    own static files need.

    Raises:
        HTTPException: 401 not logged in (no, an expired or an invalid token); 403 no read right.
    """
    if not get_auth_manager().is_authorized_dag(method="GET", user=user):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "阅读问题台账需要查看 DAG 的权限（viewer 及以上角色）"
                                                       "（reading the ledger needs the right to read DAGs (viewer)）")
    return user


def reader(request: Request, user: Annotated[BaseUser, Depends(signed_in)]) -> Operator:
    """Any route of a city's ledger: ``signed_in``, and in a province the right to read the
    city the request is about (module docstring).

    Raises:
        HTTPException: what ``signed_in`` raises; 403 for a city named on purpose that the
            user may not read, or when they may read none; what ``deps.city`` raises.
    """
    manager = get_auth_manager()
    readable = tuple(c.code for c in deps.cities() if manager.is_authorized_dag(
        method="GET", details=DagDetails(id=c.dag_id(CITY_DAG)), user=user))
    shown = deps.city()
    if shown is not None and shown.code not in readable:
        if not (readable and deps.city_from_cookie()):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"没有查看{shown.name}（{shown.code}）问题台账的权限：需要能查看该市的 DAG {shown.dag_id(CITY_DAG)}"
                f"（reading the ledger of city {shown.code} needs the right to read DAG {shown.dag_id(CITY_DAG)}）")
        deps.show_instead(next(c for c in deps.cities() if c.code in readable))
    return Operator(
        name=user.get_name(),
        can_change=manager.is_authorized_variable(method="PUT", user=user),
        csrf_token=None if _bearer(request) else csrf_token(request),
        cities=readable,
    )


def changer(request: Request, user: Annotated[Operator, Depends(reader)]) -> Operator:
    """A route that changes something: op or admin, and for a cookie session the CSRF
    token in the ``X-CSRF-Token`` header.

    Raises:
        HTTPException: 403 for a reader without the op role, a cross-site request, or a
            missing or wrong CSRF token (and what ``reader`` raises).
    """
    if not user.can_change:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "变更问题台账需要 op 或 admin 角色"
                                                       "（changing the ledger needs the op or admin role）")
    if _bearer(request):
        return user
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "拒绝来自其他网站的请求（cross-site request refused）")
    sent = request.headers.get(CSRF_HEADER, "")
    expected = csrf_token(request)
    if not expected or not hmac.compare_digest(sent.encode("utf-8"), expected.encode("utf-8")):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "页面的安全令牌缺失或已失效，请刷新页面后重试"
                                                       "（CSRF token missing or wrong: reload the page and try again）")
    return user


Reader = Annotated[Operator, Depends(reader)]
Changer = Annotated[Operator, Depends(changer)]


def city_supervision(user: Reader) -> Engine:
    """The supervision_db of the city ``reader`` let this request see (its cookie's city
    may have been replaced by one the user may read): a route's ledger never comes from a
    city decided before the user's rights were, whatever the order of its parameters."""
    return deps.supervision()


Supervision = Annotated[Engine, Depends(city_supervision)]
