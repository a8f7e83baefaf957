"""``create_app()``: the FastAPI app the ``bdcwatch`` plugin mounts at ``/bdcwatch``.

* ``/bdcwatch/api/...`` the JSON API (``web.api``), ``/bdcwatch/ui/...`` the pages
  (``web.pages``), ``/bdcwatch/static/...`` the stylesheet, script and icon shipped in
  the package (sites run offline: nothing from a CDN).
* Every route needs the logged-in user (``web.auth``), the static files included. No
  OpenAPI or docs routes (they would be unprotected).
* Errors: JSON ``{"detail": ...}`` for the API; for the pages a small page saying what
  happened — 401 with a link to Airflow's login, 403, 404, 503 when supervision_db is
  not there — never a traceback.
* Every response is ``no-store`` and carries a Content-Security-Policy that allows only
  our own script and styles, so even a text that escaped escaping could not run.
"""

from __future__ import annotations

from importlib import resources
from typing import Annotated, Any

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from fastapi import Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bdcwatch.web import api, api_loops, pages
from bdcwatch.web.auth import Reader, signed_in
from bdcwatch.web.deps import CityScope

STATIC = {"bdcwatch.css": "text/css", "bdcwatch.js": "text/javascript", "ledger.svg": "image/svg+xml"}
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
ERROR_TITLES = {401: "请先登录", 403: "没有权限", 404: "未找到", 409: "无法变更", 422: "输入有误", 503: "监督数据库不可用"}
# Airflow's own answers when it resolves the user (``get_user``), as our pages and API say
# them: in Chinese, with Airflow's words kept (what its logs and docs say).
AIRFLOW_DETAILS_ZH = {
    "Not authenticated": "尚未登录，或登录已失效：请登录 Airflow 后再打开本页",
    "Token Expired": "登录已过期：请重新登录 Airflow",
    "Invalid JWT token": "登录凭据无效：请退出 Airflow 后重新登录",
    "Forbidden": "没有权限",
}


def _static(name: str, user: Annotated[BaseUser, Depends(signed_in)]) -> Response:
    # Any city's page loads these: signed in is enough (no city to check).
    if name not in STATIC:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no such file: {name}")
    content = resources.files("bdcwatch.web").joinpath("static", name).read_bytes()
    return Response(content, media_type=STATIC[name], headers={"Cache-Control": "private, max-age=300"})


def _wants_page(request: Request) -> bool:
    return request.url.path.startswith(f"{request.scope.get('root_path', '')}/ui")


def _error_page(request: Request, code: int, detail: str) -> HTMLResponse:
    from bdcwatch.web.render import airflow_path, base_path, environment

    login = f"{airflow_path(request)}/auth/login/?next={request.url.path}"
    html = environment().get_template("error.html.j2").render(
        code=code, title=ERROR_TITLES.get(code, "出错了"), detail=detail, login=login, base=base_path(request))
    return HTMLResponse(html, status_code=code)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    detail = str(error.detail)
    if detail in AIRFLOW_DETAILS_ZH:
        detail = f"{AIRFLOW_DETAILS_ZH[detail]}（{detail}）"
    if _wants_page(request):
        return _error_page(request, error.status_code, detail)
    return JSONResponse({"detail": detail}, status_code=error.status_code, headers=getattr(error, "headers", None))


async def _validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    problems = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in error.errors()]
    if _wants_page(request):
        return _error_page(request, 422, "; ".join(f"{'.'.join(map(str, p['loc']))}: {p['msg']}" for p in problems))
    return JSONResponse({"detail": problems}, status_code=422)


class SecurityHeaders:
    """Pure ASGI middleware adding ``SECURITY_HEADERS`` to every response of the app
    (no BaseHTTPMiddleware: it would buffer responses and swallow errors' context)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for header, value in SECURITY_HEADERS.items():
                    if header not in headers:
                        headers[header] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


# The largest request body the app reads: an upload (api_loops.MAX_UPLOAD_BYTES) and its
# multipart framing. FastAPI reads and spools a form before any route checks who sent it.
MAX_BODY_BYTES = 17 * 1024 * 1024


class BodyLimit:
    """Pure ASGI middleware refusing a body over ``MAX_BODY_BYTES`` before it is read: 413
    when Content-Length says so, and a chunked body is cut off (the request ends as a client
    disconnect) once it passes the limit, so nobody, signed in or not, can make the server
    read and spool an arbitrarily large upload."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            response = JSONResponse({"detail": f"请求过大（超过 {MAX_BODY_BYTES // (1024 * 1024)} MB；request body too "
                                               f"large)"}, status_code=status.HTTP_413_CONTENT_TOO_LARGE)
            await response(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > MAX_BODY_BYTES:
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, limited, send)


def create_app() -> FastAPI:
    """The app of CONTRACT §7, to be mounted at ``/bdcwatch``."""
    app = FastAPI(title="bdcwatch 问题台账", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(api.router)
    app.include_router(api_loops.router)
    app.include_router(pages.router)
    app.add_api_route("/static/{name}", _static, methods=["GET"], include_in_schema=False)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit)
    app.add_middleware(CityScope)  # the city a request is about (web.deps): a province serves several

    @app.get("/", include_in_schema=False)
    def home(request: Request, user: Reader) -> Any:
        from fastapi.responses import RedirectResponse

        return RedirectResponse(f"{request.scope.get('root_path', '')}/ui/", status_code=status.HTTP_307_TEMPORARY_REDIRECT)

    return app
