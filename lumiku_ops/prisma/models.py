"""A Prisma schema's tables, as PostgreSQL renders the SQL Prisma's own engine gives.

``schema.prisma`` is never read by Python: the schema engine turns it into SQL (from an
empty database), the SQL runs on a scratch database, and the catalog and a reflected
``MetaData`` are read back. Everything downstream (catalogs, comparisons, checklists)
then sees real tables, exactly as Prisma would create them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import MetaData, text
from sqlalchemy.exc import DBAPIError

from lumiku_ops.db.catalog import TableCatalog, read_model_tables
from lumiku_ops.db.scratch import shadow_database
from lumiku_ops.errors import ShadowReplayError, database_reason
from lumiku_ops.migrate.cache_files import cache_folder, load, store
from lumiku_ops.prisma import engine
from lumiku_ops.prisma.schema import SchemaFile, read_schema

if TYPE_CHECKING:
    from lumiku_ops.project import Project


@dataclass(frozen=True)
class PrismaModels:
    """The engine's SQL for the schema, and what it creates."""

    sql: str
    catalog: TableCatalog
    metadata: MetaData


_built: dict[str, PrismaModels] = {}


def schema_of(project: Project) -> list[SchemaFile]:
    """The project's schema files (datasource URLs stripped), read now."""
    assert project.prisma_schema is not None
    return read_schema(project.prisma_schema)


def schema_digest(files: list[SchemaFile]) -> str:
    """SHA-256 of the schema files' names and contents."""
    return _digest(files)


def _digest(files: list[SchemaFile]) -> str:
    digest = hashlib.sha256()
    for item in files:
        digest.update(item.path.encode() + b"\0" + item.content.encode() + b"\0")
    return digest.hexdigest()


def prisma_models(project: Project, shadow_url: str | None = None) -> PrismaModels:
    """The schema's SQL, catalog and reflected ``MetaData``, built once per schema content.

    Raises:
        PrismaEngineError: the engine is missing or rejects the schema.
        ShadowReplayError: PostgreSQL refuses the engine's SQL.
    """
    files = schema_of(project)
    key = _digest(files)
    if key in _built:
        return _built[key]
    sql = _schema_sql(files, key)
    metadata = MetaData()
    with shadow_database(shadow_url or project.shadow_url) as connection:
        try:
            with connection.begin():
                if sql.strip():
                    connection.exec_driver_sql(sql, execution_options={"no_parameters": True})
                catalog = read_model_tables(connection, is_model=project.is_model_object)
                names = connection.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                ).scalars()
                metadata.reflect(
                    connection, only=[n for n in names if project.is_model_object(str(n))]
                )
        except DBAPIError as exc:
            raise ShadowReplayError(
                f"the SQL Prisma's engine gives for {project.prisma_schema} fails on an empty "
                f"database: {database_reason(exc)}"
            ) from None
    built = PrismaModels(sql, catalog, metadata)
    _built[key] = built
    return built


def _schema_sql(files: list[SchemaFile], key: str) -> str:
    """The engine's SQL for the schema, kept in the cache folder by the schema's content and
    the engine's identity: each call of the engine starts Node (most of a second)."""
    path = cache_folder(None) / f"prisma-schema-sql-{engine.engine_identity()[:16]}-{key}.json"
    kept = load(path)
    if isinstance(kept, dict) and isinstance(kept.get("sql"), str):
        return str(kept["sql"])
    sql = engine.schema_sql(files)
    store(path, {"sql": sql})
    return sql


def prisma_metadata(project: Project) -> MetaData:
    """The tables of the project's Prisma schema as a reflected ``MetaData``."""
    return prisma_models(project).metadata
