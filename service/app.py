"""The reference Background Remover API: ``create_app(settings)`` builds it, nothing global."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.orm import sessionmaker

from service.body_limit import BodyLimitMiddleware
from service.db import make_engine
from service.errors import install_error_handlers, unexpected_error_response
from service.queue import make_queue_app
from service.removal import RemovalEngine
from service.routes import (
    background_remover,
    batches,
    health,
    platform,
    removal,
    storage,
    subscriptions,
)
from service.schema_version import script_directory
from service.settings import ServiceSettings
from service.single_removal import recover_interrupted_removals, schema_missing
from service.storage import MediaStore
from service.validation import NUL_IN_URL, url_has_nul

log = logging.getLogger("service")

NO_CACHE = {
    "Cache-Control": "no-cache, no-store, must-revalidate",
    "Pragma": "no-cache",
    "Expires": "0",
}


async def recover_forever(app: FastAPI) -> None:
    """At start-up and then every ``recovery_interval_s``: settle abandoned removals.

    A removal whose process died (killed, out of memory, power loss) is failed and
    refunded here, by whichever service process looks first; work still running
    anywhere keeps its lease and is left alone (``service.single_removal``).
    """
    settings: ServiceSettings = app.state.settings
    last_problem = ""
    while True:
        try:
            await run_in_threadpool(recover_interrupted_removals, app.state.session_factory)
            last_problem = ""
        except Exception as exc:  # noqa: BLE001 - the next sweep tries again
            # Before revision 0002 (the incident itself) there is nothing to recover,
            # and diagnose explains the missing tables; anything else is logged once.
            problem = "" if schema_missing(exc) else type(exc).__name__
            if problem and problem != last_problem:
                log.warning("could not look for interrupted removals", exc_info=exc)
            last_problem = problem
        await asyncio.sleep(settings.recovery_interval_s)


def create_app(
    settings: ServiceSettings, *, removal_engine: RemovalEngine | None = None
) -> FastAPI:
    """Build the application for ``settings``; no connection is opened until a request.

    ``removal_engine`` lets a worker in the same process share the rembg sessions.
    """
    engine = make_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        recovery = asyncio.create_task(recover_forever(app))
        try:
            yield
        finally:
            recovery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await recovery
            engine.dispose()

    app = FastAPI(
        title="Lumiku reference service", lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = sessionmaker(engine, expire_on_commit=False)
    app.state.scripts = script_directory(settings.migrations_dir)
    app.state.media = MediaStore(settings.media_root)
    app.state.removal = removal_engine or RemovalEngine(settings.model_home)
    app.state.queue = make_queue_app(settings.database_url)
    install_error_handlers(app)
    # Added before request_context, so it runs inside it: a 413 is logged with its id too.
    app.add_middleware(BodyLimitMiddleware)

    @app.middleware("http")
    async def request_context(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if incoming.isalnum() and len(incoming) <= 64 else uuid.uuid4().hex
        request.state.request_id = request_id
        started = time.perf_counter()
        response: Response
        try:
            if url_has_nul(request.scope["path"], request.scope.get("query_string", b"")):
                # No route can use it (PostgreSQL text cannot hold a NUL), so refuse it for
                # every route at once instead of failing later inside a query.
                response = JSONResponse({"error": NUL_IN_URL}, status_code=400)
            else:
                response = await call_next(request)
        except Exception as exc:  # noqa: BLE001 - the one place unexpected errors become 500s
            response = unexpected_error_response(request, exc)
        response.headers["X-Request-ID"] = request_id
        if request.url.path.startswith("/api/"):
            response.headers.update(NO_CACHE)
        log.info(
            "request",
            extra={
                "request_id": request_id,
                "method": request.method,
                "path": request.url.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return response

    routers = [
        health.router,
        platform.router,
        background_remover.router,
        removal.router,
        batches.router,
        subscriptions.router,
        storage.router,
    ]
    for router in routers:
        app.include_router(router)
    # One path can be served by routes of several routers (GET /subscription here, POST
    # and DELETE in another module); a 405 must name every method, not the first route's.
    app.state.route_methods = [
        (route.path_regex, frozenset(route.methods or ()))
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
    ]
    return app
