"""Bearer-token auth, as the original's middleware (domain spec section 6), made strict.

HS256 only (so ``alg: none`` and algorithm confusion are refused), ``exp`` required, the
user id in the ``userId`` claim. The 401 messages are the original's. Unlike the original,
a database failure while loading the user is not disguised as "Invalid token": it
propagates and becomes a logged 500.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

import jwt
from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import bindparam, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import Session

from service.db import get_session
from service.errors import ApiError
from service.models import User
from service.validation import check_user_id, is_valid_user_id

ALGORITHM = "HS256"
TOKEN_LIFETIME = timedelta(days=7)

NO_TOKEN = "Unauthorized - No token provided"
INVALID_TOKEN = "Unauthorized - Invalid token"
USER_NOT_FOUND = "Unauthorized - User not found"


@dataclass(frozen=True)
class CurrentUser:
    """The authenticated caller."""

    id: str
    email: str
    name: str | None
    role: str


def create_token(
    *, user_id: str, email: str, secret: str, lifetime: timedelta = TOKEN_LIFETIME
) -> str:
    """Sign a token the service accepts: ``userId`` and ``email`` claims, HS256.

    Raises:
        ValueError: ``user_id`` is not a valid user id (see ``service.validation``).
    """
    check_user_id(user_id)
    now = datetime.now(UTC)
    claims = {"userId": user_id, "email": email, "iat": now, "exp": now + lifetime}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_token(token: str, secret: str) -> str:
    """Return the token's ``userId``, or raise ApiError(401) for any invalid token."""
    user_id, expires = _verified(token, secret)
    # Of everything checked, only the expiry can turn a verified token invalid later.
    if expires <= time.time():
        raise ApiError(401, INVALID_TOKEN)
    return user_id


@functools.lru_cache(maxsize=4096)
def _verified(token: str, secret: str) -> tuple[str, float]:
    """``(userId, exp)`` of a token PyJWT accepts; ApiError(401) otherwise (never cached).

    A client sends the same token with every request; checking its signature and parsing
    it again each time was a tenth of a small request's CPU time.
    """
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp"]})
    except jwt.PyJWTError:
        raise ApiError(401, INVALID_TOKEN) from None
    user_id = claims.get("userId")
    # An id this service could not have issued (a "/" would break file names) is refused
    # here, so no handler ever sees it.
    if not isinstance(user_id, str) or not is_valid_user_id(user_id):
        raise ApiError(401, INVALID_TOKEN)
    return user_id, float(claims["exp"])


# Declares the bearer scheme in the OpenAPI document (and on every operation that needs
# it). It never answers by itself: the header is checked below, with the original's 401s.
BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="bearerAuth",
    bearerFormat="JWT",
    description="HS256 JWT with a userId claim (lumiku-ops token)",
)


def bearer_user_id(request: Request) -> str:
    """The user id in the request's bearer token, or ApiError(401) with the original's message."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise ApiError(401, NO_TOKEN)
    return decode_token(header[len("Bearer ") :], request.app.state.settings.jwt_secret)


# Only what a handler reads: the ORM would load and track every column of the row.
USER_LOOKUP = select(User.id, User.email, User.name, User.role).where(
    User.id == bindparam("user_id")
)


async def lookup_user(connection: AsyncConnection, user_id: str) -> CurrentUser:
    """The user ``user_id``, or ApiError(401) when the token names nobody (any more)."""
    row = (await connection.execute(USER_LOOKUP, {"user_id": user_id})).first()
    if row is None:
        raise ApiError(401, USER_NOT_FOUND)
    return CurrentUser(row.id, row.email, row.name, row.role)


async def authenticated(engine: AsyncEngine, user_id: str) -> tuple[AsyncConnection, CurrentUser]:
    """A pooled connection and the user ``user_id`` looked up on it.

    The read engine does not ping each connection it hands out (a round trip per
    request). A connection the server dropped (a restart, an idle timeout) fails its
    first statement instead; SQLAlchemy then discards the pool's connections, and the
    lookup, which only reads, runs once more on a new one.
    """
    try:
        return await _looked_up(engine, user_id)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    return await _looked_up(engine, user_id)


async def _looked_up(engine: AsyncEngine, user_id: str) -> tuple[AsyncConnection, CurrentUser]:
    connection = await engine.connect()
    try:
        return connection, await lookup_user(connection, user_id)
    except BaseException:
        await connection.close()
        raise


async def current_user(
    request: Request,
    _declared: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)],
) -> CurrentUser:
    """FastAPI dependency: the caller, or a 401 with the original's message.

    The lookup's connection goes back to the pool before the handler runs: a long request
    (a removal) must not hold one idle while it works.
    """
    connection, user = await authenticated(request.app.state.read_engine, bearer_user_id(request))
    await connection.close()
    return user


@dataclass(frozen=True)
class Reader:
    """The caller of a short read, and the connection its lookup used, for the read itself."""

    user: CurrentUser
    db: AsyncConnection


async def current_reader(
    request: Request,
    _declared: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)],
) -> AsyncIterator[Reader]:
    """FastAPI dependency for short reads: one connection for the lookup and the read.

    A missing or invalid token is refused before any connection is taken.
    """
    connection, user = await authenticated(request.app.state.read_engine, bearer_user_id(request))
    try:
        yield Reader(user, connection)
    finally:
        await connection.close()


Caller = Annotated[CurrentUser, Depends(current_user)]
CallerReads = Annotated[Reader, Depends(current_reader)]
DbSession = Annotated[Session, Depends(get_session)]
