"""Bearer-token auth, as the original's middleware (domain spec section 6), made strict.

HS256 only (so ``alg: none`` and algorithm confusion are refused), ``exp`` required, the
user id in the ``userId`` claim. The 401 messages are the original's. Unlike the original,
a database failure while loading the user is not disguised as "Invalid token": it
propagates and becomes a logged 500.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

import jwt
from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
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
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp"]})
    except jwt.PyJWTError:
        raise ApiError(401, INVALID_TOKEN) from None
    user_id = claims.get("userId")
    # An id this service could not have issued (a "/" would break file names) is refused
    # here, so no handler ever sees it.
    if not isinstance(user_id, str) or not is_valid_user_id(user_id):
        raise ApiError(401, INVALID_TOKEN)
    return user_id


# Declares the bearer scheme in the OpenAPI document (and on every operation that needs
# it). It never answers by itself: the header is checked below, with the original's 401s.
BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="bearerAuth",
    bearerFormat="JWT",
    description="HS256 JWT with a userId claim (lumiku-ops token)",
)


def current_user(
    request: Request,
    session: Annotated[Session, Depends(get_session)],
    _declared: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)],
) -> CurrentUser:
    """FastAPI dependency: the caller, or a 401 with the original's message."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise ApiError(401, NO_TOKEN)
    user_id = decode_token(header[len("Bearer ") :], request.app.state.settings.jwt_secret)
    user = session.get(User, user_id)
    caller = None if user is None else CurrentUser(user.id, user.email, user.name, user.role)
    # Hand the connection back now: a long request (a removal) must not hold a pooled
    # connection idle in a transaction while it works.
    session.rollback()
    if caller is None:
        raise ApiError(401, USER_NOT_FOUND)
    return caller


Caller = Annotated[CurrentUser, Depends(current_user)]
DbSession = Annotated[Session, Depends(get_session)]
