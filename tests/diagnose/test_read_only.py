"""Diagnosis never writes: it works with SELECT-only rights, in a read-only session."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from lumiku_ops.db.catalog import snapshot
from lumiku_ops.diagnose.diagnosis import diagnose
from lumiku_ops.settings import load_settings
from tests.utils.db import connect, upgrade
from tests.utils.service import free_port

pytestmark = pytest.mark.db


@pytest.fixture
def reader_url(fresh_db: str) -> Iterator[str]:
    """A role that can connect and SELECT, and nothing else."""
    role = f"lumiku_reader_{uuid.uuid4().hex[:8]}"
    upgrade(fresh_db, "0001")
    database = make_url(fresh_db).database
    with connect(fresh_db) as connection:
        connection.execute(text(f"CREATE ROLE {role} LOGIN"))
        connection.execute(text(f'GRANT CONNECT ON DATABASE "{database}" TO {role}'))
        connection.execute(text(f"GRANT USAGE ON SCHEMA public TO {role}"))
        connection.execute(text(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"))
        connection.execute(text(f"REVOKE CREATE ON SCHEMA public FROM {role}"))
    yield make_url(fresh_db).set(username=role).render_as_string(hide_password=False)
    with connect(fresh_db) as connection:
        connection.execute(text(f"DROP OWNED BY {role}"))
        connection.execute(text(f"DROP ROLE {role}"))


def test_diagnosis_is_read_only(fresh_db: str, reader_url: str) -> None:
    with connect(fresh_db) as connection:
        before = snapshot(connection)
    settings = load_settings(database_url=reader_url, api_url=f"http://127.0.0.1:{free_port()}")
    result = diagnose(settings)
    assert result.database is not None
    assert result.database.read_only is True
    assert result.verdict == "MIGRATION_NOT_APPLIED"
    with connect(fresh_db) as connection:
        assert snapshot(connection) == before
        assert (
            connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0001"
        )
