"""The models and revision 0002 produce exactly the seed's expected tables."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from lumiku_ops.db.catalog import read_tables
from service.models import metadata
from tests.utils.db import connect, upgrade
from tests.utils.project import REFERENCE

pytestmark = pytest.mark.db

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SEED_SQL = FIXTURES / "seed_expected_migration.sql"
# Ours, not the seed's: each found by a benchmark (bench/README.md).
BEYOND_SEED_SQL = FIXTURES / "indexes_beyond_seed.sql"
BEYOND_SEED_INDEXES = {"BackgroundRemovalJob_userId_createdAt_id_idx"}
BACKGROUND_REMOVER_TABLES = [
    "BackgroundRemovalJob",
    "BackgroundRemovalBatch",
    "BackgroundRemoverSubscription",
    "BackgroundRemoverSubscriptionUsage",
]


def test_seed_sql_and_migrations_give_identical_catalogs(make_db: Callable[[], str]) -> None:
    """0002 is the seed's SQL plus the indexes listed in ``indexes_beyond_seed.sql``, nothing else.

    The additions are checked to be only new indexes (every seed object unchanged), and then
    the seed with the additions must match the migrations exactly.
    """
    from_seed, from_migrations = make_db(), make_db()
    with connect(from_seed) as connection:
        connection.exec_driver_sql(SEED_SQL.read_text())
    with connect(from_seed) as connection:
        seed_only = read_tables(connection, BACKGROUND_REMOVER_TABLES)
    with connect(from_seed) as connection:
        connection.exec_driver_sql(BEYOND_SEED_SQL.read_text())
    upgrade(from_migrations, "head")

    with connect(from_seed) as connection:
        seed = read_tables(connection, BACKGROUND_REMOVER_TABLES)
    with connect(from_migrations) as connection:
        migrated = read_tables(connection, BACKGROUND_REMOVER_TABLES)

    assert sorted(seed) == sorted(f"public.{name}" for name in BACKGROUND_REMOVER_TABLES)
    added: set[str] = set()
    for key, original in seed_only.items():
        extended = seed[key]
        assert extended.columns == original.columns, key
        assert extended.constraints == original.constraints, key
        for name, definition in original.indexes.items():
            assert extended.indexes[name] == definition, (key, name)
        added |= set(extended.indexes) - set(original.indexes)
    assert added == BEYOND_SEED_INDEXES

    for key, expected in seed.items():
        actual = migrated[key]
        assert actual.columns == expected.columns, key
        assert actual.indexes == expected.indexes, key
        assert actual.constraints == expected.constraints, key


def test_models_create_the_same_catalog_as_the_migrations(make_db: Callable[[], str]) -> None:
    """``metadata.create_all`` and ``upgrade head`` agree, so the models are the truth."""
    from_models, from_migrations = make_db(), make_db()
    with connect(from_models) as connection:
        metadata.create_all(connection)
    upgrade(from_migrations, "head")
    with connect(from_models) as connection:
        models = read_tables(connection)
    with connect(from_migrations) as connection:
        migrated = read_tables(connection)
    migrated = {
        key: table
        for key, table in migrated.items()
        if REFERENCE.is_model_object(key.split(".", 1)[1])
    }
    assert sorted(models) == sorted(migrated)
    for key, expected in models.items():
        assert migrated[key].to_dict() == expected.to_dict(), key


def test_unique_keys_are_unique_indexes_not_constraints(fresh_db: str) -> None:
    upgrade(fresh_db, "head")
    with connect(fresh_db) as connection:
        tables = read_tables(connection, BACKGROUND_REMOVER_TABLES)
        unique_constraints = connection.execute(
            text(
                "SELECT t.relname FROM pg_constraint c JOIN pg_namespace n"
                " ON n.oid = c.connamespace JOIN pg_class t ON t.oid = c.conrelid"
                " WHERE c.contype = 'u' AND n.nspname = 'public'"
            )
        ).scalars()
    # The job queue's own tables (procrastinate's schema) are not models.
    assert [name for name in unique_constraints if REFERENCE.is_model_object(name)] == []
    keys = {name for table in tables.values() for name in table.indexes if name.endswith("_key")}
    assert keys == {
        "BackgroundRemovalBatch_batchId_key",
        "BackgroundRemoverSubscription_userId_key",
        "BackgroundRemoverSubscriptionUsage_subscriptionId_date_tier_key",
    }


def test_column_counts_follow_the_models_not_the_seeds_prose(fresh_db: str) -> None:
    """The debug report says 18 and 17 columns for two tables; the SQL (and we) have 19, 18."""
    upgrade(fresh_db, "head")
    with connect(fresh_db) as connection:
        tables = read_tables(connection, BACKGROUND_REMOVER_TABLES)
    for name in BACKGROUND_REMOVER_TABLES:
        assert len(tables[f"public.{name}"].columns) == len(metadata.tables[name].columns)
    prose = {"BackgroundRemovalBatch": 18, "BackgroundRemoverSubscription": 17}
    for name, stated in prose.items():
        assert len(metadata.tables[name].columns) == stated + 1
