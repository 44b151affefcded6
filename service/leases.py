"""Leases on in-flight work: PostgreSQL advisory locks held by the working connection.

A request that charges takes a lease on its idempotency claim and on its job *before*
either is committed, and keeps it until the work reaches a final state. The lease lives
in the database session of one connection, so PostgreSQL drops it the moment the process
dies (``kill -9``, out of memory, power loss: the server sees the connection close).
Anyone can therefore tell a crashed request from a slow one without guessing a timeout:
if the lease can be taken, its holder is gone. Every database statement of the request
runs on the lease's connection, so a request never needs two pooled connections at once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, Integer, cast, func, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

log = logging.getLogger("service")

# The two int4 keys of pg_advisory_lock(key1, key2): a namespace, then the name's hash.
JOB_LEASE = 0x4C4A4F42  # single removal jobs
KEY_LEASE = 0x4C49444B  # idempotency claims


def _key(namespace: int, name: str) -> tuple[ColumnElement[int], ColumnElement[int]]:
    return cast(namespace, Integer), func.hashtext(name)


class Lease:
    """Advisory locks held on one connection until :meth:`release`."""

    def __init__(self, engine: Engine) -> None:
        self._connection: Connection = engine.connect()
        self.sessions: sessionmaker[Session] = sessionmaker(
            bind=self._connection, expire_on_commit=False
        )

    def hold(self, namespace: int, name: str) -> None:
        """Take the lease ``(namespace, name)``, waiting while someone else holds it."""
        self._connection.execute(select(func.pg_advisory_lock(*_key(namespace, name))))
        # The lock belongs to the session, not the transaction: committing keeps it.
        self._connection.commit()

    def release(self) -> None:
        """Drop every lease and hand the connection back to the pool."""
        try:
            self._connection.rollback()
            self._connection.execute(select(func.pg_advisory_unlock_all()))
            self._connection.commit()
        except Exception:  # noqa: BLE001 - a connection that may keep a lock is never reused
            log.warning("could not release a lease; discarding its connection", exc_info=True)
            self._connection.invalidate()
        finally:
            self._connection.close()


@contextmanager
def lease(engine: Engine) -> Iterator[Lease]:
    """A :class:`Lease` for the duration of the block."""
    held = Lease(engine)
    try:
        yield held
    finally:
        held.release()


def hold_in_transaction(session: Session, namespace: int, name: str) -> None:
    """Take ``(namespace, name)`` for the session of ``session``'s connection.

    Only meaningful on a :class:`Lease`'s sessions: the lease then outlives the
    transaction, exactly like :meth:`Lease.hold`.
    """
    session.execute(select(func.pg_advisory_lock(*_key(namespace, name))))


def holder_is_gone(session: Session, namespace: int, name: str) -> bool:
    """True when nobody holds ``(namespace, name)``; it stays taken until the commit.

    Taking it for the rest of the caller's transaction keeps a new holder out while the
    caller settles the abandoned work.
    """
    taken = session.scalar(select(func.pg_try_advisory_xact_lock(*_key(namespace, name))))
    return bool(taken)
