"""Shared by the Prisma tests: the seeds' Prisma project, and connections the test controls."""

from __future__ import annotations

import shutil
from pathlib import Path

from lumiku_ops.prisma.migrations import PrismaMigration, list_migrations
from lumiku_ops.prisma.rows import apply_migration
from tests.utils.db import connection_to

TESTS = Path(__file__).resolve().parent.parent
PROJECT = TESTS.parent / "examples" / "prisma_seeds"
MIGRATIONS = PROJECT / "prisma" / "migrations"
SEED_SQL = TESTS / "fixtures" / "seed_expected_migration.sql"
BEYOND_SEED_SQL = TESTS / "fixtures" / "indexes_beyond_seed.sql"
BACKGROUND_REMOVER_TABLES = [
    "BackgroundRemovalJob",
    "BackgroundRemovalBatch",
    "BackgroundRemoverSubscription",
    "BackgroundRemoverSubscriptionUsage",
]
# The seeds' "Recent Migrations Found", oldest first.
SEED_MIGRATION_NAMES = [
    "20251004080251_add_looping_flow_app",
    "20251004124929_add_looping_flow_enhancements",
    "20251014_add_avatar_creator_complete",
    "20251015_add_recovery_indexes",
    "20251015_add_variation_key_to_generated_pose",
    "20251016_p2_performance_indexes",
    "20251018_add_user_settings",
]


def copy_history(folder: Path) -> Path:
    """A scratch copy of the project's migrations folder (tests edit and add to it)."""
    return Path(shutil.copytree(MIGRATIONS, folder))


def add_migration(folder: Path, name: str, sql: str | bytes) -> Path:
    """A new migration folder holding ``sql`` exactly (bytes are written as they are)."""
    (folder / name).mkdir()
    path = folder / name / "migration.sql"
    if isinstance(sql, bytes):
        path.write_bytes(sql)
    else:
        path.write_bytes(sql.encode("utf-8"))
    return path


def apply_each(url: str, migrations: list[PrismaMigration]) -> None:
    """Apply each migration in a transaction of its own, as ``prisma migrate deploy`` does."""
    with connection_to(url) as connection:
        for migration in migrations:
            with connection.begin():
                apply_migration(connection, migration)


def apply_history(url: str, folder: Path = MIGRATIONS) -> list[PrismaMigration]:
    """Every migration of ``folder`` applied and recorded; returns them."""
    migrations = list_migrations(folder)
    apply_each(url, migrations)
    return migrations
