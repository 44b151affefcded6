"""The reference Background Remover API: ``create_app(settings)`` builds it, nothing global."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
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
from service.storage import MediaStore

log = logging.getLogger("service")

NO_CACHE = {
    "Cache-Control": "no-cache, no-store, must-revalidate",
    "Pragma": "no-cache",
    "Expires": "0",
}


def create_app(
    settings: ServiceSettings, *, removal_engine: RemovalEngine | None = None
) -> FastAPI:
    """Build the application for ``settings``; no connection is opened until a request.

    ``removal_engine`` lets a worker in the same process share the rembg sessions.
    """
    engine = make_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
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
        try:
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

    app.include_router(health.router)
    app.include_router(platform.router)
    app.include_router(background_remover.router)
    app.include_router(removal.router)
    app.include_router(batches.router)
    app.include_router(subscriptions.router)
    app.include_router(storage.router)
    return app
