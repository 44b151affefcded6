"""Error bodies: ``{"error": message}``, plus a request id on 500s, never SQL or a stack."""

from __future__ import annotations

import getpass
import logging
import os

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("service")


class ApiError(Exception):
    """An expected failure with a status and a message safe to show the caller."""

    def __init__(
        self, status_code: int, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.headers = headers


def sqlstate(exc: BaseException) -> str | None:
    """The PostgreSQL SQLSTATE behind a SQLAlchemy error, if any (42P01: no such table)."""
    if isinstance(exc, DBAPIError):
        return getattr(exc.orig, "sqlstate", None)
    return None


def db_role(request: Request) -> str | None:
    """The database role the service connects as, for the log (a GRANT must name it)."""
    engine = getattr(request.app.state, "engine", None) if "app" in request.scope else None
    if engine is None:
        return None
    # libpq's own fallbacks when the URL names no user: $PGUSER, then the OS user.
    return engine.url.username or os.environ.get("PGUSER") or getpass.getuser()


def _request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", "-"))


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse({"error": exc.message}, status_code=exc.status_code, headers=exc.headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at the request's path, sorted (for ``Allow``)."""
    routes = getattr(request.app.state, "route_methods", [])
    path = request.scope["path"]
    methods: set[str] = set()
    for regex, route_methods in routes:
        if regex.match(path):
            methods |= route_methods
    return sorted(methods)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # Starlette names only the first route that matched the path.
        methods = allowed_methods(request)
        if methods:
            headers["Allow"] = ", ".join(methods)
    return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"error": "Invalid request"}, status_code=400)


def unexpected_error_response(request: Request, exc: Exception) -> JSONResponse:
    """Log ``exc`` in full under the request id; answer a 500 that reveals nothing else."""
    request_id = _request_id(request)
    # The full story goes to the log, keyed by request id; the caller gets only the id.
    log.error(
        "unhandled error",
        exc_info=exc,
        extra={
            "request_id": request_id,
            "method": request.method,
            "path": request.url.path,
            "sqlstate": sqlstate(exc),
            "db_role": db_role(request),
            "error_type": type(exc).__name__,
        },
    )
    return JSONResponse(
        {"error": "Internal Server Error", "requestId": request_id},
        status_code=500,
        headers={"X-Request-ID": request_id},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that give expected errors the original's JSON shape.

    Unexpected exceptions are turned into 500s by the request middleware in ``app.py``,
    so they are logged once, with the request id, and never reach uvicorn's handler.
    """
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
