"""Engines and per-request database access.

Two pools over one database. Short reads (a page of jobs, the stats, one job) run on the
asyncio engine, in the event loop: no hop to a worker thread, and one connection for the
caller's lookup and the endpoint's own query. Work that takes long or writes (removals,
batches, subscriptions) keeps the thread-based engine and its ``Session``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from fastapi import Request
from sqlalchemy import Engine, create_engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

# pool_pre_ping notices a connection the server dropped (a restart, an idle timeout)
# before a request uses it; connect_timeout bounds the wait for a server that is gone.
POOL_OPTIONS: dict[str, Any] = {
    "pool_pre_ping": True,
    "pool_size": 10,
    "max_overflow": 10,
    "connect_args": {"connect_timeout": 5},
}


def make_engine(database_url: str) -> Engine:
    """An engine that notices dropped connections and never waits long for a server."""
    return create_engine(database_url, **POOL_OPTIONS)


def make_read_engine(database_url: str) -> AsyncEngine:
    """The asyncio engine the read endpoints use: autocommit, no pre-ping.

    Its statements only read, so each runs on its own: no ``BEGIN`` before the first and
    no ``ROLLBACK`` when the connection goes back. Instead of a ping before every request,
    a dropped connection is noticed by the caller's lookup, which is retried once on a
    fresh one (``service.auth.authenticated``). Three round trips fewer per request.
    """
    options = {**POOL_OPTIONS, "pool_pre_ping": False}
    return create_async_engine(database_url, isolation_level="AUTOCOMMIT", **options)


def get_session(request: Request) -> Iterator[Session]:
    """FastAPI dependency: one session per request, closed afterwards."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    with factory() as session:
        yield session


async def read_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    """FastAPI dependency: one pooled connection for the whole request, then handed back."""
    engine: AsyncEngine = request.app.state.read_engine
    async with engine.connect() as connection:
        yield connection
