"""The revision history: one head, reversible, renderable offline, matching the models."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, pool, text

from lumiku_ops.db.catalog import snapshot
from service.models import metadata
from service.schema_version import script_directory
from tests.utils.db import connect, downgrade, upgrade
from tests.utils.project import MIGRATIONS, REFERENCE, REPO_ROOT


def test_exactly_one_head_and_the_fixed_revision_ids() -> None:
    scripts = script_directory(MIGRATIONS)
    assert scripts.get_heads() == ["0002"]
    second = scripts.get_revision("0002")
    assert second is not None
    assert second.down_revision == "0001"
    assert second.doc.splitlines()[0] == "add_background_remover_models"
    first = scripts.get_revision("0001")
    assert first is not None
    assert first.down_revision is None


@pytest.mark.db
def test_upgrade_downgrade_upgrade_round_trip(fresh_db: str) -> None:
    upgrade(fresh_db, "0001")
    with connect(fresh_db) as connection:
        baseline = snapshot(connection)
    upgrade(fresh_db, "head")
    with connect(fresh_db) as connection:
        at_head = snapshot(connection)
    downgrade(fresh_db, "0001")
    with connect(fresh_db) as connection:
        after_downgrade = snapshot(connection)
    # Downgrading 0002 removes exactly what it created: the catalog is 0001's again.
    assert after_downgrade == baseline
    upgrade(fresh_db, "head")
    with connect(fresh_db) as connection:
        assert snapshot(connection) == at_head
    downgrade(fresh_db, "base")
    with connect(fresh_db) as connection:
        empty = snapshot(connection)
        functions = connection.execute(
            text(
                "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                " WHERE n.nspname = 'public'"
            )
        ).scalar_one()
    # 0001 also removes the job queue it created: its tables, types and functions.
    assert empty["tables"].keys() == {"public.alembic_version"}
    assert empty["other"] == []
    assert functions == 0


@pytest.mark.db
def test_the_baseline_creates_the_job_queue(fresh_db: str) -> None:
    upgrade(fresh_db, "0001")
    with connect(fresh_db) as connection:
        tables = set(snapshot(connection)["tables"])
    assert {"public.procrastinate_jobs", "public.procrastinate_workers"} <= tables
    assert "public.idempotency_keys" in tables


@pytest.mark.db
def test_models_hold_no_change_that_no_revision_captures(fresh_db: str) -> None:
    upgrade(fresh_db, "head")
    with connect(fresh_db) as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": REFERENCE.include_object}
        )
        assert compare_metadata(context, metadata) == []


@pytest.mark.db
def test_a_failing_migration_leaves_nothing_half_applied(fresh_db: str) -> None:
    """The whole range runs in one transaction: a clash in 0002 rolls back all of it."""
    upgrade(fresh_db, "0001")
    with connect(fresh_db) as connection:
        connection.execute(text('CREATE TABLE "BackgroundRemoverSubscriptionUsage" (x int)'))
        before = snapshot(connection)
    with pytest.raises(Exception, match="already exists"):
        upgrade(fresh_db, "head")
    with connect(fresh_db) as connection:
        assert snapshot(connection) == before
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == (
            "0001"
        )


def test_offline_sql_renders_one_transaction_with_the_version_update() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "0001:head", "--sql"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "", "PYTHONPATH": str(REPO_ROOT)},
        check=True,
    )
    sql = result.stdout
    assert sql.count("BEGIN;") == 1 and sql.rstrip().endswith("COMMIT;")
    assert sql.count("CREATE TABLE") == 4
    assert "UPDATE alembic_version SET version_num='0002'" in sql
    assert 'REFERENCES "BackgroundRemovalBatch" (id) ON DELETE CASCADE ON UPDATE CASCADE' in sql


@pytest.mark.db
@pytest.mark.parametrize("handed_in", ["engine", "connection"])
def test_the_reference_env_py_takes_an_engine_or_a_connection(
    fresh_db: str, handed_in: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tools that drive Alembic in-process hand env.py either; a wrong DATABASE_URL proves
    # that what was handed in is what got migrated.
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/nowhere")
    config = Config(str(REPO_ROOT / "alembic.ini"), stdout=io.StringIO())
    config.attributes["configure_logger"] = False
    engine = create_engine(fresh_db, poolclass=pool.NullPool)
    try:
        if handed_in == "engine":
            config.attributes["connection"] = engine
            command.upgrade(config, "0001")
        else:
            with engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "0001")
        with engine.connect() as connection:
            version = connection.execute(text("SELECT version_num FROM alembic_version"))
            assert version.scalar() == "0001"
    finally:
        engine.dispose()
