"""The catalog the models define, as PostgreSQL itself renders it.

The models are created on a scratch database of the shadow server (with the extensions the
revisions create), and the catalog read back: every comparison of "what the models expect"
then speaks PostgreSQL's own words. What PostgreSQL refuses of the models is left out and
listed. Cached in memory and in the cache folder under the SHA-256 of the DDL the models
emit, so a second command costs a file read.
"""

from __future__ import annotations

import hashlib
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import Dialect, MetaData, Table, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from lumiku_ops.db.catalog import TableCatalog, read_model_tables
from lumiku_ops.db.models_ddl import create_models, pristine
from lumiku_ops.db.scratch import shadow_database
from lumiku_ops.errors import ShadowReplayError, database_reason
from lumiku_ops.migrate.cache_files import cache_folder, load, store
from lumiku_ops.project import Project

_memory: dict[str, Any] = {}
# Bumped when what a cached catalog holds changes (2: the catalog and what was refused).
_MODELS_FORMAT = 2


class ModelsCatalog(dict[str, dict[str, Any]]):
    """The models' ``TableCatalog``, and what of the models PostgreSQL refused to create.

    ``refused`` holds one ``Refusal.to_dict()`` per object left out (a foreign key to a
    column with no unique constraint, say): the catalog is what remains.
    """

    def __init__(self, catalog: TableCatalog, refused: list[dict[str, Any]]) -> None:
        super().__init__(catalog)
        self.refused = refused


def models_fingerprint(
    metadata: MetaData, extensions: list[str], tables: list[Table] | None = None
) -> str:
    """SHA-256 of the DDL the models (``tables``, default all) would emit on PostgreSQL,
    and the extensions."""
    digest = hashlib.sha256(",".join(extensions).encode())
    for table in metadata.sorted_tables if tables is None else tables:
        digest.update(_table_ddl(table).encode())
    return digest.hexdigest()


# Compiling a table's DDL costs about a millisecond; a command asks for it several times.
_ddl: weakref.WeakKeyDictionary[Table, tuple[tuple[int, ...], str]] = weakref.WeakKeyDictionary()
_dialect: Dialect | None = None


def _table_ddl(table: Table) -> str:
    """``CREATE TABLE`` and ``CREATE INDEX`` of ``table``, as compiled for PostgreSQL,
    remembered while the table holds the same objects (``pristine`` hides some at times,
    and a revision module may attach more)."""
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateIndex, CreateTable

    parts: list[object] = []
    for column in table.columns:
        parts += [column, column.type, column.server_default, column.nullable, column.key]
    parts += [*table.constraints, *table.indexes, table.comment]
    signature = tuple(id(part) for part in parts)
    known = _ddl.get(table)
    if known is not None and known[0] == signature:
        return known[1]
    global _dialect
    if _dialect is None:  # one for every table: making one costs as much as a compile
        _dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    dialect = _dialect
    ddl = [str(CreateTable(table).compile(dialect=dialect))]
    for index in sorted(table.indexes, key=lambda i: str(i.name)):
        ddl.append(str(CreateIndex(index).compile(dialect=dialect)))
    _ddl[table] = (signature, "".join(ddl))
    return _ddl[table][1]


def model_catalog(
    project: Project,
    *,
    extensions: list[str] | None = None,
    shadow_url: str | None = None,
    cache_dir: Path | None = None,
) -> ModelsCatalog:
    """The catalog the models define, as PostgreSQL itself renders it.

    ``extensions`` (those the revisions create) are created first, so a server default
    such as ``uuid_generate_v4()`` resolves as it does in the real database. Only what the
    models' module declared is created (``models_ddl.pristine``: never what a revision
    module attached to the shared tables), and what PostgreSQL refuses is left out and
    listed in ``refused`` rather than raised: ``alembic check`` never creates the models,
    so models that cannot be created whole still get compared.
    """
    metadata = project.metadata()
    wanted = list(extensions or [])
    with pristine(metadata, project.metadata_as_imported()) as tables:
        fingerprint = models_fingerprint(metadata, wanted, tables)
        key = f"models{_MODELS_FORMAT}-{fingerprint}"
        cached = _memory.get(key) or load(cache_folder(cache_dir) / f"{key}.json")
        if not isinstance(cached, dict) or {"catalog", "refused"} - set(cached):
            cached = _create_models(project, metadata, tables, wanted, shadow_url)
            store(cache_folder(cache_dir) / f"{key}.json", cached)
    _memory[key] = cached
    return ModelsCatalog(cached["catalog"], list(cached["refused"]))


def _create_models(
    project: Project,
    metadata: MetaData,
    tables: list[Table],
    extensions: list[str],
    shadow_url: str | None,
) -> dict[str, Any]:
    with shadow_database(shadow_url) as connection:
        try:
            with connection.begin():
                for name in extensions:
                    connection.execute(text(_create_extension(name)))
                refused = create_models(connection, metadata, tables)
                catalog = read_model_tables(connection, is_model=project.is_model_object)
        except (DBAPIError, SQLAlchemyError) as exc:
            raise ShadowReplayError(
                f"the models ({project.metadata_ref}) cannot be created on an empty "
                f"database: {database_reason(exc)}"
            ) from None
    return {"catalog": catalog, "refused": [r.to_dict() for r in refused]}


def _create_extension(name: str) -> str:
    quoted = name.replace('"', '""')
    return f'CREATE EXTENSION IF NOT EXISTS "{quoted}"'
