"""The console's application: settings, state, page rendering, safety and errors.

Safety lives here, once, for every route: a POST is refused (403) unless the browser says
it is same-origin (``Sec-Fetch-Site`` / ``Origin``); every response carries
``Cache-Control: no-store`` and a strict Content-Security-Policy; an unauthenticated page
request is redirected to the log-in form and an unauthenticated POST is refused; an error
page shows an error code and an id-only message, never a traceback or a value.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from taxmatch.console.templating import TEMPLATES
from taxmatch.errors import BatchNotFound, RequestNotFound, TaxmatchError
from taxmatch.pipeline.console_reads import Officer
from taxmatch.pipeline.edge_audit import record_console_view
from taxmatch.pipeline.officers import session_of
from taxmatch.pipeline.review import Actor, ReviewRefused
from taxmatch.pipeline.rules import policy_in_force
from taxmatch.pipeline.stores import StateStore

COOKIE = "tm_session"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


@dataclass
class ConsoleSettings:
    """What the console needs; built by the edge that mounts it (``taxmatch serve``)."""

    store: Path
    database_url: str | None = None
    policy: Path | None = None  # None: the packaged default policy
    secure_cookie: bool = False  # set behind TLS
    _state: StateStore | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # held while ``/console/ledger/verify`` runs: one whole-ledger verification at a time
    verifying: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def state(self) -> StateStore:
        with self._lock:
            if self._state is None:
                self._state = StateStore.open(self.store, self.database_url)
            return self._state

    def close(self) -> None:
        with self._lock:
            if self._state is not None:
                self._state.close()
                self._state = None


class LoginRequired(Exception):
    """No live session: pages redirect to the log-in form, POSTs are refused."""


class Forbidden(Exception):
    """The officer's role may not see or do this."""


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    html = TEMPLATES.get_template(name).render(
        root=root, officer=context.pop("officer", None), **context
    )
    return HTMLResponse(html, status_code=status)


def attachment(body: str | bytes, media_type: str, filename: str) -> Response:
    """``body`` as a download named ``filename``."""
    disposition = f'attachment; filename="{filename}"'
    return Response(body, media_type=media_type, headers={"Content-Disposition": disposition})


def redirect(request: Request, path: str) -> RedirectResponse:
    """303 to ``path`` under the console's mount point."""
    return RedirectResponse(f"{request.scope.get('root_path', '')}{path}", status_code=303)


def settings_of(request: Request) -> ConsoleSettings:
    settings: ConsoleSettings = request.app.state.console
    return settings


def origin_of(request: Request) -> str:
    host = request.client.host if request.client is not None else "unknown"
    return f"console@{host}"


def current_officer(request: Request) -> Officer:
    settings = settings_of(request)
    policy, _ = policy_in_force(settings.policy)
    officer = session_of(
        settings.state(), request.cookies.get(COOKIE), idle_minutes=policy.console.idle_minutes
    )
    if officer is None:
        raise LoginRequired
    return officer


Settings = Annotated[ConsoleSettings, Depends(settings_of)]
CurrentOfficer = Annotated[Officer, Depends(current_officer)]


def require(officer: Officer, *roles: str) -> None:
    if officer.role not in roles:
        raise Forbidden


def actor(request: Request, officer: Officer) -> Actor:
    return Actor(officer.username, officer.role, origin_of(request))


def audit_view(request: Request, officer: Officer, page: str, object_id: str) -> None:
    """A view of personal data is an audit event (Publication 1075): who, what, from where."""
    record_console_view(
        settings_of(request).state(),
        officer=officer.username,
        origin=origin_of(request),
        page=page,
        object_id=object_id,
    )


def same_origin(request: Request) -> bool:
    """The browser's own word that a state-changing request comes from this site.

    ``Sec-Fetch-Site`` (set by the browser, not by page scripts) must say "same-origin"
    when sent; ``Origin``, when it names an origin, must be this one. A request with
    neither header is refused: every browser that can run the console sends one.
    """
    site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    host = request.headers.get("host", "")
    ours = origin in (f"{request.url.scheme}://{host}", f"http://{host}", f"https://{host}")
    if site is not None:
        return site == "same-origin" and (origin in (None, "null") or ours)
    return origin is not None and ours


def _error(request: Request, status: int, title: str, detail: str = "") -> HTMLResponse:
    return render(request, "error.html", status, title=title, detail=detail)


def _error_of(exc: Exception) -> tuple[int, str, str]:
    """(status, title, detail) of the error page for ``exc``."""
    if isinstance(exc, LoginRequired):
        return 403, "Refused", "Log in first."
    if isinstance(exc, Forbidden):
        return 403, "Not allowed", "Your role may not use this page."
    if isinstance(exc, ReviewRefused):
        return 403, f"Not allowed ({exc.code})", exc.message
    if isinstance(exc, TaxmatchError):
        status = 404 if isinstance(exc, BatchNotFound | RequestNotFound) else 400
        return status, f"Error {exc.code}", exc.message
    if isinstance(exc, StarletteHTTPException):
        return exc.status_code, f"Error {exc.status_code}", ""
    # Never a traceback or a value: locals here are people's data.
    return 500, "Internal error TM999", f"{type(exc).__name__}; the event was not shown."


def console_app(settings: ConsoleSettings) -> FastAPI:
    """The console as an application to mount at ``/console``."""
    from taxmatch.console.report import router as report_router
    from taxmatch.console.views import router as views_router

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.console = settings
    app.include_router(views_router)
    app.include_router(report_router)

    @app.middleware("http")
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.method in UNSAFE_METHODS and not same_origin(request):
            response: Response = _error(
                request, 403, "Refused", "Cross-site requests are not accepted."
            )
        else:
            response = await call_next(request)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Security-Policy"] = _CSP
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    async def error_page(request: Request, exc: Exception) -> Response:
        if isinstance(exc, LoginRequired) and request.method not in UNSAFE_METHODS:
            return redirect(request, "/login")
        return _error(request, *_error_of(exc))

    for kind in (LoginRequired, Forbidden, TaxmatchError, StarletteHTTPException, Exception):
        app.add_exception_handler(kind, error_page)  # ReviewRefused is a TaxmatchError
    return app
