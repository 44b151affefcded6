"""Prisma apply keeps a running ``prisma migrate deploy`` out, as Prisma keeps itself out."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy.engine import make_url

from lumiku_ops.errors import MigrationLockedError
from lumiku_ops.migrate.apply import apply_migrations
from lumiku_ops.prisma.rows import PRISMA_ADVISORY_LOCK_KEY
from lumiku_ops.settings import load_settings
from tests.prisma.helpers import PROJECT
from tests.utils.db import connection_to

pytestmark = pytest.mark.db


def _psycopg(url: str) -> psycopg.Connection:
    parsed = make_url(url)
    return psycopg.connect(
        host=parsed.query.get("host") or parsed.host,  # type: ignore[arg-type]
        port=parsed.port,
        user=parsed.username,
        password=parsed.password,
        dbname=parsed.database,
        autocommit=True,
    )


def test_apply_fails_fast_while_prisma_holds_its_lock(fresh_db: str) -> None:
    """Without the second ``acquire_migration_lock`` in ``deploy``, the apply would run
    beside Prisma's deploy and both would write ``_prisma_migrations``."""
    settings = load_settings(project_dir=PROJECT, database_url=fresh_db)
    with _psycopg(fresh_db) as prisma:
        prisma.execute("SELECT pg_advisory_lock(%s)", (PRISMA_ADVISORY_LOCK_KEY,))
        with pytest.raises(MigrationLockedError):
            apply_migrations(settings)
    with connection_to(fresh_db) as connection:
        tables = connection.exec_driver_sql(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ).scalar()
    assert tables == 0  # nothing ran
    # Our own lock was given back: with Prisma gone, the apply runs.
    assert apply_migrations(settings).outcome == "applied"
