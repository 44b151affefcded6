"""Alembic environment of the inventory service, written the way many real ones are.

The database URL comes from ``inventory_app.settings`` and nothing else: a connection in
``config.attributes``, ``-x url=...`` and the ini's ``sqlalchemy.url`` are all ignored (the
latter is overwritten with the settings' URL, for revisions that read it). A tool that
must run these revisions somewhere else has to run them on its own connection.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from inventory_app import settings
from inventory_app.hooks import include_object
from inventory_app.models import Base
from sqlalchemy import create_engine, pool

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)

target_metadata = Base.metadata

# Revisions that need the database's name read it from here, as in many projects.
config.set_main_option("sqlalchemy.url", settings.database_url().replace("%", "%%"))


def run_migrations_offline() -> None:
    context.configure(
        url=settings.database_url(),
        target_metadata=target_metadata,
        include_object=include_object,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(settings.database_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_object=include_object,
            compare_type=True,
            compare_server_default=True,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
