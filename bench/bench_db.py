"""A throwaway database for a benchmark: on a given server, or on an embedded one."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, pool, text
from sqlalchemy.engine import make_url

from lumiku_ops.db.embedded import start_embedded


@contextmanager
def bench_database(server_url: str | None) -> Iterator[str]:
    """A new, empty database (on ``server_url``'s server, or a throwaway embedded one)."""
    name = f"lumiku_bench_{uuid.uuid4().hex[:10]}"
    if server_url is None:
        folder = Path(tempfile.mkdtemp(prefix="lumiku-bench-"))
        embedded = start_embedded(folder / "pgdata", cleanup="delete", database=None)
        embedded.create_database(name)
        try:
            yield embedded.url(name)
        finally:
            embedded.drop_database(name)
        return
    admin = create_engine(
        server_url, poolclass=pool.NullPool, isolation_level="AUTOCOMMIT"
    )  # CREATE/DROP DATABASE cannot run inside a transaction
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
