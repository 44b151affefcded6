"""Every request's id, its log line, its no-cache headers, and the one place 500s are made.

A plain ASGI middleware rather than Starlette's ``BaseHTTPMiddleware``: that one runs the
rest of the application in a task of its own and copies the response through a memory
stream, which cost about a fifth of a small request's CPU time (``bench/api_latency.py``).
"""

from __future__ import annotations

import json
import logging
import time
import uuid

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import unexpected_error_response
from service.validation import NUL_IN_URL, url_has_nul

log = logging.getLogger("service")

NO_CACHE = [
    (b"cache-control", b"no-cache, no-store, must-revalidate"),
    (b"pragma", b"no-cache"),
    (b"expires", b"0"),
]
NO_CACHE_NAMES = {name for name, _ in NO_CACHE}


def request_id_of(scope: Scope) -> str:
    """The caller's ``X-Request-ID`` when it is a sane token, else a new random id."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            incoming = bytes(value).decode("latin-1")
            if incoming.isascii() and incoming.isalnum() and len(incoming) <= 64:
                return incoming
            break
    return uuid.uuid4().hex


class RequestContextMiddleware:
    """Give each HTTP request an id, answer the request, then log one line about it.

    Unexpected exceptions from the application become a 500 carrying only the request id
    (``service.errors.unexpected_error_response``); the traceback goes to the log.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope)
        # Request.state reads this dict: the error handlers find the id there.
        scope.setdefault("state", {})["request_id"] = request_id
        path = str(scope["path"])
        api = path.startswith("/api/")
        status = 0

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() != b"x-request-id"
                    and not (api and name.lower() in NO_CACHE_NAMES)
                ]
                headers.append((b"x-request-id", request_id.encode()))
                if api:
                    headers.extend(NO_CACHE)
                message = {**message, "headers": headers}
            await send(message)

        try:
            if url_has_nul(path, scope.get("query_string", b"")):
                # No route can use it (PostgreSQL text cannot hold a NUL), so refuse it for
                # every route at once instead of failing later inside a query.
                await _send_json(send_with_headers, 400, {"error": NUL_IN_URL})
            else:
                await self.app(scope, receive, send_with_headers)
        except Exception as exc:  # noqa: BLE001 - the one place unexpected errors become 500s
            if status:
                # The answer had begun: nothing can be sent now but the log line.
                log.error("error after the response began", exc_info=exc)
            else:
                response = unexpected_error_response(Request(scope), exc)
                await response(scope, receive, send_with_headers)
        log.info(
            "request",
            extra={
                "request_id": request_id,
                "method": scope["method"],
                "path": path,
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )


async def _send_json(send: Send, status: int, body: object) -> None:
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
