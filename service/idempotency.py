"""``Idempotency-Key`` on charging endpoints: a retried request charges once.

The first request with a key claims it (a committed row, unique per user and key) before
any charge. When it succeeds, its response is stored and every retry gets that response
back; when it fails, nothing was charged and the key is released, so a retry runs anew.
A retry that arrives while the first is still running gets a 409.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from service.errors import ApiError
from service.models import IdempotencyKey, new_id, utcnow

MAX_KEY_LENGTH = 255
# A claim this old belongs to a request whose process died; a retry may take it over.
STALE_CLAIM = timedelta(minutes=10)


def fingerprint(*parts: bytes | str) -> str:
    """A digest of what a request asks for, to refuse a key reused for another request."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(hashlib.sha256(data).digest())
    return digest.hexdigest()


@dataclass(frozen=True)
class Claim:
    """The outcome of presenting a key: run the request, or replay a stored response."""

    key_id: str | None
    replay_status: int | None = None
    replay_body: dict[str, Any] | None = None


def claim_key(
    factory: sessionmaker[Session], *, user_id: str, key: str, endpoint: str, request_hash: str
) -> Claim:
    """Claim ``key`` for this request, or return the first request's stored response.

    Raises:
        ApiError: 400 for an unusable key, 422 when the key was used for a different
            request, 409 while the first request with the key is still running.
    """
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ApiError(400, f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters")
    with factory() as session, session.begin():
        inserted = session.scalar(
            insert(IdempotencyKey)
            .values(
                id=new_id(),
                userId=user_id,
                key=key,
                endpoint=endpoint,
                requestHash=request_hash,
                createdAt=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=[IdempotencyKey.userId, IdempotencyKey.key])
            .returning(IdempotencyKey.id)
        )
        if inserted is not None:
            return Claim(key_id=inserted)
        row = session.scalars(
            select(IdempotencyKey)
            .where(IdempotencyKey.userId == user_id, IdempotencyKey.key == key)
            .with_for_update()
        ).one()
        if row.endpoint != endpoint or row.requestHash != request_hash:
            raise ApiError(422, "Idempotency-Key was already used for a different request")
        if row.responseStatus is not None:
            return Claim(
                key_id=None,
                replay_status=row.responseStatus,
                replay_body=json.loads(row.responseBody or "{}"),
            )
        if utcnow() - row.createdAt < STALE_CLAIM:
            raise ApiError(409, "A request with this Idempotency-Key is still being processed")
        row.createdAt = utcnow()
        return Claim(key_id=row.id)


def store_response(
    factory: sessionmaker[Session], key_id: str, status: int, body: dict[str, Any]
) -> None:
    """Remember the successful response that retries with the same key will get."""
    with factory() as session, session.begin():
        session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.id == key_id)
            .values(responseStatus=status, responseBody=json.dumps(body), completedAt=utcnow())
        )


def release_key(factory: sessionmaker[Session], key_id: str) -> None:
    """Forget a claim whose request failed without charging, so a retry can run."""
    with factory() as session, session.begin():
        session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == key_id))


def run_once(
    factory: sessionmaker[Session],
    *,
    key: str | None,
    user_id: str,
    endpoint: str,
    request_hash: str,
    work: Callable[[], dict[str, Any]],
) -> tuple[int, dict[str, Any]]:
    """Run ``work`` (which answers 200) at most once per key; replay it for retries."""
    if key is None:
        return 200, work()
    claim = claim_key(
        factory, user_id=user_id, key=key, endpoint=endpoint, request_hash=request_hash
    )
    if claim.key_id is None:
        assert claim.replay_status is not None and claim.replay_body is not None
        return claim.replay_status, claim.replay_body
    try:
        body = work()
    except BaseException:
        release_key(factory, claim.key_id)
        raise
    store_response(factory, claim.key_id, 200, body)
    return 200, body
