"""Request bodies are bounded before they are read: 413 instead of gigabytes in memory.

A declared ``Content-Length`` above the route's limit is refused before a single byte of
the body is read. A body without one (chunked transfer) is counted as it streams in and
refused as soon as it passes the limit. The limits follow what each route can accept: one
image for ``POST /remove``, a batch for ``POST /batch``, and a small JSON document for
everything else.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import ApiError
from service.images import MAX_UPLOAD_BYTES

# Form fields, part headers and boundaries around the file(s).
MULTIPART_OVERHEAD = 64 * 1024
REMOVE_BODY_LIMIT = MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD
# A batch may hold 500 images of 10 MiB each, 5 GiB; no client should send that in one
# request. 256 MiB is 500 typical product photos; more goes in several batches.
BATCH_BODY_LIMIT = 256 * 1024 * 1024
# The JSON bodies (subscription, pricing) are a few dozen bytes.
JSON_BODY_LIMIT = 64 * 1024
UPLOAD_LIMITS = {
    "/api/background-remover/remove": REMOVE_BODY_LIMIT,
    "/api/background-remover/batch": BATCH_BODY_LIMIT,
}


def body_limit(path: str) -> int:
    """The largest request body, in bytes, accepted on ``path``."""
    return UPLOAD_LIMITS.get(path.rstrip("/") or "/", JSON_BODY_LIMIT)


def describe(limit: int) -> str:
    """``limit`` in the unit a person reads: ``10 MiB`` or ``64 KiB``."""
    if limit % (1024 * 1024) == 0:
        return f"{limit // (1024 * 1024)} MiB"
    if limit >= 1024 * 1024:
        return f"{limit / (1024 * 1024):.2f} MiB"
    return f"{limit // 1024} KiB"


class BodyTooLargeError(ApiError):
    """The request body passed its route's limit: a 413 in the service's error shape."""

    def __init__(self, path: str, limit: int) -> None:
        advice = " (send fewer images per batch)" if limit == BATCH_BODY_LIMIT else ""
        super().__init__(
            413,
            f"Request body too large: the limit for {path} is {describe(limit)}{advice}",
            headers={"Connection": "close"},
        )


class BodyLimitMiddleware:
    """ASGI middleware enforcing :func:`body_limit` on every HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope["path"])
        limit = body_limit(path)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(BodyTooLargeError(path, limit), send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Raised inside whatever reads the body (the form parser, or
                    # request.body()), so the route stops at once and answers 413.
                    raise BodyTooLargeError(path, limit)
            return message

        await self.app(scope, counted, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(error: BodyTooLargeError, send: Send) -> None:
    body = json.dumps({"error": error.message}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((name.lower().encode(), value.encode()) for name, value in (error.headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
