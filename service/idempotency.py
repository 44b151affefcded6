"""``Idempotency-Key`` on charging endpoints: one charge per key, even across crashes.

The first request with a key claims it (a committed row, unique per user and key) under
a lease (``service.leases``) taken before the row is committed. Its successful response
is stored in the same transaction that completes the work, so "charged and completed"
and "response stored" can never be told apart: every retry gets that response back.
When the work fails, it has given back what it charged and the claim is deleted, so a
retry runs anew.

A retry that finds a claim without a response asks whether the claim's lease is held:
if so, the first request is still running (409); if not, its process died. The retry
then takes the claim over, first letting the endpoint settle what the dead request left
(``on_takeover``: a single removal fails and refunds the interrupted job), and runs the
work itself. Either way the key is charged at most once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from service.errors import ApiError
from service.leases import KEY_LEASE, Lease, hold_in_transaction, holder_is_gone
from service.models import IdempotencyKey, new_id, utcnow

MAX_KEY_LENGTH = 255

# Stores the successful response inside the caller's transaction (a no-op without a key).
Recorder = Callable[[Session, dict[str, Any]], None]


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
    taken_over: bool = False


def claim_key(held: Lease, *, user_id: str, key: str, endpoint: str, request_hash: str) -> Claim:
    """Claim ``key`` for this request under ``held``, or return the stored response.

    Raises:
        ApiError: 400 for an unusable key, 422 when the key was used for a different
            request, 409 while the first request with the key is still running.
    """
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ApiError(400, f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters")
    key_id = new_id()
    # Leased before the claim is visible, so nobody can mistake it for an abandoned one.
    held.hold(KEY_LEASE, key_id)
    with held.sessions() as session, session.begin():
        inserted = session.scalar(
            insert(IdempotencyKey)
            .values(
                id=key_id,
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
        if not holder_is_gone(session, KEY_LEASE, row.id):
            raise ApiError(409, "A request with this Idempotency-Key is still being processed")
        # The first request died: this one carries the claim from now on. Leased before
        # the commit, so a concurrent retry cannot take it over as well.
        hold_in_transaction(session, KEY_LEASE, row.id)
        row.createdAt = utcnow()
        return Claim(key_id=row.id, taken_over=True)


def recorder_for(key_id: str | None) -> Recorder:
    """What stores the successful response for claim ``key_id``, in the work's commit."""

    def record(session: Session, body: dict[str, Any]) -> None:
        if key_id is None:
            return
        session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.id == key_id)
            .values(responseStatus=200, responseBody=json.dumps(body), completedAt=utcnow())
        )

    return record


def release_key(held: Lease, key_id: str) -> None:
    """Forget a claim whose request failed without keeping a charge, so a retry can run."""
    with held.sessions() as session, session.begin():
        session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == key_id))


def run_once(
    held: Lease,
    *,
    key: str | None,
    user_id: str,
    endpoint: str,
    request_hash: str,
    work: Callable[[Recorder], dict[str, Any]],
    on_takeover: Callable[[], None] | None = None,
) -> tuple[int, dict[str, Any]]:
    """Run ``work`` (which answers 200) at most once per key; replay it for retries.

    ``work`` must call the recorder it is given inside the transaction that commits its
    result. ``on_takeover`` runs before the work when a dead request's claim is taken
    over, to settle what that request left behind.
    """
    if key is None:
        return 200, work(recorder_for(None))
    claim = claim_key(held, user_id=user_id, key=key, endpoint=endpoint, request_hash=request_hash)
    if claim.key_id is None:
        if claim.replay_status is None or claim.replay_body is None:
            raise RuntimeError("a stored idempotent response has no status or body")
        return claim.replay_status, claim.replay_body
    if claim.taken_over and on_takeover is not None:
        on_takeover()
    try:
        body = work(recorder_for(claim.key_id))
    except BaseException:
        release_key(held, claim.key_id)
        raise
    return 200, body
