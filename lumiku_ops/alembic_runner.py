"""Alembic driven in-process, on a connection we own (the cookbook's connection sharing)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, create_engine, pool


def alembic_config(migrations_dir: Path, connection: Connection | None = None) -> Config:
    """A Config for ``migrations_dir``; ``connection`` is handed to ``env.py`` if given."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.attributes["configure_logger"] = False
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade_database(url: str, migrations_dir: Path, target: str = "head") -> None:
    """Upgrade the database at ``url`` to ``target`` in one transaction."""
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(migrations_dir, connection), target)
    finally:
        engine.dispose()
