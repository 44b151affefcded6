"""Alembic environment: plain CLI, offline ``--sql``, or a connection handed in by the library.

Where the database comes from, first match wins:
1. ``config.attributes["connection"]``: a live connection (the library drives Alembic
   in-process and keeps control of the transaction);
2. the ``sqlalchemy.url`` option, set in code or with ``-x url=...``;
3. ``DATABASE_URL``;
4. the embedded PostgreSQL (started on demand), so ``alembic upgrade head`` works on a
   fresh clone with nothing else installed.
Offline mode needs only the dialect, so it never starts or touches a server.
"""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from lumiku_ops.schema_filter import include_object
from service.models import metadata

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = metadata
OFFLINE_URL = "postgresql+psycopg://"


def _configured_url() -> str | None:
    return (
        context.get_x_argument(as_dictionary=True).get("url")
        or config.get_main_option("sqlalchemy.url")
        or os.environ.get("DATABASE_URL")
        or None
    )


def _online_url() -> str:
    url = _configured_url()
    if url:
        from lumiku_ops.settings import normalize_database_url

        return normalize_database_url(url)
    from lumiku_ops.embedded import start_embedded

    return start_embedded().url()


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        include_object=include_object,
        # One transaction for the whole range: a failure leaves nothing half-applied.
        transaction_per_migration=False,
        **kwargs,  # type: ignore[arg-type]
    )


def run_migrations_offline() -> None:
    """Render SQL to stdout: ``alembic upgrade 0001:head --sql``."""
    _configure(url=_configured_url() or OFFLINE_URL, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _run_with(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run against a live database, sharing a handed-in connection when there is one."""
    shared = config.attributes.get("connection")
    if shared is not None:
        _run_with(shared)
        return
    engine = create_engine(_online_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        _run_with(connection)
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
