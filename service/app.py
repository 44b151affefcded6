"""The reference Background Remover API: ``create_app(settings)`` builds it, nothing global."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from sqlalchemy.orm import sessionmaker

from service.body_limit import BodyLimitMiddleware
from service.body_timeout import BodyTimeoutMiddleware
from service.db import make_engine, make_read_engine
from service.errors import install_error_handlers
from service.log import configure_logging
from service.openapi import install_openapi
from service.queue import make_queue_app
from service.removal import RemovalEngine
from service.request_context import RequestContextMiddleware
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

log = logging.getLogger("service")


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
    read_engine = make_read_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Everything built so far lives as long as the process. Frozen, the collector's
        # full passes stop walking it: they took 80 to 110 ms each, a pause every few
        # seconds under load, longer than a whole request.
        gc.collect()
        gc.freeze()
        recovery = asyncio.create_task(recover_forever(app))
        try:
            yield
        finally:
            recovery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await recovery
            engine.dispose()
            await read_engine.dispose()

    app = FastAPI(
        title="Lumiku reference service", lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.read_engine = read_engine
    app.state.session_factory = sessionmaker(engine, expire_on_commit=False)
    app.state.scripts = script_directory(settings.migrations_dir)
    app.state.media = MediaStore(settings.media_root)
    app.state.removal = removal_engine or RemovalEngine(settings.model_home)
    app.state.queue = make_queue_app(settings.database_url)
    install_error_handlers(app)
    install_openapi(app)
    # Added first, so they run inside the request context: a 408 or 413 is logged with
    # its request id too.
    app.add_middleware(BodyTimeoutMiddleware, timeout_s=settings.body_timeout_s)
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(RequestContextMiddleware)

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


# Where ``lumiku-ops serve --workers N`` hands each worker process its settings.
SETTINGS_ENV = "LUMIKU_SERVICE_SETTINGS"


def app_from_environment() -> FastAPI:
    """uvicorn's app factory in each worker process of ``lumiku-ops serve --workers N``.

    The parent puts its settings, as ``ServiceSettings.to_json``, in ``LUMIKU_SERVICE_SETTINGS``
    (the environment, not the command line, so ``ps`` shows no secret).
    """
    settings = ServiceSettings.from_json(os.environ[SETTINGS_ENV])
    configure_logging(settings.log_file)
    return create_app(settings)
