"""A request body has a deadline: a client that trickles it in is cut off with a 408.

The clock starts when the request's headers have arrived and covers the whole body, not
each chunk, so a client sending one byte a second (slowloris) cannot hold a connection, a
worker's attention and a spooled upload for longer than ``body_timeout_s``. The 408 carries
``Connection: close``: the rest of that body is never read.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import ApiError


class BodyTimeoutError(ApiError):
    """The body did not arrive in time: a 408 in the service's error shape."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(
            408,
            f"Request timeout: the body did not arrive within {timeout_s:g} s",
            headers={"Connection": "close"},
        )


class BodyTimeoutMiddleware:
    """ASGI middleware: reading the body past ``timeout_s`` raises :class:`BodyTimeoutError`.

    It is raised inside whatever reads the body (the form parser, ``request.body()``), so
    the route stops there and the error handler answers 408.
    """

    def __init__(self, app: ASGIApp, *, timeout_s: float) -> None:
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        complete = False

        async def bounded() -> Message:
            nonlocal complete
            if complete:
                # Past the body, receive() only waits for the client to disconnect.
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise BodyTimeoutError(self.timeout_s) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                complete = True
            return message

        await self.app(scope, bounded, send)
