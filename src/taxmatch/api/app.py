"""The FastAPI application factory: ``create_app(settings)``. Translates the one error tree
into HTTP at this edge only. Every call except health and
the schema pages is an audit event in the ledger: ``api_call``, actor the agency id
(``anonymous`` before authentication), origin the client host, success, object the
method, route template and batch id; the payload holds the status code only.

Must never: answer with a traceback, a request value or a server path; build settings at
import time; let a failure to audit pass silently (the call then fails with 503).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from taxmatch import __version__
from taxmatch.api import batches, lookups
from taxmatch.api.deps import RateLimiter, origin_of
from taxmatch.api.schemas import Health
from taxmatch.api.settings import ApiSettings
from taxmatch.console import ConsoleSettings, console_app
from taxmatch.errors import (
    AccessDenied,
    BadArgument,
    BatchNotFound,
    IdempotencyKeyReused,
    InputFileError,
    LimitExceeded,
    ReferenceSnapshotError,
    TaxmatchError,
    UploadTooLarge,
)
from taxmatch.events import Event, emit
from taxmatch.pipeline.edge_audit import record_api_call
from taxmatch.pipeline.lookup import LookupConfig, LookupService
from taxmatch.pipeline.stores import ServiceStore, StateStore
from taxmatch.pipeline.worker import Worker, start_worker_thread

_UNAUDITED = ("/v1/health", "/docs", "/openapi.json", "/redoc", "/docs/oauth2-redirect")
_BATCH_ID = re.compile(r"^B[0-9a-f]{20}(-S[1-9][0-9]{0,8})?$")  # a batch or a supplement


def _status_for(exc: TaxmatchError) -> int:
    for kind, status in (
        (InputFileError, 422),
        (BadArgument, 422),
        (AccessDenied, 403),
        (LimitExceeded, 429),
        (UploadTooLarge, 413),
        (BatchNotFound, 404),
        (IdempotencyKeyReused, 409),
        (ReferenceSnapshotError, 503),
    ):
        if isinstance(exc, kind):
            return status
    return 500


def _public_message(exc: TaxmatchError) -> str:
    """The error's message without server paths: an input file is named by its part."""
    if isinstance(exc, InputFileError):
        name = exc.path.rsplit("/", 1)[-1]
        part = "envelope" if name.startswith("envelope") else "requests"
        if exc.path in ("body", "envelope", "requests"):
            part = exc.path
        return exc.message.replace(exc.path, part, 1)
    return exc.message


def create_app(settings: ApiSettings) -> FastAPI:
    """A new app for ``settings``; opens the stores now, starts workers on start-up."""
    service = ServiceStore.open(settings.store, settings.database_url)
    state = StateStore.open(settings.store, settings.database_url)
    lookups_service = LookupService(
        LookupConfig(
            settings.store,
            settings.packages,
            settings.database_url,
            settings.policy,
            settings.matcher,
            settings.as_of,
        ),
        state,
        warm=settings.warm_lookups,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        config = settings.worker_config()
        running = [
            start_worker_thread(Worker(config, service)) for _ in range(settings.worker_threads)
        ]
        emit(Event.API_STARTED, workers=settings.worker_threads)
        lookups_service.start()
        try:
            yield
        finally:
            lookups_service.close()
            for _, stop in running:
                stop.set()
            for thread, _ in running:
                thread.join(timeout=30)
            service.close()
            state.close()

    app = FastAPI(
        title="taxmatch",
        version=__version__,
        description="On-demand disclosure matching for requesting agencies (see docs/api.md).",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.service = service
    app.state.ledger = state
    app.state.lookups = lookups_service
    app.state.rate = RateLimiter()
    app.include_router(batches.router)
    app.include_router(lookups.router)
    console = ConsoleSettings(
        settings.store,
        settings.database_url,
        settings.policy,
        secure_cookie=settings.secure_cookies,
    )
    app.mount("/console", console_app(console))

    @app.get("/v1/health", response_model=Health, tags=["health"])
    def health() -> Health:
        """200 when the state database answers and a reference snapshot is loaded;
        ``lookups`` says whether single lookups take the warm path yet."""
        from taxmatch.pipeline.reference import reference_in_force

        service.get_agency("-")
        reference_in_force(settings.store)
        return Health(status="ok", version=__version__, lookups=lookups_service.status)

    _install_handlers(app)
    _install_audit(app, state)
    return app


def _problem(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"code": code, "detail": detail}, status_code=status, headers=headers)


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(TaxmatchError)
    async def taxmatch_error(_request: Request, exc: TaxmatchError) -> Response:
        status = _status_for(exc)
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, LimitExceeded) else None
        if status == 413:
            headers = {"Connection": "close"}
        detail = _public_message(exc) if status < 500 else f"{exc.code}: service error"
        return _problem(status, exc.code, detail, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> Response:
        # Never echo the input: it may be a person's name or address.
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        detail = f"{where}: {first.get('type', 'invalid')}" if where else "invalid request"
        return _problem(422, "TM100", detail)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        code = {401: "TM740", 403: "TM700", 404: "TM301", 405: "TM741"}.get(
            exc.status_code, "TM742"
        )
        headers = dict(exc.headers) if exc.headers else None
        return _problem(exc.status_code, code, str(exc.detail), headers)

    @app.exception_handler(Exception)
    async def internal(_request: Request, exc: Exception) -> Response:
        emit(Event.JOB_FAILED, error="TM999", kind=type(exc).__name__)
        return _problem(500, "TM999", "internal error")


def _install_audit(app: FastAPI, state: StateStore) -> None:
    @app.middleware("http")
    async def audit(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Any:
        response = await call_next(request)
        path = request.url.path
        if path in _UNAUDITED:
            return response
        route = getattr(request.scope.get("route"), "path", "unmatched")
        batch_id = getattr(request.state, "batch_id", None)
        batch = batch_id if isinstance(batch_id, str) and _BATCH_ID.match(batch_id) else "-"
        actor = getattr(request.state, "agency_id", None) or "anonymous"
        try:
            await run_in_threadpool(
                record_api_call,
                state,
                actor=actor,
                origin=origin_of(request),
                call=f"{request.method} {route} {batch}",
                status=response.status_code,
            )
        except TaxmatchError as exc:
            return _problem(503, exc.code, "audit record could not be written")
        return response
