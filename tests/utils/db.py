"""Helpers to put a test database in a given state."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, create_engine, pool

from lumiku_ops.migrate import runner
from tests.utils.project import REFERENCE


@contextmanager
def connect(url: str) -> Iterator[Connection]:
    """A connection inside one transaction, committed at the end (rolled back on error)."""
    with connection_to(url) as connection, connection.begin():
        yield connection


@contextmanager
def connection_to(url: str) -> Iterator[Connection]:
    """A connection whose transactions the test begins, commits and rolls back itself."""
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def upgrade(url: str, target: str = "head") -> None:
    runner.upgrade_database(url, REFERENCE, target)


def downgrade(url: str, target: str) -> None:
    with connect(url) as connection:
        runner.downgrade(REFERENCE, connection, target)
