"""Helpers to put a test database in a given state."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from alembic import command
from sqlalchemy import Connection, create_engine, pool

from lumiku_ops.alembic_runner import alembic_config, upgrade_database
from lumiku_ops.settings import DEFAULT_MIGRATIONS_DIR


@contextmanager
def connect(url: str) -> Iterator[Connection]:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        engine.dispose()


def upgrade(url: str, target: str = "head") -> None:
    upgrade_database(url, DEFAULT_MIGRATIONS_DIR, target)


def downgrade(url: str, target: str) -> None:
    with connect(url) as connection:
        command.downgrade(alembic_config(DEFAULT_MIGRATIONS_DIR, connection), target)
