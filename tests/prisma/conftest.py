"""Prisma's real schema engine, installed once per test session into the tests' cache folder
(``LUMIKU_CACHE_DIR``, the checkout's ``.lumiku/cache``: a re-run finds it installed)."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

import pytest

from lumiku_ops.prisma.schema import SchemaFile

# A small schema with what Prisma projects use most: a cuid() id, an enum with a default, a
# relation that cascades on delete, a composite @@index, a unique field, now().
SCHEMA_V1 = """\
generator client {
  provider = "prisma-client-js"
}

datasource db {
  provider = "postgresql"
}

enum Plan {
  FREE
  PRO
}

model Account {
  id        String   @id @default(cuid())
  email     String   @unique
  plan      Plan     @default(FREE)
  createdAt DateTime @default(now())
}
"""
# V1 plus one model: the migration that "was never created".
SCHEMA_V2 = (
    SCHEMA_V1.replace(
        "  createdAt DateTime @default(now())\n}\n",
        "  createdAt DateTime @default(now())\n  projects  Project[]\n}\n",
    )
    + """
model Project {
  id        Int     @id @default(autoincrement())
  name      String
  accountId String
  account   Account @relation(fields: [accountId], references: [id], onDelete: Cascade)

  @@index([accountId, name])
}
"""
)


def schema(text: str, path: str = "prisma/schema.prisma") -> list[SchemaFile]:
    return [SchemaFile(path, text)]


def write_migrations(folder: Path, migrations: Mapping[str, str | bytes]) -> Path:
    """A Prisma migrations folder: ``NAME/migration.sql`` each, and ``migration_lock.toml``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "migration_lock.toml").write_text('provider = "postgresql"\n')
    for name, sql in migrations.items():
        (folder / name).mkdir()
        data = sql.encode() if isinstance(sql, str) else sql
        (folder / name / "migration.sql").write_bytes(data)
    return folder


@pytest.fixture(scope="session")
def prisma_engine() -> Path:
    """The installed engine's folder; the tests that need it skip where Node.js is absent."""
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed: Prisma's schema engine cannot run here")
    from lumiku_ops.prisma.install import install_engine

    return install_engine()
