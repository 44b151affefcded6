"""The audit trail lives in a schema of its own, and carries the old table's rows over."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from lumiku_ops.migrate.apply import apply_migrations
from lumiku_ops.migrate.audit import read_audit
from lumiku_ops.settings import load_settings
from tests.utils.db import connect, upgrade

pytestmark = pytest.mark.db

OLD_TABLE = """
CREATE TABLE lumiku_ops_audit (
    id BIGSERIAL PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL DEFAULT now(),
    action TEXT NOT NULL,
    os_user TEXT NOT NULL,
    db_user TEXT NOT NULL DEFAULT current_user,
    host TEXT NOT NULL,
    from_revision TEXT,
    to_revision TEXT,
    outcome TEXT NOT NULL,
    detail TEXT,
    duration_ms INTEGER
)
"""


def public_tables(url: str) -> set[str]:
    with connect(url) as connection:
        return set(
            connection.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            ).scalars()
        )


def test_the_first_apply_creates_the_audit_schema_outside_the_application(
    fresh_db: str,
) -> None:
    upgrade(fresh_db, "0001")
    apply_migrations(load_settings(database_url=fresh_db))
    assert "lumiku_ops_audit" not in public_tables(fresh_db)
    with connect(fresh_db) as connection:
        rows = connection.execute(
            text("SELECT action, from_revision, to_revision, outcome FROM lumiku_ops.audit")
        ).all()
    assert [tuple(row) for row in rows] == [("apply", "0001", "0002", "applied")]


def test_rows_of_the_old_table_are_carried_over_and_it_is_dropped(fresh_db: str) -> None:
    upgrade(fresh_db, "0001")
    with connect(fresh_db) as connection:
        connection.execute(text(OLD_TABLE))
        connection.execute(
            text(
                "INSERT INTO lumiku_ops_audit (id, action, os_user, host, from_revision,"
                " to_revision, outcome) VALUES"
                " (7, 'apply', 'ops', 'h1', NULL, '0001', 'applied'),"
                " (8, 'rollback', 'ops', 'h1', '0001', NULL, 'failed')"
            )
        )
    with connect(fresh_db) as connection:  # status reads the old table before any apply
        assert [r.action for r in read_audit(connection)] == ["rollback", "apply"]
    apply_migrations(load_settings(database_url=fresh_db))
    assert "lumiku_ops_audit" not in public_tables(fresh_db)
    with connect(fresh_db) as connection:
        records = read_audit(connection)
        ids = connection.execute(text("SELECT id FROM lumiku_ops.audit ORDER BY id")).scalars()
        assert list(ids) == [7, 8, 9]  # old ids kept, the sequence continues after them
    assert [(r.action, r.to_revision, r.outcome) for r in records] == [
        ("apply", "0002", "applied"),
        ("rollback", None, "failed"),
        ("apply", "0001", "applied"),
    ]
