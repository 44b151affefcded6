"""Alembic environment: plain CLI, offline ``--sql``, or a connection handed in by the library.

Where the database comes from, first match wins:
1. ``config.attributes["connection"]``: a live ``Connection`` (the caller keeps control
   of the transaction) or an ``Engine`` (a connection is taken from it), as tools that
   drive Alembic in-process hand them in;
2. the ``sqlalchemy.url`` option, set in code or with ``-x url=...``;
3. ``DATABASE_URL``;
4. the embedded PostgreSQL (started on demand), so ``alembic upgrade head`` works on a
   fresh clone with nothing else installed.
Offline mode needs only the dialect, so it never starts or touches a server.

lumiku-ops itself does not need this file to cooperate (it runs the revisions on its own
connection); it is written as a model for a service's own ``env.py``.
"""

from __future__ import annotations

import os
from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import Connection, Engine, create_engine, pool

from service.models import metadata

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = metadata
OFFLINE_URL = "postgresql+psycopg://"
# Not models: Alembic's own table, lumiku-ops's audit trail, and the job queue's objects.
NON_MODEL_TABLES = {"alembic_version", "lumiku_ops_audit"}
NON_MODEL_PREFIXES = ("procrastinate_",)


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, other: Any) -> bool:
    """Compare and generate only model objects."""
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    return table is None or (
        table not in NON_MODEL_TABLES and not table.startswith(NON_MODEL_PREFIXES)
    )


def _configured_url() -> str | None:
    return (
        context.get_x_argument(as_dictionary=True).get("url")
        or config.get_main_option("sqlalchemy.url")
        or os.environ.get("DATABASE_URL")
        or None
    )


def _online_url() -> str:
    from lumiku_ops.db.connect import resolve_database_url
    from lumiku_ops.settings import load_settings

    # The URL given here (or $DATABASE_URL), else the embedded server ($LUMIKU_DATA_DIR).
    return resolve_database_url(load_settings(database_url=_configured_url()))


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
    if isinstance(shared, Connection):
        _run_with(shared)
        return
    if isinstance(shared, Engine):
        with shared.begin() as connection:
            _run_with(connection)
        return
    engine = create_engine(_online_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        _run_with(connection)
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
