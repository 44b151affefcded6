"""MLflow's first schema, which its Alembic history starts after.

MLflow's own ``_initialize_tables`` creates the tables of ``initial_models`` with
``create_all`` and then runs ``alembic upgrade head``; lumiku-ops calls this, with the
connection, wherever it builds a database from empty (``baseline`` in pyproject.toml).
"""

from __future__ import annotations

from sqlalchemy import Connection


def create_initial_tables(connection: Connection) -> None:
    from mlflow.store.db.utils import InitialBase

    InitialBase.metadata.create_all(connection)
